"""A trainer that knows nothing about the model's insides.

It needs only that `model(images, targets, target_lengths)` returns `(logits, loss)`
with logits (T, B, C) for CTC, and that batches are dicts from `data.collate_batch`.
Per epoch it records train loss, validation loss, sequence accuracy, CER, learning
rate and seconds; it keeps the best weights (by accuracy, then loss), saves them as a
checkpoint, lowers the learning rate on a plateau and stops early or on a time limit.

The same loop runs on a CPU, a GPU (mixed precision on by default there, optional
torch.compile) and under torchrun on several processes (distributed.py): the model is
wrapped for training, and the plain model is what is evaluated and saved, so every
checkpoint has one format.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from . import distributed
from .checkpoint import save_checkpoint
from .ctc import greedy_decode
from .metrics import character_error_rate, sequence_accuracy
from .vocab import Vocabulary


@dataclass
class TrainerConfig:
    epochs: int = 50
    steps: int | None = None  # total optimiser steps; if set, training ends there (epochs is then a cap)
    lr: float = 1e-3
    weight_decay: float = 0.0  # > 0 switches Adam to AdamW (decoupled decay)
    warmup_steps: int = 0  # linear warm-up of the learning rate, in batches
    grad_clip: float | None = None  # max gradient norm; None = no clipping
    schedule: str = "plateau"  # "plateau": ReduceLROnPlateau on val loss, as the reference;
    #                            "cosine": decay to 2% of lr over the budget (epochs or max_minutes)
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    early_stopping_patience: int | None = 10  # epochs without a better model; None = never
    max_minutes: float | None = None  # wall-clock limit for the whole fit
    device: str = "auto"
    seed: int = 0
    checkpoint_path: str | None = None  # where the best model is saved, if anywhere
    progress: bool = True  # tqdm bars
    amp: bool | None = None  # mixed precision (bf16, else fp16); None: on for CUDA, off elsewhere
    compile: bool = False  # torch.compile the training forward pass


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" picks cuda, then mps, then cpu."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


class Trainer:
    def __init__(self, model, train_loader, val_loader, vocabulary: Vocabulary,
                 config: TrainerConfig | None = None, image_size: tuple[int, int] = (40, 150),
                 metadata: dict | None = None):
        self.config = config or TrainerConfig()
        self.group = distributed.current()  # world size 1 unless launched by torchrun
        self.device = resolve_device(self.config.device)
        self.model = model.to(self.device)  # the plain model: evaluated and saved
        self.train_model = self._wrap_for_training(self.model)  # what the training step calls
        self.amp_dtype = self._amp_dtype()
        # fp16 needs its gradients scaled up (they underflow otherwise); bf16 and fp32 do not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.train_loader, self.val_loader = train_loader, val_loader
        self.vocabulary, self.image_size = vocabulary, tuple(image_size)
        self.metadata = dict(metadata or {})
        lengths = getattr(getattr(train_loader, "dataset", None), "label_lengths", None)
        if lengths is not None:  # checkpoints record them: constrained decoding's default
            self.metadata.setdefault("label_lengths", lengths)
        cfg = self.config
        optimizer_class = torch.optim.AdamW if cfg.weight_decay else torch.optim.Adam
        self.optimizer = optimizer_class(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(  # no verbose=: gone in torch 2.7
            self.optimizer, factor=cfg.plateau_factor, patience=cfg.plateau_patience)
        self.history: list[dict] = []
        self.step = 0
        self.best_key = (-1.0, -math.inf)  # (accuracy, -loss): higher is better
        self.best_state = None
        self._time_limit = math.inf  # seconds
        self._start = time.monotonic()
        self._elapsed = 0.0
        if self.config.schedule not in ("plateau", "cosine"):
            raise ValueError(f"schedule must be 'plateau' or 'cosine', got {self.config.schedule!r}")

    def _wrap_for_training(self, model):
        if self.group.world_size > 1:  # gradients averaged over processes in backward()
            device_ids = [self.device.index or torch.cuda.current_device()] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=device_ids)
        if self.config.compile:
            model = torch.compile(model)
        return model

    def _amp_dtype(self) -> torch.dtype | None:
        amp = self.config.amp if self.config.amp is not None else self.device.type == "cuda"
        if not amp:
            return None
        if self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return torch.float16  # older GPUs: fp16 with a gradient scaler
        return torch.bfloat16  # same range as fp32: no scaler needed

    # ---------------------------------------------------------------- one pass each

    def _to_device(self, batch: dict):
        # non_blocking: with pinned memory the copy to a GPU overlaps the next computation
        return (batch["images"].to(self.device, non_blocking=True),
                batch["targets"].to(self.device, non_blocking=True),
                batch["target_lengths"].to(self.device, non_blocking=True))

    def _sync_clock(self) -> None:
        """Seconds since fit started, the same on every process (the slowest one's)."""
        self._elapsed = distributed.agree_max(time.monotonic() - self._start, self.device)

    def _out_of_budget(self) -> bool:
        return self._elapsed > self._time_limit or self.step >= self._total_steps()

    def _total_steps(self) -> int:
        epoch_steps = self.config.epochs * max(len(self.train_loader), 1)
        return min(self.config.steps, epoch_steps) if self.config.steps else epoch_steps

    def _budget_used(self) -> float:
        """Fraction of the training budget spent: steps of all epochs, or the time limit."""
        used = self.step / self._total_steps()
        if self.config.max_minutes:
            used = max(used, self._elapsed / (self.config.max_minutes * 60))
        return min(used, 1.0)

    def _set_lr(self) -> None:
        """Per-step learning rate: linear warm-up, then cosine decay if asked for."""
        cfg = self.config
        if cfg.schedule == "cosine":
            lr = cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * self._budget_used())))
        elif self.step <= cfg.warmup_steps:
            lr = cfg.lr  # plateau: the scheduler lowers it after warm-up
        else:
            return
        if self.step < cfg.warmup_steps:
            lr *= (self.step + 1) / cfg.warmup_steps
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def train_epoch(self) -> float:
        """One pass over the training data; the mean batch loss."""
        self.model.train()
        total, batches, self.epoch_images = 0.0, 0, 0
        # mininterval: a bar redrawn every step floods a notebook kernel's output channel
        # (nbval then loses messages); every 2 s is plenty for a human.
        bar = tqdm(self.train_loader, desc="train", leave=False, mininterval=2.0,
                   disable=not (self.config.progress and self.group.is_main))
        for batch in bar:
            images, targets, target_lengths = self._to_device(batch)
            self._set_lr()  # from the clock as last agreed, so every process sets the same rate
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                _, loss = self.train_model(images, targets, target_lengths)  # CTC itself runs in fp32
            self.scaler.scale(loss).backward()
            if self.config.grad_clip:
                self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            total, batches = total + loss.item(), batches + 1
            self.epoch_images += len(images)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)  # drawn at the bar's own pace
            self._sync_clock()
            if self._out_of_budget():
                break  # the time limit or the step budget: stop mid-epoch, evaluate what we have
        return total / max(batches, 1)

    @torch.no_grad()
    def evaluate(self, loader=None) -> dict:
        """Loss, sequence accuracy and CER on `loader` (default: validation)."""
        self.model.eval()
        loader = loader or self.val_loader
        total_loss, n, predictions, truths = 0.0, 0, [], []
        for batch in tqdm(loader, desc="eval", leave=False, disable=not self.config.progress, mininterval=2.0):
            images, targets, target_lengths = self._to_device(batch)
            logits, loss = self.model(images, targets, target_lengths)  # logits (T, B, C)
            total_loss += loss.item() * len(images)
            n += len(images)
            predictions += greedy_decode(logits, self.vocabulary)
            truths += batch["labels"]
        return {"loss": total_loss / max(n, 1), "sequence_accuracy": sequence_accuracy(predictions, truths),
                "cer": character_error_rate(predictions, truths), "predictions": predictions, "labels": truths}

    # ---------------------------------------------------------------------- the loop

    def fit(self, on_epoch=None) -> list[dict]:
        """Train until epochs, early stopping or the time limit; keep the best weights.

        `on_epoch(record)` is called after each epoch (the command line prints with it).
        Under torchrun only rank 0 evaluates, records, calls `on_epoch` and saves; it sends
        the others what they need to stay in step (the validation loss, stop or not).
        """
        cfg = self.config
        set_seed(cfg.seed)
        start = self._start = time.monotonic()
        self._time_limit = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        epochs_without_improvement = 0
        for epoch in range(1, cfg.epochs + 1):
            for part in (getattr(self.train_loader, "sampler", None), getattr(self.train_loader, "dataset", None)):
                if hasattr(part, "set_epoch"):
                    part.set_epoch(epoch)  # a new shuffle per epoch (DistributedSampler), fresh images (synthetic)
            epoch_start = time.monotonic()
            train_loss = self.train_epoch()
            train_seconds = time.monotonic() - epoch_start
            stop_early = False
            if self.group.is_main:
                val = self.evaluate()
                record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val["loss"],
                          "val_sequence_accuracy": val["sequence_accuracy"], "val_cer": val["cer"],
                          "lr": self.optimizer.param_groups[0]["lr"],
                          "seconds": time.monotonic() - epoch_start, "train_seconds": train_seconds,
                          "train_images": self.epoch_images * self.group.world_size,  # all processes
                          "elapsed": time.monotonic() - start}
                self.history.append(record)
                key = (val["sequence_accuracy"], -val["loss"])
                if key > self.best_key:
                    self.best_key, epochs_without_improvement = key, 0
                    self.best_state = copy.deepcopy(self.model.state_dict())
                    record["saved"] = self.save(epoch)
                else:
                    epochs_without_improvement += 1
                if on_epoch:
                    on_epoch(record)
                stop_early = bool(cfg.early_stopping_patience and epochs_without_improvement >= cfg.early_stopping_patience)
            val_loss, stop_early = distributed.broadcast_from_main(
                [val["loss"] if self.group.is_main else 0.0, float(stop_early)], self.device)
            if cfg.schedule == "plateau":
                self.scheduler.step(val_loss)  # the same learning rate on every process
            self._sync_clock()
            if stop_early or self._out_of_budget():
                break
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)  # hand back the best model, not the last
        return self.history

    def save(self, epoch: int) -> bool:
        if not self.config.checkpoint_path or not self.group.is_main:
            return False
        best = self.history[-1]
        metadata = {**self.metadata, "epoch": epoch, "val_sequence_accuracy": best["val_sequence_accuracy"],
                    "val_cer": best["val_cer"], "val_loss": best["val_loss"],
                    "trainer_config": asdict(self.config), "torch_version": torch.__version__,
                    "world_size": self.group.world_size}
        save_checkpoint(Path(self.config.checkpoint_path), self.model, self.vocabulary, self.image_size, metadata)
        return True
