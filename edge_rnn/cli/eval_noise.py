"""`edge-rnn eval --snr ...`: a keyword spotter in noise (evaluation/noisy.py), as a table or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edge_rnn.runtime.errors import UserError


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
    from edge_rnn.training.utterances import load_recordings

    who = [s.strip() for s in speakers.split(",") if s.strip()] if speakers else None
    utts = load_recordings(data, session.contract.sample_rate, speakers=who, split=split, quiet=quiet,
                           background=False).utterances
    from edge_rnn.evaluation.kws import heard_in_training

    heard = heard_in_training(session.contract, {u.speaker for u in utts})
    if heard:
        print(f"note: {session.path.name} was trained on {', '.join(heard)}: those figures are not held-out",
              file=sys.stderr)
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
