"""The `edge-rnn` command. Commands are thin: they parse options and call library functions.

Every user mistake ends as one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edge_rnn import cli_run
from edge_rnn.cli_run import JsonOut, Quiet
from edge_rnn.runtime.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Recurrent networks from PyTorch to streaming ONNX.")
train_app = typer.Typer(no_args_is_help=True, help="Train a model (needs edge-rnn[train]).")
app.add_typer(train_app, name="train")

TRAIN_EXTRA = "this command needs PyTorch: pip install 'edge-rnn[train]'"

# Options every training command takes, declared once.
MaxMinutes = Annotated[float, typer.Option(min=0.0, help="stop after this long (0: no limit)")]
Seed = Annotated[int, typer.Option(help="random seed")]
Threads = Annotated[int, typer.Option(min=0, help="torch threads (0: all cores)")]
Resume = Annotated[bool, typer.Option(help="continue from OUT/last.pt")]
Ema = Annotated[float, typer.Option(min=0.0, max=0.9999, help="> 0: validate and save a moving average of the weights with this decay per step, e.g. 0.999")]


def _need_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError(TRAIN_EXTRA) from None


def _config(**kwargs):
    from edge_rnn.config import ModelConfig, parse_sizes

    try:
        kwargs["hidden"] = parse_sizes(kwargs["hidden"])
        if isinstance(kwargs.get("conv_kernel"), str):
            kwargs["conv_kernel"] = parse_sizes(kwargs["conv_kernel"], "--conv-kernel", "5,8")
        return ModelConfig(**kwargs)
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


def _train_options(**kwargs):
    from edge_rnn.train import TrainOptions

    return TrainOptions(**kwargs)


def _print_result(result: dict, as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")


@train_app.command("lm")
def train_lm_cmd(
    data: Path = typer.Option(..., help="training text, one sentence a line (.txt or .gz)"),
    out: Path = typer.Option(..., help="folder for checkpoints and metrics"),
    valid: Optional[Path] = typer.Option(None, help="validation text"),
    cell: str = typer.Option("lstm", help="rnn, gru or lstm"),
    hidden: str = typer.Option("256,128", help="hidden size of each layer, comma-separated"),
    embedding: int = typer.Option(200, min=1),
    vocab_size: int = typer.Option(10000, min=3, help="keep this many words, the rest become <unk>"),
    dropout: float = typer.Option(0.25),
    tie_weights: bool = typer.Option(False, help="share embedding and output weights"),
    epochs: int = typer.Option(20, min=1),
    max_minutes: MaxMinutes = 0.0,
    batch_size: int = typer.Option(20, min=1),
    bptt: int = typer.Option(35, min=1, help="truncated backpropagation length"),
    optimizer: str = typer.Option("sgd", help="sgd or adam"),
    lr: float = typer.Option(20.0),
    clip: float = typer.Option(0.25, help="gradient-norm clipping (0: off)"),
    patience: int = typer.Option(3, min=1, help="epochs without improvement before stopping"),
    seed: Seed = 1111,
    threads: Threads = 0,
    resume: Resume = False,
    ema: Ema = 0.0,
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """Train a word-level language model."""
    _need_torch()
    from edge_rnn.lm_train import LMData, train_lm

    config = _config(task="lm", cell=cell, hidden=hidden, embedding=embedding, dropout=dropout,
                     tie_weights=tie_weights)
    if valid is not None and not valid.is_file():
        raise UserError(f"validation text not found: {valid}")
    opts = _train_options(out=out, epochs=epochs, max_minutes=max_minutes, optimizer=optimizer, lr=lr,
                          clip=clip, patience=patience, seed=seed, threads=threads, resume=resume, quiet=quiet, ema=ema)
    best = train_lm(config, LMData(data, valid, vocab_size, batch_size, bptt), opts)
    _print_result({**best, "checkpoint": str(out / "best.pt")}, json_out)


@train_app.command("kws")
def train_kws_cmd(
    data: Path = typer.Option(..., help="folder of WORD_SPEAKER_INDEX.wav recordings"),
    out: Path = typer.Option(..., help="folder for checkpoints and metrics"),
    keywords: str = typer.Option("zero,one,two,three,four,five,six,seven,eight,nine",
                                 help="comma-separated keywords; other speech is unknown"),
    valid_speaker: str = typer.Option("nicolas", help="speaker held out for validation; none: train on every speaker and keep the last epoch"),
    cell: str = typer.Option("gru", help="rnn, gru or lstm"),
    hidden: str = typer.Option("64,64", help="hidden size of each layer, comma-separated"),
    n_mels: int = typer.Option(32, min=4, max=128),
    cepstra: int = typer.Option(0, min=0, max=128, help="> 0: MFCC features with this many coefficients"),
    conv_channels: int = typer.Option(0, min=0, help="> 0: a CRNN, convolving log-mel frames first (needs --cepstra 0)"),
    conv_kernel: str = typer.Option("5,8", help="convolution size: FRAMES,MELS"),
    conv_stride: int = typer.Option(4, min=1, help="convolution stride along the mel axis"),
    conv_pool: int = typer.Option(1, min=1, help="max over this many neighbouring convolution bands (1: none)"),
    norm_seconds: float = typer.Option(0.0, min=0.0, max=600.0, help="subtract a running mean of each feature with this time constant, carried as a state (0: off)"),
    front_end: str = typer.Option("logmel", help="logmel (learned from --data alone) or speech-embedding (a frozen pretrained speech embedding every 80 ms; only the recurrent stack learns)"),
    embedding_weights: Optional[Path] = typer.Option(None, help="with --front-end speech-embedding: openWakeWord's embedding_model.onnx (default: the copy shipped with edge-rnn)"),
    dropout: float = typer.Option(0.1),
    epochs: int = typer.Option(30, min=1),
    max_minutes: MaxMinutes = 0.0,
    clips_per_epoch: int = typer.Option(2000, min=1, help="synthetic training clips per epoch"),
    clip_seconds: float = typer.Option(4.0, min=0.5, max=60.0),
    batch_size: int = typer.Option(32, min=1),
    synthetic_voices: int = typer.Option(0, min=0, help="mix in words from this many espeak-ng voices (needs espeak-ng)"),
    synthetic_share: float = typer.Option(0.3, min=0.0, max=1.0, help="share of training words that are synthetic"),
    onset_cut: float = typer.Option(0.0, min=0.0, max=0.9, help="half the time, drop up to this fraction of a word's start"),
    offset_cut: float = typer.Option(0.0, min=0.0, max=0.9, help="half the time, drop up to this fraction of a word's end"),
    tempo: float = typer.Option(0.0, min=0.0, max=1.0, help="half the time, words up to 1+TEMPO times faster or slower at the same pitch"),
    band_limit: float = typer.Option(0.0, min=0.0, max=1.0, help="share of training words whose spectrum above a random 1.6-3.4 kHz cutoff (at 8 kHz) is cut by 25-45 dB"),
    speed: str = typer.Option("0.8,1.25", help="MIN,MAX speed factor of training words (faster is also higher in pitch and formants)"),
    mel_warp: float = typer.Option(0.1, min=0.0, max=0.3, help="stretch or squeeze each training clip's mel axis by up to this fraction (0: off)"),
    random_eq: float = typer.Option(0.0, min=0.0, max=40.0, help="add a smooth random curve of up to +-this many dB to each clip's spectrum"),
    mixed_voices: int = typer.Option(0, min=0, help="per word, blend this many utterances between two training speakers (needs pyworld)"),
    extra_words: Optional[list[Path]] = typer.Option(None, help="folder of WORD_SPEAKER_INDEX.wav words from other sources, any rate, mixed in like synthetic voices (repeatable)"),
    onset_swap: Optional[list[str]] = typer.Option(None, help="WORD:DONOR, e.g. three:two: add every training WORD with its consonant onset taken from the same speaker's DONOR (an accent's th-stopping), mixed in like synthetic voices (repeatable)"),
    freq_mask: int = typer.Option(4, min=0, max=64, help="mask two bands of up to this many mel channels in each clip"),
    time_mask: int = typer.Option(0, min=0, max=100, help="mask up to this many frames once per second of each clip (0: off)"),
    teacher: Optional[list[Path]] = typer.Option(None, help="distil from this keyword-spotter checkpoint (repeat for several: their probabilities are averaged)"),
    distill: float = typer.Option(0.5, min=0.0, max=1.0, help="with --teacher: weight of the teachers' soft targets in the loss"),
    optimizer: str = typer.Option("adam", help="sgd or adam"),
    lr: float = typer.Option(3e-3),
    clip: float = typer.Option(1.0, help="gradient-norm clipping (0: off)"),
    patience: int = typer.Option(4, min=1),
    schedule: str = typer.Option("cosine", help="cosine (lr to 0 over --epochs) or plateau (cut on no improvement)"),
    seed: Seed = 1111,
    threads: Threads = 0,
    resume: Resume = False,
    ema: Ema = 0.0,
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """Train a keyword spotter on raw audio (8 kHz, log-mel front end inside the model)."""
    _need_torch()
    from edge_rnn.kws_data import make_labels, parse_keywords
    from edge_rnn.kws_train import KWSData, train_kws
    from edge_rnn.onset_swap import parse_onset_swaps

    from edge_rnn.config import EMBEDDING_HOP

    framing = {"hop": EMBEDDING_HOP} if front_end == "speech-embedding" else {}  # it sets its own hop
    config = _config(task="kws", cell=cell, hidden=hidden, dropout=dropout, n_mels=n_mels, n_cepstra=cepstra,
                     conv_channels=conv_channels, conv_kernel=conv_kernel,
                     conv_stride=conv_stride, conv_pool=conv_pool, norm_seconds=norm_seconds, labels=make_labels(parse_keywords(keywords)), vocab_size=0,
                     front_end=front_end, **framing)
    opts = _train_options(out=out, epochs=epochs, max_minutes=max_minutes, optimizer=optimizer, lr=lr,
                          clip=clip, patience=patience, seed=seed, threads=threads, resume=resume, quiet=quiet,
                          decay_after=2, schedule=schedule, ema=ema)
    kws_data = KWSData(data, config.labels[2:], valid_speaker, clips_per_epoch, clip_seconds, batch_size,
                       synthetic_voices, synthetic_share, onset_cut, tempo, random_eq, mixed_voices,
                       tuple(extra_words or ()), tuple(parse_onset_swaps(onset_swap or [])), freq_mask,
                       time_mask, tuple(teacher or ()), distill, band_limit=band_limit,
                       embedding_weights=embedding_weights, speed=_speed_range(speed), mel_warp=mel_warp,
                       offset_cut=offset_cut)
    best = train_kws(config, kws_data, opts)
    _print_result({**best, "checkpoint": str(out / "best.pt")}, json_out)


@app.command("export")
def export_cmd(
    checkpoint: list[Path] = typer.Argument(..., help="a checkpoint from `edge-rnn train` (best.pt); "
                                            "several keyword spotters make one ensemble model"),
    out: Path = typer.Option(..., help="the .onnx file to write"),
    quantize: Optional[str] = typer.Option(None, help="int8 (int8 weights) or int4 (4-bit MatMul weights, int8 elsewhere)"),
    valid_text: Optional[Path] = typer.Option(None, help="language model: report perplexity on this text"),
    detector: Optional[str] = typer.Option(None, help='keyword spotter: JSON detector defaults, e.g. {"threshold": 0.7}'),
    json_out: JsonOut = False,
):
    """Export a checkpoint to ONNX with explicit states and metadata, checked for parity.

    Several keyword-spotter checkpoints (same labels, sample rate and hop) export as one model
    that averages their per-frame probabilities.
    """
    _need_torch()
    from edge_rnn.export.pipeline import export_checkpoint

    measure = None
    if valid_text is not None:
        from edge_rnn.runtime.lm import evaluate_text
        from edge_rnn.runtime.session import Session

        if not valid_text.is_file():
            raise UserError(f"text file not found: {valid_text}")
        def measure(path: Path) -> dict:
            session = Session(path)
            if session.contract.task != "lm":
                raise UserError("--valid-text applies to language models; this checkpoint is a keyword spotter")
            return {k: v for k, v in evaluate_text(session, valid_text).items()
                    if k in ("perplexity", "top1_accuracy", "tokens")}
    overrides = None
    if detector is not None:
        import json

        try:
            overrides = json.loads(detector)
            assert isinstance(overrides, dict)
        except (ValueError, AssertionError):
            raise UserError(f'--detector must be a JSON object like {{"threshold": 0.7}}, got {detector!r}') from None
    report = export_checkpoint(checkpoint, out, quantize or "fp32", measure, overrides)
    _print_result(report, json_out)


app.command("inspect")(cli_run.inspect_cmd)
app.command("stream")(cli_run.stream_cmd)
app.command("eval")(cli_run.eval_cmd)
app.command("bench")(cli_run.bench_cmd)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line on stderr and exit 2."""
    try:
        code = app(args=argv, standalone_mode=False)
    except UserError as e:
        print(f"edge-rnn: error: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, BrokenPipeError) as e:
        return 130 if isinstance(e, KeyboardInterrupt) else 0
    except Exception as e:
        # Typer's usage errors (bad flags, missing options; click-style, vendored or not).
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            print(f"edge-rnn: error: {e.format_message()}", file=sys.stderr)
            return 2
        if type(e).__name__ == "Abort":
            print("edge-rnn: aborted", file=sys.stderr)
            return 130
        raise
    return code if isinstance(code, int) else 0

if __name__ == "__main__":
    sys.exit(main())
