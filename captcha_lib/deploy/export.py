"""Export a checkpoint to ONNX, so the model runs without PyTorch (onnx_runtime.py).

The graph takes `images` (B, 3, H, W) float32, preprocessed as in training, and returns
`logits` (T, B, C). Batch and width are dynamic (T follows the width: W/8 for the default
model). Everything needed to read an image sits in the model's metadata: the alphabet,
the image size, the model's name and the training facts of the checkpoint.

    python -m captcha_lib export --checkpoint runs/default/model.pt --out model.onnx
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from ..errors import CaptchaError
from ..files import atomic_path
from ..model.checkpoint import load_checkpoint
from .onnx_reader import ONNX_FORMAT, ONNX_VERSION

OPSET = 17


class LogitsOnly(torch.nn.Module):
    """The model without its loss branch: images in, logits out (what ONNX stores)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits, _ = self.model(images)  # (T, B, C)
        return logits


def export_onnx(checkpoint_path: str | Path, out_path: str | Path) -> Path:
    """Write `out_path` (atomically) and return it."""
    try:
        import onnx
    except ImportError:
        raise CaptchaError("exporting needs onnx: pip install -e \".[deploy]\"") from None
    model, vocabulary, checkpoint = load_checkpoint(checkpoint_path)
    height, width = checkpoint["image_size"]  # the example input is (1, 3, H, W)
    out_path = Path(out_path)
    with atomic_path(out_path) as partial:
        _write_onnx(LogitsOnly(model).eval(), torch.zeros(1, 3, height, width), partial, onnx, vocabulary, checkpoint)
    return out_path


def _write_onnx(wrapper, example, partial: Path, onnx, vocabulary, checkpoint) -> None:
    """The graph, then the metadata a reader needs, checked, into `partial`."""
    with warnings.catch_warnings():
        # The TorchScript-based exporter: torch 2.13's dynamo exporter cannot decompose nn.GRU yet.
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (example,), str(partial), input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "time", 1: "batch"}},
                          opset_version=OPSET, dynamo=False)
    proto = onnx.load(str(partial))
    metadata = {
        "format": ONNX_FORMAT, "version": str(ONNX_VERSION),
        "vocabulary": json.dumps(vocabulary.to_dict()),
        "image_size": json.dumps(checkpoint["image_size"]),
        "model_name": checkpoint["model_name"],
        "model_config": json.dumps(checkpoint["model_config"]),
        "metadata": json.dumps(checkpoint["metadata"]),
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = f"captcha_lib {checkpoint['model_name']} reader, alphabet {vocabulary.characters!r}"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(partial))
