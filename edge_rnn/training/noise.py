"""Background noise for keyword-spotting clips and evaluation streams: coloured noise, mains hum,
near-silence, recorded background, and tracks that change between them."""

from __future__ import annotations

import numpy as np


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise: white, pink (1/f), brown (1/f^2) or blue (f) by spectral shaping."""
    white = rng.standard_normal(n)
    if colour != "white":
        spec = np.fft.rfft(white)
        f = np.maximum(np.arange(spec.size), 1.0)
        power = {"pink": -1.0, "brown": -2.0, "blue": 1.0}[colour]
        white = np.fft.irfft(spec * f ** (power / 2), n)
    return (white / (np.sqrt(np.mean(white ** 2)) + 1e-12)).astype(np.float32)


def background(n: int, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    """About unit RMS: noise of a random colour, a mains hum with noise, or near-silence."""
    kind = rng.choice(["silence", "white", "pink", "brown", "blue", "hum"], p=[0.15, 0.2, 0.25, 0.2, 0.1, 0.1])
    if kind == "silence":
        return (rng.standard_normal(n) * 0.01).astype(np.float32)
    if kind == "hum":
        t = np.arange(n) / rate
        hum = np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t) + 0.3 * np.sin(2 * np.pi * rng.choice([100.0, 120.0]) * t)
        return (hum / 0.74 + 0.3 * coloured_noise(n, "pink", rng)).astype(np.float32)
    return coloured_noise(n, kind, rng)


def recorded(n: int, recordings: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """About unit RMS: `n` samples of one of the user's background recordings from a random
    place (repeated when it is shorter)."""
    source = recordings[rng.integers(len(recordings))]
    piece = source[(int(rng.integers(0, source.size)) + np.arange(n)) % source.size]
    return (piece / (np.sqrt(np.mean(piece ** 2)) + 1e-9)).astype(np.float32)


def background_track(n: int, level: float, rng: np.random.Generator, rate: int = 8000,
                     recordings: list[np.ndarray] | None = None) -> np.ndarray:
    """Background that changes: 1-3 stretches of different noise at levels around `level`, joined
    abruptly, and sometimes a short burst (a knock, a rustle). None of it is speech, so a
    detector must not fire on a change of noise alone. With `recordings` (background recorded
    by the user), half of the stretches are taken from them."""
    cuts = np.sort(rng.integers(0, n, int(rng.choice([0, 1, 2], p=[0.5, 0.3, 0.2]))))
    bounds = [0, *cuts.tolist(), n]
    out = np.zeros(n, np.float32)
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b > a:
            use_recorded = bool(recordings) and rng.random() < 0.5
            noise = recorded(b - a, recordings, rng) if use_recorded else background(b - a, rng, rate)
            out[a:b] = noise * level * 10 ** (rng.uniform(-20, 20) / 20)
    if rng.random() < 0.3:
        size = int(rng.uniform(0.02, 0.3) * rate)
        at = int(rng.integers(0, max(1, n - size)))
        burst = coloured_noise(size, str(rng.choice(["white", "pink", "brown"])), rng)
        out[at : at + size] += burst[: n - at] * np.hanning(size)[: n - at] * level * 10 ** (rng.uniform(0, 25) / 20)
    return out
