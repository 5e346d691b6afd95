"""The command line's options: one subparser per command, `train`'s built from TrainConfig."""

from __future__ import annotations

import argparse

from ..defaults import (DEFAULT_ALPHABET, DEFAULT_LENGTH, DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE, MAX_BATCH,
                        MAX_CONNECTIONS, MAX_IMAGE_BYTES, MIXED_CASE_ALPHABET, READ_BATCH_SIZE, REQUEST_TIMEOUT,
                        STYLES)
from .commands import (run_calibrate, run_evaluate, run_export, run_generate, run_label, run_predict, run_pretrain,
                       run_serve, run_train)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
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
    model.add_argument("--pretrained", action="store_true", help="the general reader the package ships "
                                                                 "(every digit and ASCII letter), no training")
    p.add_argument("--device", default="cpu", help="with --checkpoint: cpu, cuda, mps, auto (default: cpu)")
    p.add_argument("--batch-size", type=_positive_int, default=READ_BATCH_SIZE, help="images per model call")
    if decoder:
        p.add_argument("--decoder", default="greedy", help="greedy, beam[:WIDTH] or constrained[:WIDTH]")
    p.add_argument("--decode-length", default=None, help="constrained decoding: a text length or a range like "
                                                         "4-7 (default: the training labels' lengths)")
    p.add_argument("--decode-alphabet", default=None, help="constrained decoding: the characters allowed "
                                                           "(default: the model's)")


def _add_labelled_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="DIR/val, or DIR: labelled images")
    p.add_argument("--labels", metavar="FILE", help="a labels file instead of file names (CSV file,text or "
                                                     "path<TAB>text)")
    p.add_argument("--label-pattern", metavar="REGEX", help="a regular expression on the file name whose group is "
                                                           "the text")
    p.add_argument("--ignore-case", action="store_true", help="lower-case the labels, as the model was trained")


def _train_defaults() -> dict:
    from ..training.config import TrainConfig

    return TrainConfig.defaults()


def _train_options() -> dict:
    """TrainConfig's fields: name -> (type annotation, metadata)."""
    from dataclasses import fields

    from ..training.config import TrainConfig

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
    p.add_argument("--out", default="Dataset", help="folder to create train/, val/ (and test/) in (default: Dataset)")
    p.add_argument("--train", type=_count, default=DEFAULT_TRAIN_SIZE, help=f"training images (default: {DEFAULT_TRAIN_SIZE})")
    p.add_argument("--val", type=_count, default=DEFAULT_VAL_SIZE, help=f"validation images (default: {DEFAULT_VAL_SIZE})")
    p.add_argument("--test", type=_count, default=0,
                   help="test images, for the figure you report: they choose nothing (default: 0, no test/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--length", default=None, help=f"label length, or a range like 4-7 (default: the style's; "
                                                  f"{DEFAULT_LENGTH}, or 4-8 for colour and wide)")
    p.add_argument("--alphabet", default=None, help=f"label characters (default: the style's; {DEFAULT_ALPHABET}, "
                                                    f"or {MIXED_CASE_ALPHABET} for colour and wide)")
    p.add_argument("--style", choices=STYLES, default="default",
                   help="default, lines, gray: 160x60 or 200x50, capitals and digits; colour: per-character colours "
                        "and 22 fonts, both cases; wide: big glyphs, 285-690 pixels wide, both cases")
    p.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")
    p.set_defaults(run=run_generate)

    p = commands.add_parser("train", help="train a model; writes RUN_DIR/model.pt and RUN_DIR/history.json",
                            description="Train a model. Every option left out takes the model's recipe value.")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run that stopped, from its last epoch "
                                                        "(RUN_DIR/last.pt), with its own options")
    _add_train_options(p)
    p.set_defaults(run=run_train)

    p = commands.add_parser("pretrain", help="train the general reader the package ships (fresh mixed-style "
                                             "CAPTCHAs, every digit and ASCII letter)")
    p.add_argument("--out", default="runs/pretrained", help="run folder (default: %(default)s)")
    p.add_argument("--steps", type=_positive_int, default=None, help="optimiser steps (default: the shipped "
                                                                      "reader's, 15000)")
    p.add_argument("--seed", type=int, default=None, help="default: 0, as the shipped reader")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--workers", type=_count, default=None,
                   help="processes rendering images (default: 1, for 2 cores; on a GPU, most of the cores: "
                        "the images are the same whatever the number)")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--ship", action="store_true", help="copy the result over the package's pretrained/general.pt")
    p.set_defaults(run=run_pretrain)

    p = commands.add_parser("evaluate", help="accuracy and CER of a model on DIR/val (or DIR)")
    _add_reader_options(p, decoder=False)
    _add_labelled_data_options(p)
    p.add_argument("--decoders", nargs="+", default=["greedy", "beam:4", "beam:16", "constrained:16"],
                   help="decoders to compare; the first is the headline (default: %(default)s)")
    p.add_argument("--errors", default=None, help="write the wrong reads here (TSV: path, truth, decoder, "
                                                  "prediction, confidence)")
    p.set_defaults(run=run_evaluate)

    p = commands.add_parser("calibrate", help="fit the confidence temperature and threshold on labelled images "
                                              "the model did not train on; stored in the checkpoint")
    p.add_argument("--checkpoint", required=True, help="the model.pt to calibrate (rewritten in place)")
    _add_labelled_data_options(p)
    p.add_argument("--target-accuracy", type=float, default=0.99, help="the threshold accepts reads this accurate "
                                                                       "(default: %(default)s)")
    p.set_defaults(run=run_calibrate)

    p = commands.add_parser("label", help="read a folder of unlabelled images: confident reads to labels.tsv, "
                                          "the rest to review.tsv (least confident first)")
    p.add_argument("--checkpoint", required=True, help="a calibrated model.pt (train calibrates its own)")
    p.add_argument("--in", dest="input", required=True, metavar="DIR", help="the unlabelled images")
    p.add_argument("--out", required=True, metavar="DIR", help="where labels.tsv and review.tsv go")
    p.add_argument("--threshold", type=float, default=None, help="accept reads this confident (default: the "
                                                                  "checkpoint's calibrated threshold)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps, auto (default: cpu)")
    p.add_argument("--batch-size", type=_positive_int, default=READ_BATCH_SIZE, help="images per model call")
    p.set_defaults(run=run_label)

    p = commands.add_parser("predict", help="print PATH<TAB>TEXT for each image")
    p.add_argument("paths", nargs="+", metavar="PATH")
    _add_reader_options(p)
    p.add_argument("--confidence", action="store_true", help="add a third column: P(text | image)")
    p.set_defaults(run=run_predict)

    p = commands.add_parser("export", help="export a checkpoint to ONNX (runs without torch)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.set_defaults(run=run_export)

    p = commands.add_parser("serve", help="an HTTP API: POST /predict, /predict/batch; GET /health, /metadata, /docs")
    _add_reader_options(p)
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (this machine only) or 0.0.0.0 (everyone)")
    p.add_argument("--port", type=_port, default=8000, help="1-65535 (default: %(default)s)")
    p.add_argument("--max-batch", type=_positive_int, default=MAX_BATCH, help="images per /predict/batch request")
    p.add_argument("--max-image-bytes", type=_positive_int, default=MAX_IMAGE_BYTES, help="larger uploads get 413")
    p.add_argument("--request-timeout", type=_positive_float, default=REQUEST_TIMEOUT, help="seconds a client has "
                   "to send a whole request; then the connection is closed (default: %(default)s)")
    p.add_argument("--max-connections", type=_positive_int, default=MAX_CONNECTIONS, help="open connections beyond "
                   "it are closed, requests in progress beyond it get 503 (default: %(default)s)")
    p.set_defaults(run=run_serve)
    return parser


