"""Evaluating a reader on labelled images, with several decoders on the same logits.

The images are preprocessed and run through the model once; each decoder then reads the
same logits, so the comparison is about decoding alone, and so is each decoder's time.
`python -m captcha_lib evaluate` prints this report; notebooks 04 and 05 plot it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.labels import FILE_NAMES, Labeller
from .decoders import GREEDY, Decoder, Reading, accuracy_at_coverage
from .metrics import character_error_rate, sequence_accuracy


def evaluate_decoders(reader, paths: Sequence[str | Path], decoders: Sequence[Decoder] = (GREEDY,),
                      labeller: Labeller = FILE_NAMES) -> tuple[dict, dict[str, list[Reading]]]:
    """(report, readings): a JSON-ready report per decoder, and every decoder's readings.

    `reader`: a `Reader` (PyTorch or ONNX). Each decoder's unset lengths are the model's
    training label lengths. Per decoder: sequence accuracy, CER, decoding ms per image, reads it fixes and breaks
    against the first decoder, and accuracy at coverage (rejecting the least confident reads).
    """
    labels = [labeller(p) for p in paths]
    for label, path in zip(labels, paths):
        reader.vocabulary.encode(label, source=str(path))  # unknown character: a clear error, not a silent miss
    decoders = [reader.fit_decoder(decoder) for decoder in decoders]
    start = time.perf_counter()
    logits = list(reader.batched_logits(paths))  # (T, b, C) batches: preprocessing and model, once
    model_seconds = time.perf_counter() - start
    report = {"n": len(paths), "model_ms_per_image": round(1000 * model_seconds / len(paths), 3), "decoders": {}}
    readings: dict[str, list[Reading]] = {}
    baseline = None
    for decoder in decoders:
        start = time.perf_counter()
        read = [r for batch in logits for r in decoder.decode(batch, reader.vocabulary)]
        seconds = time.perf_counter() - start
        texts = [r.text for r in read]
        correct = [text == label for text, label in zip(texts, labels)]
        baseline = baseline or correct
        readings[decoder.name] = read
        report["decoders"][decoder.name] = {
            "sequence_accuracy": round(sequence_accuracy(texts, labels), 6),
            "cer": round(character_error_rate(texts, labels), 6),
            "ms_per_image": round(1000 * seconds / len(paths), 3),
            "fixed": sum(c and not b for c, b in zip(correct, baseline)),  # right here, wrong by the first decoder
            "broken": sum(b and not c for c, b in zip(correct, baseline)),
            "accuracy_at_coverage": {str(coverage): round(accuracy, 6) for coverage, accuracy in
                                     accuracy_at_coverage([r.confidence for r in read], correct).items()},
        }
    return report, readings


def error_rows(paths: Sequence[str | Path], readings: dict[str, list[Reading]],
               labeller: Labeller = FILE_NAMES) -> list[tuple]:
    """(path, truth, decoder, prediction, confidence) for every wrong read of every decoder."""
    truths = [labeller(path) for path in paths]
    return [(str(path), truth, name, r.text, r.confidence)
            for name, read in readings.items() for path, truth, r in zip(paths, truths, read) if r.text != truth]


def character_confusions(predictions: Sequence[str], truths: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(characters, matrix): substitutions in the reads of the right length, as scikit-learn counts them.

    A read of the right length lines up with its truth position by position, so each
    mismatch is a substitution. `matrix[i, j]` counts true `characters[i]` read as
    `characters[j]`, for the characters involved in at least one substitution; the
    diagonal holds their correct reads. No substitution at all: ([], a 0x0 matrix).
    """
    from sklearn.metrics import confusion_matrix

    pairs = [(t, p) for truth, read in zip(truths, predictions) if len(truth) == len(read) for t, p in zip(truth, read)]
    involved = sorted({c for t, p in pairs if t != p for c in (t, p)})
    if not involved:
        return [], np.zeros((0, 0), dtype=np.int64)
    kept = [(t, p) for t, p in pairs if t in involved and p in involved]
    return involved, confusion_matrix([t for t, _ in kept], [p for _, p in kept], labels=involved)
