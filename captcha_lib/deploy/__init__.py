"""Stage 5, deployment: one Reader for PyTorch and ONNX models, export, an HTTP service (notebook 06).

`reader` and `onnx_reader` import no torch; `torch_reader` and `export` do.
"""
