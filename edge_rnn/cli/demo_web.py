"""`edge-rnn demo-web`: the JavaScript client's web page, served on this machine."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Optional

import typer

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.fileio import remove_stale

from .common import JsonOut


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def demo_web_cmd(
    port: int = typer.Option(8000, help="the port on 127.0.0.1 (0: any free port)"),
    ort_web: Optional[Path] = typer.Option(None, help="onnxruntime-web's dist folder (default: clients/js/node_modules "
                                           "of the source tree, after `npm ci` there)"),
    out: Optional[Path] = typer.Option(None, help="write the site to this folder and stop, instead of serving it"),
    json_out: JsonOut = False,
):
    """Serve the web page: next-word suggestions as you type, keyword spotting from the
    microphone or a WAV file, all in the browser (onnxruntime-web, wasm) on the bundled models
    or any edge-rnn model file you open. Nothing is fetched from outside this machine."""
    from edge_rnn.demo_web import build_site, serve

    if not 0 <= port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {port}")
    if out is not None:
        site = build_site(out, ort_web)
        print(json.dumps(site) if json_out else f"wrote the page to {site['folder']}: serve that folder "
              "(python -m http.server) and open /web/index.html")
        return
    remove_stale(Path(tempfile.gettempdir()), "edge-rnn-web-*")  # left by a server that was killed -9
    signal.signal(signal.SIGTERM, _stop)  # a plain kill ends the server like Ctrl-C: the folder goes
    with tempfile.TemporaryDirectory(prefix=f"edge-rnn-web-{os.getpid()}-") as folder:
        build_site(Path(folder), ort_web)

        def ready(url: str) -> None:
            message = json.dumps({"url": url, "folder": folder}) if json_out else f"open {url}  (Ctrl-C stops)"
            print(message, flush=True)

        serve(Path(folder), port, ready)
