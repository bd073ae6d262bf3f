"""Language-model training: truncated BPTT over a token stream, state carried and detached."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F

from edge_rnn.config import LMConfig
from edge_rnn.models.language import LanguageModel
from edge_rnn.models.recurrent import detach_state
from edge_rnn.progress import Progress, note
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.textrules import TextRules

from .corpus import build_vocabulary, encode_file
from .loop import TrainOptions, fit, seed_everything


@dataclass
class LMData:
    train: Path
    valid: Path | None = None
    vocab_size: int = 10000
    batch_size: int = 20
    bptt: int = 35
    text_rules: TextRules = dataclasses.field(default_factory=TextRules)  # applied to both texts, stored in the checkpoint


def batchify(ids: list[int], batch: int) -> torch.Tensor:
    """(batch, steps): the stream cut into `batch` parallel rows, the remainder dropped."""
    data = torch.tensor(ids, dtype=torch.long)
    steps = data.numel() // batch
    if steps < 2:
        raise UserError(f"too little text for batch size {batch}: {data.numel()} tokens make fewer than "
                        "2 steps per row; give more text or a smaller --batch-size")
    return data[: steps * batch].view(batch, steps)


def run_stream(model, data: torch.Tensor, bptt: int, optimizer=None, clip: float = 0.0,
               deadline: float = math.inf, progress: Progress | None = None,
               record: Callable[[float], None] | None = None) -> tuple[float, int]:
    """One pass over (batch, steps) data. Trains when an optimizer is given (`record(loss)` after
    each step). Returns (nll sum, tokens)."""
    state = model.init_state(data.size(0))
    total, count = 0.0, 0
    for i in range(0, data.size(1) - 1, bptt):
        n = min(bptt, data.size(1) - 1 - i)
        x, y = data[:, i : i + n], data[:, i + 1 : i + 1 + n]
        state = detach_state(state)
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        value = loss.item()
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if record is not None:
                record(value)
        total += value * y.numel()
        count += y.numel()
        if progress:
            progress.update(1, f"loss {total / count:.3f} ppl {math.exp(total / count):.1f}")
        if time.monotonic() > deadline:
            break
    return total, count


def train_lm(config: LMConfig, data: LMData, opts: TrainOptions) -> dict:
    """Build the vocabulary from the training text, train, and return the best epoch's metrics."""
    seed_everything(opts.seed, opts.threads)
    rules = data.text_rules
    vocab = build_vocabulary(data.train, data.vocab_size, rules)
    config.vocab_size = len(vocab)
    train_ids = batchify(encode_file(data.train, vocab, rules), data.batch_size)
    valid_ids = batchify(encode_file(data.valid, vocab, rules), 10) if data.valid else None
    note(f"vocab {len(vocab)} words, train {train_ids.numel()} tokens"
        + (f", valid {valid_ids.numel()} tokens" if valid_ids is not None else ""), opts.quiet)
    model = LanguageModel(config)

    def train_epoch(optimizer, deadline, record):
        batches = math.ceil((train_ids.size(1) - 1) / data.bptt)
        bar = Progress(batches, "train", enabled=not opts.quiet)
        total, count = run_stream(model, train_ids, data.bptt, optimizer, opts.clip, deadline, bar, record)
        bar.close()
        return {"train_loss": total / count, "train_ppl": math.exp(total / count)}

    def evaluate():
        if valid_ids is None:  # no validation text: judge on a slice of training text
            total, count = run_stream(model, train_ids[:, : 50 * data.bptt], data.bptt)
        else:
            total, count = run_stream(model, valid_ids, data.bptt)
        loss = total / count
        return loss, {"val_loss": loss, "val_ppl": math.exp(loss)}

    settings = {"train": opts.settings(), "data": {k: str(v) if isinstance(v, Path) else v
                                                   for k, v in vars(data).items() if k != "text_rules"}}
    extra = {"vocab": vocab.words, "settings": json.dumps(settings), "text_rules": rules.to_json()}
    return fit(model, config, opts, train_epoch, evaluate, extra)
