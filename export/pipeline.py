"""Export a torch model: checked ONNX file (fp32 or int8) with the contract inside.

Export takes a model and what travels with it; it never reads checkpoints or training code. The
model is an `nn.Module` with a `config` (task, state_sizes, and vocab_size, or labels,
sample_rate and hop, or a forecaster's columns and horizon; `to_json()`), `init_state(batch)`,
`forward(x, state)` (language models, forecasters) or `scores(audio, state)` (keyword
spotters), and `int8_weights()`, the weights an int8 export
stores as int8 besides the recurrent ones.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from torch import nn

from edge_rnn.runtime.detector import DetectorConfig
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import atomic_path, remove_stale
from edge_rnn.runtime.textrules import TextRules

from .onnx_export import export_fp32, make_contract, write_metadata
from .parity import check_parity
from .quantize import PRECISIONS, quantize


def export_model(model: nn.Module, out: Path, precision: str = "fp32", *, vocab: list[str] | None = None,
                 text_rules: TextRules | None = None, detector: dict | None = None,
                 train_speakers: list[str] | None = None, measure: Callable[[Path], dict] | None = None) -> dict:
    """Export, write metadata, prove parity (fp32), quantize if asked; rename into place at the end.

    vocab: a language model's words (index = token id); text_rules: how its training text was
    made into words (runtime/textrules.py), recorded for every reader. detector: a keyword spotter's detection
    defaults; train_speakers: the voices it was trained on. `measure(model_path) -> metrics`
    (e.g. validation perplexity) runs on the fp32 model and, when quantizing, on the int8 model
    too, so the report shows what quantization costs. Returns a report: sizes, parity, metrics.
    """
    out = Path(out)
    if precision not in PRECISIONS:
        raise UserError(f"--quantize must be int8 (or leave it out for fp32), got {precision!r}")
    if out.suffix != ".onnx":
        raise UserError(f"--out must end in .onnx, got {out}")
    config = model.config
    if config.task == "lm" and not vocab:
        raise UserError("a language model exports with its vocabulary")
    if config.task == "kws":
        detector = vars(DetectorConfig.from_dict(detector or {}))  # refuse a bad one before any work
    extra = {"vocab": vocab, "text_rules": text_rules, "detector": detector, "train_speakers": train_speakers}
    model.eval()
    report = {"out": str(out), "task": config.task, "cell": config.cell, "hidden": config.hidden,
              "precision": precision}
    remove_stale(Path(tempfile.gettempdir()), "edge-rnn-export-*")
    with tempfile.TemporaryDirectory(prefix=f"edge-rnn-export-{os.getpid()}-") as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        export_fp32(model, config, fp32)
        changed = embedding_changed(model)
        write_metadata(fp32, make_contract(config, "fp32", extra), embedding_changed=changed)
        report["parity_max_abs_diff"] = check_parity(model, config, fp32)
        report["fp32_bytes"] = fp32.stat().st_size
        final = fp32
        if precision != "fp32":
            final = Path(tmp) / f"model.{precision}.onnx"
            declared = [w.detach().cpu().numpy() for w in model.int8_weights()]
            quantize(fp32, final, config.task, declared)
            write_metadata(final, make_contract(config, precision, extra), embedding_changed=changed)
            report[f"{precision}_bytes"] = final.stat().st_size
            report["size_ratio"] = round(final.stat().st_size / report["fp32_bytes"], 4)
        if measure is not None:
            report["fp32_metrics"] = measure(fp32)
            if final is not fp32:
                report[f"{precision}_metrics"] = measure(final)
        with atomic_path(out) as target:
            target.write_bytes(final.read_bytes())
    return report


def embedding_changed(model: nn.Module) -> bool:
    """Whether a keyword spotter's speech embedding (an ensemble's shared one) was tuned in training."""
    members = getattr(model, "members", None)
    embedding = getattr(members[0] if members is not None else model, "embedding", None)
    return embedding is not None and not embedding.is_pretrained()
