"""Training throughput in 1 and N processes (torchrun, one thread each): tokens/s of a language
model, clips/s of a keyword spotter, and the scaling efficiency (N-process throughput over N
times the one-process throughput). Runs alternate (1, N, 1, N, ...) so that a change in the
machine's load falls on both; each row also says how much CPU the run got.

    python benchmarks/train_scaling.py --task lm --procs 2 --rounds 2 --json
    python benchmarks/train_scaling.py --task kws --procs 2 --rounds 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TASKS = {
    "lm": (["train", "lm", "--data", str(DATA / "ptb" / "ptb.train.txt.gz"), "--valid",
            str(DATA / "ptb" / "ptb.valid.txt.gz"), "--cell", "lstm", "--hidden", "256,128", "--epochs", "1",
            "--max-minutes", "1.5"], "tokens_per_s"),
    "kws": (["train", "kws", "--data", str(DATA / "fsdd" / "recordings"), "--valid-speaker", "nicolas",
             "--front-end", "speech-embedding", "--hidden", "128,64", "--clip-seconds", "3",
             "--clips-per-epoch", "640", "--epochs", "1"], "clips_per_s"),
}


def run(task: str, procs: int, out: Path) -> dict:
    """One training run; its throughput (from metrics.json), wall time and the CPU its processes used."""
    args, key = TASKS[task]
    args = args + ["--threads", "1", "--quiet", "--out", str(out)]
    if procs == 1:
        cmd = [sys.executable, "-m", "edge_rnn.cli", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
               "-m", "edge_rnn.cli", *args]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row = json.loads((out / "metrics.json").read_text())[-1]
    return {"procs": procs, key: row[key], "wall_s": round(wall, 1), "cores_used": round(cpu / wall, 2),
            "load_before": round(load, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="lm")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args()
    key = TASKS[a.task][1]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for procs in (1, a.procs):
                rows.append(run(a.task, procs, Path(tmp) / f"{procs}-{r}"))
                print(json.dumps(rows[-1]), file=sys.stderr)
    one = statistics.median(row[key] for row in rows if row["procs"] == 1)
    many = statistics.median(row[key] for row in rows if row["procs"] == a.procs)
    result = {"task": a.task, "metric": key, "runs": rows, "median_1": one, f"median_{a.procs}": many,
              "scaling_efficiency": round(many / (a.procs * one), 3), "cores": os.cpu_count()}
    print(json.dumps(result) if a.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
