"""`edge-rnn plot embeddings`: the table read from a checkpoint and from every exported form agrees
with the torch embedding, the map's coordinates agree across them, and the PNG is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from edge_rnn.cli import main
from edge_rnn.evaluation.embedding_table import embedding_of, load_table
from edge_rnn.evaluation.projection import affinities, pca, tsne
from edge_rnn.runtime.graph import read_graph

from conftest import rewrite_metadata

PNG = b"\x89PNG\r\n\x1a\n"


def torch_table(checkpoint: Path) -> np.ndarray:
    return torch.load(checkpoint, weights_only=True)["model"]["embed.weight"].numpy()


def onnxruntime_value(path: Path, tensor: str, vocab_size: int) -> np.ndarray:
    """What onnxruntime itself computes for a graph tensor when fed every token id once."""
    model = onnx.load(str(path))
    model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString())
    feeds = {i.name: np.zeros((1, i.shape[1]), np.float32) for i in session.get_inputs() if i.name != "tokens"}
    feeds["tokens"] = np.arange(vocab_size, dtype=np.int64)[None, :]
    return session.run([tensor], feeds)[0][0]


def dynamic_int8(fp32: Path, out: Path) -> Path:
    """The form of earlier int8 files: onnxruntime's dynamic quantization of the table's Gather."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out.with_suffix(".raw.onnx")), op_types_to_quantize=["Gather"],
                     weight_type=QuantType.QUInt8)
    return rewrite_metadata(out.with_suffix(".raw.onnx"), out, {})  # its digest made right again


def weight_only_int8(fp32: Path, out: Path) -> Path:
    """An int8 table with a scale per row dequantized in front of the Gather (weight-only int8)."""
    from edge_rnn.export.quantize import _store_int8

    model = onnx.load(str(fp32))
    table = next(n.input[0] for n in model.graph.node if n.op_type == "Gather" and n.input[1] == "tokens")
    assert _store_int8(model.graph, [(table, 0)]) == 1
    out.with_suffix(".raw.onnx").write_bytes(model.SerializeToString())
    return rewrite_metadata(out.with_suffix(".raw.onnx"), out, {})


def test_every_form_gives_the_torch_table(tmp_path, lm_checkpoint, lm_onnx, lm_int8):
    weight = torch_table(lm_checkpoint)
    row_step = np.abs(weight).max(axis=1, keepdims=True) / 127  # an int8 step of each row
    forms = {"int8": (lm_int8, row_step), "dynamic": (dynamic_int8(lm_onnx, tmp_path / "dyn.onnx"), None),
             "weight-only": (weight_only_int8(lm_onnx, tmp_path / "wo.onnx"), row_step)}
    assert np.array_equal(load_table(lm_checkpoint).vectors, weight)
    assert np.array_equal(load_table(lm_checkpoint.parent).vectors, weight)  # a run folder: its best.pt
    assert np.array_equal(load_table(lm_onnx).vectors, weight)
    dynamic_step = (weight.max() - weight.min()) / 255  # one uint8 scale for the whole table
    for name, (path, step) in forms.items():
        table = load_table(path)
        assert table.form in ("int8", "fp32") and table.specials == {0, 1}
        error = np.abs(table.vectors - weight)
        assert (error <= (step if step is not None else dynamic_step) / 2 + 1e-6).all(), name
        assert error.max() > 0, name  # really quantized
        _, tensor = embedding_of(read_graph(path.read_bytes()), len(table.vocab), str(path))
        np.testing.assert_allclose(table.vectors, onnxruntime_value(path, tensor, len(table.vocab)),
                                   rtol=0, atol=1e-6, err_msg=name)


def test_bundled_model_table_is_what_onnxruntime_computes():
    from edge_rnn.runtime.bundled import bundled_path

    table = load_table("ptb-lm")
    assert table.vectors.shape == (10000, 200) and table.vocab[:2] == ["<unk>", "<eos>"]
    _, tensor = embedding_of(read_graph(bundled_path("ptb-lm").read_bytes()), 10000, "ptb-lm")
    np.testing.assert_allclose(table.vectors, onnxruntime_value(bundled_path("ptb-lm"), tensor, 10000), atol=1e-6)


@pytest.fixture
def plot_json(capsys):
    """`edge-rnn plot embeddings ARGS --json`, run in this process; its JSON."""
    def run(*args) -> dict:
        capsys.readouterr()
        code = main(["plot", "embeddings", *map(str, args), "--json", "--quiet"])
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)
    return run


@pytest.fixture
def plot_error(capsys):
    """The one line a mistaken `edge-rnn plot embeddings ARGS` prints (exit code 2)."""
    def run(*args) -> str:
        capsys.readouterr()
        code = main(["plot", "embeddings", *map(str, args)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("edge-rnn: error: "), err
        return err
    return run


def coords(result: dict) -> np.ndarray:
    return np.array([[p["x"], p["y"]] for p in result["points"]])


def test_checkpoint_and_exports_draw_the_same_map(tmp_path, lm_checkpoint, lm_onnx, lm_int8, plot_json):
    maps = {name: plot_json(path, "--out", tmp_path / f"{name}.png", "--words", "12")
            for name, path in [("checkpoint", lm_checkpoint), ("fp32", lm_onnx), ("int8", lm_int8)]}
    words = [p["word"] for p in maps["checkpoint"]["points"]]
    vocab = load_table(lm_checkpoint).vocab
    assert words == vocab[2:14]  # the 12 most frequent words, the special words left out
    for name, result in maps.items():
        assert [p["word"] for p in result["points"]] == words and result["method"] == "pca"
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG
        assert 0 < result["variance"][1] <= result["variance"][0] and sum(result["variance"]) <= 1
    assert np.array_equal(coords(maps["fp32"]), coords(maps["checkpoint"]))
    weight = torch_table(lm_checkpoint)
    # int8 moves each row by at most half a step per number; allow the axes to turn a little too
    tolerance = 3 * np.sqrt(weight.shape[1]) * np.abs(weight).max() / 127 / 2
    difference = np.abs(coords(maps["int8"]) - coords(maps["checkpoint"])).max()
    assert 0 < difference < tolerance


def test_the_map_is_the_pca_of_the_torch_vectors(lm_checkpoint, plot_json):
    result = plot_json(lm_checkpoint, "--words", "10", "--specials")
    vectors = torch_table(lm_checkpoint)[:10].astype(np.float64)  # <unk> and <eos> first, then by frequency
    centred = vectors - vectors.mean(axis=0)
    got = coords(result)
    assert np.allclose(np.abs(got), np.abs(centred @ np.linalg.svd(centred)[2][:2].T), atol=1e-5)
    _, s, _ = np.linalg.svd(centred)
    np.testing.assert_allclose(result["variance"], s[:2] ** 2 / (s**2).sum(), atol=1e-5)


def test_highlighted_words_are_drawn_even_when_rare(tmp_path, lm_checkpoint, plot_json):
    vocab = load_table(lm_checkpoint).vocab
    rare = vocab[-1]
    out = tmp_path / "map.png"
    result = plot_json(lm_checkpoint, "--words", "5", "--highlight", f"{vocab[2]},{rare}", "--out", out)
    marked = {p["word"] for p in result["points"] if p["highlight"]}
    assert marked == {vocab[2], rare} and len(result["points"]) == 6 and result["most_frequent"] == 5
    assert out.read_bytes()[:8] == PNG and result["out"] == str(out)


def test_tsne_from_the_command_line(lm_int8, plot_json):
    result = plot_json(lm_int8, "--method", "tsne", "--words", "16")
    assert result["method"] == "tsne" and result["perplexity"] == 5 and len(result["points"]) == 16
    assert result["kl_divergence"] >= 0 and "variance" not in result
    assert np.isfinite(coords(result)).all() and coords(result).std(axis=0).min() > 0


def one_error_line(r: subprocess.CompletedProcess) -> str:
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and err.startswith("edge-rnn: error: "), err
    return err


def run_cli(*args, hide: str = "") -> subprocess.CompletedProcess:
    code = (f"import sys; sys.modules['{hide}'] = None; " if hide else "import sys; ") + \
        "from edge_rnn.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, timeout=300)


def test_a_keyword_spotter_is_refused(tmp_path, plot_error):
    from edge_rnn.checkpoint import save_checkpoint
    from edge_rnn.config import KWSConfig
    from edge_rnn.models.keyword import KeywordNet

    config = KWSConfig(labels=["_background_", "_unknown_", "yes"], hidden=[8])
    save_checkpoint(tmp_path / "kws.pt", KeywordNet(config), config)
    for source in ("fsdd-kws", tmp_path / "kws.pt"):
        assert "is a keyword spotter" in plot_error(source, "--json")


def altered(src: Path, dst: Path, change) -> Path:
    """A copy of an exported model whose graph `change(graph)` edited, its digest made right again."""
    model = onnx.load(str(src))
    change(model.graph)
    dst.with_suffix(".raw.onnx").write_bytes(model.SerializeToString())
    return rewrite_metadata(dst.with_suffix(".raw.onnx"), dst, {})


def test_a_file_without_a_readable_embedding_is_refused(tmp_path, lm_onnx, plot_error):
    def through_cast(graph):  # the token ids reach the table only through another node
        gather = next(n for n in graph.node if n.op_type == "Gather" and n.input[1] == "tokens")
        graph.node.insert(0, onnx.helper.make_node("Cast", ["tokens"], ["ids"], to=onnx.TensorProto.INT64))
        gather.input[1] = "ids"

    def computed_table(graph):  # the table is computed by an op the reader does not evaluate
        gather = next(n for n in graph.node if n.op_type == "Gather" and n.input[1] == "tokens")
        graph.node.insert(0, onnx.helper.make_node("Add", [gather.input[0], gather.input[0]], ["doubled"]))
        gather.input[0] = "doubled"

    assert "no word-embedding table read by its 'tokens' input" in plot_error(
        altered(lm_onnx, tmp_path / "cast.onnx", through_cast), "--json")
    assert "passes through a Add node" in plot_error(altered(lm_onnx, tmp_path / "add.onnx", computed_table), "--json")


def test_mistakes_are_one_line(tmp_path, lm_checkpoint, plot_error):
    cases = [(["--highlight", "zzzunknownzzz", "--json"], "not in the model's vocabulary"),
             (["--method", "umap", "--json"], "--method must be one of pca, tsne"),
             (["--out", tmp_path / "map.jpg"], "--out must name a .png file"),
             ([], "give --out FILE.png"),
             (["--method", "tsne", "--perplexity", "50", "--json"], "--perplexity must be between")]
    for args, message in cases:
        assert message in plot_error(lm_checkpoint, *args)
    (tmp_path / "notes.txt").write_text("not a model")
    assert "not an ONNX model" in plot_error(tmp_path / "notes.txt", "--json")
    assert "not found" in plot_error(tmp_path / "none.onnx", "--json")


def test_without_matplotlib_a_png_is_one_line_and_json_still_works(tmp_path, lm_onnx):
    r = run_cli("plot", "embeddings", lm_onnx, "--out", tmp_path / "map.png", hide="matplotlib")
    assert "pip install 'edge-rnn[plot]'" in one_error_line(r) and not (tmp_path / "map.png").exists()
    r = run_cli("plot", "embeddings", lm_onnx, "--json", hide="matplotlib")
    assert r.returncode == 0 and json.loads(r.stdout)["points"]


def test_exported_file_needs_neither_torch_nor_onnx(lm_int8):
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None; "
            "from edge_rnn.evaluation.embeddings import embedding_map; "
            f"print(len(embedding_map({str(lm_int8)!r}, quiet=True)['points']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode == 0 and int(r.stdout) > 10, r.stderr.decode()


def test_pca_keeps_a_known_share_of_variance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * [3.0, 2.0, 1.0] @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    _, shares = pca(x)
    np.testing.assert_allclose(shares, [9 / 14, 4 / 14], atol=0.03)


def test_tsne_calibrates_each_point_and_keeps_clusters_apart():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 30)
    x = rng.normal(0, 6, (4, 20))[labels] + rng.normal(size=(120, 20))
    p = affinities(x, 15)
    entropy = -(p * np.log(np.maximum(p, 1e-300))).sum(axis=1)
    np.testing.assert_allclose(entropy, np.log(15), atol=1e-4)
    y, kl = tsne(x, 15)
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).all() and 0 < kl < 1.5
    assert np.array_equal(y, tsne(x, 15)[0])  # the same words give the same map

