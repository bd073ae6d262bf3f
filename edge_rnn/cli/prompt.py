"""The interactive next-word prompt: predictions update as you type, letter by letter.

While a word is being typed the suggestions complete it (words that start with the letters so
far); Tab takes the first one. Space ends a word (one step of the model), a sentence mark such as
`.` ends the sentence as the model's text rules say, Backspace can go back across words (the
state before each word is kept), Enter ends the sentence, Ctrl-D or Ctrl-C quits.
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


class _Line:
    """The words of the line so far, the word being typed, and the state before each word."""

    def __init__(self, predictor: NextWordPredictor):
        self.predictor, self.words, self.partial, self.history = predictor, [], "", []

    def end_word(self) -> None:
        if self.partial:
            self.history.append(self.predictor.get_state())
            self.predictor.feed(self.partial)
            self.words.append(self.partial)
            self.partial = ""

    def back(self) -> None:
        if self.partial:
            self.partial = self.partial[:-1]
        elif self.words:
            self.predictor.set_state(self.history.pop())
            self.partial = self.words.pop()


def run_prompt(predictor: NextWordPredictor, top_k: int, stdin=None, stdout=None) -> None:
    import termios
    import tty

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    line = _Line(predictor)
    stdout.write("type words; Tab takes the first suggestion, Enter ends the sentence, Ctrl-D quits\n")
    try:
        tty.setcbreak(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        while True:
            shown = predictor.top_k(top_k, line.partial)
            stdout.write(_render(line.words, line.partial, shown))
            stdout.flush()
            ch = stdin.read(1)
            if ch in ("", "\x04", "\x03"):  # EOF, Ctrl-D, Ctrl-C
                break
            if ch in ("\r", "\n"):
                line.end_word()
                predictor.end_sentence()
                stdout.write("\n")
                line = _Line(predictor)
            elif ch == " ":
                line.end_word()
            elif ch == "\t" and shown:
                word = shown[0][0]
                line.partial = word[:1].upper() + word[1:] if line.partial[:1].isupper() else word
                line.end_word()
            elif ch in ("\x7f", "\b"):
                line.back()
            elif ch.isprintable():
                line.partial += ch
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        stdout.write("\n")
        stdout.flush()
