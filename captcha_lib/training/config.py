"""Every training option, defined once: its name, default, type and help.

`TrainConfig` is what `train_run`, the `Trainer`, the command line (`train --help` is
built from these fields), the notebooks and the benchmarks all use. Its defaults are the
default model's recipe; `TrainConfig.recipe(name, **overrides)` starts from another
model's. An unknown option or an invalid value is a ConfigError, raised when the object
is made, before any image is read.

    config = TrainConfig.recipe("crnn", data="Dataset", out="runs/default", max_minutes=2)
    trainer = train_run(config)
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields

from ..data.generate import check_alphabet, check_style, style_defaults
from ..data.images import parse_image_size
from ..data.vocab import parse_length
from ..defaults import DEFAULT_MODEL, IMAGE_SIZE, IMAGES_PER_EPOCH, MODEL_NAMES, STYLES
from ..errors import ConfigError


def option(default, help: str, group: str = "training", choices=None, metavar: str | None = None):
    """A config field with its command-line help (the CLI turns each field into `--name`)."""
    return field(default=default, metadata={"help": help, "group": group, "choices": choices, "metavar": metavar})


@dataclass
class TrainConfig:
    # ---- data
    data: str | None = option(None, "DIR with train/ and val/, or one flat folder of images", "data", metavar="DIR")
    out: str | None = option(None, "RUN_DIR to write model.pt and history.json in", "data", metavar="RUN_DIR")
    overwrite: bool = option(False, "replace the model and history in a RUN_DIR that already holds model.pt "
                                    "(without it such a folder is refused: --resume continues it)", "data")
    val_fraction: float = option(0.1, "for a flat folder: the share of labels held out for validation", "data")
    labels: str | None = option(None, "a labels file instead of file names: CSV file,text or path<TAB>text lines, "
                                      "paths relative to the file", "data", metavar="FILE")
    label_pattern: str | None = option(None, "a regular expression on the file name whose group is the text, "
                                             "like (.+)-\\d+ for TEXT-3.png", "data", metavar="REGEX")
    extra_labels: str | None = option(None, "more training images: a labels file such as the label command's "
                                            "labels.tsv, added to the training images", "data", metavar="FILE")
    unlabelled: str | None = option(None, "a folder of unlabelled images: after training, the model's confident "
                                          "reads of them join the training images, and it trains again "
                                          "(pseudo-labels)", "data", metavar="DIR")
    pseudo_rounds: int = option(2, "with --unlabelled: rounds of reading the unlabelled images and training "
                                   "again", "data")
    ignore_case: bool = option(False, "lower-case every label, for sets whose case means nothing", "data")
    image_size: tuple[int, int] = option(
        IMAGE_SIZE, "every image is resized to HEIGHT pixels, keeping its aspect ratio, and squeezed to at most "
                    "MAX_WIDTH", "data", metavar="HEIGHTxMAX_WIDTH")
    augment: bool | str = option("auto", "training augmentation: on, off, or auto (only for fewer than "
                                         "5,000 training images)", "data")
    fresh_data: bool = option(False, "train on CAPTCHAs rendered on the fly, new ones every epoch; --data then "
                                     "gives only the validation images", "fresh data")
    images_per_epoch: int = option(IMAGES_PER_EPOCH, "fresh images rendered per epoch", "fresh data")
    alphabet: str | None = option(None, "characters of the fresh images' labels (default: the style's)", "fresh data")
    length: str | None = option(None, "label length of the fresh images, or a range like 4-7 (default: the style's)",
                                "fresh data")
    style: str = option("default", "style of the fresh images", "fresh data", choices=STYLES)
    # ---- model
    model: str = option(DEFAULT_MODEL, "which network (its recipe gives the defaults below)", "model",
                        choices=MODEL_NAMES)
    init: str | None = option(None, "start from these weights: pretrained (the reader the package ships) or a "
                                    "model.pt; the characters both alphabets share keep their rows, and the "
                                    "model, image height and stride follow the checkpoint", "model",
                              metavar="CHECKPOINT")
    time_stride: int = option(8, "CRNN: input pixels per CTC timestep (its last pooling is 2x2, 2x1 or 2x4)", "model",
                              choices=("4", "8", "16"))
    coarse_weight: float = option(1.0, "CRNN: weight of the coarse CTC head's loss, which ends the all-blank "
                                       "plateau sooner (0: no coarse head)", "model")
    coarse_factor: int | str = option("auto", "CRNN: timesteps the coarse head reads as one, 2-8; auto: so that a "
                                              "training character spans about 2 of its steps", "model")
    # ---- optimisation
    epochs: int = option(1000, "at most this many passes over the training data")
    steps: int | None = option(5000, "total optimiser steps: training ends there (0: no step budget, train "
                                     "all epochs)")
    batch_size: int = option(32, "images per optimiser step")
    lr: float = option(4e-3, "peak learning rate (Adam, or AdamW with weight decay)")
    weight_decay: float = option(0.0, "decoupled weight decay; above 0 switches Adam to AdamW")
    # 100: with the coarse CTC head, on the real captcha-v2 set every seed leaves the all-blank
    # plateau within 11 s of a 2-minute run (300 steps: 12-15 s); without that head 300 was
    # better (docs/results.md)
    warmup_steps: int = option(100, "linear warm-up of the learning rate, in steps (cosine schedule)")
    grad_clip: float | None = option(5.0, "largest gradient norm (0: no clipping)")
    schedule: str = option("cosine", "cosine: decay to 2%% of lr over the budget (steps or --max-minutes); "
                                     "plateau: halve on a validation-loss plateau, as the reference",
                           choices=("cosine", "plateau"))
    plateau_factor: float = option(0.5, "plateau schedule: multiply the learning rate by this")
    plateau_patience: int = option(5, "plateau schedule: epochs without a lower validation loss before it acts")
    early_stopping_patience: int | None = option(None, "stop after this many epochs without a better model "
                                                       "(0: never)")
    max_minutes: float | None = option(None, "stop training after this wall-clock time (0: no limit)")
    seed: int = option(0, "same seed, same split, augmentation and weights")
    target_accuracy: float = option(0.99, "after training, the confidence threshold is set on the val images so "
                                          "that the reads it accepts are this accurate (stored in model.pt)")
    # ---- machine
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps", "machine")
    workers: int | None = option(None, "DataLoader worker processes (default: 0 for cached images, up to 4 "
                                       "when decoding or rendering)", "machine")
    amp: bool | None = option(None, "mixed precision, bf16 or fp16 (default: on with CUDA, off on CPU)", "machine")
    compile: bool = option(False, "torch.compile the model for training", "machine")
    progress: bool = option(True, "progress bars", "machine")

    def __post_init__(self):
        self.image_size = parse_image_size(self.image_size)
        for name in ("time_stride", "coarse_factor"):
            if isinstance(getattr(self, name), str) and getattr(self, name).isdigit():
                setattr(self, name, int(getattr(self, name)))  # from the command line
        check_style(self.style)
        self.alphabet = self.alphabet or style_defaults(self.style)[0]
        self.length = str(self.length or style_defaults(self.style)[1])
        # 0 means "none" for the optional limits, as on the command line
        for name in ("steps", "grad_clip", "early_stopping_patience", "max_minutes"):
            if getattr(self, name) == 0 and not isinstance(getattr(self, name), bool):
                setattr(self, name, None)
        self.validate()

    def validate(self) -> None:
        """A ConfigError naming the first invalid option."""
        _one_of("model", self.model, MODEL_NAMES)
        _one_of("schedule", self.schedule, ("cosine", "plateau"))
        _one_of("augment", self.augment, (True, False, "auto"))
        _one_of("time_stride", self.time_stride, (4, 8, 16))
        _number("coarse_weight", self.coarse_weight, low=0.0)
        if self.coarse_factor != "auto":
            _integer("coarse_factor", self.coarse_factor, low=2)
        if self.model == "reference" and (self.time_stride != 4 or self.coarse_weight):
            raise ConfigError("time_stride and coarse_weight are the CRNN's; the reference model pools to 4 pixels "
                              "a timestep and has one head")
        for name in ("epochs", "batch_size", "images_per_epoch"):
            _integer(name, getattr(self, name), low=1)
        if self.unlabelled is not None:
            _integer("pseudo_rounds", self.pseudo_rounds, low=1)
            if self.fresh_data:
                raise ConfigError("--unlabelled adds reads of real images to the training images; fresh data has "
                                  "no fixed training images to add them to")
        for name in ("warmup_steps", "plateau_patience", "seed"):
            _integer(name, getattr(self, name), low=0)
        for name in ("steps", "early_stopping_patience"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), low=1)
        if self.workers is not None:
            _integer("workers", self.workers, low=0)
        _number("lr", self.lr, low=0.0)  # 0 freezes the weights
        _number("weight_decay", self.weight_decay, low=0.0)
        for name in ("grad_clip", "max_minutes"):
            if getattr(self, name) is not None:
                _number(name, getattr(self, name), low=0.0, strict=True)
        _number("plateau_factor", self.plateau_factor, low=0.0, strict=True)
        _number("target_accuracy", self.target_accuracy, low=0.0, strict=True)
        if self.target_accuracy > 1:
            raise ConfigError(f"target_accuracy is a fraction of reads, at most 1, got {self.target_accuracy}")
        if self.plateau_factor >= 1:
            raise ConfigError(f"plateau_factor must be below 1 (it lowers the rate), got {self.plateau_factor}")
        _number("val_fraction", self.val_fraction, low=0.0, strict=True)
        if self.val_fraction >= 1:
            raise ConfigError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if self.schedule == "plateau" and self.warmup_steps:
            raise ConfigError("warmup_steps is for the cosine schedule; the plateau schedule starts at lr")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", str(self.device)):
            raise ConfigError(f"unknown device {self.device!r}; use auto, cpu, cuda, cuda:N or mps")
        check_style(self.style)
        check_alphabet(self.alphabet)
        parse_length(self.length)

    def labeller(self):
        """How this run reads its labels (file names unless a labels file or pattern is given)."""
        from ..data.labels import Labeller

        return Labeller(self.labels, self.label_pattern, self.ignore_case)

    @classmethod
    def recipe(cls, model: str = DEFAULT_MODEL, **overrides) -> TrainConfig:
        """`model`'s recipe with `overrides` applied. Asking for `epochs` alone trains them all (no step budget)."""
        _one_of("model", model, MODEL_NAMES)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown training option{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                              f"the options are {', '.join(sorted(known))}")
        settings = {**RECIPES[model], **(FINE_TUNE if overrides.get("init") else {}), **overrides, "model": model}
        if "epochs" in overrides and "steps" not in overrides:
            settings["steps"] = None
        return cls(**settings)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def defaults(cls) -> dict:
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


# Each model's recipe: the settings where it differs from TrainConfig's defaults (the
# default model's recipe: a fixed budget of optimiser steps whatever the data set's size,
# a short warm-up, then a cosine decay that ends with the budget or with --max-minutes).
RECIPES = {
    "crnn": {},
    # The reference notebook, as written: Adam 1e-3, batch 32, plateau halving, early stop at 10.
    "reference": {"time_stride": 4, "coarse_weight": 0.0, "epochs": 50, "steps": None, "lr": 1e-3, "augment": False, "schedule": "plateau",
                  "warmup_steps": 0, "grad_clip": None, "early_stopping_patience": 10},
}


# Starting from trained weights (--init): FINE_TUNE_NOTE
FINE_TUNE = {"lr": 1e-3, "warmup_steps": 50, "steps": 1500}


def _one_of(name: str, value, allowed) -> None:
    if isinstance(value, bool) and not any(isinstance(a, bool) for a in allowed) or value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _integer(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be a whole number of at least {low}, got {value!r}")


def _number(name: str, value, low: float, strict: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        raise ConfigError(f"{name} must be a number {'above' if strict else 'of at least'} {low}, got {value!r}")
