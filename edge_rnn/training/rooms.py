"""Simulated rooms: a shoebox room's impulse response from a talker to a microphone, and speech
heard through it. numpy only.

The first `early_s` seconds are image sources (Allen & Berkley): every mirror image of the
talker, delayed by its distance and attenuated by 1/distance and by the walls' reflection
coefficient per bounce, the walls' absorption set by Sabine's formula for the room's RT60. After
them comes a diffuse tail of noise that decays by 60 dB in RT60 (above 1.5 kHz in 0.6 RT60),
joined at the image sources' energy.
"""

from __future__ import annotations

import numpy as np

from .noise import coloured, power

SPEED_OF_SOUND = 343.0  # m/s
MARGIN = 0.4  # talker and microphone keep this far from every wall (m)


def _place(rng: np.random.Generator, dims: np.ndarray, distance: tuple[float, float]):
    """(microphone, talker) positions inside a room of `dims`, `distance` metres apart if possible."""
    mic = rng.uniform(MARGIN, dims - MARGIN)
    for _ in range(100):
        v = rng.standard_normal(3)
        src = mic + rng.uniform(*distance) * v / np.linalg.norm(v)
        if np.all(src >= MARGIN) and np.all(src <= dims - MARGIN):
            return mic, src
    return mic, rng.uniform(MARGIN, dims - MARGIN)


def _image_sources(dims, mic, src, early_s: float):
    """(distance of each image source to the microphone, walls it bounced off), flattened."""
    order = int(np.ceil(SPEED_OF_SOUND * early_s / dims.min())) + 1
    m = np.arange(-order, order + 1)
    offsets, bounces = [], []
    for i in range(3):  # per axis: images at (1 - 2q) src + 2 m L after |m - q| + |m| reflections
        offsets.append(np.concatenate([src[i] + 2 * m * dims[i], -src[i] + 2 * m * dims[i]]) - mic[i])
        bounces.append(np.concatenate([np.abs(2 * m), np.abs(2 * m - 1)]))
    dist = np.sqrt(offsets[0][:, None, None] ** 2 + offsets[1][None, :, None] ** 2
                   + offsets[2][None, None, :] ** 2).ravel()
    hits = (bounces[0][:, None, None] + bounces[1][None, :, None] + bounces[2][None, None, :]).ravel()
    return dist, hits


def _diffuse_tail(n: int, rt: float, rng: np.random.Generator, rate: int) -> np.ndarray:
    """`n` samples of noise decaying 60 dB in `rt` s (above 1.5 kHz in 0.6 rt)."""
    t = np.arange(n) / rate
    spec = np.fft.rfft(coloured(n, 0.0, rng, rate))
    hz = np.fft.rfftfreq(n, 1.0 / rate)
    low = np.fft.irfft(np.where(hz < 1500, spec, 0), n)
    high = np.fft.irfft(np.where(hz >= 1500, spec, 0), n)
    return low * np.exp(-6.9 * t / rt) + high * np.exp(-6.9 * t / (0.6 * rt))


def room_impulse_response(rng: np.random.Generator, rate: int = 8000, rt60: tuple[float, float] = (0.3, 0.9),
                          distance: tuple[float, float] = (0.5, 3.0), early_s: float = 0.05) -> np.ndarray:
    """A random room (3-9 x 3-7 x 2.4-3.5 m, RT60 from `rt60`, talker `distance` m from the
    microphone): its impulse response with the direct path at 1 and at delay 0."""
    dims = rng.uniform([3.0, 3.0, 2.4], [9.0, 7.0, 3.5])
    rt = float(rng.uniform(*rt60))
    volume, surface = np.prod(dims), 2 * (dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    beta = np.sqrt(1.0 - min(0.95, 0.161 * volume / (surface * rt)))  # Sabine's absorption
    mic, src = _place(rng, dims, distance)
    dist, hits = _image_sources(dims, mic, src, early_s)
    direct = float(dist.min())
    delay = (dist - direct) * rate / SPEED_OF_SOUND  # samples after the direct path
    keep = delay < early_s * rate
    amp, at = beta ** hits[keep] * direct / dist[keep], delay[keep]
    length = int(rt * rate * 1.2) + 1
    h = np.zeros(length + 2)
    lo = np.floor(at).astype(int)
    np.add.at(h, lo, amp * (1 - (at - lo)))  # each image split between its two nearest samples
    np.add.at(h, lo + 1, amp * (at - lo))
    h = h[:length]
    start = int(early_s * rate)
    if start < length:
        tail = _diffuse_tail(length - start, rt, rng, rate)
        # the image sources' energy in their last 20 ms, carried to `start` by the room's decay
        energy = power(h[max(1, start - int(0.02 * rate)) : start]) * np.exp(-13.8 * 0.01 / rt)
        h[start:] = tail * np.sqrt(energy / (power(tail[: int(0.01 * rate) + 1]) + 1e-20))
    return h.astype(np.float32)


def reverberate(audio: np.ndarray, rir: np.ndarray, keep_tail: bool = False) -> np.ndarray:
    """`audio` heard in the room of `rir` (FFT convolution); as long as `audio` unless `keep_tail`."""
    size = audio.size + rir.size - 1
    nfft = 1 << int(np.ceil(np.log2(max(size, 2))))
    wet = np.fft.irfft(np.fft.rfft(audio, nfft) * np.fft.rfft(rir, nfft), nfft)[:size]
    return wet[: size if keep_tail else audio.size].astype(np.float32)


def rooms(count: int, seed: int, rate: int = 8000, **kwargs) -> list[np.ndarray]:
    """`count` random rooms' impulse responses (see room_impulse_response), reproducible by `seed`."""
    rng = np.random.default_rng(seed)
    return [room_impulse_response(rng, rate, **kwargs) for _ in range(count)]
