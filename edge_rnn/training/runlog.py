"""A run's metrics.jsonl: one JSON object a line, appended as training goes, so that a run can be
watched (and its curves drawn) while it trains.

- every `every` optimizer steps: {"kind": "step", "step", "epoch" (the epoch under way, from 1),
  "train_loss" (the mean over the steps since the last such line), "lr"};
- after each epoch: {"kind": "epoch", "step", ...the epoch's row of metrics.json}.

`step` counts optimizer steps from the start of the run, across resumes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from edge_rnn.evaluation.curves import FILE, read_rows
from edge_rnn.progress import note
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import write_text_atomic


class RunLog:
    """Appends the run's rows. Disabled, it writes nothing (a process that does not own the
    run's files); `enabled` is the one switch for metrics.jsonl and curves.png."""

    def __init__(self, folder: Path, every: int, enabled: bool = True):
        self.path, self.every, self.enabled = Path(folder) / FILE, every, enabled
        self.step, self.epoch, self.lr = 0, 0, 0.0
        self._losses: list[float] = []

    def restart(self, state: dict) -> None:
        """Continue after the epochs in `state` (none for a new run): rows of later epochs, from a
        run killed before it saved them, are dropped, and the step count goes on from there."""
        self.step = state.setdefault("step", 0)
        if not self.enabled:
            return
        kept = read_rows(self.path) if state["epoch"] > 0 and self.path.is_file() else []
        kept = [r for r in kept if isinstance(r.get("epoch"), int) and r["epoch"] <= state["epoch"]]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def begin_epoch(self, epoch: int, lr: float) -> None:
        self.epoch, self.lr, self._losses = epoch, lr, []

    def record(self, loss: float) -> None:
        """One optimizer step with this training loss (tasks call it after each step)."""
        self.step += 1
        self._losses.append(loss)
        if self.every > 0 and self.step % self.every == 0:
            mean = sum(self._losses) / len(self._losses)
            self._append({"kind": "step", "step": self.step, "epoch": self.epoch, "train_loss": mean, "lr": self.lr})
            self._losses = []

    def end_epoch(self, row: dict, state: dict) -> None:
        state["step"] = self.step
        self._append({"kind": "epoch", "step": self.step, **row})

    def _append(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:  # one write per line: a kill cuts at most the last
            f.write(json.dumps({k: v if not isinstance(v, float) or math.isfinite(v) else None
                                for k, v in row.items()}) + "\n")

    def draw(self, quiet: bool) -> None:
        """curves.png beside the log when matplotlib is installed; a note on stderr otherwise."""
        if not self.enabled:
            return
        from edge_rnn.evaluation.curves import draw_curves

        try:
            draw_curves(self.path.parent, self.path.parent / "curves.png")
        except UserError as e:
            note(f"no curves.png: {e}", quiet)
