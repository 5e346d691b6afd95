"""How good are the reads?

* Sequence accuracy: the whole CAPTCHA right. This is what a user of a reader cares about.
* Character error rate (CER): edit distance (insertions, deletions, substitutions)
  between prediction and truth, divided by the truth's length.

The reference's "character accuracy" compared characters *by position*: predict
"8AE5T" as "8AAE5T" (one inserted A) and it counts E, 5, T as wrong, 3 errors
for 1 mistake. Edit distance counts that as what it is: one insertion.
"""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions a -> b."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1,  # delete char_a
                               current[j - 1] + 1,  # insert char_b
                               previous[j - 1] + (char_a != char_b)))  # substitute
        previous = current
    return previous[-1]


def character_error_rate(predictions: Sequence[str], truths: Sequence[str]) -> float:
    """Total edit distance over total truth length (0 is perfect; can exceed 1)."""
    _check_pairs(predictions, truths)
    total = sum(len(t) for t in truths)
    return sum(edit_distance(p, t) for p, t in zip(predictions, truths)) / max(total, 1)


def sequence_accuracy(predictions: Sequence[str], truths: Sequence[str]) -> float:
    """The fraction of CAPTCHAs read exactly."""
    _check_pairs(predictions, truths)
    return sum(p == t for p, t in zip(predictions, truths)) / max(len(truths), 1)


def positional_character_accuracy(predictions: Sequence[str], truths: Sequence[str]) -> float:
    """The reference's measure, kept only to show why it misleads (see module doc)."""
    _check_pairs(predictions, truths)
    correct = total = 0
    for p, t in zip(predictions, truths):
        correct += sum(a == b for a, b in zip(p, t))
        total += min(len(p), len(t)) + abs(len(p) - len(t))
    return correct / max(total, 1)


def _check_pairs(predictions: Sequence[str], truths: Sequence[str]) -> None:
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predictions for {len(truths)} truths")
