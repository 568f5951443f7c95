"""Distributed data parallel under ``torchrun``: process group setup and small collectives.

``torchrun --nproc_per_node=N -m app train ...`` starts N processes with ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` set. :func:`init_distributed` picks the backend (NCCL
when each process has its own GPU, gloo on CPU), binds each process to
``cuda:LOCAL_RANK``, and the training loop shards the data by rank. Only rank 0 writes
checkpoints. Without those variables everything runs in one process.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.errors import SkinTraceError


class DistributedError(SkinTraceError):
    """The distributed environment set up by torchrun is unusable."""


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_from_environ() -> DistEnv:
    """Read ``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` (torchrun); a single process otherwise."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise DistributedError("RANK, LOCAL_RANK and WORLD_SIZE must be integers") from None
    if world < 1 or not 0 <= rank < world:
        raise DistributedError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world}")
    return DistEnv(rank=rank, local_rank=local, world_size=world)


def init_distributed(device: torch.device, env: DistEnv) -> torch.device:
    """Join the process group (if ``env`` is distributed) and return this rank's device."""
    if not env.distributed:
        return device
    if device.type == "cuda":
        if env.local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK {env.local_rank} has no GPU ({torch.cuda.device_count()} present); "
                "use --nproc_per_node at most the number of GPUs"
            )
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=_dt.timedelta(minutes=10))
    return device


def shutdown() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum ``values`` over all ranks (no-op in a single process)."""
    if env.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_rank(flag: bool, env: DistEnv, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any rank (used to cancel together)."""
    if not env.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_buffers(module: torch.nn.Module, env: DistEnv) -> None:
    """Copy rank 0's buffers (batch-norm statistics) to every rank before validation."""
    if env.distributed:
        for buf in module.buffers():
            dist.broadcast(buf, src=0)


def barrier(env: DistEnv) -> None:
    """Wait for every rank."""
    if env.distributed:
        dist.barrier()
