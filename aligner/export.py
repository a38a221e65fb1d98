"""Writing aligned links: TSV, JSONL, vecalign, TMX 1.4 and Moses, streamed, to stdout or
atomically to files (temp file, then rename; an existing file only with `force`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from lxml import etree

from . import __version__
from .errors import OutputError, UsageError
from .evaluate import format_link
from .language import normalize_locale

FORMATS = ("tsv", "jsonl", "vecalign", "tmx", "moses")
TSV_COLUMNS = ("src_ids", "tgt_ids", "type", "score", "similarity", "src", "tgt", "flags")

# What XML 1.0 allows (https://www.w3.org/TR/xml/#charsets); everything else is removed.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Characters Python's str.splitlines breaks on: one of them inside a Moses line would shift the file.
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Record fields written as TMX properties, in this order.
_TMX_PROPS = (("score", "x-score"), ("similarity", "x-similarity"), ("type", "x-link-type"),
              ("src_ids", "x-src-ids"), ("tgt_ids", "x-tgt-ids"), ("flags", "x-flags"),
              ("src_post_id", "x-src-post-id"), ("tgt_post_id", "x-tgt-post-id"), ("date", "x-date"))


@dataclass
class ExportOptions:
    src_lang: str = "ru"
    tgt_lang: str = "nb"
    src_locale: str | None = None  # TMX language codes; default the full locale of the language
    tgt_locale: str | None = None
    signature: str = ""  # how the links were made, kept in the TMX header

    def locales(self) -> tuple[str, str]:
        return (normalize_locale(self.src_locale or self.src_lang),
                normalize_locale(self.tgt_locale or self.tgt_lang))


@dataclass
class ExportStats:
    written: int = 0
    one_sided: int = 0  # skips left out of TMX and Moses, which only hold translation pairs
    removed_chars: int = 0  # characters XML 1.0 forbids, dropped from TMX

    def warnings(self, fmt: str) -> list[str]:
        notes = []
        if self.one_sided:
            notes.append(f"{self.one_sided} one-sided link(s) (1-0 / 0-1) are not written to {fmt}")
        if self.removed_chars:
            notes.append(f"{self.removed_chars} character(s) that XML 1.0 forbids were removed from the TMX")
        return notes


def output_paths(output: str | Path | None, fmt: str, options: ExportOptions) -> list[Path] | None:
    """The files a format writes (None: stdout). Moses writes OUTPUT.<src_lang> and OUTPUT.<tgt_lang>."""
    if output is None or str(output) == "-":
        if fmt == "moses":
            raise UsageError("moses writes two files: give -o PREFIX (writes PREFIX.ru and PREFIX.nb)")
        return None
    output = Path(output)
    if fmt == "moses":
        if options.src_lang == options.tgt_lang:
            raise UsageError("moses needs two different languages for its two file names")
        return [output.with_name(f"{output.name}.{options.src_lang}"),
                output.with_name(f"{output.name}.{options.tgt_lang}")]
    return [output]


def check_outputs(paths: list[Path] | None, force: bool) -> None:
    """Fail early, before any work, when an output exists and may not be replaced."""
    for path in paths or []:
        if path.is_dir():
            raise OutputError(f"{path}: is a directory")
        if path.exists() and not force:
            raise OutputError(f"{path}: exists; use --force to replace it")


_LINE_SEPARATORS_IN_JSON = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(record: dict) -> str:
    """One JSONL line. json.dumps leaves U+0085, U+2028 and U+2029 raw; escaped, they cannot split
    the line for readers that break lines the way str.splitlines does."""
    text = json.dumps(record, ensure_ascii=False)
    for raw, escaped in _LINE_SEPARATORS_IN_JSON.items():
        text = text.replace(raw, escaped)
    return text + "\n"


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
    the block finishes, so an error never leaves a half-written or clobbered file."""
    if path is None or str(path) == "-":
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
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


def write_jsonl(records: Iterable[dict], path: Path) -> int:
    count = 0
    with atomic_output(path, force=True) as stream:
        for record in records:
            stream.write(json_line(record))
            count += 1
    return count


def export_links(records: Iterable[dict], output: str | Path | None, fmt: str,
                 options: ExportOptions | None = None, force: bool = False) -> ExportStats:
    """Write link records (see `aligner.pipeline.link_record`) in `fmt`, streaming."""
    options = options or ExportOptions()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    paths = output_paths(output, fmt, options)  # atomic_output refuses an existing file without force
    stats = ExportStats()
    if fmt == "moses":
        with atomic_output(paths[0], force) as src_stream, atomic_output(paths[1], force) as tgt_stream:
            _write_moses(records, src_stream, tgt_stream, stats)
    elif fmt == "tmx":
        with atomic_output(paths and paths[0], force, binary=True) as stream:
            _write_tmx(records, stream, options, stats)
    else:
        with atomic_output(paths and paths[0], force) as stream:
            stats.written = write_links(records, stream, fmt)
    return stats


def _number(value) -> str:
    return "" if value is None else f"{value:.4f}"


def _tsv_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def write_links(records: Iterable[dict], stream: IO[str], fmt: str) -> int:
    """Write records in a text format (tsv, jsonl, vecalign); returns how many were written."""
    count = 0
    if fmt == "tsv":
        stream.write("\t".join(TSV_COLUMNS) + "\n")
    for record in records:
        if fmt == "vecalign":
            stream.write(format_link(record["src_ids"], record["tgt_ids"]) + "\n")
        elif fmt == "jsonl":
            stream.write(json_line(record))
        elif fmt == "tsv":
            cells = [
                ",".join(map(str, record["src_ids"])),
                ",".join(map(str, record["tgt_ids"])),
                record["type"],
                _number(record.get("score")),
                _number(record.get("similarity")),
                _tsv_cell(record["src"]),
                _tsv_cell(record["tgt"]),
                ",".join(map(str, record.get("flags") or [])) if isinstance(record.get("flags"), list) else "",
            ]
            stream.write("\t".join(cells) + "\n")
        else:
            raise ValueError(f"{fmt!r} is not a text format")
        count += 1
    return count


def _write_moses(records: Iterable[dict], src_stream: IO[str], tgt_stream: IO[str],
                 stats: ExportStats) -> None:
    for record in records:
        if not record["src"] or not record["tgt"]:
            stats.one_sided += 1
            continue
        src_stream.write(_LINE_BREAKS.sub(" ", record["src"]) + "\n")
        tgt_stream.write(_LINE_BREAKS.sub(" ", record["tgt"]) + "\n")
        stats.written += 1


def _xml_text(text: str, stats: ExportStats) -> str:
    cleaned, removed = _NOT_XML.subn("", text)
    stats.removed_chars += removed
    return cleaned


def _prop_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _write_tmx(records: Iterable[dict], stream: IO[bytes], options: ExportOptions,
               stats: ExportStats) -> None:
    src_locale, tgt_locale = options.locales()
    header = etree.Element("header", {
        "creationtool": "aligner", "creationtoolversion": __version__,
        "creationdate": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "segtype": "sentence", "o-tmf": "aligner", "adminlang": "en-US",
        "srclang": src_locale, "datatype": "plaintext"})
    if options.signature:
        etree.SubElement(header, "prop", type="x-signature").text = _xml_text(options.signature, stats)
    stream.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    with etree.xmlfile(stream, encoding="utf-8") as xml:
        xml.write_doctype('<!DOCTYPE tmx SYSTEM "tmx14.dtd">')
        with xml.element("tmx", version="1.4"):
            xml.write("\n")
            xml.write(header, pretty_print=True)
            with xml.element("body"):
                xml.write("\n")
                for record in records:
                    if not record["src"] or not record["tgt"]:
                        stats.one_sided += 1
                        continue
                    stats.written += 1
                    unit = etree.Element("tu", tuid=str(stats.written))
                    for key, prop_type in _TMX_PROPS:
                        if record.get(key) not in (None, "", []):
                            prop = etree.SubElement(unit, "prop", type=prop_type)
                            prop.text = _xml_text(_prop_value(record[key]), stats)
                    for locale, text in ((src_locale, record["src"]), (tgt_locale, record["tgt"])):
                        variant = etree.SubElement(unit, "tuv", {_XML_LANG: locale})
                        etree.SubElement(variant, "seg").text = _xml_text(text, stats)
                    xml.write(unit, pretty_print=True)
            xml.write("\n")
    stream.write(b"\n")


CHANNEL_FORMATS = ("jsonl", "tsv", "tmx", "moses")


def write_channel(result, outdir: str | Path, formats: Iterable[str], options: ExportOptions,
                  force: bool = False, report: bool = False) -> tuple[list[str], list[str]]:
    """Fill OUTDIR with pairs.jsonl, unpaired.jsonl, corpus.jsonl, summary.json, the corpus in the
    other formats asked (a `ChannelResult`) and, with `report`, report.html; returns the file names
    and any warnings."""
    warnings: list[str] = []
    with atomic_directory(outdir, force) as folder:
        write_jsonl(result.pairs, folder / "pairs.jsonl")
        write_jsonl(result.unpaired, folder / "unpaired.jsonl")
        write_jsonl(result.links, folder / "corpus.jsonl")
        for fmt in dict.fromkeys(formats):
            if fmt != "jsonl":
                stats = export_links(result.links, folder / ("corpus" if fmt == "moses" else f"corpus.{fmt}"),
                                     fmt, options, force=True)
                warnings += stats.warnings(fmt)
        summary = {"signature": result.signature, **result.stats}
        with atomic_output(folder / "summary.json", force=True) as stream:
            stream.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        if report:
            from .report import build_report, channel_facts

            page = build_report(result.links, title=f"Channel corpus: {Path(outdir).name}",
                                signature=result.signature, extra=channel_facts(result.stats))
            with atomic_output(folder / "report.html", force=True) as stream:
                stream.write(page)
        names = sorted(path.name for path in folder.iterdir())
    return names, warnings
