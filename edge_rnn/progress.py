"""A small progress line on stderr: redrawn in place on a terminal, a line every few seconds elsewhere."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str = "", enabled: bool = True, every: float = 5.0):
        self.total, self.label, self.enabled = max(1, total), label, enabled
        self.tty = sys.stderr.isatty()
        self.start = self.last = time.monotonic()
        self.every = 0.2 if self.tty else every
        self.done = 0

    def update(self, n: int = 1, info: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every or self.done >= self.total):
            self.last = now
            self._draw(now, info)

    def _draw(self, now: float, info: str) -> None:
        frac = min(1.0, self.done / self.total)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        bar = "#" * int(frac * 20)
        line = f"{self.label} [{bar:<20}] {frac:6.1%} {elapsed:5.0f}s eta {eta:5.0f}s {info}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
