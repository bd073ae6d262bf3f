"""One recurrent stack for every cell type.

States are a flat list of (batch, size) tensors in the order of `ModelConfig.recurrent_states`:
h0, [c0], h1, [c1], ... The same list is what the exported ONNX model takes and returns.
"""

from __future__ import annotations

import torch
from torch import nn

_CELL_MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentStack(nn.Module):
    """Stacked single-layer recurrent modules, each with its own hidden size."""

    def __init__(self, cell: str, input_size: int, hidden: list[int], dropout: float = 0.0):
        super().__init__()
        self.cell = cell
        make = _CELL_MODULES[cell]
        sizes = [input_size] + list(hidden)
        self.layers = nn.ModuleList(
            make(sizes[i], sizes[i + 1], batch_first=True) for i in range(len(hidden))
        )
        self.drop = nn.Dropout(dropout)
        self.hidden = list(hidden)

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        per_layer = 2 if self.cell == "lstm" else 1
        return [torch.zeros(batch, h, device=device) for h in self.hidden for _ in range(per_layer)]

    def forward(self, x: torch.Tensor, state: list[torch.Tensor]):
        """x: (batch, time, input); state: list of (batch, size). Returns (batch, time, last), state."""
        new_state: list[torch.Tensor] = []
        i = 0
        for n, layer in enumerate(self.layers):
            if self.cell == "lstm":
                h, c = state[i].unsqueeze(0), state[i + 1].unsqueeze(0)  # (1, batch, size)
                x, (h, c) = layer(x, (h, c))
                new_state += [h.squeeze(0), c.squeeze(0)]
                i += 2
            else:
                x, h = layer(x, state[i].unsqueeze(0))
                new_state.append(h.squeeze(0))
                i += 1
            if n < len(self.layers) - 1:
                x = self.drop(x)
        return x, new_state


def detach_state(state: list[torch.Tensor]) -> list[torch.Tensor]:
    """Cut the graph between truncated-BPTT batches, keep the values."""
    return [s.detach() for s in state]
