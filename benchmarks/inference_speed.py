"""Prediction throughput on CPU, preprocessing and decoding included.

`Reader.predict` on image files (decode, resize, normalise, model, greedy decoding)
at batch size 1 and 64, for the reference model and the default. Prints the median
images/s of several repeats and the ratio default/reference.

    python benchmarks/inference_speed.py [--images 256] [--repeats 5] [--checkpoint RUN/model.pt ...]

Speed does not depend on the weights, so without checkpoints it uses freshly built
models over the default 32-character alphabet.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from captcha_lib import (DEFAULT_ALPHABET, Reader, TorchReader, Vocabulary, build_model, generate_dataset, list_images,
                         load_checkpoint)

from machine import describe  # benchmarks/machine.py


def predictors(checkpoints: list[Path]) -> dict[str, Reader]:
    if checkpoints:
        out = {}
        for path in checkpoints:
            model, vocabulary, checkpoint = load_checkpoint(path)
            out[f"{checkpoint['model_name']} ({path})"] = TorchReader(model, vocabulary, checkpoint["image_size"], "cpu")
        return out
    vocabulary = Vocabulary(DEFAULT_ALPHABET)
    torch.manual_seed(0)
    return {name: TorchReader(build_model(name, num_characters=vocabulary.num_characters), vocabulary, device="cpu")
            for name in ("reference", "crnn")}


def images_per_second(predictor: Reader, paths: list[Path], batch_size: int, repeats: int) -> float:
    predictor.batch_size = batch_size
    predictor.predict(paths[:batch_size])  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(paths)
        rates.append(len(paths) / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, nargs="*", default=[])
    args = parser.parse_args(argv)
    print(f"{describe()} | {args.images} images | median of {args.repeats} repeats")
    with tempfile.TemporaryDirectory() as tmp:
        generate_dataset(tmp, n_train=args.images, n_val=0, seed=0)
        paths = list_images(Path(tmp) / "train")
        results = {}
        for name, predictor in predictors(args.checkpoint).items():
            results[name] = {b: images_per_second(predictor, paths, b, args.repeats) for b in (1, 64)}
            print(f"{name:12} batch 1: {results[name][1]:8.1f} images/s | batch 64: {results[name][64]:8.1f} images/s",
                  flush=True)
    if {"reference", "crnn"} <= set(results):
        for b in (1, 64):
            print(f"ratio crnn/reference at batch {b}: {results['crnn'][b] / results['reference'][b]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
