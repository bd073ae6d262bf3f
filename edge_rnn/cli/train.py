"""`edge-rnn train lm`, `edge-rnn train kws` and `edge-rnn train series` (need edge-rnn[train])."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edge_rnn.runtime.errors import UserError

from .common import JsonOut, Quiet, emit, need_torch

app = typer.Typer(no_args_is_help=True, help="Train a model (needs edge-rnn[train]).")

# Options every training command takes, declared once.
Out = Annotated[Path, typer.Option(help="folder for checkpoints (best.pt, last.pt) and metrics")]
Cell = Annotated[str, typer.Option(help="rnn, gru or lstm")]
Hidden = Annotated[str, typer.Option(help="hidden size of each layer, comma-separated, e.g. 256,128")]
Dropout = Annotated[float, typer.Option(min=0.0, max=0.9)]
Epochs = Annotated[int, typer.Option(min=1)]
MaxMinutes = Annotated[float, typer.Option(min=0.0, help="stop after this long (0: no limit)")]
BatchSize = Annotated[int, typer.Option(min=1)]
Optimizer = Annotated[str, typer.Option(help="sgd or adam")]
Lr = Annotated[float, typer.Option(min=0.0, help="learning rate")]
Clip = Annotated[float, typer.Option(min=0.0, help="gradient-norm clipping (0: off)")]
Patience = Annotated[int, typer.Option(min=1, help="epochs without improvement before stopping")]
Seed = Annotated[int, typer.Option(help="random seed")]
Threads = Annotated[int, typer.Option(min=0, max=1024, help="torch threads (0: all cores)")]
Resume = Annotated[bool, typer.Option(help="continue from OUT/last.pt (same options)")]
LogEvery = Annotated[int, typer.Option(min=0, help="a line in OUT/metrics.jsonl every N optimizer steps "
                                       "(0: one per epoch only)")]
Device = Annotated[str, typer.Option(help="auto (a CUDA GPU when there is one), cpu or cuda; under torchrun, "
                                          "one GPU per process")]


def _config(kind, **kwargs):
    from edge_rnn.config import parse_sizes

    try:
        kwargs["hidden"] = parse_sizes(kwargs["hidden"])
        return kind(**kwargs)
    except ValueError as e:
        raise UserError(str(e)) from None


def _speed_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--speed needs MIN,MAX like 0.8,1.25, got {text!r}") from None
    if not 0.5 <= low <= high <= 2.0:
        raise UserError(f"--speed needs 0.5 <= MIN <= MAX <= 2, got {text!r}")
    return low, high


def _snr_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--snr needs MIN,MAX in dB like -3,27, got {text!r}") from None
    if not -20 <= low <= high <= 60:
        raise UserError(f"--snr needs -20 <= MIN <= MAX <= 60 (dB), got {text!r}")
    return low, high


def _clip_options(seconds: float, speed: str, noise_share: float, snr: str, reverb: float, babble_voices: int,
                  synthetic_keywords: int = 0, digital_silence: float = 0.0, word_at_start: float = 0.0,
                  noise_weights: str | None = None, recordings: bool = False, negative_words: tuple[str, ...] = ()):
    from edge_rnn.training.clips import ClipOptions

    if noise_weights is not None and not noise_share:
        raise UserError("--noise-weights chooses the noise of --noise-share clips: give --noise-share too, e.g. 0.6")
    from edge_rnn.training.kws_options import noise_weights_option

    weights = noise_weights_option(noise_weights, recordings)
    if babble_voices and not noise_share:
        raise UserError("--babble-voices makes babble for --noise-share clips: give --noise-share too, e.g. 0.6")
    if babble_voices or synthetic_keywords:
        from edge_rnn.training.babble import espeak

        espeak()  # say now, not after the recordings are read, that it is missing
    return ClipOptions(seconds, _speed_range(speed), noise_share, _snr_range(snr), reverb, babble_voices,
                       synthetic_keywords, digital_silence, word_at_start, weights, negative_words)


def _done(best: dict, out: Path, as_json: bool) -> None:
    from edge_rnn.training.distributed import launched_rank

    if launched_rank() == 0:  # under torchrun, rank 0 speaks for the run
        emit({**best, "checkpoint": str(out / "best.pt")}, as_json)


@app.command("lm")
def train_lm_cmd(
    data: Path = typer.Option(..., help="training text, one sentence a line (.txt or .gz)"),
    out: Out = ..., valid: Optional[Path] = typer.Option(None, help="validation text"),
    cell: Cell = "lstm", hidden: Hidden = "256,128", embedding: int = typer.Option(200, min=1),
    vocab_size: int = typer.Option(10000, min=3, help="keep this many words, the rest become <unk>"),
    dropout: Dropout = 0.25, epochs: Epochs = 20, max_minutes: MaxMinutes = 0.0, batch_size: BatchSize = 20,
    bptt: int = typer.Option(35, min=1, help="truncated backpropagation length"),
    text_rules: str = typer.Option("none", help="how text becomes words, for training and then in the model: none "
                                   "(words between spaces, a line a sentence), ptb (Penn Treebank's: lower case, "
                                   "clitics split, numbers as N, no punctuation, . ? ! end sentences) or a JSON file"),
    memory_tokens: int = typer.Option(20_000_000, min=1000, help="a longer text is read in parts of this many "
                                      "tokens at each epoch instead of held in memory"),
    optimizer: Optimizer = "sgd", lr: Lr = 20.0, clip: Clip = 0.25, patience: Patience = 3, seed: Seed = 1111,
    threads: Threads = 0, device: Device = "auto", resume: Resume = False, log_every: LogEvery = 100,
    quiet: Quiet = False, json_out: JsonOut = False,
):
    """Train a word-level language model (several processes: torchrun --nproc-per-node N -m edge_rnn.cli
    train lm ...; --batch-size is per process)."""
    need_torch()
    from edge_rnn.config import LMConfig
    from edge_rnn.runtime.textrules import rules_option
    from edge_rnn.training.lm import LMData, train_lm
    from edge_rnn.training.loop import TrainOptions

    config = _config(LMConfig, cell=cell, hidden=hidden, embedding=embedding, dropout=dropout)
    for path in (data, valid):
        if path is not None and not path.is_file():
            raise UserError(f"text file not found: {path}")
    opts = TrainOptions(out=out, epochs=epochs, max_minutes=max_minutes, optimizer=optimizer, lr=lr, clip=clip,
                        patience=patience, seed=seed, threads=threads, device=device, resume=resume, quiet=quiet,
                        log_every=log_every)
    lm_data = LMData(data, valid, vocab_size, batch_size, bptt, memory_tokens, rules_option(text_rules))
    _done(train_lm(config, lm_data, opts), out, json_out)


# train kws: the speech embedding and training in noise
LevelBands = Annotated[int, typer.Option(min=0, max=32, help=(
    "with --front-end speech-embedding: also give the recurrent layers each 80 ms's mean log-mel in "
    "this many bands (1, 2, 4, ... 32), the loudness the embedding normalises away; 4 helps in babble"
    " (0: none)"))]
TuneEmbedding = Annotated[int, typer.Option(min=0, max=4, help=(
    "with --front-end speech-embedding: also train the embedding's last this many blocks (at a third "
    "of --lr); helps in babble, and the model is then one head: ensembles need one shared embedding"))]
EmbeddingFrom = Annotated[Optional[Path], typer.Option(help=(
    "with --front-end speech-embedding: start from the speech embedding of this checkpoint (one "
    "trained with --tune-embedding), frozen unless --tune-embedding; heads that share it export "
    "together as one ensemble"))]
EmbeddingAnchor = Annotated[float, typer.Option(min=0.0, help=(
    "with --tune-embedding: pull the tuned blocks toward the weights they started from, by this "
    "weight on their squared change (L2-SP; 0: off)"))]
EmbeddingDenoise = Annotated[float, typer.Option(min=0.0, help=(
    "with --tune-embedding: pull the tuned embedding of each noisy clip toward the pretrained "
    "embedding of the same words in a quiet room, by this weight (0: off)"))]
NoiseShare = Annotated[float, typer.Option(min=0.0, max=1.0, help=(
    "share of clips whose words are put into loud noise (shaped, babble, hum, --noise recordings, "
    "mixtures) at --snr, or, without words, into noise alone (0: none)"))]
DigitalSilence = Annotated[float, typer.Option(min=0.0, max=1.0, help=(
    "share of the clips not in loud noise whose background is exact zeros (a padded file, a muted "
    "input): the words alone"))]
WordAtStart = Annotated[float, typer.Option(min=0.0, max=1.0, help=(
    "share of the clips whose first word starts at their first sample, as in a one-word file heard "
    "from a fresh stream (0: the first word starts 0-0.75 s in)"))]
BabbleVoices = Annotated[int, typer.Option(min=0, max=1000, help=(
    "with --noise-share: this many espeak-ng voices say 20 words each that are no keyword, for babble"
    " and unknown speech (needs espeak-ng; 0: babble of reversed training words only)"))]
NoiseWeights = Annotated[Optional[str], typer.Option(help=(
    "with --noise-share: how often each kind of loud noise is drawn, KIND=WEIGHT pairs among shaped, "
    "babble, hum, mixture (two of the others) and recorded (--noise), e.g. babble=0.6,shaped=0.2,"
    "mixture=0.2 for a crowded room (default shaped=0.35,babble=0.35,hum=0.05,mixture=0.25, "
    "recorded=0.3 with --noise)"))]
NegativeWords = Annotated[Optional[str], typer.Option(help=(
    "comma-separated words that sound like a keyword but are none (fine,hero for nine,zero), said by "
    "the --babble-voices voices as unknown speech, so that the spotter learns the difference"))]
SyntheticKeywords = Annotated[int, typer.Option(min=0, max=1000, help=(
    "this many other espeak-ng voices say each keyword, added to the training words (needs espeak-ng;"
    " with --babble-voices, so that a synthesised voice is not a sign of 'no keyword'; 0: none)"))]


@app.command("kws")
def train_kws_cmd(
    data: Path = typer.Option(..., help="recordings: a folder of WORD/ sub-folders (Speech Commands) or of "
                              "WORD_SPEAKER_INDEX.wav files, or a manifest (.csv or .jsonl: path, label, speaker, "
                              "start, end, split)"),
    out: Out = ...,
    keywords: str = typer.Option("zero,one,two,three,four,five,six,seven,eight,nine",
                                 help="comma-separated keywords, any labels in --data; the other labels are "
                                 "unknown speech"),
    valid_speaker: str = typer.Option("auto", help="speaker held out for validation; auto: the data's validation "
                                      "list, else the speaker with the most recordings; none: train on every "
                                      "speaker and keep the last epoch"),
    noise: Optional[Path] = typer.Option(None, help="a folder of your own background recordings (WAV) to mix "
                                         "into training clips"),
    front_end: str = typer.Option("logmel", help="logmel (learned from --data alone) or speech-embedding (a "
                                  "frozen pretrained speech embedding every 80 ms; only the recurrent layers learn)"),
    level_bands: LevelBands = 0,
    tune_embedding: TuneEmbedding = 0,
    embedding_from: EmbeddingFrom = None,
    embedding_anchor: EmbeddingAnchor = 0.0, embedding_denoise: EmbeddingDenoise = 0.0,
    cell: Cell = "gru", hidden: Hidden = "64,64", dropout: Dropout = 0.1, epochs: Epochs = 30,
    max_minutes: MaxMinutes = 0.0,
    clips_per_epoch: int = typer.Option(2000, min=1, help="noisy training clips made per epoch (by all processes "
                                        "together)"),
    clip_seconds: float = typer.Option(4.0, min=0.5, max=60.0),
    speed: str = typer.Option("0.8,1.25", help="MIN,MAX speed factor of training words (faster is also "
                              "higher in pitch and formants)"),
    noise_share: NoiseShare = 0.0,
    snr: str = typer.Option("-3,27", help="MIN,MAX dB: SNR (speech power over noise power) of --noise-share clips"),
    reverb: float = typer.Option(0.0, min=0.0, max=1.0, help="share of clips heard in a simulated room"),
    digital_silence: DigitalSilence = 0.0, word_at_start: WordAtStart = 0.0,
    babble_voices: BabbleVoices = 0,
    synthetic_keywords: SyntheticKeywords = 0, noise_weights: NoiseWeights = None,
    negative_words: NegativeWords = None,
    batch_size: BatchSize = 32, optimizer: Optimizer = "adam", lr: Lr = 3e-3, clip: Clip = 1.0,
    patience: Patience = 4,
    schedule: str = typer.Option("cosine", help="cosine (lr to 0 over --epochs) or plateau (cut on no improvement)"),
    seed: Seed = 1111, threads: Threads = 0, device: Device = "auto", resume: Resume = False,
    log_every: LogEvery = 100, quiet: Quiet = False, json_out: JsonOut = False,
):
    """Train a keyword spotter on raw audio (the front end is inside the model). Several processes:
    torchrun --nproc-per-node N -m edge_rnn.cli train kws ...; --batch-size is per process."""
    need_torch()
    from edge_rnn.config import EMBEDDING_HOP, KWSConfig
    from edge_rnn.runtime.labels import keyword_labels
    from edge_rnn.training.kws import KWSData, train_kws
    from edge_rnn.training.kws_options import negative_words_option
    from edge_rnn.training.loop import TrainOptions
    from edge_rnn.training.utterances import parse_keywords

    framing = {"hop": EMBEDDING_HOP} if front_end == "speech-embedding" else {}  # it sets its own hop
    config = _config(KWSConfig, cell=cell, hidden=hidden, dropout=dropout, front_end=front_end,
                     level_bands=level_bands, tune_embedding=tune_embedding,
                     labels=keyword_labels(parse_keywords(keywords)), **framing)
    opts = TrainOptions(out=out, epochs=epochs, max_minutes=max_minutes, optimizer=optimizer, lr=lr, clip=clip,
                        patience=patience, seed=seed, threads=threads, device=device, resume=resume, quiet=quiet,
                        decay_after=2, schedule=schedule, log_every=log_every)
    negatives = negative_words_option(negative_words, parse_keywords(keywords), babble_voices)
    clips = _clip_options(clip_seconds, speed, noise_share, snr, reverb, babble_voices, synthetic_keywords,
                          digital_silence, word_at_start, noise_weights, noise is not None, negatives)
    for name, value in (("--embedding-anchor", embedding_anchor), ("--embedding-denoise", embedding_denoise)):
        if value and not tune_embedding:
            raise UserError(f"{name} needs --tune-embedding: a frozen embedding does not move")
    kws_data = KWSData(data, valid_speaker, clips_per_epoch, batch_size, clips, noise=noise,
                       embedding_anchor=embedding_anchor, embedding_denoise=embedding_denoise)
    _done(train_kws(config, kws_data, opts, embedding_from), out, json_out)


def _names(text: str | None, option: str) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if text is not None and not names:
        raise UserError(f"{option} needs comma-separated column names, got {text!r}")
    return names


def _date(text: str | None, option: str) -> int | None:
    from edge_rnn.runtime.dates import parse_time

    try:
        return None if text is None else parse_time(text)
    except ValueError as e:
        raise UserError(f"{option}: {e}") from None


@app.command("series")
def train_series_cmd(
    csv: Path = typer.Option(..., "--csv", help="readings: a header row, a date or time column, numeric columns"),
    target: str = typer.Option(..., help="the column to forecast"),
    horizon: int = typer.Option(..., min=1, max=10000, help="forecast the next H readings of the target"),
    out: Out = ...,
    inputs: Optional[str] = typer.Option(None, help="other columns the model reads, comma-separated"),
    time_column: Optional[str] = typer.Option(None, help="the dates' column (default: one named date, time, "
                                              "timestamp, ...)"),
    time_features: Optional[str] = typer.Option(None, help="clock values the model reads: hour (of day), day "
                                                "(of year), comma-separated"),
    since: Optional[str] = typer.Option(None, "--from", help="train on readings from this date"),
    until: Optional[str] = typer.Option(None, help="train on readings before this date (keep the rest to evaluate)"),
    valid_fraction: float = typer.Option(0.1, min=0.0, max=0.89, help="the last part of the readings, by time, "
                                         "that validates (0: none; the last epoch is kept)"),
    max_gap: int = typer.Option(6, min=0, max=100000, help="fill gaps of up to this many missing readings by "
                                "interpolation; after a longer one the stream starts anew"),
    interval: int = typer.Option(0, min=0, max=366 * 86400, help="seconds between readings (0: the file's usual)"),
    day_memory: bool = typer.Option(True, help="keep the last day's readings of the target as a state and show "
                                    "the model those one day before each forecast time (hourly data: 24)"),
    window: int = typer.Option(96, min=2, help="readings per training window"),
    windows_per_epoch: int = typer.Option(1024, min=1), cell: Cell = "gru", hidden: Hidden = "32",
    dropout: Dropout = 0.0, epochs: Epochs = 30, max_minutes: MaxMinutes = 0.0, batch_size: BatchSize = 32,
    optimizer: Optimizer = "adam", lr: Lr = 3e-3, clip: Clip = 1.0, patience: Patience = 5,
    schedule: str = typer.Option("cosine", help="cosine (lr to 0 over --epochs) or plateau (cut on no improvement)"),
    seed: Seed = 1111, threads: Threads = 0, resume: Resume = False, quiet: Quiet = False, json_out: JsonOut = False,
):
    """Train a forecaster of a numeric series (the normalisation travels in the model)."""
    need_torch()
    from edge_rnn.config import SeriesConfig
    from edge_rnn.training.loop import TrainOptions
    from edge_rnn.training.series import SeriesData, train_series

    features = _names(time_features, "--time-features")
    config = _config(SeriesConfig, cell=cell, hidden=hidden, dropout=dropout, columns=[target],
                     time_features=features, horizon=horizon, max_gap=max_gap)
    data = SeriesData(csv, target, _names(inputs, "--inputs"), horizon, time_column, features,
                      _date(since, "--from"), _date(until, "--until"), valid_fraction, max_gap, interval, day_memory,
                      window, windows_per_epoch, batch_size)
    opts = TrainOptions(out=out, epochs=epochs, max_minutes=max_minutes, optimizer=optimizer, lr=lr, clip=clip,
                        patience=patience, seed=seed, threads=threads, resume=resume, quiet=quiet, schedule=schedule)
    _done(train_series(config, data, opts), out, json_out)
