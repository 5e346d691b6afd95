"""Training on several processes with `torchrun` and DistributedDataParallel (DDP).

    torchrun --nproc_per_node=2 -m captcha_lib train --data Dataset --out runs/ddp

torchrun starts N copies of the same program and tells each its RANK, LOCAL_RANK and
WORLD_SIZE in environment variables. Each copy holds a whole model, reads its own shard
of every epoch (DistributedSampler), and DDP averages the gradients of all copies in
`backward()`, so every copy takes the same optimiser step and the replicas stay equal.
Only rank 0 logs, evaluates and writes the checkpoint; a single-process run never
touches any of this (world size 1).

Backends: gloo on CPU, nccl on CUDA (one GPU per process, picked by LOCAL_RANK).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessGroup:
    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None  # this process's GPU, when there is one

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str = "auto") -> ProcessGroup:
    """Join the group torchrun set up (gloo on CPU, nccl on CUDA); world size 1 if not launched by it."""
    if not launched_by_torchrun():
        return ProcessGroup()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    gpu = None
    if use_cuda:
        gpu = torch.device("cuda", local_rank)
        torch.cuda.set_device(gpu)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), gpu)


def current() -> ProcessGroup:
    """The group this process belongs to (world size 1 outside torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return ProcessGroup(dist.get_rank(), dist.get_world_size())
    return ProcessGroup()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def agree_max(value: float, device: torch.device) -> float:
    """The largest `value` over all processes, on every process (a no-op alone).

    Decisions that depend on a clock (stop now? how far along the budget are we?) must be
    the same on every rank, or one rank waits forever for a gradient another never sends.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def broadcast_from_main(values: list[float], device: torch.device) -> list[float]:
    """Rank 0's `values` on every process (a no-op alone): its validation loss, its stop decision."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return tensor.tolist()
