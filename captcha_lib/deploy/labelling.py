"""Labelling with the model in the loop: calibrate a checkpoint, then let it label a folder.

    calibrate_checkpoint("runs/site/model.pt", held_out_paths, labeller, target_accuracy=0.99)
    label_folder("runs/site/model.pt", "unlabelled/", "labelled/")

`calibrate_checkpoint` fits the temperature and the confidence threshold on labelled images
the model did not train on (decoding/calibration.py) and stores them in the checkpoint.
`label_folder` reads every image of a folder: the reads at or above the threshold go to
`labels.tsv` (path<TAB>text, usable as `train --labels`), the rest to `review.tsv`, least
confident first, for a person to correct (notebook 08 does it in a widget). An image that
cannot be read (cut off, damaged, not an image) does not stop the others: it is listed in
`unreadable.tsv` with the reason. The threshold is never made up here: a checkpoint without
a calibration is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from ..data.labels import FILE_NAMES, Labeller, list_images
from ..decoding.calibration import calibrate
from ..errors import CheckpointError, ConfigError, DataError, ImageError
from ..files import atomic_path, write_text
from ..model.checkpoint import read_checkpoint
from .reader import Reader


def calibrate_checkpoint(checkpoint_path: str | Path, paths: Sequence[str | Path], labeller: Labeller = FILE_NAMES,
                         target_accuracy: float = 0.99, reader: Reader | None = None) -> dict:
    """Fit temperature and threshold on labelled `paths`; write them into the checkpoint; return them."""
    if not (isinstance(target_accuracy, (int, float)) and 0 < target_accuracy <= 1):
        raise ConfigError(f"target accuracy must be a fraction above 0 and at most 1, got {target_accuracy!r}")
    if not paths:
        raise DataError("calibration needs labelled images the model did not train on; none were given")
    reader = reader or Reader.from_checkpoint(checkpoint_path)
    truths = [labeller(p) for p in paths]
    for truth, path in zip(truths, paths):
        reader.vocabulary.encode(truth, source=str(path))
    calibration = calibrate(list(reader.batched_logits(list(paths))), truths, reader.vocabulary, target_accuracy)
    checkpoint = read_checkpoint(checkpoint_path)
    checkpoint["metadata"] = {**checkpoint.get("metadata", {}), "calibration": calibration}
    with atomic_path(checkpoint_path) as partial:
        torch.save(checkpoint, partial)
    return calibration


def label_folder(checkpoint_path: str | Path, in_dir: str | Path, out_dir: str | Path,
                 threshold: float | None = None, reader: Reader | None = None) -> dict:
    """Read every image in `in_dir`; write `out_dir/labels.tsv` (confident) and `out_dir/review.tsv`.

    `threshold`: accept reads at or above this confidence (default: the checkpoint's
    calibrated one). Paths in both files are relative to `out_dir`, as `--labels` reads them.
    Images that cannot be read go to `out_dir/unreadable.tsv` (path<TAB>reason).
    Returns {"images", "accepted", "review", "unreadable", "threshold"}."""
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1.01):
        raise ConfigError(f"threshold must be a confidence from 0 to 1, got {threshold!r}")
    reader = reader or Reader.from_checkpoint(checkpoint_path)
    if threshold is None:
        calibration = reader.metadata.get("calibration")
        if not isinstance(calibration, dict) or "threshold" not in calibration:
            raise CheckpointError(f"{checkpoint_path} has no calibrated threshold; calibrate it on labelled "
                                  f"images first (`python -m captcha_lib calibrate`), or give --threshold")
        threshold = float(calibration["threshold"])
    paths = list_images(in_dir, labeller=None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    readings, unreadable = _read_what_can_be_read(reader, paths)
    relative = [Path(os.path.relpath(Path(p).resolve(), out_dir.resolve())).as_posix() for p in paths]
    failed = [(rel, unreadable[i]) for i, rel in enumerate(relative) if i in unreadable]
    relative = [rel for i, rel in enumerate(relative) if i not in unreadable]
    accepted = [(rel, r) for rel, r in zip(relative, readings) if r.confidence >= threshold and r.text]
    review = sorted(((rel, r) for rel, r in zip(relative, readings) if not (r.confidence >= threshold and r.text)),
                    key=lambda item: item[1].confidence)
    write_text(out_dir / "labels.tsv", "".join(f"{rel}\t{r.text}\n" for rel, r in accepted))
    write_text(out_dir / "review.tsv", "path\tread\tconfidence\n" +
               "".join(f"{rel}\t{r.text}\t{r.confidence:.6f}\n" for rel, r in review))
    if failed or (out_dir / "unreadable.tsv").exists():
        write_text(out_dir / "unreadable.tsv", "path\treason\n" + "".join(f"{rel}\t{why}\n" for rel, why in failed))
    return {"images": len(paths), "accepted": len(accepted), "review": len(review), "unreadable": len(failed),
            "threshold": threshold}


def _read_what_can_be_read(reader: Reader, paths: list[Path]) -> tuple[list, dict[int, str]]:
    """Readings of the images that load, and {index: reason} for those that do not.
    A batch that fails is read again one image at a time, so one bad file costs only itself."""
    readings, unreadable = [], {}
    for start in range(0, len(paths), reader.batch_size):
        chunk = paths[start:start + reader.batch_size]
        try:
            readings += reader.read(chunk)
            continue
        except ImageError:
            pass
        for index, path in enumerate(chunk, start):
            try:
                readings += reader.read([path])
            except ImageError as exc:
                unreadable[index] = " ".join(str(exc).split())  # one line in the TSV
    return readings, unreadable
