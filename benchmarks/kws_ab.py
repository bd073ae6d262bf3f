"""Interleaved A/B of keyword spotters: real-time factor per model, with and without folding the
int8 weights into float at load.

    python benchmarks/kws_ab.py --model fsdd-kws --model other.onnx --rounds 5 --json

Each round times every variant once, in a new random order, over the same noise: a spotter fed
chunks of --chunk-ms (the runtime's default session, which folds the int8 weights into float once
at load) and the same model with onnxruntime left to dequantize them every call. Machines like
ours are noisy, so what to quote is the median over rounds and the ratios within one run.
Needs only the runtime (numpy, onnxruntime).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge_rnn.bench.measure import stream_rtf
from edge_rnn.runtime.bundled import resolve_model
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.session import Session, session_options


def unfolded(path: Path) -> Session:
    """The model as the runtime loads it, except that its int8 weights stay int8 + DequantizeLinear."""
    session = Session(path, "kws")
    session.ort = ort.InferenceSession(str(path), session_options(1, fold_int8=False), providers=["CPUExecutionProvider"])
    return session


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help=".onnx path or bundled name; may repeat")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per variant and round")
    ap.add_argument("--chunk-ms", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or args.chunk_ms < 1:
        print("kws_ab: --rounds, --seconds and --chunk-ms must be positive", file=sys.stderr)
        return 2

    variants = {}
    try:
        for name in args.model:
            path = resolve_model(name)
            variants[f"{name} (folded, runtime default)"] = Session(path, "kws")
            variants[f"{name} (dequantized every call)"] = unfolded(path)
    except UserError as e:
        print(f"kws_ab: {e}", file=sys.stderr)
        return 2
    rate = next(iter(variants.values())).contract.sample_rate
    size = rate * args.chunk_ms // 1000
    audio = (np.random.default_rng(args.seed).standard_normal(int(args.seconds * rate)) * 0.05).astype(np.float32)
    chunks = [audio[i : i + size] for i in range(0, audio.size - size + 1, size)]

    order, rtf = list(variants), {name: [] for name in variants}
    rng = random.Random(args.seed)
    for r in range(args.rounds):
        rng.shuffle(order)
        for name in order:
            rtf[name].append(stream_rtf(variants[name], chunks, rate))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    medians = {name: statistics.median(v) for name, v in rtf.items()}
    result = {"chunk_ms": args.chunk_ms, "rounds": args.rounds, "seconds": args.seconds,
              "rtf_median": medians, "rtf_rounds": rtf}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"real-time factor at {args.chunk_ms} ms chunks, median of {args.rounds} rounds (per round in brackets)")
    for name in variants:
        rounds = ", ".join(f"{x:.5f}" for x in rtf[name])
        print(f"  {name:55s} {medians[name]:.5f}  [{rounds}]")
    for name in args.model:
        folded = medians[f"{name} (folded, runtime default)"]
        plain = medians[f"{name} (dequantized every call)"]
        print(f"  {name}: folding makes a call {100 * (1 - folded / plain):.0f}% faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
