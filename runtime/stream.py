"""One stream's state over a shared Session, with an allocation-free path for token steps.

The state lives in two sets of preallocated buffers; every step reads the current set, writes
the other and makes it current, so the state before the last step is kept until the next. A
single-token step of a language model runs through an onnxruntime IOBinding that does this (and
writes the top-k outputs) in place; the two bindings are built once, so a step makes no Python
objects but the call itself. Any other chunk goes through `Session.run` and is copied into the
other set, so both paths share one state.
"""

from __future__ import annotations

import struct

import numpy as np

from .session import Session

_MAGIC = b"ERS1"


class Stream:
    """One stream (or `batch` streams in lockstep). Not shared between threads; make one each."""

    def __init__(self, session: Session, batch: int = 1):
        self.session, self.batch = session, batch
        self._sets = [session.zero_state(batch), session.zero_state(batch)]
        self._cur = 0
        self._has_previous = False  # the other set holds the state before the last step
        self._bindings = None  # built on the first token step

    @property
    def state(self) -> list[np.ndarray]:
        """The current state arrays (batch, size). A step writes the other set of buffers and makes
        it current, so read this again after each step."""
        return self._sets[self._cur]

    @property
    def previous_state(self) -> list[np.ndarray] | None:
        """The state before the last step (valid until the next one), None after a reset or a
        set_state: with it a caller can ask the last step for other outputs, e.g. logits."""
        return self._sets[self._cur ^ 1] if self._has_previous else None

    def reset(self) -> None:
        """Start over: zero every state."""
        for s in self.state:
            s.fill(0.0)
        self._has_previous = False

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance over chunk x (batch, time); returns the model's main output for it."""
        out = self.session.run_outputs(x, self.state, self.session.output_names[:1])
        self._advance_to(out[1:])
        return out[0]

    def step_outputs(self, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
        """Advance over chunk x; return the named outputs (e.g. next_probs, next_ids)."""
        out = self.session.run_outputs(x, self.state, names)
        self._advance_to(out[len(names):])
        return out[: len(names)]

    def step_token(self, token: int) -> tuple[np.ndarray, np.ndarray]:
        """Language models with top-k outputs, batch 1: advance by one token id.

        Returns (next_probs, next_ids) as views into this stream's buffers, overwritten by the
        next step: copy them to keep them.
        """
        if self._bindings is None:
            self._bindings = [self._bind(i) for i in (0, 1)]
        self._token[0, 0] = token
        self.session.ort.run_with_iobinding(self._bindings[self._cur])
        self._cur ^= 1
        self._has_previous = True
        return self._top_probs, self._top_ids

    def _bind(self, cur: int):
        """An IOBinding from state set `cur` to the other set, plus token and top-k buffers."""
        c = self.session.contract
        if c.task != "lm" or not c.top_k or self.batch != 1:
            raise ValueError("token steps need a language model with top-k outputs and batch 1")
        if not hasattr(self, "_token"):
            self._token = np.zeros((1, 1), np.int64)
            self._top_probs = np.zeros((1, c.top_k), np.float32)
            self._top_ids = np.zeros((1, c.top_k), np.int64)
        io = self.session.ort.io_binding()
        pointer = lambda a: (a.shape, a.ctypes.data)
        io.bind_input("tokens", "cpu", 0, np.int64, *pointer(self._token))
        for spec, src, dst in zip(c.states, self._sets[cur], self._sets[cur ^ 1]):
            io.bind_input(spec.input, "cpu", 0, np.float32, *pointer(src))
            io.bind_output(spec.output, "cpu", 0, np.float32, *pointer(dst))
        io.bind_output("next_probs", "cpu", 0, np.float32, *pointer(self._top_probs))
        io.bind_output("next_ids", "cpu", 0, np.int64, *pointer(self._top_ids))
        return io

    def _advance_to(self, new_state: list[np.ndarray]) -> None:
        """A step's new state goes to the other set, which becomes current: the old one stays."""
        for dst, src in zip(self._sets[self._cur ^ 1], new_state):
            np.copyto(dst, src)
        self._cur ^= 1
        self._has_previous = True

    def _store(self, new_state: list[np.ndarray]) -> None:
        for dst, src in zip(self.state, new_state):
            np.copyto(dst, src)
        self._has_previous = False

    def get_state(self) -> list[np.ndarray]:
        return [s.copy() for s in self.state]

    def set_state(self, state: list[np.ndarray]) -> None:
        want = [(self.batch, s.size) for s in self.session.contract.states]
        got = [tuple(np.shape(s)) for s in state]
        if got != want:
            raise ValueError(f"state shapes {got} do not match this model's {want}")
        self._store([np.asarray(s, np.float32) for s in state])

    def state_bytes(self) -> bytes:
        """The state as bytes (a small header, then float32 little-endian), for suspend/resume."""
        header = struct.pack("<4sII", _MAGIC, len(self.state), self.batch)
        return header + b"".join(s.astype("<f4").tobytes() for s in self.state)

    def load_state_bytes(self, data: bytes) -> None:
        """Restore exactly what `state_bytes` produced (for the same model and batch)."""
        if len(data) < 12:
            raise ValueError("these state bytes are too short")
        magic, count, batch = struct.unpack_from("<4sII", data)
        sizes = [s.size for s in self.session.contract.states]
        if magic != _MAGIC or count != len(sizes) or batch != self.batch:
            raise ValueError("these state bytes are not from this model or batch size")
        flat = np.frombuffer(data, "<f4", offset=12)
        if flat.size != batch * sum(sizes):
            raise ValueError("state bytes have the wrong length for this model")
        parts = np.split(flat, np.cumsum([batch * s for s in sizes])[:-1])
        self._store([p.reshape(batch, s) for p, s in zip(parts, sizes)])
