"""A trainer that knows nothing about the model's insides.

It needs only that `model(images, targets, target_lengths)` returns `(logits, loss)`
with logits (T, B, C) for CTC, and that batches are dicts from `collate_batch`. A batch
of images of different widths (padded) also passes `widths=`, each image's width.
Per epoch it records train loss, validation loss, sequence accuracy, CER, learning
rate and seconds; it keeps the best weights (by accuracy, then loss) and saves them.
Scheduling and early stopping are small parts below: torch's `LambdaLR` (warm-up, then
cosine, stepped every batch) or `ReduceLROnPlateau` (the reference's, every epoch).

The same loop runs on a CPU, a GPU (mixed precision on by default there, optional
torch.compile) and under torchrun on several processes (distributed.py): the model is
wrapped for training, and the plain model is what is evaluated and saved, so every
checkpoint has one format. Seeding is the caller's: `set_seed` before building the model.

Nothing is lost when training stops: after every epoch the whole state (weights, optimiser,
scheduler, step, clock, history, random state) goes to RUN_DIR/last.pt, and `load_state_dict`
continues from it. Each epoch's shuffle and augmentation are drawn from (seed, epoch), so a
resumed run gives the same weights as one that never stopped.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from ..data.vocab import Vocabulary
from ..decoding.decoders import GREEDY
from ..decoding.metrics import character_error_rate, sequence_accuracy
from ..files import atomic_path
from ..model.build import resolve_device
from ..model.checkpoint import save_checkpoint
from . import distributed
from .config import TrainConfig
from .schedule import EarlyStopping, make_scheduler, warmup_cosine


class Trainer:
    def __init__(self, model, train_loader, val_loader, vocabulary: Vocabulary, config: TrainConfig | None = None,
                 metadata: dict | None = None):
        self.config = cfg = config or TrainConfig()
        self.group = distributed.current()  # world size 1 unless launched by torchrun
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)  # the plain model: evaluated and saved
        self.train_model = self._wrap_for_training(self.model)  # what the training step calls
        self.amp_dtype = self._amp_dtype()
        # fp16 needs its gradients scaled up (they underflow otherwise); bf16 and fp32 do not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.train_loader, self.val_loader = train_loader, val_loader
        self.vocabulary, self.image_size = vocabulary, tuple(cfg.image_size)
        self.checkpoint_path = Path(cfg.out) / "model.pt" if cfg.out else None  # the best model
        self.state_path = Path(cfg.out) / "last.pt" if cfg.out else None  # everything needed to resume
        self.metadata = dict(metadata or {})
        lengths = getattr(getattr(train_loader, "dataset", None), "label_lengths", None)
        if lengths is not None:  # checkpoints record them: constrained decoding's default
            self.metadata.setdefault("label_lengths", lengths)
        optimizer_class = torch.optim.AdamW if cfg.weight_decay else torch.optim.Adam
        self.history: list[dict] = []
        self.epoch = 0  # epochs completed
        self.step = 0
        self.best_key = (-1.0, -math.inf)  # (accuracy, -loss): higher is better
        self.best_state = None
        self._start = time.monotonic()
        self.elapsed = 0.0
        self.optimizer = optimizer_class(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = make_scheduler(  # the cosine schedule reads the step and the clock above
            self.optimizer, cfg, lambda: warmup_cosine(self.step, cfg.warmup_steps, self._budget_used()))
        self.early_stopping = EarlyStopping(cfg.early_stopping_patience)

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

    # ------------------------------------------------------------- budget and schedule

    def _total_steps(self) -> int:
        epoch_steps = self.config.epochs * max(len(self.train_loader), 1)
        return min(self.config.steps, epoch_steps) if self.config.steps else epoch_steps

    def _budget_used(self) -> float:
        """Fraction of the training budget spent: steps of all epochs, or the time limit."""
        used = self.step / self._total_steps()
        if self.config.max_minutes:
            used = max(used, self.elapsed / (self.config.max_minutes * 60))
        return min(used, 1.0)

    def _out_of_budget(self) -> bool:
        return self._budget_used() >= 1.0

    def _sync_clock(self) -> None:
        """Seconds since fit started, the same on every process (the slowest one's)."""
        self.elapsed = distributed.agree_max(time.monotonic() - self._start, self.device)

    # ---------------------------------------------------------------- one pass each

    def _inputs(self, batch: dict) -> tuple[tuple, dict]:
        """The model's arguments for `batch`, on the device: (images, targets, target_lengths),
        plus `widths` when the images were padded to the widest."""
        # non_blocking: with pinned memory the copy to a GPU overlaps the next computation
        images = batch["images"].to(self.device, non_blocking=True)  # (B, 3, H, W)
        args = (images, batch["targets"].to(self.device, non_blocking=True),
                batch["target_lengths"].to(self.device, non_blocking=True))
        widths = batch.get("widths")  # (B,)
        padded = widths is not None and bool((widths < images.shape[-1]).any())
        return args, ({"widths": widths.to(self.device)} if padded else {})

    def train_step(self, batch: dict) -> float:
        """One optimiser step on one batch; its loss."""
        args, kwargs = self._inputs(batch)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            _, loss = self.train_model(*args, **kwargs)  # CTC itself runs in fp32
        self.scaler.scale(loss).backward()
        if self.config.grad_clip:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        self._sync_clock()  # before the schedule: every process sets the same rate
        if self.config.schedule == "cosine":
            self.scheduler.step()
        return loss.item()

    def train_epoch(self) -> float:
        """One pass over the training data, or what is left of the budget; the mean batch loss."""
        self.model.train()
        total, batches, self.epoch_images = 0.0, 0, 0
        # mininterval: a bar redrawn every step floods a notebook kernel's output channel
        # (nbval then loses messages); every 2 s is plenty for a human.
        bar = tqdm(self.train_loader, desc="train", leave=False, mininterval=2.0,
                   disable=not (self.config.progress and self.group.is_main))
        for batch in bar:
            loss = self.train_step(batch)
            total, batches = total + loss, batches + 1
            self.epoch_images += len(batch["labels"])
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)  # drawn at the bar's own pace
            if self._out_of_budget():
                break  # the time limit or the step budget: stop mid-epoch, evaluate what we have
        return total / max(batches, 1)

    @torch.no_grad()
    def evaluate(self, loader=None) -> dict:
        """Loss, sequence accuracy and CER on `loader` (default: validation), greedy reads."""
        self.model.eval()
        loader = loader or self.val_loader
        total_loss, n, predictions, truths = 0.0, 0, [], []
        for batch in tqdm(loader, desc="eval", leave=False, disable=not self.config.progress, mininterval=2.0):
            args, kwargs = self._inputs(batch)
            logits, loss = self.model(*args, **kwargs)  # logits (T, B, C), padding read as blank
            total_loss += loss.item() * len(batch["labels"])
            n += len(batch["labels"])
            predictions += GREEDY.texts(logits, self.vocabulary)
            truths += batch["labels"]
        return {"loss": total_loss / max(n, 1), "sequence_accuracy": sequence_accuracy(predictions, truths),
                "cer": character_error_rate(predictions, truths), "predictions": predictions, "labels": truths}

    # ---------------------------------------------------------------------- the loop

    def fit(self, on_epoch=None) -> list[dict]:
        """Train until the epochs, the step or time budget, or early stopping; keep the best weights.

        `on_epoch(record)` is called after each epoch (the command line prints with it).
        Under torchrun only rank 0 evaluates, records, calls `on_epoch` and saves; it sends
        the others what they need to stay in step (the validation loss, stop or not).
        """
        self._start = time.monotonic() - self.elapsed  # a resumed run's clock goes on
        for epoch in range(self.epoch + 1, self.config.epochs + 1):
            if self._out_of_budget():
                break  # resumed after the budget ended
            self._begin_epoch(epoch)
            epoch_start = time.monotonic()
            train_loss = self.train_epoch()
            record = self._end_epoch(epoch, train_loss, epoch_start) if self.group.is_main else None
            stop = self._should_stop(record)
            self.epoch = epoch
            self.save_state()
            if record is not None and on_epoch:
                on_epoch(record)
            if stop:
                break
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)  # hand back the best model, not the last
        return self.history

    def _begin_epoch(self, epoch: int) -> None:
        dataset = getattr(self.train_loader, "dataset", None)
        for part in (getattr(self.train_loader, "sampler", None), dataset):
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)  # a new shuffle per epoch (DistributedSampler), fresh images (synthetic)
        # this epoch's shuffle and augmentation from (seed, epoch): the same after a resume
        epoch_seed = (self.config.seed * 1_000_003 + epoch) % 2**31
        generator = getattr(self.train_loader, "generator", None)
        if generator is not None:
            generator.manual_seed(epoch_seed)
        augment = getattr(dataset, "augment", None)
        if augment is not None:
            augment.set_random_seed(epoch_seed)

    def _end_epoch(self, epoch: int, train_loss: float, epoch_start: float) -> dict:
        """Evaluate, record, and keep (and save) the model if it is the best so far."""
        train_seconds = time.monotonic() - epoch_start
        val = self.evaluate()
        record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val["loss"],
                  "val_sequence_accuracy": val["sequence_accuracy"], "val_cer": val["cer"],
                  "lr": self.optimizer.param_groups[0]["lr"], "step": self.step,
                  "seconds": time.monotonic() - epoch_start, "train_seconds": train_seconds,
                  "train_images": self.epoch_images * self.group.world_size,  # all processes
                  "elapsed": time.monotonic() - self._start}
        self.history.append(record)
        key = (val["sequence_accuracy"], -val["loss"])
        record["improved"] = key > self.best_key
        if record["improved"]:
            self.best_key = key
            self.best_state = copy.deepcopy(self.model.state_dict())
            record["saved"] = self.save(epoch)
        return record

    def _should_stop(self, record: dict | None) -> bool:
        """Early stopping, the plateau schedule and the budget, decided alike on every process."""
        stop_early = record is not None and self.early_stopping.update(record["improved"])
        val_loss, stop_early = distributed.broadcast_from_main(
            [record["val_loss"] if record else 0.0, float(stop_early)], self.device)
        if self.config.schedule == "plateau":
            self.scheduler.step(val_loss)  # the same learning rate on every process
        self._sync_clock()
        return bool(stop_early) or self._out_of_budget()

    # ------------------------------------------------------------------ resuming

    def state_dict(self) -> dict:
        """Everything a resumed run needs: tensors and plain data, loadable with weights_only=True."""
        return {"format": "captcha_lib.training_state", "version": 1, "config": self.config.to_dict(),
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.epoch, "step": self.step, "elapsed": self.elapsed, "history": self.history,
                "best_key": list(self.best_key), "best_state": self.best_state,
                "epochs_without_improvement": self.early_stopping.epochs_without_improvement,
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step, self.elapsed = state["epoch"], state["step"], state["elapsed"]
        self.history = list(state["history"])
        self.best_key, self.best_state = tuple(state["best_key"]), state["best_state"]
        self.early_stopping.epochs_without_improvement = state["epochs_without_improvement"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def save_state(self) -> None:
        """RUN_DIR/last.pt, atomically, on the main process."""
        if self.state_path is not None and self.group.is_main:
            with atomic_path(self.state_path) as partial:
                torch.save(self.state_dict(), partial)

    def save(self, epoch: int) -> bool:
        if self.checkpoint_path is None or not self.group.is_main:
            return False
        best = self.history[-1]
        metadata = {**self.metadata, "epoch": epoch, "val_sequence_accuracy": best["val_sequence_accuracy"],
                    "val_cer": best["val_cer"], "val_loss": best["val_loss"],
                    "trainer_config": self.config.to_dict(), "torch_version": torch.__version__,
                    "world_size": self.group.world_size}
        save_checkpoint(self.checkpoint_path, self.model, self.vocabulary, self.image_size, metadata)
        return True
