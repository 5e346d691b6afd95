"""`python -m captcha_lib {generate,train,evaluate,predict,export,serve}`.

Bad input (a missing folder, no images, a bad checkpoint, an unknown character, an
invalid option) ends with one line on stderr and exit status 2, never a traceback.
`train`'s options are TrainConfig's fields (training/config.py), turned into flags here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .defaults import (DEFAULT_ALPHABET, DEFAULT_LENGTH, DEFAULT_MODEL, DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE, MAX_BATCH,
                       MAX_IMAGE_BYTES, MIXED_CASE_ALPHABET, READ_BATCH_SIZE, STYLES)
from .errors import CaptchaError, ConfigError, DataError


def _generate(args) -> None:
    from .data.generate import generate_dataset

    start = time.monotonic()
    counts = generate_dataset(args.out, args.train, args.val, seed=args.seed, length=args.length,
                              alphabet=args.alphabet, style=args.style, workers=args.workers)
    print(f"wrote {counts['train']} train and {counts['val']} val images to {args.out} "
          f"in {time.monotonic() - start:.1f}s")


def _train(args) -> None:
    from .training.config import TrainConfig
    from .training.run import resume_run, train_run

    given = {name: value for name, value in vars(args).items() if name in _train_options() and value is not None}
    if args.resume:
        resume_run(args.resume, **given)  # the run's own options, changed by any given here
        return
    if not (args.data and args.out):
        raise ConfigError("train needs --data DIR and --out RUN_DIR (or --resume RUN_DIR)")
    train_run(TrainConfig.recipe(given.pop("model", DEFAULT_MODEL), **given))


def _decoder(args, spec: str):
    """A decoder from its spec and the --decode-length / --decode-alphabet constraints."""
    from .data.vocab import parse_length
    from .decoding.decoders import parse_decoder

    low, high = parse_length(args.decode_length) if args.decode_length is not None else (None, None)
    return parse_decoder(spec, low, high, args.decode_alphabet)


def _reader(args, decoder="greedy"):
    """The reader a command asked for: --onnx (onnxruntime, no torch) or --checkpoint (PyTorch)."""
    from .deploy.reader import Reader

    if args.onnx:
        return Reader.from_onnx(args.onnx, batch_size=args.batch_size, decoder=decoder)
    return Reader.from_checkpoint(args.checkpoint, device=args.device, batch_size=args.batch_size, decoder=decoder)


def _evaluate(args) -> None:
    from .data.labels import Labeller, list_images
    from .decoding.evaluation import error_rows, evaluate_decoders
    from .files import write_text

    labeller = Labeller(args.labels, args.label_pattern, args.ignore_case)
    folder = Path(args.data)
    folder = folder / "val" if (folder / "val").is_dir() else folder
    paths = list_images(folder, labeller)
    decoders = [_decoder(args, spec) for spec in args.decoders]
    reader = _reader(args)
    report, readings = evaluate_decoders(reader, paths, decoders, labeller)
    if args.errors:
        rows = [f"{path}\t{truth}\t{name}\t{text}\t{confidence:.6f}"
                for path, truth, name, text, confidence in error_rows(paths, readings, labeller)]
        write_text(args.errors, "\n".join(["path\ttruth\tdecoder\tprediction\tconfidence", *rows]) + "\n")
    headline_name = next(iter(report["decoders"]))
    headline = report["decoders"][headline_name]
    total_ms = report["model_ms_per_image"] + headline["ms_per_image"]
    print(json.dumps({"folder": str(folder), "n": report["n"], "decoder": headline_name,
                      "sequence_accuracy": headline["sequence_accuracy"], "cer": headline["cer"],
                      "images_per_second": round(1000 / total_ms, 1), **report}, indent=1))


def _predict(args) -> None:
    for path in args.paths:
        if not Path(path).is_file():
            raise DataError(f"image {path} does not exist")
    reader = _reader(args, _decoder(args, args.decoder))
    for path, reading in zip(args.paths, reader.read(args.paths)):
        print(f"{path}\t{reading.text}" + (f"\t{reading.confidence:.6g}" if args.confidence else ""))


def _export(args) -> None:
    from .deploy.export import export_onnx
    from .deploy.reader import Reader

    path = export_onnx(args.checkpoint, args.out)
    reader = Reader.from_onnx(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {reader.model_name}, alphabet "
          f"{reader.vocabulary.characters!r}, images {tuple(reader.image_size)} (height, width)")


def _serve(args) -> None:
    from .deploy.serve import serve

    reader = _reader(args, _decoder(args, args.decoder))
    print(f"serving {reader.model_name} ({reader.backend}, {reader.decoder.name}) on http://{args.host}:{args.port} "
          f"| docs: http://{args.host}:{args.port}/docs | Ctrl-C stops", flush=True)
    serve(reader, args.host, args.port, max_image_bytes=args.max_image_bytes, max_batch=args.max_batch)


# ------------------------------------------------------------------------ the parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}")
    return value


def _add_reader_options(p: argparse.ArgumentParser, decoder: bool = True) -> None:
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a PyTorch checkpoint (model.pt)")
    model.add_argument("--onnx", help="an exported model (model.onnx); runs without torch")
    p.add_argument("--device", default="cpu", help="with --checkpoint: cpu, cuda, mps, auto (default: cpu)")
    p.add_argument("--batch-size", type=_positive_int, default=READ_BATCH_SIZE, help="images per model call")
    if decoder:
        p.add_argument("--decoder", default="greedy", help="greedy, beam[:WIDTH] or constrained[:WIDTH]")
    p.add_argument("--decode-length", default=None, help="constrained decoding: a text length or a range like "
                                                         "4-7 (default: the training labels' lengths)")
    p.add_argument("--decode-alphabet", default=None, help="constrained decoding: the characters allowed "
                                                           "(default: the model's)")


def _train_defaults() -> dict:
    from .training.config import TrainConfig

    return TrainConfig.defaults()


def _train_options() -> dict:
    """TrainConfig's fields: name -> (type annotation, metadata)."""
    from dataclasses import fields

    from .training.config import TrainConfig

    return {f.name: (str(f.type), f.metadata) for f in fields(TrainConfig)}


def _add_train_options(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; a flag left out keeps the model's recipe value (shown as default)."""
    defaults = _train_defaults()
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, (annotation, meta) in _train_options().items():
        group = groups.get(meta["group"]) or groups.setdefault(meta["group"], p.add_argument_group(meta["group"]))
        flag = "--" + name.replace("_", "-")
        shown = "x".join(map(str, defaults[name])) if isinstance(defaults[name], tuple) else defaults[name]
        help_text = f"{meta['help']} (default: {shown})"
        kwargs: dict = {"default": None, "help": help_text, "metavar": meta["metavar"]}
        if name in ("data", "out"):
            kwargs.update(help=meta["help"] + " (required, unless --resume)")
        elif annotation.startswith("bool"):
            kwargs = {"default": None, "help": help_text, "action": argparse.BooleanOptionalAction}
        elif meta["choices"]:
            kwargs["choices"] = meta["choices"]
        elif annotation.startswith("int"):
            kwargs["type"] = int
        elif annotation.startswith("float"):
            kwargs["type"] = float
        group.add_argument(flag, **kwargs)


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad option reported like every other error: one line, status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m captcha_lib",
                                     description="CAPTCHA text recognition: CNN + BiGRU + CTC.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("generate", help="render a synthetic CAPTCHA data set, offline")
    p.add_argument("--out", default="Dataset", help="folder to create train/ and val/ in (default: Dataset)")
    p.add_argument("--train", type=_count, default=DEFAULT_TRAIN_SIZE, help=f"training images (default: {DEFAULT_TRAIN_SIZE})")
    p.add_argument("--val", type=_count, default=DEFAULT_VAL_SIZE, help=f"validation images (default: {DEFAULT_VAL_SIZE})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--length", default=None, help=f"label length, or a range like 4-7 (default: the style's; "
                                                  f"{DEFAULT_LENGTH}, or 4-8 for colour and wide)")
    p.add_argument("--alphabet", default=None, help=f"label characters (default: the style's; {DEFAULT_ALPHABET}, "
                                                    f"or {MIXED_CASE_ALPHABET} for colour and wide)")
    p.add_argument("--style", choices=STYLES, default="default",
                   help="default, lines, gray: 160x60 or 200x50, capitals and digits; colour: per-character colours "
                        "and 22 fonts, both cases; wide: big glyphs, 285-690 pixels wide, both cases")
    p.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")
    p.set_defaults(run=_generate)

    p = commands.add_parser("train", help="train a model; writes RUN_DIR/model.pt and RUN_DIR/history.json",
                            description="Train a model. Every option left out takes the model's recipe value.")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run that stopped, from its last epoch "
                                                        "(RUN_DIR/last.pt), with its own options")
    _add_train_options(p)
    p.set_defaults(run=_train)

    p = commands.add_parser("evaluate", help="accuracy and CER of a model on DIR/val (or DIR)")
    _add_reader_options(p, decoder=False)
    p.add_argument("--data", required=True, help="DIR/val, or DIR: labelled images")
    p.add_argument("--labels", metavar="FILE", help="a labels file instead of file names (CSV file,text or "
                                                     "path<TAB>text)")
    p.add_argument("--label-pattern", metavar="REGEX", help="a regular expression on the file name whose group is "
                                                           "the text")
    p.add_argument("--ignore-case", action="store_true", help="lower-case the labels, as the model was trained")
    p.add_argument("--decoders", nargs="+", default=["greedy", "beam:4", "beam:16", "constrained:16"],
                   help="decoders to compare; the first is the headline (default: %(default)s)")
    p.add_argument("--errors", default=None, help="write the wrong reads here (TSV: path, truth, decoder, "
                                                  "prediction, confidence)")
    p.set_defaults(run=_evaluate)

    p = commands.add_parser("predict", help="print PATH<TAB>TEXT for each image")
    p.add_argument("paths", nargs="+", metavar="PATH")
    _add_reader_options(p)
    p.add_argument("--confidence", action="store_true", help="add a third column: P(text | image)")
    p.set_defaults(run=_predict)

    p = commands.add_parser("export", help="export a checkpoint to ONNX (runs without torch)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.set_defaults(run=_export)

    p = commands.add_parser("serve", help="an HTTP API: POST /predict, /predict/batch; GET /health, /metadata, /docs")
    _add_reader_options(p)
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (this machine only) or 0.0.0.0 (everyone)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch", type=_positive_int, default=MAX_BATCH, help="images per /predict/batch request")
    p.add_argument("--max-image-bytes", type=_positive_int, default=MAX_IMAGE_BYTES, help="larger uploads get 413")
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
