"""Real CAPTCHAs: the default recipe against the reference on a labelled folder, several
seeds, the same wall-clock budget, and a zero-training baseline read of the same images.

    python benchmarks/real_data.py --data ../shared/data/captcha-v2 --seeds 0 1 2 3 4
    python benchmarks/real_data.py --data ../shared/data/captcha-v2 --minutes 1 --models crnn
    python benchmarks/real_data.py --data DIR --ddddocr-python /tmp/ddddocr-venv/bin/python

Per run: the time to 90%, 95% and 99% validation sequence accuracy, the best and the final
accuracy, the plateau (seconds until an epoch reads at least one CAPTCHA whole, and its
share of the budget) and training images per second. Per model: medians and the worst
seed. Then the default against the reference, and ddddocr, the ready-made solver with no
training: it is read from another Python (`--ddddocr-python`, a venv where `pip install
ddddocr` was run), since it is a comparison, not a dependency. Its labels are compared as
read and case-insensitively.

The real set (1,040 images, 936 train / 104 val) is the public "CAPTCHA version 2" set:
Kaggle `fournierp/captcha-version-2-images`.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
import sys
from pathlib import Path

from captcha_lib import RECIPES, TrainConfig, label_from_path, list_images, parse_image_size

from machine import describe  # benchmarks/machine.py
from train_speed import fmt_time, median_time, print_ratios, run  # the same run as the training-speed benchmark

THRESHOLDS = (0.90, 0.95, 0.99)

DDDDOCR_SCRIPT = """
import sys
import ddddocr
ocr = ddddocr.DdddOcr(show_ad=False)
for path in sys.argv[1:]:
    with open(path, "rb") as image:
        print(ocr.classification(image.read()))
"""


def ddddocr_reads(python: str, paths: list[Path]) -> list[str] | None:
    result = subprocess.run([python, "-c", DDDDOCR_SCRIPT, *map(str, paths)], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"ddddocr could not run with {python}: {result.stderr.strip().splitlines()[-1:]}")
        return None
    return result.stdout.split("\n")[:len(paths)]


def _option(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value  # a bare word: a string such as augment=auto


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="DIR with train/ and val/ (or a flat folder)")
    parser.add_argument("--minutes", type=float, default=2.0, help="wall-clock budget per run (default: 2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", default=["reference", "crnn"], choices=sorted(RECIPES))
    parser.add_argument("--image-size", default=None, metavar="HxMAX_W",
                        help="the default model's input (default: the recipe's, 40x512); the reference "
                             "reads 40-pixel-high images")
    parser.add_argument("--set", nargs="+", default=[], metavar="OPTION=VALUE",
                        help="other training options of the default model, for ablations: --set augment=False "
                             "warmup_steps=100 (TrainConfig's fields; values are Python literals)")
    parser.add_argument("--ddddocr-python", help="a Python with ddddocr installed, for the zero-training baseline")
    args = parser.parse_args(argv)
    image_size = parse_image_size(args.image_size) if args.image_size else None
    options = dict(_option(text) for text in args.set)
    TrainConfig.recipe("crnn", **options)  # an unknown option or a bad value fails now, not after the first run
    print(f"data {args.data} | budget {args.minutes} min per run | seeds {args.seeds} | {describe()}"
          + (f" | crnn options {options}" if options else ""))

    if args.ddddocr_python:
        val_dir = args.data / "val" if (args.data / "val").is_dir() else args.data
        paths = list_images(val_dir)
        reads = ddddocr_reads(args.ddddocr_python, paths)
        if reads is not None:
            truths = [label_from_path(p) for p in paths]
            exact = sum(r == t for r, t in zip(reads, truths)) / len(paths)
            folded = sum(r.lower() == t.lower() for r, t in zip(reads, truths)) / len(paths)
            print(f"ddddocr, no training, on {len(paths)} images of {val_dir}: {exact:.2%} as read, "
                  f"{folded:.2%} ignoring case")

    print(f"{'model':10} {'seed':>4} " + " ".join(f"{f'to {t:.0%}':>12}" for t in THRESHOLDS)
          + f" {'best':>7} {'final':>7} {'plateau':>14} {'img/s':>7} input/stride/coarse")
    results: dict[str, list[dict]] = {m: [] for m in args.models}
    budget = args.minutes * 60
    for seed in args.seeds:
        for model_name in args.models:
            r = run(args.data, model_name, seed, args.minutes, None if model_name == "reference" else image_size,
                    **({} if model_name == "reference" else options))
            results[model_name].append(r)
            print(f"{model_name:10} {seed:4d} " + " ".join(f"{fmt_time(r['reached'][t]):>12}" for t in THRESHOLDS)
                  + f" {r['best_accuracy']:7.2%} {r['final_accuracy']:7.2%} {r['plateau']:6.1f}s ({r['plateau'] / budget:4.0%})"
                  f" {r['images_per_second']:7.1f} {'x'.join(map(str, r['image_size']))}/{r['time_stride']}"
                  f"{f'/k{k}' if (k := r['coarse_factor']) else ''}", flush=True)

    print("\nmedian (worst seed) over seeds")
    summary = {}
    for model_name, runs in results.items():
        best = [r["best_accuracy"] for r in runs]
        plateaus = [r["plateau"] for r in runs]
        summary[model_name] = {"reached": {t: median_time(runs, t) for t in THRESHOLDS},
                               "best": statistics.median(best), "ips": statistics.median(r["images_per_second"] for r in runs)}
        print(f"{model_name:10} {'':4} " + " ".join(f"{fmt_time(summary[model_name]['reached'][t]):>12}" for t in THRESHOLDS)
              + f" best {statistics.median(best):.2%} ({min(best):.2%})"
              f" | final {statistics.median(r['final_accuracy'] for r in runs):.2%}"
              f" | plateau {statistics.median(plateaus):.1f}s ({max(plateaus):.1f}s, {max(plateaus) / budget:.0%} of the budget)"
              f" | {summary[model_name]['ips']:.1f} images/s")
    if {"reference", "crnn"} <= set(summary):
        print_ratios(summary["reference"], summary["crnn"], THRESHOLDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
