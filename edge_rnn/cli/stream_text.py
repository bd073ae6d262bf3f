"""`edge-rnn stream` for language models: an interactive prompt, or text on stdin."""

from __future__ import annotations

import json
import sys
from typing import IO

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.session import Session
from edge_rnn.runtime.text import words_of


def format_predictions(pairs: list[tuple[str, float]]) -> str:
    return "  ".join(f"{w} {p:.3f}" for w, p in pairs)


def stream_text(session: Session, top_k: int, as_json: bool,
                stdin: IO[bytes] | None = None, interactive: bool | None = None) -> None:
    predictor = NextWordPredictor(session, max_k=top_k)
    if stdin is None and sys.stdin is None:
        raise UserError("standard input is closed: pipe text into `edge-rnn stream`, or run it on a terminal")
    stdin = stdin if stdin is not None else sys.stdin.buffer
    if interactive is None:
        interactive = sys.stdin.isatty() and not as_json
    if interactive:
        from .prompt import run_prompt

        run_prompt(predictor, top_k)
        return
    eos, in_line = predictor.vocab.words[predictor.vocab.eos], False
    for word in words_of(stdin, "standard input"):
        if word is None:  # a line is a sentence, as in training
            if in_line:
                predictor.feed([eos])
            in_line = False
            sys.stdout.flush()
            continue
        in_line = True
        predictor.feed([word])
        pairs = predictor.top_k(top_k)
        if as_json:
            print(json.dumps({"word": word, "next": [{"word": w, "prob": round(p, 6)} for w, p in pairs]}))
        else:
            print(f"{word:<16} -> {format_predictions(pairs)}")
