"""The one exception type for a user's mistake; the CLI prints its message on one line, exit 2."""


class UserError(Exception):
    """Bad input from the user: missing file, wrong model kind, bad WAV, impossible option.

    The message says what is wrong and how to fix it; no traceback is shown for it.
    """
