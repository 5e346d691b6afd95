"""Characters <-> integer classes, with class 0 reserved for the CTC blank.

The reference fitted a scikit-learn LabelEncoder and pickled it. A pickle runs code
when it is loaded, and the encoder holds nothing but a sorted string of characters,
so the vocabulary here *is* that string: plain data that a checkpoint stores as-is.

    >>> vocab = Vocabulary.from_labels(["8AE5T", "BC3X2"])
    >>> vocab.characters
    '2358ABCETX'
    >>> vocab.encode("8AE5T")      # +1: class 0 is the blank
    [4, 5, 8, 3, 9]
    >>> vocab.decode([4, 5, 8, 3, 9])
    '8AE5T'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import ConfigError, DataError, UnknownCharacterError

MAX_LABEL_LENGTH = 64  # longer is no CAPTCHA, and would not fit a file name
BLANK_INDEX = 0  # CTC's "no character here" class; real characters start at 1
# The score of a non-blank class past an image's end, in a batch of several widths: softmax
# gives it exactly 0, so every decoder reads a certain blank there (model/padding.py).
PADDING_LOGIT = -1e4


class Vocabulary:
    """The sorted characters of the training labels, plus the CTC blank."""

    blank_index = BLANK_INDEX

    def __init__(self, characters: str):
        if not characters:
            raise DataError("the vocabulary is empty: no labels to learn characters from")
        if len(set(characters)) != len(characters):
            raise DataError(f"the vocabulary has repeated characters: {characters!r}")
        self.characters = "".join(sorted(characters))
        self._index = {c: i + 1 for i, c in enumerate(self.characters)}  # +1: blank is 0

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> Vocabulary:
        return cls("".join(sorted(set("".join(labels)))))

    @property
    def num_characters(self) -> int:
        """Characters only; the model predicts `num_classes = num_characters + 1`."""
        return len(self.characters)

    @property
    def num_classes(self) -> int:
        return len(self.characters) + 1

    def encode(self, text: str, source: str | None = None) -> list[int]:
        """Text -> class indices (1-based). `source` names the file in errors."""
        try:
            return [self._index[c] for c in text]
        except KeyError as exc:
            where = f" in {source}" if source else ""
            raise UnknownCharacterError(
                f"label {text!r}{where} has the character {exc.args[0]!r}, which is not in "
                f"the training alphabet {self.characters!r}"
            ) from None

    def decode(self, indices: Sequence[int]) -> str:
        """Class indices -> text. Blanks are skipped; nothing is merged here (see ctc.py)."""
        return "".join(self.characters[i - 1] for i in indices if i != BLANK_INDEX)

    def to_dict(self) -> dict:
        return {"characters": self.characters, "blank_index": BLANK_INDEX}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(data["characters"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.characters == self.characters

    def __repr__(self) -> str:
        return f"Vocabulary({self.characters!r})"


def parse_length(length: int | str) -> tuple[int, int]:
    """`5` -> (5, 5); `"4-7"` -> (4, 7)."""
    low, _, high = str(length).partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise ConfigError(f"length must be a number or a range like 4-7, got {length!r}") from None
    if not 1 <= bounds[0] <= bounds[1] <= MAX_LABEL_LENGTH:
        raise ConfigError(f"length must be 1 to {MAX_LABEL_LENGTH} and the range increasing, got {length!r}")
    return bounds
