"""Where the course's data and runs live, and making them when missing.

Each notebook runs on its own on a fresh clone: it calls `ensure_dataset()` and, if it
needs a trained model, `ensure_trained()`, which load what an earlier notebook (or the
command line) made, or make it now.

`CAPTCHA_FAST=1` (set in CI) shrinks the generated data and the training budgets so the
whole course re-executes in minutes; every cell still runs. Budgets are optimiser steps,
never minutes, so a notebook shows the same on a fast or a slow CPU. It is read when `workspace()`
is called, not when this module is imported.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..data.generate import generate_dataset
from ..data.labels import list_images
from ..defaults import DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE
from ..errors import CaptchaError
from ..files import atomic_path

FAST_TRAIN_SIZE, FAST_VAL_SIZE = 3000, 300  # the test split is as large as val
SPLITS = ("train", "val", "test")
# The default CRNN trained by notebook 03's recipe (5,000 steps on `Dataset`), shipped so that
# notebooks 04-06 need no training on a fresh runtime. Remade by running notebook 03 and
# copying runs/course/crnn/model.pt here.
COURSE_CHECKPOINT = Path(__file__).resolve().parent.parent / "pretrained" / "course.pt"
STANDIN_ALPHABET = "2345678bcdefgmnpwxy"  # the 19 symbols of the widely used real CAPTCHA set


@dataclass(frozen=True)
class Workspace:
    fast: bool  # CAPTCHA_FAST: small data, short budgets
    root: Path  # the repository, relative: nothing printed in a notebook names a user's folders

    @property
    def small_data_dir(self) -> Path:
        """3,000 + 300 images: fast mode's set, and notebook 07's fixed set."""
        return self.root / "Dataset" / "fast"

    @property
    def data_dir(self) -> Path:
        return self.small_data_dir if self.fast else self.root / "Dataset"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs" / ("fast" if self.fast else "course")

    @property
    def train_steps(self) -> int:
        """Optimiser steps of the course's main training run (the default recipe's 5,000)."""
        return 600 if self.fast else 5000

    @property
    def fine_tune_steps(self) -> int:
        """Notebook 08: optimiser steps of each few-label run."""
        return 150 if self.fast else 200

    @property
    def few_shot_sizes(self) -> tuple[int, ...]:
        """Notebook 08: the numbers of labelled images its curve is drawn at."""
        return (25, 100) if self.fast else (25, 50, 100, 200)

    @property
    def plateau_steps(self) -> int:
        """Notebook 03: steps of each run in the plateau demonstration and the ablation."""
        return 150 if self.fast else 400

    @property
    def ablation_seeds(self) -> tuple[int, ...]:
        """Notebook 03: the seeds each variant of the ablation is trained with."""
        return (0,) if self.fast else (0, 1, 2)


def workspace() -> Workspace:
    """The course's folders and budgets, from CAPTCHA_FAST and the working folder now.

    Notebooks run in notebooks/, scripts and Colab cells in the repository root.
    """
    fast = os.environ.get("CAPTCHA_FAST", "") not in ("", "0")
    return Workspace(fast=fast, root=Path("..") if Path.cwd().name == "notebooks" else Path("."))


def ensure_dataset(data_dir: Path | None = None, seed: int = 0, small: bool | None = None,
                   splits: tuple[str, ...] = SPLITS) -> Path:
    """The default generated data set: train/ (learns), val/ (chooses the epoch a run keeps)
    and test/ (reported; notebook 05), small in fast mode or when asked. The `splits` asked
    for are rendered once, when missing; a notebook that only reads asks for ("val", "test").
    A split's images depend only on the seed, so a set rendered in parts equals one made whole."""
    ws = workspace()
    data_dir = Path(data_dir) if data_dir is not None else ws.data_dir
    small = ws.fast if small is None else small
    sizes = dict(zip(SPLITS, (FAST_TRAIN_SIZE, FAST_VAL_SIZE, FAST_VAL_SIZE) if small else
                     (DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE, DEFAULT_VAL_SIZE)))
    missing = {}
    for split in splits:
        try:
            list_images(data_dir / split)
        except CaptchaError:
            missing[split] = sizes[split]
    if missing:
        print(f"rendering {' + '.join(f'{n} {split}' for split, n in missing.items())} CAPTCHAs into {data_dir} "
              f"(once) ...")
        generate_dataset(data_dir, n_train=missing.get("train", 0), n_val=missing.get("val", 0),
                         n_test=missing.get("test", 0), seed=seed)
    return data_dir


def ensure_standin(style: str = "lines", seed: int = 1) -> Path:
    """A stand-in for the widely used real CAPTCHA set: 936 + 104 grayscale 200x50 images,
    5 characters from 19 symbols, a noise line through the text (style `lines` or `gray`)."""
    data_dir = workspace().root / "Dataset" / f"standin-{style}-{seed}"
    if not (data_dir / "val").is_dir():
        print(f"rendering the {style} stand-in into {data_dir} (once) ...")
        generate_dataset(data_dir, n_train=936, n_val=104, seed=seed, length=5, alphabet=STANDIN_ALPHABET,
                         style=style)
    return data_dir


def ensure_trained(model_name: str = "crnn", data_dir: Path | None = None, steps: int | None = None,
                   seed: int = 0) -> Path:
    """The checkpoint of `model_name` trained on the course data: notebook 03's run if there
    is one. Before that, the default model on the course data (default steps and seed) comes
    from the copy the package ships (`COURSE_CHECKPOINT`, made by notebook 03's recipe), so a
    later notebook opens in seconds on a fresh runtime; anything else is trained now."""
    from ..training.config import TrainConfig
    from ..training.run import train_run

    ws = workspace()
    run_dir = ws.runs_dir / model_name
    checkpoint = run_dir / "model.pt"
    if checkpoint.is_file():
        return checkpoint
    if model_name == "crnn" and data_dir is None and steps is None and seed == 0 and COURSE_CHECKPOINT.is_file():
        print(f"no model trained in {run_dir} yet: using the one the course ships (notebook 03 trains your own)")
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(checkpoint) as partial:  # an interrupted copy never leaves half a model.pt
            shutil.copyfile(COURSE_CHECKPOINT, partial)
        return checkpoint
    train_run(TrainConfig.recipe(model_name, data=str(data_dir or ensure_dataset()), out=str(run_dir),
                                 steps=steps or ws.train_steps, seed=seed))
    return checkpoint
