"""Audio features inside the model: a windowed DFT as a strided convolution, mel filters, log.

Computed in the graph, so training, export and every app derive the same features from raw PCM.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def triangles(freqs: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """(bins, len(edges) - 2) triangular filters: filter i rises from edges[i] to edges[i + 1]
    and falls to edges[i + 2], evaluated at `freqs` (Hz)."""
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rise = (freqs[:, None] - lower) / (centre - lower)
    fall = (upper - freqs[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rise, fall), min=0.0)


def mel_filterbank(n_bins: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """(n_bins, n_mels) triangular filters on the HTK mel scale, from 20 Hz to Nyquist."""
    mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
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


class LogMelFrontEnd(nn.Module):
    """(batch, samples) audio + (batch, win - hop) context -> (batch, samples / hop, n_mels)
    log-mel features, and the new context.

    The windowed DFT is a strided Conv1d (one ONNX Conv with a dynamic length), the power
    spectrum goes through a mel MatMul and a log. `mean` and `std` are the features' statistics
    on training audio (set by the trainer; the network normalises with them).
    """

    def __init__(self, sample_rate: int, win: int, hop: int, n_mels: int):
        super().__init__()
        self.hop, self.context_size = hop, win - hop
        self.register_buffer("basis", dft_basis(torch.hann_window(win, periodic=True, dtype=torch.float64)))
        self.register_buffer("mel", mel_filterbank(win // 2 + 1, n_mels, sample_rate))
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))

    def forward(self, audio: torch.Tensor, context: torch.Tensor):
        x = torch.cat([context, audio], dim=1)  # (batch, context_size + samples)
        new_context = x[:, x.size(1) - self.context_size :]
        power = power_frames(x, self.basis, self.hop)  # (batch, frames, bins)
        return torch.log(torch.matmul(power, self.mel) + 1e-6), new_context
