"""Accents from the training speakers: a word's consonant onset replaced by another word's.

Many speakers of English say "three" with a stop ("tree", th-stopping) or an "f" ("free",
th-fronting). A spotter trained on a few speakers who all say a clean "th" misses those voices.
`onset_swaps` makes such words from the training recordings: for every recording of the target
word, the unvoiced start (from the first sound to the first voiced frame) is cut off and the
unvoiced start of a recording of the donor word by the same speaker is put in its place, so
"three" with the burst of "two" becomes a th-stopped "three" in that speaker's own voice and
recording conditions. Only training uses these; validation and evaluation use recordings only.
"""

from __future__ import annotations

import numpy as np

from edge_rnn.kws_data import Utterance, word_of
from edge_rnn.runtime.errors import UserError

LOW_BAND_HZ = (100.0, 1250.0)  # where voicing puts its energy and fricatives or bursts put little
VOICED_DB = 15.0  # voicing starts at the first frame whose low band is within this of its loudest
SOUND_DB = 35.0  # the word starts at the first frame whose level is within this of its loudest
MIN_ONSET_S = 0.02  # a donor onset shorter than this is no consonant (the word starts voiced)


def parse_onset_swaps(specs: list[str]) -> list[tuple[str, str]]:
    """"WORD:DONOR" pairs, e.g. "three:two" (th-stopping), digits allowed for digit words."""
    out = []
    for spec in specs:
        parts = [p.strip() for p in spec.split(":")]
        if len(parts) != 2 or not all(parts) or word_of(parts[0]) == word_of(parts[1]):
            raise UserError(f"--onset-swap needs WORD:DONOR with two different words, e.g. three:two; got {spec!r}")
        out.append((word_of(parts[0]), word_of(parts[1])))
    return out


def word_onsets(audio: np.ndarray, rate: int) -> tuple[int, int]:
    """(first sound, first voiced sample) of a word: 20 ms frames every 10 ms."""
    hop = max(1, rate // 100)
    n = audio.size // hop
    if n < 2:
        return 0, 0
    frames = audio[: n * hop].reshape(n, hop)
    pairs = np.concatenate([frames[:-1], frames[1:]], axis=1) * np.hanning(2 * hop)
    power = np.abs(np.fft.rfft(pairs, axis=1)) ** 2
    hz = np.fft.rfftfreq(2 * hop, 1.0 / rate)
    band = (hz >= LOW_BAND_HZ[0]) & (hz < LOW_BAND_HZ[1])
    low = 10 * np.log10(power[:, band].sum(1) + 1e-12)
    total = 10 * np.log10(power.sum(1) + 1e-12)
    voiced = int(np.argmax(low > low.max() - VOICED_DB))
    start = int(np.argmax(total > total.max() - SOUND_DB))
    return start * hop, voiced * hop


def onset_swaps(utts: list[Utterance], swaps: list[tuple[str, str]], rate: int, seed: int) -> list[Utterance]:
    """For every recording of each swap's word, one copy whose unvoiced start is a random
    recording of the donor word's (same speaker). Speakers without the donor word are passed over."""
    rng = np.random.default_rng(seed)
    min_onset = int(MIN_ONSET_S * rate)
    out = []
    for word, donor in swaps:
        for speaker in sorted({u.speaker for u in utts}):
            mine = [u for u in utts if u.speaker == speaker]
            donors = [(u, word_onsets(u.audio, rate)) for u in mine if u.word == donor]
            donors = [(u, s, v) for u, (s, v) in donors if v - s >= min_onset]
            if not donors:
                continue
            for u in (u for u in mine if u.word == word):
                d, s, v = donors[rng.integers(len(donors))]
                _, voiced = word_onsets(u.audio, rate)
                audio = np.concatenate([d.audio[s:v], u.audio[voiced:]]).astype(np.float32)
                out.append(Utterance(word, f"swap:{speaker}:{donor}", u.index, audio))
    if not out:
        pairs = ", ".join(f"{w}:{d}" for w, d in swaps)
        raise UserError(f"--onset-swap {pairs}: no training speaker said both words "
                        "(or the donor word never starts with a consonant)")
    return out
