"""`edge-rnn demo-web`: the page and its assets written or served on 127.0.0.1, byte for byte the
files they come from, with the types a browser needs; a clear refusal when the wasm build is
missing. (The page itself runs in Chromium in test_js_client.py, served by this command.)"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from edge_rnn.demo_web import ORT_WEB_FILES, SOURCE_TREE, build_site, ort_web_dist, serve
from edge_rnn.runtime.bundled import bundled_path

EXE = [sys.executable, "-m", "edge_rnn.cli"]


@pytest.fixture(scope="module")
def dist(js_ready) -> Path:
    return ort_web_dist()


def test_the_site_holds_the_page_the_wasm_build_and_the_models(dist, tmp_path):
    site = build_site(tmp_path / "site")
    root = Path(site["folder"])
    assert (root / "web/index.html").read_bytes() == (SOURCE_TREE / "web/index.html").read_bytes()
    assert (root / "src/model.mjs").read_bytes() == (SOURCE_TREE / "src/model.mjs").read_bytes()
    for name in ORT_WEB_FILES:
        assert (root / "web/assets" / name).read_bytes() == (dist / name).read_bytes()
    assert (root / "web/assets/ptb-lm.onnx").read_bytes() == bundled_path("ptb-lm").read_bytes()
    assert site["files"]["web/assets/fsdd-kws.onnx"] == bundled_path("fsdd-kws").stat().st_size
    build_site(root)  # an earlier site is overwritten
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    r = subprocess.run(EXE + ["demo-web", "--out", str(tmp_path / "other")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not empty" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_served_on_loopback_with_the_types_a_browser_needs(dist, tmp_path):
    build_site(tmp_path)
    urls, stop = [], threading.Event()
    thread = threading.Thread(target=serve, args=(tmp_path, 0, urls.append, stop), daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if urls:
                break
            thread.join(0.05)
        base = urls[0].rsplit("/web/", 1)[0]
        assert base.startswith("http://127.0.0.1:")
        for path, kind in (("/web/index.html", "text/html"), ("/web/app.mjs", "text/javascript"),
                           ("/web/assets/ort-wasm-simd-threaded.wasm", "application/wasm")):
            with urllib.request.urlopen(base + path, timeout=30) as response:
                assert response.headers["Content-Type"].startswith(kind), path
                assert response.read() == (tmp_path / path.lstrip("/")).read_bytes()
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_missing_wasm_build_is_one_line_saying_how_to_get_it(tmp_path):
    r = subprocess.run(EXE + ["demo-web", "--ort-web", str(tmp_path), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "npm install onnxruntime-web@1.30.0" in err and "npm ci" in err, err


def test_the_wheel_carries_the_page(tmp_path):
    """A pip-installed edge-rnn has no clients/ folder: its wheel holds the page's own files."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(tmp_path), str(SOURCE_TREE.parents[1])], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    import zipfile

    names = set(zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist())
    for rel in ("web/index.html", "web/app.mjs", "web/mic-worklet.js", "src/model.mjs", "src/integrity.mjs"):
        assert f"edge_rnn/webpage/{rel}" in names
    assert not any("node_modules" in n for n in names)


def test_a_stopped_server_leaves_no_folder(dist):
    """SIGTERM ends the command as Ctrl-C does: the site's temporary folder is removed."""
    server = subprocess.Popen(EXE + ["demo-web", "--port", "0", "--json"], stdout=subprocess.PIPE, text=True)
    try:
        started = json.loads(server.stdout.readline())
        folder = Path(started["folder"])
        with urllib.request.urlopen(started["url"], timeout=30) as response:
            assert b"edge-rnn" in response.read()
        assert (folder / "web" / "assets" / "ptb-lm.onnx").is_file()
    finally:
        server.terminate()
        code = server.wait(timeout=30)
    assert code == 0 and not folder.exists()
