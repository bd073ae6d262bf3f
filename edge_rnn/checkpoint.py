"""Checkpoints: one file with the config, weights, vocabulary or labels, and training state.

Saved atomically; loaded with `weights_only=True`, so a checkpoint can never run code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from edge_rnn.config import ModelConfig
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.textrules import TextRules
from edge_rnn.runtime.fileio import atomic_path, recover

FORMAT = 1


def save_checkpoint(path: str | Path, model: torch.nn.Module, config: ModelConfig, **extra: Any) -> None:
    """extra: vocab (list[str]), detector, settings (JSON of the training options), optimizer
    (state dict), train (JSON of progress)."""
    payload = {"format": FORMAT, "config": config.to_json(), "model": model.state_dict(), **extra}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Return the checkpoint dict with `config` rebuilt as a ModelConfig."""
    path = Path(path)
    recover(path.parent)  # a run killed while saving: finish its set of files first
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle that is not plain data, or not a torch file at all
        raise UserError(f"{path} is not an edge-rnn checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or not isinstance(payload.get("config"), str):
        raise UserError(f"{path} is not an edge-rnn checkpoint (format {FORMAT})")
    try:
        payload["config"] = ModelConfig.from_json(payload["config"])
    except (ValueError, TypeError) as e:
        raise UserError(f"{path} holds no usable model config: {e}") from None
    return payload


def export_checkpoints(paths: Path | list[Path], out: Path, precision: str = "fp32", detector: dict | None = None,
                       valid_text: Path | None = None, text_rules: TextRules | None = None) -> dict:
    """Export one checkpoint, or several keyword spotters as one ensemble, to a checked ONNX file.

    detector: overrides of a keyword spotter's stored detection defaults. valid_text: a language
    model's perplexity on this text is reported for the fp32 and the quantized file. text_rules:
    a language model's text rules, for a checkpoint that does not record them (trained before
    `--text-rules` existed); one that does must agree.
    """
    from edge_rnn.export.pipeline import export_model
    from edge_rnn.models import load_model

    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    ckpts = [load_checkpoint(p) for p in paths]
    model = load_model(ckpts)
    task = model.config.task
    if detector is not None and task != "kws":
        raise UserError("--detector applies to keyword spotters only")
    if valid_text is not None and task != "lm":
        kind = "a keyword spotter" if task == "kws" else "a forecaster (score it with `edge-rnn eval --csv`)"
        raise UserError(f"--valid-text applies to language models; this checkpoint is {kind}")
    rules = _text_rules(ckpts[0], text_rules, paths[0]) if task == "lm" else None
    if text_rules is not None and task != "lm":
        raise UserError("--text-rules applies to language models; this checkpoint is not one")
    speakers = None
    if all("train_speakers" in c for c in ckpts):  # an ensemble has heard what any member heard
        speakers = sorted({s for c in ckpts for s in c["train_speakers"]})
    stored = {**ckpts[0].get("detector", {}), **(detector or {})} if task == "kws" else None
    report = export_model(model, out, precision, vocab=ckpts[0].get("vocab"), text_rules=rules, detector=stored,
                          train_speakers=speakers, measure=_perplexity(valid_text) if valid_text else None)
    return {"checkpoint": ", ".join(map(str, paths)), **report}


def _text_rules(ckpt: dict, given: TextRules | None, path: Path) -> TextRules:
    """The rules the checkpoint was trained with, or those given for one that does not say."""
    if "text_rules" not in ckpt:
        return given or TextRules()
    try:
        stored = TextRules.from_dict(json.loads(ckpt["text_rules"]), str(path))
    except (TypeError, ValueError):
        raise UserError(f"{path} holds text rules that are not JSON; export it from its training run again") from None
    if given is not None and given != stored:
        raise UserError(f"{path} was trained with other text rules than --text-rules gives; leave the option "
                        "out (the checkpoint's own are exported)")
    return stored


def _perplexity(text: Path):
    """measure(model path) -> perplexity and top-1 accuracy of an exported file on `text`."""
    from edge_rnn.runtime.lm import evaluate_text
    from edge_rnn.runtime.session import Session

    if not Path(text).is_file():
        raise UserError(f"text file not found: {text}")

    def measure(path: Path) -> dict:
        result = evaluate_text(Session(path, "lm"), text)
        return {k: result[k] for k in ("perplexity", "top1_accuracy", "tokens")}

    return measure
