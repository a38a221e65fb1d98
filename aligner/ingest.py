"""Reading input files: UTF-8 text, with clear errors for what is not."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
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


def _binary_lines(path: str | Path) -> Iterator[bytes]:
    if str(path) == "-":
        yield from sys.stdin.buffer
        return
    try:
        with open(path, "rb") as stream:
            yield from stream
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a JSONL file") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _ids(value) -> bool:
    return isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in value)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_link_records(path: str | Path) -> Iterator[dict]:
    """Link records from JSONL (`align -f jsonl`, `channel`'s corpus.jsonl), one a line, streamed;
    `-` reads stdin. Each needs `src_ids`, `tgt_ids` (lists of ints) and `src`, `tgt` (texts);
    `type` is derived when missing; other fields pass through. Blank lines are skipped."""
    name = "<stdin>" if str(path) == "-" else str(path)
    count = 0
    for number, raw in enumerate(_binary_lines(path), start=1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if b"\x00" in raw:
            raise InputError(f"{name} line {number}: looks binary (contains NUL bytes), expected JSONL")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name} line {number}: not valid UTF-8 at byte {exc.start} of the line") from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name} line {number}: not JSON ({exc.msg} at character {exc.pos + 1})") from None
        if not isinstance(record, dict):
            raise InputError(f"{name} line {number}: expected a JSON object, got {type(record).__name__}")
        for key, valid, what in (("src_ids", _ids, "a list of integers"), ("tgt_ids", _ids, "a list of integers"),
                                 ("src", lambda v: isinstance(v, str), "a string"),
                                 ("tgt", lambda v: isinstance(v, str), "a string")):
            if key not in record:
                raise InputError(f"{name} line {number}: no {key!r} field")
            if not valid(record[key]):
                raise InputError(f"{name} line {number}: {key!r} must be {what}")
        for key in ("score", "similarity"):
            if record.get(key) is not None and not _number(record[key]):
                raise InputError(f"{name} line {number}: {key!r} must be a number")
        if not isinstance(record.get("type", ""), str):
            raise InputError(f"{name} line {number}: 'type' must be a string such as \"1-1\"")
        for key, value in record.items():
            if isinstance(value, str) and _SURROGATE.search(value):
                raise InputError(f"{name} line {number}: {key!r} holds a lone surrogate escape "
                                 "(\\ud800-\\udfff), which is not text")
        record.setdefault("type", f"{len(record['src_ids'])}-{len(record['tgt_ids'])}")
        count += 1
        yield record
    if not count:
        raise InputError(f"{name}: holds no links")
