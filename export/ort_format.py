"""ORT format: the file onnxruntime's mobile packages and reduced builds load, and the operator list
a reduced build is compiled with.

The conversion is onnxruntime's own tool (`onnxruntime.tools.convert_onnx_models_to_ort`, in the
onnxruntime wheel), optimisation style Fixed at level "all", without the x86-only NCHWc layout, so
one file serves ARM and x86. What it keeps, as tested (tests/test_ort_format.py):
- `metadata_props`: the whole contract travels inside the .ort, read through onnxruntime's custom
  metadata map like the .onnx's (Python, C, C++, Java/Kotlin, C#). Its `edge_rnn.digest` is the
  digest of the .onnx it came from, not of the .ort (other bytes). So a sidecar `NAME.ort.json`
  holds the .ort's own SHA-256 and the same metadata, for bindings that cannot read a model's
  metadata (Objective-C/Swift, JavaScript) and for checking the file.
- int8 weights: stored as int8 with their DequantizeLinear nodes, dequantized at each call (the
  Python runtime folds them into float at load instead); the per-row int8 of a language model
  (MatMulInteger, int8 Gather) is kept as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import atomic_path


def ort_paths(ort_path: Path) -> dict[str, Path]:
    """The files written for `X.ort`: X.ort, X.ort.json and X.required_operators.config."""
    ort_path = Path(ort_path)
    if ort_path.suffix != ".ort":
        raise UserError(f"an ORT-format file's name must end in .ort, got {ort_path}")
    stem = ort_path.name[:-len(".ort")]
    return {"ort": ort_path, "sidecar": ort_path.with_name(stem + ".ort.json"),
            "config": ort_path.with_name(stem + ".required_operators.config")}


def default_ort_path(onnx_path: Path) -> Path:
    """`X.onnx` -> `X.ort`, beside it."""
    name = Path(onnx_path).name
    return Path(onnx_path).with_name((name[:-len(".onnx")] if name.endswith(".onnx") else name) + ".ort")


def _convert(onnx_path: Path, folder: Path) -> tuple[Path, Path]:
    """onnxruntime's tool on a copy in `folder`: (the .ort, the config). Its chatter on stdout and
    its INFO log are kept out of the caller's output."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)
    source = folder / "model.onnx"
    shutil.copyfile(onnx_path, source)
    level = os.environ.pop("ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL", None)  # always "all"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            convert_onnx_models_to_ort(source, output_dir=folder / "out", optimization_styles=[OptimizationStyle.Fixed])
    except Exception as e:  # onnxruntime's own error types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"onnxruntime could not convert {onnx_path} to ORT format: {first[:200]}") from None
    finally:
        if level is not None:
            os.environ["ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL"] = level
    (ort_file,) = (folder / "out").glob("*.ort")
    (config,) = (folder / "out").glob("*.config")
    return ort_file, config


def write_ort(onnx_path: Path, metadata: dict[str, str], out: Path | None = None) -> dict:
    """Convert an edge-rnn .onnx file (with these metadata_props) to ORT format: writes `out`
    (default: beside it, .ort), its `.ort.json` sidecar ({"file", "sha256", "metadata"}) and the
    `.required_operators.config` for a reduced onnxruntime build (`build.sh --minimal_build
    --include_ops_by_config FILE`). Returns paths, sizes and operators."""
    onnx_path = Path(onnx_path)
    paths = ort_paths(out if out is not None else default_ort_path(onnx_path))
    with tempfile.TemporaryDirectory(prefix=f"edge-rnn-ort-{os.getpid()}-") as tmp:
        ort_file, config = _convert(onnx_path, Path(tmp))
        data = ort_file.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        operators = [line for line in config.read_text().splitlines() if line and not line.startswith("#")]
        with atomic_path(paths["ort"]) as target:
            target.write_bytes(data)
        with atomic_path(paths["config"]) as target:
            target.write_text(f"# operators of {paths['ort'].name}, for onnxruntime's --include_ops_by_config\n"
                              + "\n".join(operators) + "\n")
        with atomic_path(paths["sidecar"]) as target:
            sidecar = {"file": paths["ort"].name, "sha256": digest, "metadata": metadata}
            target.write_text(json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"ort": str(paths["ort"]), "ort_bytes": len(data), "ort_sha256": digest, "sidecar": str(paths["sidecar"]),
            "required_operators": str(paths["config"]), "operators": operators}
