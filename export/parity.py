"""Parity: PyTorch and the exported ONNX model must agree when fed chunk after chunk.

For each batch size and chunk length we feed several chunks in a row, carrying the state in
both, and compare every output and every state. This catches a frozen time or batch axis,
a dropped state input, and state that does not carry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edge_rnn.runtime.session import Session

BATCHES = (1, 3)
LM_CHUNKS = (1, 2, 50)
CHUNKS_IN_A_ROW = 3


class ParityError(RuntimeError):
    """The exported model does not compute what the PyTorch model computes."""


def _chunks(config, batch: int, length: int, gen: torch.Generator) -> list[torch.Tensor]:
    if config.task == "lm":
        return [torch.randint(0, config.vocab_size, (batch, length), generator=gen)
                for _ in range(CHUNKS_IN_A_ROW)]
    if config.task == "series":  # readings around the training mean, clock values in their range
        return [series_chunk(config, batch, length, gen) for _ in range(CHUNKS_IN_A_ROW)]
    # audio: a chirp plus noise, so the front end sees speech-like energy
    return [torch.rand(batch, length, generator=gen) * 0.6 - 0.3 for _ in range(CHUNKS_IN_A_ROW)]


def series_chunk(config, batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """(batch, length, readings + clock values) as a sensor might give them."""
    columns = len(config.columns)
    mean = torch.tensor(config.mean or [0.0] * columns)
    std = torch.tensor(config.std or [1.0] * columns)
    readings = mean + std * torch.randn(batch, length, columns, generator=gen)
    top = torch.tensor([24.0 if f == "hour" else 366.0 for f in config.time_features])
    clock = torch.rand(batch, length, len(config.time_features), generator=gen) * top
    return torch.cat([readings, clock], dim=-1)


def chunk_lengths(config) -> tuple[int, ...]:
    if config.task in ("lm", "series"):
        return LM_CHUNKS
    return (config.hop, 2 * config.hop, 50 * config.hop)


def check_parity(model: torch.nn.Module, config, onnx_path: Path,
                 tolerance: float = 1e-4) -> float:
    """Return the largest absolute difference seen; raise ParityError above `tolerance`."""
    model.eval()
    run = model.scores if config.task == "kws" else model  # what the graph computes
    session = Session(onnx_path)
    gen = torch.Generator().manual_seed(1234)
    worst = 0.0
    for batch in BATCHES:
        for length in chunk_lengths(config):
            t_state = model.init_state(batch)
            o_state = session.zero_state(batch)
            for step, chunk in enumerate(_chunks(config, batch, length, gen)):
                with torch.no_grad():
                    t_out, t_state = run(chunk, t_state)
                o_out, o_state = session.run(chunk.numpy(), o_state)
                pairs = [(t_out, o_out)] + list(zip(t_state, o_state))
                for t, o in pairs:
                    if tuple(t.shape) != o.shape:
                        raise ParityError(f"shape {o.shape} from ONNX, {tuple(t.shape)} from PyTorch "
                                          f"(batch {batch}, chunk {length}, chunk #{step + 1})")
                    diff = float(np.max(np.abs(t.numpy() - o))) if o.size else 0.0
                    worst = max(worst, diff)
                    if not diff <= tolerance:
                        raise ParityError(f"ONNX differs from PyTorch by {diff:.3g} > {tolerance:g} "
                                          f"(batch {batch}, chunk {length}, chunk #{step + 1})")
    if config.task == "lm" and session.contract.top_k:
        worst = max(worst, _check_top_k(model, session, tolerance))
    return worst


def _check_top_k(model, session: Session, tolerance: float) -> float:
    """The in-graph ranking of next words equals PyTorch's softmax + top-k (probabilities;
    ids may differ only between equal probabilities)."""
    k = session.contract.top_k
    tokens = torch.randint(0, model.config.vocab_size, (3, 7), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        logits, _ = model(tokens, model.init_state(3))
        t_probs, _ = torch.topk(torch.softmax(logits[:, -1], -1), k)
    o_probs, o_ids = session.run_outputs(tokens.numpy(), session.zero_state(3), ["next_probs", "next_ids"])[:2]
    diff = float(np.max(np.abs(t_probs.numpy() - o_probs)))
    gathered = torch.softmax(logits[:, -1], -1).numpy()[np.arange(3)[:, None], o_ids]
    if not diff <= tolerance or not np.allclose(gathered, o_probs, atol=tolerance):
        raise ParityError(f"in-graph top-{k} differs from PyTorch by {diff:.3g}")
    return diff
