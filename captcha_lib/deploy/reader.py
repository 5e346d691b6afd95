"""One way to read CAPTCHAs, whatever runs the model: images in, texts and confidences out.

    reader = Reader.from_checkpoint("runs/default/model.pt")   # PyTorch
    reader = Reader.from_onnx("model.onnx")                    # onnxruntime, no torch
    reader = Reader.from_pretrained()                          # the reader the package ships
    reader.predict(["8AE5T.png"])         # -> ["8AE5T"]
    reader.read(["8AE5T.png"])            # -> [Reading(text="8AE5T", confidence=0.998)]

Both backends preprocess with `data.images` and decode with `decoding`, numpy only, so
they give the same texts; each supplies `run`, the model call. This module imports no
torch: the ONNX path never loads it.

Images keep their aspect ratio, so a batch may hold several widths. The model is run once
per width (no padding, so an image reads the same in any batch), and the logits are
stacked with the shorter ones extended by certain blanks, which every decoder skips.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..data.images import preprocess
from ..data.vocab import BLANK_INDEX, PADDING_LOGIT
from ..data.vocab import Vocabulary
from ..decoding.decoders import GREEDY, Decoder, Reading, parse_decoder
from ..defaults import IMAGE_SIZE, READ_BATCH_SIZE
from ..errors import ConfigError


class Reader:
    """A model with its vocabulary, input size and decoder. Make one with `from_checkpoint` or `from_onnx`."""

    model_name = "unknown"  # a backend sets the model's name ("crnn", "reference")
    backend = "unknown"  # "torch" or "onnxruntime"

    def __init__(self, vocabulary: Vocabulary, image_size: tuple[int, int] = IMAGE_SIZE,
                 batch_size: int = READ_BATCH_SIZE, decoder: Decoder | str = GREEDY, metadata: dict | None = None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size!r}")
        self.vocabulary = vocabulary
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        self.metadata = metadata or {}  # training facts from the checkpoint, e.g. label_lengths
        self.decoder = self.fit_decoder(decoder)

    @staticmethod
    def from_checkpoint(path: str | Path, device: str = "cpu", batch_size: int = READ_BATCH_SIZE,
                        decoder: Decoder | str = GREEDY) -> Reader:
        """A reader that runs a PyTorch checkpoint (model.pt) on `device` (cpu, cuda, mps, auto)."""
        from .torch_reader import TorchReader

        return TorchReader.load(path, device=device, batch_size=batch_size, decoder=decoder)

    @staticmethod
    def from_pretrained(device: str = "cpu", batch_size: int = READ_BATCH_SIZE, decoder: Decoder | str = GREEDY) -> Reader:
        """The general reader the package ships (every digit and ASCII letter), with no training."""
        from ..training.pretrain import pretrained_path

        return Reader.from_checkpoint(pretrained_path(), device=device, batch_size=batch_size, decoder=decoder)

    @staticmethod
    def from_onnx(path: str | Path, batch_size: int = READ_BATCH_SIZE, decoder: Decoder | str = GREEDY,
                  threads: int | None = None) -> Reader:
        """A reader that runs an exported model (model.onnx) with onnxruntime, without torch."""
        from .onnx_reader import OnnxReader

        return OnnxReader(path, batch_size=batch_size, decoder=decoder, threads=threads)

    def fit_decoder(self, decoder: Decoder | str) -> Decoder:
        """A Decoder (or a spec such as "beam:16") checked against this model, with the
        training label lengths and the calibrated temperature where it leaves them unset."""
        if isinstance(decoder, str):
            decoder = parse_decoder(decoder)
        calibration = self.metadata.get("calibration")
        temperature = calibration.get("temperature") if isinstance(calibration, dict) else None
        return decoder.for_model(self.vocabulary, self.metadata.get("label_lengths"), temperature)

    def preprocess(self, images: Sequence, **load_options) -> list[np.ndarray]:
        """Paths, bytes, PIL images or arrays -> (3, H, w_i) float32 each, exactly as in training."""
        return [preprocess(image, self.image_size, **load_options) for image in images]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 preprocessed images of one width -> (T, B, C) logits. Each backend runs its model."""
        raise NotImplementedError

    def logits(self, images: Sequence) -> np.ndarray:
        """(T, B, C) logits for one batch of images; T is the widest image's."""
        arrays = self.preprocess(images)
        by_width: dict[int, list[int]] = {}
        for index, array in enumerate(arrays):
            by_width.setdefault(array.shape[-1], []).append(index)
        outputs = {width: self.run(np.stack([arrays[i] for i in rows])) for width, rows in by_width.items()}
        if len(outputs) == 1:
            return next(iter(outputs.values()))  # (T, B, C): one width, nothing to pad
        steps, classes = max(out.shape[0] for out in outputs.values()), next(iter(outputs.values())).shape[2]
        logits = np.full((steps, len(arrays), classes), PADDING_LOGIT, dtype=np.float32)  # (T, B, C)
        logits[:, :, BLANK_INDEX] = 0.0  # past an image's end: a certain blank
        for width, rows in by_width.items():
            logits[:outputs[width].shape[0], rows] = outputs[width]
        return logits

    def batched_logits(self, images: Sequence) -> Iterator[np.ndarray]:
        """(T, b, C) logits for any number of images, `batch_size` at a time."""
        for start in range(0, len(images), self.batch_size):
            yield self.logits(images[start:start + self.batch_size])

    def predict(self, images: Sequence) -> list[str]:
        """Texts for any number of images."""
        return [text for logits in self.batched_logits(images) for text in self.decoder.texts(logits, self.vocabulary)]

    def read(self, images: Sequence) -> list[Reading]:
        """Texts with their confidence, P(text | image), for any number of images."""
        return [reading for logits in self.batched_logits(images)
                for reading in self.decoder.decode(logits, self.vocabulary)]

    def predict_one(self, image) -> str:
        return self.predict([image])[0]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.model_name}, alphabet {self.vocabulary.characters!r}, "
                f"images {self.image_size[0]} high, at most {self.image_size[1]} wide, decoder {self.decoder.name})")
