"""What every command shares: option types, printing results, and the torch check."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from edge_rnn.runtime.errors import UserError

JsonOut = Annotated[bool, typer.Option("--json", help="machine-readable output (JSON)")]
Quiet = Annotated[bool, typer.Option(help="no progress output")]
TRAIN_EXTRA = "this command needs PyTorch: pip install 'edge-rnn[train]'"


def need_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError(TRAIN_EXTRA) from None


def emit(result: dict, as_json: bool) -> None:
    """Print a result: one JSON object, or a two-column table."""
    if as_json:
        print(json.dumps(result))
        return
    from .show import key_values

    key_values(result)
