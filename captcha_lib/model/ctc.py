"""CTC: the loss that needs no alignment.

The model emits one class distribution per timestep (a column of the image). CTC
sums over every way of spreading the label over those timesteps with blanks (class 0)
in between, so nobody has to say where each character is.

Decoding (decoding/decoders.py) reverses the spreading: take the best class per
timestep, **merge repeats first, then drop blanks**. The order matters:

    A A _ A   -> merge -> A _ A -> drop blanks -> "AA"   (right: the blank separates)
    A A _ A   -> drop  -> A A A -> merge       -> "A"    (the reference's order: wrong)

so a doubled letter (`5bbzt`) survives only if the model puts a blank between the two
b's, and only if the decoder merges before it drops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.vocab import BLANK_INDEX


def ctc_loss(logits: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor,
             input_lengths: torch.Tensor | None = None, blank_index: int = BLANK_INDEX) -> torch.Tensor:
    """Mean CTC loss of a batch.

    logits: (T, B, C) raw scores. targets: (sum of lengths,) concatenated labels, or
    (B, L) padded. target_lengths: (B,). input_lengths: (B,) each image's timesteps in a
    padded batch (default: all T). Lengths are made on the logits' device.
    """
    time_steps, batch_size, _ = logits.shape
    log_probs = F.log_softmax(logits.float(), dim=2)  # (T, B, C); float: fp16 CTC is unstable
    if input_lengths is None:
        input_lengths = torch.full((batch_size,), time_steps, dtype=torch.long, device=logits.device)  # (B,)
    # zero_infinity: a label that cannot fit in T steps adds 0, not inf, instead of wrecking the batch
    return F.ctc_loss(log_probs, targets.to(logits.device), input_lengths.to(logits.device),
                      target_lengths.to(logits.device),
                      blank=blank_index, zero_infinity=True)


def min_time_steps(label: str) -> int:
    """The fewest timesteps CTC can spread `label` over: one per character, plus the blank
    that must separate each doubled letter ("5bbzt" needs 6)."""
    return len(label) + sum(a == b for a, b in zip(label, label[1:]))
