"""Model configurations: one dataclass per task, the single source of truth for an architecture.

Saved in checkpoints and in the exported model's metadata (`edge_rnn.config`); torch-free.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

CELLS = ("rnn", "gru", "lstm")
FRONT_ENDS = ("logmel", "speech-embedding")
# --front-end speech-embedding (models/embedding.py): log-mels of a 256-point DFT every 80 samples
# at 8 kHz, 32 mels, one 96-number embedding of 76 frames every 8 frames
EMBEDDING_RATE, EMBEDDING_N_FFT, EMBEDDING_MEL_HOP, EMBEDDING_MELS = 8000, 256, 80, 32
EMBEDDING_WINDOW, EMBEDDING_STRIDE, EMBEDDING_SIZE = 76, 8, 96
EMBEDDING_HOP = EMBEDDING_STRIDE * EMBEDDING_MEL_HOP  # 640 samples: one score frame per 80 ms
# its network: (out channels, kernel (time, mel), pad mel) per convolution; "pool" rows are
# max-pools (time, mel)
EMBEDDING_LAYERS = [(24, (3, 3), 1), (24, (1, 3), 1), (24, (3, 1), 0), "pool22",
                    (48, (1, 3), 1), (48, (3, 1), 0), (48, (1, 3), 1), (48, (3, 1), 0), "pool12",
                    (72, (1, 3), 1), (72, (3, 1), 0), (72, (1, 3), 1), (72, (3, 1), 0), "pool22",
                    (96, (1, 3), 1), (96, (3, 1), 0), (96, (1, 3), 1), (96, (3, 1), 0), "pool12",
                    (96, (1, 3), 1), (96, (3, 1), 0), (96, (1, 3), 1), (96, (3, 1), 0), "pool22",
                    (96, (3, 1), 0)]


def embedding_time_convs() -> list[tuple[int, int]]:
    """(channels, mels) of the input of each embedding convolution that spans 3 time steps: the
    layers whose last 2 input steps the streaming cache keeps."""
    out, channels, mels = [], 1, EMBEDDING_MELS
    for layer in EMBEDDING_LAYERS:
        if isinstance(layer, str):
            mels //= 2
            continue
        width, kernel, pad = layer
        if kernel[0] > 1:
            out.append((channels, mels))
        channels, mels = width, mels + 2 * pad - kernel[1] + 1
    return out


# where each of the embedding's blocks starts (the layer after a pooling); the last block runs on
# through its final pooling and convolution. `--tune-embedding N` trains the last N blocks.
EMBEDDING_BLOCKS = [i + 1 for i, layer in enumerate(EMBEDDING_LAYERS[:-2]) if isinstance(layer, str)]


def first_tuned_conv(blocks: int) -> int:
    """The index (among the embedding's convolutions) of the first one `--tune-embedding blocks` trains."""
    start = EMBEDDING_BLOCKS[-blocks]
    return sum(isinstance(layer, tuple) for layer in EMBEDDING_LAYERS[:start])


EMBEDDING_CACHE = sum(2 * c * m for c, m in embedding_time_convs())  # the streaming state: 9472 numbers
# Fields of earlier releases that selected features since retired: a config that sets one is refused.
RETIRED = {"n_cepstra": 0, "conv_channels": 0, "norm_seconds": 0.0, "tie_weights": False}


@dataclass
class ModelConfig:
    """What every task shares: the recurrent stack."""

    task = ""
    cell: str = "lstm"
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        self.hidden = [int(h) for h in self.hidden]
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError("--hidden needs one positive size per layer, e.g. 256,128")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("--dropout must be in [0, 1)")

    def recurrent_states(self) -> list[tuple[str, int]]:
        """(name, size) of the recurrent stack's states: h0, [c0], h1, [c1], ..."""
        per_layer = ("h", "c") if self.cell == "lstm" else ("h",)
        return [(f"{kind}{i}", size) for i, size in enumerate(self.hidden) for kind in per_layer]

    @property
    def state_sizes(self) -> list[tuple[str, int]]:
        """(name, size) of each state tensor the model takes and returns, in order."""
        return self.recurrent_states()

    def to_json(self) -> str:
        return json.dumps({"task": self.task, **dataclasses.asdict(self)}, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "ModelConfig":
        """The config of the task named in the JSON; keys of other releases are ignored, and a
        retired feature is refused."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a model config is a JSON object")
        for key, off in RETIRED.items():
            if data.get(key, off) != off:
                raise ValueError(f"this model uses {key} = {data[key]!r}, a feature this edge-rnn no longer has")
        kinds = {"lm": LMConfig, "kws": KWSConfig, "series": SeriesConfig}
        kind = kinds.get(data.get("task", "lm"))
        if kind is None:
            raise ValueError(f"unknown task {data.get('task')!r}; choose one of {', '.join(kinds)}")
        known = {f.name for f in dataclasses.fields(kind)}
        return kind(**{k: v for k, v in data.items() if k in known})


@dataclass
class LMConfig(ModelConfig):
    """A word-level language model: embedding -> recurrent stack -> linear over the vocabulary."""

    task = "lm"
    vocab_size: int = 0
    embedding: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embedding < 1 or self.vocab_size < 0:
            raise ValueError("--embedding must be >= 1")


@dataclass
class KWSConfig(ModelConfig):
    """A keyword spotter: audio front end -> recurrent stack -> per-frame label probabilities."""

    task = "kws"
    cell: str = "gru"
    labels: list[str] = field(default_factory=list)
    sample_rate: int = 8000
    n_mels: int = 40
    win: int = 200  # samples in one analysis window (25 ms at 8 kHz)
    hop: int = 80  # samples between frames (10 ms at 8 kHz)
    front_end: str = "logmel"  # or "speech-embedding": a frozen pretrained embedding every 80 ms
    # speech-embedding only: beside the embedding, each hop's mean log-mel in this many bands (0:
    # none), the loudness and coarse spectrum the embedding normalises away
    level_bands: int = 0
    # speech-embedding only: train the embedding's last this many blocks with the rest (0: frozen)
    tune_embedding: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tune_embedding and (self.front_end != "speech-embedding"
                                    or not 0 <= self.tune_embedding <= len(EMBEDDING_BLOCKS)):
            raise ValueError(f"--tune-embedding needs --front-end speech-embedding and a number of blocks from 0 to "
                             f"{len(EMBEDDING_BLOCKS)}")
        if self.level_bands and (self.front_end != "speech-embedding" or self.level_bands < 0
                                 or EMBEDDING_MELS % self.level_bands):
            raise ValueError(f"--level-bands needs --front-end speech-embedding and a number of bands that divides "
                             f"its {EMBEDDING_MELS} mels (1, 2, 4, 8, 16 or 32)")
        if self.front_end not in FRONT_ENDS:
            raise ValueError(f"unknown front end {self.front_end!r}; choose one of {', '.join(FRONT_ENDS)}")
        if len(self.labels) < 3:
            raise ValueError("a keyword spotter needs background, unknown and at least one keyword label")
        if self.front_end == "speech-embedding":
            if (self.sample_rate, self.hop) != (EMBEDDING_RATE, EMBEDDING_HOP):
                raise ValueError("the speech embedding works on 8 kHz audio with one frame per 80 ms (hop 640)")
        elif not (0 < self.hop <= self.win and 4 <= self.n_mels <= 128 and self.sample_rate >= 1000):
            raise ValueError("a log-mel front end needs 0 < hop <= win, 4 to 128 mels and a rate >= 1000 Hz")

    @property
    def n_features(self) -> int:
        """Feature channels the recurrent stack sees per frame."""
        return EMBEDDING_SIZE + self.level_bands if self.front_end == "speech-embedding" else self.n_mels

    @property
    def state_sizes(self) -> list[tuple[str, int]]:
        """[context (the audio the front end needs again), [cache (the embedding's)], recurrent]."""
        if self.front_end == "speech-embedding":
            front = [("context", EMBEDDING_N_FFT - EMBEDDING_MEL_HOP),  # the DFT's overlap
                     ("cache", EMBEDDING_CACHE)]  # the last 2 steps into each convolution over time
        else:
            front = [("context", self.win - self.hop)]
        return front + self.recurrent_states()


TIME_FEATURES = ("hour", "day")  # hour of day, day of year: fed as numbers, turned into sin/cos in the graph
MAX_SEASON = 1440  # a day's memory of one reading a minute at most


@dataclass
class SeriesConfig(ModelConfig):
    """A forecaster: raw readings (normalised in the graph) and clock values -> recurrent stack ->
    the next `horizon` values of the target, as changes from its current reading (in its unit).

    columns[0] is the target; mean/std (one per column, from the training rows) normalise the
    readings inside the model, so a device feeds raw values.
    """

    task = "series"
    cell: str = "gru"
    hidden: list[int] = field(default_factory=lambda: [32])
    columns: list[str] = field(default_factory=list)
    horizon: int = 1
    interval_s: int = 3600  # seconds between readings
    time_features: list[str] = field(default_factory=list)
    max_gap: int = 6  # missing readings filled by interpolation; a longer gap starts the stream anew
    season: int = 0  # readings in one day, kept as a state (0: none): the model sees the day before
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.columns or len(set(self.columns)) != len(self.columns) or not all(self.columns):
            raise ValueError("a forecaster needs distinct, non-empty column names, the target first")
        if not 1 <= self.horizon <= 10000:
            raise ValueError("--horizon must be between 1 and 10000 readings ahead")
        if not 1 <= self.interval_s <= 366 * 86400 or not 0 <= self.max_gap <= 100000:
            raise ValueError("the interval must be 1 s to a year, --max-gap 0 to 100000 readings")
        if self.season != 0 and not 2 <= self.season <= MAX_SEASON:
            raise ValueError(f"a day's memory holds 2 to {MAX_SEASON} readings")
        if len(set(self.time_features)) != len(self.time_features) or set(self.time_features) - set(TIME_FEATURES):
            raise ValueError(f"--time-features takes any of {', '.join(TIME_FEATURES)}, each once")
        if self.mean or self.std:
            self.mean, self.std = [float(v) for v in self.mean], [float(v) for v in self.std]
            if len(self.mean) != len(self.columns) or len(self.std) != len(self.columns) or min(self.std) <= 0:
                raise ValueError("a forecaster needs one mean and one positive std per column")

    @property
    def target(self) -> str:
        return self.columns[0]

    @property
    def lag_steps(self) -> list[int]:
        """How many steps back the remembered target readings fed at each step lie: one day
        before each forecast time (season - h), and one day before now (season)."""
        if not self.season:
            return []
        return sorted({self.season} | {self.season - h for h in range(1, min(self.horizon, self.season - 1) + 1)})

    @property
    def state_sizes(self) -> list[tuple[str, int]]:
        """[lag (the last day's target readings, then 1 where each was there), recurrent]."""
        lag = [("lag", 2 * self.season)] if self.season else []
        return lag + self.recurrent_states()

    @property
    def n_inputs(self) -> int:
        """Numbers per step of the graph's input: the readings, then the clock values."""
        return len(self.columns) + len(self.time_features)


def parse_sizes(text: str, option: str = "--hidden", example: str = "256,128") -> list[int]:
    """Parse '256,128' into [256, 128], with a message that says how to fix bad input."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} sizes must be comma-separated integers like {example}, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{option} sizes must be positive integers like {example}, got {text!r}")
    return sizes
