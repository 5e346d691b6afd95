"""Pseudo-labels: unlabelled images teach the model what it already reads with confidence.

`train --unlabelled DIR` trains on the labelled images first (round 0). Each round after
that, the best model so far reads DIR; its reads at or above the confidence threshold
calibrated on the val images (decoding/calibration.py) become labels
(RUN_DIR/pseudo-N/labels.tsv, with the rest in review.tsv), and training starts again from
that model on the labelled and the pseudo-labelled images together. The val images stay
real labels throughout, so each round is judged honestly; RUN_DIR/model.pt ends as the
round that read them best (each round's model is kept as round-N.pt).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from ..deploy.labelling import label_folder
from ..errors import ConfigError
from .config import TrainConfig


def train_with_pseudo_labels(config: TrainConfig, log=print, on_epoch=None):
    """Round 0 on the labelled images, then `config.pseudo_rounds` rounds with pseudo-labels; the last Trainer."""
    from .run import train_run

    if config.extra_labels:
        raise ConfigError("--unlabelled writes its own extra labels each round; give --extra-labels or "
                          "--unlabelled, not both")
    out = Path(config.out)
    base = replace(config, unlabelled=None)
    rounds = f"{config.pseudo_rounds} round{'s' if config.pseudo_rounds != 1 else ''}"
    log(f"round 0: the labelled images; then {rounds} with reads of {config.unlabelled}")
    trainer = train_run(base, log, on_epoch)
    scores = [_best_accuracy(trainer)]
    shutil.copyfile(out / "model.pt", out / "round-0.pt")
    for round_number in range(1, config.pseudo_rounds + 1):
        counts = label_folder(out / "model.pt", config.unlabelled, out / f"pseudo-{round_number}")
        log(f"round {round_number}: {counts['accepted']} of {counts['images']} unlabelled images read at "
            f"confidence >= {counts['threshold']:.4f} join the training images")
        if not counts["accepted"]:
            log("none is read confidently enough: no more rounds")
            break
        trainer = train_run(replace(base, overwrite=True, init=str(out / f"round-{round_number - 1}.pt"),
                                    extra_labels=str(out / f"pseudo-{round_number}" / "labels.tsv")), log, on_epoch)
        scores.append(_best_accuracy(trainer))
        shutil.copyfile(out / "model.pt", out / f"round-{round_number}.pt")
    best = max(range(len(scores)), key=lambda i: (scores[i], i))
    shutil.copyfile(out / f"round-{best}.pt", out / "model.pt")
    log(f"val accuracy by round: {', '.join(f'{s:.2%}' for s in scores)}; model.pt is round {best}'s")
    return trainer


def _best_accuracy(trainer) -> float:
    return max(record["val_sequence_accuracy"] for record in trainer.history)
