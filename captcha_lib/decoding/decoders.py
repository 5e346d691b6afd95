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
from dataclasses import dataclass, replace

import numpy as np

from ..data.vocab import BLANK_INDEX, Vocabulary
from ..errors import ConfigError

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
        raise ConfigError(f"beam width must be at least 1, got {beam_width}")
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


def text_log_probability(logits, labels: Sequence[Sequence[int]], blank_index: int = BLANK_INDEX) -> np.ndarray:
    """log P(text | image) for each sequence, summed over every alignment: the CTC forward pass.

    logits: (T, B, C) scores (tensor or array); labels: B lists of classes. Returns (B,)
    float64; -inf where a text cannot fit in T steps. The same sum `F.ctc_loss` computes
    (tests check it), in numpy so an exported model needs no torch to report confidence.
    """
    log_probs = log_softmax(logits).astype(np.float64)  # (T, B, C)
    time_steps, batch_size, _ = log_probs.shape
    lengths = np.array([len(label) for label in labels], dtype=np.int64)  # (B,)
    states = 2 * int(lengths.max(initial=0)) + 1  # blank, c1, blank, c2, ..., blank
    extended = np.full((batch_size, states), blank_index, dtype=np.int64)  # (B, S)
    for b, label in enumerate(labels):
        extended[b, 1:2 * len(label):2] = label
    # a state may skip the blank before it when it holds a character unlike the one two back
    can_skip = np.zeros((batch_size, states), dtype=bool)  # (B, S)
    can_skip[:, 2:] = (extended[:, 2:] != blank_index) & (extended[:, 2:] != extended[:, :-2])
    emit = np.take_along_axis(log_probs, np.broadcast_to(extended, (time_steps, *extended.shape)), axis=2)  # (T, B, S)
    alpha = np.full((batch_size, states), -np.inf)  # (B, S) log-probability of each state so far
    alpha[:, :2] = emit[0, :, :2]  # start on the first blank or the first character
    for t in range(1, time_steps):
        stay = alpha
        step = np.concatenate([np.full((batch_size, 1), -np.inf), alpha[:, :-1]], axis=1)  # from s - 1
        skip = np.concatenate([np.full((batch_size, 2), -np.inf), alpha[:, :-2]], axis=1)[:, :states]  # from s - 2
        skip = np.where(can_skip, skip, -np.inf)
        with np.errstate(divide="ignore"):
            alpha = np.logaddexp(np.logaddexp(stay, step), skip) + emit[t]
    last_blank = alpha[np.arange(batch_size), 2 * lengths]  # (B,) ended on the final blank
    last_char = np.where(lengths > 0, alpha[np.arange(batch_size), np.maximum(2 * lengths - 1, 0)], -np.inf)
    return np.logaddexp(last_blank, last_char)


def log_softmax(logits) -> np.ndarray:
    """(T, B, C) scores, a torch tensor or an array -> log-probabilities, as numpy (float32 or 64)."""
    if hasattr(logits, "detach"):  # a torch tensor (without importing torch here)
        logits = logits.detach().float().cpu().numpy()
    logits = np.asarray(logits)
    logits = logits if logits.dtype == np.float64 else logits.astype(np.float32)  # float64 stays exact
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def best_path(logits, blank_index: int = BLANK_INDEX) -> list[list[int]]:
    """Greedy (best-path) decoding of a batch, vectorised: (T, B, C) -> B lists of classes.

    The one greedy decoder: validation during training, `Decoder("greedy")` and every reader use it.
    Takes a torch tensor or an array of scores or log-probabilities (argmax is the same).
    """
    if hasattr(logits, "detach"):
        logits = logits.detach().cpu().numpy()
    best = np.asarray(logits).argmax(axis=2).T  # (B, T) best class per timestep
    new = np.ones_like(best, dtype=bool)  # (B, T) first step of a run?
    new[:, 1:] = best[:, 1:] != best[:, :-1]  # merge repeats ...
    keep = new & (best != blank_index)  # ... then drop blanks
    return [row[mask].tolist() for row, mask in zip(best, keep)]


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float  # P(text | image), in [0, 1]


@dataclass(frozen=True)
class Decoder:
    """How logits become text: "greedy", "beam" (prefix beam search) or "constrained".

    "constrained" is beam search that only returns texts of min_length..max_length
    characters drawn from `alphabet` (default: the model's). A length left None is the
    training labels' (`for_model`), as the checkpoint records them.
    """
    method: str = "greedy"
    beam_width: int = 8
    min_length: int | None = None
    max_length: int | None = None
    alphabet: str | None = None
    temperature: float | None = None  # divides the logits before the softmax; None: the model's calibrated T, or 1

    def __post_init__(self):
        if self.method not in ("greedy", "beam", "constrained"):
            raise ConfigError(f"unknown decoder {self.method!r}: use greedy, beam or constrained")
        if self.beam_width < 1:
            raise ConfigError(f"beam width must be at least 1, got {self.beam_width}")
        if self.temperature is not None and not (isinstance(self.temperature, (int, float)) and
                                                 0.01 <= self.temperature <= 100):
            raise ConfigError(f"temperature must be a number from 0.01 to 100, got {self.temperature!r}")

    @property
    def name(self) -> str:
        return self.method if self.method == "greedy" else f"{self.method}-{self.beam_width}"

    def for_model(self, vocabulary: Vocabulary, label_lengths: Sequence[int] | None = None,
                  temperature: float | None = None) -> Decoder:
        """This decoder, checked against a model: its alphabet in the vocabulary, unset lengths
        and temperature filled in (the training labels' lengths, the calibrated temperature)."""
        if self.alphabet is not None:
            vocabulary.encode(self.alphabet, source="the decoder's alphabet")  # a character the model lacks
        low, high = label_lengths or (None, None)
        return replace(self, min_length=self.min_length if self.min_length is not None else low,
                       max_length=self.max_length if self.max_length is not None else high,
                       temperature=self.temperature if self.temperature is not None else temperature)

    def texts(self, logits, vocabulary: Vocabulary) -> list[str]:
        """(T, B, C) logits (tensor or array) -> B texts, without confidences."""
        return [vocabulary.decode(label or []) for label in self.decode_classes(logits, vocabulary)]

    def decode(self, logits, vocabulary: Vocabulary) -> list[Reading]:
        """(T, B, C) logits (tensor or array) -> B readings, each with its confidence."""
        log_probs = log_softmax(logits)  # (T, B, C), once for the search and the confidence
        if self.temperature not in (None, 1.0):
            log_probs = log_softmax(log_probs / self.temperature)  # the same as softmax(logits / T)
        labels = self.decode_classes(log_probs, vocabulary)
        found = [label is not None for label in labels]
        labels = [label or [] for label in labels]
        confidences = np.exp(text_log_probability(log_probs, labels, vocabulary.blank_index)).tolist()
        return [Reading(vocabulary.decode(label), confidence if ok else 0.0)
                for label, confidence, ok in zip(labels, confidences, found)]

    def decode_classes(self, logits, vocabulary: Vocabulary) -> list[list[int] | None]:
        """(T, B, C) logits -> B lists of classes; None where no text satisfies the constraints."""
        if self.method == "greedy":
            return best_path(logits, vocabulary.blank_index)
        constrained = self.method == "constrained"
        allowed = None
        if constrained and self.alphabet is not None:
            allowed = set(vocabulary.encode(self.alphabet, source="the decoder's alphabet"))
        log_probs = log_softmax(logits)  # (T, B, C)
        labels = []
        for b in range(log_probs.shape[1]):
            beams = prefix_beam_search(log_probs[:, b], self.beam_width, vocabulary.blank_index,
                                       min_length=(self.min_length or 0) if constrained else 0,
                                       max_length=self.max_length if constrained else None, allowed=allowed)
            labels.append(list(beams[0][0]) if beams else None)
        return labels


GREEDY = Decoder()


def parse_decoder(spec: str, min_length: int | None = None, max_length: int | None = None,
                  alphabet: str | None = None) -> Decoder:
    """"greedy", "beam", "beam:16", "constrained", "constrained:4" -> a Decoder."""
    method, _, width = spec.partition(":")
    try:
        return Decoder(method, int(width) if width else Decoder.beam_width, min_length, max_length, alphabet)
    except ValueError as exc:
        raise ConfigError(f"decoder {spec!r}: {exc}") from None


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
