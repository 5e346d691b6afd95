"""Training speed: the reference recipe against the default, same data, same wall-clock budget.

For each model and seed it prints the time to 50/90/95/99% validation sequence accuracy,
the final and best accuracy, training images/s and whether the model ended on the
all-blank plateau; then the medians over seeds and the ratios default/reference.

    python benchmarks/train_speed.py                          # a generated real-world stand-in, 2 min
    python benchmarks/train_speed.py --data Dataset --minutes 0 --models crnn   # the default `train`
    python benchmarks/train_speed.py --data my_captchas --seeds 0 1 2
    python benchmarks/train_speed.py --style gray --models crnn --image-size 48x200   # the warped stand-in
    python benchmarks/train_speed.py --style gray --models crnn --heldout Dataset/heldout-gray/val

104 validation images make each one worth 0.96 points, and one seed moves 2-5 points from
run to run. `--heldout DIR` also reads a larger labelled folder with each run's best weights
(not used for choosing them), so that a 1-2 point difference between settings shows.

Without --data it renders (once) a stand-in for the widely used real CAPTCHA set:
936 train / 104 val grayscale 200x50 images, 5 characters from 19 symbols, a noise line
(`--style lines` or `gray`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path


from captcha_lib import (RECIPES, CaptchaDataset, TrainConfig, list_images, make_loader, parse_image_size,
                         train_run)
from captcha_lib.course import ensure_standin

from machine import describe  # benchmarks/machine.py

THRESHOLDS = (0.50, 0.90, 0.95, 0.97, 0.99)  # 97%: the default data set's target


def run(data: Path, model_name: str, seed: int, minutes: float, image_size: tuple[int, int] | str | None = None,
        batch_size: int | None = None, lr: float | None = None, heldout: Path | None = None, **options) -> dict:
    """One training run; `options`: any other TrainConfig fields (e.g. augment, warmup_steps)."""
    # A budget: train until it ends, whatever the recipe's epochs or steps. No budget: the
    # recipe as `python -m captcha_lib train` runs it.
    budget = {"max_minutes": minutes, "epochs": 10_000, "early_stopping_patience": None} if minutes else {}
    overrides = {name: value for name, value in (("batch_size", batch_size), ("lr", lr)) if value is not None}
    overrides.update(options)
    if image_size is not None:
        overrides["image_size"] = image_size  # else the recipe's
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig.recipe(model_name, data=str(data), out=out, seed=seed, progress=False, device="cpu",
                                    **budget, **overrides)
        trainer = train_run(config, log=lambda *args: None)
    history = trainer.history
    final = trainer.evaluate()  # the best weights, restored by fit
    doubled = [(p, t) for p, t in zip(final["predictions"], final["labels"]) if any(a == b for a, b in zip(t, t[1:]))]
    heldout_accuracy = None
    if heldout is not None:
        heldout_set = CaptchaDataset(list_images(heldout), trainer.vocabulary, trainer.image_size)
        heldout_accuracy = trainer.evaluate(make_loader(heldout_set, 256))["sequence_accuracy"]
    reached = {t: next((r["elapsed"] for r in history if r["val_sequence_accuracy"] >= t), None) for t in THRESHOLDS}
    # the plateau: until the first epoch that reads at least one CAPTCHA whole (the whole run if none does)
    plateau = next((r["elapsed"] for r in history if r["val_sequence_accuracy"] > 0), history[-1]["elapsed"])
    return {
        "model": model_name, "seed": seed, "epochs": len(history), "reached": reached,
        "final_accuracy": history[-1]["val_sequence_accuracy"], "best_accuracy": final["sequence_accuracy"],
        "images_per_second": sum(r["train_images"] for r in history) / sum(r["train_seconds"] for r in history),
        "all_blank": all(p == "" for p in final["predictions"]), "elapsed": history[-1]["elapsed"],
        "doubled": (sum(p == t for p, t in doubled), len(doubled)), "heldout": heldout_accuracy,
        "plateau": plateau, "image_size": trainer.image_size, "time_stride": trainer.config.time_stride,
        "coarse_factor": trainer.config.coarse_factor if model_name == "crnn" else None,
    }


def fmt_time(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds:6.1f}s"


def median_time(results: list[dict], threshold: float) -> float | None:
    """Median over seeds, counting a seed that never reached the threshold as infinitely slow."""
    times = sorted(r["reached"][threshold] if r["reached"][threshold] is not None else float("inf") for r in results)
    value = statistics.median(times)
    return None if value == float("inf") else value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="data folder (default: a generated stand-in)")
    parser.add_argument("--style", default="lines", choices=["lines", "gray"], help="stand-in style without --data")
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="wall-clock budget per run; 0: each recipe's own budget, as `train` runs it")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", default=["reference", "crnn"], choices=sorted(RECIPES))
    parser.add_argument("--image-size", default=None, metavar="HxMAX_W",
                        help="the default model's input (default: the recipe's, 40x512); the reference "
                             "reads 40-pixel-high images, as written")
    parser.add_argument("--batch-size", type=int, help="overrides every recipe's batch size")
    parser.add_argument("--lr", type=float, help="overrides every recipe's learning rate")
    parser.add_argument("--heldout", type=Path, help="a labelled folder each run's best weights also read")
    args = parser.parse_args(argv)
    data = args.data or ensure_standin(args.style)
    image_size = parse_image_size(args.image_size) if args.image_size else None
    print(f"data {data} | budget {args.minutes} min per run | seeds {args.seeds} | crnn input "
          f"{'x'.join(map(str, image_size)) if image_size else 'the recipe'} | {describe()}"
          f"{f' | batch {args.batch_size}' if args.batch_size else ''}{f' | lr {args.lr}' if args.lr else ''}")

    header = (f"{'model':10} {'seed':>4} " + " ".join(f"{f'to {t:.0%}':>12}" for t in THRESHOLDS)
              + f" {'final':>7} {'best':>7} {'img/s':>7} {'epochs':>6} all-blank doubled-letters")
    print(header)
    results: dict[str, list[dict]] = {m: [] for m in args.models}
    for seed in args.seeds:
        for model_name in args.models:
            r = run(data, model_name, seed, args.minutes, None if model_name == "reference" else image_size,
                    args.batch_size, args.lr, args.heldout)
            results[model_name].append(r)
            print(f"{model_name:10} {seed:4d} " + " ".join(f"{fmt_time(r['reached'][t]):>12}" for t in THRESHOLDS)
                  + f" {r['final_accuracy']:7.2%} {r['best_accuracy']:7.2%} {r['images_per_second']:7.1f}"
                  f" {r['epochs']:6d} {'YES' if r['all_blank'] else 'no':>9} {r['doubled'][0]}/{r['doubled'][1]} read"
                  + (f" | held-out {r['heldout']:.2%}" if args.heldout else ""), flush=True)

    print("\nmedians over seeds")
    medians = {}
    for model_name, runs in results.items():
        medians[model_name] = {
            "reached": {t: median_time(runs, t) for t in THRESHOLDS},
            "final": statistics.median(r["final_accuracy"] for r in runs),
            "best": statistics.median(r["best_accuracy"] for r in runs),
            "ips": statistics.median(r["images_per_second"] for r in runs),
            "blank": sum(r["all_blank"] for r in runs),
        }
        m = medians[model_name]
        print(f"{model_name:10} {'':4} " + " ".join(f"{fmt_time(m['reached'][t]):>12}" for t in THRESHOLDS)
              + f" {m['final']:7.2%} {m['best']:7.2%} {m['ips']:7.1f}        all-blank runs: {m['blank']}/{len(runs)}")
        if args.heldout:
            held = [r["heldout"] for r in runs]
            print(f"{'':15} held-out ({args.heldout}): mean {statistics.mean(held):.2%}, median "
                  f"{statistics.median(held):.2%} over {len(held)} runs")

    if {"reference", "crnn"} <= set(medians):
        print_ratios(medians["reference"], medians["crnn"], THRESHOLDS)
    return 0


def print_ratios(ref: dict, new: dict, thresholds) -> None:
    """The default against the reference, from their medians ("reached", "best", "ips")."""
    print("\nratios, crnn against reference (same data, same budget, same run)")
    for t in thresholds:
        a, b = ref["reached"][t], new["reached"][t]
        if a is not None and b is not None:
            print(f"  time to {t:.0%}: {a / b:.1f}x faster")
        else:
            print(f"  time to {t:.0%}: reference {fmt_time(a).strip()}, crnn {fmt_time(b).strip()}")
    print(f"  best accuracy: {new['best']:.2%} vs {ref['best']:.2%}")
    print(f"  training images/s: {new['ips'] / ref['ips']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
