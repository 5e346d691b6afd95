"""The models. Both map images (B, 3, H, W) to CTC logits (T, B, num_characters + 1).

* `CaptchaModel` is the reference notebook's network, layer for layer (228,005
  parameters for 36 characters). It is kept as the baseline the course starts from.
* `CRNN` is the default. It adds what lets a small CAPTCHA set train in minutes on a
  CPU instead of sitting on the all-blank plateau (see notebook 03).

Both return `(logits, loss)` like the reference: `loss` is None without targets.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ctc import ctc_loss


class CaptchaModel(nn.Module):
    """The reference: two conv blocks, a 2-layer BiGRU, a linear classifier.

    Nothing normalises its activations, and the GRU reads 640 raw features per step;
    on small sets it tends to predict only blanks for many epochs.
    """

    name = "reference"

    def __init__(self, num_characters: int, image_height: int = 40):
        super().__init__()
        if image_height != 40:
            raise ValueError(f"the reference model reads 40-pixel-high images (its GRU takes 64 channels x "
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

    def forward(self, images, targets=None, target_lengths=None):
        x = self.pool1(F.relu(self.conv1(images)))  # (B, 128, 20, 75)
        x = self.pool2(F.relu(self.conv2(x)))  # (B, 64, 10, 37)
        x = x.permute(0, 3, 1, 2)  # (B, 37, 64, 10): width becomes time
        x = x.flatten(2)  # (B, 37, 640)
        x, _ = self.gru(x)  # (B, 37, 64): 32 forward + 32 backward
        x = self.output(x)  # (B, 37, num_characters + 1)
        logits = x.permute(1, 0, 2)  # (T=37, B, C) as CTCLoss wants
        loss = ctc_loss(logits, targets, target_lengths) if targets is not None else None
        return logits, loss


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    # BatchNorm keeps activations at a sane scale from the first step, so the GRU gets
    # informative features early and the "predict only blanks" minimum is left quickly.
    # Pooling comes before BatchNorm and ReLU: they then touch a quarter of the values
    # (max-pooling commutes with ReLU), which is most of a CPU's time in this model.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class CRNN(nn.Module):
    """Conv blocks with batch norm -> projection -> 2-layer BiGRU with a skip -> classifier.

    Why each part:
    * three conv blocks with BatchNorm: stable, fast-learning features;
    * three 2x2 poolings: 150 pixels give T = 18 timesteps, room for 7-character labels
      with doubled letters (a blank must separate them), and half the sequential GRU
      steps of the reference's T = 37;
    * a Linear projection (channels x rows -> `hidden_size`) before the GRU: the GRU reads
      a compact feature instead of hundreds of raw values per step;
    * a skip connection around the GRU (`residual`): the classifier sees the conv features
      directly, so the CNN gets a strong gradient from the first steps and the model leaves
      the all-blank plateau quickly; the GRU adds left/right context on top;
    * channels-last memory layout: oneDNN's faster CPU kernels (about 1.2x here).
    """

    name = "crnn"

    def __init__(self, num_characters: int, channels: tuple[int, int, int] = (16, 32, 64),
                 hidden_size: int = 96, image_height: int = 40, dropout: float = 0.2, residual: bool = True):
        super().__init__()
        self.num_characters = num_characters
        self.channels = tuple(channels)
        self.hidden_size = hidden_size
        self.image_height = image_height
        self.dropout = dropout
        self.residual = residual
        c1, c2, c3 = self.channels
        self.features = nn.Sequential(
            _conv_block(3, c1),  # (B, c1, H/2, W/2)
            _conv_block(c1, c2),  # (B, c2, H/4, W/4)
            _conv_block(c2, c3),  # (B, c3, H/8, W/8)
        )
        self.projection = nn.Sequential(
            nn.Linear(c3 * (image_height // 8), hidden_size), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.gru = nn.GRU(hidden_size, hidden_size // 2, num_layers=2, bidirectional=True,
                          dropout=dropout, batch_first=True)
        self.output = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden_size, num_characters + 1))

    def config(self) -> dict:
        return {"num_characters": self.num_characters, "channels": list(self.channels),
                "hidden_size": self.hidden_size, "image_height": self.image_height, "dropout": self.dropout,
                "residual": self.residual}

    def forward(self, images, targets=None, target_lengths=None):
        images = images.contiguous(memory_format=torch.channels_last)
        x = self.features(images)  # (B, c3, 5, W/8) for 40-pixel-high images
        x = x.permute(0, 3, 1, 2).flatten(2)  # (B, T, c3 * 5): one column per timestep
        x = self.projection(x)  # (B, T, hidden)
        context, _ = self.gru(x)  # (B, T, hidden): both directions concatenated
        x = x + context if self.residual else context
        logits = self.output(x).permute(1, 0, 2)  # (T, B, num_characters + 1)
        loss = ctc_loss(logits, targets, target_lengths) if targets is not None else None
        return logits, loss


MODELS = {CRNN.name: CRNN, CaptchaModel.name: CaptchaModel}
DEFAULT_MODEL = CRNN.name


def build_model(name: str, num_characters: int, **config) -> nn.Module:
    """A model by its name in MODELS; `config` as stored in a checkpoint."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](num_characters, **config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def time_steps(model: nn.Module, image_size: tuple[int, int]) -> int:
    """T, the CTC columns `model` emits for images of `image_size` (height, width): a dry run."""
    was_training = model.training
    model.eval()  # BatchNorm in training mode refuses a batch of one
    with torch.no_grad():
        logits, _ = model(torch.zeros(1, 3, *image_size))  # (T, 1, C)
    model.train(was_training)
    return logits.shape[0]


def receptive_field(model: nn.Module) -> tuple[int, int]:
    """(height, width) in input pixels that one column of conv features sees, before the GRU.

    Walks the Conv2d and MaxPool2d layers in definition order: each adds (kernel - 1) * jump,
    and each stride multiplies the jump (the input distance between neighbouring outputs).
    """
    size, jump = [1, 1], [1, 1]
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            kernel = layer.kernel_size if isinstance(layer.kernel_size, tuple) else (layer.kernel_size,) * 2
            stride = layer.stride if isinstance(layer.stride, tuple) else (layer.stride,) * 2
            for axis in (0, 1):
                size[axis] += (kernel[axis] - 1) * jump[axis]
                jump[axis] *= stride[axis]
    return size[0], size[1]
