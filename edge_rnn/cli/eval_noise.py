"""`edge-rnn eval --snr ...`: a keyword spotter in noise (evaluation/noisy.py), as a table or JSON;
`edge-rnn tune-detector`: its detector chosen over the same streams (evaluation/detector_choice.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from edge_rnn.runtime.errors import UserError

from .common import JsonOut, Quiet


def noise_options(snr: str | None, kinds: str | None, noise: Path | None, minutes: float | None, rate: int):
    """The noise evaluation asked for, checked before any work is done."""
    from edge_rnn.evaluation.noisy import NoiseOptions, parse_kinds, parse_snrs

    chosen = parse_kinds(kinds, noise is not None)
    snrs = parse_snrs(snr) if snr is not None else []
    needs = [k for k in chosen if k != "reverb"]
    if needs and not snrs:
        raise UserError(f"--noise-kind {','.join(needs)} needs --snr, the SNRs to measure at, e.g. --snr 20,10,5")
    if snrs and not needs:
        raise UserError("--snr applies to noise kinds; reverb is measured without added noise (drop --snr or add "
                        "a kind, e.g. --noise-kind pink,reverb)")
    if "babble" in chosen:
        from edge_rnn.training.babble import espeak

        espeak()  # babble's words are spoken by espeak-ng: say now if it is missing
    if noise is not None and "recorded" not in chosen:
        raise UserError("--noise DIR gives the kind 'recorded': add it to --noise-kind")
    return NoiseOptions(snrs, chosen, 10.0 if minutes is None else minutes, _recordings(noise, rate))


def _recordings(folder: Path | None, rate: int):
    if folder is None:
        return None
    from edge_rnn.runtime.audio import read_wav
    from edge_rnn.training.noise import power
    from edge_rnn.training.utterances import noise_files

    clips = [read_wav(p, rate) for p in noise_files(folder)]
    clips = [c for c in clips if c.size >= rate // 10 and power(c) > 0]
    if not clips:
        raise UserError(f"the --noise folder {folder} holds no WAV of at least 0.1 s that is not silent")
    return clips


def eval_in_noise(session, data: Path, speakers: str | None, split: str | None, options, plot: Path | None,
                  quiet: bool, json_out: bool) -> None:
    from edge_rnn.evaluation.noisy import evaluate_noise

    utts = _held_out(session, data, speakers, split, quiet)
    result = {"model": str(session.path), **evaluate_noise(session, utts, options, quiet)}
    if plot is not None:
        from edge_rnn.evaluation.plots import plot_snr

        plot_snr(result["conditions"], plot, title=f"{session.path.name} in noise ({len(utts)} utterances)")
        result["plot"] = str(plot)
    if json_out:
        print(json.dumps(result))
        return
    from .show import noise_table

    noise_table(result)


def _held_out(session, data: Path, speakers: str | None, split: str | None, quiet: bool):
    """The utterances of --data (only --speakers / --split), with a note when training heard them."""
    from edge_rnn.evaluation.kws import heard_in_training
    from edge_rnn.training.utterances import load_recordings

    if split is not None and split not in ("train", "valid", "test"):
        raise UserError(f"--split must be train, valid or test, got {split!r}")
    who = [s.strip() for s in speakers.split(",") if s.strip()] if speakers else None
    utts = load_recordings(data, session.contract.sample_rate, speakers=who, split=split, quiet=quiet,
                           background=False).utterances
    heard = heard_in_training(session.contract, {u.speaker for u in utts})
    if heard:
        print(f"note: {session.path.name} was trained on {', '.join(heard)}: those figures are not held-out",
              file=sys.stderr)
    return utts


def tune_detector_cmd(
    model: Optional[str] = typer.Option(None, help="a keyword spotter: an .onnx path or a bundled model name "
                                        "(default: fsdd-kws)"),
    data: Path = typer.Option(..., help="held-out recordings in any layout train kws reads"),
    speakers: Optional[str] = typer.Option(None, help="only these speakers (comma-separated)"),
    split: Optional[str] = typer.Option(None, help="only the train, valid or test recordings"),
    snr: Optional[str] = typer.Option(None, help="SNRs in dB to mix each noise kind at (default: 20,10,5)"),
    noise_kind: Optional[str] = typer.Option(None, help="white, pink, brown, hum, babble (needs espeak-ng), "
                                             "recorded (--noise) and reverb, comma-separated (default: pink)"),
    noise: Optional[Path] = typer.Option(None, help="a folder of your noise recordings (WAV), the kind 'recorded'"),
    noise_minutes: float = typer.Option(10.0, min=0.1, max=6000.0, help="minutes of noise alone per condition"),
    max_false_accepts: float = typer.Option(0.5, min=0.0, help="false accepts per hour allowed in every "
                                            "noise-only stream"),
    out: Optional[Path] = typer.Option(None, help="write a copy of the model carrying the chosen detector here"),
    threads: int = typer.Option(1, min=1, max=256, help="onnxruntime intra-op threads"),
    quiet: Quiet = False,
    json_out: JsonOut = False,
):
    """Choose a keyword spotter's detector (threshold, smoothing, decision and refractory times) on
    held-out speakers in quiet and in noise together, and write it into a copy of the model."""
    from edge_rnn.evaluation.detector_choice import choose
    from edge_rnn.evaluation.noisy import parse_kinds
    from edge_rnn.runtime.bundled import resolve_model
    from edge_rnn.runtime.session import Session

    session = Session(resolve_model(model, "fsdd-kws"), threads=threads)
    if session.contract.task != "kws":
        raise UserError(f"{session.path} is not a keyword spotter; tune-detector chooses a keyword spotter's detector")
    if snr is None and any(k != "reverb" for k in parse_kinds(noise_kind, noise is not None)):
        snr = "20,10,5"  # rooms alone take no SNR
    options = noise_options(snr, noise_kind, noise, noise_minutes, session.contract.sample_rate)
    original = session.file.data  # the bytes the session was made from, checksum checked
    if out is not None:
        if out.is_dir():
            raise UserError(f"--out {out} is a folder; give a file name to write")
        _with_detector(original, session.contract.detector)  # a file that cannot carry one: say so now
    result = {"model": str(session.path), **choose(session, _held_out(session, data, speakers, split, quiet),
                                                   options, max_false_accepts, quiet)}
    if not result["budget_met"]:
        print(f"edge-rnn: warning: no detector tried keeps {max_false_accepts:g} false accepts an hour in every "
              f"noise-only stream; chosen: the fewest ({result['chosen']['worst_false_accepts_per_hour']:g}/h)",
              file=sys.stderr)
    if out is not None:
        from edge_rnn.runtime.fileio import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_bytes(_with_detector(original, result["chosen"]["detector"]))
        result["written"] = str(out)
    if json_out:
        print(json.dumps(result))
        return
    from .show import detector_choice_table

    detector_choice_table(result)


def _with_detector(model: bytes, detector: dict) -> bytes:
    """The model's bytes carrying `detector` (its checksum stamped again)."""
    from edge_rnn.runtime.model_file import with_metadata

    return with_metadata(model, {"edge_rnn.detector": json.dumps(detector)})
