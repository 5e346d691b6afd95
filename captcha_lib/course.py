"""What every notebook needs: where the data and runs live, and making them if missing.

Each notebook runs on its own on a fresh clone: it calls `ensure_dataset()` and, if it
needs a trained model, `ensure_trained()`, which load what an earlier notebook (or the
command line) made, or make it now.

`CAPTCHA_FAST=1` (set in CI) shrinks the generated data and the training budgets so the
whole course re-executes in minutes; every cell still runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from .data import list_images
from .errors import CaptchaError
from .generate import generate_dataset
from .defaults import DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE
from .recipes import train_run

FAST = os.environ.get("CAPTCHA_FAST", "") not in ("", "0")
# The repository: notebooks run in notebooks/, scripts and Colab cells in the repository root.
# Relative, so that nothing printed in a notebook names a user's folders.
ROOT = Path("..") if Path.cwd().name == "notebooks" else Path(".")
SMALL_DATA_DIR = ROOT / "Dataset" / "fast"  # 3,000 + 300 images: fast mode's set, and notebook 07's fixed set
DATA_DIR = SMALL_DATA_DIR if FAST else ROOT / "Dataset"
RUNS_DIR = ROOT / "runs" / ("fast" if FAST else "course")
FAST_TRAIN_SIZE, FAST_VAL_SIZE = 3000, 300
TRAIN_MINUTES = 1.5 if FAST else 5.0
PLATEAU_MINUTES = 0.75 if FAST else 1.5  # the reference-vs-default demonstration in notebook 03
STANDIN_ALPHABET = "2345678bcdefgmnpwxy"  # the 19 symbols of the widely used real CAPTCHA set


def ensure_dataset(data_dir: Path = DATA_DIR, seed: int = 0, small: bool = FAST) -> Path:
    """The default generated data set (small in fast mode, or when asked), rendered once."""
    try:
        list_images(data_dir / "train")
        list_images(data_dir / "val")
        return data_dir
    except CaptchaError:
        pass
    n_train, n_val = (FAST_TRAIN_SIZE, FAST_VAL_SIZE) if small else (DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE)
    print(f"rendering {n_train} + {n_val} CAPTCHAs into {data_dir} (once) ...")
    generate_dataset(data_dir, n_train=n_train, n_val=n_val, seed=seed)
    return data_dir


def ensure_standin(style: str = "lines", seed: int = 1) -> Path:
    """A stand-in for the widely used real CAPTCHA set: 936 + 104 grayscale 200x50 images,
    5 characters from 19 symbols, a noise line through the text (style `lines` or `gray`)."""
    data_dir = ROOT / "Dataset" / f"standin-{style}-{seed}"
    if not (data_dir / "val").is_dir():
        print(f"rendering the {style} stand-in into {data_dir} (once) ...")
        generate_dataset(data_dir, n_train=936, n_val=104, seed=seed, length=5, alphabet=STANDIN_ALPHABET,
                         style=style)
    return data_dir


def ensure_trained(model_name: str = "crnn", data_dir: Path | None = None, minutes: float = TRAIN_MINUTES,
                   seed: int = 0) -> Path:
    """The checkpoint of `model_name` trained on the course data, trained now if missing."""
    data_dir = data_dir or ensure_dataset()
    run_dir = RUNS_DIR / model_name
    checkpoint = run_dir / "model.pt"
    if not checkpoint.is_file():
        train_run(data_dir, run_dir, model_name=model_name, max_minutes=minutes, seed=seed)
    return checkpoint
