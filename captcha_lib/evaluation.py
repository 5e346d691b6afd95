"""Evaluating a reader on labelled images, with several decoders on the same logits.

The images are preprocessed and run through the model once; each decoder then reads the
same logits, so the comparison is about decoding alone, and so is each decoder's time.
`python -m captcha_lib evaluate` prints this report; notebooks 04 and 05 plot it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from .data import label_from_path
from .decoding import Decoder, Reading, accuracy_at_coverage
from .metrics import character_error_rate, sequence_accuracy
from .predict import Predictor


def evaluate_decoders(predictor: Predictor, paths: Sequence[str | Path],
                      decoders: Sequence[Decoder] = (Decoder(),)) -> tuple[dict, dict[str, list[Reading]]]:
    """(report, readings): a JSON-ready report per decoder, and every decoder's readings.

    Per decoder: sequence accuracy, CER, decoding ms per image, reads it fixes and breaks
    against the first decoder, and accuracy at coverage (rejecting the least confident reads).
    """
    labels = [label_from_path(p) for p in paths]
    for label, path in zip(labels, paths):
        predictor.vocabulary.encode(label, source=str(path))  # unknown character: a clear error, not a silent miss
    start = time.perf_counter()
    logits = list(predictor.batched_logits(paths))  # (T, b, C) batches: preprocessing and model, once
    model_seconds = time.perf_counter() - start
    report = {"n": len(paths), "model_ms_per_image": round(1000 * model_seconds / len(paths), 3), "decoders": {}}
    readings: dict[str, list[Reading]] = {}
    baseline = None
    for decoder in decoders:
        start = time.perf_counter()
        read = [r for batch in logits for r in decoder.decode(batch, predictor.vocabulary)]
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


def error_rows(paths: Sequence[str | Path], readings: dict[str, list[Reading]]) -> list[tuple]:
    """(path, truth, decoder, prediction, confidence) for every wrong read of every decoder."""
    return [(str(path), label_from_path(path), name, r.text, r.confidence)
            for name, read in readings.items() for path, r in zip(paths, read) if r.text != label_from_path(path)]
