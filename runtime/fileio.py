"""Write outputs so that nothing is lost: a temporary file in the same folder, renamed into place.

Temporary files are named `.NAME.PID.RANDOM.tmp`; one left behind by a writer that was killed
(its process is gone) is removed the next time anything is written to that folder. A set of
files that belong together (a training run's checkpoints and metrics) is written through a
journal, so that a reader sees all of the new files or all of the old ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import UserError

JOURNAL = ".edge-rnn-journal.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(name: str) -> int | None:
    """The PID in a temporary file's or folder's name, if it has one."""
    parts = name.split(".") if name.endswith(".tmp") else name.split("-")
    digits = [p for p in parts[-3:] if p.isdigit()]
    return int(digits[0]) if digits else None


def remove_stale(folder: Path, pattern: str = ".*.tmp") -> None:
    """Remove temporaries in `folder` left by writers that no longer run."""
    for path in Path(folder).glob(pattern):
        pid = _owner(path.name)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            if path.is_dir():
                for child in sorted(path.rglob("*"), reverse=True):
                    child.rmdir() if child.is_dir() else child.unlink()
                path.rmdir()
            else:
                path.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it.

    An existing `path` is replaced only once the new file is complete. The file gets the
    permissions a plain `open(path, "w")` would give (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_set(folder: str | Path, writers: dict[str, Callable[[Path], None]]) -> None:
    """Write the files `writers` names (each writer fills the path it is given) as one set: all
    are written to temporaries, a journal of the renames is written atomically, the renames
    follow, the journal goes last. A writer killed before the journal leaves the old set; one
    killed after it leaves a journal that `recover` completes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder)
    renames = {}
    try:
        for name, write in writers.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=folder)
            os.close(fd)
            renames[Path(tmp).name] = name
            write(Path(tmp))
            os.chmod(tmp, 0o666 & ~_umask())
        write_text_atomic(folder / JOURNAL, json.dumps(renames))
    except BaseException:
        for tmp in renames:
            (folder / tmp).unlink(missing_ok=True)
        raise
    recover(folder)


def recover(folder: str | Path) -> None:
    """Finish the renames a journal in `folder` lists (see write_set), and clear stale temporaries."""
    folder = Path(folder)
    journal = folder / JOURNAL
    try:
        renames = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no journal (or the writer itself just finished)
        renames = {}
    for tmp, final in renames.items():
        try:
            os.replace(folder / tmp, folder / final)
        except FileNotFoundError:  # renamed already
            pass
    if renames:
        journal.unlink(missing_ok=True)
    if folder.is_dir():
        remove_stale(folder)
