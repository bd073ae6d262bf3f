"""Training on the int8 grid: the weights an int8 export stores as int8 stay on that grid.

The int8 export (export/quantize.py) gives each row of a recurrent or declared weight its own
scale, max |row| / 127, and rounds the row to whole multiples of it. A weight that already lies
on that grid comes through unchanged, so the int8 file computes what the float model computes.
`Int8Grid` keeps a float copy of each such weight for the optimizer (small updates add up there,
as in straight-through training) and puts the model's weight on the grid after every step: the
model, its checkpoints and its fp32 export always hold on-grid weights.
"""

from __future__ import annotations

import torch
from torch import nn


def on_grid(weight: torch.Tensor) -> torch.Tensor:
    """The weight as int8 export stores it: rows of whole multiples of max |row| / 127."""
    rows = weight.reshape(weight.shape[0], -1)
    scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
    return (torch.round(rows / scale).clamp(-127, 127) * scale).reshape(weight.shape)


def grid_weights(model: nn.Module) -> list[nn.Parameter]:
    """The recurrent weights (W and R of every layer) and any weights the model declares for int8."""
    recurrent = [p for name, p in model.rnn.named_parameters() if ".weight_" in name]
    declared = {id(w) for w in model.int8_weights()}
    return recurrent + [p for p in model.parameters() if id(p) in declared]


class Int8Grid:
    """Around `optimizer.step()`: `float_weights()` before, `snap()` after."""

    def __init__(self, model: nn.Module):
        self.weights = grid_weights(model)
        self.shadow = [w.detach().clone() for w in self.weights]
        self.snap_only()

    def float_weights(self) -> None:
        """Put the float copies back for the optimizer to update (gradients stay as computed
        on the grid: the straight-through estimate). A weight set from outside since the last
        step (a resumed checkpoint) becomes its own float copy."""
        with torch.no_grad():
            for w, s in zip(self.weights, self.shadow):
                if not torch.equal(w, on_grid(s)):
                    s.copy_(w)
                w.copy_(s)

    def snap(self) -> None:
        """Keep the updated floats and put the model's weights back on the grid."""
        with torch.no_grad():
            for w, s in zip(self.weights, self.shadow):
                s.copy_(w)
        self.snap_only()

    def snap_only(self) -> None:
        with torch.no_grad():
            for w in self.weights:
                w.copy_(on_grid(w))
