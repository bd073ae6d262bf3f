"""Keyword-spotting training: noisy clips made on the fly from the training recordings, held-out
recordings (a validation list, or one whole speaker) for validation, per-frame cross-entropy with
word onsets ignored."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import Counter, defaultdict
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
from .distributed import Cluster
from .loop import TrainOptions, descend, fit, seed_everything
from .utterances import Utterance, describe, load_recordings

AUTO = "auto"  # --valid-speaker auto: the data's validation list, else the speaker with the most recordings
NO_VALID = "none"  # --valid-speaker none: train on every speaker (a final fit of a recipe chosen earlier)


@dataclass
class KWSData:
    folder: Path  # a folder in any layout datasets.py knows, or a manifest file
    valid_speaker: str = AUTO
    clips_per_epoch: int = 2000  # over all processes together
    batch_size: int = 32  # clips per process and step
    clips: ClipOptions = field(default_factory=ClipOptions)
    noise: Path | None = None  # a folder of background recordings
    embedding_anchor: float = 0.0  # weight of the tuned blocks' squared change from their start (L2-SP)
    embedding_denoise: float = 0.0  # weight of the pull toward the pretrained embedding of clean clips (denoise.py)

    def settings(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


def split_speakers(utts: list[Utterance], valid_speaker: str = AUTO):
    """(training, validation, what was held out). Recordings the data marks as test are in
    neither. `auto`: the data's validation list when it has one, else the speaker with the most
    recordings. With `none`, every speaker trains and validation clips come from the training
    speakers (they only show fit)."""
    usable = [u for u in utts if u.split != "test"]
    if valid_speaker == NO_VALID:
        return usable, usable, "none held out: validation clips are of training speakers and best.pt is the last epoch"
    if valid_speaker == AUTO and any(u.split == "valid" for u in usable):
        valid = [u for u in usable if u.split == "valid"]
        speakers = len({u.speaker for u in valid})
        return ([u for u in usable if u.split != "valid"], valid,
                f"the data's validation list, {speakers} speaker{'' if speakers == 1 else 's'}")
    if valid_speaker == AUTO:
        counts = Counter(u.speaker for u in usable if u.speaker)
        if not counts:
            raise UserError("the data names no speakers, so none can be held out: give a validation list "
                            "(validation_list.txt, or a split column in a manifest), or --valid-speaker none")
        valid_speaker = min(counts, key=lambda s: (-counts[s], s))
    train = [u for u in usable if u.speaker != valid_speaker]
    valid = [u for u in usable if u.speaker == valid_speaker]
    if not valid:
        speakers = sorted({u.speaker for u in usable})
        raise UserError(f"--valid-speaker {valid_speaker!r} has no recordings; speakers: {', '.join(speakers)}")
    if not train:
        raise UserError(f"holding out {valid_speaker} for validation leaves no one to train on: give recordings "
                        "of more speakers, or --valid-speaker none")
    return train, valid, f"held-out speaker {valid_speaker}"


def by_word(utts: list[Utterance]) -> dict[str, list[Utterance]]:
    words: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        words[u.word].append(u)
    return words


def shard(utts: list[Utterance], cluster: Cluster) -> list[Utterance]:
    """This rank's share of the training recordings: every `world`-th recording of each word (all
    of a word with fewer recordings than ranks), so each rank has every word."""
    if cluster.world == 1:
        return utts
    mine = [u for group in by_word(utts).values()
            for u in (group if len(group) < cluster.world else group[cluster.rank :: cluster.world])]
    return sorted(mine, key=lambda u: u.index)


def check_keywords(keywords: list[str], utts: list[Utterance], where: str) -> None:
    """A UserError naming the keywords that `utts` lack, and the labels they have."""
    counts = Counter(u.word for u in utts)
    missing = [k for k in keywords if k not in counts]
    if missing:
        labels = ", ".join(w for w, _ in counts.most_common(30)) + (", ..." if len(counts) > 30 else "")
        raise UserError(f"no recordings of keyword(s) {', '.join(missing)} in {where}; its labels: {labels}")


def make_batch(utts: list[Utterance], keyword_ids: dict[str, int], count: int, samples: int, hop: int,
               rng: np.random.Generator, options: ClipOptions | None = None, rate: int = 8000,
               noise: list[np.ndarray] | None = None, mix=None, clean: bool = False):
    """(audio (count, samples), labels (count, samples / hop)) of `count` fresh clips (with `mix`,
    a noisemix.NoiseMix, some in loud noise and rooms); with `clean`, also each clip's words alone,
    without room or noise (count, samples)."""
    words = by_word(utts)
    missing = [k for k in keyword_ids if k not in words]
    if missing:
        raise UserError(f"no recordings of keyword(s) {', '.join(missing)}")
    clips = [make_clip(words, keyword_ids, utts, samples, hop, rng, options, rate, noise, mix, clean)
             for _ in range(count)]
    return tuple(torch.from_numpy(np.stack([c[i] for c in clips])) for i in range(len(clips[0])))


def frame_metrics(model, audio, labels, batch: int) -> tuple[float, float]:
    """(mean loss, accuracy) over labelled frames."""
    total, correct, count = 0.0, 0, 0
    for i in range(0, audio.size(0), batch):
        x, y = audio[i : i + batch], labels[i : i + batch]
        logits, _ = model(x, model.init_state(x.size(0), x.device))
        mask = y != IGNORE
        total += F.cross_entropy(logits[mask], y[mask], reduction="sum").item()
        correct += int((logits.argmax(-1)[mask] == y[mask]).sum())
        count += int(mask.sum())
    return total / count, correct / count


def new_model(config: KWSConfig, embedding: dict[str, torch.Tensor] | None = None) -> KeywordNet:
    """A spotter to train; its speech embedding the pretrained one, or `embedding` (see embedding_of)."""
    model = KeywordNet(config)
    if model.embedding is not None:
        from edge_rnn.models.embedding import default_weights

        model.embedding.load_onnx(default_weights())
        if embedding is not None:
            model.embedding.load_state_dict(embedding)
    return model


def embedding_of(path: Path, config: KWSConfig) -> dict[str, torch.Tensor]:
    """The speech-embedding weights of a spotter's checkpoint (`--embedding-from`): heads trained
    on them share one embedding with it, so they export together as one ensemble."""
    if config.front_end != "speech-embedding":
        raise UserError("--embedding-from needs --front-end speech-embedding")
    from edge_rnn.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    source = ckpt["config"]
    if source.task != "kws" or source.front_end != "speech-embedding":
        kind = source.task if source.task != "kws" else f"keyword spotter with the {source.front_end} front end"
        raise UserError(f"--embedding-from {path}: a {kind} has no speech embedding to start from")
    return {name[len("embedding."):]: w for name, w in ckpt["model"].items() if name.startswith("embedding.")}


def _recordings(config: KWSConfig, data: KWSData, opts: TrainOptions):
    """(training, validation, background recordings), checked and summarised in the log."""
    recs = load_recordings(data.folder, config.sample_rate, data.noise, quiet=opts.quiet)
    keywords = keywords_of(config.labels)
    check_keywords(keywords, recs.utterances, str(data.folder))
    train, valid, who = split_speakers(recs.utterances, data.valid_speaker)
    check_keywords(keywords, train, "the training recordings")
    check_keywords(keywords, valid, "the validation recordings")
    for line in describe(recs.summary()) + recs.notes:
        note(line, opts.quiet)
    long = sum(u.seconds > data.clips.seconds / 2 for u in train)
    if long:
        note(f"{long} recordings are longer than half of --clip-seconds ({data.clips.seconds:g} s) and seldom fit "
             "in a training clip; raise --clip-seconds, or give each word's start and end in a manifest", opts.quiet)
    note(f"{len(train)} training and {len(valid)} validation recordings ({who}); keywords {', '.join(keywords)}",
         opts.quiet)
    return train, valid, recs.background


def synthetic_keywords(keywords: list[str], rate: int, voices: int, seed: int, quiet: bool) -> list[Utterance]:
    """Each keyword said by `voices` random espeak-ng voices (`--synthetic-keywords`): training
    words from voices no recording has. Without them, a synthesised voice is only ever heard saying
    other words (babble, unknown speech) and a spotter learns that such a voice never says a
    keyword. Other voices than the babble's (another seed)."""
    from .babble import spoken

    said = spoken(keywords, rate, voices, len(keywords), [seed, 2])
    note(f"{len(said)} keywords said by {voices} espeak-ng voices join the training words", quiet)
    return [Utterance(word, "espeak-ng", i, audio=audio, seconds=audio.size / rate)
            for i, (word, audio) in enumerate(said)]


NEGATIVES_PER_VOICE = 10  # --negative-words: each voice says this many of them (a random choice)


def noise_mix(train: list[Utterance], recordings: list[np.ndarray], options: ClipOptions, rate: int,
              opts: TrainOptions):
    """The loud-noise and room recipe of `options` (None when it asks for neither)."""
    if not (options.noise_share or options.reverb):
        return None
    from .noisemix import NoiseMix

    other = None
    if options.babble_voices:  # synthesised words no evaluation uses (babble.TRAIN_WORDS), voices by seed
        from .babble import TRAIN_WORDS, spoken_words

        other = spoken_words(TRAIN_WORDS, rate, options.babble_voices, 20, opts.seed)
        note(f"{len(other)} espeak-ng words that are no keyword, from {options.babble_voices} voices", opts.quiet)
        if options.negative_words:  # other voices than the babble's (another seed)
            per_voice = min(NEGATIVES_PER_VOICE, len(options.negative_words))
            near = spoken_words(list(options.negative_words), rate, options.babble_voices, per_voice, [opts.seed, 3])
            other += near
            note(f"{len(near)} espeak-ng words near the keywords ({len(options.negative_words)} of them, "
                 f"{per_voice} a voice) are unknown speech", opts.quiet)
    note(f"{options.noise_share:.0%} of clips in loud noise at SNR {options.snr[0]:g} to {options.snr[1]:g} dB, "
         f"{options.reverb:.0%} in simulated rooms", opts.quiet)
    if options.noise_weights is not None:
        note("loud noise drawn as " + ", ".join(f"{k} {w:g}" for k, w in options.noise_weights.items()), opts.quiet)
    return NoiseMix.build([u.audio for u in train], opts.seed, rate, other, share=options.noise_share,
                          snr=options.snr, reverb=options.reverb, recordings=recordings or None,
                          weights=options.noise_weights)


class Anchor:
    """L2-SP: a pull of the embedding's tuned blocks toward the weights they started from, so that
    a few training voices bend the pretrained embedding less (`--embedding-anchor`)."""

    def __init__(self, model: KeywordNet, weight: float):
        self.weight = weight
        tuned = [p for p in model.embedding.parameters() if p.requires_grad] if model.embedding is not None else []
        self.pairs = [(p, p.detach().clone()) for p in tuned] if weight > 0 else []

    def penalty(self) -> torch.Tensor | float:
        if not self.pairs:
            return 0.0
        return self.weight * sum(((p - start) ** 2).sum() for p, start in self.pairs)


def train_kws(config: KWSConfig, data: KWSData, opts: TrainOptions, embedding_from: Path | None = None) -> dict:
    """Train a keyword spotter on `data` (any layout) and return the best epoch's metrics.
    embedding_from: a checkpoint whose speech embedding replaces the pretrained one."""
    start = embedding_of(embedding_from, config) if embedding_from is not None else None
    with Cluster.start(opts.device) as cluster:
        opts = dataclasses.replace(opts, quiet=opts.quiet or not cluster.main)
        seed_everything(opts.seed, opts.threads)
        train_utts, valid_utts, noise = _recordings(config, data, opts)
        if data.clips.synthetic_keywords:
            train_utts = train_utts + synthetic_keywords(keywords_of(config.labels), config.sample_rate,
                                                         data.clips.synthetic_keywords, opts.seed, opts.quiet)
        keyword_ids = {k: i for i, k in enumerate(config.labels) if i >= FIRST_KEYWORD}
        rate, hop = config.sample_rate, config.hop
        samples = int(data.clips.seconds * rate) // hop * hop
        mix = noise_mix(train_utts, noise, data.clips, rate, opts)
        clips = lambda utts, count, rng, options=None, mix=None, clean=False: [  # noqa: E731
            t.to(cluster.device) for t in make_batch(utts, keyword_ids, count, samples, hop, rng, options, rate, noise,
                                                     mix, clean)]
        rng = np.random.default_rng(opts.seed)
        model = new_model(config, start).to(cluster.device)
        model.fit_normalisation(clips(train_utts, 64, rng)[0])  # the same on every rank
        if cluster.rank:  # each rank its own clips and dropout; the weights are rank 0's (DDP)
            rng = np.random.default_rng([opts.seed, cluster.rank])
            torch.manual_seed(opts.seed + cluster.rank)
        mine, net = shard(train_utts, cluster), cluster.wrap(model)
        anchor = Anchor(model, data.embedding_anchor)
        denoise = None
        if data.embedding_denoise:
            from .denoise import Denoise

            denoise = Denoise(model, data.embedding_denoise)
        # validation in the noise trained for, so that the best epoch is the best in it
        valid = clips(valid_utts, 300, np.random.default_rng(12345), None, mix) if cluster.main else None
        batches = math.ceil(data.clips_per_epoch / (data.batch_size * cluster.world))

        def train_epoch(optimizer, out_of_time, record):
            started, total, count = time.monotonic(), 0.0, 0
            if config.tune_embedding:  # a clip's zero state: the quiet room as the tuned blocks now hear it
                model.embedding.settle()
            with Progress(batches, "train", enabled=not opts.quiet) as bar:
                for _ in range(batches):
                    x, y, *clean = clips(mine, data.batch_size, rng, data.clips, mix, denoise is not None)
                    logits, _ = net(x, model.init_state(x.size(0), x.device))
                    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=IGNORE)
                    pull = anchor.penalty() + (denoise.penalty(clean[0]) if denoise is not None else 0.0)
                    step = descend(loss + pull, optimizer, model, opts.clip)
                    value = step - float(torch.as_tensor(pull).detach())  # the words' loss
                    record(value)
                    total, count = total + value, count + 1
                    bar.update(1, f"loss {total / count:.4f}")
                    if out_of_time():
                        break
            total, steps = cluster.sum([total, count])
            return {"train_loss": total / steps,
                    "clips_per_s": round(steps * data.batch_size / (time.monotonic() - started), 1)}

        def evaluate():
            loss, acc = frame_metrics(model, valid[0], valid[1], 64)
            return loss, {"val_loss": loss, "val_frame_acc": acc}

        held_out = data.valid_speaker != NO_VALID
        valid_speakers = sorted({u.speaker for u in valid_utts if u.speaker}) if held_out else []
        extra = {"detector": default_detector(hop / rate), "valid_speakers": valid_speakers,
                 "valid_speaker": valid_speakers[0] if len(valid_speakers) == 1 else None,
                 "train_speakers": sorted({u.speaker for u in train_utts if u.speaker}),
                 "settings": json.dumps({"train": opts.settings(), "data": data.settings(),
                                         "embedding_from": None if embedding_from is None else str(embedding_from)})}
        return fit(model, config, opts, train_epoch, evaluate, extra, best_is_last=not held_out, cluster=cluster)
