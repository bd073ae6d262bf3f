"""Two-dimensional maps of vectors: PCA (numpy SVD) and exact t-SNE (numpy, up to 2000 points).

t-SNE follows van der Maaten and Hinton (2008) with the usual optimiser of the reference
implementation (early exaggeration, momentum, per-coordinate gains); it is exact (every pair,
no Barnes-Hut tree), so its cost grows with the square of the points, and it needs no
dependency beyond numpy. It starts from the PCA map, so the same input gives the same map.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edge_rnn.runtime.errors import UserError

TSNE_MAX_POINTS = 2000


def pca(x: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """((n, 2) coordinates, the share of the variance each axis keeps). Each axis is signed so
    that the point farthest along it lies on its positive side."""
    centred = x.astype(np.float64) - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T  # (n, 2)
    if coords.shape[1] < 2:
        raise UserError("a map needs vectors of at least 2 numbers")
    for axis in range(2):
        if coords[np.argmax(np.abs(coords[:, axis])), axis] < 0:
            coords[:, axis] *= -1
    total = float((s**2).sum())
    shares = [float(v**2 / total) if total > 0 else 0.0 for v in s[:2]]
    return coords, shares


def _squared_distances(x: np.ndarray) -> np.ndarray:
    sq = (x**2).sum(axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)


def affinities(x: np.ndarray, perplexity: float) -> np.ndarray:
    """(n, n) conditional probabilities p(j|i): row i a Gaussian around point i whose width is
    found by bisection so that the row's entropy is log(perplexity)."""
    d = _squared_distances(x.astype(np.float64))
    n = d.shape[0]
    np.fill_diagonal(d, np.inf)
    d = d - d.min(axis=1, keepdims=True)  # a row's nearest neighbour at 0: exp() cannot underflow to all zeros
    target = np.log(perplexity)
    low, high = np.full(n, -np.inf), np.full(n, np.inf)
    beta = np.ones(n)  # 1 / (2 sigma^2) of each row
    for _ in range(100):
        p = np.exp(-d * beta[:, None])
        p /= p.sum(axis=1, keepdims=True)
        entropy = -(p * np.log(np.maximum(p, 1e-300))).sum(axis=1)
        wide = entropy > target  # too flat: narrow the Gaussian
        low = np.where(wide, beta, low)
        high = np.where(wide, high, beta)
        beta = np.where(np.isinf(high), beta * 2, np.where(np.isinf(low), beta / 2, (low + high) / 2))
        if np.abs(entropy - target).max() < 1e-5:
            break
    return p


def _student(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, n) Student-t kernel of the map's pairs (0 on the diagonal) and its normalised q."""
    num = _squared_distances(y)
    num += 1.0
    np.reciprocal(num, out=num)
    np.fill_diagonal(num, 0.0)
    return num, np.maximum(num / num.sum(), 1e-12)


def tsne(x: np.ndarray, perplexity: float = 30.0, iterations: int = 1000,
         on_progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, float]:
    """((n, 2) coordinates, the final Kullback-Leibler divergence) of exact t-SNE."""
    n = x.shape[0]
    if n > TSNE_MAX_POINTS:
        raise UserError(f"t-SNE here is exact and draws at most {TSNE_MAX_POINTS} words; ask for fewer")
    if not 1 <= perplexity <= (n - 1) / 3:
        raise UserError(f"--perplexity must be between 1 and (words - 1) / 3 = {(n - 1) / 3:.1f} for {n} words")
    p = affinities(x, perplexity)
    p = np.maximum((p + p.T) / (2 * n), 1e-12).astype(np.float32)  # (n, n) joint probabilities
    start, _ = pca(x)
    y = (start / start[:, 0].std() * 1e-4).astype(np.float32)  # the PCA map, shrunk: a deterministic start
    velocity, gains = np.zeros_like(y), np.ones_like(y)
    rate = max(n / 12 / 4, 50.0)
    for it in range(iterations):
        exaggeration, momentum = (12.0, 0.5) if it < 250 else (1.0, 0.8)
        num, q = _student(y)
        w = (exaggeration * p - q) * num  # (n, n)
        grad = 4.0 * (w.sum(axis=1)[:, None] * y - w @ y)
        same = np.sign(grad) == np.sign(velocity)
        gains = np.maximum(np.where(same, gains * 0.8, gains + 0.2), 0.01)
        velocity = momentum * velocity - rate * gains * grad
        y = y + velocity
        y -= y.mean(axis=0)
        if on_progress and (it + 1) % 50 == 0:
            on_progress(50)
    q = _student(y)[1]
    return y, float((p * np.log(p / q)).sum())
