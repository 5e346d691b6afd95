"""The pretrained general reader: `python -m captcha_lib pretrain` reproduces it.

A CRNN trained on fresh `mix` CAPTCHAs (every style of the package, image by image: the
`captcha` package's warped glyphs, plain strike-through sets, per-character colours in 22
fonts, wide images; every digit and ASCII letter in both cases, 4-8 characters), rendered
on the fly so it never sees an image twice. Its best checkpoint ships with the package
(`captcha_lib/pretrained/general.pt`): `predict --pretrained` reads with it, and
`train --init pretrained` starts from it, so a few hundred labelled images of a new site
are enough (notebook 08).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..data.generate import generate_dataset
from ..errors import ConfigError
from .config import TrainConfig

PRETRAINED_PATH = Path(__file__).resolve().parent.parent / "pretrained" / "general.pt"

# The recipe of the shipped reader: the default CRNN's, on fresh mixed data. 15,000 steps
# of 32 images is 480,000 CAPTCHAs, none seen twice.
PRETRAIN_RECIPE = {"fresh_data": True, "style": "mix", "images_per_epoch": 10_000, "steps": 15_000, "workers": 1,
                   "seed": 0}
VAL_IMAGES = 500  # fresh mixed validation images, rendered once, with their own seed


# What the README states and a test checks: each style read from CHECK_IMAGES images
# rendered with CHECK_SEED (seeds no training or validation image used).
CHECK_IMAGES, CHECK_SEED = 200, "pretrained-check"


def style_accuracies(reader, images: int = CHECK_IMAGES) -> dict[str, tuple[float, float]]:
    """{style: (sequence accuracy as read, with the decoder limited to the style's alphabet)}
    on fresh images of each style in its own alphabet and lengths."""
    import random

    from ..data.generate import MIX_STYLES, random_labels, render, style_defaults
    from ..decoding.decoders import parse_decoder

    results = {}
    for style in MIX_STYLES:
        alphabet, length = style_defaults(style)
        labels = random_labels(images, random.Random(f"{CHECK_SEED}-{style}"), alphabet, length)
        pictures = [render(label, f"{CHECK_SEED}-{style}-{i}", style) for i, label in enumerate(labels)]
        as_read = reader.predict(pictures)
        limited = reader.decoder
        reader.decoder = reader.fit_decoder(parse_decoder("constrained:8", alphabet=alphabet))
        constrained = reader.predict(pictures)
        reader.decoder = limited
        results[style] = (sum(a == b for a, b in zip(as_read, labels)) / images,
                          sum(a == b for a, b in zip(constrained, labels)) / images)
    return results


def pretrained_path() -> Path:
    """The shipped reader's file, or a CheckpointError saying how to make it."""
    from ..errors import CheckpointError

    if not PRETRAINED_PATH.is_file():
        raise CheckpointError(f"this install has no pretrained reader ({PRETRAINED_PATH}); make it with "
                              f"`python -m captcha_lib pretrain --ship`")
    return PRETRAINED_PATH


def pretrain(out: str | Path = "runs/pretrained", ship: bool = False, log=print, **overrides) -> Path:
    """Train the general reader into `out` (model.pt, history.json, val/); return model.pt.

    `ship` copies the result over the package's `pretrained/general.pt`. `overrides` change
    the recipe, e.g. `steps=200` for a quick look."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"run folder {out} is a file; give a folder for the pretrained reader's run")
    config = TrainConfig.recipe("crnn", **{**PRETRAIN_RECIPE, **overrides, "data": str(out / "val-data"),
                                           "out": str(out)})
    if not (out / "val-data" / "val").is_dir():
        generate_dataset(out / "val-data", 0, VAL_IMAGES, seed=config.seed + 1000, style="mix")
    from .run import train_run  # torch loads here, not for `--help`

    train_run(config, log=log)
    model_path = out / "model.pt"
    from ..deploy.reader import Reader

    for style, (as_read, limited) in style_accuracies(Reader.from_checkpoint(model_path)).items():
        log(f"{style:8} {as_read:7.1%} as read, {limited:7.1%} with its alphabet ({CHECK_IMAGES} fresh images)")
    if ship:
        PRETRAINED_PATH.parent.mkdir(exist_ok=True)
        shutil.copyfile(model_path, PRETRAINED_PATH)
        log(f"shipped {model_path} as {PRETRAINED_PATH} ({PRETRAINED_PATH.stat().st_size / 1e6:.2f} MB)")
    return model_path
