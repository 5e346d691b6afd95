"""Reading CAPTCHAs with a trained PyTorch model: paths, PIL images or arrays in, text out.

No dataset and no dummy labels (the reference built a dataset with labels [0, 0, 0, 0, 0]
just to predict): an image is preprocessed exactly as in training and decoded by a
`Decoder` (greedy by default). `read` adds each text's confidence, P(text | image).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .decoding import Decoder
from .images import IMAGE_SIZE
from .reader import Reader
from .trainer import resolve_device
from .vocab import Vocabulary


class Predictor(Reader):
    def __init__(self, model: torch.nn.Module, vocabulary: Vocabulary,
                 image_size: tuple[int, int] = IMAGE_SIZE, device: str = "cpu", batch_size: int = 64,
                 decoder: Decoder = Decoder(), metadata: dict | None = None):
        super().__init__(vocabulary, image_size, batch_size, decoder, metadata)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.model_name = getattr(model, "name", type(model).__name__)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", batch_size: int = 64,
                        decoder: Decoder = Decoder()) -> Predictor:
        model, vocabulary, checkpoint = load_checkpoint(path)
        return cls(model, vocabulary, checkpoint["image_size"], device, batch_size, decoder, checkpoint["metadata"])

    def preprocess(self, images: Sequence) -> torch.Tensor:
        """Paths, PIL images or arrays -> (B, 3, H, W) float batch, as in training."""
        return torch.from_numpy(self.preprocess_batch(images))

    @torch.inference_mode()
    def logits(self, images: Sequence) -> torch.Tensor:
        """(T, B, C) logits for one batch of images."""
        logits, _ = self.model(self.preprocess(images).to(self.device))
        return logits
