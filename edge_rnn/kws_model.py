"""Keyword spotter: raw audio -> log-mel front end -> recurrent stack -> per-frame label logits.

The front end is part of the model, so training, export and every app compute the same
features from raw PCM. It keeps the last (win - hop) samples of each call as a state
(`context`, first in the state list), so chunks of any multiple of `hop` join seamlessly.
An optional convolution over the last few log-mel frames (a CRNN) needs those frames again:
the context then holds their audio too and the front end recomputes them, so no extra state.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from edge_rnn.config import ModelConfig
from edge_rnn.models import RecurrentStack


def triangles(freqs: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """(bins, len(edges) - 2) triangular filters: filter i rises from edges[i] to edges[i + 1]
    and falls to edges[i + 2], evaluated at `freqs` (Hz)."""
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rise = (freqs[:, None] - lower) / (centre - lower)
    fall = (upper - freqs[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rise, fall), min=0.0)


def mel_filterbank(n_bins: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """(n_bins, n_mels) triangular filters on the HTK mel scale, from 20 Hz to Nyquist."""
    mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)
    edges = torch.tensor([hz(m) for m in torch.linspace(mel(20.0), mel(sample_rate / 2), n_mels + 2).tolist()])
    return triangles(torch.linspace(0, sample_rate / 2, n_bins), edges)


def dft_basis(window: torch.Tensor) -> torch.Tensor:
    """(2 * bins, 1, n) windowed DFT rows (cosines, then negative sines) of a float64 window of
    n samples, for a strided Conv1d: bins = n // 2 + 1."""
    n = window.numel()
    k = torch.arange(n // 2 + 1, dtype=torch.float64)[:, None]
    angle = 2 * math.pi * k * torch.arange(n, dtype=torch.float64) / n
    return torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window]).float().unsqueeze(1)


def power_frames(x: torch.Tensor, basis: torch.Tensor, hop: int) -> torch.Tensor:
    """(batch, samples) -> (batch, frames, bins) power spectrum of each window `hop` apart."""
    spec = F.conv1d(x.unsqueeze(1), basis, stride=hop)  # (batch, 2*bins, frames)
    re, im = spec.chunk(2, dim=1)
    return (re * re + im * im).transpose(1, 2)


def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_in, n_out) orthonormal DCT-II: log-mel -> the first n_out cepstral coefficients."""
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi / n_in * (n[:, None] + 0.5) * k) * math.sqrt(2.0 / n_in)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.float()


class LogMelFrontEnd(nn.Module):
    """(batch, samples) audio + (batch, context_size) context -> (batch, frames, n_mels) features.

    frames = samples / hop + extra_frames (the frames a CRNN looks back on, recomputed from the
    context). The windowed DFT is a strided Conv1d (exports to one ONNX Conv with a dynamic
    length), the power spectrum goes through a mel MatMul and a log, then a fixed per-feature
    normalisation measured on training audio.
    """

    def __init__(self, sample_rate: int, win: int, hop: int, n_mels: int, n_cepstra: int = 0,
                 extra_frames: int = 0):
        super().__init__()
        self.win, self.hop, self.extra_frames = win, hop, extra_frames
        n_bins = win // 2 + 1
        self.register_buffer("basis", dft_basis(torch.hann_window(win, periodic=True, dtype=torch.float64)))
        self.register_buffer("mel", mel_filterbank(n_bins, n_mels, sample_rate))
        n_out = n_cepstra or n_mels
        self.register_buffer("dct", dct_matrix(n_mels, n_cepstra) if n_cepstra else torch.zeros(0))
        self.register_buffer("mean", torch.zeros(n_out))
        self.register_buffer("std", torch.ones(n_out))
        # training only, set by the trainer and not saved: see random_eq() and spec_augment()
        self.random_eq_db = 0.0
        self.freq_mask, self.time_mask = 4, 0
        self.max_warp = 0.1

    @property
    def context_size(self) -> int:
        return self.win - self.hop + self.extra_frames * self.hop

    def forward(self, audio: torch.Tensor, context: torch.Tensor, augment: bool = False):
        x = torch.cat([context, audio], dim=1)  # (batch, context_size + samples)
        new_context = x[:, x.size(1) - self.context_size :]
        power = power_frames(x, self.basis, self.hop)  # (batch, frames, bins)
        feats = torch.log(torch.matmul(power, self.mel) + 1e-6)  # (batch, frames, mels)
        if augment:  # training only, before the DCT so that it acts on mel channels
            if self.random_eq_db > 0:
                feats = random_eq(feats, self.random_eq_db)
            feats = spec_augment(mel_warp(feats, self.max_warp), feats.mean(), width=self.freq_mask, frames=self.time_mask)
        if self.dct.numel():
            feats = torch.matmul(feats, self.dct)  # (batch, frames, cepstra)
        return (feats - self.mean) / self.std, new_context


def random_eq(feats: torch.Tensor, max_db: float) -> torch.Tensor:
    """Training only: another microphone or mouth-to-mic path. Adds to each example's log-mel
    spectrum a smooth random curve (three cosines across the mel axis) of at most +-max_db."""
    batch, _, n_mels = feats.shape
    m = (torch.arange(n_mels, device=feats.device, dtype=feats.dtype) + 0.5) / n_mels
    k = torch.arange(1, 4, device=feats.device, dtype=feats.dtype)
    basis = torch.cos(math.pi * k[:, None] * m[None, :])  # (3, n_mels)
    gains = (torch.rand(batch, 3, device=feats.device, dtype=feats.dtype) * 2 - 1) / 3
    curve = gains @ basis * (max_db * math.log(10) / 10)  # dB of power -> natural log
    return feats + curve[:, None, :]


def mel_warp(feats: torch.Tensor, max_warp: float = 0.1) -> torch.Tensor:
    """Training only: stretch or squeeze each example's mel axis by up to +-max_warp (another vocal
    tract length: formants sit higher or lower), by linear interpolation between channels."""
    if max_warp <= 0:
        return feats
    batch, frames, n_mels = feats.shape
    alpha = 1.0 + (torch.rand(batch, 1, 1, device=feats.device) * 2 - 1) * max_warp
    pos = (torch.arange(n_mels, device=feats.device, dtype=feats.dtype) / alpha).clamp(0, n_mels - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=n_mels - 1)
    w = (pos - lo).expand(batch, frames, n_mels)
    lo, hi = lo.expand(batch, frames, n_mels), hi.expand(batch, frames, n_mels)
    return feats.gather(2, lo) * (1 - w) + feats.gather(2, hi) * w


def spec_augment(feats: torch.Tensor, fill: torch.Tensor, bands: int = 2, width: int = 4,
                 frames: int = 0) -> torch.Tensor:
    """Training only: set `bands` random bands of up to `width` mel channels per example to
    `fill` (the average log energy), so that no single band decides; with `frames` > 0, also one
    stretch of up to `frames` frames per second of audio (100 frames), so that no single moment
    of a word decides either."""
    batch, n_frames, n_mels = feats.shape
    channel = torch.arange(n_mels, device=feats.device)
    mask = torch.ones(batch, 1, n_mels, device=feats.device)
    for _ in range(bands):
        start = torch.randint(0, n_mels, (batch, 1, 1), device=feats.device)
        size = torch.randint(0, width + 1, (batch, 1, 1), device=feats.device)
        mask = mask * ~((channel >= start) & (channel < start + size))
    mask = mask.expand(batch, n_frames, n_mels)
    if frames > 0:
        step = torch.arange(n_frames, device=feats.device)[None, :, None]
        for _ in range(max(1, n_frames // 100)):
            start = torch.randint(0, n_frames, (batch, 1, 1), device=feats.device)
            size = torch.randint(0, frames + 1, (batch, 1, 1), device=feats.device)
            mask = mask * ~((step >= start) & (step < start + size))
    return feats * mask + fill * (1 - mask)


class RunningNorm(nn.Module):
    """Streaming feature normalisation: subtract from each frame an exponential running mean of
    the features (time constant `seconds`), so a microphone's or a voice's fixed spectral colour
    (a constant offset of each log-mel channel, or of each cepstral coefficient: the DCT is linear)
    cancels out after a second or two, whoever speaks into whatever device.

    The mean is a state of (batch, features), zero at the start (the training audio's mean, since
    the front end has already removed it). With `lag` > 0 (a CRNN), the first `lag` frames of each
    call are the previous call's last frames again; the state is then kept as of the frame before
    them, so they are normalised exactly as before and the result does not depend on chunking.
    Inside a call the running mean is one (frames x frames) matrix product: no loop, one ONNX MatMul.
    """

    def __init__(self, seconds: float, frame_seconds: float, lag: int = 0):
        super().__init__()
        self.log_decay = -frame_seconds / seconds  # log of the per-frame decay
        self.lag = lag

    def forward(self, feats: torch.Tensor, mean: torch.Tensor):
        t = torch.arange(feats.size(1), device=feats.device, dtype=feats.dtype)
        age = t[:, None] - t[None, :]  # (frames, frames): how many frames back
        weights = torch.exp(age.clamp(min=0) * self.log_decay) * (age >= 0).to(feats.dtype)
        weights = weights * (1.0 - math.exp(self.log_decay))
        carried = torch.exp((t + 1) * self.log_decay)[None, :, None] * mean[:, None, :]
        running = carried + torch.matmul(weights, feats)  # (batch, frames, features)
        return feats - running, running[:, -1 - self.lag]


class TimeFrequencyConv(nn.Module):
    """(batch, frames + k - 1, n_mels) -> (batch, frames, channels * bands): a ReLU convolution
    over k frames and a few neighbouring mel channels, strided along the mel axis. Its patterns
    fire wherever a formant sits, so a voice with formants a little higher or lower looks alike.
    With pool > 1 each output is the largest of that many neighbouring bands, so a pattern that
    moves by up to pool - 1 bands gives the same feature."""

    def __init__(self, channels: int, kernel: list[int], stride: int, pool: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, tuple(kernel), stride=(1, stride))
        self.pool = pool

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv(feats.unsqueeze(1)))  # (batch, channels, frames, bands)
        if self.pool > 1:
            y = F.max_pool2d(y, kernel_size=(1, self.pool), stride=1)
        return y.permute(0, 2, 1, 3).flatten(2)


class KeywordSpotter(nn.Module):
    """Per-frame label logits. State: [audio context, h0, (c0), h1, ...]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = self.norm = self.conv = None
        if config.front_end == "speech-embedding":
            from edge_rnn.speech_embedding import EmbeddingFrontEnd, SpeechEmbedding

            self.frontend = EmbeddingFrontEnd()
            self.embedding = SpeechEmbedding().requires_grad_(False)  # pretrained, frozen
        else:
            self.frontend = LogMelFrontEnd(config.sample_rate, config.win, config.hop, config.n_mels,
                                           config.n_cepstra, config.context_frames)
            if config.norm_seconds > 0:
                self.norm = RunningNorm(config.norm_seconds, config.hop / config.sample_rate, config.context_frames)
            if config.conv_channels:
                self.conv = TimeFrequencyConv(config.conv_channels, config.conv_kernel, config.conv_stride,
                                              config.conv_pool)
        self.rnn = RecurrentStack(config.cell, config.n_features, config.hidden, config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden[-1], len(config.labels))

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        return [torch.zeros(batch, size, device=device) for _, size in self.config.state_sizes]

    def forward(self, audio: torch.Tensor, state: list[torch.Tensor]):
        """audio (batch, samples), samples a multiple of hop -> logits (batch, frames, labels)."""
        if self.embedding is not None:
            raw, front_state = self.embed(audio, state[0], state[1])
            logits, rnn_state = self.head(raw, state[2:])
            return logits, front_state + rnn_state
        feats, context = self.frontend(audio, state[0], augment=self.training)
        front_state, rest = [context], state[1:]
        if self.norm is not None:
            feats, mean = self.norm(feats, rest[0])
            front_state, rest = [context, mean], rest[1:]
        if self.conv is not None:
            feats = self.conv(feats)
        x, rnn_state = self.rnn(feats, rest)
        return self.classifier(self.drop(x)), front_state + rnn_state

    def embed(self, audio: torch.Tensor, context: torch.Tensor, cache: torch.Tensor):
        """Speech-embedding front end: (batch, hops, 96) embeddings, [context, cache]. Nothing
        before the recurrent stack learns, so training computes it without gradients."""
        with torch.no_grad():
            logmel, context = self.frontend(audio, context, augment=self.training)
            raw, cache = self.embedding(logmel, cache)
            return raw, [context, cache]

    def head(self, raw: torch.Tensor, rnn_state: list[torch.Tensor]):
        """Embeddings (batch, hops, 96), normalised as in training -> logits, new recurrent state."""
        x, rnn_state = self.rnn((raw - self.frontend.mean) / self.frontend.std, rnn_state)
        return self.classifier(self.drop(x)), rnn_state

    def scores(self, audio: torch.Tensor, state: list[torch.Tensor]):
        """What the exported graph returns: per-frame probabilities."""
        logits, state = self(audio, state)
        return torch.softmax(logits, dim=-1), state
