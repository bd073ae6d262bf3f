"""The interactive next-word prompt: predictions update as you type, word by word.

Space completes a word (one step of the model), Backspace can go back across words (the state
before each word is kept), Enter ends the sentence, Ctrl-D or Ctrl-C quits.
"""

from __future__ import annotations

import sys

from edge_rnn.runtime.lm import NextWordPredictor

DIM, RESET, CLEAR = "\033[2m", "\033[0m", "\r\033[K"


def _render(words: list[str], partial: str, predictions: list[tuple[str, float]]) -> str:
    typed = " ".join(words + [partial]) if partial else " ".join(words) + (" " if words else "")
    hint = "  ".join(f"{w} {p:.2f}" for w, p in predictions)
    tail = f"   {DIM}next: {hint}{RESET}"
    back = len(f"   next: {hint}")
    return f"{CLEAR}> {typed}{tail}\033[{back}D"


def run_prompt(predictor: NextWordPredictor, top_k: int, stdin=None, stdout=None) -> None:
    import termios
    import tty

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    words, partial, history = [], "", []
    stdout.write("type words; space predicts, Enter starts a new sentence, Ctrl-D quits\n")
    try:
        tty.setcbreak(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        while True:
            stdout.write(_render(words, partial, predictor.top_k(top_k)))
            stdout.flush()
            ch = stdin.read(1)
            if ch in ("", "\x04", "\x03"):  # EOF, Ctrl-D, Ctrl-C
                break
            if ch in ("\r", "\n"):
                if partial:
                    predictor.feed([partial])
                stdout.write("\n")
                predictor.reset()
                words, partial, history = [], "", []
            elif ch == " ":
                if partial:
                    history.append(predictor.get_state())
                    predictor.feed([partial])
                    words.append(partial)
                    partial = ""
            elif ch in ("\x7f", "\b"):
                if partial:
                    partial = partial[:-1]
                elif words:
                    predictor.set_state(history.pop())
                    partial = words.pop()
            elif ch.isprintable():
                partial += ch
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        stdout.write("\n")
        stdout.flush()
