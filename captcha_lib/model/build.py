"""Models by name, and what the rest of the package asks of any model.

Both models map images (B, 3, H, W) to CTC logits (T, B, num_characters + 1):
* `CRNN` (crnn.py), the default;
* `ReferenceModel` (reference.py), the original notebook's network, the baseline.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..defaults import DEFAULT_MODEL  # noqa: F401 - re-exported: the model a run uses unless told
from ..errors import ConfigError
from .crnn import CRNN
from .reference import ReferenceModel


MODELS = {CRNN.name: CRNN, ReferenceModel.name: ReferenceModel}  # in the order of defaults.MODEL_NAMES


def build_model(name: str, num_characters: int, **config) -> nn.Module:
    """A model by its name in MODELS; `config` as stored in a checkpoint."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
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


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" picks cuda, then mps, then cpu. An unknown or absent device is a ConfigError."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but this machine has no CUDA GPU; use cpu or auto")
    if resolved.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {device!r} asked for, but MPS is not available here; use cpu or auto")
    return resolved
