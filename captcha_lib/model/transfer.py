"""Start a model from another one's weights: fine-tuning, `train --init`.

The two models share an architecture; their alphabets may differ. Every tensor of the
same name and shape is copied. The classifiers (`output`, and the CRNN's `coarse_output`)
have one row per class: the blank's row and the rows of the characters both alphabets
share are copied one by one, and a character the source never saw keeps its fresh
random row. A pretrained reader that knows `0-9a-zA-Z` thus starts a model for
`2345678bcdefgmnpwxy` with every row it needs.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ..data.vocab import BLANK_INDEX, Vocabulary
from ..errors import CheckpointError
from .checkpoint import read_checkpoint

CLASS_LAYERS = ("output", "coarse_output")  # modules whose rows are classes (blank first)
# what must agree for the weights to mean the same thing (the rest, e.g. dropout, may differ)
ARCHITECTURE = ("channels", "hidden_size", "image_height", "residual", "time_stride", "batch_norm", "projection")


def architecture_of(checkpoint: dict) -> dict:
    """The options a model must be built with to take `checkpoint`'s weights."""
    config = checkpoint["model_config"]
    return {name: config[name] for name in ARCHITECTURE if name in config}


def initialise_from(model: nn.Module, vocabulary: Vocabulary, checkpoint: dict, source: str | Path = "") -> dict:
    """Copy `checkpoint`'s weights into `model` (whose characters are `vocabulary`'s).

    Returns counts: {"copied": tensors copied whole, "rows": characters carried over,
    "new_characters": those starting fresh, "fresh": tensors left as initialised}."""
    if checkpoint["model_name"] != getattr(model, "name", None):
        raise CheckpointError(f"{source} holds a {checkpoint['model_name']!r} model; this run builds "
                              f"{getattr(model, 'name', type(model).__name__)!r}")
    old_vocabulary = Vocabulary.from_dict(checkpoint["vocabulary"])
    shared = [c for c in vocabulary.characters if c in old_vocabulary.characters]
    # (new class, old class) for the blank and every shared character
    rows = [(BLANK_INDEX, BLANK_INDEX)] + [(vocabulary.encode(c)[0], old_vocabulary.encode(c)[0]) for c in shared]
    new_index, old_index = torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows])
    source_state = checkpoint["state_dict"]
    state = model.state_dict()
    copied, fresh = 0, []
    for name, tensor in state.items():
        old = source_state.get(name)
        if old is None:
            fresh.append(name)
        elif name.split(".")[0] in CLASS_LAYERS:
            if old.shape[1:] != tensor.shape[1:]:  # e.g. a coarse head over another number of steps
                fresh.append(name)
                continue
            tensor[new_index] = old[old_index].to(tensor.dtype)
        elif old.shape == tensor.shape:
            tensor.copy_(old)
            copied += 1
        else:
            raise CheckpointError(f"{source}: {name} has shape {tuple(old.shape)}, this model's "
                                  f"{tuple(tensor.shape)}: not the same architecture")
    model.load_state_dict(state)
    return {"copied": copied, "rows": len(shared), "new_characters": len(vocabulary.characters) - len(shared),
            "fresh": fresh}


def read_init(init: str | Path) -> tuple[dict, Path]:
    """(checkpoint dict, its path) for `train --init`: "pretrained" is the shipped reader."""
    if str(init) == "pretrained":
        from ..training.pretrain import pretrained_path

        init = pretrained_path()
    return read_checkpoint(init), Path(init)
