"""How a keyword spotter behaves where a stream starts and where its audio is exact zeros.

    python benchmarks/stream_edges.py --model fsdd-kws --data ../shared/data/fsdd/recordings \
        --speakers nicolas --json

- **starts**: fresh streams of 3 s of noise alone (white, pink, brown, hum and babble at -50,
  -40, -30 and -20 dBFS, six draws each: 120 streams, each ended with `finish()`), as when a
  spotter is switched on in a noisy room; every event is a false accept.
- **digital silence** (with --data): `edge-rnn eval`'s stream of the speakers' words (the same
  order and 0.5-1.5 s gaps) with exact zeros in the gaps instead of faint noise; detected and
  false accepts, scored as `edge-rnn eval` scores its stream.

Every draw has a fixed seed, so a run repeats exactly. Needs the runtime (numpy, onnxruntime) and
espeak-ng for the babble.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge_rnn.evaluation.kws import build_stream, events_at, run_probabilities, score_events
from edge_rnn.evaluation.noisy import NoiseSource
from edge_rnn.progress import Progress
from edge_rnn.runtime.bundled import resolve_model
from edge_rnn.runtime.detector import DetectorConfig
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.labels import keywords_of
from edge_rnn.runtime.session import Session
from edge_rnn.training.utterances import load_recordings

KINDS = ["white", "pink", "brown", "hum", "babble"]
LEVELS_DBFS = [-50, -40, -30, -20]
DRAWS = 6
START_SECONDS = 3.0
EVAL_SEED = 2024  # edge-rnn eval's: its stream's order and gaps


def starts(session: Session, quiet: bool) -> dict:
    """False accepts in fresh streams of noise alone."""
    spotter = KeywordSpotter(session)
    rate = spotter.sample_rate
    source = NoiseSource(KINDS, rate)
    per_kind = {kind: 0 for kind in KINDS}
    chunk = rate // 10  # 100 ms, as `edge-rnn stream` feeds audio
    with Progress(len(KINDS) * len(LEVELS_DBFS) * DRAWS, "stream starts", enabled=not quiet) as bar:
        for kind in KINDS:
            for level in LEVELS_DBFS:
                for draw in range(DRAWS):
                    noise = source.make(kind, int(START_SECONDS * rate), np.random.default_rng(draw))
                    audio = (noise * 10 ** (level / 20)).astype(np.float32)
                    spotter.reset()
                    events = [e for a in range(0, audio.size, chunk) for e in spotter.process(audio[a : a + chunk])]
                    per_kind[kind] += len(events + spotter.finish())
                    bar.update(1)
    return {"streams": len(KINDS) * len(LEVELS_DBFS) * DRAWS, "false_accepts": sum(per_kind.values()),
            "false_accepts_per_kind": per_kind}


def digital_silence(session: Session, data: Path, speakers: list[str] | None, quiet: bool) -> dict:
    """The speakers' words in one stream with gaps of exact zeros."""
    c = session.contract
    utts = load_recordings(data, c.sample_rate, speakers=speakers, quiet=quiet, background=False).utterances
    audio, truth = build_stream(utts, c.sample_rate, np.random.default_rng(EVAL_SEED), digital_silence=True)
    probs = run_probabilities(session, audio, c.sample_rate // 10)
    events = events_at(probs, c.labels, c.hop / c.sample_rate, DetectorConfig.from_dict(c.detector))
    scored = score_events(events, truth, set(keywords_of(c.labels)))
    return {key: scored[key] for key in ("keyword_utterances", "detected", "detection_rate", "false_accepts")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fsdd-kws", help=".onnx path or bundled name")
    ap.add_argument("--data", type=Path, help="recordings for the digital-silence stream (any layout train kws reads)")
    ap.add_argument("--speakers", help="comma-separated speakers of --data to use (default: all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        session = Session(resolve_model(args.model, "fsdd-kws"), "kws")
        result = {"model": str(session.path), "starts": starts(session, args.json)}
        if args.data is not None:
            who = [s.strip() for s in args.speakers.split(",")] if args.speakers else None
            result["digital_silence"] = digital_silence(session, args.data, who, args.json)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        s = result["starts"]
        print(f"stream starts in noise alone: {s['false_accepts']} false accepts in {s['streams']} streams "
              f"({', '.join(f'{k} {v}' for k, v in s['false_accepts_per_kind'].items())})")
        if "digital_silence" in result:
            d = result["digital_silence"]
            print(f"words with gaps of exact zeros: {d['detected']}/{d['keyword_utterances']} detected "
                  f"({100 * d['detection_rate']:.1f}%), {d['false_accepts']} false accepts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
