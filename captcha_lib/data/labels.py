"""Where labels come from, and which images train and which validate. No torch.

* A label is the file name: `8AE5T.jpg` -> "8AE5T", `8AE5T_3.png` -> "8AE5T"
  (a suffix after `_` lets several images share a label).
* A data folder is either `DIR/train` + `DIR/val` (the reference layout) or one flat
  folder that is split deterministically by `val_fraction` and `seed`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import ConfigError, DataError
from .vocab import Vocabulary

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


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

    The flat split is by *label* (scikit-learn's GroupShuffleSplit, the label as the group),
    so the copies `8AE5T_1.png`, `8AE5T_2.png` land on the same side and validation never
    sees a text the model trained on.
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
        raise ConfigError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    groups = [label_from_path(p) for p in data_paths]
    n_labels = len(set(groups))
    if n_labels < 2:
        raise DataError(f"{data_dir} has one distinct label; a train/val split needs at least two")
    from sklearn.model_selection import GroupShuffleSplit  # only when a flat folder is split

    n_val = min(n_labels - 1, max(1, math.ceil(val_fraction * n_labels)))  # labels, at least one each side
    train_index, val_index = next(GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
                                  .split(data_paths, groups=groups))
    return [data_paths[i] for i in sorted(train_index)], [data_paths[i] for i in sorted(val_index)]


def label_lengths(labels: Iterable[str]) -> list[int]:
    """[shortest, longest] label: what constrained decoding assumes by default."""
    lengths = [len(label) for label in labels]
    return [min(lengths), max(lengths)]


def vocabulary_from_paths(paths: Sequence[str | Path]) -> Vocabulary:
    """The characters of the labels in these file names."""
    return Vocabulary.from_labels(label_from_path(p) for p in paths)
