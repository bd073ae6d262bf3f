"""`train kws --embedding-denoise W`: teach the tuned embedding blocks to hear through noise.

Each training clip is also made clean: the same words, without the room or the noise, heard in
the quiet room a fresh stream is taken to have heard (embedding.quiet_room_audio). The pretrained
embedding, frozen, gives the clean clip's embedding; the model's own (tuned) embedding of the
noisy clip is pulled toward it, by W times their mean squared difference in units of each
feature's spread over training audio (the normalisation the heads see). Words in babble should
then reach the heads looking like the same words in a quiet room, and noise alone like the quiet
room. The pull is toward the pretrained embedding, so it also keeps the tuned blocks near what
they were trained on (like `--embedding-anchor`, but on what they compute rather than on their
weights).
"""

from __future__ import annotations

import torch

from edge_rnn.models.embedding import SpeechEmbedding, default_weights, quiet_room_audio
from edge_rnn.models.keyword import KeywordNet


class Denoise:
    """The pull of one model's embedding toward the pretrained embedding of clean audio."""

    def __init__(self, model: KeywordNet, weight: float):
        if model.embedding is None or not model.config.tune_embedding:
            raise ValueError("the denoising pull needs a model whose speech embedding is being tuned")
        self.model, self.weight, self.noisy, self.room = model, weight, None, None
        self.teacher = SpeechEmbedding().requires_grad_(False)
        self.teacher.load_onnx(default_weights())
        self.teacher.to(next(model.parameters()).device)
        # what the model's embedding just computed (kept by a hook: the model may be wrapped, e.g. DDP)
        model.embedding.register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output) -> None:
        self.noisy = output[0] if isinstance(output, tuple) else output

    def _room(self, words: torch.Tensor) -> torch.Tensor:
        """The quiet room under clips of `words`' length (one tensor, kept while the length holds)."""
        if self.room is None or self.room.size(-1) != words.size(-1) or self.room.device != words.device:
            self.room = torch.from_numpy(quiet_room_audio(words.size(-1))).to(words.device)
        return self.room

    @torch.no_grad()
    def target(self, words: torch.Tensor) -> torch.Tensor:
        """The pretrained embedding of (batch, samples) words alone, heard in the quiet room from a
        fresh stream: (batch, hops, 96)."""
        clean = torch.clamp(words + self._room(words), -1.0, 1.0)
        context, cache = self.model.init_state(words.size(0), words.device)[:2]
        logmel, _ = self.model.frontend(clean, context)
        out, _ = self.teacher(logmel, cache)
        return out

    def penalty(self, words: torch.Tensor) -> torch.Tensor:
        """W times the mean squared normalised difference between the embedding the model computed
        last (on the noisy clips) and the pretrained one of the same `words` in the quiet room."""
        target = self.target(words)
        std = self.model.frontend.std[: target.size(-1)]
        return self.weight * (((self.noisy - target) / std) ** 2).mean()
