"""Reading CAPTCHAs with a trained model: paths, PIL images or arrays in, text out.

No dataset and no dummy labels (the reference built a dataset with labels [0, 0, 0, 0, 0]
just to predict): an image is preprocessed exactly as in training and decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .ctc import greedy_decode
from .data import IMAGE_SIZE, load_image, normalize_transform, resize_transform
from .trainer import resolve_device
from .vocab import Vocabulary


class Predictor:
    def __init__(self, model: torch.nn.Module, vocabulary: Vocabulary,
                 image_size: tuple[int, int] = IMAGE_SIZE, device: str = "cpu", batch_size: int = 64):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.vocabulary = vocabulary
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        self._resize, self._normalize = resize_transform(self.image_size), normalize_transform()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", batch_size: int = 64) -> Predictor:
        model, vocabulary, checkpoint = load_checkpoint(path)
        return cls(model, vocabulary, checkpoint["image_size"], device, batch_size)

    def preprocess(self, images: Sequence) -> torch.Tensor:
        """Paths, PIL images or arrays -> (B, 3, H, W) float batch, as in training."""
        return torch.stack([self._normalize(image=self._resize(image=load_image(image))["image"])["image"]
                            for image in images])

    @torch.inference_mode()
    def logits(self, images: Sequence) -> torch.Tensor:
        """(T, B, C) logits for one batch of images."""
        logits, _ = self.model(self.preprocess(images).to(self.device))
        return logits

    def predict(self, images: Sequence) -> list[str]:
        """Texts for any number of images, run in batches of `batch_size`."""
        texts: list[str] = []
        for start in range(0, len(images), self.batch_size):
            texts += greedy_decode(self.logits(images[start:start + self.batch_size]), self.vocabulary)
        return texts

    def predict_one(self, image) -> str:
        return self.predict([image])[0]
