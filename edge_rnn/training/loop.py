"""The training loop shared by every task: epochs, learning-rate schedule, early stopping, a time
limit, per-epoch metrics and resumable atomic checkpoints.

A task supplies `train_epoch(optimizer, out_of_time, record) -> dict`, calling `record(loss)` after
each optimizer step, and `evaluate() -> (loss, dict)`. In a run of several processes
(training/distributed.py) rank 0 alone evaluates and writes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from edge_rnn.checkpoint import load_checkpoint, save_checkpoint
from edge_rnn.config import ModelConfig
from edge_rnn.progress import note
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import recover, write_set

from .distributed import Cluster
from .runlog import RunLog


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
    seed: int = 1111
    threads: int = 0  # torch intra-op threads; 0: torch's default (all cores)
    device: str = "auto"  # auto (a GPU when there is one), cpu or cuda
    log_every: int = 100  # a metrics.jsonl line every this many steps (0: per epoch only)
    resume: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise UserError("--optimizer must be sgd or adam")
        if self.schedule not in ("plateau", "cosine"):
            raise UserError("--schedule must be plateau or cosine")
        if self.epochs < 1 or not self.lr > 0 or self.lr_decay < 1 or self.patience < 1:
            raise UserError("--epochs and --patience must be >= 1, --lr > 0")
        if not 0 <= self.threads <= 1024:
            raise UserError("--threads must be between 0 (all cores) and 1024")
        if self.log_every < 0:
            raise UserError("--log-every must be >= 0 (0: one line per epoch)")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"--device must be auto, cpu or cuda, got {self.device!r}")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise UserError(f"--out {self.out} is a file; give a folder for the run's checkpoints")

    def settings(self) -> dict:
        """What the run was told, as plain data (saved in every checkpoint)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()
                if k not in ("resume", "quiet")}


def seed_everything(seed: int, threads: int = 0) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if threads > 0:  # two trainings on one small machine: give each its own core
        torch.set_num_threads(threads)


EMBEDDING_LR_SCALE = 1 / 3  # a tuned pretrained embedding learns at a third of the learning rate


def make_optimizer(model: torch.nn.Module, opts: TrainOptions) -> torch.optim.Optimizer:
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in named if not n.startswith("embedding.")], "lr_scale": 1.0}]
    tuned = [p for n, p in named if n.startswith("embedding.")]
    if tuned:
        groups.append({"params": tuned, "lr_scale": EMBEDDING_LR_SCALE})
    for group in groups:
        group["lr"] = opts.lr * group["lr_scale"]
    if opts.optimizer == "adam":
        return torch.optim.Adam(groups, lr=opts.lr)
    return torch.optim.SGD(groups, lr=opts.lr)


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, model: torch.nn.Module, clip: float,
            grid=None) -> float:
    """One optimizer step on `loss` (gradient norm clipped to `clip` when it is positive); `grid`
    (int8_grid.Int8Grid) puts the float weights back for the step and the grid's after it.
    Returns the loss as a number."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    if grid is not None:
        grid.float_weights()
    optimizer.step()
    if grid is not None:
        grid.snap()
    return loss.item()


def _metrics_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0].keys()))
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def save_epoch(out: Path, model, config: ModelConfig, extra: dict, state: dict, optimizer, improved: bool) -> None:
    """last.pt, best.pt (when improved) and the metrics, written as one set: a run killed at any
    moment leaves all three from the same epoch."""
    row = json.dumps(state["history"][-1])
    writers = {"last.pt": lambda p: save_checkpoint(p, model, config, **extra, optimizer=optimizer.state_dict(),
                                                    train=json.dumps(state)),
               "metrics.json": lambda p: p.write_text(json.dumps(state["history"], indent=1), encoding="utf-8"),
               "metrics.csv": lambda p: p.write_text(_metrics_csv(state["history"]), encoding="utf-8")}
    if improved:
        writers["best.pt"] = lambda p: save_checkpoint(p, model, config, **extra, train=row)
    write_set(out, writers)


def _resume(out: Path, model, optimizer, config: ModelConfig, opts: TrainOptions, extra: dict,
            cluster: Cluster) -> dict | None:
    """The saved progress of a run in `out`, loaded into model and optimizer (None: start anew).
    Rank 0 reads the checkpoint and every rank loads what it read."""
    saved = None
    if cluster.main and opts.resume and (out / "last.pt").is_file():
        ckpt = load_checkpoint(out / "last.pt")
        if ckpt["config"] != config:
            raise UserError(f"{out / 'last.pt'} was trained with another model config; give a new --out "
                            "or the same options as that run")
        if "text_rules" in ckpt and ckpt["text_rules"] != extra.get("text_rules"):
            raise UserError(f"{out / 'last.pt'} was trained with other --text-rules; give a new --out "
                            "or the same options as that run")
        saved = {k: ckpt[k] for k in ("model", "optimizer", "train")}
    saved = cluster.share(saved)
    if saved is None:
        return None
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    state = json.loads(saved["train"])
    note(f"resuming after epoch {state['epoch']} (lr {state['lr']:.4g})", opts.quiet)
    return state


def _learning_rate(state: dict, opts: TrainOptions) -> float:
    if opts.schedule == "cosine":
        return max(opts.min_lr, opts.lr * 0.5 * (1 + math.cos(math.pi * state["epoch"] / opts.epochs)))
    return state["lr"]


def fit(model: torch.nn.Module, config: ModelConfig, opts: TrainOptions,
        train_epoch: Callable[[torch.optim.Optimizer, Callable[[], bool], Callable[[float], None]], dict],
        evaluate: Callable[[], tuple[float, dict]], extra: dict[str, Any], best_is_last: bool = False,
        cluster: Cluster | None = None) -> dict:
    """Train until epochs, patience or time run out. Writes last.pt, best.pt and metrics (and
    metrics.jsonl as it goes, curves.png at the end: runlog.py).

    `train_epoch(optimizer, out_of_time, record)` trains one epoch, calling `record(loss)` after
    each optimizer step and stopping early when `out_of_time()` (a call every rank makes at the
    same steps) says so, and returns its metrics for all ranks.
    `evaluate()` runs on rank 0 alone. `extra` is stored in every checkpoint (the vocabulary or
    labels, the training settings). Returns the best epoch's metrics and why training stopped.
    With `best_is_last` (no held-out data to choose by), every epoch counts as an improvement:
    best.pt is the latest epoch.
    """
    cluster = cluster or Cluster()
    out = Path(opts.out)
    if cluster.main:
        out.mkdir(parents=True, exist_ok=True)
        recover(out)  # finish what a killed run left half-written
    optimizer = make_optimizer(model, opts)
    state = _resume(out, model, optimizer, config, opts, extra, cluster) or {
        "epoch": 0, "lr": opts.lr, "best": math.inf, "bad_epochs": 0, "history": []}
    log = RunLog(out, opts.log_every, enabled=cluster.main)
    log.restart(state)
    deadline = time.monotonic() + opts.max_minutes * 60 if opts.max_minutes > 0 else math.inf
    out_of_time = (lambda: False) if deadline == math.inf else (lambda: cluster.any(time.monotonic() >= deadline))
    stopped = "epochs"
    while state["epoch"] < opts.epochs:
        if out_of_time():
            stopped = "time"
            break
        row, improved = _epoch(model, optimizer, state, opts, (train_epoch, evaluate, out_of_time, log), cluster,
                               best_is_last)
        if cluster.main:
            save_epoch(out, model, config, extra, state, optimizer, improved)
        note(_epoch_line(row, opts.epochs) + ("  best so far" if improved else ""), opts.quiet)
        if state["bad_epochs"] >= opts.patience:
            stopped = "patience"
            note(f"stopping early: no improvement for {opts.patience} epochs", opts.quiet)
            break
    if not state["history"]:
        raise UserError("no epoch finished: raise --max-minutes")
    if stopped == "time" or not state["history"][-1]["complete"]:
        stopped = "time"
        note(f"stopped by --max-minutes {opts.max_minutes:g} after {state['epoch']} of {opts.epochs} epochs"
             + ("" if state["history"][-1]["complete"] else " (the last one cut short)"), opts.quiet)
    log.draw(opts.quiet)
    best = state["history"][-1] if best_is_last else min(state["history"], key=lambda r: r.get("val_loss", math.inf))
    return {**best, "epochs_run": state["epoch"], "stopped_by": stopped}


def _epoch(model, optimizer, state: dict, opts: TrainOptions, calls: tuple, cluster: Cluster,
           best_is_last: bool) -> tuple[dict, bool]:
    """One epoch: train, evaluate (rank 0, shared with the others), update `state`. Returns the
    epoch's metrics row and whether it improved. calls: (train_epoch, evaluate, out_of_time, log)."""
    train_epoch, evaluate, out_of_time, log = calls
    state["lr"] = _learning_rate(state, opts)
    for group in optimizer.param_groups:
        group["lr"] = state["lr"] * group.get("lr_scale", 1.0)
    started = time.monotonic()
    model.train()
    log.begin_epoch(state["epoch"] + 1, state["lr"])
    train_metrics = train_epoch(optimizer, out_of_time, log.record)
    complete = not out_of_time()  # else the epoch was cut short
    model.eval()
    with torch.no_grad():
        val_loss, val_metrics = cluster.share(evaluate() if cluster.main else None)
    state["epoch"] += 1
    row = {"epoch": state["epoch"], "lr": state["lr"], **train_metrics, **val_metrics,
           "seconds": round(time.monotonic() - started, 1), "complete": complete}
    state["history"].append(row)
    log.end_epoch(row, state)
    improved = best_is_last or val_loss < state["best"] - 1e-4
    if improved:
        state["best"], state["bad_epochs"] = val_loss, 0
    else:
        state["bad_epochs"] += 1
        if opts.schedule == "plateau" and state["bad_epochs"] % opts.decay_after == 0:
            state["lr"] = max(opts.min_lr, state["lr"] / opts.lr_decay)
    return row, improved


def _epoch_line(row: dict, epochs: int) -> str:
    shown = {k: v for k, v in row.items() if k not in ("epoch", "complete")}
    return f"epoch {row['epoch']}/{epochs}: " + "  ".join(f"{k} {_fmt(v)}" for k, v in shown.items())


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
