"""Language-model training: truncated BPTT over a token stream, state carried and detached.

The text is read as a stream: one pass builds the vocabulary and counts the tokens, and a text
longer than `LMData.memory_tokens` is read again in parts each epoch rather than held whole.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.nn import functional as F

from edge_rnn.config import LMConfig
from edge_rnn.models.language import LanguageModel
from edge_rnn.models.recurrent import detach_state
from edge_rnn.progress import Progress, note
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.textrules import TextRules
from edge_rnn.runtime.vocab import Vocabulary

from .corpus import count_words, token_blocks, vocabulary_of
from .distributed import Cluster
from .loop import TrainOptions, descend, fit, seed_everything


@dataclass
class LMData:
    train: Path
    valid: Path | None = None
    vocab_size: int = 10000
    batch_size: int = 20  # rows per process
    bptt: int = 35
    memory_tokens: int = 20_000_000  # a longer text is read in parts of at most this many tokens
    text_rules: TextRules = dataclasses.field(default_factory=TextRules)  # applied to both texts, stored in the checkpoint


def batchify(ids, batch: int) -> torch.Tensor:
    """(batch, steps): the stream cut into `batch` parallel rows, the remainder dropped (for
    small texts; training reads `TokenRows`)."""
    data = torch.as_tensor(ids, dtype=torch.long)
    steps = data.numel() // batch
    if steps < 2:
        raise UserError(f"too little text for batch size {batch}: {data.numel()} tokens make fewer than "
                        "2 steps per row; give more text or a smaller --batch-size")
    return data[: steps * batch].view(batch, steps)


class TokenRows:
    """A text as parallel rows of tokens for truncated BPTT, this process's rows only.

    The text is cut into as few parts of at most `memory_tokens` as it takes, of equal size.
    Each part is laid out as `batch * world` rows (each continuing where the one before ends,
    as `batchify`), and rank r keeps rows [r * batch, (r + 1) * batch): N processes together
    see what one process with N times the batch sees. One part is read once and kept; several
    are read again, one at a time, at each pass.
    """

    def __init__(self, path: Path, vocab: Vocabulary, tokens: int, batch: int, cluster: Cluster,
                 memory_tokens: int, keep_head: int = 0, rules: TextRules = TextRules()):
        self.path, self.vocab, self.batch, self.cluster, self.rules = path, vocab, batch, cluster, rules
        self.rows = batch * cluster.world
        parts = max(1, math.ceil(tokens / memory_tokens))
        self.part_size = math.ceil(tokens / parts)
        self.sizes = [min(self.part_size, tokens - i * self.part_size) for i in range(parts)]
        if self.sizes[0] // self.rows < 2:
            raise UserError(f"too little text in {path} for {self.rows} rows ({batch} per process): {tokens} "
                            "tokens make fewer than 2 steps per row; give more text or a smaller --batch-size")
        self.keep_head, self.head = keep_head, None
        self._kept = list(self._read()) if parts == 1 else None

    def _read(self) -> Iterator[torch.Tensor]:
        for block in token_blocks(self.path, self.vocab, self.part_size, self.rules):
            part = self._rows_of(block)
            del block  # only this process's rows stay while they train
            if part is not None:
                yield part
            part = None  # released before the next part is read

    def _rows_of(self, block) -> torch.Tensor | None:
        """This process's rows of one part (None: the end of a text too short to use)."""
        steps = block.size // self.rows
        if steps < 2:
            return None
        rows = torch.from_numpy(block[: steps * self.rows]).view(self.rows, steps)
        mine = rows if self.cluster.world == 1 else rows[self.cluster.rank * self.batch :][: self.batch].clone()
        if self.head is None and self.keep_head:
            self.head = mine[:, : self.keep_head].clone().to(self.cluster.device)
        return mine.to(self.cluster.device)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self._kept) if self._kept is not None else self._read()

    def batches(self, bptt: int) -> int:
        """Training steps in one pass."""
        return sum(math.ceil((n // self.rows - 1) / bptt) for n in self.sizes if n // self.rows >= 2)

    @property
    def tokens(self) -> int:
        return sum(n // self.rows * self.rows for n in self.sizes if n // self.rows >= 2)


def run_stream(model, data: torch.Tensor, bptt: int, optimizer=None, clip: float = 0.0,
               stop: Callable[[], bool] | None = None, progress: Progress | None = None,
               record: Callable[[float], None] | None = None) -> tuple[float, int]:
    """One pass over (batch, steps) data. Trains when an optimizer is given (`record(loss)` after
    each step); ends early when `stop()` says so. Returns (nll sum, tokens)."""
    core = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    state = core.init_state(data.size(0), data.device)
    total, count = 0.0, 0
    for i in range(0, data.size(1) - 1, bptt):
        n = min(bptt, data.size(1) - 1 - i)
        x, y = data[:, i : i + n].long(), data[:, i + 1 : i + 1 + n].long()  # stored as int32
        state = detach_state(state)
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        value = descend(loss, optimizer, model, clip) if optimizer is not None else loss.item()
        if optimizer is not None and record is not None:
            record(value)
        total += value * y.numel()
        count += y.numel()
        if progress:
            progress.update(1, f"loss {total / count:.3f} ppl {math.exp(total / count):.1f}")
        if stop is not None and stop():
            break
    return total, count


def _vocabulary(data: LMData, bar: Progress) -> tuple[Vocabulary, int, int]:
    """(vocabulary, training tokens, validation tokens) from one pass over each text."""
    counts, tokens = count_words(data.train, bar.update, data.text_rules)
    valid_tokens = count_words(data.valid, bar.update, data.text_rules)[1] if data.valid else 0
    if tokens == 0:
        raise UserError(f"{data.train} holds no words")
    if data.valid and valid_tokens == 0:
        raise UserError(f"{data.valid} holds no words")
    return vocabulary_of(counts, data.vocab_size), tokens, valid_tokens


def train_lm(config: LMConfig, data: LMData, opts: TrainOptions) -> dict:
    """Build the vocabulary from the training text, train, and return the best epoch's metrics."""
    with Cluster.start(opts.device) as cluster:
        opts = dataclasses.replace(opts, quiet=opts.quiet or not cluster.main)
        seed_everything(opts.seed, opts.threads)
        with Progress(None, "reading text (tokens)", enabled=not opts.quiet) as bar:  # a mistake: no bar left
            vocab, tokens, valid_tokens = _vocabulary(data, bar)
            rules = data.text_rules
            train = TokenRows(data.train, vocab, tokens, data.batch_size, cluster, data.memory_tokens, 50 * data.bptt,
                              rules)
            valid = (TokenRows(data.valid, vocab, valid_tokens, 10, Cluster(device=cluster.device), data.memory_tokens,
                               rules=rules) if data.valid and cluster.main else None)
        config.vocab_size = len(vocab)
        note(f"vocab {len(vocab)} words, train {train.tokens} tokens in {len(train.sizes)} part(s)"
             + (f", valid {valid.tokens} tokens" if valid is not None else "")
             + (f"; {cluster.world} processes of {data.batch_size} rows" if cluster.world > 1 else ""), opts.quiet)
        model = LanguageModel(config).to(cluster.device)
        if cluster.rank:
            torch.manual_seed(opts.seed + cluster.rank)  # the same weights, another dropout on each rank
        return fit(model, config, opts, _epoch_trainer(cluster.wrap(model), train, data, opts, cluster),
                   _evaluator(model, train, valid, data.bptt), _extra(vocab, data, opts), cluster=cluster)


def _epoch_trainer(net, train: TokenRows, data: LMData, opts: TrainOptions, cluster: Cluster):
    def train_epoch(optimizer, out_of_time, record):
        started, total, count = time.monotonic(), 0.0, 0
        with Progress(train.batches(data.bptt), "train", enabled=not opts.quiet) as bar:
            for part in train:
                t, c = run_stream(net, part, data.bptt, optimizer, opts.clip, out_of_time, bar, record)
                total, count = total + t, count + c
                del part  # before the next part is read
                if out_of_time():
                    break
        total, count = cluster.sum([total, count])
        return {"train_loss": total / count, "train_ppl": math.exp(total / count),
                "tokens_per_s": round(count / (time.monotonic() - started))}

    return train_epoch


def _evaluator(model, train: TokenRows, valid: TokenRows | None, bptt: int):
    def evaluate():
        if valid is None:  # no validation text: judge on a slice of training text
            total, count = run_stream(model, train.head, bptt)
        else:
            total, count = map(sum, zip(*(run_stream(model, part, bptt) for part in valid)))
        loss = total / count
        return loss, {"val_loss": loss, "val_ppl": math.exp(loss)}

    return evaluate


def _extra(vocab: Vocabulary, data: LMData, opts: TrainOptions) -> dict:
    settings = {"train": opts.settings(), "data": {k: str(v) if isinstance(v, Path) else v
                                                   for k, v in vars(data).items() if k != "text_rules"}}
    return {"vocab": vocab.words, "settings": json.dumps(settings), "text_rules": data.text_rules.to_json()}
