"""The commands that run exported models: inspect, stream, eval, bench. They need no torch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from edge_rnn.progress import Progress
from edge_rnn.runtime.bundled import DEFAULT_FOR_TASK, resolve_model
from edge_rnn.runtime.errors import UserError

from .common import JsonOut, Quiet, emit

ModelOption = typer.Option(None, help="an .onnx path or a bundled model name (default: ptb-lm; fsdd-kws "
                                      "when audio is given, seattle-temp for a CSV)")
RAW_PCM = "raw 16-bit signed little-endian mono PCM at the model's sample rate (8000 Hz for fsdd-kws)"


# A forecaster reads its columns by the model's names, or by the file's names given here.
TargetOption = typer.Option(None, help="forecaster: the file's column for the model's target")
InputsOption = typer.Option(None, help="forecaster: the file's columns for the model's other inputs, in order")
TimeOption = typer.Option(None, help="forecaster: the dates' column (default: one named date, time, ...)")


def _forecaster_only(session, **options) -> None:
    """Refuse a forecaster's options (those given) for a model of another task."""
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value is not None]
    if given and session.contract.task != "series":
        verb = "applies" if len(given) == 1 else "apply"
        raise UserError(f"{', '.join(given)} {verb} to forecasters; {session.path} is not one")


def _session(model: str | None, task: str, threads: int):
    """The model asked for, or the bundled default for the task the other options imply."""
    from edge_rnn.runtime.session import Session

    return Session(resolve_model(model, DEFAULT_FOR_TASK[task]), threads=threads)


def inspect_cmd(model: str = typer.Argument(..., help="an .onnx path or a bundled model name"), json_out: JsonOut = False):
    """Print a model's contract: inputs, outputs, states and metadata."""
    from edge_rnn.runtime.inspect import describe

    info = describe(resolve_model(model))
    if json_out:
        print(json.dumps(info))
        return
    from .show import inspect_tables

    inspect_tables(info)


def stream_cmd(
    model: Optional[str] = ModelOption,
    input: Optional[str] = typer.Option(None, "--input", help=f"keyword spotting: a WAV file, or - for stdin: "
                                        f"a WAV stream, or else {RAW_PCM}; forecasting: a CSV file, or - for CSV "
                                        "rows on stdin"),
    top_k: int = typer.Option(5, min=1, max=100, help="language model: how many next words (with --complete and "
                              "--temperature: how many of the best words a sample is drawn from)"),
    show_special: bool = typer.Option(False, help="language model: also suggest the unknown and end-of-sentence words"),
    complete: int = typer.Option(0, min=0, max=1000, help="language model: continue each line by up to N words, "
                                 "stopping at the end of a sentence"),
    temperature: float = typer.Option(0.0, min=0.0, max=100.0, help="with --complete: 0 takes the most likely "
                                      "word; above 0 samples, flatter as it grows"),
    seed: Optional[int] = typer.Option(None, min=0, max=2**32 - 1, help="with --complete: makes sampling reproducible"),
    chunk_ms: float = typer.Option(100.0, min=1.0, max=60000.0, help="keyword spotting: audio per call, in ms"),
    threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="keyword spotting: override the model's threshold"),
    threads: int = typer.Option(1, min=1, max=256, help="onnxruntime intra-op threads"),
    target: Optional[str] = TargetOption, inputs: Optional[str] = InputsOption, time_column: Optional[str] = TimeOption,
    json_out: JsonOut = False,
):
    """Stream text through a language model (stdin, or a prompt on a terminal), audio through a
    keyword spotter (--input), or CSV readings through a forecaster (--input): one forecast a row."""
    task = "lm" if input is None else "series" if input.lower().endswith(".csv") else "kws"
    session = _session(model, task, threads)
    if session.contract.task == "series":
        from .series import Columns, stream_series

        if input is None:
            raise UserError("a forecaster needs --input FILE.csv (or --input - for CSV rows on stdin)")
        stream_series(session, input, Columns(target, inputs, time_column), json_out)
        return
    _forecaster_only(session, target=target, inputs=inputs, time_column=time_column)
    if session.contract.task == "lm":
        if input is not None:
            raise UserError("--input is for keyword-spotting models; a language model reads text on stdin")
        from .stream_text import CompleteOptions, stream_text

        if not complete and (temperature or seed is not None):
            raise UserError("--temperature and --seed apply to --complete N")
        options = CompleteOptions(complete, temperature, seed) if complete else None
        stream_text(session, top_k, json_out, show_special=show_special, complete=options)
    else:
        from .stream_audio import stream_audio

        if input is None:
            raise UserError("a keyword spotter needs --input FILE.wav (or --input - for audio on stdin)")
        stream_audio(session, input, chunk_ms, json_out, threshold=threshold)


def eval_cmd(
    model: Optional[str] = ModelOption,
    text: Optional[Path] = typer.Option(None, help="language model: text to score"),
    data: Optional[Path] = typer.Option(None, help="keyword spotting: recordings in any layout train kws reads "
                                        "(word folders, WORD_SPEAKER_INDEX.wav files, or a manifest)"),
    split: Optional[str] = typer.Option(None, help="keyword spotting: only the train, valid or test recordings "
                                        "(validation_list.txt / testing_list.txt, or a manifest's split column)"),
    chunk: int = typer.Option(256, min=1, max=100000, help="language model: tokens per call"),
    threads: int = typer.Option(1, min=1, max=256, help="onnxruntime intra-op threads"),
    plot: Optional[Path] = typer.Option(None, help="keyword spotting: write a DET curve PNG"),
    speakers: Optional[str] = typer.Option(None, help="keyword spotting: only these speakers (comma-separated)"),
    noise_hours: float = typer.Option(1.0, min=0.0, max=1000.0, help="keyword spotting: hours of noise-only stream"),
    snr: Optional[str] = typer.Option(None, help="keyword spotting in noise: the stream mixed with noise at these "
                                      "SNRs in dB (speech power over noise power), e.g. 20,10,5; --plot then draws "
                                      "detection against SNR"),
    noise_kind: Optional[str] = typer.Option(None, help="with --snr: white, pink, brown, hum, babble (needs "
                                             "espeak-ng), recorded (--noise) and reverb (simulated rooms, no added "
                                             "noise), comma-separated (default: pink)"),
    noise: Optional[Path] = typer.Option(None, help="with --snr: a folder of your noise recordings (WAV), the "
                                         "kind 'recorded'"),
    noise_minutes: Optional[float] = typer.Option(None, min=0.0, max=6000.0, help="with --snr: minutes of noise "
                                                  "alone per condition, for its false accepts per hour (default 10)"),
    csv: Optional[Path] = typer.Option(None, "--csv", help="forecaster: readings to forecast and score"),
    since: Optional[str] = typer.Option(None, "--from", help="forecaster: score forecasts made from this date "
                                        "(earlier readings are fed as the past)"),
    until: Optional[str] = typer.Option(None, help="forecaster: read readings before this date only"),
    target: Optional[str] = TargetOption, inputs: Optional[str] = InputsOption, time_column: Optional[str] = TimeOption,
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """Measure a model through the streaming runtime: perplexity (LM), detection (KWS), or
    forecast errors beside persistence and seasonal naive (forecaster)."""
    session = _session(model, "series" if csv is not None else "kws" if data is not None else "lm", threads)
    if session.contract.task == "series":
        from .series import Columns, eval_series

        if csv is None:
            raise UserError(f"{session.path} is a forecaster: evaluate it on --csv FILE")
        eval_series(session, csv, since, until, Columns(target, inputs, time_column), json_out)
        return
    _forecaster_only(session, csv=csv, target=target, inputs=inputs, time_column=time_column, **{"from": since},
                     until=until)
    noisy = any(v is not None for v in (snr, noise_kind, noise, noise_minutes))
    if session.contract.task == "lm":
        if noisy:
            raise UserError("--snr, --noise-kind, --noise and --noise-minutes apply to keyword spotters")
        _eval_lm(session, text, data is not None, chunk, quiet, json_out)
        return
    if data is None:
        hint = " (--text is for language models)" if text is not None else ""
        raise UserError(f"{session.path} is a keyword spotter: evaluate it on --data DIR of WAVs{hint}")
    in_noise = None
    if noisy:
        from .eval_noise import noise_options

        in_noise = noise_options(snr, noise_kind, noise, noise_minutes, session.contract.sample_rate)
    _eval_kws(session, data, speakers, split, noise_hours, in_noise, plot, quiet, json_out)


def _eval_lm(session, text: Path | None, has_data: bool, chunk: int, quiet: bool, json_out: bool) -> None:
    if text is None:
        hint = " (--data is for keyword spotters)" if has_data else ""
        raise UserError(f"{session.path} is a language model: evaluate it on --text FILE{hint}")
    from edge_rnn.runtime.lm import evaluate_text

    with Progress(None, "eval (tokens)", enabled=not quiet) as bar:
        result = evaluate_text(session, text, chunk, on_progress=bar.update)
    emit({"model": str(session.path), **result}, json_out)


def _eval_kws(session, data: Path, speakers, split, noise_hours: float, in_noise, plot, quiet: bool, json_out: bool):
    """A keyword spotter: in quiet (with a DET curve), or in noise when `in_noise` holds NoiseOptions."""
    if plot is not None:
        from edge_rnn.evaluation.plots import check_plot

        check_plot(plot)
    if split is not None and split not in ("train", "valid", "test"):
        raise UserError(f"--split must be train, valid or test, got {split!r}")
    if in_noise is not None:
        from .eval_noise import eval_in_noise

        eval_in_noise(session, data, speakers, split, in_noise, plot, quiet, json_out)
        return
    from edge_rnn.evaluation.kws import evaluate_kws

    result = evaluate_kws(session, data, speakers, noise_hours, plot, quiet, split)
    if result["speakers_heard_in_training"]:
        heard = ", ".join(result["speakers_heard_in_training"])
        print(f"note: {session.path.name} was trained on {heard}: those figures are not held-out", file=sys.stderr)
    result = {"model": str(session.path), **result}
    if json_out:
        print(json.dumps(result))
        return
    from .show import kws_eval_tables

    kws_eval_tables(result)


def bench_cmd(
    model: Optional[str] = typer.Option(None, help="language model (default: bundled ptb-lm)"),
    kws_model: Optional[str] = typer.Option(None, help="keyword spotter (default: bundled fsdd-kws)"),
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """Measure the runtime on this machine: step, chunk, batched streams, KWS real-time factor,
    memory and the hardware floor. For PyTorch side by side: python benchmarks/compare.py."""
    from edge_rnn.bench.measure import BENCH_STEPS, run_runtime_bench

    bar = Progress(BENCH_STEPS, "bench", enabled=not quiet)
    kws = {kws_model or "fsdd-kws": resolve_model(kws_model, "fsdd-kws")}
    result = run_runtime_bench(resolve_model(model, "ptb-lm"), kws, progress=lambda label: bar.update(1, label))
    bar.close()
    if json_out:
        print(json.dumps(result))
        return
    from edge_rnn.bench.table import runtime_table

    print(runtime_table(result))
