"""The onnxruntime backend of `Reader`: an exported model with numpy, Pillow and onnxruntime, no torch.

    reader = Reader.from_onnx("model.onnx")

Preprocessing and decoding are the very functions the PyTorch backend uses, so both give
the same texts (tests check it on real images).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..data.vocab import Vocabulary
from ..decoding.decoders import GREEDY, Decoder
from ..defaults import READ_BATCH_SIZE
from ..errors import CaptchaError, CheckpointError
from .reader import Reader

ONNX_FORMAT = "captcha_lib.onnx"  # what export.py writes into the metadata
ONNX_VERSION = 1


class OnnxReader(Reader):
    backend = "onnxruntime"

    def __init__(self, path: str | Path, batch_size: int = READ_BATCH_SIZE, decoder: Decoder | str = GREEDY,
                 threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise CaptchaError("running an ONNX model needs onnxruntime: pip install -e \".[deploy]\"") from None
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX model {path} does not exist")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.log_severity_level = 3  # errors only
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path} is not an ONNX model ({first_line})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("format") != ONNX_FORMAT:
            raise CheckpointError(f"{path} is an ONNX model but not one exported by captcha_lib "
                                  f"(no alphabet in its metadata); export with `python -m captcha_lib export`")
        if int(meta.get("version", 0)) > ONNX_VERSION:
            raise CheckpointError(f"{path} is captcha_lib ONNX version {meta['version']}; upgrade captcha_lib")
        self.path = path
        self.model_name = meta["model_name"]
        super().__init__(Vocabulary.from_dict(json.loads(meta["vocabulary"])), json.loads(meta["image_size"]),
                         batch_size=batch_size, decoder=decoder, metadata=json.loads(meta["metadata"]))

    def run(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 preprocessed images -> (T, B, C) logits."""
        return self.session.run(["logits"], {"images": np.ascontiguousarray(batch, dtype=np.float32)})[0]
