"""The model contract: what an edge-rnn ONNX file says about itself in `metadata_props`.

Documented in docs/model-format.md; this module is its reader. Keys are prefixed `edge_rnn.`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import UserError

FORMAT = "1"  # version of the contract; a reader refuses versions it does not know
PREFIX = "edge_rnn."
TASKS = ("lm", "kws")
# A keyword spotter's labels: background, other speech, then the keywords.
BACKGROUND, UNKNOWN = "_background_", "_unknown_"
FIRST_KEYWORD = 2


def keyword_labels(keywords: list[str]) -> list[str]:
    """The label list of a spotter for these keywords."""
    return [BACKGROUND, UNKNOWN, *keywords]


def keywords_of(labels: list[str]) -> list[str]:
    """The keywords among a spotter's labels."""
    return list(labels[FIRST_KEYWORD:])


@dataclass(frozen=True)
class StateSpec:
    """One state tensor: fed as `input`, returned as `output`, float32 (batch, size), zeros at start."""

    input: str
    output: str
    size: int


@dataclass
class Contract:
    task: str
    precision: str
    config: dict[str, Any]
    states: list[StateSpec]
    input: str  # "tokens" or "audio"
    output: str  # "logits" or "scores"
    vocab: list[str] = field(default_factory=list)
    unk: str = ""
    eos: str = ""
    top_k: int = 0  # (lm) the graph also outputs next_probs/next_ids: the k best next words
    labels: list[str] = field(default_factory=list)
    sample_rate: int = 0
    hop: int = 0
    detector: dict[str, Any] = field(default_factory=dict)
    train_speakers: list[str] | None = None  # (kws) speakers whose recordings trained it; None: not recorded

    def to_metadata(self) -> dict[str, str]:
        """The metadata_props an exporter writes (all values are strings)."""
        meta = {
            "format": FORMAT,
            "task": self.task,
            "precision": self.precision,
            "config": json.dumps(self.config, sort_keys=True),
            "states": json.dumps([{"input": s.input, "output": s.output, "shape": ["batch", s.size]}
                                  for s in self.states]),
        }
        if self.task == "lm":
            meta.update(vocab=json.dumps(self.vocab), unk=self.unk, eos=self.eos)
            if self.top_k:
                meta["top_k"] = str(self.top_k)
        else:
            meta.update(labels=json.dumps(self.labels), sample_rate=str(self.sample_rate),
                        hop=str(self.hop), detector=json.dumps(self.detector, sort_keys=True))
            if self.train_speakers is not None:
                meta["train_speakers"] = json.dumps(sorted(self.train_speakers))
        return {PREFIX + k: v for k, v in meta.items()}


def parse_metadata(meta: dict[str, str], where: str = "model") -> Contract:
    """Build a Contract from metadata_props, refusing what this version cannot run."""
    get = {k[len(PREFIX):]: v for k, v in meta.items() if k.startswith(PREFIX)}
    if "format" not in get:
        raise UserError(f"{where} is not an edge-rnn model (no edge_rnn.format metadata); "
                        "export it with `edge-rnn export`")
    if get["format"] != FORMAT:
        raise UserError(f"{where} uses edge-rnn model format {get['format']!r}; this edge-rnn reads "
                        f"format {FORMAT}: upgrade edge-rnn or re-export the model")
    task = get.get("task", "")
    if task not in TASKS:
        raise UserError(f"{where} has unknown task {task!r}")
    try:
        states = [StateSpec(s["input"], s["output"], int(s["shape"][1]))
                  for s in json.loads(get["states"])]
        contract = Contract(task=task, precision=get.get("precision", "fp32"),
                            config=json.loads(get.get("config", "{}")), states=states,
                            input="tokens" if task == "lm" else "audio",
                            output="logits" if task == "lm" else "scores")
        if task == "lm":
            contract.vocab = json.loads(get["vocab"])
            contract.unk, contract.eos = get["unk"], get["eos"]
            contract.top_k = int(get.get("top_k", "0"))
        else:
            contract.labels = json.loads(get["labels"])
            contract.sample_rate, contract.hop = int(get["sample_rate"]), int(get["hop"])
            contract.detector = json.loads(get.get("detector", "{}"))
            if "train_speakers" in get:
                speakers = json.loads(get["train_speakers"])
                if not isinstance(speakers, list) or not all(isinstance(s, str) for s in speakers):
                    raise ValueError("train_speakers must be a JSON list of names")
                contract.train_speakers = speakers
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise UserError(f"{where} has broken edge-rnn metadata ({type(e).__name__}: {e})") from None
    return contract
