"""Training clips in loud noise, babble and rooms (`train kws --noise-share`, `--snr`, `--reverb`,
`--babble-voices`, `--noise-weights`). numpy only.

A share of the clips has its words mixed with noise at an SNR drawn from a range (speech power,
over the words' samples, over noise power), or, without words, noise alone at -70 to -10 dBFS.
The noise is shaped noise (a random spectral slope with a smooth random curve on top, so that no
one spectrum is learnt), babble of 2-10 talkers, mains hum, the user's background recordings, or
a mixture of two (how often each: `--noise-weights`); its level drifts and is sometimes
modulated slowly (a fan, traffic). Babble is made of the training words reversed or cut short
(speech that is no keyword) and, with espeak-ng voices, of synthesised words that are no keyword,
which also appear as unknown words in the foreground. Independently, a share of the clips is
heard in a simulated room.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .babble import babble
from .noise import coloured, from_recordings, level_for_snr, mains_hum, speech_power, unit_rms
from .rooms import reverberate, rooms

KIND_WEIGHTS = {"shaped": 0.35, "babble": 0.35, "hum": 0.05, "mixture": 0.25}
RECORDED_WEIGHT = 0.3  # of the user's recordings (--noise), beside KIND_WEIGHTS


def shaped(n: int, rng: np.random.Generator, rate: int = 8000, max_db: float = 8.0) -> np.ndarray:
    """Coloured noise of a random slope (f^-2.2 to f^0.5) times a smooth random curve of at most
    +-max_db over log frequency (four cosines); unit RMS."""
    spec = np.fft.rfft(coloured(max(n, 2), rng.uniform(-2.2, 0.5), rng, rate))
    hz = np.fft.rfftfreq(max(n, 2), 1.0 / rate)
    x = np.log(np.maximum(hz, 50.0) / 50.0) / np.log(rate / 2 / 50.0)  # 0 at 50 Hz, 1 at Nyquist
    k, phase = np.arange(1, 5)[:, None], rng.uniform(0, np.pi, (4, 1))
    curve_db = max_db * np.sum(rng.uniform(-1, 1, (4, 1)) / 4 * np.cos(np.pi * k * x[None, :] + phase), axis=0)
    return unit_rms(np.fft.irfft(spec * 10 ** (curve_db / 20), max(n, 2))[:n])


def babble_material(words: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Speech that is no keyword, from keyword recordings: each reversed, and its first 30-50%."""
    return [w[::-1].copy() for w in words] + [w[: max(2, int(w.size * rng.uniform(0.3, 0.5)))].copy() for w in words]


@dataclass
class NoiseMix:
    """How training clips are put into noise and rooms (see the module)."""

    babble_words: list[np.ndarray]
    share: float = 0.6  # of clips put into this noise; the rest keep the usual background
    snr: tuple[float, float] = (-3.0, 27.0)  # dB, drawn uniformly
    reverb: float = 0.25  # of all clips heard in a room
    rirs: list[np.ndarray] = field(default_factory=list)
    recordings: list[np.ndarray] | None = None  # the user's background recordings
    unknown_words: list[np.ndarray] = field(default_factory=list)  # synthesised words that are no keyword
    silent_level_db: tuple[float, float] = (-70.0, -10.0)  # noise of clips without words (dBFS RMS)
    weights: dict[str, float] | None = None  # how often each kind is drawn (None: KIND_WEIGHTS, RECORDED_WEIGHT)

    @classmethod
    def build(cls, words: list[np.ndarray], seed: int, rate: int = 8000, other_words: list[np.ndarray] | None = None,
              **kwargs) -> "NoiseMix":
        """From training recordings `words` and synthesised `other_words` (both become babble)."""
        rng = np.random.default_rng(seed)
        mix = cls(babble_material(words, rng) + list(other_words or []), unknown_words=list(other_words or []),
                  **kwargs)
        if mix.reverb > 0:
            mix.rirs = rooms(300, seed + 1, rate, rt60=(0.15, 1.0), distance=(0.3, 3.0))
        return mix

    def kind_weights(self) -> dict[str, float]:
        """How often each kind is drawn: `weights` when given (a kind left out: never), else the
        defaults; the user's recordings only when there are some. A mixture is two of the others."""
        if self.weights is not None:
            return {k: w for k, w in self.weights.items() if w > 0 and (k != "recorded" or self.recordings)}
        return dict(KIND_WEIGHTS, **({"recorded": RECORDED_WEIGHT} if self.recordings else {}))

    def _kind(self, rng: np.random.Generator, weights: dict[str, float]) -> str:
        kinds = list(weights)
        p = np.array([weights[k] for k in kinds])
        return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]

    def noise(self, n: int, rng: np.random.Generator, rate: int = 8000, kind: str | None = None) -> np.ndarray:
        """`n` samples of one random training noise, unit RMS."""
        weights = self.kind_weights()
        kinds = list(weights)
        kind = kind or self._kind(rng, weights)
        if kind == "shaped":
            x = shaped(n, rng, rate)
        elif kind == "babble":
            x = babble(n, self.babble_words, rng, talkers=(2, 10), rate=rate)
        elif kind == "hum":
            x = mains_hum(n, rng, rate, float(rng.choice([50.0, 60.0])), rng.uniform(-30, -10))
            x = unit_rms(x + 10 ** (rng.uniform(-20, 0) / 20) * shaped(n, rng, rate))
        elif kind == "recorded":
            x = from_recordings(n, self.recordings, rng)
        else:  # a mixture of two
            a, b = rng.choice([k for k in kinds if k != "mixture"], 2, replace=False)
            x = unit_rms(self.noise(n, rng, rate, str(a)) + 10 ** (rng.uniform(-10, 10) / 20) * self.noise(n, rng, rate, str(b)))
        envelope = 10 ** (np.linspace(0, rng.uniform(-3, 3), n) / 20)  # a slow drift
        if rng.random() < 0.3:  # a slow modulation
            t = np.arange(n) / rate
            envelope *= 1 + rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(0.3, 4) * t + rng.uniform(0, 6.3))
        return unit_rms(x * envelope)

    def unknown_word(self, rng: np.random.Generator) -> np.ndarray | None:
        """A synthesised word that is no keyword, half of the time when there are any."""
        if self.unknown_words and rng.random() < 0.5:
            return self.unknown_words[int(rng.integers(len(self.unknown_words)))]
        return None

    def mix(self, speech: np.ndarray, spans: list[tuple[int, int]], rng: np.random.Generator, usual,
            rate: int = 8000) -> np.ndarray:
        """A clip from its words (`speech`, words at `spans`): sometimes in a room, then into this
        noise (`share` of the time) or `usual(speech, spans)`, the usual background. Clipped."""
        if self.rirs and rng.random() < self.reverb:
            speech = reverberate(speech, self.rirs[int(rng.integers(len(self.rirs)))])
        if rng.random() >= self.share:
            return usual(speech, spans)
        noise = self.noise(speech.size, rng, rate)
        if spans:
            level = level_for_snr(speech_power(speech, spans), rng.uniform(*self.snr))
        else:
            level = 10 ** (rng.uniform(*self.silent_level_db) / 20)
        return np.clip(speech + noise * level, -1.0, 1.0).astype(np.float32)
