"""From a folder of labelled images to batches the model can train on.

Which files and labels: `labels.py`. Here:
* Each image is decoded and resized **once** and kept in memory as uint8
  (40x160x3 = 19 KB for a 200x50 CAPTCHA), so an epoch costs model time, not JPEG
  decoding. Normalisation and the optional augmentation run on that cached array.
* Images keep their aspect ratio, so widths may differ: a batch is padded to its widest
  image and carries each image's width (`collate_batch`), which the model masks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

# albumentations asks PyPI for its latest version on import (a 2 s timeout and a warning
# offline); the course runs with no network, so skip it unless the user asked for it.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402
import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..defaults import IMAGE_SIZE
from ..errors import DataError
from .images import load_image, normalize_image, resize_image
from .labels import FILE_NAMES, Labeller, label_lengths, split_paths, vocabulary_from_paths
from .vocab import Vocabulary


def training_augmentation(seed: int | None = 0) -> A.Compose:
    """Small geometric and photometric changes a CAPTCHA survives with its label intact.

    They run on the cached, resized uint8 image, so no file is decoded twice.
    """
    return A.Compose(
        [
            A.Affine(scale=(0.92, 1.05), translate_percent={"x": (-0.04, 0.04), "y": (-0.06, 0.06)},
                     rotate=(-4, 4), shear=(-8, 8), border_mode=cv2.BORDER_REPLICATE, p=0.8),
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
            A.GaussNoise(std_range=(0.02, 0.08), p=0.3),
        ],
        seed=seed,  # albumentations has its own RNG: seed it so runs repeat
    )


# ------------------------------------------------------------------------- dataset


# A folder whose resized images would take more memory than this is read lazily instead:
# each image decoded when it is needed, in DataLoader worker processes.
CACHE_LIMIT_BYTES = 4 * 1024**3


class CaptchaDataset(Dataset):
    """Labelled CAPTCHA images, decoded and resized once, kept in memory as uint8.

    Each item is a dict: `image` (3, H, W) float, `target` (L,) long classes, `label` str.
    `augment` is an albumentations transform applied to the resized uint8 image.
    A set too large for `cache_limit_bytes` is not cached: its images are decoded on each
    access (`in_memory` is False), and `make_loader` then decodes in worker processes.
    The items are the same either way.
    """

    def __init__(self, paths: Sequence[str | Path], vocabulary: Vocabulary,
                 image_size: tuple[int, int] = IMAGE_SIZE, augment: A.BasicTransform | None = None,
                 cache_limit_bytes: int = CACHE_LIMIT_BYTES, labeller: Labeller = FILE_NAMES):
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise DataError("a CaptchaDataset needs at least one image")
        self.labels = [labeller(p) for p in self.paths]
        self.vocabulary = vocabulary
        self.image_size = tuple(image_size)
        self.augment = augment
        # Encode first: an unknown character fails before minutes of decoding.
        self.targets = [torch.tensor(vocabulary.encode(label, source=str(path)), dtype=torch.long)
                        for label, path in zip(self.labels, self.paths)]
        height, max_width = self.image_size
        self.in_memory = len(self.paths) * height * max_width * 3 <= cache_limit_bytes  # at worst every image as wide as allowed
        self.images = ([self._read(index) for index in range(len(self.paths))]  # N x (H, w_i, 3) uint8
                       if self.in_memory else None)

    @property
    def label_lengths(self) -> list[int]:
        """[shortest, longest] label: what constrained decoding assumes by default."""
        return label_lengths(self.labels)

    @property
    def widths(self) -> list[int] | None:
        """Each cached image's width after resizing (None when read lazily)."""
        return [image.shape[1] for image in self.images] if self.in_memory else None

    def _read(self, index: int) -> np.ndarray:
        return resize_image(load_image(self.paths[index]), self.image_size)  # (H, W, 3) uint8

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        image = self.images[index] if self.in_memory else self._read(index)
        if self.augment is not None:
            image = self.augment(image=image)["image"]
        return {
            "image": torch.from_numpy(normalize_image(image)),  # (3, H, W) float32
            "target": self.targets[index],  # (L,) long, 1-based classes
            "label": self.labels[index],
        }


def collate_batch(samples: list[dict]) -> dict:
    """Pad images to the widest and stack them; concatenate targets of any lengths, as CTCLoss accepts them."""
    widths = torch.tensor([s["image"].shape[-1] for s in samples], dtype=torch.long)  # (B,)
    images = torch.zeros(len(samples), *samples[0]["image"].shape[:-1], int(widths.max()))  # (B, 3, H, max w)
    for row, sample in zip(images, samples):
        row[..., :sample["image"].shape[-1]] = sample["image"]  # right-padded with 0, the mean colour
    return {
        "images": images,
        "widths": widths,
        "targets": torch.cat([s["target"] for s in samples]),  # (sum of lengths,)
        "target_lengths": torch.tensor([len(s["target"]) for s in samples], dtype=torch.long),  # (B,)
        "labels": [s["label"] for s in samples],
    }


class SimilarWidths(Sampler):
    """Shuffled batches of images of similar widths, so little of a batch is padding.

    Each epoch: shuffle, sort each window of `window` batches' worth of images by width, cut
    it into batches, shuffle the batches. The order comes from `generator` alone.
    """

    def __init__(self, widths: Sequence[int], batch_size: int, generator: torch.Generator, window: int = 50):
        self.widths, self.batch_size, self.generator, self.window = list(widths), batch_size, generator, window

    def __iter__(self):
        order = torch.randperm(len(self.widths), generator=self.generator).tolist()
        span = self.batch_size * self.window
        batches = []
        for start in range(0, len(order), span):
            chunk = sorted(order[start:start + span], key=self.widths.__getitem__)
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        for index in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[index]

    def __len__(self) -> int:
        full_windows, rest = divmod(len(self.widths), self.batch_size * self.window)
        return full_windows * self.window + -(-rest // self.batch_size)


def make_loader(dataset: Dataset, batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                num_workers: int | None = None, sampler=None, pin_memory: bool = False) -> DataLoader:
    """Batches of a dataset, in an order fixed by `seed`.

    Shuffled images of several widths are batched with similar widths (`SimilarWidths`).

    num_workers None: none for images cached in memory (nothing to decode, and worker
    processes cost more than they save), up to 4 when images are decoded or rendered on
    the fly. `sampler`: e.g. a DistributedSampler under torchrun (it then does the shuffling).
    `pin_memory`: page-locked batches, for fast asynchronous copies to a GPU.
    """
    if num_workers is None:
        num_workers = 0 if getattr(dataset, "in_memory", True) else min(4, os.cpu_count() or 1)
    generator = torch.Generator().manual_seed(seed)  # same seed, same batch order
    widths = getattr(dataset, "widths", None)
    if shuffle and sampler is None and widths and len(set(widths)) > 1:
        return DataLoader(dataset, batch_sampler=SimilarWidths(widths, batch_size, generator),
                          collate_fn=collate_batch, generator=generator, num_workers=num_workers,
                          worker_init_fn=_seed_worker, pin_memory=pin_memory)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      collate_fn=collate_batch, generator=generator, num_workers=num_workers,
                      worker_init_fn=_seed_worker, pin_memory=pin_memory)


def _seed_worker(worker_id: int) -> None:
    """Each worker process gets its own augmentation stream, derived from the loader's seed."""
    info = torch.utils.data.get_worker_info()
    augment = getattr(info.dataset, "augment", None)
    if augment is not None:
        augment.set_random_seed(info.seed % 2**32)


# Below this many training images, "auto" augments: a small set is memorised quickly, and
# augmentation made 936-image runs reach 99% on every seed (3/3 instead of 2/3). Above it,
# fresh images already give variety and augmentation only costs time (about 20% per image).
SMALL_TRAINING_SET = 5000


def load_datasets(data_dir: str | Path, val_fraction: float = 0.1, seed: int = 0,
                  image_size: tuple[int, int] = IMAGE_SIZE, augment: bool | str = False,
                  vocabulary: Vocabulary | None = None, cache_limit_bytes: int = CACHE_LIMIT_BYTES,
                  labeller: Labeller = FILE_NAMES) -> tuple[CaptchaDataset, CaptchaDataset]:
    """Train and validation datasets from a data folder (split as `split_paths` does).

    The vocabulary is learned from the training labels unless given (a checkpoint's);
    a validation label with a character outside it is an error naming the file.
    `augment`: True, False, or "auto" (only for fewer than SMALL_TRAINING_SET images).
    """
    train_paths, val_paths = split_paths(data_dir, val_fraction, seed, labeller)
    return datasets_from_paths(train_paths, val_paths, seed=seed, image_size=image_size, augment=augment,
                               vocabulary=vocabulary, cache_limit_bytes=cache_limit_bytes, labeller=labeller)


def datasets_from_paths(train_paths: Sequence[Path], val_paths: Sequence[Path], seed: int = 0,
                        image_size: tuple[int, int] = IMAGE_SIZE, augment: bool | str = False,
                        vocabulary: Vocabulary | None = None, cache_limit_bytes: int = CACHE_LIMIT_BYTES,
                        labeller: Labeller = FILE_NAMES) -> tuple[CaptchaDataset, CaptchaDataset]:
    """`load_datasets` for paths already split (by `split_paths`)."""
    if augment == "auto":
        augment = len(train_paths) < SMALL_TRAINING_SET
    if vocabulary is None:
        vocabulary = vocabulary_from_paths(train_paths, labeller)
    val = CaptchaDataset(val_paths, vocabulary, image_size, cache_limit_bytes=cache_limit_bytes,
                         labeller=labeller)  # label check fails fast
    train = CaptchaDataset(train_paths, vocabulary, image_size, augment=training_augmentation(seed) if augment else None,
                           cache_limit_bytes=cache_limit_bytes, labeller=labeller)
    return train, val
