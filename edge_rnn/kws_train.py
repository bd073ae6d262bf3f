"""Keyword-spotting training: synthetic noisy clips from training speakers, one whole speaker
held out for validation, per-frame cross-entropy with the word onsets ignored."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from edge_rnn.config import ModelConfig
from edge_rnn.kws_data import IGNORE, ClipOptions, Utterance, load_utterances, make_clip
from edge_rnn.kws_model import KeywordSpotter
from edge_rnn.progress import Progress
from edge_rnn.runtime.errors import UserError
from edge_rnn.train import TrainOptions, fit, log, seed_everything

DEFAULT_DETECTOR = {"smooth_frames": 8, "threshold": 0.6, "refractory_s": 0.5, "decision_s": 0.3}  # 10 ms frames


def default_detector(config: ModelConfig) -> dict:
    """DEFAULT_DETECTOR with its smoothing kept at 80 ms whatever the model's frame length."""
    frames = max(1, round(DEFAULT_DETECTOR["smooth_frames"] * 0.01 * config.sample_rate / config.hop))
    return {**DEFAULT_DETECTOR, "smooth_frames": frames}


@dataclass
class KWSData:
    folder: Path
    keywords: list[str]
    valid_speaker: str = "nicolas"
    clips_per_epoch: int = 2000
    clip_seconds: float = 4.0
    batch_size: int = 32
    synthetic_voices: int = 0  # espeak-ng speakers mixed into training (0: recordings only)
    synthetic_share: float = 0.3  # share of the words in training clips that are synthetic
    onset_cut: float = 0.0  # drop up to this fraction of a word's start, half the time
    tempo: float = 0.0  # half the time, words up to (1 + tempo) times faster or slower at the same pitch
    random_eq_db: float = 0.0  # tilt each clip's spectrum by a smooth random curve of up to this many dB
    mixed_voices: int = 0  # words per digit blended between two training speakers (0: none)
    extra_words: tuple[Path, ...] = ()  # folders of WORD_SPEAKER_INDEX.wav words from other sources
    onset_swaps: tuple[tuple[str, str], ...] = ()  # (word, donor): word with the donor's consonant onset
    freq_mask: int = 4  # band masking: up to this many mel channels, twice per clip
    time_mask: int = 0  # time masking: up to this many frames, once per second of clip (0: off)
    teachers: tuple[Path, ...] = ()  # distil from these checkpoints (their averaged probabilities)
    distill: float = 0.5  # weight of the teachers' soft targets in the loss (with teachers)
    band_limit: float = 0.0  # share of the words whose top band is cut (a random 1.6-3.4 kHz cutoff at 8 kHz)
    offset_cut: float = 0.0  # drop up to this fraction of a word's end, half the time
    speed: tuple[float, float] = (0.8, 1.25)  # words played this many times faster (pitch and formants too)
    mel_warp: float = 0.1  # stretch or squeeze each clip's mel axis by up to this fraction
    embedding_weights: Path | None = None  # --front-end speech-embedding: its ONNX file (None: the shipped copy)


def load_teacher(paths: tuple[Path, ...], config: ModelConfig):
    """The teachers as one frozen model whose `scores` are their averaged probabilities."""
    from edge_rnn.checkpoint import load_checkpoint
    from edge_rnn.kws_ensemble import load_ensemble

    ckpts = [load_checkpoint(p) for p in paths]
    for path, ckpt in zip(paths, ckpts):
        c = ckpt["config"]
        if c.task != "kws" or (c.labels, c.sample_rate, c.hop) != (config.labels, config.sample_rate, config.hop):
            raise UserError(f"teacher {path} must be a keyword spotter with the same labels, sample rate "
                            f"and hop as the model being trained ({', '.join(config.labels[2:])})")
    teacher = load_ensemble(ckpts)  # of one, or more: the mean of their probabilities
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()


def kws_loss(logits: torch.Tensor, labels: torch.Tensor, teacher_probs: torch.Tensor | None,
             distill: float) -> torch.Tensor:
    """Per-frame cross-entropy on the labelled frames; with a teacher, mixed with the cross-entropy
    against the teacher's probabilities on every frame (word onsets included: the teacher knows
    how sure to be there)."""
    if teacher_probs is None or distill < 1:
        hard = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE)
        if teacher_probs is None:
            return hard
    soft = -(teacher_probs * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    return soft if distill >= 1 else (1 - distill) * hard + distill * soft


NO_VALID = "none"  # --valid-speaker none: train on every speaker (a final fit of a recipe chosen earlier)


def split_speakers(utts: list[Utterance], valid_speaker: str):
    """(training, validation) recordings. With `none`, every speaker trains and there is no
    held-out voice: validation clips then come from the training speakers and only show fit."""
    if valid_speaker == NO_VALID:
        if not utts:
            raise UserError("no recordings to train on")
        return utts, utts
    train = [u for u in utts if u.speaker != valid_speaker]
    valid = [u for u in utts if u.speaker == valid_speaker]
    if not valid:
        speakers = sorted({u.speaker for u in utts})
        raise UserError(f"--valid-speaker {valid_speaker!r} has no recordings; speakers: {', '.join(speakers)}")
    if not train:
        raise UserError("no training speakers left after holding out the validation speaker")
    return train, valid


def load_extra_words(folder: Path, rate: int, valid_speaker: str) -> list[Utterance]:
    """Words from another source (more recordings, a speech synthesiser's output), for training only.

    A speaker of the held-out validation voice among them would leak that voice into training, so
    it is refused rather than skipped.
    """
    extra = load_utterances(folder, rate)
    if any(u.speaker == valid_speaker for u in extra):
        raise UserError(f"--extra-words {folder} has recordings of the held-out speaker {valid_speaker!r}; "
                        "they would leak that voice into training")
    return extra


def by_word(utts: list[Utterance]) -> dict[str, list[Utterance]]:
    words: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        words[u.word].append(u)
    return words


def make_batch(utts, keyword_ids, count, samples, hop, rng, options: ClipOptions | None = None, rate: int = 8000):
    words = by_word(utts)
    missing = [k for k in keyword_ids if k not in words]
    if missing:
        raise UserError(f"no recordings of keyword(s) {', '.join(missing)}")
    clips = [make_clip(words, keyword_ids, utts, samples, hop, rng, options, rate) for _ in range(count)]
    return torch.from_numpy(np.stack([c[0] for c in clips])), torch.from_numpy(np.stack([c[1] for c in clips]))


def fit_normalisation(model: KeywordSpotter, audio: torch.Tensor) -> None:
    """Set the front end's per-feature mean and std from training audio."""
    with torch.no_grad():
        if model.embedding is not None:  # the mean and std of the embeddings, of unaugmented audio
            state, training = model.init_state(audio.size(0)), model.training
            feats, _ = model.eval().embed(audio, state[0], state[1])
            model.train(training)
        else:
            feats, _ = model.frontend(audio, torch.zeros(audio.size(0), model.frontend.context_size))
        flat = feats.reshape(-1, feats.size(-1))
        model.frontend.mean.copy_(flat.mean(0))
        model.frontend.std.copy_(flat.std(0).clamp_min(1e-3))


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


def train_kws(config: ModelConfig, data: KWSData, opts: TrainOptions) -> dict:
    seed_everything(opts.seed, opts.threads)
    rng = np.random.default_rng(opts.seed)
    utts = load_utterances(data.folder, config.sample_rate)
    train_utts, valid_utts = split_speakers(utts, data.valid_speaker)
    keyword_ids = {k: i for i, k in enumerate(config.labels) if i >= 2}
    samples = int(data.clip_seconds * config.sample_rate) // config.hop * config.hop
    held_out = data.valid_speaker != NO_VALID
    if held_out:
        log(opts, f"{len(train_utts)} training and {len(valid_utts)} validation recordings "
            f"(held-out speaker {data.valid_speaker}); labels {config.labels}")
    else:
        log(opts, f"{len(train_utts)} training recordings from every speaker, none held out: validation "
            f"clips are of training speakers and best.pt is the last epoch; labels {config.labels}")
    made: list[Utterance] = []  # synthetic and blended words, mixed into training clips
    if data.synthetic_voices > 0:
        from edge_rnn.tts import FILLERS, synthetic_voices

        spoken = sorted(by_word(train_utts)) + [w for w in FILLERS if w not in keyword_ids]
        voices = synthetic_voices(spoken, data.synthetic_voices, config.sample_rate, opts.seed, opts.quiet)
        made += voices
        log(opts, f"{len(voices)} synthetic words from {data.synthetic_voices} espeak-ng voices")
    if data.mixed_voices > 0:
        from edge_rnn.voice_mix import mixed_voices

        blends = mixed_voices(train_utts, data.mixed_voices, config.sample_rate, opts.seed, opts.quiet)
        made += blends
        log(opts, f"{len(blends)} words blended between pairs of training speakers")
    if data.onset_swaps:
        from edge_rnn.onset_swap import onset_swaps

        swapped = onset_swaps(train_utts, list(data.onset_swaps), config.sample_rate, opts.seed)
        made += swapped
        pairs = ", ".join(f"{w} with the onset of {d}" for w, d in data.onset_swaps)
        log(opts, f"{len(swapped)} words with a swapped onset ({pairs})")
    for folder in data.extra_words:
        extra = load_extra_words(folder, config.sample_rate, data.valid_speaker)
        made += extra
        speakers = len({u.speaker for u in extra})
        log(opts, f"{len(extra)} words from {speakers} speaker{'s' * (speakers != 1)} in {folder}")
    synthetic = by_word(made) if made else None
    if made:
        log(opts, f"they make {data.synthetic_share:.0%} of the words in training clips")
    options = ClipOptions(synthetic, data.synthetic_share, data.onset_cut, data.tempo, data.band_limit, data.speed,
                          data.offset_cut)
    teacher = load_teacher(data.teachers, config) if data.teachers else None
    if teacher is not None:
        log(opts, f"distilling from {len(data.teachers)} teacher(s), soft-target weight {data.distill}")
    model = KeywordSpotter(config)
    if model.embedding is not None:
        from edge_rnn.speech_embedding import default_weights

        model.embedding.load_onnx(data.embedding_weights or default_weights())
        log(opts, "front end: the pretrained speech embedding (frozen), one frame every 80 ms")
    else:  # band masks and EQ are the log-mel front end's (the embedding's input is fixed)
        model.frontend.random_eq_db = data.random_eq_db
        model.frontend.freq_mask, model.frontend.time_mask = data.freq_mask, data.time_mask
    model.frontend.max_warp = data.mel_warp
    rate = config.sample_rate
    fit_normalisation(model, make_batch(train_utts, keyword_ids, 64, samples, config.hop, rng, rate=rate)[0])
    valid_audio, valid_labels = make_batch(valid_utts, keyword_ids, 300, samples, config.hop,
                                           np.random.default_rng(12345), rate=rate)

    def train_epoch(optimizer, deadline):
        batches = math.ceil(data.clips_per_epoch / data.batch_size)
        bar = Progress(batches, "train", enabled=not opts.quiet)
        total, count = 0.0, 0
        for _ in range(batches):
            x, y = make_batch(train_utts, keyword_ids, data.batch_size, samples, config.hop, rng, options, rate)
            logits, _ = model(x, model.init_state(x.size(0)))
            target = None
            if teacher is not None:
                with torch.no_grad():
                    target = teacher.scores(x, teacher.init_state(x.size(0)))[0]
            loss = kws_loss(logits, y, target, data.distill)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if opts.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), opts.clip)
            optimizer.step()
            total, count = total + loss.item(), count + 1
            bar.update(1, f"loss {total / count:.4f}")
            if time.monotonic() > deadline:
                break
        bar.close()
        return {"train_loss": total / count}

    def evaluate():
        loss, acc = frame_metrics(model, valid_audio, valid_labels, 64)
        return loss, {"val_loss": loss, "val_frame_acc": acc}

    extra = {"detector": default_detector(config), "valid_speaker": data.valid_speaker if held_out else None,
             "train_speakers": sorted({u.speaker for u in train_utts})}
    return fit(model, config, opts, train_epoch, evaluate, extra, best_is_last=not held_out)
