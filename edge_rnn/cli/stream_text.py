"""`edge-rnn stream` for language models: an interactive prompt, or text on stdin."""

from __future__ import annotations

import json
import sys
from typing import IO, Iterator

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.session import Session


def format_predictions(pairs: list[tuple[str, float]]) -> str:
    return "  ".join(f"{w} {p:.3f}" for w, p in pairs)


def stdin_lines(stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """(line number, text) from a byte stream, refusing non-UTF-8 with the line it is on."""
    for number, raw in enumerate(stream, 1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"input line {number} is not UTF-8 text") from None


def stream_text(session: Session, top_k: int, as_json: bool,
                stdin: IO[bytes] | None = None, interactive: bool | None = None) -> None:
    predictor = NextWordPredictor(session, max_k=top_k)
    stdin = stdin if stdin is not None else sys.stdin.buffer
    if interactive is None:
        interactive = sys.stdin.isatty() and not as_json
    if interactive:
        from .prompt import run_prompt

        run_prompt(predictor, top_k)
        return
    eos = predictor.vocab.words[predictor.vocab.eos]
    for _, line in stdin_lines(stdin):
        words = line.split()
        for word in words:
            predictor.feed([word])
            pairs = predictor.top_k(top_k)
            if as_json:
                print(json.dumps({"word": word, "next": [{"word": w, "prob": round(p, 6)} for w, p in pairs]}))
            else:
                print(f"{word:<16} -> {format_predictions(pairs)}")
        if words:
            predictor.feed([eos])  # a line is a sentence, as in training
        sys.stdout.flush()
