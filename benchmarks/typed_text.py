"""Penn Treebank turned back into text as people type it, to measure a model on typed text.

    python benchmarks/typed_text.py ../shared/data/ptb/ptb.valid.txt.gz --out valid.typed.txt

PTB's corpus form (lower case, `it 's`, `N`, no punctuation, a sentence a line) becomes:
sentences that start with a capital and end with `.` (`?` after a question word), one to four
to a line; clitics joined (`it's`, `don't`, `can't`, `investors'`); every `N` a number (`$ N` ->
`$1,250`, `N N` -> `12%`, else `7`, `1987`, `3.5` or `4,500`); a comma before most `but` and
`which`; each `<unk>` a made-up word the vocabulary lacks (`Zorvakel`). Deterministic: one seed
makes one text. Prints a summary: sentences, lines, and how many sentences end in an
abbreviation whose period the PTB text rules keep (`... Acme Corp.`): there a line's next
sentence runs on, as it would when typed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path

from edge_rnn.runtime.textrules import PTB

CLITICS = {"'s", "n't", "'re", "'ve", "'m", "'ll", "'d", "'"}
QUESTION = {"what", "why", "how", "who", "where", "when"}
SYLLABLES = ["zor", "vak", "el", "qui", "mab", "tren", "oss", "ulv", "dri", "pex", "yan", "kol", "fim", "bre"]


def lines_of(path: Path) -> list[list[str]]:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
        return [line.split() for line in f if line.split()]


def number(rng: random.Random, money: bool) -> str:
    kind = rng.randrange(4)
    if money:
        return [f"{rng.randint(2, 99)}", f"{rng.randint(1, 9)},{rng.randint(0, 999):03d}",
                f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}", f"{rng.randint(100, 999)}"][kind]
    return [f"{rng.randint(1, 99)}", f"{rng.randint(1950, 1995)}", f"{rng.randint(1, 99)}.{rng.randint(1, 9)}",
            f"{rng.randint(1, 99)},{rng.randint(0, 999):03d}"][kind]


def made_up(rng: random.Random, known: set[str]) -> str:
    while True:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        if word not in known:
            return word.capitalize() if rng.random() < 0.5 else word


def typed_sentence(words: list[str], rng: random.Random, known: set[str]) -> str:
    """One corpus sentence as it would be typed."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "N":
            pair = i + 1 < len(words) and words[i + 1] == "N"  # PTB writes "5 %" as "N N"
            w = number(rng, bool(out) and out[-1] in ("$", "#")) + ("%" if pair else "")
            i += pair
            if out and out[-1] in ("$", "#"):
                out[-1] += w
                i += 1
                continue
        elif w == "<unk>":
            w = made_up(rng, known)
        elif w in CLITICS and out:
            out[-1] += w
            i += 1
            continue
        elif w in ("but", "which") and out and rng.random() < 0.7:
            out[-1] += ","
        out.append(w)
        i += 1
    out[0] = out[0][:1].upper() + out[0][1:]
    if not out[-1].endswith("."):
        out[-1] += "?" if words[0] in QUESTION else "."
    return " ".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text", type=Path, help="PTB text in corpus form (.txt or .gz)")
    ap.add_argument("--out", type=Path, required=True, help="where to write the typed text")
    ap.add_argument("--vocab-from", type=Path, help="text whose words made-up words must avoid "
                    "(default: ptb.train.txt.gz beside TEXT, else TEXT)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.text.is_file():
        print(f"typed_text: error: {args.text} not found", file=sys.stderr)
        return 2
    source = args.vocab_from or next((p for p in [args.text.with_name("ptb.train.txt.gz")] if p.is_file()), args.text)
    known = {w for line in lines_of(source) for w in line}
    rng = random.Random(args.seed)
    sentences = lines_of(args.text)
    typed, i, run_on = [], 0, 0
    while i < len(sentences):
        group = [typed_sentence(s, rng, known) for s in sentences[i : i + rng.randint(1, 4)]]
        run_on += sum(not PTB.split(s.split()[-1])[1] for s in group)
        typed.append(" ".join(group))
        i += len(group)
    args.out.write_text("\n".join(typed) + "\n", encoding="utf-8")
    print(json.dumps({"sentences": len(sentences), "lines": len(typed), "end_in_an_abbreviation": run_on,
                      "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
