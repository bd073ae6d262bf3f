"""Keyword-spotting training: noisy clips made on the fly from the training speakers' words, one
whole speaker held out for validation, per-frame cross-entropy with word onsets ignored."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from edge_rnn.config import KWSConfig
from edge_rnn.models.keyword import KeywordNet
from edge_rnn.progress import Progress, note
from edge_rnn.runtime.labels import FIRST_KEYWORD, keywords_of
from edge_rnn.runtime.detector import default_detector
from edge_rnn.runtime.errors import UserError

from .clips import IGNORE, ClipOptions, make_clip
from .loop import TrainOptions, fit, seed_everything
from .utterances import Utterance, load_utterances

NO_VALID = "none"  # --valid-speaker none: train on every speaker (a final fit of a recipe chosen earlier)


@dataclass
class KWSData:
    folder: Path
    valid_speaker: str = "nicolas"
    clips_per_epoch: int = 2000
    batch_size: int = 32
    clips: ClipOptions = field(default_factory=ClipOptions)

    def settings(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


def split_speakers(utts: list[Utterance], valid_speaker: str):
    """(training, validation) recordings. With `none`, every speaker trains and there is no
    held-out voice: validation clips then come from the training speakers and only show fit."""
    if valid_speaker == NO_VALID:
        return utts, utts
    train = [u for u in utts if u.speaker != valid_speaker]
    valid = [u for u in utts if u.speaker == valid_speaker]
    if not valid:
        speakers = sorted({u.speaker for u in utts})
        raise UserError(f"--valid-speaker {valid_speaker!r} has no recordings; speakers: {', '.join(speakers)}")
    if not train:
        raise UserError("no training speakers left after holding out the validation speaker")
    return train, valid


def by_word(utts: list[Utterance]) -> dict[str, list[Utterance]]:
    words: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        words[u.word].append(u)
    return words


def make_batch(utts: list[Utterance], keyword_ids: dict[str, int], count: int, samples: int, hop: int,
               rng: np.random.Generator, options: ClipOptions | None = None, rate: int = 8000):
    """(audio (count, samples), labels (count, samples / hop)) of `count` fresh clips."""
    words = by_word(utts)
    missing = [k for k in keyword_ids if k not in words]
    if missing:
        raise UserError(f"no recordings of keyword(s) {', '.join(missing)}")
    clips = [make_clip(words, keyword_ids, utts, samples, hop, rng, options, rate) for _ in range(count)]
    return torch.from_numpy(np.stack([c[0] for c in clips])), torch.from_numpy(np.stack([c[1] for c in clips]))


def frame_metrics(model, audio, labels, batch: int) -> tuple[float, float]:
    """(mean loss, accuracy) over labelled frames."""
    total, correct, count = 0.0, 0, 0
    for i in range(0, audio.size(0), batch):
        x, y = audio[i : i + batch], labels[i : i + batch]
        logits, _ = model(x, model.init_state(x.size(0)))
        mask = y != IGNORE
        total += F.cross_entropy(logits[mask], y[mask], reduction="sum").item()
        correct += int((logits.argmax(-1)[mask] == y[mask]).sum())
        count += int(mask.sum())
    return total / count, correct / count


def new_model(config: KWSConfig) -> KeywordNet:
    model = KeywordNet(config)
    if model.embedding is not None:
        from edge_rnn.models.embedding import default_weights

        model.embedding.load_onnx(default_weights())
    return model


def train_kws(config: KWSConfig, data: KWSData, opts: TrainOptions) -> dict:
    seed_everything(opts.seed, opts.threads)
    rng = np.random.default_rng(opts.seed)
    train_utts, valid_utts = split_speakers(load_utterances(data.folder, config.sample_rate), data.valid_speaker)
    keyword_ids = {k: i for i, k in enumerate(config.labels) if i >= FIRST_KEYWORD}
    rate, hop = config.sample_rate, config.hop
    samples = int(data.clips.seconds * rate) // hop * hop
    held_out = data.valid_speaker != NO_VALID
    who = (f"held-out speaker {data.valid_speaker}" if held_out else
           "none held out: validation clips are of training speakers and best.pt is the last epoch")
    note(f"{len(train_utts)} training and {len(valid_utts)} validation recordings ({who}); "
         f"keywords {', '.join(keywords_of(config.labels))}", opts.quiet)
    model = new_model(config)
    model.fit_normalisation(make_batch(train_utts, keyword_ids, 64, samples, hop, rng, rate=rate)[0])
    valid_audio, valid_labels = make_batch(valid_utts, keyword_ids, 300, samples, hop,
                                           np.random.default_rng(12345), rate=rate)

    def train_epoch(optimizer, deadline, record):
        batches = math.ceil(data.clips_per_epoch / data.batch_size)
        total, count = 0.0, 0
        with Progress(batches, "train", enabled=not opts.quiet) as bar:
            for _ in range(batches):
                x, y = make_batch(train_utts, keyword_ids, data.batch_size, samples, hop, rng, data.clips, rate)
                logits, _ = model(x, model.init_state(x.size(0)))
                loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=IGNORE)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if opts.clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), opts.clip)
                optimizer.step()
                value = loss.item()
                record(value)
                total, count = total + value, count + 1
                bar.update(1, f"loss {total / count:.4f}")
                if time.monotonic() > deadline:
                    break
        return {"train_loss": total / count}

    def evaluate():
        loss, acc = frame_metrics(model, valid_audio, valid_labels, 64)
        return loss, {"val_loss": loss, "val_frame_acc": acc}

    extra = {"detector": default_detector(hop / rate), "valid_speaker": data.valid_speaker if held_out else None,
             "train_speakers": sorted({u.speaker for u in train_utts}),
             "settings": json.dumps({"train": opts.settings(), "data": data.settings()})}
    return fit(model, config, opts, train_epoch, evaluate, extra, best_is_last=not held_out)
