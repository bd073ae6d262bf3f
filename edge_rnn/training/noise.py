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


# --- named kinds at a signal-to-noise ratio ----------------------------------------------------
# Every generator below returns float32 of unit RMS; the caller sets the level. The SNR is speech
# power over noise power, the speech power measured over the samples where words are.

STATIONARY = ("white", "pink", "brown", "hum")


def power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0


def unit_rms(x: np.ndarray) -> np.ndarray:
    return (x / (np.sqrt(power(x)) + 1e-12)).astype(np.float32)


def speech_power(audio: np.ndarray, spans: list[tuple[int, int]]) -> float:
    """Mean power of `audio` over the samples inside the (start, end) spans: where words are."""
    parts = [audio[a:b] for a, b in spans if b > a]
    return power(np.concatenate(parts)) if parts else 0.0


def level_for_snr(speech_pow: float, snr_db: float) -> float:
    """The RMS a unit-RMS noise is scaled to so that it lies `snr_db` below `speech_pow`."""
    return float(np.sqrt(speech_pow / 10 ** (snr_db / 10)))


def coloured(n: int, slope: float, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    """Noise whose power spectrum goes as f^slope (0 white, -1 pink, -2 brown) above 20 Hz (flat
    below, so that the power is where a microphone hears it)."""
    size = max(n, 2)
    spec = np.fft.rfft(rng.standard_normal(size))
    hz = np.fft.rfftfreq(size, 1.0 / rate)
    return unit_rms(np.fft.irfft(spec * np.maximum(hz, 20.0) ** (slope / 2), size)[:n])


def mains_hum(n: int, rng: np.random.Generator, rate: int = 8000, mains: float = 50.0,
              floor_db: float = -20.0) -> np.ndarray:
    """Mains hum: `mains` Hz and its harmonics up to 1.5 kHz at 1/k, random phases, over pink
    noise `floor_db` below."""
    t = np.arange(n) / rate
    tone = np.zeros(n)
    for k in range(1, int(1500 // mains) + 1):
        tone += np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi)) / k
    return unit_rms(unit_rms(tone) + 10 ** (floor_db / 20) * coloured(n, -1.0, rng, rate))


def stationary(kind: str, n: int, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    """`n` samples of one of STATIONARY, unit RMS."""
    if kind == "hum":
        return mains_hum(n, rng, rate)
    return coloured(n, {"white": 0.0, "pink": -1.0, "brown": -2.0}[kind], rng, rate)


def from_recordings(n: int, recordings: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """`n` samples of the user's recordings: random excerpts of random files end to end; unit RMS."""
    out, pos = np.zeros(n, np.float32), 0
    while pos < n:
        source = recordings[int(rng.integers(len(recordings)))]
        start = int(rng.integers(0, max(1, source.size - (n - pos))))
        piece = source[start : start + n - pos]
        out[pos : pos + piece.size] = piece / (np.sqrt(power(piece)) + 1e-9)
        pos += piece.size
    return unit_rms(out)
