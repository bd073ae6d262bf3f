"""Training in several processes, on one machine or many, with PyTorch's DistributedDataParallel.

`torchrun --nproc-per-node N -m edge_rnn.cli train ...` starts N copies of the command and tells
each its RANK, LOCAL_RANK and WORLD_SIZE; `Cluster.start` reads them and joins the process
group: gloo on CPU, nccl on CUDA (one GPU per process, by LOCAL_RANK). Started without torchrun,
the command is one process of a world of one and nothing here talks to anyone.

Every rank builds the same model from the same seed; DDP averages the gradients of each step
over the ranks, so a step of N processes on batches of B equals one process's step on the N
batches together. Rank 0 alone evaluates, writes checkpoints and metrics, and prints.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from edge_rnn.runtime.errors import UserError

DEVICES = ("auto", "cpu", "cuda")


def launched_rank() -> int:
    """This process's rank as torchrun set it (0 when not started by torchrun)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto`: CUDA when there is a GPU, else the CPU."""
    if name not in DEVICES:
        raise UserError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise UserError("--device cuda: PyTorch sees no CUDA GPU here (a CPU build of torch, or no driver)")
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


@dataclass
class Cluster:
    """The processes of one training run and this process's place among them."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @classmethod
    def start(cls, device: str = "auto") -> "Cluster":
        """Join the run torchrun started (or be a world of one)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        where = pick_device(device, local)
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if where.type == "cuda" else "gloo")
        return cls(launched_rank() if world > 1 else 0, world, where)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to train through: DDP around `model` across ranks (it starts every rank
        from rank 0's weights and buffers), `model` itself in a world of one."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # buffers (the front end's tables and normalisation) are the same on every rank and never
        # change while training: synced once at the start, not at every step
        quiet = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                 else "broadcast_buffers")
        return DistributedDataParallel(model, device_ids=ids, **{quiet: False})

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over the ranks."""
        if self.world == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any (a stop that all ranks must take together)."""
        return self.sum([float(flag)])[0] > 0 if self.world > 1 else flag

    def share(self, value):
        """Rank 0's `value` (any picklable object), on every rank."""
        if self.world == 1:
            return value
        box = [value if self.main else None]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def close(self, together: bool = True) -> None:
        """Leave the process group. `together`: first wait for every rank to get here, so that no
        rank tears down its connections while a peer still uses them (gloo aborts the process
        then); after an error a peer may never come, so there is no wait."""
        if self.world > 1 and dist.is_initialized():
            if together:
                dist.barrier()
            dist.destroy_process_group()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, error_type, *_) -> None:
        self.close(together=error_type is None)
