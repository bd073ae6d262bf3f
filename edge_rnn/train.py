"""The training loop shared by every task: epochs, LR decay on plateau, early stopping,
time limit, per-epoch metrics and resumable atomic checkpoints.

A task supplies `train_epoch(optimizer, deadline) -> dict` and `evaluate() -> (loss, dict)`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from edge_rnn.checkpoint import load_checkpoint, save_checkpoint
from edge_rnn.config import ModelConfig
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import write_text_atomic


@dataclass
class TrainOptions:
    out: Path
    epochs: int = 20
    max_minutes: float = 0.0  # 0: no limit
    optimizer: str = "sgd"
    lr: float = 20.0
    lr_decay: float = 4.0  # divide the learning rate by this when validation stops improving
    min_lr: float = 1e-4
    patience: int = 3  # epochs without improvement before stopping early
    decay_after: int = 1  # epochs without improvement before each learning-rate cut
    schedule: str = "plateau"  # or "cosine": lr follows half a cosine from lr to 0 over the epochs
    clip: float = 0.25
    weight_decay: float = 0.0
    seed: int = 1111
    threads: int = 0  # torch intra-op threads; 0: torch's default (all cores)
    resume: bool = False
    quiet: bool = False
    ema: float = 0.0  # > 0: evaluate and save an exponential moving average of the weights

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise UserError("--optimizer must be sgd or adam")
        if self.schedule not in ("plateau", "cosine"):
            raise UserError("--schedule must be plateau or cosine")
        if self.epochs < 1 or self.lr <= 0 or self.lr_decay < 1 or self.patience < 1:
            raise UserError("--epochs and --patience must be >= 1, --lr > 0, --lr-decay >= 1")
        if not 0.0 <= self.ema < 1.0:
            raise UserError("--ema must be in [0, 1), e.g. 0.999")


def seed_everything(seed: int, threads: int = 0) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if threads > 0:  # two trainings on one small machine: give each its own core
        torch.set_num_threads(threads)


def make_optimizer(model: torch.nn.Module, opts: TrainOptions) -> torch.optim.Optimizer:
    if opts.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)


class WeightAverage:
    """An exponential moving average of a model's weights, updated after every optimizer step.

    Late in training the weights wander around a minimum from batch to batch; their average sits
    nearer its centre, so it validates, and usually generalises, better than any one step.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]

    def update(self, *_: Any) -> None:
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1.0 - self.decay)

    @contextmanager
    def applied(self):
        """Within the block the model holds the averaged weights; the trained ones come back after."""
        trained = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, s in zip(self.params, self.shadow):
                p.copy_(s)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, t in zip(self.params, trained):
                    p.copy_(t)


def _write_metrics(out: Path, history: list[dict]) -> None:
    write_text_atomic(out / "metrics.json", json.dumps(history, indent=1))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0].keys()))
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(out / "metrics.csv", buf.getvalue())


def fit(
    model: torch.nn.Module,
    config: ModelConfig,
    opts: TrainOptions,
    train_epoch: Callable[[torch.optim.Optimizer, float], dict],
    evaluate: Callable[[], tuple[float, dict]],
    extra: dict[str, Any],
    best_is_last: bool = False,
) -> dict:
    """Train until epochs, patience or time run out. Writes last.pt, best.pt and metrics.

    `extra` is stored in every checkpoint (e.g. the vocabulary or labels).
    Returns the best epoch's metrics. With `best_is_last` (no held-out data to choose by), every
    epoch counts as an improvement: best.pt is the latest epoch and patience never stops training.
    """
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    optimizer = make_optimizer(model, opts)
    average = WeightAverage(model, opts.ema) if opts.ema > 0 else None
    if average is not None:
        optimizer.register_step_post_hook(average.update)
    state = {"epoch": 0, "lr": opts.lr, "best": math.inf, "bad_epochs": 0, "history": []}
    if opts.resume and (out / "last.pt").is_file():
        ckpt = load_checkpoint(out / "last.pt")
        if ckpt["config"] != config:
            raise UserError(f"{out}/last.pt was trained with another config; use a new --out")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if average is not None:
            average.shadow = [t.clone() for t in ckpt.get("ema", average.shadow)]
        state = json.loads(ckpt["train"])
        log(opts, f"resuming after epoch {state['epoch']} (lr {state['lr']:.4g})")
    deadline = time.monotonic() + opts.max_minutes * 60 if opts.max_minutes > 0 else math.inf

    while state["epoch"] < opts.epochs and time.monotonic() < deadline:
        if opts.schedule == "cosine":
            state["lr"] = max(opts.min_lr, opts.lr * 0.5 * (1 + math.cos(math.pi * state["epoch"] / opts.epochs)))
        for group in optimizer.param_groups:
            group["lr"] = state["lr"]
        started = time.monotonic()
        model.train()
        train_metrics = train_epoch(optimizer, deadline)
        model.eval()
        with average.applied() if average is not None else nullcontext():  # validate and keep the average
            with torch.no_grad():
                val_loss, val_metrics = evaluate()
            state["epoch"] += 1
            row = {"epoch": state["epoch"], "lr": state["lr"], **train_metrics, **val_metrics,
                   "seconds": round(time.monotonic() - started, 1)}
            state["history"].append(row)
            improved = best_is_last or val_loss < state["best"] - 1e-4
            if improved:
                state["best"], state["bad_epochs"] = val_loss, 0
                save_checkpoint(out / "best.pt", model, config, **extra, train=json.dumps(row))
        if not improved:
            state["bad_epochs"] += 1
            if opts.schedule == "plateau" and state["bad_epochs"] % opts.decay_after == 0:
                state["lr"] = max(opts.min_lr, state["lr"] / opts.lr_decay)
        log(opts, "epoch " + " ".join(f"{k}={_fmt(v)}" for k, v in row.items())
            + ("  *best" if improved else f"  (lr -> {state['lr']:.4g})"))
        saved_average = {"ema": average.shadow} if average is not None else {}
        save_checkpoint(out / "last.pt", model, config, **extra, **saved_average,
                        optimizer=optimizer.state_dict(), train=json.dumps(state))
        _write_metrics(out, state["history"])
        if state["bad_epochs"] >= opts.patience:
            log(opts, f"stopping early: no improvement for {opts.patience} epochs")
            break
    if not state["history"]:
        raise UserError("no epoch finished: raise --max-minutes")
    if best_is_last:
        return state["history"][-1]
    return min(state["history"], key=lambda r: r.get("val_loss", math.inf))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def log(opts: TrainOptions, message: str) -> None:
    if not opts.quiet:
        print(message, file=sys.stderr, flush=True)
