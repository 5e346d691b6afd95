"""From a folder of labelled images to batches the model can train on.

* A label is the file name: `8AE5T.jpg` -> "8AE5T", `8AE5T_3.png` -> "8AE5T"
  (a suffix after `_` lets several images share a label).
* A data folder is either `DIR/train` + `DIR/val` (the reference layout) or one flat
  folder that is split deterministically by `val_fraction` and `seed`.
* Each image is decoded and resized **once** and kept in memory as uint8
  (40x150x3 = 18 KB an image), so an epoch costs model time, not JPEG decoding.
  Normalisation and the optional augmentation run on that cached array.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.pytorch import ToTensorV2
from PIL import Image, ImageFile, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from .errors import DataError
from .vocab import Vocabulary

ImageFile.LOAD_TRUNCATED_IMAGES = True  # as in the reference: a cut-off file still loads

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
IMAGE_SIZE = (40, 150)  # (height, width), the reference's
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------- files


def label_from_path(path: str | Path) -> str:
    """`Dataset/train/8AE5T_3.png` -> "8AE5T": the name up to the first `.` or `_`."""
    return Path(path).name.split(".")[0].split("_")[0]


def list_images(folder: str | Path) -> list[Path]:
    """The image files in `folder` (not recursive), sorted so every run sees one order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise DataError(f"data folder {folder} has no images ({' '.join(IMAGE_EXTENSIONS)})")
    for path in paths:
        if not label_from_path(path):
            raise DataError(f"{path} has no label: its name must start with the text, like 8AE5T.png")
    return paths


def split_paths(data_dir: str | Path, val_fraction: float = 0.1, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """(train, val) image paths: `DIR/train` + `DIR/val` if present, else a seeded split.

    The flat split is by *label*, so the copies `8AE5T_1.png`, `8AE5T_2.png` land on the
    same side and validation never sees a text the model trained on.
    """
    data_dir = Path(data_dir)
    if (data_dir / "train").is_dir():
        train_paths = list_images(data_dir / "train")
        if (data_dir / "val").is_dir():
            return train_paths, list_images(data_dir / "val")
        data_paths = train_paths
    else:
        data_paths = list_images(data_dir)
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    labels = sorted({label_from_path(p) for p in data_paths})
    if len(labels) < 2:
        raise DataError(f"{data_dir} has one distinct label; a train/val split needs at least two")
    random.Random(seed).shuffle(labels)
    n_val = min(len(labels) - 1, max(1, math.ceil(val_fraction * len(labels))))
    val_labels = set(labels[:n_val])
    train = [p for p in data_paths if label_from_path(p) not in val_labels]
    val = [p for p in data_paths if label_from_path(p) in val_labels]
    return train, val


# -------------------------------------------------------------------------- images


def load_image(image: str | Path | Image.Image | np.ndarray) -> np.ndarray:
    """A path, PIL image or array -> RGB uint8 array (H, W, 3).

    Any mode (L, P, RGBA, CMYK, 16-bit) becomes RGB; a file that is not a readable
    image raises DataError naming it.
    """
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image)
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    try:
        with Image.open(image) as pil_image:
            return np.asarray(pil_image.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"image {image} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{image} is not a readable image ({exc})") from None


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise DataError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
            array = array * 255.0  # floats in [0, 1], as matplotlib reads PNGs
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array[:, :, :3])


def resize_transform(image_size: tuple[int, int] = IMAGE_SIZE) -> A.Resize:
    """Step 1 of preprocessing: any image -> (height, width, 3) uint8."""
    height, width = image_size
    return A.Resize(height, width)


def normalize_transform() -> A.Compose:
    """Step 2: uint8 (H, W, 3) -> ImageNet-normalised float tensor (3, H, W)."""
    return A.Compose([A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD), ToTensorV2()])


def preprocess(image, image_size: tuple[int, int] = IMAGE_SIZE) -> torch.Tensor:
    """The reference's preprocessing on one image: RGB, resize, normalise, CHW float."""
    resized = resize_transform(image_size)(image=load_image(image))["image"]
    return normalize_transform()(image=resized)["image"]


def training_augmentation(seed: int | None = 0) -> A.Compose:
    """Small geometric and photometric changes a CAPTCHA survives with its label intact.

    They run on the cached 40x150 uint8 image, so no file is decoded twice.
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


class CaptchaDataset(Dataset):
    """Labelled CAPTCHA images, decoded and resized once, kept in memory as uint8.

    Each item is a dict: `image` (3, H, W) float, `target` (L,) long classes, `label` str.
    `augment` is an albumentations transform applied to the cached uint8 image.
    """

    def __init__(self, paths: Sequence[str | Path], vocabulary: Vocabulary,
                 image_size: tuple[int, int] = IMAGE_SIZE, augment: A.BasicTransform | None = None):
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise DataError("a CaptchaDataset needs at least one image")
        self.labels = [label_from_path(p) for p in self.paths]
        self.vocabulary = vocabulary
        self.image_size = tuple(image_size)
        self.augment = augment
        # Encode first: an unknown character fails before minutes of decoding.
        self.targets = [torch.tensor(vocabulary.encode(label, source=str(path)), dtype=torch.long)
                        for label, path in zip(self.labels, self.paths)]
        resize = resize_transform(self.image_size)
        self.images = np.stack([resize(image=load_image(p))["image"] for p in self.paths])  # (N, H, W, 3) uint8
        self._normalize = normalize_transform()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        image = self.images[index]
        if self.augment is not None:
            image = self.augment(image=image)["image"]
        return {
            "image": self._normalize(image=image)["image"],  # (3, H, W) float32
            "target": self.targets[index],  # (L,) long, 1-based classes
            "label": self.labels[index],
        }


def collate_batch(samples: list[dict]) -> dict:
    """Stack images; concatenate targets of any lengths, as CTCLoss accepts them."""
    return {
        "images": torch.stack([s["image"] for s in samples]),  # (B, 3, H, W)
        "targets": torch.cat([s["target"] for s in samples]),  # (sum of lengths,)
        "target_lengths": torch.tensor([len(s["target"]) for s in samples], dtype=torch.long),  # (B,)
        "labels": [s["label"] for s in samples],
    }


def make_loader(dataset: CaptchaDataset, batch_size: int = 32, shuffle: bool = False,
                seed: int = 0, num_workers: int = 0) -> DataLoader:
    """A DataLoader over cached images. Workers rarely pay off here: nothing is decoded."""
    generator = torch.Generator().manual_seed(seed)  # same seed, same batch order
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_batch,
                      generator=generator, num_workers=num_workers)


# Below this many training images, "auto" augments: a small set is memorised quickly, and
# augmentation made 936-image runs reach 99% on every seed (3/3 instead of 2/3). Above it,
# fresh images already give variety and augmentation only costs time (about 20% per image).
SMALL_TRAINING_SET = 5000


def load_datasets(data_dir: str | Path, val_fraction: float = 0.1, seed: int = 0,
                  image_size: tuple[int, int] = IMAGE_SIZE, augment: bool | str = False,
                  vocabulary: Vocabulary | None = None) -> tuple[CaptchaDataset, CaptchaDataset]:
    """Train and validation datasets from a data folder.

    The vocabulary is learned from the training labels unless given (a checkpoint's);
    a validation label with a character outside it is an error naming the file.
    `augment`: True, False, or "auto" (only for fewer than SMALL_TRAINING_SET images).
    """
    train_paths, val_paths = split_paths(data_dir, val_fraction, seed)
    if augment == "auto":
        augment = len(train_paths) < SMALL_TRAINING_SET
    if vocabulary is None:
        vocabulary = Vocabulary.from_labels(label_from_path(p) for p in train_paths)
    val = CaptchaDataset(val_paths, vocabulary, image_size)  # small: its label check fails fast
    train = CaptchaDataset(train_paths, vocabulary, image_size,
                           augment=training_augmentation(seed) if augment else None)
    return train, val
