"""Thin modules that expose exactly the interface of the exported graph.

Inputs: the task input, then every state as its own (batch, size) tensor.
Outputs: the task output, then every new state. Names come from `io_names`.
"""

from __future__ import annotations

import torch
from torch import nn

from edge_rnn.config import ModelConfig


def io_names(config: ModelConfig) -> tuple[list[str], list[str]]:
    """(input names, output names) of the exported graph, in order."""
    names = [name for name, _ in config.state_sizes]
    main_in, main_out = ("tokens", "logits") if config.task == "lm" else ("audio", "scores")
    return [main_in] + [f"state_{n}" for n in names], [main_out] + [f"state_{n}_out" for n in names]


class StreamingWrapper(nn.Module):
    """(input, *states) -> (output, *new states), for any task model with forward(x, state)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, *state: torch.Tensor):
        run = self.model.scores if self.model.config.task == "kws" else self.model
        out, new_state = run(x, list(state))
        return (out, *new_state)
