"""Bundled default models, shipped inside the package, and `--model` resolution."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from edge_rnn.runtime.errors import UserError

# fsdd-kws: three GRU heads on a pretrained speech embedding; -trio and -small: log-mel models trained on
# the recordings alone (-small is the trio's third member)
BUNDLED = {"ptb-lm": "ptb-lm.int8.onnx", "fsdd-kws": "fsdd-kws.int8.onnx",
           "fsdd-kws-trio": "fsdd-kws-trio.int8.onnx", "fsdd-kws-small": "fsdd-kws-small.int8.onnx"}
DEFAULT_FOR_TASK = {"lm": "ptb-lm", "kws": "fsdd-kws"}


def bundled_path(name: str) -> Path:
    path = Path(str(resources.files("edge_rnn.models_data") / BUNDLED[name]))
    if not path.is_file():
        raise UserError(f"bundled model {name!r} is missing from this installation ({path})")
    return path


def resolve_model(value: str | None, default: str = "ptb-lm") -> Path:
    """A path to an existing file, or the name of a bundled model."""
    if value is None:
        return bundled_path(default)
    if value in BUNDLED and not Path(value).exists():
        return bundled_path(value)
    path = Path(value)
    if not path.is_file():
        raise UserError(f"model not found: {value} (give a .onnx path or one of: {', '.join(BUNDLED)})")
    return path
