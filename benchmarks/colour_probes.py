"""The `colour` style from scratch: the default recipe with one change at a time.

    python -m captcha_lib generate --style colour --train 2000 --val 300 --seed 1 --out /tmp/colour
    python benchmarks/colour_probes.py --data /tmp/colour --seeds 0 --minutes 3
    python benchmarks/colour_probes.py --data /tmp/colour --seeds 0 --minutes 20 \
        --probes default augment-colour rows-max wider

Per run: the best and final validation sequence accuracy, the plateau (seconds until an
epoch reads one CAPTCHA whole) and training images per second. As in the other training
benchmarks, the cosine schedule spans the whole time budget (no step budget).
The network changes are CRNN subclasses made here, not options of the package: none of
them beat the default (docs/results.md, "What was tried on `colour`").
"""

from __future__ import annotations

import argparse
from pathlib import Path
from unittest import mock

import albumentations as A
import torch
import torch.nn as nn
import torch.nn.functional as F

from captcha_lib.data import datasets
from captcha_lib.model import build
from captcha_lib.model.crnn import CRNN
from captcha_lib.model.padding import mask_columns

from machine import describe  # benchmarks/machine.py
from real_data import _option  # OPTION=VALUE, as real_data.py takes it
from train_speed import run  # the same run as the other training benchmarks


def crnn_with(**defaults):
    """The CRNN with other constructor defaults (a checkpoint's config still wins)."""
    class Variant(CRNN):
        def __init__(self, num_characters, **config):
            super().__init__(num_characters, **{**defaults, **config})
    return Variant


class Standardised(CRNN):
    """Each image's channels shifted and scaled to mean 0, std 1 first: any background colour looks alike.
    (The statistics include a padded batch's padding, so an image reads a little differently there.)"""
    def conv_features(self, images, widths=None):
        return super().conv_features(F.instance_norm(images), widths)


class Deeper(CRNN):
    """Two more 3x3 conv blocks after the third: a column sees 54 pixels of height, not 22."""
    def __init__(self, num_characters, **config):
        super().__init__(num_characters, **config)
        c3 = self.channels[2]
        self.extra = nn.ModuleList(nn.Sequential(nn.Conv2d(c3, c3, 3, padding=1, bias=False), nn.BatchNorm2d(c3),
                                                 nn.ReLU(inplace=True)) for _ in range(2))

    def conv_features(self, images, widths=None):
        x = super().conv_features(images, widths)  # (B, c3, H/8, T)
        lengths = None if widths is None else torch.div(widths.to(x.device), self.stride, rounding_mode="floor")
        for block in self.extra:
            x = mask_columns(block(x), lengths)
        return x


class RowsMax(CRNN):
    """Each column's rows max-pooled: a glyph reads the same wherever it sits in height."""
    def __init__(self, num_characters, **config):
        super().__init__(num_characters, **config)
        self.projection = nn.Sequential(nn.Linear(self.channels[2], self.hidden_size), nn.ReLU(inplace=True),
                                        nn.Dropout(self.dropout))

    def conv_features(self, images, widths=None):
        return super().conv_features(images, widths).amax(dim=2, keepdim=True)  # (B, c3, 1, T)


TRAINING_AUGMENTATION = datasets.training_augmentation  # the package's, before a probe swaps it


def colour_augmentation(seed: int | None = 0) -> A.Compose:
    """The training augmentation, with colour channels shuffled and images inverted as well."""
    default = TRAINING_AUGMENTATION(seed)
    return A.Compose([A.ChannelShuffle(p=0.5), A.InvertImg(p=0.3), *default.transforms], seed=seed)


# name: (model class, training options, augmentation)
PROBES = {
    "default": (CRNN, {}, None),
    "wider": (crnn_with(channels=(32, 64, 128), hidden_size=128), {}, None),
    "deeper": (Deeper, {}, None),
    "standardised": (Standardised, {}, None),
    "rows-max": (RowsMax, {}, None),
    "batch-16": (CRNN, {"batch_size": 16}, None),
    "no-coarse-head": (CRNN, {"coarse_weight": 0.0}, None),
    "augment-colour": (CRNN, {}, colour_augmentation),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="DIR with train/ and val/")
    parser.add_argument("--minutes", type=float, default=3.0, help="wall-clock budget per run (default: 3)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--probes", nargs="+", default=list(PROBES), choices=list(PROBES))
    parser.add_argument("--set", nargs="+", default=[], metavar="OPTION=VALUE", help="other training options")
    args = parser.parse_args(argv)
    options = dict(map(_option, args.set))
    print(describe())
    print(f"{args.data}, {args.minutes:g} min a run, {options or 'the default recipe'}")
    print(f"{'probe':<16} {'seed':>4} {'best':>8} {'final':>8} {'plateau':>9} {'images/s':>9}")
    for name in args.probes:
        model_class, probe_options, augmentation = PROBES[name]
        with mock.patch.dict(build.MODELS, {"crnn": model_class}), \
                mock.patch.object(datasets, "training_augmentation", augmentation or TRAINING_AUGMENTATION):
            for seed in args.seeds:
                result = run(args.data, "crnn", seed, args.minutes, **{**options, **probe_options})
                plateau = f"{result['plateau']:.1f}s"
                print(f"{name:<16} {seed:>4} {result['best_accuracy']:>8.2%} "
                      f"{result['final_accuracy']:>8.2%} {plateau:>9} {result['images_per_second']:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
