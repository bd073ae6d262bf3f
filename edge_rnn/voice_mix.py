"""Voices between the recorded speakers: the same word said by two of them, blended.

Four or five recorded speakers are few for a spotter that must work on a voice it never heard.
Here a vocoder (WORLD, from the `pyworld` package) splits each recording into pitch, spectral
envelope (the vocal tract) and aperiodicity. Two recordings of the same word by different
speakers are aligned in time (dynamic time warping on their envelopes), and a new utterance is
resynthesised from a weighted blend: log envelope, log pitch, aperiodicity and length all move
part of the way from one speaker to the other. The result is a plausible speaker who is neither,
saying the word with a mixture of both their timings.

Only training uses these; validation and evaluation use recordings only. `pyworld` is needed only
for this option (`pip install 'edge-rnn[voices]'`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
import types
import warnings
from collections import defaultdict

import numpy as np

from edge_rnn.kws_data import Utterance
from edge_rnn.progress import Progress
from edge_rnn.runtime.audio import to_mono_at
from edge_rnn.runtime.errors import UserError

FRAME_MS = 5.0
WORK_RATE = 16000  # WORLD runs here: at 8 kHz its aperiodicity estimate (D4C) calls voiced speech noise
CEPSTRA = 24  # envelope coefficients used for the alignment only


def _pyworld():
    """Import pyworld. Its 0.3 releases read their own version through `pkg_resources`, which
    newer setuptools no longer ship; where it is missing, a stand-in answers from
    importlib.metadata (the one call pyworld makes)."""
    if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(version=importlib.metadata.version(name))
        sys.modules["pkg_resources"] = shim
    try:
        with warnings.catch_warnings():  # the real pkg_resources warns that it is deprecated
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError as e:
        raise UserError(f"--mixed-voices needs the pyworld package (pip install 'edge-rnn[voices]'): {e}") from None
    return pyworld


def _work_rate(rate: int) -> int:
    return max(rate, WORK_RATE)


def analyse(audio: np.ndarray, rate: int):
    """(f0, envelope, aperiodicity, alignment features) per 5 ms frame, at the working rate."""
    pw = _pyworld()
    fs = _work_rate(rate)
    x = to_mono_at(audio, rate, fs).astype(np.float64)
    f0, t = pw.dio(x, fs, frame_period=FRAME_MS, f0_floor=60.0, f0_ceil=400.0)
    f0 = pw.stonemask(x, f0, t, fs)
    sp = pw.cheaptrick(x, f0, t, fs)
    ap = pw.d4c(x, f0, t, fs)
    return f0, sp, ap, pw.code_spectral_envelope(sp, fs, CEPSTRA)[:, 1:]  # without the level


def align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dynamic time warping of feature sequences a (n, d) and b (m, d): (steps, 2) frame pairs
    from (0, 0) to (n - 1, m - 1)."""
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        row, prev, c = total[i], total[i - 1], cost[i - 1]
        for j in range(1, m + 1):
            row[j] = c[j - 1] + min(prev[j], row[j - 1], prev[j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]]))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return np.array(path[::-1])


def _log_f0(f0: np.ndarray, other: np.ndarray, own_median: float, other_median: float) -> np.ndarray:
    """log f0, with unvoiced frames filled from the other speaker's pitch moved to this one's
    register (so a frame voiced for one speaker only still blends sensibly)."""
    fill = np.log(np.maximum(other, 1.0)) - other_median + own_median
    return np.where(f0 > 0, np.log(np.maximum(f0, 1.0)), np.where(other > 0, fill, own_median))


def blend(a, b, weight: float, rate: int) -> np.ndarray:
    """Resynthesise a word `weight` of the way from analysis a to analysis b, at `rate`."""
    pw = _pyworld()
    path = align(a[3], b[3])
    n = max(2, int(round((1 - weight) * len(a[0]) + weight * len(b[0]))))
    pick = path[np.round(np.linspace(0, len(path) - 1, n)).astype(int)]
    i, j = pick[:, 0], pick[:, 1]
    envelope = np.exp((1 - weight) * np.log(a[1][i] + 1e-16) + weight * np.log(b[1][j] + 1e-16))
    aperiodic = np.clip((1 - weight) * a[2][i] + weight * b[2][j], 0.0, 1.0)
    fa, fb = a[0][i], b[0][j]
    med = lambda f: float(np.median(np.log(f[f > 0]))) if np.any(f > 0) else float(np.log(120.0))
    ma, mb = med(a[0]), med(b[0])
    log_f0 = (1 - weight) * _log_f0(fa, fb, ma, mb) + weight * _log_f0(fb, fa, mb, ma)
    voiced = (1 - weight) * (fa > 0) + weight * (fb > 0) > 0.5
    f0 = np.where(voiced, np.exp(log_f0), 0.0)
    fs = _work_rate(rate)
    audio = pw.synthesize(np.ascontiguousarray(f0), np.ascontiguousarray(envelope),
                          np.ascontiguousarray(aperiodic), fs, FRAME_MS)
    return to_mono_at(audio, fs, rate)


def mixed_voices(utts: list[Utterance], per_word: int, rate: int, seed: int,
                 quiet: bool = True) -> list[Utterance]:
    """`per_word` blends for every word that at least two speakers said, each between two
    recordings by different speakers, `weight` drawn from 0.2-0.8 (never a copy of either)."""
    rng = np.random.default_rng(seed)
    words: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        words[u.word].append(u)
    words = {w: group for w, group in words.items() if len({u.speaker for u in group}) > 1}
    if not words:
        raise UserError("--mixed-voices needs recordings of the same word by at least two speakers")
    cache: dict[int, tuple] = {}

    def analysis(u: Utterance):
        if id(u) not in cache:
            cache[id(u)] = analyse(u.audio, rate)
        return cache[id(u)]

    out = []
    bar = Progress(per_word * len(words), "mixed voices", enabled=not quiet)
    for word in sorted(words):
        group = words[word]
        for k in range(per_word):
            a = group[rng.integers(len(group))]
            others = [u for u in group if u.speaker != a.speaker]
            b = others[rng.integers(len(others))]
            weight = float(rng.uniform(0.2, 0.8))
            audio = blend(analysis(a), analysis(b), weight, rate)
            out.append(Utterance(word, f"mix:{a.speaker}+{b.speaker}:{weight:.2f}", k, audio))
            bar.update()
    bar.close()
    return out
