"""One recurrent stack for every cell type, and the task models built on it.

States are a flat list of (batch, size) tensors in the order of `ModelConfig.state_sizes`:
h0, [c0], h1, [c1], ... The same list is what the exported ONNX model takes and returns.
"""

from __future__ import annotations

import torch
from torch import nn

from edge_rnn.config import ModelConfig

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


class LanguageModel(nn.Module):
    """Embedding -> dropout -> recurrent stack -> dropout -> linear over the vocabulary."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embedding)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = RecurrentStack(config.cell, config.embedding, config.hidden, config.dropout)
        self.decoder = nn.Linear(config.hidden[-1], config.vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embed.weight  # one tensor, stored once
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if not self.config.tie_weights:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        return self.rnn.init_state(batch, device)

    def forward(self, tokens: torch.Tensor, state: list[torch.Tensor]):
        """tokens: (batch, time) int64 -> logits (batch, time, vocab), new state."""
        x = self.drop(self.embed(tokens))
        x, state = self.rnn(x, state)
        return self.decoder(self.drop(x)), state


def build_model(config: ModelConfig) -> nn.Module:
    if config.task == "lm":
        return LanguageModel(config)
    from edge_rnn.kws_model import KeywordSpotter

    return KeywordSpotter(config)
