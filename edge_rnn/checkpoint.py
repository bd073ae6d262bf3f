"""Checkpoints: one file with the config, weights, vocabulary and training state.

Saved atomically; loaded with `weights_only=True`, so a checkpoint can never run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from edge_rnn.config import ModelConfig
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import atomic_path

FORMAT = 1


def save_checkpoint(path: str | Path, model: torch.nn.Module, config: ModelConfig, **extra: Any) -> None:
    """extra: vocab (list[str]), optimizer (state dict), train (plain dict of progress)."""
    payload = {"format": FORMAT, "config": config.to_json(), "model": model.state_dict(), **extra}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Return the checkpoint dict with `config` rebuilt as a ModelConfig."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle that is not plain data, or not a torch file at all
        raise UserError(f"{path} is not an edge-rnn checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "config" not in payload:
        raise UserError(f"{path} is not an edge-rnn checkpoint (format {FORMAT})")
    payload["config"] = ModelConfig.from_json(payload["config"])
    return payload
