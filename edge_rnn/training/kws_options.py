"""Parsing of `train kws --noise-weights` and `--negative-words`."""

from __future__ import annotations

from edge_rnn.runtime.errors import UserError


def noise_weights_option(text: str | None, recordings: bool) -> dict[str, float] | None:
    """'babble=0.6,shaped=0.2' -> {kind: weight}; None for None."""
    from edge_rnn.training.noisemix import KIND_WEIGHTS

    if text is None:
        return None
    known = [*KIND_WEIGHTS, "recorded"]
    weights = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        kind, _, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if kind.strip() not in known or not 0 <= weight < float("inf") or kind.strip() in weights:
            raise UserError(f"--noise-weights needs KIND=WEIGHT pairs like babble=0.6,shaped=0.3,mixture=0.1 "
                            f"(kinds {', '.join(known)}; each once, weights >= 0), got {text!r}")
        weights[kind.strip()] = weight
    if "recorded" in weights and not recordings:
        raise UserError("--noise-weights recorded=... needs --noise DIR, a folder of your background recordings")
    drawn = [k for k, w in weights.items() if w > 0]
    if not drawn:
        raise UserError(f"--noise-weights needs at least one kind with a weight above 0, got {text!r}")
    if "mixture" in drawn and len([k for k in drawn if k != "mixture"]) < 2:
        raise UserError("--noise-weights: a mixture is two of the other kinds: give two of them a weight above 0")
    return weights


def negative_words_option(text: str | None, keywords: list[str], babble_voices: int) -> tuple[str, ...]:
    """'fine,hero' -> ('fine', 'hero'): words that sound like a keyword but are none."""
    if text is None:
        return ()
    words = tuple(dict.fromkeys(w.strip() for w in text.split(",") if w.strip()))
    if not words:
        raise UserError(f"--negative-words needs comma-separated words like fine,hero, got {text!r}")
    if not babble_voices:
        raise UserError("--negative-words are said by the --babble-voices voices: give --babble-voices too, e.g. 150")
    clash = [w for w in words if w.lower() in {k.lower() for k in keywords}]
    if clash:
        raise UserError(f"--negative-words must not be keywords: {', '.join(clash)}")
    return words
