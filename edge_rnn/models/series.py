"""The forecaster: raw readings and clock values -> recurrent stack -> the next `horizon` values.

Everything a device would otherwise have to know is inside the network: the readings are
normalised with the training rows' mean and std (buffers), the clock values (hour of day, day of
year) become sin/cos pairs, and the output is the target's current reading plus a predicted
change scaled back to the target's unit. So the graph takes raw readings and returns forecasts in
the unit of the data, and "no change" (persistence) is what an untrained head predicts.

With a day's memory (`season` readings a day), the last day of the target's normalised readings
is one more state, a shift register, with a flag per slot that is 1 where a reading was (zeros,
the start of a stream, remember nothing). Each step also sees the readings one day before each
forecast time and one day before now: the seasonal-naive forecasts and the day-on-day change.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edge_rnn.config import SeriesConfig

from .recurrent import RecurrentStack

PERIODS = {"hour": 24.0, "day": 365.25}  # the cycle of each clock value, in its own unit


class SeriesNet(nn.Module):
    """readings (batch, time, columns + clock values) -> forecasts (batch, time, horizon)."""

    def __init__(self, config: SeriesConfig):
        super().__init__()
        self.config = config
        columns = len(config.columns)
        mean = config.mean or [0.0] * columns
        std = config.std or [1.0] * columns
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.register_buffer("angular", torch.tensor([2 * math.pi / PERIODS[f] for f in config.time_features],
                                                     dtype=torch.float32))
        self.lag_steps = config.lag_steps
        features = columns + 2 * len(config.time_features) + 2 * len(self.lag_steps)
        self.rnn = RecurrentStack(config.cell, features, config.hidden, config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden[-1], config.horizon)
        # a linear path from the step's own features: a smooth series' change is largely a fixed
        # mix of them (e.g. the seasonal-naive forecast plus the day-on-day change); the recurrent
        # part learns what that misses
        self.skip = nn.Linear(features, config.horizon, bias=False)
        for layer in (self.head, self.skip):
            nn.init.uniform_(layer.weight, -0.01, 0.01)  # start near persistence
        nn.init.zeros_(self.head.bias)

    def init_state(self, batch: int, device=None) -> list[torch.Tensor]:
        lag = [torch.zeros(batch, 2 * self.config.season, device=device)] if self.lag_steps else []
        return lag + self.rnn.init_state(batch, device)

    def features(self, readings: torch.Tensor) -> torch.Tensor:
        """(batch, time, columns + clocks) raw -> (batch, time, columns + 2 * clocks) normalised."""
        columns = self.mean.numel()
        x = (readings[..., :columns] - self.mean) / self.std
        if not self.config.time_features:
            return x
        angle = readings[..., columns:] * self.angular  # (batch, time, clocks)
        return torch.cat([x, torch.sin(angle), torch.cos(angle)], dim=-1)

    def day_before(self, target: torch.Tensor, lag: torch.Tensor):
        """target (batch, time) normalised, lag state (batch, 2 * season) -> the remembered
        readings and their flags at `lag_steps` before each step (batch, time, 2 * lags), and
        the new lag state. Slices end at -k, so any chunk length exports as the same graph."""
        season = self.config.season
        values = torch.cat([lag[:, :season], target], dim=1)  # (batch, season + time)
        flags = torch.cat([lag[:, season:], torch.ones_like(target)], dim=1)
        picked = [v[:, season - k:-k] for k in self.lag_steps for v in (values, flags)]
        return torch.stack(picked, dim=-1), torch.cat([values[:, -season:], flags[:, -season:]], dim=1)

    def changes(self, readings: torch.Tensor, state: list[torch.Tensor]):
        """The predicted changes of the target from its current reading, in units of its std:
        (batch, time, horizon), and the new state. What training fits."""
        x = self.features(readings)
        lag = []
        if self.lag_steps:
            past, new_lag = self.day_before(x[..., 0], state[0])
            x, state, lag = torch.cat([x, past], dim=-1), state[1:], [new_lag]
        h, state = self.rnn(x, state)
        return self.head(self.drop(h)) + self.skip(x), lag + state

    def forward(self, readings: torch.Tensor, state: list[torch.Tensor]):
        """readings (batch, time, columns + clocks) -> forecasts (batch, time, horizon) in the
        target's unit: forecast[..., k] is the target k + 1 intervals after that step."""
        change, state = self.changes(readings, state)
        return readings[..., :1] + change * self.std[0], state

    def int8_weights(self) -> list[torch.Tensor]:
        """The weights an int8 export stores as int8 besides the recurrent ones: none. The output
        layers are a few hundred numbers, and stored as int8 before a MatMul they would not run
        alike everywhere: a plain onnxruntime session turns that pair into MatMulNBits, whose
        numbers differ from the float product that edge-rnn's runtime computes."""
        return []
