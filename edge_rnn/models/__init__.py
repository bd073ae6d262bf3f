"""The torch networks: a recurrent stack, the language model, the keyword spotter and its audio
front ends (log-mel, or a pretrained speech embedding), ensembles of spotters, and the
forecaster of numeric series."""

from __future__ import annotations

from torch import nn

from edge_rnn.config import ModelConfig


def build_model(config: ModelConfig) -> nn.Module:
    """A new, untrained network for `config`."""
    if config.task == "lm":
        from .language import LanguageModel

        return LanguageModel(config)
    if config.task == "series":
        from .series import SeriesNet

        return SeriesNet(config)
    from .keyword import KeywordNet

    return KeywordNet(config)


def load_model(checkpoints: list[dict]) -> nn.Module:
    """The network of one loaded checkpoint, or an ensemble of several keyword spotters."""
    if len(checkpoints) > 1:
        from .ensemble import load_ensemble

        return load_ensemble(checkpoints)
    model = build_model(checkpoints[0]["config"])
    model.load_state_dict(checkpoints[0]["model"])
    return model.eval()
