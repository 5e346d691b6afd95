"""Decoding speed: sequences/s for greedy, prefix beam search and the reference's loop, on the same logits.

The logits are computed once, by a trained checkpoint on real validation images (peaked
distributions, as in use), and every decoder reads the same ones, 64 sequences per batch.
The model's time is not counted: this measures decoding alone.

    python benchmarks/decode_speed.py [--checkpoint runs/default/model.pt] [--data Dataset] [--n 1000]

The baseline is the reference notebook's `decode_predictions`, copied below as it was
written: softmax, argmax, then a Python loop that calls `LabelEncoder.inverse_transform`
once per timestep of every sequence. Target: greedy at least 50x faster.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from sklearn.preprocessing import LabelEncoder

from captcha_lib import GREEDY, Decoder, Reader, list_images

from machine import describe  # benchmarks/machine.py


# --- the reference notebook's decoding, verbatim -------------------------------------------------
def remove_duplicates(x):
    if len(x) < 2:
        return x
    fin = ""
    for j in x:
        if fin == "" or j != fin[-1]:
            fin += j
    return fin


def decode_predictions(preds, encoder):
    preds = preds.permute(1, 0, 2)  # (seq, batch, classes) -> (batch, seq, classes)
    preds = torch.softmax(preds, 2)
    preds = torch.argmax(preds, 2)
    preds = preds.detach().cpu().numpy()
    cap_preds = []
    for j in range(preds.shape[0]):
        temp = []
        for k in preds[j, :]:
            k = k - 1  # Reverse +1 offset
            if k == -1:
                temp.append("§")  # Blank token placeholder
            else:
                temp.append(encoder.inverse_transform([k])[0])
        tp = "".join(temp)
        tp = tp.replace("§", "")  # Remove blanks
        cap_preds.append(remove_duplicates(tp))  # Remove duplicates
    return cap_preds
# ------------------------------------------------------------------------------------------------


def sequences_per_second(decode, batches: list[torch.Tensor], repeats: int) -> float:
    decode(batches[0])  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            decode(batch)
        rates.append(sum(b.shape[1] for b in batches) / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/default/model.pt"))
    parser.add_argument("--data", type=Path, default=Path("Dataset"))
    parser.add_argument("--n", type=int, default=1000, help="sequences (validation images) to decode")
    parser.add_argument("--beam-n", type=int, default=200, help="sequences for the slower beam widths")
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        print(f"no checkpoint at {args.checkpoint}: run `python -m captcha_lib train --data Dataset --out "
              f"runs/default` first, or pass --checkpoint", file=sys.stderr)
        return 2
    folder = args.data / "val" if (args.data / "val").is_dir() else args.data
    paths = list_images(folder)[:args.n]
    predictor = Reader.from_checkpoint(args.checkpoint, device="cpu", batch_size=64)
    vocabulary = predictor.vocabulary
    # (T, 64, C) each: the same logits for every decoder (tensors: the reference loop is torch code)
    batches = [torch.from_numpy(b) for b in predictor.batched_logits(paths)]
    beam_batches = batches[:max(1, args.beam_n // 64)]
    encoder = LabelEncoder().fit(list(vocabulary.characters))  # the reference's encoder: classes = characters
    time_steps, _, num_classes = batches[0].shape
    print(f"{describe()} | {args.checkpoint} | {len(paths)} "
          f"sequences of T={time_steps}, C={num_classes} | median of {args.repeats} repeats")

    # Same logits, same texts: greedy agrees with beam width 1; the reference differs only on doubled letters.
    greedy_texts = [t for b in batches for t in GREEDY.texts(b, vocabulary)]
    reference_texts = [t for b in batches for t in decode_predictions(b, encoder)]
    width1_texts = [r.text for b in beam_batches for r in Decoder("beam", 1).decode(b, vocabulary)]
    assert width1_texts == greedy_texts[:len(width1_texts)], "beam width 1 must equal greedy"
    differ = sum(g != r for g, r in zip(greedy_texts, reference_texts))
    print(f"reference loop and greedy disagree on {differ} of {len(paths)} reads (merge-then-drop vs drop-then-merge)")

    rows = [("reference loop (inverse_transform per step)", sequences_per_second(
                lambda b: decode_predictions(b, encoder), batches, args.repeats)),
            ("greedy (texts)", sequences_per_second(lambda b: GREEDY.texts(b, vocabulary), batches, args.repeats)),
            ("greedy + confidence", sequences_per_second(lambda b: Decoder("greedy").decode(b, vocabulary),
                                                         batches, args.repeats))]
    for width in args.widths:
        decoder = Decoder("beam", width)
        rows.append((f"beam width {width} + confidence", sequences_per_second(
            lambda b, d=decoder: d.decode(b, vocabulary), beam_batches, max(1, args.repeats // 2))))
    baseline = rows[0][1]
    print(f"{'decoder':46} {'sequences/s':>12} {'ms/sequence':>12} {'x reference':>12}")
    for name, rate in rows:
        print(f"{name:46} {rate:12.0f} {1000 / rate:12.3f} {rate / baseline:12.1f}")
    greedy_ratio = rows[1][1] / baseline
    print(f"greedy / reference loop: {greedy_ratio:.0f}x (target >= 50x: {'met' if greedy_ratio >= 50 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
