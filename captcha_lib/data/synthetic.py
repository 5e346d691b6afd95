"""Endless fresh training data: CAPTCHAs rendered on the fly, new ones every epoch.

A fixed set of 30,000 images is seen again and again; a model can learn its quirks.
`SyntheticCaptchas` renders each training image when it is asked for, with the `captcha`
package, so no image is ever seen twice and nothing is stored. Validation stays a fixed
folder, so accuracy is measured on the same images throughout.

Reproducible: image `i` of epoch `e` is drawn from a generator seeded with
(seed, e, i), so a run gives the same images whatever the number of DataLoader workers
and whichever worker renders which image. Rendering costs CPU (about 2-4 ms an image):
`make_loader` renders in worker processes, in parallel with training.

    python -m captcha_lib train --data Dataset --out runs/fresh --fresh-data
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import Dataset

from ..defaults import IMAGE_SIZE, IMAGES_PER_EPOCH
from ..errors import ConfigError
from .generate import check_alphabet, check_style, random_labels, render, style_defaults
from .images import normalize_image, resize_image
from .vocab import Vocabulary, parse_length


class SyntheticCaptchas(Dataset):
    """`images_per_epoch` freshly rendered CAPTCHAs per epoch; items as `CaptchaDataset`'s."""

    in_memory = False  # rendered on access: make_loader uses worker processes

    def __init__(self, vocabulary: Vocabulary | None = None, images_per_epoch: int = IMAGES_PER_EPOCH,
                 alphabet: str | None = None, length: int | str | None = None, style: str = "default",
                 seed: int = 0, image_size: tuple[int, int] = IMAGE_SIZE):
        check_style(style)
        alphabet, length = alphabet or style_defaults(style)[0], length or style_defaults(style)[1]
        check_alphabet(alphabet)
        if images_per_epoch < 1:
            raise ConfigError(f"images per epoch must be at least 1, got {images_per_epoch}")
        self.vocabulary = vocabulary or Vocabulary(alphabet)
        self.vocabulary.encode(alphabet, source="the synthetic data's alphabet")  # every character encodable
        self.images_per_epoch, self.alphabet, self.length = images_per_epoch, alphabet, length
        self.style, self.seed, self.image_size = style, seed, tuple(image_size)
        self.epoch = 0
        self.augment = None  # fresh images are variety enough

    @property
    def label_lengths(self) -> list[int]:
        """[shortest, longest] label: what constrained decoding assumes by default."""
        return list(parse_length(self.length))

    def set_epoch(self, epoch: int) -> None:
        """The trainer calls this before each epoch: a new epoch, new images."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.images_per_epoch

    def __getitem__(self, index: int) -> dict:
        key = f"{self.seed}-{self.epoch}-{index}"  # str seeds hash the same in every process
        label = random_labels(1, random.Random(key), self.alphabet, self.length)[0]
        image = resize_image(np.asarray(render(label, key, self.style).convert("RGB")), self.image_size)
        return {
            "image": torch.from_numpy(normalize_image(image)),  # (3, H, W) float32
            "target": torch.tensor(self.vocabulary.encode(label), dtype=torch.long),  # (L,)
            "label": label,
        }
