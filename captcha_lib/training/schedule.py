"""The small parts of a training run: seeding, the learning-rate schedule, early stopping.

    cosine: LambdaLR, stepped every batch: linear warm-up, then a cosine decay to 2% of the
            peak over the budget (steps, or the time limit if that comes first)
    plateau: ReduceLROnPlateau, stepped every epoch with the validation loss (the reference's)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch


def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators: same seed, same weights and dropout."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def warmup_cosine(step: int, warmup_steps: int, budget_used: float) -> float:
    """The learning rate over its peak at `step`, with `budget_used` (0 to 1) of the budget spent."""
    factor = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * budget_used))
    if step < warmup_steps:
        factor *= (step + 1) / warmup_steps
    return factor


def make_scheduler(optimizer: torch.optim.Optimizer, config, factor: Callable[[], float]):
    """torch's scheduler for `config.schedule`; `factor()` gives the cosine schedule's current factor."""
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(  # no verbose=: gone in torch 2.7
            optimizer, factor=config.plateau_factor, patience=config.plateau_patience)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: factor())


class EarlyStopping:
    """Stop after `patience` epochs without a better model (None: never)."""

    def __init__(self, patience: int | None):
        self.patience, self.epochs_without_improvement = patience, 0

    def update(self, improved: bool) -> bool:
        """Record one epoch; True when it is time to stop."""
        self.epochs_without_improvement = 0 if improved else self.epochs_without_improvement + 1
        return bool(self.patience and self.epochs_without_improvement >= self.patience)
