"""Writing aligned links: vecalign, TSV and JSONL, to stdout or atomically to a file."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from .errors import OutputError
from .evaluate import format_link

FORMATS = ("tsv", "jsonl", "vecalign")
TSV_COLUMNS = ("src_ids", "tgt_ids", "type", "score", "similarity", "src", "tgt")


@contextlib.contextmanager
def atomic_output(path: str | Path | None) -> Iterator[TextIO]:
    """Yield a text stream; for a path, write a temp file beside it and rename it into place
    only when the block finishes, so an error never leaves a half-written or clobbered file."""
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write here: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
        os.replace(temp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _tsv_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def write_links(records: Iterable[dict], stream: TextIO, fmt: str) -> int:
    """Write link records (see `aligner.pipeline.link_record`); returns how many were written."""
    count = 0
    if fmt == "tsv":
        stream.write("\t".join(TSV_COLUMNS) + "\n")
    for record in records:
        if fmt == "vecalign":
            stream.write(format_link(record["src_ids"], record["tgt_ids"]) + "\n")
        elif fmt == "jsonl":
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif fmt == "tsv":
            cells = [
                ",".join(map(str, record["src_ids"])),
                ",".join(map(str, record["tgt_ids"])),
                record["type"],
                f"{record['score']:.4f}",
                f"{record['similarity']:.4f}",
                _tsv_cell(record["src"]),
                _tsv_cell(record["tgt"]),
            ]
            stream.write("\t".join(cells) + "\n")
        else:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        count += 1
    return count
