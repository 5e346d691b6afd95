"""`train_run(config)`: what `python -m captcha_lib train` does.

Check the options and the labels first (from file names alone, before any image is
decoded), then load the data, build the model, fit, and write RUN_DIR/model.pt (the best
model), RUN_DIR/history.json (one record per epoch) and RUN_DIR/last.pt (everything
needed to resume), all atomically. `resume_run(RUN_DIR)` continues a run that stopped: Ctrl-C,
a closed Colab tab or a killed process costs at most the epoch under way.
Launched by torchrun, it trains on every process and only rank 0 logs and writes.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from torch.utils.data import DistributedSampler

from ..data.datasets import CaptchaDataset, datasets_from_paths, make_loader
from ..data.generate import MIX_STYLES, render
from ..data.images import fitted_width, image_shape
from ..data.labels import Labeller, list_images, split_is_given, split_paths, vocabulary_from_paths
from ..data.synthetic import SyntheticCaptchas
from ..data.vocab import Vocabulary, parse_length
from ..errors import CheckpointError, ConfigError, DataError
from ..files import write_json
from ..model.build import build_model, count_parameters, resolve_device, time_steps
from ..model.checkpoint import safe_load
from ..model.ctc import min_time_steps
from ..model.transfer import architecture_of, initialise_from, read_init
from . import distributed
from .config import TrainConfig
from .schedule import set_seed
from .trainer import Trainer


def train_run(config: TrainConfig, log=print, on_epoch=None, resume_from: dict | None = None) -> Trainer:
    """Train as `config` says; return the Trainer (its model holds the best weights).

    `log` prints each line (the start, every epoch, the best); `on_epoch(record)` is called
    after each epoch too, e.g. by a benchmark that watches the accuracy climb.
    `resume_from`: a training state (`read_state`) to continue from; `resume_run` passes it.
    """
    if not config.data or not config.out:
        raise ConfigError("training needs a data folder and a run folder (config.data and config.out)")
    if config.unlabelled and resume_from is None:
        from .pseudo import train_with_pseudo_labels

        return train_with_pseudo_labels(config, log, on_epoch)
    resolve_device(config.device)  # an absent GPU is a clear error before any work
    group = distributed.init_from_environment(config.device)
    try:
        if group.device is not None:  # torchrun: this process's GPU
            config = replace(config, device=str(group.device))
        config = replace(config, progress=config.progress and group.is_main)
        return _train(config, group, log if group.is_main else (lambda *args: None), on_epoch, resume_from)
    finally:
        distributed.shutdown()


def read_state(run_dir: str | Path) -> dict:
    """RUN_DIR/last.pt, checked: the state a stopped run left."""
    path = Path(run_dir) / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no last.pt to resume from (a run writes it after its first epoch)")
    state = safe_load(path, "training state")
    if not isinstance(state, dict) or state.get("format") != "captcha_lib.training_state":
        raise CheckpointError(f"{path} is not a captcha_lib training state")
    return state


def resume_run(run_dir: str | Path, log=print, on_epoch=None, **overrides) -> Trainer:
    """Continue the run in `run_dir` from its last epoch, with its own configuration
    (`overrides`, such as a larger `epochs`, change it)."""
    state = read_state(run_dir)
    config = TrainConfig(**{**state["config"], "out": str(run_dir), **overrides})
    return train_run(config, log, on_epoch, resume_from=state)


def _train(config: TrainConfig, group, log, on_epoch, resume_from: dict | None) -> Trainer:
    out_dir = Path(config.out)
    if group.is_main:
        _check_writable(out_dir)
        if resume_from is None and not config.overwrite and (out_dir / "model.pt").exists():
            raise ConfigError(f"{out_dir} already holds a trained model (model.pt); continue it with --resume "
                              f"{out_dir}, give another --out, or replace it with --overwrite")
    set_seed(config.seed)
    train_set, val_set, vocabulary, model = _data_and_model(config, log)
    source = (f"{config.images_per_epoch} fresh {config.style!r} images an epoch" if config.fresh_data else
              f"{len(train_set)} train images{'' if train_set.in_memory else ' (read lazily: too many to cache)'}")
    on_gpu = resolve_device(config.device).type == "cuda"
    sampler = (DistributedSampler(train_set, num_replicas=group.world_size, rank=group.rank, shuffle=True,
                                  seed=config.seed) if group.world_size > 1 else None)
    height, width = config.image_size
    log(f"{config.model}: {count_parameters(model):,} parameters | {source}, {len(val_set)} val images "
        f"| {height} pixels high, at most {width} wide, {config.time_stride} pixels a timestep"
        f"{f', coarse head over {config.coarse_factor}' if config.model == 'crnn' and config.coarse_weight else ''}"
        f" | alphabet {vocabulary.characters!r} | batch {config.batch_size}"
        f"{f' x {group.world_size} processes' if group.world_size > 1 else ''}, lr {config.lr}, "
        f"augment {getattr(train_set, 'augment', None) is not None}")
    train_loader = make_loader(train_set, config.batch_size, shuffle=True, seed=config.seed,
                               num_workers=config.workers, sampler=sampler, pin_memory=on_gpu)
    trainer = Trainer(model, train_loader, make_loader(val_set, 256, pin_memory=on_gpu), vocabulary, config,
                      metadata={"data": str(config.data), "train_images": len(train_set),
                                "val_images": len(val_set), "fresh_data": config.fresh_data})
    log(f"device {trainer.device}{f', {trainer.amp_dtype} autocast' if trainer.amp_dtype else ''}"
        f"{', compiled' if config.compile else ''}")
    if resume_from is not None:
        try:
            trainer.load_state_dict(resume_from)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{out_dir / 'last.pt'} does not fit this run ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        log(f"resuming after epoch {trainer.epoch} (step {trainer.step}, {trainer.elapsed:.0f}s trained)")

    def after_epoch(record: dict) -> None:
        log(f"epoch {record['epoch']:3d} | train loss {record['train_loss']:.4f} | val loss {record['val_loss']:.4f} "
            f"| val acc {record['val_sequence_accuracy']:.2%} | val CER {record['val_cer']:.4f} "
            f"| lr {record['lr']:.2e} | {record['seconds']:.1f}s{' | saved' if record.get('saved') else ''}")
        write_json(out_dir / "history.json", trainer.history)
        if on_epoch:
            on_epoch(record)

    history = trainer.fit(on_epoch=after_epoch)
    if group.is_main:
        best = max(history, key=lambda r: (r["val_sequence_accuracy"], -r["val_loss"]))
        log(f"best: epoch {best['epoch']}, val acc {best['val_sequence_accuracy']:.2%}, val CER {best['val_cer']:.4f} "
            f"| {history[-1]['elapsed']:.0f}s | {out_dir / 'model.pt'}")
        _calibrate(out_dir / "model.pt", val_set, config.target_accuracy, log)
    return trainer


def _calibrate(model_path: Path, val_set, target_accuracy: float, log) -> None:
    """Temperature and confidence threshold, fitted on the validation images, into model.pt."""
    from ..deploy.labelling import calibrate_checkpoint

    labels = dict(zip(val_set.paths, val_set.labels))
    c = calibrate_checkpoint(model_path, val_set.paths, labels.__getitem__, target_accuracy)
    accepted = (f"reads at confidence >= {c['threshold']:.3f} were {c['accuracy']:.1%} right ({c['coverage']:.0%} of "
                f"the images)" if c["coverage"] else "no confidence threshold reaches it: `label` will accept no read")
    log(f"calibrated on the {c['images']} val images: temperature {c['temperature']:.2f}, calibration error "
        f"{c['ece_before']:.3f} -> {c['ece_after']:.3f}; target accuracy {target_accuracy:.1%}: {accepted}")


def _data_and_model(config: TrainConfig, log=print):
    """(train set, val set, vocabulary, model). Vocabulary, model and the label check come
    first, from file names and image headers alone: a size that cannot work fails before
    minutes of decoding. An "auto" coarse_factor is set on `config` here, from those sizes."""
    labeller = config.labeller()  # a labels file is read and checked here, line by line
    if config.fresh_data:  # DIR/val, or DIR itself: all of it validation
        folder = Path(config.data) / "val" if (Path(config.data) / "val").is_dir() else Path(config.data)
        val_paths = list_images(folder, labeller)
    else:
        train_paths, val_paths = split_paths(config.data, config.val_fraction, config.seed, labeller)
        if config.extra_labels:
            train_paths, labeller = _with_extra_labels(train_paths, labeller, config)
    if config.fresh_data:
        vocabulary = Vocabulary(config.alphabet)
        # the worst a generated label can be: the longest, doubled throughout
        worst = config.alphabet[0] * parse_length(config.length)[1]
        styles = MIX_STYLES if config.style == "mix" else (config.style,)
        labels = [(worst, f"--length {config.length} (fresh {style!r} data)",
                   render(worst, 0, style, stretch=config.style == "mix").size[::-1]) for style in styles]
    else:
        # A split made here at random (a flat folder) can leave a character of a few labels only
        # in val: it gets its row, with a note, rather than stopping the run. A val/ folder the
        # user made is held to the training alphabet (there, such a character is more likely a typo).
        made_here = not split_is_given(config.data)
        vocabulary = vocabulary_from_paths(train_paths + (val_paths if made_here else []), labeller)
        only_in_val = (set(vocabulary.characters) - set(vocabulary_from_paths(train_paths, labeller).characters)
                       if made_here else set())  # a user's val/ never adds a character
        if only_in_val:
            files = [p.name for p in val_paths if only_in_val & set(labeller(p))]
            log(f"note: {''.join(sorted(only_in_val))!r} only in the val images ({', '.join(files[:3])}"
                f"{', ...' if len(files) > 3 else ''}): no training image teaches {'it' if len(only_in_val) == 1 else 'them'}")
        labels = [(labeller(p), str(p), image_shape(p)) for p in train_paths + val_paths]
    init, architecture = (read_init(config.init) if config.init else None), {}
    if init:  # the checkpoint decides the model, the image height and the stride
        checkpoint, init_path = init
        architecture = architecture_of(checkpoint)
        config.model = checkpoint["model_name"]
        config.image_size = (int(checkpoint["image_size"][0]), config.image_size[1])
        config.time_stride = architecture.pop("time_stride", 4)
        architecture.pop("image_height")
        if config.model != "crnn":
            config.coarse_weight = 0.0
    if config.model == "crnn" and config.coarse_factor == "auto":
        config.coarse_factor = coarse_factor_for(labels, config.image_size, config.time_stride)
    options = ({"time_stride": config.time_stride, "coarse_weight": config.coarse_weight,
                "coarse_factor": config.coarse_factor} if config.model == "crnn" else {})
    model = build_model(config.model, vocabulary.num_characters, image_height=config.image_size[0],
                        **options, **architecture)
    if init:
        copied = initialise_from(model, vocabulary, *init)
        new = copied["new_characters"]
        log(f"started from {init[1]}: {copied['copied']} tensors and {copied['rows']} characters' rows copied"
            f"{f', {new} new characters start fresh' if new else ''}")
    check_labels_fit(model, config.image_size, labels)
    if config.fresh_data:
        val_set = CaptchaDataset(val_paths, vocabulary, config.image_size, labeller=labeller)
        train_set = SyntheticCaptchas(vocabulary, images_per_epoch=config.images_per_epoch, alphabet=config.alphabet,
                                      length=config.length, style=config.style, seed=config.seed,
                                      image_size=config.image_size)
    else:
        train_set, val_set = datasets_from_paths(train_paths, val_paths, seed=config.seed, image_size=config.image_size,
                                                 augment=config.augment, vocabulary=vocabulary, labeller=labeller)
    return train_set, val_set, vocabulary, model


def _with_extra_labels(train_paths: list[Path], labeller, config: TrainConfig):
    """(train paths, labeller) with the images of `config.extra_labels` added."""
    extra = Labeller(config.extra_labels, ignore_case=config.ignore_case)
    texts = {path: extra(path) for path in extra.paths()}
    known = {Path(p).resolve() for p in train_paths}

    def labels(path):
        resolved = Path(path).resolve()
        return texts[resolved] if resolved in texts else labeller(path)

    return train_paths + [p for p in texts if p not in known], labels


def _check_writable(out_dir: Path) -> None:
    """The run folder can be made and written, checked before the first epoch (it is made
    by the first write, so a run refused for its data leaves no folder behind)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"run folder {out_dir} is a file; give a folder for model.pt and history.json")
    existing = next(p for p in [out_dir, *out_dir.parents, Path(".")] if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write the run folder {out_dir}: {existing} is not a writable folder")


# The coarse head reads k timesteps as one: the smallest k (at least 2) that leaves the median
# training character at most this many coarse steps. On captcha-v2 (4 timesteps a character:
# k = 2) and the wide style (about 5: k = 3) that ends the all-blank plateau soonest
# (docs/results.md).
COARSE_STEPS_PER_CHARACTER = 2


def coarse_factor_for(labels, image_size: tuple[int, int], time_stride: int) -> int:
    """k for `labels`, (label, source, (height, width)) each, at `image_size` and `time_stride`."""
    steps = sorted(fitted_width(height, width, image_size) / time_stride / len(label)
                   for label, _, (height, width) in labels if label)
    if not steps:
        return 2
    return min(8, max(2, math.ceil(steps[len(steps) // 2] / COARSE_STEPS_PER_CHARACTER)))


def check_labels_fit(model, image_size: tuple[int, int], labels: list[tuple[str, str, tuple[int, int]]]) -> None:
    """A DataError unless each image gives the model enough timesteps for its label.

    `labels`: (label, where it comes from, the image's (height, width) before resizing).
    A label that needs more than its image's T steps cannot be aligned: CTC would skip it
    (zero_infinity) and the model never learn it.
    """
    steps: dict[int, int] = {}  # fitted width -> T, one dry run per width
    for label, source, (height, width) in labels:
        fitted = fitted_width(height, width, image_size)
        if fitted not in steps:
            steps[fitted] = time_steps(model, (image_size[0], fitted))
        if min_time_steps(label) > steps[fitted]:
            raise DataError(f"{source}: a {width}x{height} image becomes {fitted}x{image_size[0]} and gives the "
                            f"model {steps[fitted]} timesteps, but its label {label!r} needs "
                            f"{min_time_steps(label)}: one per character and a blank between doubled letters; "
                            f"use a larger --image-size (height x largest width)")
