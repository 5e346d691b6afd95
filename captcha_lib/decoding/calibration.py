"""How far to trust a read: calibrated confidence, and the threshold that meets a target.

A reader's confidence is P(text | image) from the model's softmax. A network trained with
CTC is often over-confident: among reads it gives 0.95, fewer than 95% may be right.
`expected_calibration_error` measures the gap (bins of confidence: |accuracy - mean
confidence|, weighted by the bin's share of reads); `reliability` gives the points of a
reliability diagram (notebook 08 draws one).

Temperature scaling (Guo et al., 2017) divides the logits by one number T before the
softmax: T > 1 softens over-confident scores, and the best path, hence the text, stays the
same. T is fitted on held-out labelled images, to minimise the log-loss of "is this read
right?". `choose_threshold` then picks the lowest confidence at which the accepted reads
of those images still meet a target accuracy, accepting as many as it can. Training
stores the result in the checkpoint (`metadata["calibration"]`); every reader applies the
temperature, and `label` accepts reads at the threshold. numpy only, like the readers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .decoders import best_path, log_softmax, text_log_probability

TEMPERATURES = np.geomspace(0.25, 8.0, 61)  # the grid T is chosen from (ratio 1.06 between neighbours)


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[dict]:
    """One dict per non-empty confidence bin: its range, mean confidence, accuracy and count."""
    confidences, correct = np.asarray(confidences, dtype=np.float64), np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)  # (N,) bin of each read
    return [{"low": float(edges[b]), "high": float(edges[b + 1]), "confidence": float(confidences[which == b].mean()),
             "accuracy": float(correct[which == b].mean()), "count": int((which == b).sum())}
            for b in range(bins) if (which == b).any()]


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Sum over bins of (share of reads) x |accuracy - mean confidence|; 0 is perfectly calibrated."""
    total = len(confidences)
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in reliability(confidences, correct, bins))) if total else 0.0


def greedy_confidences(logits: Sequence[np.ndarray], temperature: float = 1.0) -> tuple[list[list[int]], np.ndarray]:
    """(best-path classes, P(text | image) at `temperature`) for (T, b, C) logit batches."""
    labels, confidences = [], []
    for batch in logits:
        log_probs = log_softmax(np.asarray(batch, dtype=np.float64) / temperature)  # (T, b, C)
        batch_labels = best_path(log_probs)
        labels += batch_labels
        confidences.append(np.exp(text_log_probability(log_probs, batch_labels)))
    return labels, np.concatenate(confidences) if confidences else np.zeros(0)


def fit_temperature(logits: Sequence[np.ndarray], correct: Sequence[bool]) -> float:
    """The T of `TEMPERATURES` whose confidences best predict which reads are right (log-loss)."""
    correct = np.asarray(correct, dtype=bool)
    if correct.all() or not correct.any():
        return 1.0  # nothing to tell right from wrong with: leave the scores as they are
    losses = []
    for temperature in TEMPERATURES:
        p = np.clip(greedy_confidences(logits, temperature)[1], 1e-9, 1 - 1e-9)
        losses.append(-np.mean(np.where(correct, np.log(p), np.log1p(-p))))
    return float(TEMPERATURES[int(np.argmin(losses))])


def choose_threshold(confidences: Sequence[float], correct: Sequence[bool], target_accuracy: float) -> dict:
    """The lowest threshold whose accepted reads (confidence >= it) are at least `target_accuracy` right.

    Returns {"threshold", "coverage" (share accepted), "accuracy" (of those)}; a threshold
    above 1 (nothing accepted) when even the most confident reads miss the target."""
    if not 0.0 < target_accuracy <= 1.0:
        raise ValueError(f"target accuracy must be in (0, 1], got {target_accuracy}")
    confidences, correct = np.asarray(confidences, dtype=np.float64), np.asarray(correct, dtype=bool)
    order = np.argsort(-confidences, kind="stable")
    hits = np.cumsum(correct[order])  # right reads among the k most confident
    accuracy = hits / np.arange(1, len(order) + 1)
    best = None
    for k in range(len(order), 0, -1):  # accept as many as possible
        # a threshold accepts every read tied with the k-th, so only cut between distinct scores
        if accuracy[k - 1] >= target_accuracy and (k == len(order) or confidences[order[k]] < confidences[order[k - 1]]):
            best = k
            break
    if best is None:
        return {"threshold": 1.01, "coverage": 0.0, "accuracy": 0.0}
    return {"threshold": float(confidences[order[best - 1]]), "coverage": best / len(order),
            "accuracy": float(accuracy[best - 1])}


def calibrate(logits: Sequence[np.ndarray], truths: Sequence[str], vocabulary, target_accuracy: float = 0.99) -> dict:
    """Everything `metadata["calibration"]` holds, from held-out (T, b, C) logit batches and their texts."""
    labels, before = greedy_confidences(logits)
    correct = np.array([vocabulary.decode(label) == truth for label, truth in zip(labels, truths)])
    temperature = fit_temperature(logits, correct)
    after = greedy_confidences(logits, temperature)[1]
    chosen = choose_threshold(after, correct, target_accuracy)
    return {"temperature": temperature, "target_accuracy": target_accuracy, **chosen, "images": int(len(correct)),
            "held_out_accuracy": float(correct.mean()) if len(correct) else 0.0,
            "ece_before": expected_calibration_error(before, correct),
            "ece_after": expected_calibration_error(after, correct)}
