"""PyTorch -> ONNX with every recurrent state as a named input and output.

We use the TorchScript-based exporter (`dynamo=False`) on purpose: it maps nn.LSTM/GRU/RNN to
the ONNX LSTM/GRU/RNN ops with dynamic batch and time axes. Traps we avoid, each checked by the
parity test rather than trusted:
- an example input of time 1 can freeze the time axis: we trace with time 5, batch 2;
- one tensor object passed as both h and c can merge two inputs: every state is its own tensor;
- declared output shapes can be frozen: every output gets dynamic batch/time axes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import onnx
import torch

from edge_rnn.runtime.contract import Contract, StateSpec
from edge_rnn.runtime.model_file import DIGEST_KEY, DIGEST_PREFIX, PLACEHOLDER, stamp_digest
from edge_rnn.runtime.textrules import TextRules
from edge_rnn.runtime.vocab import EOS, UNK

from .wrappers import StreamingWrapper, io_names, top_k_for

OPSET = 17


def example_inputs(config, batch: int = 2, time: int = 5):
    """Inputs for tracing: time > 1 and distinct, non-zero state tensors."""
    gen = torch.Generator().manual_seed(0)
    if config.task == "lm":
        x = torch.randint(0, config.vocab_size, (batch, time), generator=gen)
    elif config.task == "series":
        x = torch.rand(batch, time, config.n_inputs, generator=gen) * 20.0
    else:
        x = torch.rand(batch, time * config.hop, generator=gen) * 0.2 - 0.1
    state = [torch.randn(batch, size, generator=gen) * 0.1 for _, size in config.state_sizes]
    return x, state


def export_fp32(model: torch.nn.Module, config, path: Path) -> None:
    """Trace `model` (in eval mode) to an fp32 ONNX file at `path`, without metadata."""
    model.eval()
    inputs, outputs = io_names(config)
    x, state = example_inputs(config)
    audio = config.task == "kws"
    axes = {inputs[0]: {0: "batch", 1: "samples" if audio else "time"},
            outputs[0]: {0: "batch", 1: "frames" if audio else "time"}}
    axes.update({name: {0: "batch"} for name in inputs[1:] + outputs[1:]})  # states, top-k
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(StreamingWrapper(model), (x, *state), str(path), dynamo=False,
                          input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True)


def make_contract(config, precision: str, extra: dict) -> Contract:
    """The contract of a model with this config; `extra` holds the vocab and the text rules (lm),
    or the detector and the training speakers (kws); a forecaster's contract comes from its config."""
    inputs, outputs = io_names(config)
    n = len(config.state_sizes)
    states = [StateSpec(i, o, size) for i, o, (_, size) in
              zip(inputs[1:], outputs[-n:], config.state_sizes)]
    c = Contract(task=config.task, precision=precision, config=json.loads(config.to_json()), states=states,
                 input=inputs[0], output=outputs[0])
    if config.task == "lm":
        c.vocab, c.unk, c.eos = extra["vocab"], UNK, EOS
        c.top_k = top_k_for(config)
        c.text_rules = extra.get("text_rules") or TextRules()
    elif config.task == "series":
        c.columns, c.horizon, c.interval_s = list(config.columns), config.horizon, config.interval_s
        c.time_features, c.max_gap = list(config.time_features), config.max_gap
    else:
        c.labels, c.sample_rate, c.hop = config.labels, config.sample_rate, config.hop
        c.detector = extra.get("detector", {})
        c.train_speakers = extra.get("train_speakers")
    return c


EMBEDDING_NOTICE = ("This model contains the weights of Google's speech_embedding model "
                    "(https://tfhub.dev/google/speech_embedding/1), licensed under the Apache License 2.0, "
                    "as distributed in ONNX form by openWakeWord (Apache-2.0).")
CHANGED_NOTICE = (" Those weights were changed: the embedding's last blocks were trained further with edge-rnn "
                  "(`edge-rnn train kws --tune-embedding`).")


def write_metadata(path: Path, contract: Contract, out: Path | None = None, embedding_changed: bool = False) -> None:
    """Replace the edge_rnn.* metadata_props of the model at `path`, check it, and save it to
    `out` with its integrity digest (the first entry, see runtime/model_file.py). A model with the
    speech embedding carries its licence notice, saying so when its weights were changed."""
    model = onnx.load(str(path))
    keep = [p for p in model.metadata_props if not p.key.startswith("edge_rnn.")]
    del model.metadata_props[:]
    model.metadata_props.add(key=DIGEST_KEY, value=DIGEST_PREFIX + PLACEHOLDER)
    model.metadata_props.extend(keep)
    for key, value in contract.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "edge-rnn"
    configs = contract.config.get("ensemble", [contract.config])  # a model's config, or each member's
    if any(c.get("front_end") == "speech-embedding" for c in configs):
        model.doc_string = EMBEDDING_NOTICE + (CHANGED_NOTICE if embedding_changed else "")
    fix_state_output_sizes(model, contract)
    onnx.checker.check_model(model)
    Path(out or path).write_bytes(stamp_digest(model.SerializeToString()))


def fix_state_output_sizes(model: onnx.ModelProto, contract: Contract) -> None:
    """The tracer names some state outputs' sizes symbolically (the audio context comes out of a
    Slice); write the fixed size, as on the matching input, for apps that read the graph's shapes."""
    sizes = {s.output: s.size for s in contract.states}
    for output in model.graph.output:
        if output.name in sizes:
            dims = output.type.tensor_type.shape.dim
            if len(dims) == 2 and not dims[1].HasField("dim_value"):
                dims[1].dim_value = sizes[output.name]
