"""`edge-rnn plot embeddings` and `edge-rnn plot curves` (PNG needs edge-rnn[plot])."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from edge_rnn.runtime.errors import UserError

from .common import JsonOut, Quiet, emit

app = typer.Typer(no_args_is_help=True, help="Draw what a model learned and how its training went.")
OutPng = typer.Option(None, "--out", help="the PNG to write (needs edge-rnn[plot])")


def _plt(out: Optional[Path], json_out: bool):
    """pyplot for --out, checked before any work; None when only --json is asked for."""
    if out is None:
        if not json_out:
            raise UserError("give --out FILE.png for the picture (or --json for the numbers)")
        return None
    from edge_rnn.evaluation.plots import check_plot

    return check_plot(out, "--out")


@app.command("embeddings")
def embeddings_cmd(
    model: str = typer.Argument(..., help="a checkpoint (.pt), a run folder (its best.pt), an .onnx file "
                                "or a bundled model name"),
    out: Optional[Path] = OutPng,
    words: int = typer.Option(200, min=1, max=100000, help="draw the N most frequent words"),
    highlight: str = typer.Option("", help="comma-separated words to mark in red (drawn even if rarer)"),
    method: str = typer.Option("pca", help="pca, or tsne (exact t-SNE; at most 2000 words)"),
    perplexity: Optional[float] = typer.Option(None, help="t-SNE perplexity (default 30, less for few words)"),
    specials: bool = typer.Option(False, help="draw <unk> and <eos> too"),
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """A map of a language model's word embeddings (PCA or t-SNE); --json gives the coordinates."""
    from edge_rnn.evaluation.embeddings import embedding_map, plot_map

    plt = _plt(out, json_out)
    marked = [w.strip() for w in highlight.split(",") if w.strip()]
    result = embedding_map(model, words, marked, method, perplexity, specials, quiet)
    if plt is not None:
        plot_map(result, out, plt)
        result["out"] = str(out)
    if json_out:
        print(json.dumps(result))
        return
    summary = {k: v for k, v in result.items() if k not in ("points", "variance")}
    if "variance" in result:
        summary["variance kept"] = " + ".join(f"{100 * v:.1f}%" for v in result["variance"])
    emit(summary, False)


@app.command("curves")
def curves_cmd(
    run: Path = typer.Argument(..., help="a training run's --out folder (its metrics.jsonl)"),
    out: Optional[Path] = OutPng,
    json_out: JsonOut = False,
):
    """Training curves of a run: train/valid loss (perplexity for a language model, frame accuracy
    for a keyword spotter) and the learning rate; --json gives the series."""
    from edge_rnn.evaluation.curves import draw_curves, run_curves

    _plt(out, json_out)
    result = draw_curves(run, out) if out is not None else run_curves(run)
    if json_out:
        print(json.dumps(result))
        return
    last = {k: v[-1] for k, v in result["per_epoch"].items() if v}
    emit({"run": result["run"], "task": result["task"], "epochs": result["epochs"], "steps": result["steps"],
          **{f"last {k}": v for k, v in last.items() if k != "epoch"}, "out": result.get("out")}, False)
