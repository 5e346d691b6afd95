"""Training recipes: which optimiser settings, batch size and augmentation go with which model.

`train_run` is what `python -m captcha_lib train` does: load the data, build the model,
fit with the model's recipe (overridable), write RUN_DIR/model.pt and history.json.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from torch.utils.data import DistributedSampler

from . import distributed
from .ctc import min_time_steps
from .data import (CaptchaDataset, datasets_from_paths, label_from_path, make_loader, split_paths,
                   vocabulary_from_paths)
from .defaults import DEFAULT_ALPHABET, DEFAULT_LENGTH
from .errors import DataError
from .images import IMAGE_SIZE, parse_image_size
from .models import DEFAULT_MODEL, build_model, count_parameters, time_steps
from .synthetic import IMAGES_PER_EPOCH, SyntheticCaptchas
from .trainer import Trainer, TrainerConfig, resolve_device, set_seed
from .vocab import Vocabulary, parse_length

RECIPES = {
    # The reference notebook, as written: Adam 1e-3, batch 32, plateau halving, early stop at 10.
    "reference": {"epochs": 50, "lr": 1e-3, "batch_size": 32, "augment": False,
                  "plateau_patience": 5, "early_stopping_patience": 10},
    # The default: a fixed budget of optimiser steps (whatever the data set's size), a short
    # warm-up, then a cosine decay that ends with the budget (or with --max-minutes).
    "crnn": {"epochs": 1000, "steps": 5000, "lr": 4e-3, "batch_size": 32, "augment": "auto",
             "schedule": "cosine", "warmup_steps": 100, "grad_clip": 5.0, "early_stopping_patience": None},
}


def recipe_config(model_name: str, **overrides) -> tuple[TrainerConfig, int, bool]:
    """(TrainerConfig, batch_size, augment) for a model, with non-None overrides applied."""
    recipe = {**RECIPES[model_name], **{k: v for k, v in overrides.items() if v is not None}}
    if overrides.get("epochs") is not None:
        recipe["steps"] = None  # asked for epochs: train them all
    batch_size, augment = recipe.pop("batch_size"), recipe.pop("augment")
    known = {f.name for f in fields(TrainerConfig)}
    return TrainerConfig(**{k: v for k, v in recipe.items() if k in known}), batch_size, augment


def train_run(data_dir, out_dir, model_name: str = DEFAULT_MODEL, epochs: int | None = None,
              max_minutes: float | None = None, batch_size: int | None = None, lr: float | None = None,
              seed: int = 0, val_fraction: float = 0.1, device: str = "auto", augment: bool | str | None = None,
              progress: bool = True, log=print, fresh_data: bool = False, images_per_epoch: int = IMAGES_PER_EPOCH,
              alphabet: str = DEFAULT_ALPHABET, length: int | str = DEFAULT_LENGTH, style: str = "default",
              amp: bool | None = None, compile: bool = False, workers: int | None = None,
              image_size: str | tuple[int, int] = IMAGE_SIZE) -> Trainer:
    """Train `model_name` on `data_dir`; write `out_dir/model.pt` and `out_dir/history.json`.

    `fresh_data`: train on CAPTCHAs rendered on the fly (`images_per_epoch` a epoch, of
    `alphabet`, `length` and `style`); validate on `data_dir`'s validation images.
    `image_size`: (height, width) or "HxW", what every image is resized to. The default
    squeezes a 200x50 CAPTCHA to 150x40; at "48x200" heavily warped, overlapping text reads
    better (README, Results), at 0.7-0.9x the training speed.
    Launched by torchrun, it trains on every process and only rank 0 logs and writes.
    """
    if batch_size is not None and batch_size < 1:
        raise DataError(f"batch size must be at least 1, got {batch_size}")
    image_size = parse_image_size(image_size)
    group = distributed.init_from_environment(device)
    try:
        return _train(group, data_dir, Path(out_dir), model_name, epochs, max_minutes, batch_size, lr, seed,
                      val_fraction, device, augment, progress, log if group.is_main else (lambda *args: None),
                      fresh_data, images_per_epoch, alphabet, length, style, amp, compile, workers, image_size)
    finally:
        distributed.shutdown()


def _train(group, data_dir, out_dir: Path, model_name, epochs, max_minutes, batch_size, lr, seed, val_fraction,
           device, augment, progress, log, fresh_data, images_per_epoch, alphabet, length, style, amp, compile,
           workers, image_size) -> Trainer:
    config, batch_size, augment = recipe_config(
        model_name, epochs=epochs, max_minutes=max_minutes, batch_size=batch_size, lr=lr, seed=seed,
        device=str(group.device) if group.device else device, augment=augment, progress=progress and group.is_main,
        checkpoint_path=str(out_dir / "model.pt"), amp=amp, compile=compile)
    set_seed(seed)
    # Vocabulary, model and the label check first, from file names alone: a size that cannot
    # work fails before minutes of decoding images.
    train_paths, val_paths = split_paths(data_dir, val_fraction, seed)
    if fresh_data:
        vocabulary = Vocabulary(alphabet)
        # the worst a generated label can be: the longest, doubled throughout
        labels = {alphabet[0] * parse_length(length)[1]: f"--length {length} (fresh data)"}
    else:
        vocabulary = vocabulary_from_paths(train_paths)
        labels = {label_from_path(p): str(p) for p in train_paths + val_paths}
    try:
        model = build_model(model_name, vocabulary.num_characters, image_height=image_size[0])
    except ValueError as exc:
        raise DataError(str(exc)) from None
    check_labels_fit(model, image_size, labels)
    if fresh_data:
        val_set = CaptchaDataset(val_paths, vocabulary, image_size)
        train_set = SyntheticCaptchas(vocabulary, images_per_epoch, alphabet, length, style, seed, image_size)
        source = f"{images_per_epoch} fresh {style!r} images a epoch"
    else:
        train_set, val_set = datasets_from_paths(train_paths, val_paths, seed, image_size, augment, vocabulary)
        source = f"{len(train_set)} train images{'' if train_set.in_memory else ' (read lazily: too many to cache)'}"
    on_gpu = (group.device or resolve_device(device)).type == "cuda"
    sampler = (DistributedSampler(train_set, num_replicas=group.world_size, rank=group.rank, shuffle=True, seed=seed)
               if group.world_size > 1 else None)
    log(f"{model_name}: {count_parameters(model):,} parameters | {source}, {len(val_set)} val images "
        f"at {image_size[0]}x{image_size[1]} "
        f"| alphabet {vocabulary.characters!r} | batch {batch_size}"
        f"{f' x {group.world_size} processes' if group.world_size > 1 else ''}, lr {config.lr}, "
        f"augment {getattr(train_set, 'augment', None) is not None}")
    trainer = Trainer(model, make_loader(train_set, batch_size, shuffle=True, seed=seed, num_workers=workers,
                                         sampler=sampler, pin_memory=on_gpu),
                      make_loader(val_set, 256, pin_memory=on_gpu), vocabulary, config, image_size,
                      metadata={"data": str(data_dir), "train_images": len(train_set), "val_images": len(val_set),
                                "fresh_data": fresh_data})
    log(f"device {trainer.device}{f', {trainer.amp_dtype} autocast' if trainer.amp_dtype else ''}"
        f"{', compiled' if compile else ''}")
    if group.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)

    def on_epoch(record: dict) -> None:
        log(f"epoch {record['epoch']:3d} | train loss {record['train_loss']:.4f} | val loss {record['val_loss']:.4f} "
            f"| val acc {record['val_sequence_accuracy']:.2%} | val CER {record['val_cer']:.4f} "
            f"| lr {record['lr']:.2e} | {record['seconds']:.1f}s{' | saved' if record.get('saved') else ''}")
        (out_dir / "history.json").write_text(json.dumps(trainer.history, indent=1))

    history = trainer.fit(on_epoch=on_epoch)
    if group.is_main:
        best = max(history, key=lambda r: (r["val_sequence_accuracy"], -r["val_loss"]))
        log(f"best: epoch {best['epoch']}, val acc {best['val_sequence_accuracy']:.2%}, val CER {best['val_cer']:.4f} "
            f"| {history[-1]['elapsed']:.0f}s | {out_dir / 'model.pt'}")
    return trainer


def check_labels_fit(model, image_size: tuple[int, int], labels: dict[str, str]) -> None:
    """A DataError unless the model's timesteps at `image_size` can hold every label.

    `labels`: label -> where it comes from (a file). A label that needs more than T steps
    cannot be aligned: CTC would skip it (zero_infinity) and the model never learn it.
    """
    steps = time_steps(model, image_size)
    longest = max(labels, key=min_time_steps)
    if min_time_steps(longest) > steps:
        raise DataError(f"images of {image_size[0]}x{image_size[1]} give the model {steps} timesteps, but the "
                        f"label {longest!r} ({labels[longest]}) needs {min_time_steps(longest)}: one per character "
                        f"and a blank between doubled letters; use a wider --image-size")
