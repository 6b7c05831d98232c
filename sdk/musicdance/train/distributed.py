"""Training in one process, or in several under DistributedDataParallel (gloo backend, CPU).

Every stage runs ``loop(rank, world, job)``: each rank trains on its shard of every epoch
(``shard_batches``: a seeded DistributedSampler with ``set_epoch``), DDP all-reduces the
gradients, rank 0 alone writes checkpoints. With one process the same loop runs in this process.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from musicdance.errors import MusicDanceError


def run_processes(
    loop: Callable[[int, int, dict[str, Any]], None], processes: int, job: dict[str, Any]
) -> None:
    """Run ``loop(rank, world, job)`` in this process, or in ``processes`` gloo processes."""
    if processes == 1:
        loop(0, 1, job)
    else:
        _spawn(loop, processes, job)


def process_notes(processes: int) -> list[str]:
    return [] if processes == 1 else [f"DistributedDataParallel over {processes} processes (gloo)"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(loop: Callable, processes: int, job: dict[str, Any]) -> None:
    import torch.multiprocessing as mp

    threads = max(1, (os.cpu_count() or 1) // processes)
    job = {**job, "port": _free_port(), "threads": threads}
    # gloo binds to the interface the host name resolves to; on one machine, loopback is safe.
    saved = os.environ.get("GLOO_SOCKET_IFNAME")
    if saved is None and sys.platform.startswith("linux"):
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    try:
        mp.spawn(_distributed_process, args=(loop, processes, job), nprocs=processes, join=True)
    except mp.ProcessRaisedException as error:
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "unknown error"
        if "MusicDanceError" in last:
            raise MusicDanceError(last.split("MusicDanceError:", 1)[-1].strip()) from None
        raise RuntimeError(f"a training process failed: {last}") from error
    except mp.ProcessExitedException as error:
        raise MusicDanceError(f"a training process died: {error}") from error
    finally:
        if saved is None:
            os.environ.pop("GLOO_SOCKET_IFNAME", None)


def _distributed_process(rank: int, loop: Callable, world: int, job: dict[str, Any]) -> None:
    """One spawned process: join the gloo group, run ``loop``, leave the group."""
    import torch.distributed as dist

    torch.set_num_threads(job["threads"])
    dist.init_process_group(
        "gloo", rank=rank, world_size=world, init_method=f"tcp://127.0.0.1:{job['port']}"
    )
    try:
        loop(rank, world, job)
    finally:
        dist.destroy_process_group()


def wrap_ddp(module: nn.Module, world: int) -> nn.Module:
    """``module`` wrapped in ``DistributedDataParallel`` when several processes train it."""
    if world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module)


def all_reduce_sum(values: torch.Tensor, world: int) -> torch.Tensor:
    """``values`` summed over the ranks, in place (unchanged with one process)."""
    if world > 1:
        import torch.distributed as dist

        dist.all_reduce(values)
    return values


def from_rank0(values: torch.Tensor, world: int) -> torch.Tensor:
    """Rank 0's ``values`` on every rank, in place (unchanged with one process)."""
    if world > 1:
        import torch.distributed as dist

        dist.broadcast(values, src=0)
    return values


def ranks_max_abs_diff(tensors: list[torch.Tensor], world: int) -> float:
    """Largest |difference| between any rank's ``tensors`` and rank 0's (0.0: ranks agree)."""
    import torch.distributed as dist

    mine = torch.cat([tensor.detach().double().flatten() for tensor in tensors])
    reference = from_rank0(mine.clone(), world)
    gap = (mine - reference).abs().max().reshape(1)
    dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    return float(gap)


def shard_batches(
    count: int,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    rank: int,
    world: int,
    max_batches: int | None = None,
) -> list[torch.Tensor]:
    """This rank's batches of row indices for one epoch.

    A ``DistributedSampler`` permutes ``range(count)`` with the seed ``seed + epoch`` and hands
    rank ``r`` every ``world``-th row from ``r`` (one process: the whole permutation), so global
    step ``s`` of ``world`` processes covers the rows of step ``s`` of one process with
    ``world`` times the batch.
    """
    if count == 0:
        return []
    sampler = DistributedSampler(range(count), num_replicas=world, rank=rank, shuffle=True,
                                 seed=seed)  # fmt: skip
    sampler.set_epoch(epoch)
    batches = list(torch.tensor(list(sampler), dtype=torch.long).split(batch_size))
    return batches if max_batches is None else batches[:max_batches]
