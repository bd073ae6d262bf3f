"""Thin modules that expose exactly the interface of the exported graph.

Inputs: the task input, then every state as its own (batch, size) tensor.
Outputs: the task output, then (language models) the top-k next words after the last token,
then every new state. Names come from `io_names`; the task's main input and output names are
the contract's (`tokens`/`logits`, `audio`/`scores`, `readings`/`forecast`).
"""

from __future__ import annotations

import torch
from torch import nn

from edge_rnn.runtime.contract import IO_NAMES


TOP_K = 10  # next words ranked inside the graph, so a step need not fetch every logit


def top_k_for(config) -> int:
    return min(TOP_K, config.vocab_size) if config.task == "lm" else 0


def io_names(config) -> tuple[list[str], list[str]]:
    """(input names, output names) of the exported graph, in order. The states come last."""
    names = [name for name, _ in config.state_sizes]
    main_in, main_out = IO_NAMES[config.task]
    extra = ["next_probs", "next_ids"] if top_k_for(config) else []
    return [main_in] + [f"state_{n}" for n in names], [main_out] + extra + [f"state_{n}_out" for n in names]


class StreamingWrapper(nn.Module):
    """(input, *states) -> (output, *new states), for any task model with forward(x, state)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, *state: torch.Tensor):
        config = self.model.config
        run = self.model.scores if config.task == "kws" else self.model
        out, new_state = run(x, list(state))
        k = top_k_for(config)
        if not k:
            return (out, *new_state)
        probs, ids = torch.topk(torch.softmax(out[:, -1], dim=-1), k, dim=-1)  # (batch, k)
        return (out, probs, ids, *new_state)
