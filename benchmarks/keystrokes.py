"""Keystroke savings of next-word suggestions on typed text.

    python benchmarks/keystrokes.py valid.typed.txt --model ptb-lm --json

The user types the text character by character. Before each character of a word the keyboard
shows the model's top suggestions for that word, completing what has been typed of it
(`NextWordPredictor.top_k(k, prefix)`); as soon as the word is shown, one keystroke takes it.
A word of L characters taken after typing i of them saves L - i - 1 keystrokes. Only words the
vocabulary spells as they are typed (case aside) can be taken: in `it's`, `it` and `'s`; a
number (the model's `N`), an unknown word, punctuation, spaces and line breaks are typed in
full. Keystroke savings = characters saved / all characters of the text, for the top-1 and the
top-3 suggestions. The context is the text as fed so far, sentence ends included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_rnn.progress import Progress
from edge_rnn.runtime.bundled import resolve_model
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.lm import NextWordPredictor


def first_shown(predictor: NextWordPredictor, word: str, typed: str) -> tuple[int | None, int | None]:
    """How many characters of `typed` (the word as typed) come before `word` is the top-1 and
    among the top-3 suggestions (None: not before its last character)."""
    top1 = top3 = None
    for i in range(len(typed) - 1):  # taking it after its last character saves nothing
        shown = [w for w, _ in predictor.top_k(3, typed[:i])]
        if top1 is None and shown[:1] == [word]:
            top1 = i
        if top3 is None and word in shown:
            top3 = i
        if top1 is not None:
            break
    return top1, top3


def measure(predictor: NextWordPredictor, lines: list[str], bar: Progress | None = None) -> dict:
    rules, vocab = predictor.rules, predictor.vocab
    special = {vocab.words[vocab.unk], vocab.words[vocab.eos]}
    counts = {"characters": sum(len(line) + 1 for line in lines), "tokens": 0, "takeable": 0, "saved_top1": 0,
              "saved_top3": 0}
    for line in lines:
        for typed_word in line.split():
            tokens, ends = rules.split(typed_word)
            spelled = typed_word.lower() if rules.lowercase else typed_word
            at = 0
            for token in tokens:
                counts["tokens"] += 1
                j = spelled.find(token, at) if len(spelled) == len(typed_word) else -1
                at = j + len(token) if j >= 0 else at
                if j >= 0 and token in vocab.index and token not in special:
                    counts["takeable"] += 1
                    top1, top3 = first_shown(predictor, token, typed_word[j:at])
                    counts["saved_top1"] += 0 if top1 is None else len(token) - top1 - 1
                    counts["saved_top3"] += 0 if top3 is None else len(token) - top3 - 1
                if predictor.feed([token]) != [token]:
                    raise UserError(f"the model's text rules change its own word {token!r}: "
                                    "this measure needs rules whose output passes through them unchanged")
            if ends:
                predictor.end_sentence()
        predictor.end_sentence()
        if bar:
            bar.update(1)
    for k in (1, 3):
        counts[f"keystroke_savings_top{k}"] = counts[f"saved_top{k}"] / counts["characters"]
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text", type=Path, help="typed text (benchmarks/typed_text.py makes it from PTB)")
    ap.add_argument("--model", default="ptb-lm", help=".onnx path or bundled name")
    ap.add_argument("--lines", type=int, default=0, help="only the first N lines (0: all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        predictor = NextWordPredictor(resolve_model(args.model), max_k=3)
        if not args.text.is_file():
            raise UserError(f"text file not found: {args.text}")
        lines = args.text.read_text(encoding="utf-8").splitlines()
        lines = lines[: args.lines] if args.lines else lines
        with Progress(len(lines), "keystrokes (lines)") as bar:
            result = {"model": args.model, "text": str(args.text), **measure(predictor, lines, bar)}
    except UserError as e:
        print(f"keystrokes: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<26} {value:.4f}" if isinstance(value, float) else f"{key:<26} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
