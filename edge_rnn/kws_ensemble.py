"""Several keyword spotters as one model: the per-frame probabilities are averaged.

Models trained with different front ends or data make different mistakes on a voice they never
heard, so their average is right more often than any one of them (docs/bundled-models.md has the
measurements). The ensemble is still one streaming model with the usual contract: one `audio`
input, one `scores` output, one audio context (as long as the longest member needs; each member
reads the tail it needs) and then every member's recurrent states, named `m{i}_h0`, `m{i}_c0`...
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from torch import nn

from edge_rnn.config import ModelConfig
from edge_rnn.kws_model import KeywordSpotter
from edge_rnn.runtime.errors import UserError

SHARED = ("labels", "sample_rate", "hop")  # what every member must agree on


@dataclass
class EnsembleConfig:
    """The architecture of an ensemble: its members' configs. Read like a ModelConfig by export."""

    members: list[ModelConfig]

    def __post_init__(self) -> None:
        if any(m.task != "kws" for m in self.members):
            raise UserError("only keyword spotters can be exported as an ensemble; "
                            "give one checkpoint for a language model")
        if len({m.front_end for m in self.members}) > 1:
            raise UserError("ensemble members must share one front end: all log-mel, or all speech-embedding "
                            "(then they share its embedding and differ in their recurrent heads)")
        first = self.members[0]
        for i, m in enumerate(self.members[1:], 1):
            for key in SHARED:
                if getattr(m, key) != getattr(first, key):
                    raise UserError(f"checkpoint {i + 1} has {key} {getattr(m, key)!r} but checkpoint 1 has "
                                    f"{getattr(first, key)!r}: ensemble members must share {', '.join(SHARED)}")

    task = "kws"
    vocab_size = 0

    @property
    def labels(self) -> list[str]:
        return self.members[0].labels

    @property
    def sample_rate(self) -> int:
        return self.members[0].sample_rate

    @property
    def hop(self) -> int:
        return self.members[0].hop

    @property
    def cell(self) -> list[str]:
        return [m.cell for m in self.members]

    @property
    def hidden(self) -> list[list[int]]:
        return [m.hidden for m in self.members]

    @property
    def embedded(self) -> bool:
        """Speech-embedding members: one front end and embedding, then each member's head."""
        return self.members[0].front_end == "speech-embedding"

    @property
    def context_size(self) -> int:
        return max(m.state_sizes[0][1] for m in self.members)

    @property
    def shared_states(self) -> int:
        """How many leading states the members share: [context] or, with the embedding, [context, cache]."""
        return 2 if self.embedded else 1

    @property
    def state_sizes(self) -> list[tuple[str, int]]:
        out = self.members[0].state_sizes[:2] if self.embedded else [("context", self.context_size)]
        for i, m in enumerate(self.members):
            out += [(f"m{i}_{name}", size) for name, size in m.state_sizes[self.shared_states:]]
        return out

    def to_json(self) -> str:
        members = [json.loads(m.to_json()) for m in self.members]
        return json.dumps({"task": "kws", "labels": self.labels, "sample_rate": self.sample_rate,
                           "hop": self.hop, "ensemble": members}, sort_keys=True)


class KeywordEnsemble(nn.Module):
    """Average of the members' per-frame probabilities. State: [audio context (and, for heads on
    the speech embedding, its cache), member 0's own states, member 1's, ...]."""

    def __init__(self, members: list[KeywordSpotter]):
        super().__init__()
        self.config = EnsembleConfig([m.config for m in members])
        self.members = nn.ModuleList(members)
        self.splits = [len(m.config.state_sizes) - self.config.shared_states for m in members]  # own states

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        return [torch.zeros(batch, size, device=device) for _, size in self.config.state_sizes]

    def scores(self, audio: torch.Tensor, state: list[torch.Tensor]):
        """audio (batch, samples), samples a multiple of hop -> probabilities (batch, frames, labels)."""
        if self.config.embedded:
            return self._embedded_scores(audio, state)
        context, rest = state[0], state[1:]
        probs, new_state = [], []
        for member, n in zip(self.members, self.splits):
            own = context[:, context.size(1) - member.frontend.context_size:]
            p, s = member.scores(audio, [own] + rest[:n])
            probs.append(p)
            new_state += s[1:]
            rest = rest[n:]
        joined = torch.cat([context, audio], dim=1)
        new_context = joined[:, joined.size(1) - context.size(1):]
        return torch.stack(probs).mean(dim=0), [new_context] + new_state

    def _embedded_scores(self, audio: torch.Tensor, state: list[torch.Tensor]):
        """The embedding once (the members' are the same frozen weights), then every head."""
        shared = self.config.shared_states
        raw, front_state = self.members[0].embed(audio, *state[:shared])
        rest, probs, new_state = state[shared:], [], []
        for member, n in zip(self.members, self.splits):
            logits, s = member.head(raw, rest[:n])
            probs.append(torch.softmax(logits, dim=-1))
            new_state += s
            rest = rest[n:]
        return torch.stack(probs).mean(dim=0), front_state + new_state


def load_ensemble(checkpoints: list[dict]) -> KeywordEnsemble:
    """An ensemble from loaded checkpoints (see edge_rnn.checkpoint.load_checkpoint)."""
    EnsembleConfig([c["config"] for c in checkpoints])  # refuse mismatches before building
    members = []
    for ckpt in checkpoints:
        model = KeywordSpotter(ckpt["config"])
        model.load_state_dict(ckpt["model"])
        members.append(model.eval())
    if members[0].embedding is not None:
        first = members[0].embedding.state_dict()
        for i, m in enumerate(members[1:], 2):
            if any(not torch.equal(t, first[k]) for k, t in m.embedding.state_dict().items()):
                raise UserError(f"checkpoint {i} has other speech-embedding weights than checkpoint 1: "
                                "members must share one embedding")
    return KeywordEnsemble(members).eval()
