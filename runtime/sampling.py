"""Seeded sampling for text completion: the same numbers as clients/js/src/sampling.mjs."""

from __future__ import annotations

import os

M32 = 0xFFFFFFFF


class Mulberry32:
    """A small 32-bit generator of floats in [0, 1): with one seed, Python and JavaScript draw
    the same sequence, so a seeded completion is the same in both."""

    def __init__(self, seed: int | None = None):
        self.state = int.from_bytes(os.urandom(4), "little") if seed is None else seed & M32

    def random(self) -> float:
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & M32
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32) ^ t
        return (t ^ (t >> 14)) / 4294967296


def sample(ranked: list[tuple[int, float]], temperature: float, rng: Mulberry32) -> tuple[int, float]:
    """One of (id, probability) pairs, drawn with weight (p / p_max) ** (1 / temperature): below 1
    sharpens the model's distribution, above 1 flattens it."""
    top = max(p for _, p in ranked)
    weights = [(p / top) ** (1.0 / temperature) if top > 0 else 1.0 for _, p in ranked]
    u, acc = rng.random() * sum(weights), 0.0
    for pair, weight in zip(ranked, weights):
        acc += weight
        if u < acc:
            return pair
    return ranked[-1]
