"""What every way of running a model shares: images in, texts (and confidences) out.

`Reader` preprocesses with `images` and decodes with `decoding`, both numpy only; a
subclass supplies `logits`. `Predictor` (predict.py) runs the PyTorch model,
`OnnxPredictor` (onnx_runtime.py) an exported one without torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .decoding import Decoder, Reading
from .images import IMAGE_SIZE, preprocess_array
from .vocab import Vocabulary


class Reader:
    model_name = "unknown"  # a subclass sets the model's name ("crnn", "reference")

    def __init__(self, vocabulary: Vocabulary, image_size: tuple[int, int] = IMAGE_SIZE, batch_size: int = 64,
                 decoder: Decoder = Decoder(), metadata: dict | None = None):
        self.vocabulary = vocabulary
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        self.decoder = decoder
        self.metadata = metadata or {}  # training facts from the checkpoint, e.g. label_lengths

    def preprocess_batch(self, images: Sequence, **load_options) -> np.ndarray:
        """Paths, bytes, PIL images or arrays -> (B, 3, H, W) float32, exactly as in training."""
        return np.stack([preprocess_array(image, self.image_size, **load_options) for image in images])

    def logits(self, images: Sequence):
        """(T, B, C) logits for one batch of images (a subclass runs its model)."""
        raise NotImplementedError

    def batched_logits(self, images: Sequence) -> Iterator:
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
