"""Batches of images of different widths: what a model does with the padding.

A batch is padded on the right to its widest image (`data.images.pad_batch`), and each
image's width comes with it. So that an image reads the same in any batch as on its own:
* conv features of the padding are zeroed after each block, as the convolution's own zero
  padding would be at the image's edge (`mask_columns`);
* the GRU reads each sequence only to its end: the backward direction starts at the last
  real column, not in the padding (`run_rnn`);
* the logits of padded timesteps say "blank" with certainty (`blank_padding`), so every
  decoder skips them, and CTC gets each image's true number of timesteps as its input length.

A batch of equal widths (every fixed-size data set, and every ONNX call) skips all of it.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..data.vocab import BLANK_INDEX, PADDING_LOGIT


def padded_lengths(widths: torch.Tensor | None, width: int, stride: int) -> torch.Tensor | None:
    """Each image's timesteps, `widths // stride`, or None when no image is padded."""
    if widths is None or torch.jit.is_tracing() or bool((widths >= width).all()):
        return None
    return torch.div(widths.to(torch.long), stride, rounding_mode="floor")


def mask_columns(features: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """(B, C, H, W) features with the columns at or past each image's length set to 0."""
    if lengths is None:
        return features
    columns = torch.arange(features.shape[-1], device=features.device)  # (W,)
    keep = columns[None, :] < lengths.to(features.device)[:, None]  # (B, W)
    return features * keep[:, None, None, :].to(features.dtype)


def run_rnn(rnn: nn.RNNBase, sequence: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """(B, T, F) batch-first sequence -> (B, T, hidden), each read only to its length (0 after it)."""
    if lengths is None:
        output, _ = rnn(sequence)
        return output
    packed = pack_padded_sequence(sequence, lengths.cpu(), batch_first=True, enforce_sorted=False)
    output, _ = rnn(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=sequence.shape[1])
    return output


def blank_padding(logits: torch.Tensor, lengths: torch.Tensor | None, blank_index: int = BLANK_INDEX) -> torch.Tensor:
    """(T, B, C) logits with every timestep at or past an image's length a certain blank."""
    if lengths is None:
        return logits
    steps = torch.arange(logits.shape[0], device=logits.device)  # (T,)
    padded = steps[:, None] >= lengths.to(logits.device)[None, :]  # (T, B)
    blank_row = torch.full((logits.shape[-1],), PADDING_LOGIT, dtype=logits.dtype, device=logits.device)
    blank_row[blank_index] = 0.0
    return torch.where(padded[:, :, None], blank_row, logits)
