"""Interleaved A/B of language-model files: token step, batched streams and load time per file,
and what checking a file's integrity digest adds to its load.

    python benchmarks/lm_ab.py --model old.onnx --model new.onnx --rounds 5 --json

Each round times every file once, in a new random order: a next-word token step (top-5, the
runtime's fast path), 64 streams batched through a StreamPool, and loading the file (a Session:
read, digest check, contract check, onnxruntime) against onnxruntime alone on the same bytes.
Machines like ours are noisy: quote the medians over rounds and the ratios within one run.
Needs only the runtime (numpy, onnxruntime).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge_rnn.bench.measure import lm_rows, median_seconds
from edge_rnn.runtime.bundled import resolve_model
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.model_file import read_model
from edge_rnn.runtime.session import Session, session_options


def load_rows(path: Path) -> dict:
    """Seconds to load: a Session, onnxruntime alone, and the digest check alone."""
    data = path.read_bytes()
    return {"session_load_s": median_seconds(lambda: Session(path), repeats=9, warmup=1),
            "ort_load_s": median_seconds(lambda: ort.InferenceSession(data, session_options(1),
                                                                      providers=["CPUExecutionProvider"]),
                                         repeats=9, warmup=1),
            "read_and_verify_s": median_seconds(lambda: read_model(path), repeats=9, warmup=1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help=".onnx path or bundled name; may repeat")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        paths = {name: resolve_model(name) for name in args.model}
        for path in paths.values():
            Session(path, "lm")
    except UserError as e:
        print(f"lm_ab: {e}", file=sys.stderr)
        return 2
    rows = {name: [] for name in paths}
    order, rng = list(paths), random.Random(args.seed)
    for r in range(args.rounds):
        rng.shuffle(order)
        for name in order:
            lm = lm_rows(paths[name], 1)
            rows[name].append({"token_step_s": lm["token_step_s"], "raw_step_s": lm["raw_step_s"],
                               "chunk32_per_token_s": lm["chunk32_per_token_s"],
                               "streams64_tokens_per_s": lm["streams64_tokens_per_s"], **load_rows(paths[name])})
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    medians = {name: {key: statistics.median(row[key] for row in rs) for key in rs[0]} for name, rs in rows.items()}
    for name, path in paths.items():
        medians[name]["bytes"] = path.stat().st_size
    result = {"rounds": args.rounds, "date": time.strftime("%Y-%m-%d"), "medians": medians, "per_round": rows}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    keys = list(next(iter(medians.values())))
    print("median over rounds: " + ", ".join(keys))
    for name, m in medians.items():
        print(f"  {name}: " + ", ".join(f"{m[k]:.4g}" for k in keys))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
