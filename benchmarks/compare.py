"""Side-by-side benchmark in one run: PyTorch eager and TorchScript against the edge-rnn
runtime (fp32 and int8) for the same trained model, plus everything `edge-rnn bench` measures.

    python benchmarks/compare.py --checkpoint runs/ptb/best.pt --write BENCHMARKS.md

Needs edge-rnn[train] (torch, onnx). One thread unless a row says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from edge_rnn.bench.measure import lm_rows, median_seconds, run_runtime_bench
from edge_rnn.bench.table import runtime_table
from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
from edge_rnn.export.wrappers import StreamingWrapper
from edge_rnn.models import load_model
from edge_rnn.progress import Progress
from edge_rnn.runtime.bundled import resolve_model


def torch_step_seconds(model: torch.nn.Module, vocab_size: int) -> float:
    """One token in, next-word top-5 probabilities out, state carried: what an app would do."""
    state = model.init_state(1)
    tokens = torch.randint(2, vocab_size, (4096, 1, 1))
    it = iter(range(10**9))

    def step():
        nonlocal state
        logits, state = model(tokens[next(it) % 4096], state)
        return torch.topk(torch.softmax(logits[0, -1], -1), 5)

    with torch.inference_mode():
        return median_seconds(step, repeats=1000, warmup=50)


def torchscript_step_seconds(model: torch.nn.Module, vocab_size: int) -> float:
    wrapper = StreamingWrapper(model).eval()
    example = (torch.zeros(1, 1, dtype=torch.long), *model.init_state(1))
    with torch.inference_mode():
        traced = torch.jit.freeze(torch.jit.trace(wrapper, example))
    state = model.init_state(1)
    tokens = torch.randint(2, vocab_size, (4096, 1, 1))
    it = iter(range(10**9))

    def step():  # the traced graph ranks the next words itself, as the exported one does
        nonlocal state
        _, probs, ids, *state = traced(tokens[next(it) % 4096], *state)
        return probs[0, :5], ids[0, :5]

    with torch.inference_mode():
        return median_seconds(step, repeats=1000, warmup=50)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="language-model checkpoint (best.pt)")
    ap.add_argument("--kws-model", action="append", help="keyword-spotting .onnx or bundled name; may repeat "
                    "(default: fsdd-kws)")
    ap.add_argument("--valid-text", type=Path, help="also measure each weight format's perplexity on this text")
    ap.add_argument("--write", type=Path, help="write the results into this Markdown file")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    steps = ["export", "pytorch eager", "torchscript", "fp32 runtime", "runtime bench"]
    kws = {name: resolve_model(name, "fsdd-kws") for name in args.kws_model or ["fsdd-kws"]}
    bar = Progress(len(steps) + 4 + len(kws), "compare")
    ckpt = load_checkpoint(args.checkpoint)
    model = load_model([ckpt])
    with tempfile.TemporaryDirectory() as tmp:
        paths = {p: Path(tmp) / f"lm.{p}.onnx" for p in ("fp32", "int8")}
        for precision, path in paths.items():
            export_checkpoints(args.checkpoint, path, precision)
        fp32, int8 = paths["fp32"], paths["int8"]
        bar.update(1, "pytorch eager")
        vocab = ckpt["config"].vocab_size
        torch_rows = {"PyTorch eager": torch_step_seconds(model, vocab)}
        bar.update(1, "torchscript")
        try:
            torch_rows["TorchScript (traced, frozen)"] = torchscript_step_seconds(model, vocab)
        except Exception as e:  # report, do not hide, a TorchScript failure
            print(f"TorchScript failed: {type(e).__name__}: {e}", file=sys.stderr)
        bar.update(1, "fp32 runtime")
        fp32_rows = lm_rows(fp32, 1)
        result = run_runtime_bench(int8, kws,
                                   progress=lambda label: bar.update(1, label))
        result["files"]["lm_fp32_bytes"] = fp32.stat().st_size
        result["formats"] = {p: format_row(path, args.valid_text) for p, path in paths.items()}
    bar.close()
    result["torch"] = torch_rows
    result["lm_fp32"] = fp32_rows
    if args.json:
        print(json.dumps(result))
    table = runtime_table(result, torch_rows, fp32_rows) + "\n\n" + formats_table(result["formats"])
    if not args.json:
        print(table)
    if args.write:
        write_report(args.write, result, table, " ".join(["python"] + sys.argv))
    return 0


def format_row(path: Path, valid_text: Path | None) -> dict:
    """Speed, size (and perplexity) of one weight format."""
    rows = lm_rows(path, 1)
    row = {"bytes": path.stat().st_size, "token_step_s": rows["token_step_s"], "raw_step_s": rows["raw_step_s"],
           "streams256_tokens_per_s": rows["streams256_tokens_per_s"]}
    if valid_text is not None:
        from edge_rnn.runtime.lm import evaluate_text
        from edge_rnn.runtime.session import Session

        row["perplexity"] = evaluate_text(Session(path), valid_text)["perplexity"]
    return row


def formats_table(formats: dict) -> str:
    lines = ["| weights | file | token step (top-5) | raw step | 256 streams | perplexity |",
             "|---|---|---|---|---|---|"]
    for name, r in formats.items():
        ppl = f"{r['perplexity']:.2f}" if "perplexity" in r else "-"
        lines.append(f"| {name} | {r['bytes'] / 1e6:.2f} MB | {r['token_step_s'] * 1e6:.1f} µs | "
                     f"{r['raw_step_s'] * 1e6:.1f} µs | {r['streams256_tokens_per_s']:,.0f} tokens/s | {ppl} |")
    return "\n".join(lines)


def write_report(path: Path, result: dict, table: str, command: str) -> None:
    from edge_rnn.runtime.fileio import write_text_atomic

    m = result["machine"]
    text = (f"# Benchmarks\n\nMeasured in one run by `{command}` on {m['date']}.\n\n"
            f"Machine: {m['cpu']}, {m['cores']} cores; onnxruntime {m['onnxruntime']}, torch "
            f"{torch.__version__}, numpy {m['numpy']}, Python {m['python']}.\n"
            f"Medians of many individually timed calls; one thread unless a row says otherwise.\n\n"
            f"{table}\n")
    extra = path.read_text(encoding="utf-8").split("<!-- notes -->", 1) if path.exists() else []
    if len(extra) == 2:
        text += "\n<!-- notes -->" + extra[1]
    write_text_atomic(path, text)


if __name__ == "__main__":
    sys.exit(main())
