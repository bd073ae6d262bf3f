"""The word-level language model: embedding -> recurrent stack -> linear over the vocabulary."""

from __future__ import annotations

import torch
from torch import nn

from edge_rnn.config import LMConfig

from .recurrent import RecurrentStack


class LanguageModel(nn.Module):
    """Embedding -> dropout -> recurrent stack -> dropout -> linear over the vocabulary."""

    def __init__(self, config: LMConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embedding)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = RecurrentStack(config.cell, config.embedding, config.hidden, config.dropout)
        self.decoder = nn.Linear(config.hidden[-1], config.vocab_size)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        return self.rnn.init_state(batch, device)

    def forward(self, tokens: torch.Tensor, state: list[torch.Tensor]):
        """tokens: (batch, time) int64 -> logits (batch, time, vocab), new state."""
        x = self.drop(self.embed(tokens))
        x, state = self.rnn(x, state)
        return self.decoder(self.drop(x)), state

    def int8_weights(self) -> list[torch.Tensor]:
        """The weights an int8 export stores as int8 (the recurrent ones always are)."""
        return [self.embed.weight, self.decoder.weight]
