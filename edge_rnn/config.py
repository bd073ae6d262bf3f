"""The model configuration: the single source of truth, saved in checkpoints and ONNX metadata."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

CELLS = ("rnn", "gru", "lstm")
FRONT_ENDS = ("logmel", "speech-embedding")
# --front-end speech-embedding (edge_rnn/speech_embedding.py): log-mels of a 256-point DFT every
# 80 samples at 8 kHz, 32 mels, one 96-number embedding of 76 frames every 8 frames
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


EMBEDDING_CACHE = sum(2 * c * m for c, m in embedding_time_convs())  # the streaming state: 9472 numbers
TASKS = ("lm", "kws")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model's architecture (no weights, no data paths)."""

    task: str = "lm"
    cell: str = "lstm"
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    dropout: float = 0.0
    # language model
    vocab_size: int = 0
    embedding: int = 200
    tie_weights: bool = False
    # keyword spotter
    labels: list[str] = field(default_factory=list)
    sample_rate: int = 8000
    n_mels: int = 32
    n_cepstra: int = 0  # > 0: a DCT keeps this many cepstral coefficients (MFCC), smoothing away pitch
    win: int = 200  # samples in one analysis window (25 ms at 8 kHz)
    hop: int = 80  # samples between frames (10 ms at 8 kHz)
    conv_channels: int = 0  # > 0: a causal time-frequency convolution over the log-mel frames
    conv_kernel: list[int] = field(default_factory=lambda: [5, 8])  # (frames, mel channels)
    conv_stride: int = 4  # along the mel axis
    conv_pool: int = 1  # > 1: max over this many neighbouring bands of the convolution (stride 1)
    norm_seconds: float = 0.0  # > 0: subtract a running mean of each feature (its time constant, s)
    front_end: str = "logmel"  # or "speech-embedding": a frozen pretrained embedding every 80 ms

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        self.hidden = [int(h) for h in self.hidden]
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError("--hidden needs one positive size per layer, e.g. 256,128")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("--dropout must be in [0, 1)")
        framed = self.front_end == "speech-embedding" or 0 < self.hop <= self.win  # (it frames its own audio)
        if self.task == "kws" and (len(self.labels) < 3 or not framed):
            raise ValueError("a keyword spotter needs background, unknown and >= 1 keyword, and 0 < hop <= win")
        if not 0 <= self.n_cepstra <= self.n_mels:
            raise ValueError("--cepstra must be between 0 (log-mel features) and --n-mels")
        self.conv_kernel = [int(k) for k in self.conv_kernel]
        if self.conv_channels < 0:
            raise ValueError("--conv-channels must be >= 0")
        if self.conv_channels and self.n_cepstra:
            raise ValueError("--conv-channels works on log-mel features: use --cepstra 0")
        if self.conv_channels and (len(self.conv_kernel) != 2 or min(self.conv_kernel) < 1
                                   or self.conv_kernel[1] > self.n_mels or self.conv_stride < 1):
            raise ValueError("--conv-kernel needs FRAMES,MELS >= 1 with MELS <= --n-mels, and --conv-stride >= 1")
        if self.conv_pool != 1 and not self.conv_channels:
            raise ValueError("--conv-pool pools the convolution's bands: it needs --conv-channels")
        if self.conv_channels and not 1 <= self.conv_pool <= self.conv_bands:
            raise ValueError(f"--conv-pool must be between 1 and the convolution's {self.conv_bands} bands")
        if self.front_end not in FRONT_ENDS:
            raise ValueError(f"unknown front end {self.front_end!r}; choose one of {', '.join(FRONT_ENDS)}")
        if self.front_end == "speech-embedding" and (
                self.sample_rate != EMBEDDING_RATE or self.hop != EMBEDDING_HOP or self.n_mels != EMBEDDING_MELS
                or self.n_cepstra
                or self.conv_channels or self.norm_seconds):
            raise ValueError("--front-end speech-embedding computes its own 32 log-mels at 8 kHz every 10 ms and "
                             "one embedding every 80 ms (hop 640): it takes no --cepstra, --conv-* or --norm-seconds")
        if not 0.0 <= self.norm_seconds <= 600.0:
            raise ValueError("--norm-seconds must be between 0 (off) and 600")
        if self.task == "lm" and self.tie_weights and self.hidden[-1] != self.embedding:
            raise ValueError(
                f"--tie-weights needs the last hidden size ({self.hidden[-1]}) "
                f"to equal --embedding ({self.embedding})"
            )

    @property
    def n_features(self) -> int:
        """Feature channels the keyword spotter's recurrent stack sees per frame."""
        if self.front_end == "speech-embedding":
            return EMBEDDING_SIZE
        if self.conv_channels:
            return self.conv_channels * (self.conv_bands - self.conv_pool + 1)
        return self.n_cepstra or self.n_mels

    @property
    def conv_bands(self) -> int:
        """Positions of the convolution along the mel axis (0 without it)."""
        if not self.conv_channels:
            return 0
        return (self.n_mels - self.conv_kernel[1]) // self.conv_stride + 1

    @property
    def context_frames(self) -> int:
        """Frames before the current one that the convolution looks at (0 without it)."""
        return self.conv_kernel[0] - 1 if self.conv_channels else 0

    @property
    def state_sizes(self) -> list[tuple[str, int]]:
        """(name, size) of each state tensor in order: [context, [norm] (kws)], h0, [c0], h1, [c1], ..."""
        context = self.win - self.hop + self.context_frames * self.hop
        out = [("context", context)] if self.task == "kws" else []
        if self.task == "kws" and self.front_end == "speech-embedding":
            out = [("context", EMBEDDING_N_FFT - EMBEDDING_MEL_HOP),  # the DFT's overlap
                   ("cache", EMBEDDING_CACHE)]  # the last 2 steps into each convolution over time
        if self.task == "kws" and self.norm_seconds > 0:
            out.append(("norm", self.n_cepstra or self.n_mels))
        for i, size in enumerate(self.hidden):
            out.append((f"h{i}", size))
            if self.cell == "lstm":
                out.append((f"c{i}", size))
        return out

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def parse_sizes(text: str, option: str = "--hidden", example: str = "256,128") -> list[int]:
    """Parse '256,128' into [256, 128], with a message that says how to fix bad input."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} sizes must be comma-separated integers like {example}, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{option} sizes must be positive integers like {example}, got {text!r}")
    return sizes
