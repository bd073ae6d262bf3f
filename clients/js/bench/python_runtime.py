"""The Python runtime's figures to set beside bench/web.mjs: per-word step time on the bundled
ptb-lm (one thread, the graph's top-k) and the bundled fsdd-kws's real-time factor on a WAV fed
in 100 ms chunks, timed the same way.
    python clients/js/bench/python_runtime.py [WORDS.txt] [AUDIO.wav]
"""

import json
import statistics
import sys
import time
from pathlib import Path

from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.session import Session

ROOT = Path(__file__).resolve().parents[3]


def model_path(name: str) -> Path:
    return next(p for p in (ROOT / "edge_rnn").rglob(f"{name}.int8.onnx"))


def main(words_file: str | None, wav_file: str | None) -> dict:
    text = Path(words_file).read_text() if words_file else "the company said it expects to report a loss"
    words = text.split()[:500]
    out = {}
    session = Session(model_path("ptb-lm"))
    for name, max_k in (("graphTopK", 5), ("logits", 10000)):
        predictor = NextWordPredictor(session, max_k=max_k)
        ms = []
        for w in words:
            t0 = time.perf_counter()
            predictor.feed([w])
            predictor.top_k(5)
            ms.append((time.perf_counter() - t0) * 1000)
        out[f"stepMs_{name}"] = {"median": statistics.median(ms[10:]), "mean": statistics.fmean(ms[10:])}
    kws = Session(model_path("fsdd-kws"))
    audio = read_wav(wav_file or ROOT / "docs" / "digits.wav", kws.contract.sample_rate)
    size = kws.contract.sample_rate // 10
    rtf = []
    for _ in range(5):
        spotter = KeywordSpotter(kws)
        t0 = time.perf_counter()
        for a in range(0, audio.size, size):
            spotter.process(audio[a:a + size])
        rtf.append((time.perf_counter() - t0) / (audio.size / kws.contract.sample_rate))
    out["kwsRealTimeFactor"] = {"median": statistics.median(rtf), "mean": statistics.fmean(rtf)}
    return out


if __name__ == "__main__":
    print(json.dumps(main(*(sys.argv[1:3] + [None, None])[:2]), indent=1))
