"""The model contract: what an edge-rnn ONNX file says about itself in `metadata_props`.

Documented in docs/model-format.md; this module is its reader. Keys are prefixed `edge_rnn.`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .detector import DetectorConfig
from .errors import UserError
from .labels import FIRST_KEYWORD
from .textrules import TextRules

FORMAT = "1"  # version of the contract; a reader refuses versions it does not know
PREFIX = "edge_rnn."
TASKS = ("lm", "kws", "series")
IO_NAMES = {"lm": ("tokens", "logits"), "kws": ("audio", "scores"), "series": ("readings", "forecast")}
TIME_FEATURES = ("hour", "day")

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
    input: str  # "tokens", "audio" or "readings"
    output: str  # "logits", "scores" or "forecast"
    vocab: list[str] = field(default_factory=list)
    unk: str = ""
    eos: str = ""
    top_k: int = 0  # (lm) the graph also outputs next_probs/next_ids: the k best next words
    text_rules: TextRules = field(default_factory=TextRules)  # (lm) how typed text becomes its words
    labels: list[str] = field(default_factory=list)
    sample_rate: int = 0
    hop: int = 0
    detector: dict[str, Any] = field(default_factory=dict)
    train_speakers: list[str] | None = None  # (kws) speakers whose recordings trained it; None: not recorded
    columns: list[str] = field(default_factory=list)  # (series) the readings fed, the target first
    horizon: int = 0  # (series) forecasts per step: 1 .. horizon intervals ahead
    interval_s: int = 0  # (series) seconds between readings
    time_features: list[str] = field(default_factory=list)  # (series) clock values fed after the readings
    max_gap: int = 0  # (series) missing readings a client fills by interpolation; more: a new start

    @property
    def target(self) -> str:
        return self.columns[0] if self.columns else ""

    @property
    def input_width(self) -> int:
        """(series) numbers per step of the input: the readings, then the clock values."""
        return len(self.columns) + len(self.time_features)

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
            if not self.text_rules.is_plain:
                meta["text_rules"] = self.text_rules.to_json()
        elif self.task == "series":
            meta.update(columns=json.dumps(self.columns), target=self.target, horizon=str(self.horizon),
                        interval_s=str(self.interval_s), time_features=json.dumps(self.time_features),
                        max_gap=str(self.max_gap))
        else:
            meta.update(labels=json.dumps(self.labels), sample_rate=str(self.sample_rate),
                        hop=str(self.hop), detector=json.dumps(self.detector, sort_keys=True))
            if self.train_speakers is not None:
                meta["train_speakers"] = json.dumps(sorted(self.train_speakers))
        return {PREFIX + k: v for k, v in meta.items()}


MAX_STATE = 1 << 24  # floats in one state row: far above any recurrent model, far below a bad allocation
MAX_VOCAB = 1 << 22


def _json(get: dict, key: str, kind: type, where: str):
    try:
        value = json.loads(get[key])
    except KeyError:
        raise UserError(f"{where} lacks edge_rnn.{key} metadata") from None
    except ValueError:
        raise UserError(f"{where} has edge_rnn.{key} metadata that is not JSON") from None
    if not isinstance(value, kind):
        raise UserError(f"{where}: edge_rnn.{key} must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def _int(get: dict, key: str, low: int, high: int, where: str, default: str | None = None) -> int:
    text = get.get(key, default)
    if text is None:
        raise UserError(f"{where} lacks edge_rnn.{key} metadata")
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{where}: edge_rnn.{key} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise UserError(f"{where}: edge_rnn.{key} is {value}, outside {low}..{high}")
    return value


def _words(value: list, what: str, where: str, least: int) -> list[str]:
    if len(value) < least or not all(isinstance(w, str) and w for w in value) or len(set(value)) != len(value):
        raise UserError(f"{where}: edge_rnn.{what} must be at least {least} distinct non-empty strings")
    return value


def _states(get: dict, where: str) -> list[StateSpec]:
    states = []
    for s in _json(get, "states", list, where):
        s = s if isinstance(s, dict) else {}
        shape = s.get("shape")
        size = shape[1] if isinstance(shape, list) and len(shape) == 2 else None
        if not (isinstance(s.get("input"), str) and isinstance(s.get("output"), str) and isinstance(size, int)
                and not isinstance(size, bool) and 1 <= size <= MAX_STATE):
            raise UserError(f"{where}: each edge_rnn.states entry needs input and output names and a shape "
                            f"[\"batch\", size] with 1 <= size <= {MAX_STATE}, got {s!r}"[:300])
        states.append(StateSpec(s["input"], s["output"], size))
    if not states or len({s.input for s in states}) != len(states) or len({s.output for s in states}) != len(states):
        raise UserError(f"{where}: edge_rnn.states must name at least one state, each once")
    return states


def parse_metadata(meta: dict[str, str], where: str = "model") -> Contract:
    """Build a Contract from metadata_props, refusing what this version cannot run: every value is
    checked for type and range here, before anything is allocated for it."""
    get = {k[len(PREFIX):]: v for k, v in meta.items() if k.startswith(PREFIX)}
    if "format" not in get:
        raise UserError(f"{where} is not an edge-rnn model (no edge_rnn.format metadata); "
                        "export it with `edge-rnn export`")
    if get["format"] != FORMAT:
        raise UserError(f"{where} uses edge-rnn model format {get['format'][:20]!r}; this edge-rnn reads "
                        f"format {FORMAT}: upgrade edge-rnn or re-export the model")
    task = get.get("task", "")
    if task not in TASKS:
        raise UserError(f"{where} has unknown task {task[:20]!r}; this edge-rnn runs {', '.join(TASKS)}")
    contract = Contract(task=task, precision=get.get("precision", "fp32")[:20],
                        config=_json(get, "config", dict, where) if "config" in get else {},
                        states=_states(get, where), input=IO_NAMES[task][0], output=IO_NAMES[task][1])
    if task == "lm":
        contract.vocab = _words(_json(get, "vocab", list, where), "vocab", where, 3)
        contract.unk, contract.eos = get.get("unk", ""), get.get("eos", "")
        if contract.unk not in contract.vocab or contract.eos not in contract.vocab or contract.unk == contract.eos:
            raise UserError(f"{where}: edge_rnn.unk and edge_rnn.eos must be two different words of the vocabulary")
        contract.top_k = _int(get, "top_k", 0, len(contract.vocab), where, "0")
        if "text_rules" in get:
            contract.text_rules = TextRules.from_dict(_json(get, "text_rules", dict, where), where)
    elif task == "series":
        _series(get, contract, where)
    else:
        contract.labels = _words(_json(get, "labels", list, where), "labels", where, FIRST_KEYWORD + 1)
        contract.sample_rate = _int(get, "sample_rate", 1000, 768000, where)
        contract.hop = _int(get, "hop", 1, 10 * contract.sample_rate, where)
        contract.detector = _json(get, "detector", dict, where) if "detector" in get else {}
        DetectorConfig.from_dict(contract.detector)  # refuse a detector that cannot run
        if "train_speakers" in get:
            contract.train_speakers = _words(_json(get, "train_speakers", list, where), "train_speakers", where, 0)
    return contract


MAX_COLUMNS, MAX_HORIZON, MAX_INTERVAL, MAX_GAP = 1024, 10000, 366 * 86400, 100000


def _series(get: dict, contract: Contract, where: str) -> None:
    """A forecaster's keys: columns (target first, as edge_rnn.target says), horizon, interval,
    clock values and the gap a client may fill."""
    columns = _words(_json(get, "columns", list, where), "columns", where, 1)
    if len(columns) > MAX_COLUMNS:
        raise UserError(f"{where}: edge_rnn.columns lists {len(columns)} columns, more than {MAX_COLUMNS}")
    if get.get("target") != columns[0]:
        raise UserError(f"{where}: edge_rnn.target must name the first of edge_rnn.columns ({columns[0][:40]!r})")
    features = _json(get, "time_features", list, where)
    if len(set(map(str, features))) != len(features) or not all(f in TIME_FEATURES for f in features):
        raise UserError(f"{where}: edge_rnn.time_features must list distinct values of {', '.join(TIME_FEATURES)}")
    contract.columns, contract.time_features = columns, features
    contract.horizon = _int(get, "horizon", 1, MAX_HORIZON, where)
    contract.interval_s = _int(get, "interval_s", 1, MAX_INTERVAL, where)
    contract.max_gap = _int(get, "max_gap", 0, MAX_GAP, where)
