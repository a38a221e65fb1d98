"""Writing files so that an error never leaves a half-written or clobbered one: a temp file or
folder beside the target, renamed into place when the work is done; an existing target only with
`force`."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import OutputError

STDOUT_SPOOL_BYTES = 16 * 1024 * 1024  # output to stdout is held in memory up to this, then in a temp file


def check_outputs(paths: list[Path] | None, force: bool) -> None:
    """Fail early, before any work, when an output exists and may not be replaced."""
    for path in paths or []:
        if path.is_dir():
            raise OutputError(f"{path}: is a directory")
        if path.exists() and not force:
            raise OutputError(f"{path}: exists; use --force to replace it")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _give_usual_mode(temp: str | Path, target: Path, folder: bool = False) -> None:
    """mkstemp/mkdtemp create owner-only files; give the result the mode of the file it replaces,
    or what the user's umask gives a new one."""
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else (0o777 if folder else 0o666) & ~_umask()
        os.chmod(temp, mode)
    except OSError:
        pass


@contextlib.contextmanager
def atomic_output(path: str | Path | None, force: bool = False, binary: bool = False) -> Iterator[IO]:
    """Yield a stream; for a path, write a temp file beside it and rename it into place only when
    the block finishes, so an error never leaves a half-written or clobbered file. Standard output
    gets the same: what is written goes to a spooled buffer (memory, then a temp file past
    STDOUT_SPOOL_BYTES) that reaches stdout only when the block finishes."""
    if path is None or str(path) == "-":
        spool: IO = (tempfile.SpooledTemporaryFile(STDOUT_SPOOL_BYTES, mode="w+b") if binary else
                     tempfile.SpooledTemporaryFile(STDOUT_SPOOL_BYTES, mode="w+", encoding="utf-8", newline="\n"))
        with spool:
            yield spool
            spool.seek(0)
            stream = sys.stdout.buffer if binary else sys.stdout
            shutil.copyfileobj(spool, stream)
            stream.flush()
        return
    target = Path(path)
    check_outputs([target], force)
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write here: {exc.strerror or exc}") from None
    try:
        if binary:
            with os.fdopen(handle, "wb") as stream:
                yield stream
        else:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                yield stream
        _give_usual_mode(temp_name, target)
        os.replace(temp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def check_directory(path: str | Path, force: bool) -> Path:
    """Fail early, before any work, when an output folder may not be written."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise OutputError(f"{target}: exists and is not empty; use --force to replace it")
    if not target.parent.is_dir():
        raise OutputError(f"{target.parent}: no such folder")
    return target


@contextlib.contextmanager
def atomic_directory(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `path` to fill; it becomes `path` only when the block finishes,
    so a failed or interrupted run leaves no partial folder (and an old one untouched)."""
    target = check_directory(path, force)
    try:
        temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"{target}: cannot write here: {exc.strerror or exc}") from None
    try:
        yield temp
        _give_usual_mode(temp, target, folder=True)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(temp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, target)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


LOCK_NAME = ".lock"


@contextlib.contextmanager
def hold_folder(folder: Path, command: str) -> Iterator[None]:
    """Hold FOLDER for one run: an exclusive lock (flock) on FOLDER/.lock, which names the holder.
    A second run refuses with one line instead of writing beside the first. The kernel drops the
    lock when its process ends, however it ends, so a killed run never blocks the next."""
    import fcntl  # POSIX; imported here so that the rest of this module stays portable

    path = folder / LOCK_NAME
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write here: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 300, 0).decode("utf-8", "replace").strip() or "another run"
            raise OutputError(f"{folder}: in use by {holder}; wait for it to end, or stop it") from None
        since = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{command} (pid {os.getpid()} on {socket.gethostname()}, since {since})\n".encode(), 0)
        yield
    finally:
        os.close(handle)  # and with it the lock; the file stays (removing it would race a newcomer)
