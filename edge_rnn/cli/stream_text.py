"""`edge-rnn stream` for language models: an interactive prompt, or text on stdin."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import IO

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.sampling import Mulberry32
from edge_rnn.runtime.session import Session
from edge_rnn.runtime.text import words_of


@dataclass
class CompleteOptions:
    """`--complete N`: continue each line by up to N words, greedy or sampled."""

    words: int
    temperature: float = 0.0
    seed: int | None = None


def format_predictions(pairs: list[tuple[str, float]]) -> str:
    return "  ".join(f"{w} {p:.3f}" for w, p in pairs)


def word_record(predictor: NextWordPredictor, word: str, top_k: int) -> dict:
    """Feed one typed word; what it became and the next words after it."""
    fed = predictor.feed(word)
    eos = predictor.vocab.words[predictor.vocab.eos]
    ended = bool(fed) and fed[-1] == eos
    tokens = fed[:-1] if ended else fed
    return {"word": word, "tokens": tokens, "known": all(t in predictor.vocab.index for t in tokens),
            "sentence_end": ended, "next": predictor.top_k(top_k)}


def word_line(record: dict, eos: str, index: dict) -> str:
    """The readable form: `it's (it 's) -> ...`; an unknown word gets `?`, a sentence end <eos>."""
    word, tokens = record["word"], record["tokens"]
    label = word
    if tokens not in ([word], [word.lower()]) or record["sentence_end"]:
        shown = [t if t in index else f"{t}?" for t in tokens] + ([eos] if record["sentence_end"] else [])
        label = f"{word} ({' '.join(shown)})"
    return f"{label:<16} -> {format_predictions(record['next'])}"


def stream_text(session: Session, top_k: int, as_json: bool, stdin: IO[bytes] | None = None,
                interactive: bool | None = None, show_special: bool = False,
                complete: CompleteOptions | None = None) -> None:
    predictor = NextWordPredictor(session, max_k=top_k, show_special=show_special)
    if stdin is None and sys.stdin is None:
        raise UserError("standard input is closed: pipe text into `edge-rnn stream`, or run it on a terminal")
    stdin = stdin if stdin is not None else sys.stdin.buffer
    if interactive is None:
        interactive = sys.stdin.isatty() and not as_json and complete is None
    if interactive:
        from .prompt import run_prompt

        run_prompt(predictor, top_k)
        return
    if complete is not None:
        complete_lines(predictor, stdin, top_k, as_json, complete)
        return
    eos, index = predictor.vocab.words[predictor.vocab.eos], predictor.vocab.index
    for word in words_of(stdin, "standard input"):
        if word is None:  # a line ends a sentence, as in training
            predictor.end_sentence()
            sys.stdout.flush()
            continue
        record = word_record(predictor, word, top_k)
        if as_json:
            record["next"] = [{"word": w, "prob": round(p, 6)} for w, p in record["next"]]
            print(json.dumps(record))
        else:
            print(word_line(record, eos, index))


def complete_lines(predictor: NextWordPredictor, stdin: IO[bytes], top_k: int, as_json: bool,
                   options: CompleteOptions) -> None:
    """Each line is fed, continued by up to N words (not fed: the next line follows the line
    itself), then ended as a sentence."""
    eos, rng, line = predictor.vocab.words[predictor.vocab.eos], Mulberry32(options.seed), []

    def finish() -> None:
        words, ended = predictor.complete(options.words, options.temperature, top_k, rng)
        text = " ".join(line)
        if as_json:
            print(json.dumps({"text": text, "completion": [{"word": w, "prob": round(p, 6)} for w, p in words],
                              "sentence_end": ended}))
        else:
            print(f"{text} -> {' '.join([w for w, _ in words] + ([eos] if ended else []))}")
        sys.stdout.flush()

    for word in words_of(stdin, "standard input"):
        if word is not None:
            line.append(word)
            predictor.feed(word)
            continue
        if line:
            finish()
        predictor.end_sentence()
        line = []
    if line:
        finish()
