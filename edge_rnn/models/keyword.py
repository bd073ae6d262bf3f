"""The keyword-spotting network: raw audio -> front end -> recurrent stack -> per-frame labels.

The front end is part of the model, so training, export and every app compute the same
features from raw PCM. It keeps the audio it needs again as the first state (`context`), so
chunks of any multiple of `hop` join seamlessly. With the speech-embedding front end a second
state (`cache`) carries the embedding's streaming cache (models/embedding.py).
"""

from __future__ import annotations

import torch
from torch import nn

from edge_rnn.config import KWSConfig

from .features import LogMelFrontEnd
from .recurrent import RecurrentStack


class KeywordNet(nn.Module):
    """Per-frame label logits. State: [context, (cache), h0, (c0), h1, ...]."""

    def __init__(self, config: KWSConfig):
        super().__init__()
        self.config = config
        self.embedding = None
        if config.front_end == "speech-embedding":
            from .embedding import EmbeddingFrontEnd, SpeechEmbedding

            self.frontend = EmbeddingFrontEnd(config.n_features)
            # pretrained and frozen, except the last blocks that --tune-embedding trains
            self.embedding = SpeechEmbedding().requires_grad_(False)
            if config.tune_embedding:
                from edge_rnn.config import first_tuned_conv

                self.embedding.convs[first_tuned_conv(config.tune_embedding):].requires_grad_(True)
        else:
            self.frontend = LogMelFrontEnd(config.sample_rate, config.win, config.hop, config.n_mels)
        self.front_states = 2 if self.embedding is not None else 1  # how many states the front end owns
        self.rnn = RecurrentStack(config.cell, config.n_features, config.hidden, config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden[-1], len(config.labels))

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        return [torch.zeros(batch, size, device=device) for _, size in self.config.state_sizes]

    def forward(self, audio: torch.Tensor, state: list[torch.Tensor]):
        """audio (batch, samples), samples a multiple of hop -> logits (batch, frames, labels)."""
        n = self.front_states
        feats, front_state = self.front(audio, state[:n])
        logits, rnn_state = self.head(feats, state[n:])
        return logits, front_state + rnn_state

    def front(self, audio: torch.Tensor, front_state: list[torch.Tensor]):
        """The front end: unnormalised features (batch, frames, features) and its new states.
        Only the embedding blocks of --tune-embedding learn; without them it runs without gradients."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and bool(self.config.tune_embedding)):
            if self.embedding is None:
                feats, context = self.frontend(audio, front_state[0])
                return feats, [context]
            logmel, context = self.frontend(audio, front_state[0])
            raw, cache = self.embedding(logmel, front_state[1])
            bands = self.config.level_bands
            if bands:  # (batch, 8 * hops, 32) -> each hop's mean log-mel per band (batch, hops, bands)
                n, hops, mels = logmel.size(0), raw.size(1), logmel.size(2)
                level = logmel.reshape(n, hops, -1, bands, mels // bands).mean(dim=(2, 4))
                raw = torch.cat([raw, level], dim=2)
            return raw, [context, cache]

    def head(self, feats: torch.Tensor, rnn_state: list[torch.Tensor]):
        """Features from `front` -> normalised as measured on training audio -> logits, new state."""
        x, rnn_state = self.rnn((feats - self.frontend.mean) / self.frontend.std, rnn_state)
        return self.classifier(self.drop(x)), rnn_state

    def scores(self, audio: torch.Tensor, state: list[torch.Tensor]):
        """What the exported graph returns: per-frame probabilities."""
        logits, state = self(audio, state)
        return torch.softmax(logits, dim=-1), state

    def int8_weights(self) -> list[torch.Tensor]:
        """The weights an int8 export stores as int8 (the recurrent ones always are): the DFT
        kernel, the embedding's convolutions and the classifier. The mel filters stay float."""
        convs = [conv.weight for conv in self.embedding.convs] if self.embedding is not None else []
        return [self.frontend.basis, *convs, self.classifier.weight]

    @torch.no_grad()
    def fit_normalisation(self, audio: torch.Tensor) -> None:
        """Set the front end's per-feature mean and std from (batch, samples) training audio."""
        state = self.init_state(audio.size(0), audio.device)
        feats, _ = self.front(audio, state[: self.front_states])
        flat = feats.reshape(-1, feats.size(-1))  # (batch * frames, features)
        self.frontend.mean.copy_(flat.mean(0))
        self.frontend.std.copy_(flat.std(0).clamp_min(1e-3))
