"""Decoding beyond greedy: CTC prefix beam search, constraints, and a confidence per read.

Greedy (best-path) decoding reads the most probable *alignment* and collapses it. The
label we want is the most probable *text*, and one text has many alignments: `AB` is
`AB__`, `_AAB`, `A_BB`, ... CTC's probability of a text is the sum over all of them, so
the best alignment need not belong to the best text. Prefix beam search follows a few
texts at a time and sums their alignments as it goes.

The beam holds CTC *states*: a prefix (the text so far) and whether the last step was a
blank. The two matter because `A` then `A` is one `A` after a non-blank but two after a
blank (`A_A`). A prefix's probability is the sum of its two states. With a beam of one
state every candidate comes from a different class, so the beam keeps the argmax class:
width 1 *is* greedy decoding. With a beam wide enough to keep every state nothing is
pruned and the sums are exact: the answer is the most probable text.

Constraints (a known length, or an allowed set of characters) act inside the search: a
state that breaks them is never kept, so the answer is the most probable text among those
allowed, not a greedy read that happens to fit.

Confidence is the probability the model gives the decoded text, summed over all its
alignments: exp(-CTC loss of that text). One definition for every decoder, so an
application can reject low-confidence reads whichever decoder it uses.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .ctc import best_path
from .vocab import BLANK_INDEX, Vocabulary

State = tuple[tuple[int, ...], bool]  # (prefix of classes, last step was a blank)


def prefix_beam_search(log_probs: np.ndarray, beam_width: int = 8, blank_index: int = BLANK_INDEX,
                       min_length: int = 0, max_length: int | None = None,
                       allowed: Collection[int] | None = None) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search over one sequence.

    log_probs: (T, C) log-probabilities. Returns (prefix, log-probability) pairs, best first;
    only prefixes of min_length..max_length classes drawn from `allowed` (default: all).
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)  # (T, C)
    time_steps, num_classes = log_probs.shape
    if beam_width < 1:
        raise ValueError(f"beam width must be at least 1, got {beam_width}")
    max_length = time_steps if max_length is None else max_length
    classes = [c for c in range(num_classes) if c != blank_index and (allowed is None or c in allowed)]
    classes = sorted([blank_index, *classes])  # class order: ties go to the lowest class, as argmax does
    beam: dict[State, float] = {((), True): 0.0}  # the empty text, "after a blank", probability 1
    for t, step in enumerate(log_probs.tolist()):  # step: C log-probabilities (plain floats: fast in a loop)
        steps_left = time_steps - t - 1
        candidates: dict[State, float] = {}

        def add(state: State, score: float) -> None:
            old = candidates.get(state)
            candidates[state] = score if old is None else _log_add(old, score)

        for (prefix, after_blank), score in beam.items():
            last = prefix[-1] if prefix else None
            for c in classes:
                if c == blank_index:
                    add((prefix, True), score + step[c])
                elif c == last and not after_blank:
                    add((prefix, False), score + step[c])  # a repeat without a blank merges
                elif len(prefix) < max_length:
                    add((prefix + (c,), False), score + step[c])
        # a state that can no longer reach min_length in the steps left is dead (one step per new class)
        alive = [(state, score) for state, score in candidates.items() if len(state[0]) + steps_left >= min_length]
        alive.sort(key=lambda item: -item[1])  # stable: equal scores keep class order
        beam = dict(alive[:beam_width])
    texts: dict[tuple[int, ...], float] = {}
    for (prefix, _), score in beam.items():
        if len(prefix) >= min_length:
            texts[prefix] = _log_add(texts[prefix], score) if prefix in texts else score
    return sorted(texts.items(), key=lambda item: -item[1])


def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


def brute_force_decode(log_probs: np.ndarray, blank_index: int = BLANK_INDEX, min_length: int = 0,
                       max_length: int | None = None,
                       allowed: Collection[int] | None = None) -> tuple[tuple[int, ...], float] | None:
    """The exact most probable text, by enumerating all C**T alignments: tiny inputs only.

    The yardstick the beam search is tested against. Returns (prefix, log-probability), or
    None when no alignment satisfies the constraints.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)  # (T, C)
    time_steps, num_classes = log_probs.shape
    max_length = time_steps if max_length is None else max_length
    texts: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(num_classes), repeat=time_steps):
        text = tuple(c for i, c in enumerate(path) if c != blank_index and (i == 0 or c != path[i - 1]))
        if not min_length <= len(text) <= max_length or (allowed is not None and not set(text) <= set(allowed)):
            continue
        score = float(log_probs[np.arange(time_steps), path].sum())
        texts[text] = _log_add(texts[text], score) if text in texts else score
    return max(texts.items(), key=lambda item: item[1]) if texts else None


def text_log_probability(logits: torch.Tensor, labels: Sequence[Sequence[int]],
                         blank_index: int = BLANK_INDEX) -> torch.Tensor:
    """log P(text | image) for each sequence, summed over every alignment (the CTC forward pass).

    logits: (T, B, C); labels: B lists of classes. Returns (B,); -inf where a text cannot fit.
    """
    time_steps, batch_size, _ = logits.shape
    log_probs = F.log_softmax(logits.detach().float().cpu(), dim=2)  # (T, B, C)
    targets = torch.tensor([c for label in labels for c in label], dtype=torch.long)  # (sum of lengths,)
    target_lengths = torch.tensor([len(label) for label in labels], dtype=torch.long)  # (B,)
    input_lengths = torch.full((batch_size,), time_steps, dtype=torch.long)  # (B,)
    return -F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank_index,
                       reduction="none", zero_infinity=False)


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float  # P(text | image), in [0, 1]


@dataclass(frozen=True)
class Decoder:
    """How logits become text: "greedy", "beam" (prefix beam search) or "constrained".

    "constrained" is beam search that only returns texts of min_length..max_length
    characters drawn from `alphabet` (default: the model's).
    """
    method: str = "greedy"
    beam_width: int = 8
    min_length: int = 0
    max_length: int | None = None
    alphabet: str | None = None

    def __post_init__(self):
        if self.method not in ("greedy", "beam", "constrained"):
            raise ValueError(f"unknown decoder {self.method!r}: use greedy, beam or constrained")
        if self.beam_width < 1:
            raise ValueError(f"beam width must be at least 1, got {self.beam_width}")

    @property
    def name(self) -> str:
        return self.method if self.method == "greedy" else f"{self.method}-{self.beam_width}"

    def decode(self, logits: torch.Tensor, vocabulary: Vocabulary) -> list[Reading]:
        """(T, B, C) logits -> B readings, each with its confidence."""
        labels = self.decode_classes(logits, vocabulary)
        found = [label is not None for label in labels]
        labels = [label or [] for label in labels]
        confidences = text_log_probability(logits, labels, vocabulary.blank_index).exp().tolist()
        return [Reading(vocabulary.decode(label), confidence if ok else 0.0)
                for label, confidence, ok in zip(labels, confidences, found)]

    def decode_classes(self, logits: torch.Tensor, vocabulary: Vocabulary) -> list[list[int] | None]:
        """(T, B, C) logits -> B lists of classes; None where no text satisfies the constraints."""
        if self.method == "greedy":
            return best_path(logits, vocabulary.blank_index)
        constrained = self.method == "constrained"
        allowed = None
        if constrained and self.alphabet is not None:
            allowed = set(vocabulary.encode(self.alphabet, source="the decoder's alphabet"))
        log_probs = F.log_softmax(logits.detach().float(), dim=2).cpu().numpy()  # (T, B, C)
        labels = []
        for b in range(log_probs.shape[1]):
            beams = prefix_beam_search(log_probs[:, b], self.beam_width, vocabulary.blank_index,
                                       min_length=self.min_length if constrained else 0,
                                       max_length=self.max_length if constrained else None, allowed=allowed)
            labels.append(list(beams[0][0]) if beams else None)
        return labels


def parse_decoder(spec: str, min_length: int = 0, max_length: int | None = None,
                  alphabet: str | None = None) -> Decoder:
    """"greedy", "beam", "beam:16", "constrained", "constrained:4" -> a Decoder."""
    method, _, width = spec.partition(":")
    try:
        return Decoder(method, int(width) if width else Decoder.beam_width, min_length, max_length, alphabet)
    except ValueError as exc:
        raise ValueError(f"decoder {spec!r}: {exc}") from None


def accuracy_at_coverage(confidences: Sequence[float], correct: Sequence[bool],
                         coverages: Sequence[float] = (1.0, 0.99, 0.95, 0.9, 0.8)) -> dict[float, float]:
    """Accuracy of the most confident reads when only a fraction `coverage` is accepted.

    An application that rejects its least confident reads answers fewer CAPTCHAs, and
    gets more of those right: this is that trade.
    """
    order = np.argsort(-np.asarray(confidences, dtype=np.float64), kind="stable")
    correct = np.asarray(correct, dtype=bool)[order]
    result = {}
    for coverage in coverages:
        kept = max(1, int(round(coverage * len(correct))))
        result[coverage] = float(correct[:kept].mean()) if len(correct) else 0.0
    return result
