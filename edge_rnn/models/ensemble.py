"""Several keyword spotters as one model: the per-frame probabilities are averaged.

Heads trained with other seeds make different mistakes on a voice they never heard, so their
average is right more often than one of them (docs/experiments.md). The ensemble is still one
streaming model with the usual contract: one `audio` input, one `scores` output, the front end's
states (one audio context, as long as the longest member needs, each member reading the tail it
needs; with the speech embedding, one shared cache: it is computed once) and then every member's
recurrent states, named `m{i}_h0`, `m{i}_c0`...
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from torch import nn

from edge_rnn.config import KWSConfig
from edge_rnn.runtime.errors import UserError

from .keyword import KeywordNet

SHARED = ("labels", "sample_rate", "hop", "front_end", "level_bands")  # what every member must agree on


@dataclass
class EnsembleConfig:
    """The architecture of an ensemble: its members' configs. Read like a KWSConfig by export."""

    members: list[KWSConfig]
    task = "kws"

    def __post_init__(self) -> None:
        if any(m.task != "kws" for m in self.members):
            raise UserError("only keyword spotters can be exported as an ensemble; "
                            "give one checkpoint for a language model")
        first = self.members[0]
        for i, m in enumerate(self.members[1:], 1):
            for key in SHARED:
                if getattr(m, key) != getattr(first, key):
                    raise UserError(f"checkpoint {i + 1} has {key} {getattr(m, key)!r} but checkpoint 1 has "
                                    f"{getattr(first, key)!r}: ensemble members must share {', '.join(SHARED)}")

    def __getattr__(self, name: str):  # labels, sample_rate, hop, front_end: the members' common values
        if name in SHARED:
            return getattr(self.members[0], name)
        raise AttributeError(name)

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
    def state_sizes(self) -> list[tuple[str, int]]:
        if self.embedded:
            out = self.members[0].state_sizes[:2]
        else:
            out = [("context", max(m.state_sizes[0][1] for m in self.members))]
        for i, m in enumerate(self.members):
            out += [(f"m{i}_{name}", size) for name, size in m.recurrent_states()]
        return out

    def to_json(self) -> str:
        members = [json.loads(m.to_json()) for m in self.members]
        return json.dumps({"task": "kws", "labels": self.labels, "sample_rate": self.sample_rate,
                           "hop": self.hop, "ensemble": members}, sort_keys=True)


class KeywordEnsemble(nn.Module):
    """Average of the members' per-frame probabilities. State: [front end's, member 0's own
    recurrent states, member 1's, ...]."""

    def __init__(self, members: list[KeywordNet]):
        super().__init__()
        self.config = EnsembleConfig([m.config for m in members])
        self.members = nn.ModuleList(members)
        self.front_states = members[0].front_states
        self.splits = [len(m.config.recurrent_states()) for m in members]

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        return [torch.zeros(batch, size, device=device) for _, size in self.config.state_sizes]

    def scores(self, audio: torch.Tensor, state: list[torch.Tensor]):
        """audio (batch, samples), samples a multiple of hop -> probabilities (batch, frames, labels)."""
        n = self.front_states
        rest, probs, new_state = state[n:], [], []
        if self.config.embedded:  # the embedding once (the members' are the same frozen weights)
            feats, front_state = self.members[0].front(audio, state[:n])
        for member, own in zip(self.members, self.splits):
            if not self.config.embedded:  # each member's own log-mels, from the context's tail it needs
                context = state[0][:, state[0].size(1) - member.frontend.context_size:]
                feats, _ = member.front(audio, [context])
            logits, s = member.head(feats, rest[:own])
            probs.append(torch.softmax(logits, dim=-1))
            new_state += s
            rest = rest[own:]
        if not self.config.embedded:
            joined = torch.cat([state[0], audio], dim=1)
            front_state = [joined[:, joined.size(1) - state[0].size(1):]]
        return torch.stack(probs).mean(dim=0), front_state + new_state

    def int8_weights(self) -> list[torch.Tensor]:
        return [w for m in self.members for w in m.int8_weights()]


def load_ensemble(checkpoints: list[dict]) -> KeywordEnsemble:
    """An ensemble from loaded checkpoints (see edge_rnn.checkpoint.load_checkpoint)."""
    EnsembleConfig([c["config"] for c in checkpoints])  # refuse mismatches before building
    members = []
    for ckpt in checkpoints:
        model = KeywordNet(ckpt["config"])
        model.load_state_dict(ckpt["model"])
        members.append(model.eval())
    if members[0].embedding is not None:
        first = members[0].embedding.state_dict()
        for i, m in enumerate(members[1:], 2):
            if any(not torch.equal(t, first[k]) for k, t in m.embedding.state_dict().items()):
                raise UserError(f"checkpoint {i} has other speech-embedding weights than checkpoint 1: "
                                "members must share one embedding")
    return KeywordEnsemble(members).eval()
