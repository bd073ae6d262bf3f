"""Training curves of a run folder: train and validation loss (perplexity for a language model,
with frame accuracy for a keyword spotter) and the learning rate, against epochs.

Read from the run's metrics.jsonl (per-epoch rows and a row every N optimizer steps, written
by training), or from metrics.json (per-epoch rows only) for a run without one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import atomic_path

from .plots import check_plot

FILE = "metrics.jsonl"  # written by training (training/runlog.py)
EPOCH_KEYS = ("train_loss", "val_loss", "train_ppl", "val_ppl", "val_frame_acc", "lr")


def read_rows(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl; a last line cut short by a killed writer is left out."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _read_log(run: Path) -> list[dict]:
    if (run / FILE).is_file():
        return read_rows(run / FILE)
    if (run / "metrics.json").is_file():  # a run without a per-step log: its epochs only
        try:
            rows = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        except ValueError:
            raise UserError(f"{run / 'metrics.json'} is not JSON (a damaged run folder?)") from None
        return [{"kind": "epoch", **r} for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    raise UserError(f"{run} holds no {FILE} or metrics.json: give the --out folder of a training run")


def _step_epochs(steps: list[dict], epochs: list[dict]) -> list[float]:
    """Where each step row falls in epochs: epoch e spans (e - 1, e], split evenly by its steps.
    An epoch still under way is given the length of the one before it."""
    ends = {r["epoch"]: r["step"] for r in epochs if isinstance(r.get("step"), int)}
    positions = []
    for r in steps:
        e = r["epoch"]
        start = ends.get(e - 1, 0)
        length = ends[e] - start if e in ends else ends.get(e - 1, 0) - ends.get(e - 2, 0)
        if length <= 0:  # the first epoch still under way: spread its steps over it
            length = max(s["step"] for s in steps if s["epoch"] == e) - start
        positions.append(e - 1 + (r["step"] - start) / max(length, 1))
    return positions


def run_curves(run: str | Path) -> dict:
    """The run's series as plain data: per-epoch metrics and the per-step training loss."""
    run = Path(run)
    if not run.is_dir():
        raise UserError(f"run folder not found: {run}")
    rows = _read_log(run)
    epochs = [r for r in rows if r.get("kind") == "epoch" and isinstance(r.get("epoch"), int)]
    steps = [r for r in rows if r.get("kind") == "step" and isinstance(r.get("epoch"), int)
             and isinstance(r.get("step"), int)]
    if not epochs and not steps:
        raise UserError(f"{run} has no finished epoch or logged step yet")
    task = ("lm" if any("train_ppl" in r for r in epochs) else "kws" if any("val_frame_acc" in r for r in epochs)
            else None)  # None: no epoch has finished to tell
    series = {"epoch": [r["epoch"] for r in epochs]}
    for key in EPOCH_KEYS:
        if any(key in r for r in epochs):
            series[key] = [r.get(key) for r in epochs]
    per_step = {"step": [r["step"] for r in steps], "epoch": [r["epoch"] for r in steps],
                "at_epoch": [round(x, 4) for x in _step_epochs(steps, epochs)],
                "train_loss": [r.get("train_loss") for r in steps], "lr": [r.get("lr") for r in steps]}
    if task == "lm":
        per_step["train_ppl"] = [_exp(v) for v in per_step["train_loss"]]
    last_step = max([r["step"] for r in steps] + [r.get("step", 0) for r in epochs])
    return {"run": str(run), "task": task, "epochs": len(epochs), "steps": last_step,
            "per_epoch": series, "per_step": per_step}


def _exp(v: float | None) -> float | None:
    return math.exp(v) if isinstance(v, (int, float)) and v < 700 else None


def _points(xs: list, ys: list) -> tuple[list, list]:
    """The pairs whose value is known (a diverged run logs null)."""
    kept = [(x, y) for x, y in zip(xs, ys) if isinstance(y, (int, float)) and math.isfinite(y)]
    return [x for x, _ in kept], [y for _, y in kept]


def draw_curves(run: str | Path, out: str | Path) -> dict:
    """Write the curves of a run as a PNG; return the series drawn."""
    plt = check_plot(Path(out), "--out")
    curves = run_curves(run)
    lm = curves["task"] == "lm"
    metric = "ppl" if lm else "loss"
    e, s = curves["per_epoch"], curves["per_step"]
    panels = 3 if "val_frame_acc" in e else 2
    fig, axes = plt.subplots(panels, 1, figsize=(8, 2.6 * panels + 0.6), dpi=80, sharex=True,
                             gridspec_kw={"height_ratios": [2] + [1] * (panels - 1)})
    ax = axes[0]
    ax.plot(*_points(s["at_epoch"], s[f"train_{metric}"]), color="#9db4d3", lw=1,
            label=f"train, every {_every(s['step'])} steps" if s["step"] else None)
    ax.plot(*_points(e["epoch"], e.get(f"train_{metric}", [])), "o-", color="#1f5fa8", label="train, epoch mean")
    ax.plot(*_points(e["epoch"], e.get(f"val_{metric}", [])), "s-", color="#c0392b", label="validation")
    ax.set_ylabel("perplexity" if lm else "cross-entropy loss")
    if lm:
        _log_scale(ax, e.get("val_ppl", []) + e.get("train_ppl", []) + s["train_ppl"])
    ax.legend(fontsize=9)
    if panels == 3:
        xs, ys = _points(e["epoch"], e["val_frame_acc"])
        axes[1].plot(xs, [100 * y for y in ys], "s-", color="#c0392b")
        axes[1].set_ylabel("validation\nframe accuracy (%)")
    lr = axes[-1]
    lr.plot(*_lr_points(s, e), color="#555555")
    lr.set_ylabel("learning rate")
    _log_scale(lr, e.get("lr", []) + s["lr"])
    lr.set_xlabel("epoch")
    for a in axes:
        a.grid(True, which="major", alpha=0.3)
    what = "perplexity" if lm else "loss and frame accuracy" if panels == 3 else "loss"
    n = curves["epochs"]
    axes[0].set_title(f"{Path(curves['run']).name}: {what} over {n} epoch{'s' * (n != 1)} "
                      f"({curves['steps']} optimizer steps)", fontsize=11)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return {**curves, "out": str(out)}


def _log_scale(ax, values: list) -> None:
    """A log axis labelled in plain numbers (1, 2 and 5 of each decade) when the values span more
    than a factor of 3."""
    from matplotlib.ticker import FuncFormatter

    values = [v for v in values if isinstance(v, (int, float)) and v > 0]
    if not values or max(values) < 3 * min(values):
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if _mantissa(v) in (2, 5) else ""))


def _mantissa(v: float) -> int:
    return round(v / 10 ** math.floor(math.log10(v))) if v > 0 else 0


def _every(steps: list[int]) -> int:
    return steps[0] if len(steps) < 2 else min(b - a for a, b in zip(steps, steps[1:]) if b > a)


def _lr_points(s: dict, e: dict) -> tuple[list, list]:
    """The learning rate as a step function: each epoch's rate held from its start to its end,
    then the rates of the logged steps of an epoch still under way."""
    xs, ys = [], []
    for epoch, rate in zip(e["epoch"], e.get("lr", [])):
        xs += [epoch - 1, epoch]
        ys += [rate, rate]
    last = max(e["epoch"], default=0)
    later = [(x, r) for x, r, epoch in zip(s["at_epoch"], s["lr"], s["epoch"]) if epoch > last]
    return _points(xs + [x for x, _ in later], ys + [r for _, r in later])
