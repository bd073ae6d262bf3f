"""The web page of the JavaScript client as a static site, served on this machine.

The page's own files (clients/js/web and clients/js/src) come from the source tree, or from the
installed package (`edge_rnn.webpage`, the same files); onnxruntime-web's wasm build comes from
npm (clients/js/node_modules after `npm ci`, or any `npm install onnxruntime-web@1.30.0`); the
default models are the bundled ones. The site makes no request outside its own folder.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path
from typing import Callable

from edge_rnn.runtime.bundled import bundled_path
from edge_rnn.runtime.errors import UserError

ORT_WEB = "1.30.0"  # the onnxruntime-web release the page is tested with (clients/js/package.json)
ORT_WEB_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")  # the wasm-only build
SOURCE_TREE = Path(__file__).resolve().parents[1] / "clients" / "js"
PAGE_FILES = {"web": ("*.html", "*.mjs", "*.js"), "src": ("*.mjs",)}
GET_ORT_WEB = (f"run `ONNXRUNTIME_NODE_INSTALL=skip npm ci` in clients/js of the source tree, or "
               f"`npm install onnxruntime-web@{ORT_WEB}` in any folder and pass "
               "--ort-web that/node_modules/onnxruntime-web/dist")


def page_source() -> Path:
    """The folder holding web/ and src/: the source tree's clients/js, else the installed copy."""
    if (SOURCE_TREE / "web" / "index.html").is_file():
        return SOURCE_TREE
    installed = Path(__file__).resolve().parent / "webpage"  # package data of a wheel (no __init__.py)
    if (installed / "web" / "index.html").is_file():
        return installed
    raise UserError("the web page's files are missing from this installation; reinstall edge-rnn")


def ort_web_dist(given: Path | None = None) -> Path:
    """onnxruntime-web's dist folder with the wasm build, refused with how to get it."""
    if given is None and not SOURCE_TREE.is_dir():  # installed from a wheel: no clients/js here
        raise UserError(f"the page needs onnxruntime-web's wasm build: `npm install onnxruntime-web@{ORT_WEB}` in "
                        "any folder, then pass --ort-web that/node_modules/onnxruntime-web/dist")
    dist = Path(given) if given else SOURCE_TREE / "node_modules" / "onnxruntime-web" / "dist"
    missing = [name for name in ORT_WEB_FILES if not (dist / name).is_file()]
    if missing:
        raise UserError(f"onnxruntime-web's wasm build ({missing[0]}) not found in {dist}: {GET_ORT_WEB}")
    return dist


def build_site(out: Path, ort_web: Path | None = None) -> dict:
    """Write the page with its assets into `out` (created; an existing folder must be empty or
    an earlier site). Other models than the bundled defaults are opened on the page itself.
    Returns {"folder", "files": {relative path: bytes}}."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "web" / "index.html").is_file():
        raise UserError(f"{out} is not empty; give a new folder for the site")
    source, dist = page_source(), ort_web_dist(ort_web)
    copies = [(f, Path(sub) / f.name) for sub, patterns in PAGE_FILES.items()
              for pattern in patterns for f in sorted((source / sub).glob(pattern))]
    copies += [(dist / name, Path("web/assets") / name) for name in ORT_WEB_FILES]
    copies += [(bundled_path(name), Path(f"web/assets/{name}.onnx")) for name in ("ptb-lm", "fsdd-kws")]
    files = {}
    for src, rel in copies:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / rel)
        files[rel.as_posix()] = (out / rel).stat().st_size
    return {"folder": str(out), "files": files}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm"}

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def serve(folder: Path, port: int = 8000, on_ready: Callable[[str], None] = print,
          stop: threading.Event | None = None) -> None:
    """Serve `folder` on 127.0.0.1:`port` (0: a free port) until Ctrl-C or `stop` is set;
    `on_ready(url)` gets the page's address once it is listening."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise UserError(f"cannot listen on 127.0.0.1:{port} ({e.strerror or e}); pick another --port") from None
    with server:
        on_ready(f"http://127.0.0.1:{server.server_address[1]}/web/index.html")
        if stop is not None:
            threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
