"""Training throughput with 1 and 2 processes (torchrun, DDP), and on a GPU when there is one.

Each configuration trains the default model for a fixed wall-clock budget with
`torchrun ... -m captcha_lib train` and reads its history.json: training images per
second over all processes (evaluation excluded), and the validation accuracy reached.

    python benchmarks/scaling.py --data Dataset --minutes 1 --repeats 3

On a CPU, one process already uses every core (intra-op threads); two processes split
the same cores (torchrun gives each one thread) and add gradient all-reduces. Expect no
gain on 2 cores: DDP pays off with one process per GPU, or per machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from machine import describe  # benchmarks/machine.py


def train(data: Path, processes: int, minutes: float, device: str, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   "-m", "captcha_lib", "train", "--data", str(data), "--out", out, "--max-minutes", str(minutes),
                   "--no-progress", "--device", device, *extra]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"training failed:\n{result.stderr[-2000:]}")
        history = json.loads((Path(out) / "history.json").read_text())
    return {"images_per_second": sum(r["train_images"] for r in history) / sum(r["train_seconds"] for r in history),
            "best": max(r["val_sequence_accuracy"] for r in history)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("Dataset"))
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    print(f"data {args.data} | {args.minutes} min per run, {args.repeats} runs each | {describe()} "
          f"| GPUs: {torch.cuda.device_count()}")

    configurations = [(f"CPU, {n} process{'es' if n > 1 else ''}", n, "cpu", []) for n in args.processes]
    if torch.cuda.is_available():
        configurations += [("GPU, fp32", 1, "cuda", ["--no-amp"]), ("GPU, mixed precision", 1, "cuda", [])]
        if torch.cuda.device_count() > 1:
            configurations.append((f"{torch.cuda.device_count()} GPUs, DDP", torch.cuda.device_count(), "cuda", []))
    results = {}
    for name, processes, device, extra in configurations:
        runs = [train(args.data, processes, args.minutes, device, extra) for _ in range(args.repeats)]
        ips = [r["images_per_second"] for r in runs]
        results[name] = statistics.median(ips)
        print(f"{name:24} {results[name]:8.1f} train images/s (runs: {', '.join(f'{x:.0f}' for x in ips)}) "
              f"| best val acc {statistics.median(r['best'] for r in runs):.2%}", flush=True)
    baseline = next(iter(results.values()))
    print("\nagainst the first configuration: " + " | ".join(f"{name} {value / baseline:.2f}x"
                                                            for name, value in results.items()))
    if not torch.cuda.is_available():
        print("no GPU here: GPU figures need a CUDA machine (the same command prints them there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
