"""Reading CAPTCHAs with a trained model: paths, PIL images or arrays in, text out.

No dataset and no dummy labels (the reference built a dataset with labels [0, 0, 0, 0, 0]
just to predict): an image is preprocessed exactly as in training and decoded by a
`Decoder` (greedy by default). `read` adds each text's confidence, P(text | image).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .data import IMAGE_SIZE, load_image, normalize_transform, resize_transform
from .decoding import Decoder, Reading
from .trainer import resolve_device
from .vocab import Vocabulary


class Predictor:
    def __init__(self, model: torch.nn.Module, vocabulary: Vocabulary,
                 image_size: tuple[int, int] = IMAGE_SIZE, device: str = "cpu", batch_size: int = 64,
                 decoder: Decoder = Decoder(), metadata: dict | None = None):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.vocabulary = vocabulary
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        self.decoder = decoder
        self.metadata = metadata or {}  # training facts from the checkpoint, e.g. label_lengths
        self._resize, self._normalize = resize_transform(self.image_size), normalize_transform()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", batch_size: int = 64,
                        decoder: Decoder = Decoder()) -> Predictor:
        model, vocabulary, checkpoint = load_checkpoint(path)
        return cls(model, vocabulary, checkpoint["image_size"], device, batch_size, decoder, checkpoint["metadata"])

    def preprocess(self, images: Sequence) -> torch.Tensor:
        """Paths, PIL images or arrays -> (B, 3, H, W) float batch, as in training."""
        return torch.stack([self._normalize(image=self._resize(image=load_image(image))["image"])["image"]
                            for image in images])

    @torch.inference_mode()
    def logits(self, images: Sequence) -> torch.Tensor:
        """(T, B, C) logits for one batch of images."""
        logits, _ = self.model(self.preprocess(images).to(self.device))
        return logits

    def batched_logits(self, images: Sequence) -> Iterator[torch.Tensor]:
        """(T, b, C) logits for any number of images, `batch_size` at a time."""
        for start in range(0, len(images), self.batch_size):
            yield self.logits(images[start:start + self.batch_size])

    def predict(self, images: Sequence) -> list[str]:
        """Texts for any number of images."""
        return [self.vocabulary.decode(label or []) for logits in self.batched_logits(images)
                for label in self.decoder.decode_classes(logits, self.vocabulary)]

    def read(self, images: Sequence) -> list[Reading]:
        """Texts with their confidence, P(text | image), for any number of images."""
        return [reading for logits in self.batched_logits(images)
                for reading in self.decoder.decode(logits, self.vocabulary)]

    def predict_one(self, image) -> str:
        return self.predict([image])[0]
