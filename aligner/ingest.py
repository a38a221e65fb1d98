"""Reading input files: UTF-8 text, with clear errors for what is not."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

MAX_INPUT_BYTES = 200 * 1024 * 1024


def read_text(path: str | Path) -> str:
    """The file's text (UTF-8, a BOM is dropped, line ends normalized to \\n).

    Raises InputError for a missing, unreadable, empty, binary or non-UTF-8 file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"{path}: {size / 2**20:.0f} MiB is larger than the "
                             f"{MAX_INPUT_BYTES // 2**20} MiB this command reads")
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a text file") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data[:65536]:
        raise InputError(f"{path}: looks binary (contains NUL bytes), expected UTF-8 text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 at byte offset {exc.start}") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{path}: is empty")
    return text
