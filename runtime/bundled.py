"""The models shipped inside the package, and how a name or a path becomes a model file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import UserError

# name -> file in edge_rnn/bundled/ (docs/bundled-models.md describes each)
BUNDLED = {"ptb-lm": "ptb-lm.int8.onnx", "fsdd-kws": "fsdd-kws.int8.onnx", "seattle-temp": "seattle-temp.int8.onnx"}
DEFAULT_FOR_TASK = {"lm": "ptb-lm", "kws": "fsdd-kws", "series": "seattle-temp"}


def bundled_path(name: str) -> Path:
    """The file of a bundled model, by name (`ptb-lm`, `fsdd-kws`, `seattle-temp`)."""
    if name not in BUNDLED:
        raise UserError(f"no bundled model named {name!r}; bundled: {', '.join(BUNDLED)}")
    path = Path(str(resources.files("edge_rnn.bundled") / BUNDLED[name]))
    if not path.is_file():
        raise UserError(f"bundled model {name!r} is missing from this installation ({path})")
    return path


def resolve_model(value: str | Path | None, default: str = "ptb-lm") -> Path:
    """A path to an existing file, or the name of a bundled model (`None`: `default`).

    A file of the same name as a bundled model wins over the bundled one.
    """
    if value is None:
        return bundled_path(default)
    path = Path(value)
    if isinstance(value, str) and value in BUNDLED and not path.exists():
        return bundled_path(value)
    if not path.is_file():
        raise UserError(f"model not found: {value} (give a .onnx path or one of: {', '.join(BUNDLED)})")
    return path
