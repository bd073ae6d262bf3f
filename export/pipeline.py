"""`edge-rnn export`: checkpoint -> checked ONNX file (fp32 or int8) with the contract inside."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from edge_rnn.checkpoint import load_checkpoint
from edge_rnn.models import build_model
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import atomic_path

from .onnx_export import export_fp32, make_contract, write_metadata
from .parity import check_parity
from .quantize import PRECISIONS, quantize


def export_checkpoint(checkpoint: Path | list[Path], out: Path, precision: str = "fp32",
                      measure: Callable[[Path], dict] | None = None, detector: dict | None = None) -> dict:
    """Export, write metadata, prove parity (fp32), quantize if asked; rename into place at the end.

    `measure(model_path) -> metrics` (e.g. validation perplexity) runs on the fp32 model and,
    when quantizing, on the int8 model too, so the report shows what quantization costs.
    `detector` overrides a keyword spotter's detection defaults stored in the model.
    Several keyword-spotter checkpoints make one ensemble model (edge_rnn.kws_ensemble) that
    averages their probabilities; the detector defaults then come from the first.
    Returns a report: sizes, parity error, precision, metrics.
    """
    if precision not in PRECISIONS:
        raise UserError(f"--quantize must be one of {', '.join(PRECISIONS[1:])}, got {precision!r}")
    if out.suffix != ".onnx":
        raise UserError(f"--out must end in .onnx, got {out}")
    paths = checkpoint if isinstance(checkpoint, list) else [checkpoint]
    ckpts = [load_checkpoint(p) for p in paths]
    ckpt = ckpts[0]
    if len(ckpts) > 1:
        from edge_rnn.kws_ensemble import load_ensemble

        model = load_ensemble(ckpts)
    else:
        model = build_model(ckpt["config"])
        model.load_state_dict(ckpt["model"])
    model.eval()
    config = model.config
    extra = {k: ckpt[k] for k in ("vocab", "detector") if k in ckpt}
    if all("train_speakers" in c for c in ckpts):  # an ensemble has heard what any member heard
        extra["train_speakers"] = sorted({s for c in ckpts for s in c["train_speakers"]})
    if detector:
        if config.task != "kws":
            raise UserError("--detector applies to keyword spotters only")
        known = {"smooth_frames", "threshold", "refractory_s", "decision_s"}
        if not set(detector) <= known:
            raise UserError(f"--detector keys must be among {sorted(known)}")
        extra["detector"] = {**extra.get("detector", {}), **detector}
    report = {"checkpoint": ", ".join(map(str, paths)), "out": str(out), "task": config.task,
              "cell": config.cell, "hidden": config.hidden, "precision": precision}
    with tempfile.TemporaryDirectory(prefix="edge-rnn-export-") as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        export_fp32(model, config, fp32)
        write_metadata(fp32, make_contract(config, "fp32", extra))
        report["parity_max_abs_diff"] = check_parity(model, config, fp32)
        report["fp32_bytes"] = fp32.stat().st_size
        final = fp32
        if precision != "fp32":
            final = Path(tmp) / f"model.{precision}.onnx"
            quantize(fp32, final, precision, weight_only=config.task == "kws")
            write_metadata(final, make_contract(config, precision, extra))
            report[f"{precision}_bytes"] = final.stat().st_size
            report["size_ratio"] = round(final.stat().st_size / report["fp32_bytes"], 4)
        if measure is not None:
            report["fp32_metrics"] = measure(fp32)
            if final is not fp32:
                report[f"{precision}_metrics"] = measure(final)
        with atomic_path(out) as target:
            target.write_bytes(final.read_bytes())
    return report
