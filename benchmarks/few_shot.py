"""Few labels: accuracy on DIR/val against the number of labelled training images.

    python benchmarks/few_shot.py --data ../shared/data/captcha-v2
    python benchmarks/few_shot.py --data DIR --sizes 100 200 --seeds 0 1 2 --ddddocr-python /tmp/ddddocr-venv/bin/python

For each size N and seed, N images are drawn from DIR/train (the rest of DIR/train is the
unlabelled pool) and given to `train` as one flat folder, which holds out a fifth of them
for validation, the epoch choice and the confidence threshold, as a user with N labels
would. DIR/val is never trained, tuned or calibrated on: every figure is read on it.
Methods:
* scratch: the default recipe from random weights;
* fine-tune: `--init pretrained`, the shipped general reader;
* fine-tune + unlabelled: the same, with `--unlabelled` (the pool) for pseudo-label rounds;
* pretrained, no training: the shipped reader as it is, as read and with its output limited
  to the characters of the labelled images (constrained decoding);
* ddddocr, no training, from another Python (`--ddddocr-python`), when given.
Each training run stops at `--minutes` (default 5) of wall clock if its steps last longer.
It prints per-seed figures, the median over seeds and the CPU minutes of each method, and
draws the curve (`--figure`).

`--results FILE` keeps every run's figures in a JSON file: a run already in it is not run
again, so several invocations (or one cut short) add up to one table and one figure, and the
same command with every run present only prints and draws. A file made with another
`--minutes` or `--pseudo-rounds` is refused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from captcha_lib import (Reader, TrainConfig, label_from_path, list_images, parse_decoder, sequence_accuracy,
                         train_run)
from captcha_lib.course.fewshot import labelled_subset
from captcha_lib.files import write_json

from machine import describe  # benchmarks/machine.py
from real_data import ddddocr_reads

METHODS = ("scratch", "fine-tune", "fine-tune + unlabelled")


def accuracy(reader: Reader, paths: list[Path]) -> float:
    return sequence_accuracy(reader.predict(paths), [label_from_path(p) for p in paths])


def train_and_read(method: str, labelled: Path, unlabelled: Path, out: Path, seed: int, minutes: float,
                   val_paths: list[Path], pseudo_rounds: int) -> tuple[float, float]:
    """(accuracy on DIR/val, CPU minutes) of one training run."""
    options = {"init": "pretrained"} if method != "scratch" else {}
    if method == "fine-tune + unlabelled" and any(unlabelled.iterdir()):
        options.update(unlabelled=str(unlabelled), pseudo_rounds=pseudo_rounds)
    config = TrainConfig.recipe("crnn", data=str(labelled), out=str(out), seed=seed, val_fraction=0.2,
                                max_minutes=minutes, progress=False, device="cpu", **options)
    start = time.process_time()
    train_run(config, log=lambda *args: None)
    cpu_minutes = (time.process_time() - start) / 60
    return accuracy(Reader.from_checkpoint(out / "model.pt"), val_paths), cpu_minutes


def load_results(path: Path | None, settings: dict) -> tuple[dict, dict]:
    """({(method, size, seed): (accuracy, CPU minutes)}, no-training baselines) from a results
    file made with `settings`."""
    if path is None or not path.exists():
        return {}, {}
    try:
        stored = json.loads(path.read_text())
        made_with = stored["settings"]
        runs = {(r["method"], r["size"], r["seed"]): (r["accuracy"], r["cpu_minutes"]) for r in stored["runs"]}
        stored_baselines = dict(stored.get("baselines", {}))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path} is not a results file of this benchmark ({type(exc).__name__}: {exc}); "
                         "give another --results path") from None
    if made_with != settings:
        raise SystemExit(f"{path} holds runs made with {made_with}, not {settings}: use another file")
    return runs, stored_baselines


def save_results(path: Path | None, settings: dict, done: dict, baselines: dict) -> None:
    if path is not None:
        runs = [{"method": m, "size": size, "seed": seed, "accuracy": a, "cpu_minutes": c}
                for (m, size, seed), (a, c) in done.items()]
        write_json(path, {"settings": settings, "baselines": baselines, "runs": runs})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="DIR with train/ and val/")
    parser.add_argument("--sizes", nargs="+", default=["25", "50", "100", "200", "500", "all"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock cap per training run (default: 5)")
    parser.add_argument("--pseudo-rounds", type=int, default=2, help="pseudo-label rounds after the first training")
    parser.add_argument("--ddddocr-python", help="a Python with ddddocr installed, for the zero-training baseline")
    parser.add_argument("--figure", type=Path, default=Path("few_shot.png"), help="where to draw the curve")
    parser.add_argument("--results", type=Path, help="a JSON file that keeps every run; runs in it are not repeated")
    args = parser.parse_args(argv)
    sizes = [None if s == "all" else int(s) for s in args.sizes]
    settings = {"data": args.data.resolve().name, "minutes": args.minutes, "pseudo_rounds": args.pseudo_rounds}
    done, stored_baselines = load_results(args.results, settings)
    val_paths = list_images(args.data / "val")
    alphabet = "".join(sorted({c for p in list_images(args.data / "train") for c in label_from_path(p)}))
    print(f"data {args.data} | {len(val_paths)} val images | sizes {args.sizes} | seeds {args.seeds} "
          f"| cap {args.minutes} min a run | {describe()}")

    baselines = {}
    pretrained = Reader.from_pretrained()
    baselines["pretrained, as read"] = accuracy(pretrained, val_paths)
    pretrained.decoder = pretrained.fit_decoder(parse_decoder("constrained:8", alphabet=alphabet))
    baselines[f"pretrained, alphabet {alphabet}"] = accuracy(pretrained, val_paths)
    if args.ddddocr_python:
        reads = ddddocr_reads(args.ddddocr_python, val_paths)
        if reads is not None:
            baselines["ddddocr, as read"] = sum(r == label_from_path(p) for r, p in zip(reads, val_paths)) / len(reads)
    baselines = {**stored_baselines, **baselines}  # e.g. ddddocr, read once from another venv
    for name, value in baselines.items():
        print(f"no training: {name}: {value:.2%}")

    print(f"\n{'method':24} {'labelled':>8} {'seed':>4} {'val acc':>8} {'CPU min':>8}")
    for size in sizes:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as scratch:
                labelled, unlabelled = None, None
                for method in args.methods:
                    if method == "fine-tune + unlabelled" and size is None:
                        continue  # no unlabelled images left
                    key = (method, size or "all", seed)
                    if key not in done:
                        if labelled is None:
                            labelled, unlabelled = labelled_subset(args.data, size, seed, Path(scratch) / "data")
                        done[key] = train_and_read(method, labelled, unlabelled, Path(scratch) / method.replace(" ", ""),
                                                   seed, args.minutes, val_paths, args.pseudo_rounds)
                        save_results(args.results, settings, done, baselines)
                    accuracy_, cpu = done[key]
                    print(f"{method:24} {size or 'all':>8} {seed:4d} {accuracy_:8.2%} {cpu:8.2f}", flush=True)

    # the table and the figure: every run made with these settings, in this file or just now
    results: dict[tuple[str, int | None], list[tuple[float, float]]] = {}
    for (method, size, _seed), result in done.items():
        results.setdefault((method, None if size == "all" else size), []).append(result)
    all_sizes = sorted({size for _, size in results}, key=lambda n: float("inf") if n is None else n)
    print("\nmedian over seeds: val accuracy (CPU minutes)")
    print(f"{'method':24} " + " ".join(f"{s or 'all':>14}" for s in all_sizes))
    for method in METHODS:
        cells = []
        for size in all_sizes:
            runs = results.get((method, size))
            cells.append(f"{statistics.median(r[0] for r in runs):6.1%} ({statistics.median(r[1] for r in runs):4.1f})"
                         if runs else "-")
        print(f"{method:24} " + " ".join(f"{c:>14}" for c in cells))
    draw(results, baselines, all_sizes, METHODS, len(list_images(args.data / "train")), args.figure)
    return 0


def draw(results, baselines, sizes, methods, train_size, figure: Path) -> None:
    """The median curve of each method, drawn as notebook 08 draws its own (course.plots)."""
    import matplotlib

    matplotlib.use("Agg")
    from captcha_lib.course.plots import plot_few_shot

    curves = {method: {size or train_size: statistics.median(r[0] for r in results[(method, size)])
                       for size in sizes if (method, size) in results} for method in methods}
    fig = plot_few_shot({m: c for m, c in curves.items() if c},
                        {f"{_legend_name(name)} (no training)": value for name, value in baselines.items()},
                        title="Few labels: from scratch against the pretrained reader")
    fig.savefig(figure, dpi=110)
    print(f"figure: {figure}")


def _legend_name(baseline: str) -> str:
    """'pretrained, alphabet 2345...' as 'pretrained, the set's 36 symbols': a long alphabet crowds the legend."""
    head, _, alphabet = baseline.partition("alphabet ")
    return f"{head}the set's {len(alphabet)} symbols" if alphabet else baseline


if __name__ == "__main__":
    sys.exit(main())
