"""One file holds a trained reader: weights, vocabulary, model name and config, image size.

Everything in it is a tensor or plain data (str, int, float, list, dict), so it loads
with `torch.load(..., weights_only=True)`, which refuses to run code. The reference
pickled a LabelEncoder next to the weights instead; unpickling runs arbitrary code.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from ..data.vocab import Vocabulary
from ..errors import CaptchaError, CheckpointError
from ..files import atomic_path
from .build import MODELS, build_model

FORMAT = "captcha_lib.checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, model: nn.Module, vocabulary: Vocabulary,
                    image_size: tuple[int, int], metadata: dict | None = None) -> Path:
    """Write the checkpoint atomically (a crash mid-save never leaves half a file)."""
    path = Path(path)
    checkpoint = {
        "format": FORMAT,
        "version": VERSION,
        "model_name": model.name,
        "model_config": _plain(model.config()),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "vocabulary": vocabulary.to_dict(),
        "image_size": list(image_size),
        "metadata": _plain(metadata or {}),
    }
    with atomic_path(path) as partial:
        torch.save(checkpoint, partial)
    return path


def _plain(data: dict) -> dict:
    """Only what JSON can hold (str subclasses like torch's version become str), so
    `weights_only=True` loading never meets an object it refuses."""
    return json.loads(json.dumps(data))


def safe_load(path: Path, what: str = "checkpoint"):
    """torch.load with weights_only=True (no code runs), quietly; a CheckpointError naming the file."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on foreign bytes (even KeyError)
        text = str(exc).strip()
        reason = ("it holds objects other than tensors and plain data, which weights_only=True refuses to run"
                  if "Weights only load failed" in text else text.splitlines()[0] if text else type(exc).__name__)
        raise CheckpointError(f"{path} is not a captcha_lib {what} ({reason})") from None


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's dict, checked, or a CheckpointError that names the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    checkpoint = safe_load(path, "checkpoint")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a captcha_lib checkpoint (a bare state_dict or another "
                              f"program's file); train one with `python -m captcha_lib train`")
    version, size = checkpoint.get("version", 0), checkpoint.get("image_size")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path} has version {version!r}; a captcha_lib checkpoint's version is a whole number")
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(type(v) is int for v in size)
            and 8 <= size[0] <= 512 and 16 <= size[1] <= 8192):
        raise CheckpointError(f"{path} has image_size {size!r}; expected [height 8-512, largest width 16-8192]")
    if not isinstance(checkpoint.get("model_config"), dict) or not isinstance(checkpoint.get("metadata", {}), dict):
        raise CheckpointError(f"{path} is not a complete captcha_lib checkpoint (model_config or metadata missing)")
    if checkpoint.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} is checkpoint version {checkpoint['version']}; this captcha_lib "
                              f"reads up to {VERSION}: upgrade captcha_lib")
    if checkpoint.get("model_name") not in MODELS:
        raise CheckpointError(f"{path} holds an unknown model {checkpoint.get('model_name')!r}")
    return checkpoint


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu"
                    ) -> tuple[nn.Module, Vocabulary, dict]:
    """(model in eval mode on `device`, vocabulary, the whole checkpoint dict)."""
    checkpoint = read_checkpoint(path)
    try:
        vocabulary = Vocabulary.from_dict(checkpoint["vocabulary"])
        config = {**checkpoint["model_config"], "num_characters": vocabulary.num_characters}
        if checkpoint["model_name"] == "crnn":
            config.setdefault("coarse_weight", 0.0)  # a checkpoint from before the coarse head has none
        model = build_model(checkpoint["model_name"], **config)
        model.load_state_dict(checkpoint["state_dict"])
    except CaptchaError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a complete captcha_lib checkpoint ({type(exc).__name__}: {exc})") from None
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: the weights do not fit model {checkpoint['model_name']!r} "
                              f"({str(exc).splitlines()[0]})") from None
    return model.to(device).eval(), vocabulary, checkpoint
