"""Writing aligned links: TSV, JSONL, vecalign, TMX 1.4 and Moses, streamed, to stdout or
atomically to files (temp file, then rename; an existing file only with `force`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .errors import InputError, UsageError
from .evaluate import LinkOrder, format_link
from .files import atomic_output
from .language import normalize_locale
from .version import __version__

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


_LINE_SEPARATORS_IN_JSON = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(record: Mapping[str, Any]) -> str:
    """One JSONL line. json.dumps leaves U+0085, U+2028 and U+2029 raw; escaped, they cannot split
    the line for readers that break lines the way str.splitlines does."""
    text = json.dumps(record, ensure_ascii=False)
    for raw, escaped in _LINE_SEPARATORS_IN_JSON.items():
        text = text.replace(raw, escaped)
    return text + "\n"


def write_jsonl(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    count = 0
    with atomic_output(path, force=True) as stream:
        for record in records:
            stream.write(json_line(record))
            count += 1
    return count


def export_links(records: Iterable[Mapping[str, Any]], output: str | Path | None, fmt: str,
                 options: ExportOptions | None = None, force: bool = False) -> ExportStats:
    """Write link records (see `aligner.pipeline.link_record`) in `fmt`, streaming."""
    options = options or ExportOptions()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    paths = output_paths(output, fmt, options)  # atomic_output refuses an existing file without force
    stats = ExportStats()
    target = paths[0] if paths else None
    if fmt == "moses":
        assert paths is not None  # output_paths refuses moses on stdout
        with atomic_output(paths[0], force) as src_stream, atomic_output(paths[1], force) as tgt_stream:
            _write_moses(records, src_stream, tgt_stream, stats)
    elif fmt == "tmx":
        with atomic_output(target, force, binary=True) as stream:
            _write_tmx(records, stream, options, stats)
    else:
        with atomic_output(target, force) as stream:
            stats.written = write_links(records, stream, fmt)
    return stats


def _number(value) -> str:
    return "" if value is None else f"{value:.4f}"


def _tsv_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def write_links(records: Iterable[Mapping[str, Any]], stream: IO[str], fmt: str) -> int:
    """Write records in a text format (tsv, jsonl, vecalign); returns how many were written."""
    count = 0
    if fmt == "tsv":
        stream.write("\t".join(TSV_COLUMNS) + "\n")
    order, documents = LinkOrder(monotonic=True), set()
    for record in records:
        if fmt == "vecalign":
            documents.add((record.get("src_post_id"), record.get("tgt_post_id")))
            if len(documents) > 1:
                raise InputError("these links come from several post pairs, and a vecalign file holds one "
                                 "document: write jsonl, tsv or tmx, or select one pair first (jq -c "
                                 "'select(.src_post_id == ID)')")
            problem = order.problem(record["src_ids"], record["tgt_ids"])
            if problem:
                raise InputError(f"link {count + 1}: {problem}; a vecalign file holds one document in order")
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


def _write_moses(records: Iterable[Mapping[str, Any]], src_stream: IO[str], tgt_stream: IO[str],
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


def _write_tmx(records: Iterable[Mapping[str, Any]], stream: IO[bytes], options: ExportOptions,
               stats: ExportStats) -> None:
    from lxml import etree

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
