"""A model's contract as plain data, for `edge-rnn inspect` and for apps that want to look."""

from __future__ import annotations

import json
from pathlib import Path

from .session import Session


def describe(path: str | Path) -> dict:
    """Inputs, outputs (name, type, shape), states and metadata of an edge-rnn model."""
    session = Session(path)
    meta = session.file.metadata
    io = lambda arg: {"name": arg.name, "type": arg.type.replace("tensor(", "").rstrip(")"),
                      "shape": list(arg.shape)}
    metadata = {}
    for key, value in sorted(meta.items()):
        if key == "edge_rnn.vocab":
            words = json.loads(value)
            value = f"{len(words)} words: " + " ".join(words[:12]) + " ..."
        metadata[key] = value
    c = session.contract
    return {
        "path": str(session.path), "bytes": len(session.file.data), "format": meta.get("edge_rnn.format"),
        "integrity": "verified" if session.file.verified else "no digest",
        "task": c.task, "precision": c.precision,
        "inputs": [io(a) for a in session.ort.get_inputs()],
        "outputs": [io(a) for a in session.ort.get_outputs()],
        "states": [{"input": s.input, "output": s.output, "shape": ["batch", s.size]} for s in c.states],
        "metadata": metadata,
    }
