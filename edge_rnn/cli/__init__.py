"""The `edge-rnn` command. Commands are thin: they parse options and call library functions.

Every user mistake ends as one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from edge_rnn import __version__
from edge_rnn.runtime.errors import UserError

from . import export, run, train

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Recurrent networks from PyTorch to streaming ONNX.")
app.add_typer(train.app, name="train")
app.command("export")(export.export_cmd)
app.command("inspect")(run.inspect_cmd)
app.command("stream")(run.stream_cmd)
app.command("eval")(run.eval_cmd)
app.command("bench")(run.bench_cmd)


def _version(value: bool) -> None:
    if value:
        import onnxruntime

        print(f"edge-rnn {__version__} (onnxruntime {onnxruntime.__version__})")
        raise typer.Exit()


@app.callback()
def _options(version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                                     help="print the version and exit")) -> None:
    pass


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line on stderr and exit 2."""
    try:
        code = app(args=argv, standalone_mode=False)
    except UserError as e:
        print(f"edge-rnn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
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
