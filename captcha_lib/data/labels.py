"""Where labels come from, and which images train and which validate. No torch.

* By default a label is the file name: `8AE5T.jpg` -> "8AE5T", `8AE5T_3.png` -> "8AE5T"
  (a suffix after `_` lets several images share a label).
* `Labeller(pattern=...)` reads it from the name another way: `(.+)-\\d+` for `TEXT-3.png`,
  `\\d+_(.+)` for `3_TEXT.jpg` (group `text`, or the first group, of the name without extension).
* `Labeller(file=...)` reads a labels file, as data sets come: CSV `file,text` or a plain
  `path<TAB>text` list (PaddleOCR's and parseq's), paths relative to the file's folder.
* Labels are case-sensitive; `ignore_case=True` lower-cases them, for sets whose case means nothing.
* A data folder is either `DIR/train` + `DIR/val` (the reference layout) or one flat
  folder that is split deterministically by `val_fraction` and `seed`.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import ConfigError, DataError
from .vocab import Vocabulary

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def label_from_path(path: str | Path) -> str:
    """`Dataset/train/8AE5T_3.png` -> "8AE5T": the name up to the first `.` or `_`."""
    return Path(path).name.split(".")[0].split("_")[0]


class Labeller:
    """An image's text: from its file name (the default), a pattern on the name, or a labels file."""

    def __init__(self, file: str | Path | None = None, pattern: str | None = None, ignore_case: bool = False):
        if file is not None and pattern is not None:
            raise ConfigError("give a labels file or a label pattern, not both")
        self.file, self.ignore_case = (Path(file) if file is not None else None), ignore_case
        self.pattern = _compile_pattern(pattern) if pattern is not None else None
        self._texts = _read_labels_file(self.file) if self.file is not None else None  # resolved path -> text

    def __call__(self, path: str | Path) -> str:
        path = Path(path)
        if self._texts is not None:
            text = self._texts.get(path.resolve())
            if text is None:
                raise DataError(f"{path} has no label in {self.file}")
        elif self.pattern is not None:
            match = self.pattern.fullmatch(path.name.split(".")[0])
            if not match:
                raise DataError(f"{path}: its name does not match the label pattern {self.pattern.pattern!r}")
            text = match.group("text") if "text" in self.pattern.groupindex else match.group(1)
        else:
            text = label_from_path(path)
        if not text:
            raise DataError(f"{path} has no label: its name must start with the text, like 8AE5T.png")
        if any(c.isspace() or not c.isprintable() for c in text):
            raise DataError(f"{path}: its label {text!r} holds a space, tab, line break or control character; "
                            f"a label is printable characters only (they are written to TSV files)")
        return text.lower() if self.ignore_case else text

    def paths(self) -> list[Path]:
        """Every image a labels file names, in its order (only for a labels file)."""
        if self._texts is None:
            raise ConfigError("only a labels file lists its images")
        return list(self._texts)

    def __repr__(self) -> str:
        source = f"file={str(self.file)!r}" if self.file else f"pattern={self.pattern.pattern!r}" if self.pattern else ""
        return f"Labeller({source}{', ignore_case=True' if self.ignore_case else ''})"


FILE_NAMES = Labeller()  # the default: the text is the file name


def _compile_pattern(pattern: str) -> re.Pattern:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"label pattern {pattern!r} is not a regular expression ({exc})") from None
    if compiled.groups < 1:
        raise ConfigError(f"label pattern {pattern!r} needs a group around the text, like (.+)-\\d+")
    return compiled


def _read_labels_file(file: Path) -> dict[Path, str]:
    """{image path: text}, every line checked: it parses, its image exists, its label is not empty, no path twice."""
    if not file.is_file():
        raise DataError(f"labels file {file} does not exist")
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"labels file {file} cannot be read as UTF-8 text ({exc})") from None
    comma = file.suffix.lower() == ".csv"
    rows = list(csv.reader(lines)) if comma else [line.split("\t") for line in lines]
    texts: dict[Path, str] = {}
    first_line: dict[Path, int] = {}
    for number, row in enumerate(rows, start=1):
        where = f"{file} line {number}"
        if not any(field.strip() for field in row):
            continue  # a blank line
        if comma and number == 1 and [field.strip().lower() for field in row] == ["file", "text"]:
            continue  # the header
        if len(row) != 2:
            raise DataError(f"{where}: expected {'file,text' if comma else 'path<TAB>text'}, got {len(row)} fields")
        name, text = row[0].strip(), row[1].strip()
        if not text:
            raise DataError(f"{where}: the label of {name} is empty")
        path = (file.parent / name).resolve()
        if not path.is_file():
            raise DataError(f"{where}: image {name} does not exist (looked for {path})")
        if path in texts:
            raise DataError(f"{where}: {name} is listed twice (first on line {first_line[path]})")
        texts[path], first_line[path] = text, number
    if not texts:
        raise DataError(f"labels file {file} lists no images")
    return texts


def list_images(folder: str | Path, labeller: Labeller | None = FILE_NAMES) -> list[Path]:
    """The image files in `folder` (not recursive), sorted so every run sees one order; each has
    a label (`labeller=None`: unlabelled images, nothing checked)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise DataError(f"data folder {folder} has no images ({' '.join(IMAGE_EXTENSIONS)})")
    for path in paths if labeller is not None else ():
        labeller(path)  # a DataError naming the file if it has none
    return paths


def split_is_given(data_dir: str | Path) -> bool:
    """Whether DIR holds its own train/ and val/ (else `split_paths` splits it at random)."""
    return (Path(data_dir) / "train").is_dir() and (Path(data_dir) / "val").is_dir()


def split_paths(data_dir: str | Path, val_fraction: float = 0.1, seed: int = 0,
                labeller: Labeller = FILE_NAMES) -> tuple[list[Path], list[Path]]:
    """(train, val) image paths: `DIR/train` + `DIR/val` if present, else a seeded split.

    The flat split is by *label* (scikit-learn's GroupShuffleSplit, the label as the group),
    so the copies `8AE5T_1.png`, `8AE5T_2.png` land on the same side and validation never
    sees a text the model trained on.
    """
    data_dir = Path(data_dir)
    if split_is_given(data_dir):
        return list_images(data_dir / "train", labeller), list_images(data_dir / "val", labeller)
    data_paths = list_images(data_dir / "train" if (data_dir / "train").is_dir() else data_dir, labeller)
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    groups = [labeller(p) for p in data_paths]
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


def vocabulary_from_paths(paths: Sequence[str | Path], labeller: Labeller = FILE_NAMES) -> Vocabulary:
    """The characters of these images' labels."""
    return Vocabulary.from_labels(labeller(p) for p in paths)
