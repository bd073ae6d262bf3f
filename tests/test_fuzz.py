"""Fuzzing, seeded and fast: thousands of mutated WAV files and metadata sets. Each case ends in
a clear UserError or in a valid result, never in another exception, a hang or out-of-range data."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from edge_rnn.runtime.audio import parse_wav, to_mono_at
from edge_rnn.runtime.audio_stream import pipe_chunks
from edge_rnn.runtime.contract import parse_metadata
from edge_rnn.runtime.errors import UserError

from wavs import wav_bytes


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 6))):
        kind, at = rng.integers(4), int(rng.integers(0, max(1, len(data))))
        if kind == 0 and data:
            data[at] = int(rng.integers(0, 256))
        elif kind == 1:
            data = data[:at]
        elif kind == 2:
            data[at:at] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        elif data:
            data[at:at + 4] = (0xFFFFFFFF if rng.random() < 0.5 else 0).to_bytes(4, "little")  # a size field
    return bytes(data)


def test_mutated_wavs_decode_in_range_or_are_refused():
    rng = np.random.default_rng(7)
    tone = (0.9 * np.sin(np.arange(800) / 7.0)).astype(np.float32)
    seeds = [wav_bytes(tone, rate, bits, floating) for rate, bits, floating in
             [(8000, 16, False), (16000, 8, False), (44100, 24, False), (8000, 32, True), (22050, 64, True)]]
    refused = decoded = 0
    for i in range(2500):
        data = _mutate(seeds[i % len(seeds)], rng)
        try:
            samples, rate = parse_wav(data, "fuzz.wav")
        except UserError:
            refused += 1
            continue
        mono = to_mono_at(samples, rate, 8000) if samples.shape[0] < 200_000 else samples[:, 0]
        assert np.isfinite(mono).all() and np.abs(mono).max(initial=0) <= 1.0
        decoded += 1
        if i % 10 == 0:  # the pipe reader on the same bytes: chunks in range, or the same refusal
            try:
                for chunk in pipe_chunks(io.BytesIO(data), 8000, 800):
                    assert np.isfinite(chunk).all() and np.abs(chunk).max(initial=0) <= 1.0
            except UserError:
                pass
    assert refused > 100 and decoded > 100  # the mutations reach both outcomes


GOOD_KWS = {"edge_rnn.format": "1", "edge_rnn.task": "kws", "edge_rnn.precision": "int8", "edge_rnn.config": "{}",
            "edge_rnn.states": json.dumps([{"input": "state_context", "output": "state_context_out",
                                            "shape": ["batch", 120]}]),
            "edge_rnn.labels": '["_background_", "_unknown_", "zero"]', "edge_rnn.sample_rate": "8000",
            "edge_rnn.hop": "80", "edge_rnn.detector": '{"threshold": 0.5, "smooth_frames": 8}'}
GOOD_LM = {"edge_rnn.format": "1", "edge_rnn.task": "lm", "edge_rnn.config": "{}",
           "edge_rnn.states": json.dumps([{"input": "state_h0", "output": "state_h0_out", "shape": ["batch", 16]}]),
           "edge_rnn.vocab": '["<unk>", "<eos>", "the"]', "edge_rnn.unk": "<unk>", "edge_rnn.eos": "<eos>",
           "edge_rnn.top_k": "3"}
GOOD_SERIES = {"edge_rnn.format": "1", "edge_rnn.task": "series", "edge_rnn.config": "{}",
               "edge_rnn.states": json.dumps([{"input": "state_lag", "output": "state_lag_out", "shape": ["batch", 48]},
                                              {"input": "state_h0", "output": "state_h0_out", "shape": ["batch", 32]}]),
               "edge_rnn.columns": '["temp", "humidity"]', "edge_rnn.target": "temp", "edge_rnn.horizon": "6",
               "edge_rnn.interval_s": "3600", "edge_rnn.time_features": '["hour", "day"]', "edge_rnn.max_gap": "6"}
ODD_VALUES = ["", "0", "-1", "1e10", "nan", "null", "[]", "{}", '"x"', "[1, 2]", '{"a": [1]}', "\u00e9", "7" * 400,
              '[{"input": 1}]', '[{"input": "a", "output": "b", "shape": ["batch", true]}]', "true", "0.5", "[null]",
              '{"lowercase": true}', '{"clitics": ["\'s", 3]}', '{"strip": ".", "sentence_end": "?"}',
              '{"symbols": {"%": "N"}, "number": "N"}', '{"keep_period": "mr."}']


@pytest.mark.parametrize("good", [GOOD_KWS, GOOD_LM, GOOD_SERIES])
def test_random_metadata_parses_or_is_refused(good):
    assert parse_metadata(dict(good)).task == good["edge_rnn.task"]
    rng = np.random.default_rng(3)
    keys = list(good) + ["edge_rnn.train_speakers", "edge_rnn.top_k", "edge_rnn.text_rules"]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(2000):
        meta = dict(good)
        for _ in range(int(rng.integers(1, 4))):
            key = keys[rng.integers(len(keys))]
            if rng.random() < 0.15:
                meta.pop(key, None)
            else:
                meta[key] = ODD_VALUES[rng.integers(len(ODD_VALUES))]
        try:
            contract = parse_metadata(meta)
        except UserError as e:
            assert "\n" not in str(e) and len(str(e)) < 600
            outcomes["refused"] += 1
            continue
        outcomes["ok"] += 1
        assert all(1 <= s.size <= 1 << 24 for s in contract.states)
        assert contract.task != "kws" or (contract.hop >= 1 and contract.sample_rate >= 1000)
        assert contract.task != "lm" or contract.text_rules.split("It's 5%.")[1] in (True, False)  # rules that parse also run
        if contract.task == "series":
            assert contract.target == contract.columns[0] and all(isinstance(c, str) and c for c in contract.columns)
            assert 1 <= contract.horizon <= 10000 and 1 <= contract.interval_s and 0 <= contract.max_gap
            assert set(contract.time_features) <= {"hour", "day"}
    assert outcomes["refused"] > 500 and outcomes["ok"] > 20


def test_header_probe_agrees_with_the_decoder(tmp_path):
    """Training checks files by their headers alone (probe_wav) and reads only a word's frames
    (read_wav_span): on mutated files both refuse what read_wav refuses and read what it reads."""
    from edge_rnn.runtime.audio import probe_wav, read_wav, read_wav_span

    rng = np.random.default_rng(11)
    tone = (0.9 * np.sin(np.arange(800) / 7.0)).astype(np.float32)
    seeds = [wav_bytes(tone, rate, bits, floating) for rate, bits, floating in
             [(8000, 16, False), (16000, 8, False), (44100, 24, False), (8000, 32, True)]]
    path, outcomes = tmp_path / "f.wav", set()
    for i in range(600):
        path.write_bytes(_mutate(seeds[i % len(seeds)], rng))
        try:
            whole = read_wav(path, 8000) if path.stat().st_size < 400_000 else None
        except UserError as e:
            with pytest.raises(UserError) as probed:
                probe_wav(path)
            assert str(probed.value) == str(e)
            outcomes.add("refused")
            continue
        info = probe_wav(path)
        if whole is not None:
            np.testing.assert_array_equal(read_wav_span(path, info, 0, info.frames, 8000), whole)
            outcomes.add("read")
    assert outcomes == {"refused", "read"}
