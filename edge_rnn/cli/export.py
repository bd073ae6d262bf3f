"""`edge-rnn export`: checkpoints -> one checked ONNX file with its contract inside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from edge_rnn.runtime.errors import UserError

from .common import JsonOut, emit, need_torch


def _detector_option(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UserError(f'--detector must be a JSON object like {{"threshold": 0.7}}, got {text!r}')
    return value


def export_cmd(
    checkpoint: list[Path] = typer.Argument(..., help="a checkpoint from `edge-rnn train` (best.pt); "
                                            "several keyword spotters make one ensemble model"),
    out: Path = typer.Option(..., help="the .onnx file to write"),
    quantize: Optional[str] = typer.Option(None, help="int8: int8 weights (a quarter of the size)"),
    valid_text: Optional[Path] = typer.Option(None, help="language model: report perplexity on this text"),
    detector: Optional[str] = typer.Option(None, help='keyword spotter: JSON detector defaults, e.g. '
                                           '{"threshold": 0.7, "smooth_frames": 3, "refractory_s": 0.3, "decision_s": 0.6}'),
    ort: bool = typer.Option(False, "--ort", help="also write the ORT-format file (X.ort) for onnxruntime's mobile "
                             "packages, its X.ort.json sidecar and the required-operators config for a reduced build"),
    text_rules: Optional[str] = typer.Option(None, help="language model: the text rules (ptb, none or a JSON file) "
                                             "of a checkpoint that does not record them"),
    json_out: JsonOut = False,
):
    """Export checkpoints to ONNX with explicit states and metadata, checked for parity.

    Several keyword-spotter checkpoints (same labels, sample rate, hop and front end) export as
    one model that averages their per-frame probabilities.
    """
    need_torch()
    from edge_rnn.checkpoint import export_checkpoints
    from edge_rnn.runtime.textrules import rules_option

    rules = rules_option(text_rules) if text_rules is not None else None
    report = export_checkpoints(checkpoint, out, quantize or "fp32", _detector_option(detector), valid_text, rules)
    if ort:
        from edge_rnn.export.ort_format import write_ort
        from edge_rnn.runtime.model_file import read_model

        report.update(write_ort(out, read_model(out).metadata))
    emit(report, json_out)


def convert_cmd(
    model: str = typer.Argument(..., help="an edge-rnn .onnx file, or a bundled model's name"),
    out: Optional[Path] = typer.Option(None, help="the .ort file to write (default: beside the model, X.ort)"),
    json_out: JsonOut = False,
):
    """Convert an edge-rnn model to ORT format for onnxruntime's mobile packages and reduced
    builds: writes X.ort (the contract stays in its metadata), X.ort.json (its SHA-256 and the
    metadata, for bindings that cannot read it) and X.required_operators.config. The model is
    checked (digest, contract) first."""
    from edge_rnn.export.ort_format import default_ort_path, write_ort
    from edge_rnn.runtime.bundled import resolve_model
    from edge_rnn.runtime.contract import parse_metadata
    from edge_rnn.runtime.model_file import read_model

    path = resolve_model(model)
    metadata = read_model(path).metadata
    parse_metadata(metadata, str(path))
    if out is None and path.parent == Path(str(resolve_model("ptb-lm"))).parent:
        out = Path.cwd() / default_ort_path(path).name  # a bundled model: never write into the package
    emit(write_ort(path, metadata, out), json_out)
