"""A language model's word-embedding table, read from a checkpoint or from an exported .onnx file.

An exported file is read without the `onnx` package: the table is found by following the graph
from the `tokens` input to the Gather that picks rows of a (vocab, embedding) table, and the
nodes between that Gather and the first float embedding are evaluated in numpy for every token
id. So whatever form the table has is dequantized the way the model itself does it: float32
(a plain Gather), int8 with a scale per row (Gather, Cast, Mul by the gathered row scale),
weight-only int8 (a DequantizeLinear in front of the Gather) or onnxruntime's dynamic
quantization (a DequantizeLinear after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_rnn.runtime.bundled import resolve_model
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.graph import DTYPES, Graph, Node, read_graph
from edge_rnn.runtime.vocab import EOS, UNK

SPOTTER = "is a keyword spotter: it has no word embedding to draw (give a language model)"
# the ops a table's dequantization is made of; anything else ends the walk
_DEQUANTIZE = ("Cast", "DequantizeLinear", "Identity")


@dataclass
class EmbeddingTable:
    vectors: np.ndarray  # (vocab, embedding) float32; row i is token id i
    vocab: list[str]
    specials: set[int]  # ids of the unknown and end-of-sentence words
    source: str
    form: str  # "checkpoint", or the precision of an exported file


def load_table(source: str | Path) -> EmbeddingTable:
    """The embedding of a checkpoint (.pt), of a run folder's best.pt, of an .onnx file or of a
    bundled model (by name)."""
    path = Path(source)
    if path.is_dir():
        if not (path / "best.pt").is_file():
            raise UserError(f"{path} is a folder without best.pt; give a checkpoint, a run folder or an .onnx file")
        path = path / "best.pt"
    elif not path.exists():
        path = resolve_model(str(source))  # a bundled model's name (or a clear error)
    with open(path, "rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive; ONNX is a bare protobuf
    return table_from_checkpoint(path) if zipped else table_from_onnx(path)


def table_from_checkpoint(path: Path) -> EmbeddingTable:
    try:
        from edge_rnn.checkpoint import load_checkpoint
    except ImportError:
        raise UserError("reading a checkpoint needs PyTorch: pip install 'edge-rnn[train]' (or give an exported "
                        ".onnx file)") from None

    ckpt = load_checkpoint(path)
    if ckpt["config"].task != "lm":
        raise UserError(f"{path} {SPOTTER}")
    weight = ckpt["model"].get("embed.weight")
    vocab = ckpt.get("vocab")
    if weight is None or not isinstance(vocab, list) or weight.shape[0] != len(vocab):
        raise UserError(f"{path} holds no embedding table with one row per vocabulary word")
    specials = {i for i, w in enumerate(vocab) if w in (UNK, EOS)}
    return EmbeddingTable(weight.float().numpy().copy(), vocab, specials, str(path), "checkpoint")


def table_from_onnx(path: Path) -> EmbeddingTable:
    from edge_rnn.runtime.contract import parse_metadata
    from edge_rnn.runtime.model_file import read_model

    model = read_model(path)
    contract = parse_metadata(model.metadata, str(path))
    if contract.task != "lm":
        raise UserError(f"{path} {SPOTTER}")
    try:
        graph = read_graph(model.data)
    except ValueError as e:
        raise UserError(f"{path}: cannot read its graph ({e})") from None
    vectors, _ = embedding_of(graph, len(contract.vocab), str(path))
    specials = {contract.vocab.index(contract.unk), contract.vocab.index(contract.eos)}
    return EmbeddingTable(vectors, contract.vocab, specials, str(path), contract.precision)


def embedding_of(graph: Graph, vocab_size: int, where: str, input_name: str = "tokens") -> tuple[np.ndarray, str]:
    """((vocab, embedding) float32 table, the name of the graph tensor that holds a token's
    embedding): the graph's own dequantization evaluated for every token id."""
    if input_name not in graph.inputs:
        raise UserError(f"{where} has no {input_name!r} input, so no word embedding")
    ids = np.arange(vocab_size, dtype=np.int64)[None, :]  # (1, vocab): one "sentence" of every token
    values: dict[str, np.ndarray] = {input_name: ids}
    gather = _table_gather(graph, values, input_name)
    if gather is None:
        raise UserError(f"{where} has no word-embedding table read by its {input_name!r} input")
    name = gather.outputs[0]
    while True:  # down the dequantizing nodes to the float embedding
        users = graph.consumers(name)
        if len(users) != 1 or not _dequantizes(graph, users[0], name, input_name):
            break
        name = users[0].outputs[0]
    table = _value(graph, name, values)
    if table.dtype != np.float32 or table.ndim != 3 or table.shape[:2] != (1, vocab_size):
        raise UserError(f"{where}: the rows its {input_name!r} input picks do not become a float "
                        "(token, embedding) table; cannot read the word embedding")
    return np.ascontiguousarray(table[0]), name


def _table_gather(graph: Graph, values: dict, input_name: str) -> Node | None:
    """The Gather that picks rows of a 2-D table by the token ids (a row scale's Gather is 1-D)."""
    for node in graph.consumers(input_name):
        if node.op == "Gather" and node.inputs[1:2] == [input_name] and node.attrs.get("axis", 0) == 0:
            if _value(graph, node.inputs[0], values).ndim == 2:
                return node
    return None


def _depends_on(graph: Graph, name: str, root: str) -> bool:
    if name == root:
        return True
    node = graph.producer(name)
    return node is not None and any(_depends_on(graph, i, root) for i in node.inputs if i)


def _dequantizes(graph: Graph, node: Node, name: str, input_name: str) -> bool:
    """Whether `node` is a step of the table's dequantization: a cast or dequantizer, or a Mul by
    a scale that itself depends on the token ids (the gathered row scales)."""
    if node.op in _DEQUANTIZE:
        return node.inputs[0] == name
    if node.op == "Mul" and len(node.inputs) == 2 and name in node.inputs:
        other = node.inputs[1 - node.inputs.index(name)]
        return _depends_on(graph, other, input_name)
    return False


def _value(graph: Graph, name: str, values: dict[str, np.ndarray]) -> np.ndarray:
    """The value of a tensor computed from token ids and initializers alone (memoized)."""
    if name in values:
        return values[name]
    if name in graph.initializers:
        return graph.initializers[name]
    node = graph.producer(name)
    if node is None:
        raise UserError(f"cannot read the word embedding: {name!r} depends on more than the tokens")
    args = [_value(graph, i, values) if i else None for i in node.inputs]
    values[name] = _evaluate(node, args)
    return values[name]


def _evaluate(node: Node, args: list) -> np.ndarray:
    """The ops a table and its dequantization are made of, in numpy."""
    a = node.attrs
    if node.op == "Gather":
        return np.take(args[0], args[1], axis=int(a.get("axis", 0)))
    if node.op == "Cast":
        return args[0].astype(DTYPES[int(a["to"])])
    if node.op == "Identity":
        return args[0]
    if node.op == "Mul":
        return (args[0] * args[1]).astype(np.result_type(args[0], args[1]))
    if node.op == "Unsqueeze":
        axes = a["axes"] if "axes" in a else args[1].tolist()  # an attribute before opset 13
        return np.expand_dims(args[0], tuple(int(x) for x in axes))
    if node.op == "Constant" and isinstance(a.get("value"), np.ndarray):
        return a["value"]
    if node.op == "DequantizeLinear":
        return _dequantize(args, int(a.get("axis", 1)))
    raise UserError(f"cannot read the word embedding: it passes through a {node.op} node")


def _dequantize(args: list, axis: int) -> np.ndarray:
    """(x - zero point) * scale, per tensor or along `axis`."""
    x, scale = args[0], args[1].astype(np.float32)
    zero = args[2] if len(args) > 2 and args[2] is not None else np.zeros_like(scale, x.dtype)
    if scale.ndim == 1 and x.ndim > 1:
        shape = [1] * x.ndim
        shape[axis % x.ndim] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((x.astype(np.int32) - zero.astype(np.int32)) * scale).astype(np.float32)
