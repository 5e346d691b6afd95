"""What each command does, once its options are parsed (parser.py builds the options).

Imports are inside the functions: `--help` and `predict --onnx` start without torch.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import fields
from pathlib import Path

from ..defaults import DEFAULT_MODEL
from ..errors import ConfigError, DataError


def run_generate(args) -> None:
    from ..data.generate import generate_dataset

    start = time.monotonic()
    counts = generate_dataset(args.out, args.train, args.val, seed=args.seed, length=args.length,
                              alphabet=args.alphabet, style=args.style, workers=args.workers, n_test=args.test)
    test = f" and {counts['test']} test" if counts["test"] else ""
    print(f"wrote {counts['train']} train, {counts['val']} val{test} images to {args.out} "
          f"in {time.monotonic() - start:.1f}s")


def run_train(args) -> None:
    from ..training.config import TrainConfig
    from ..training.run import resume_run, train_run

    options = {f.name for f in fields(TrainConfig)}
    given = {name: value for name, value in vars(args).items() if name in options and value is not None}
    if not (args.resume or (args.data and args.out)):
        raise ConfigError("train needs --data DIR and --out RUN_DIR (or --resume RUN_DIR)")
    try:
        if args.resume:
            resume_run(args.resume, **given)  # the run's own options, changed by any given here
        else:
            train_run(TrainConfig.recipe(given.pop("model", DEFAULT_MODEL), **given))
    except KeyboardInterrupt:
        run_dir = Path(args.resume or args.out)
        if (run_dir / "last.pt").is_file():
            print(f"stopped: the best model so far is {run_dir / 'model.pt'}; `python -m captcha_lib train --resume "
                  f"{run_dir}` continues from the last finished epoch", file=sys.stderr)
        raise


def run_pretrain(args) -> None:
    from ..training.pretrain import pretrain

    start = time.monotonic()
    given = {"steps": args.steps, "seed": args.seed, "device": args.device, "workers": args.workers,
             "overwrite": args.overwrite or None}
    path = pretrain(args.out, ship=args.ship, **{k: v for k, v in given.items() if v is not None})
    print(f"pretrained reader: {path} in {(time.monotonic() - start) / 60:.1f} minutes")


def _decoder(args, spec: str):
    """A decoder from its spec and the --decode-length / --decode-alphabet constraints."""
    from ..data.vocab import parse_length
    from ..decoding.decoders import parse_decoder

    low, high = parse_length(args.decode_length) if args.decode_length is not None else (None, None)
    return parse_decoder(spec, low, high, args.decode_alphabet)


def _reader(args, decoder="greedy"):
    """The reader a command asked for: --onnx (onnxruntime, no torch) or --checkpoint (PyTorch)."""
    from ..deploy.reader import Reader

    if args.onnx:
        return Reader.from_onnx(args.onnx, batch_size=args.batch_size, decoder=decoder)
    return Reader.from_checkpoint(_checkpoint(args), device=args.device, batch_size=args.batch_size, decoder=decoder)


def _checkpoint(args) -> str:
    """--checkpoint, or the shipped reader's file for --pretrained."""
    if getattr(args, "pretrained", False):
        from ..training.pretrain import pretrained_path

        return str(pretrained_path())
    return args.checkpoint


def _labelled_paths(args) -> tuple[list, object]:
    """(paths, labeller) of the labelled images --data names: DIR/val if there is one, else DIR."""
    from ..data.labels import Labeller, list_images

    labeller = Labeller(args.labels, args.label_pattern, args.ignore_case)
    folder = Path(args.data)
    folder = folder / "val" if (folder / "val").is_dir() else folder
    return list_images(folder, labeller), labeller


def run_calibrate(args) -> None:
    from ..deploy.labelling import calibrate_checkpoint

    paths, labeller = _labelled_paths(args)
    c = calibrate_checkpoint(args.checkpoint, paths, labeller, args.target_accuracy)
    print(f"{args.checkpoint}: temperature {c['temperature']:.2f}, expected calibration error {c['ece_before']:.3f} "
          f"-> {c['ece_after']:.3f} on {c['images']} images ({c['held_out_accuracy']:.1%} read right); reads at "
          f"confidence >= {c['threshold']:.4f} are {c['accuracy']:.1%} right, {c['coverage']:.0%} of the images")


def run_label(args) -> None:
    from ..deploy.labelling import label_folder

    from ..deploy.reader import Reader

    reader = Reader.from_checkpoint(args.checkpoint, device=args.device, batch_size=args.batch_size)
    counts = label_folder(args.checkpoint, args.input, args.out, args.threshold, reader=reader)
    print(f"{counts['accepted']} of {counts['images']} images read at confidence >= {counts['threshold']:.4f}: "
          f"{Path(args.out) / 'labels.tsv'}; {counts['review']} to check, least confident first: "
          f"{Path(args.out) / 'review.tsv'}")
    if counts["unreadable"]:
        print(f"{counts['unreadable']} images could not be read (damaged or not images): "
              f"{Path(args.out) / 'unreadable.tsv'}")


def run_evaluate(args) -> None:
    from ..decoding.evaluation import error_rows, evaluate_decoders
    from ..files import check_output_file, write_text

    if args.errors:
        check_output_file(args.errors)

    paths, labeller = _labelled_paths(args)
    folder = paths[0].parent
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


def run_predict(args) -> None:
    for path in args.paths:
        if not Path(path).is_file():
            raise DataError(f"image {path} does not exist")
    reader = _reader(args, _decoder(args, args.decoder))
    for path, reading in zip(args.paths, reader.read(args.paths)):
        print(f"{path}\t{reading.text}" + (f"\t{reading.confidence:.6g}" if args.confidence else ""))


def run_export(args) -> None:
    from ..deploy.export import export_onnx
    from ..deploy.reader import Reader
    from ..files import check_output_file

    check_output_file(args.out)

    path = export_onnx(args.checkpoint, args.out)
    reader = Reader.from_onnx(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {reader.model_name}, alphabet "
          f"{reader.vocabulary.characters!r}, images {tuple(reader.image_size)} (height, width)")


def run_serve(args) -> None:
    from ..deploy.serve import serve

    reader = _reader(args, _decoder(args, args.decoder))
    print(f"serving {reader.model_name} ({reader.backend}, {reader.decoder.name}) on http://{args.host}:{args.port} "
          f"| docs: http://{args.host}:{args.port}/docs | Ctrl-C stops", flush=True)
    serve(reader, args.host, args.port, request_timeout=args.request_timeout, max_connections=args.max_connections,
          max_image_bytes=args.max_image_bytes, max_batch=args.max_batch)


