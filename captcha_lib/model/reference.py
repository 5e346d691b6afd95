"""The reference notebook's network, layer for layer: the baseline the course starts from.

The original notebook called it `CaptchaModel`. 228,005 parameters for 36 characters.
It maps images (B, 3, 40, W) to CTC logits (T, B, num_characters + 1), T = W / 4, and
returns `(logits, loss)` like the reference: `loss` is None without targets. `widths`
masks a padded batch as the CRNN does (padding.py).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from .ctc import ctc_loss
from .padding import blank_padding, mask_columns, padded_lengths, run_rnn


class ReferenceModel(nn.Module):
    """The reference: two conv blocks, a 2-layer BiGRU, a linear classifier.

    Nothing normalises its activations, and the GRU reads 640 raw features per step;
    on small sets it tends to predict only blanks for many epochs.
    """

    name = "reference"
    stride = 4  # input pixels per timestep: two 2x2 poolings

    def __init__(self, num_characters: int, image_height: int = 40):
        super().__init__()
        if image_height != 40:
            raise ConfigError(f"the reference model reads 40-pixel-high images (its GRU takes 64 channels x "
                             f"10 rows), not {image_height}; any width works")
        self.num_characters = num_characters
        self.conv1 = nn.Conv2d(3, 128, kernel_size=(3, 3), padding=(1, 1))
        self.pool1 = nn.MaxPool2d(kernel_size=(2, 2))
        self.conv2 = nn.Conv2d(128, 64, kernel_size=(3, 3), padding=(1, 1))
        self.pool2 = nn.MaxPool2d(kernel_size=(2, 2))
        # 640 = 64 channels x 10 rows: the GRU reads the raw conv column, no projection
        self.gru = nn.GRU(640, 32, num_layers=2, bidirectional=True, dropout=0.25, batch_first=True)
        self.output = nn.Linear(64, num_characters + 1)  # +1: the CTC blank

    def config(self) -> dict:
        return {"num_characters": self.num_characters}

    def forward(self, images, targets=None, target_lengths=None, widths=None):
        lengths = padded_lengths(widths, images.shape[-1], self.stride)  # None unless the batch is padded
        x = self.pool1(F.relu(self.conv1(images)))  # (B, 128, 20, 80) for 160-pixel-wide images
        x = mask_columns(x, None if lengths is None else torch.div(widths.to(x.device), 2, rounding_mode="floor"))
        x = self.pool2(F.relu(self.conv2(x)))  # (B, 64, 10, 40)
        x = mask_columns(x, lengths)
        x = x.permute(0, 3, 1, 2)  # (B, 40, 64, 10): width becomes time
        x = x.flatten(2)  # (B, 40, 640)
        x = run_rnn(self.gru, x, lengths)  # (B, 40, 64): 32 forward + 32 backward
        x = self.output(x)  # (B, 40, num_characters + 1)
        logits = blank_padding(x.permute(1, 0, 2), lengths)  # (T=40, B, C) as CTCLoss wants
        loss = ctc_loss(logits, targets, target_lengths, lengths) if targets is not None else None
        return logits, loss
