"""The `edge-rnn` command. Commands are thin: they parse options and call library functions.

Every user mistake ends as one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Optional

import typer

from edge_rnn import __version__
from edge_rnn.runtime.errors import UserError

from . import demo_web, eval_noise, export, plot, run, train

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Recurrent networks from PyTorch to streaming ONNX.")
app.add_typer(train.app, name="train")
app.command("export")(export.export_cmd)
app.command("convert")(export.convert_cmd)
app.command("inspect")(run.inspect_cmd)
app.command("stream")(run.stream_cmd)
app.command("eval")(run.eval_cmd)
app.command("tune-detector")(eval_noise.tune_detector_cmd)
app.command("bench")(run.bench_cmd)
app.command("demo-web")(demo_web.demo_web_cmd)
app.add_typer(plot.app, name="plot")


def _version(value: bool) -> None:
    if value:
        import onnxruntime

        print(f"edge-rnn {__version__} (onnxruntime {onnxruntime.__version__})")
        raise typer.Exit()


@app.callback()
def _options(version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                                     help="print the version and exit")) -> None:
    pass


def _warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"edge-rnn: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line on stderr and exit 2."""
    if sys.stdout is None:
        print("edge-rnn: error: standard output is closed; give it a file or a pipe", file=sys.stderr)
        return 2
    warnings.showwarning = _warning
    try:
        code = app(args=argv, standalone_mode=False)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
    except UserError as e:
        rank = os.environ.get("RANK", "0")  # under torchrun every process reports; say which
        print(f"edge-rnn: error{'' if rank == '0' else f' (rank {rank})'}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except (BrokenPipeError, SystemExit) as e:
        # the reader went away (`| head -1`): stop quietly. click turns that into exit 1 and
        # wraps stdout so that its final flush stays silent
        if isinstance(e, SystemExit) and type(sys.stdout).__name__ != "PacifyFlushWrapper":
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
        return 0
    except OSError as e:  # a full disk, a closed or unwritable output
        target = f" {e.filename}" if e.filename else " (standard output)"
        print(f"edge-rnn: error: cannot write{target}: {e.strerror or e}", file=sys.stderr)
        return 2
    except Exception as e:
        # Typer's usage errors (bad flags, missing options; click-style, vendored or not).
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            print(f"edge-rnn: error: {e.format_message()}", file=sys.stderr)
            return 2
        if type(e).__name__ == "Abort":
            print("edge-rnn: aborted", file=sys.stderr)
            return 130
        raise
    return code if isinstance(code, int) else 0
