"""The commands that run exported models: inspect, stream, eval. They need no torch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edge_rnn.bundled import resolve_model
from edge_rnn.progress import Progress
from edge_rnn.runtime.errors import UserError

JsonOut = Annotated[bool, typer.Option("--json", help="machine-readable output (JSON)")]
Quiet = Annotated[bool, typer.Option(help="no progress output")]


def emit(result: dict, as_json: bool) -> None:
    """Print a result: one JSON object, or `key: value` lines."""
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")


def inspect_cmd(
    model: str = typer.Argument(..., help="an .onnx path or a bundled model name"),
    json_out: JsonOut = False,
):
    """Print a model's contract: inputs, outputs, states and metadata."""
    from edge_rnn.runtime.inspect import describe

    info = describe(resolve_model(model))
    if json_out:
        print(json.dumps(info))
        return
    print(f"model: {info['path']} ({info['bytes']} bytes)")
    print(f"task: {info['task']}  precision: {info['precision']}  format: {info['format']}")
    for kind in ("inputs", "outputs"):
        print(f"{kind}:")
        for io in info[kind]:
            print(f"  {io['name']:<16} {io['type']:<8} {io['shape']}")
    print("states (input -> output, float32, zeros at start):")
    for s in info["states"]:
        print(f"  {s['input']} -> {s['output']}  {s['shape']}")
    for key, value in info["metadata"].items():
        print(f"{key}: {value}")


def stream_cmd(
    model: Optional[str] = typer.Option(None, help="an .onnx path or bundled name (default ptb-lm)"),
    input: Optional[str] = typer.Option(None, "--input", help="keyword spotting: a WAV file, or - for raw PCM on stdin"),
    top_k: int = typer.Option(5, min=1, max=100, help="language model: how many next words"),
    chunk_ms: float = typer.Option(100.0, help="keyword spotting: audio per call, in ms"),
    threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="keyword spotting: override the model's threshold"),
    threads: int = typer.Option(1, min=1, help="onnxruntime intra-op threads"),
    json_out: JsonOut = False,
):
    """Stream text through a language model, or audio through a keyword spotter."""
    from edge_rnn.runtime.session import Session

    session = Session(resolve_model(model, "fsdd-kws" if input is not None and model is None else "ptb-lm"),
                      threads=threads)
    if session.contract.task == "lm":
        if input is not None:
            raise UserError("--input is for keyword-spotting models; a language model reads text on stdin")
        from edge_rnn.stream_text import stream_text

        stream_text(session, top_k, json_out)
    else:
        from edge_rnn.stream_audio import stream_audio

        if input is None:
            raise UserError("a keyword spotter needs --input FILE.wav (or --input - for raw PCM on stdin)")
        stream_audio(session, input, chunk_ms, json_out, threshold=threshold)


def eval_cmd(
    model: Optional[str] = typer.Option(None, help="an .onnx path or bundled name (default ptb-lm)"),
    text: Optional[Path] = typer.Option(None, help="language model: text to score"),
    data: Optional[Path] = typer.Option(None, help="keyword spotting: folder of labelled WAVs"),
    chunk: int = typer.Option(256, min=1, help="language model: tokens per call"),
    threads: int = typer.Option(1, min=1),
    plot: Optional[Path] = typer.Option(None, help="keyword spotting: write a DET curve PNG"),
    speakers: Optional[str] = typer.Option(None, help="keyword spotting: only these speakers (comma-separated)"),
    noise_hours: float = typer.Option(1.0, min=0.0, help="keyword spotting: hours of noise-only stream"),
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """Measure a model through the streaming runtime: perplexity (LM) or detection (KWS)."""
    from edge_rnn.runtime.session import Session

    session = Session(resolve_model(model, "fsdd-kws" if data is not None and model is None else "ptb-lm"),
                      threads=threads)
    if session.contract.task == "lm":
        if text is None:
            hint = " (--data is for keyword spotters)" if data is not None else ""
            raise UserError(f"{session.path} is a language model: evaluate it on --text FILE{hint}")
        from edge_rnn.runtime.lm import evaluate_text
        from edge_rnn.runtime.text import read_lines

        total = sum(len(line.split()) + 1 for line in read_lines(text) if line.strip())
        bar = Progress(total, "eval", enabled=not quiet)
        result = evaluate_text(session, text, chunk, on_progress=bar.update)
        bar.close()
        emit({"model": str(session.path), **result}, json_out)
    else:
        if data is None:
            hint = " (--text is for language models)" if text is not None else ""
            raise UserError(f"{session.path} is a keyword spotter: evaluate it on --data DIR of WAVs{hint}")
        from edge_rnn.kws_eval import evaluate_kws

        if plot is not None:
            from edge_rnn.plots import check_plot

            check_plot(plot)
        result = evaluate_kws(session, data, speakers, noise_hours, plot, quiet)
        if result["speakers_heard_in_training"]:
            heard = ", ".join(result["speakers_heard_in_training"])
            print(f"note: {session.path.name} was trained on {heard}: those figures are not held-out", file=sys.stderr)
        emit({"model": str(session.path), **result}, json_out)


def bench_cmd(
    model: Optional[str] = typer.Option(None, help="language model (default: bundled ptb-lm)"),
    kws_model: Optional[str] = typer.Option(None, help="keyword spotter (default: bundled fsdd-kws)"),
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """Measure the runtime on this machine: step, chunk, batched streams, KWS real-time factor,
    memory and the hardware floor. For PyTorch side by side: python benchmarks/compare.py."""
    from edge_rnn.benchmark import run_runtime_bench

    steps = ["floor", "lm, 1 thread", "lm, 2 threads", "keyword spotting", "runtime process"]
    bar = Progress(len(steps), "bench", enabled=not quiet)
    kws = {kws_model or "fsdd-kws": resolve_model(kws_model, "fsdd-kws")}
    result = run_runtime_bench(resolve_model(model, "ptb-lm"), kws, progress=lambda label: bar.update(1, label))
    bar.close()
    if json_out:
        print(json.dumps(result))
        return
    from edge_rnn.bench_table import runtime_table

    print(runtime_table(result))
