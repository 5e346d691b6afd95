"""The default model: what lets a small CAPTCHA set train in minutes on a CPU instead of
sitting on the all-blank plateau (notebook 03 shows each part at work).

It maps images (B, 3, H, W) to CTC logits (T, B, num_characters + 1), T = W / 8 (or
W / `time_stride`), and
returns `(logits, loss)` like the reference: `loss` is None without targets. Given each
image's width (`widths`, a batch padded to its widest image), it reads each image as it
would alone (padding.py).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError
from .ctc import ctc_loss
from .padding import blank_padding, mask_columns, padded_lengths, run_rnn

TIME_STRIDES = (4, 8, 16)  # input pixels per timestep the CRNN can pool to


def _conv_block(in_channels: int, out_channels: int, pool: tuple[int, int] = (2, 2),
                batch_norm: bool = True) -> nn.Sequential:
    # BatchNorm keeps activations at a sane scale from the first step, so the GRU gets
    # informative features early and the "predict only blanks" minimum is left quickly.
    # Pooling comes before BatchNorm and ReLU: they then touch a quarter of the values
    # (max-pooling commutes with ReLU), which is most of a CPU's time in this model.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=not batch_norm),
        nn.MaxPool2d(pool),
        nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity(),  # off: notebook 03's ablation
        nn.ReLU(inplace=True),
    )


class CRNN(nn.Module):
    """Conv blocks with batch norm -> projection -> 2-layer BiGRU with a skip -> classifier.

    Why each part:
    * three conv blocks with BatchNorm: stable, fast-learning features;
    * three 2x2 poolings: a 200x50 CAPTCHA (160 pixels wide at height 40) gives T = 20
      timesteps, room for 10 characters even if all are the same (a blank must separate
      them), and half the sequential GRU steps of the reference's T = 40;
    * a Linear projection (channels x rows -> `hidden_size`) before the GRU: the GRU reads
      a compact feature instead of hundreds of raw values per step;
    * a skip connection around the GRU (`residual`): the classifier sees the conv features
      directly, so the CNN gets a strong gradient from the first steps and the model leaves
      the all-blank plateau quickly; the GRU adds left/right context on top;
    * a second, coarse CTC head, for training only (`coarse_weight`): it reads pairs of
      neighbouring timesteps, so a character spans half as many steps, and CTC on so short
      a sequence leaves the all-blank plateau in a few epochs; its loss, added to the main
      one, pulls the shared features along (on captcha-v2: out of the plateau in 10-11 s
      instead of 33-38 s). Reading uses the main head only;
    * channels-last memory layout: oneDNN's faster CPU kernels (about 1.2x here).

    `batch_norm=False`, `projection=False` and `residual=False` take a part out, for the
    ablation in notebook 03. Without the projection the GRU reads the raw column features
    (c3 x H/8 values), and the skip, whose sizes then differ, reaches the classifier through
    a linear map of them.
    """

    name = "crnn"
    stride = 8  # input pixels per timestep (`time_stride`): 2x2, 2x2, then 2x2 or 2x4 pooling

    def __init__(self, num_characters: int, channels: tuple[int, int, int] = (16, 32, 64),
                 hidden_size: int = 96, image_height: int = 40, dropout: float = 0.2, residual: bool = True,
                 time_stride: int = 8, coarse_weight: float = 1.0, coarse_factor: int = 2,
                 batch_norm: bool = True, projection: bool = True):
        super().__init__()
        if time_stride not in TIME_STRIDES:
            raise ConfigError(f"time_stride must be one of {', '.join(map(str, TIME_STRIDES))}, got {time_stride!r}")
        if not 8 <= image_height <= 512:
            raise ConfigError(f"the CRNN reads images 8 to 512 pixels high (three 2x2 poolings), not {image_height}")
        if not (2 <= hidden_size <= 4096 and hidden_size % 2 == 0):
            raise ConfigError(f"hidden_size must be even, 2 to 4096 (half per GRU direction), got {hidden_size}")
        self.num_characters = num_characters
        self.channels = tuple(channels)
        self.hidden_size = hidden_size
        self.image_height = image_height
        self.dropout = dropout
        self.residual = residual
        self.batch_norm, self.use_projection = batch_norm, projection
        self.stride = time_stride
        c1, c2, c3 = self.channels
        self.features = nn.Sequential(
            _conv_block(3, c1, batch_norm=batch_norm),  # (B, c1, H/2, W/2)
            _conv_block(c1, c2, batch_norm=batch_norm),  # (B, c2, H/4, W/4)
            _conv_block(c2, c3, pool=(2, time_stride // 4), batch_norm=batch_norm),  # (B, c3, H/8, W/stride)
        )
        column = c3 * (image_height // 8)  # values in one column of conv features
        self.projection = nn.Sequential(nn.Linear(column, hidden_size), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout)) if projection else nn.Identity()
        self.gru = nn.GRU(hidden_size if projection else column, hidden_size // 2, num_layers=2, bidirectional=True,
                          dropout=dropout, batch_first=True)
        self.skip = nn.Linear(column, hidden_size) if residual and not projection else nn.Identity()
        self.output = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden_size, num_characters + 1))
        if not 2 <= coarse_factor <= 8:
            raise ConfigError(f"coarse_factor must be 2 to 8 timesteps, got {coarse_factor!r}")
        self.coarse_weight, self.coarse_factor = coarse_weight, coarse_factor
        # `coarse_factor` timesteps in, one set of class scores out (none without a coarse loss)
        self.coarse_output = nn.Linear(coarse_factor * hidden_size, num_characters + 1) if coarse_weight else None

    def config(self) -> dict:
        return {"num_characters": self.num_characters, "channels": list(self.channels),
                "hidden_size": self.hidden_size, "image_height": self.image_height, "dropout": self.dropout,
                "residual": self.residual, "time_stride": self.stride, "coarse_weight": self.coarse_weight,
                "coarse_factor": self.coarse_factor, "batch_norm": self.batch_norm, "projection": self.use_projection}

    def forward(self, images, targets=None, target_lengths=None, widths=None):
        lengths = padded_lengths(widths, images.shape[-1], self.stride)  # (B,) timesteps, None if unpadded
        x = self.conv_features(images, None if lengths is None else widths)  # (B, c3, H/8, T)
        x = x.permute(0, 3, 1, 2).flatten(2)  # (B, T, c3 * 5): one column per timestep
        x = self.projection(x)  # (B, T, hidden), or (B, T, c3 * 5) without the projection
        context = run_rnn(self.gru, x, lengths)  # (B, T, hidden): both directions concatenated
        x = self.skip(x) + context if self.residual else context  # (B, T, hidden)
        logits = blank_padding(self.output(x).permute(1, 0, 2), lengths)  # (T, B, num_characters + 1)
        loss = ctc_loss(logits, targets, target_lengths, lengths) if targets is not None else None
        if loss is not None and self.training and self.coarse_weight:
            loss = loss + self.coarse_weight * self._coarse_loss(x, targets, target_lengths, lengths)
        return logits, loss

    def conv_features(self, images, widths=None):
        """(B, 3, H, W) -> (B, c3, H/8, T); given `widths`, each image's padding is zeroed after every block."""
        x = images.contiguous(memory_format=torch.channels_last)
        for block, stride in zip(self.features, (2, 4, self.stride)):
            x = block(x)  # (B, c1, H/2, W/2), (B, c2, H/4, W/4), (B, c3, H/8, W/stride)
            x = mask_columns(x, None if widths is None else torch.div(widths.to(x.device), stride,
                                                                      rounding_mode="floor"))
        return x

    def _coarse_loss(self, x, targets, target_lengths, lengths):
        """CTC on groups of k = coarse_factor neighbouring timesteps: (B, T, hidden) -> (T/k, B, C) logits."""
        batch, steps, hidden = x.shape
        k = self.coarse_factor
        groups = x[:, : steps // k * k].reshape(batch, steps // k, k * hidden)  # (B, T/k, k * hidden)
        logits = self.coarse_output(groups).permute(1, 0, 2)  # (T/k, B, C)
        # a label too long for T/k steps adds nothing (zero_infinity); the main head still learns it
        return ctc_loss(logits, targets, target_lengths, None if lengths is None else lengths // k)
