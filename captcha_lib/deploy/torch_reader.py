"""The PyTorch backend of `Reader`: a trained model on a CPU or a GPU.

No dataset and no dummy labels (the reference built a dataset with labels [0, 0, 0, 0, 0]
just to predict): an image is preprocessed exactly as in training and decoded by the
reader's `Decoder`. Make one with `Reader.from_checkpoint(path)`, or wrap a model in hand
(notebooks do, right after training) with `TorchReader(model, vocabulary, image_size)`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..decoding.decoders import GREEDY, Decoder
from ..defaults import IMAGE_SIZE, READ_BATCH_SIZE
from ..data.vocab import Vocabulary
from ..model.build import resolve_device
from ..model.checkpoint import load_checkpoint
from .reader import Reader


class TorchReader(Reader):
    backend = "torch"

    def __init__(self, model: torch.nn.Module, vocabulary: Vocabulary, image_size: tuple[int, int] = IMAGE_SIZE,
                 device: str = "cpu", batch_size: int = READ_BATCH_SIZE, decoder: Decoder | str = GREEDY,
                 metadata: dict | None = None):
        super().__init__(vocabulary, image_size, batch_size, decoder, metadata)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.model_name = getattr(model, "name", type(model).__name__)
        self.path: Path | None = None  # the checkpoint, when loaded from one

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", batch_size: int = READ_BATCH_SIZE,
             decoder: Decoder | str = GREEDY) -> TorchReader:
        model, vocabulary, checkpoint = load_checkpoint(path)
        reader = cls(model, vocabulary, checkpoint["image_size"], device=device, batch_size=batch_size, decoder=decoder,
                     metadata=checkpoint["metadata"])
        reader.path = Path(path)
        return reader

    @torch.inference_mode()
    def run(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 preprocessed images -> (T, B, C) logits."""
        logits, _ = self.model(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device))
        return logits.float().cpu().numpy()
