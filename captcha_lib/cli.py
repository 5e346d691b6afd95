"""`python -m captcha_lib {generate,train,evaluate,predict,export,serve}`.

Bad input (a missing folder, no images, a bad checkpoint, an unknown character) ends
with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import CaptchaError, DataError


def _generate(args) -> None:
    from .generate import generate_dataset

    start = time.monotonic()
    counts = generate_dataset(args.out, args.train, args.val, seed=args.seed, length=args.length,
                              alphabet=args.alphabet, style=args.style, workers=args.workers)
    print(f"wrote {counts['train']} train and {counts['val']} val images to {args.out} "
          f"in {time.monotonic() - start:.1f}s")


def _train(args) -> None:
    from .recipes import train_run

    train_run(args.data, args.out, model_name=args.model, epochs=args.epochs, max_minutes=args.max_minutes,
              batch_size=args.batch_size, lr=args.lr, seed=args.seed, val_fraction=args.val_fraction,
              device=args.device, augment=args.augment, progress=not args.no_progress, log=print,
              fresh_data=args.fresh_data, images_per_epoch=args.images_per_epoch, alphabet=args.alphabet,
              length=args.length, style=args.style, amp=args.amp, compile=args.compile, workers=args.workers,
              image_size=args.image_size)


def _decoder(spec: str, args, predictor):
    """A decoder from its spec; "constrained" takes --length, else the training labels' lengths."""
    from .decoding import parse_decoder
    from .vocab import parse_length

    if args.length is not None:
        min_length, max_length = parse_length(args.length)
    else:
        min_length, max_length = predictor.metadata.get("label_lengths", (0, None))
    if args.alphabet is not None:
        predictor.vocabulary.encode(args.alphabet, source="--alphabet")  # a character the model lacks: clear error
    try:
        return parse_decoder(spec, min_length, max_length, args.alphabet)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def _evaluate(args) -> None:
    from .data import list_images
    from .evaluation import error_rows, evaluate_decoders
    from .predict import Predictor

    folder = Path(args.data)
    folder = folder / "val" if (folder / "val").is_dir() else folder
    paths = list_images(folder)
    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, batch_size=args.batch_size)
    decoders = [_decoder(spec, args, predictor) for spec in args.decoders]
    report, readings = evaluate_decoders(predictor, paths, decoders)
    if args.errors:
        rows = [f"{path}\t{truth}\t{name}\t{text}\t{confidence:.6f}"
                for path, truth, name, text, confidence in error_rows(paths, readings)]
        Path(args.errors).write_text("\n".join(["path\ttruth\tdecoder\tprediction\tconfidence", *rows]) + "\n")
    headline = report["decoders"][decoders[0].name]
    total_ms = report["model_ms_per_image"] + headline["ms_per_image"]
    print(json.dumps({"folder": str(folder), "n": report["n"], "decoder": decoders[0].name,
                      "sequence_accuracy": headline["sequence_accuracy"], "cer": headline["cer"],
                      "images_per_second": round(1000 / total_ms, 1), **report}, indent=1))


def _predict(args) -> None:
    predictor = _reader(args)
    predictor.decoder = _decoder(args.decoder, args, predictor)
    for path in args.paths:
        if not Path(path).is_file():
            raise DataError(f"image {path} does not exist")
    for path, reading in zip(args.paths, predictor.read(args.paths)):
        print(f"{path}\t{reading.text}" + (f"\t{reading.confidence:.6g}" if args.confidence else ""))


def _export(args) -> None:
    from .export import export_onnx
    from .onnx_runtime import OnnxPredictor

    path = export_onnx(args.checkpoint, args.out)
    reader = OnnxPredictor(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {reader.model_name}, alphabet "
          f"{reader.vocabulary.characters!r}, images {tuple(reader.image_size)} (height, width)")


def _reader(args):
    """The reader a command asked for: --onnx (onnxruntime, no torch) or --checkpoint (PyTorch)."""
    if args.onnx:
        from .onnx_runtime import OnnxPredictor

        return OnnxPredictor(args.onnx, batch_size=args.batch_size)
    from .predict import Predictor

    return Predictor.from_checkpoint(args.checkpoint, device=args.device, batch_size=args.batch_size)


def _serve(args) -> None:
    from .serve import serve

    reader = _reader(args)
    reader.decoder = _decoder(args.decoder, args, reader)
    backend = "onnxruntime" if args.onnx else "torch"
    print(f"serving {reader.model_name} ({backend}, {reader.decoder.name}) on http://{args.host}:{args.port} "
          f"| docs: http://{args.host}:{args.port}/docs | Ctrl-C stops", flush=True)
    serve(reader, args.host, args.port, backend=backend, max_image_bytes=args.max_image_bytes,
          max_batch=args.max_batch)


def _add_model_choice(p: argparse.ArgumentParser) -> None:
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a PyTorch checkpoint (model.pt)")
    model.add_argument("--onnx", help="an exported model (model.onnx); runs without torch")
    p.add_argument("--device", default="cpu", help="with --checkpoint: cpu, cuda, auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--decoder", default="greedy", help="greedy, beam[:WIDTH] or constrained[:WIDTH]")
    _add_constraints(p)


def _add_constraints(p: argparse.ArgumentParser) -> None:
    p.add_argument("--length", default=None, help="for constrained decoding: a label length or a range like "
                                                  "4-7 (default: the training labels' lengths)")
    p.add_argument("--alphabet", default=None, help="for constrained decoding: the characters allowed "
                                                    "(default: the model's)")


def build_parser() -> argparse.ArgumentParser:
    from .defaults import (DEFAULT_ALPHABET, DEFAULT_LENGTH, DEFAULT_MODEL, DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE,
                           IMAGE_SIZE, IMAGES_PER_EPOCH, MODEL_NAMES, STYLES)

    parser = argparse.ArgumentParser(prog="python -m captcha_lib",
                                     description="CAPTCHA text recognition: CNN + BiGRU + CTC.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("generate", help="render a synthetic CAPTCHA data set, offline")
    p.add_argument("--out", default="Dataset", help="folder to create train/ and val/ in (default: Dataset)")
    p.add_argument("--train", type=int, default=DEFAULT_TRAIN_SIZE, help=f"training images (default: {DEFAULT_TRAIN_SIZE})")
    p.add_argument("--val", type=int, default=DEFAULT_VAL_SIZE, help=f"validation images (default: {DEFAULT_VAL_SIZE})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--length", default=str(DEFAULT_LENGTH), help="label length, or a range like 4-7")
    p.add_argument("--alphabet", default=DEFAULT_ALPHABET)
    p.add_argument("--style", choices=STYLES, default="default")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.set_defaults(run=_generate)

    p = commands.add_parser("train", help="train a model; writes RUN_DIR/model.pt and RUN_DIR/history.json")
    p.add_argument("--data", required=True, help="DIR with train/ and val/, or one flat folder of images")
    p.add_argument("--out", required=True, help="RUN_DIR for model.pt and history.json")
    p.add_argument("--model", choices=MODEL_NAMES, default=DEFAULT_MODEL)
    p.add_argument("--epochs", type=int, default=None, help="default: the model's recipe")
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after this wall-clock time")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1, help="for a flat folder (default: 0.1)")
    p.add_argument("--image-size", default="x".join(map(str, IMAGE_SIZE)), metavar="HxW",
                   help="what every image is resized to (default: %(default)s, the reference's; 48x200 reads "
                        "warped, overlapping 200x50 CAPTCHAs better, at 0.7-0.9x the training speed)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="training augmentation (default: the recipe's; the default model augments sets "
                        "of fewer than 5,000 images)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--workers", type=int, default=None,
                   help="DataLoader worker processes (default: 0 for cached images, up to 4 when decoding or rendering)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision, bf16 or fp16 (default: on with CUDA, off on CPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model for training")
    fresh = p.add_argument_group("fresh data", "train on CAPTCHAs rendered on the fly, new ones every epoch; "
                                               "--data then gives only the validation images")
    fresh.add_argument("--fresh-data", action="store_true")
    fresh.add_argument("--images-per-epoch", type=int, default=IMAGES_PER_EPOCH)
    fresh.add_argument("--alphabet", default=DEFAULT_ALPHABET)
    fresh.add_argument("--length", default=str(DEFAULT_LENGTH), help="label length, or a range like 4-7")
    fresh.add_argument("--style", choices=STYLES, default="default")
    p.set_defaults(run=_train)

    p = commands.add_parser("evaluate", help="accuracy and CER of a checkpoint on DIR/val (or DIR)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--decoders", nargs="+", default=["greedy", "beam:4", "beam:16", "constrained:16"],
                   help="decoders to compare; the first is the headline (default: %(default)s)")
    _add_constraints(p)
    p.add_argument("--errors", default=None, help="write the wrong reads here (TSV: path, truth, decoder, "
                                                  "prediction, confidence)")
    p.set_defaults(run=_evaluate)

    p = commands.add_parser("predict", help="print PATH<TAB>TEXT for each image")
    p.add_argument("paths", nargs="+", metavar="PATH")
    _add_model_choice(p)
    p.add_argument("--confidence", action="store_true", help="add a third column: P(text | image)")
    p.set_defaults(run=_predict)

    p = commands.add_parser("export", help="export a checkpoint to ONNX (runs without torch)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.set_defaults(run=_export)

    p = commands.add_parser("serve", help="an HTTP API: POST /predict, /predict/batch; GET /health, /metadata, /docs")
    _add_model_choice(p)
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (this machine only) or 0.0.0.0 (everyone)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch", type=int, default=32, help="images per /predict/batch request")
    p.add_argument("--max-image-bytes", type=int, default=1_000_000, help="larger uploads get 413")
    p.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except CaptchaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
