"""Fresh data against a fixed training set, at the same wall-clock budget.

Trains the default model twice on the same validation images: once on the images of a
fixed folder (`--data`), once on CAPTCHAs rendered on the fly (new ones every epoch, the
same style and alphabet). Prints, per run, the validation accuracy after each epoch, the
best accuracy, training images/s, and how many distinct images the model saw.

    python benchmarks/fresh_data.py --data Dataset --minutes 5             # the default 30k set
    python benchmarks/fresh_data.py --data Dataset/fast --minutes 2        # a small fixed set (3k)
    python benchmarks/fresh_data.py --data /tmp/colour --style colour --minutes 3 --steps 0   # another style

On 2 cores, rendering competes with training for the CPU: fresh data buys variety with
throughput. On a machine with spare cores (or a GPU doing the training) it costs nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


from captcha_lib import TrainConfig, label_from_path, list_images, train_run

from machine import describe  # benchmarks/machine.py


def run(data: Path, minutes: float, fresh: bool, seed: int, workers: int | None, style: str = "default",
        steps: int | None = None) -> dict:
    alphabet = "".join(sorted({c for p in list_images(data / "val") for c in label_from_path(p)}))
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig.recipe(data=str(data), out=out, max_minutes=minutes, seed=seed, progress=False,
                                    fresh_data=fresh, alphabet=alphabet, workers=workers, style=style,
                                    **({} if steps is None else {"steps": steps}))
        trainer = train_run(config, log=lambda *args: None)
        history = json.loads((Path(out) / "history.json").read_text())
    seen = sum(r["train_images"] for r in history)
    return {"history": history, "best": max(r["val_sequence_accuracy"] for r in history),
            "final": history[-1]["val_sequence_accuracy"],
            "images_per_second": seen / sum(r["train_seconds"] for r in history),
            "distinct": seen if fresh else len(trainer.train_loader.dataset)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("Dataset"), help="the fixed set (DIR/train) and the "
                                                                           "validation images (DIR/val)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="render workers for fresh data (default: auto)")
    parser.add_argument("--style", default="default", help="the style of the fresh images: the fixed set's")
    parser.add_argument("--steps", type=int, default=None,
                        help="optimiser steps a run (default: the recipe's 5,000; 0: the time budget alone)")
    parser.add_argument("--runs", nargs="+", default=["fixed", "fresh"], choices=["fixed", "fresh"],
                        help="which runs (default: both)")
    args = parser.parse_args(argv)
    print(f"data {args.data} | style {args.style} | budget {args.minutes} min each | seed {args.seed} | {describe()}")
    results = {}
    for name, fresh in [(name, name == "fresh") for name in args.runs]:
        r = results[name] = run(args.data, args.minutes, fresh, args.seed, args.workers, args.style, args.steps)
        curve = " ".join(f"{x['elapsed']:.0f}s:{x['val_sequence_accuracy']:.1%}" for x in r["history"])
        print(f"{name:6} best {r['best']:.2%} | final {r['final']:.2%} | {r['images_per_second']:.0f} train images/s "
              f"| {r['distinct']:,} distinct images seen\n       {curve}", flush=True)
    if len(results) < 2:
        return 0
    print(f"\nfresh - fixed, best validation accuracy: {results['fresh']['best'] - results['fixed']['best']:+.2%} "
          f"| training images/s: {results['fresh']['images_per_second'] / results['fixed']['images_per_second']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
