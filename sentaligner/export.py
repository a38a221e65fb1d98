"""Writing aligned links: TSV, JSONL, vecalign, TMX 1.4, Moses and Parquet, streamed, to stdout
or atomically to files (temp file, then rename; an existing file only with `force`)."""

from __future__ import annotations

import hashlib
import json
import math
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
from .score import LONG_SEGMENT_CHARS, is_long_segment
from .version import __version__

FORMATS = ("tsv", "jsonl", "vecalign", "tmx", "moses", "parquet", "xlsx")
TSV_COLUMNS = ("src_ids", "tgt_ids", "type", "score", "similarity", "src", "tgt", "flags")

# What XML 1.0 allows (https://www.w3.org/TR/xml/#charsets); everything else is removed.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Characters Python's str.splitlines breaks on: one of them inside a Moses line would shift the file.
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Record fields written as TMX properties, in this order.
_TMX_PROPS = (("score", "x-score"), ("similarity", "x-similarity"), ("type", "x-link-type"),
              ("src_ids", "x-src-ids"), ("tgt_ids", "x-tgt-ids"), ("flags", "x-flags"),
              ("src_post_id", "x-src-post-id"), ("tgt_post_id", "x-tgt-post-id"), ("date", "x-date"),
              ("src_where", "x-src-where"), ("tgt_where", "x-tgt-where"))


@dataclass
class ExportOptions:
    src_lang: str = "ru"
    tgt_lang: str = "nb"
    src_locale: str | None = None  # TMX language codes; default the full locale of the language
    tgt_locale: str | None = None
    signature: str = ""  # how the links were made, kept in the TMX header
    document: str = ""  # the source document's name: TMX `file` prop (with the place as `id`, OmegaT's context)
    keep_duplicates: bool = False  # TMX: write a pair repeated with the same texts every time

    def locales(self) -> tuple[str, str]:
        return (normalize_locale(self.src_locale or self.src_lang),
                normalize_locale(self.tgt_locale or self.tgt_lang))


@dataclass
class ExportStats:
    written: int = 0
    one_sided: int = 0  # skips left out of TMX and Moses, which only hold translation pairs
    removed_chars: int = 0  # characters XML 1.0 forbids, dropped from TMX
    duplicates: int = 0  # TMX: pairs already written with the same texts, left out
    long_segments: int = 0  # TMX: units with a side over LONG_SEGMENT_CHARS (written, flagged)

    def warnings(self, fmt: str) -> list[str]:
        """What changed or may be refused downstream."""
        found = []
        if self.removed_chars:
            found.append(f"{self.removed_chars} character(s) that XML 1.0 forbids were removed from the TMX")
        if self.long_segments:
            found.append(f"{self.long_segments} TMX unit(s) have a side over {LONG_SEGMENT_CHARS:,} characters, "
                         "which Trados refuses; they carry the flag long_segment")
        return found

    def notes(self, fmt: str) -> list[str]:
        """What a reader of the summary should know about the file, in plain words."""
        found = []
        if self.one_sided:
            found.append(f"{fmt}: {_counted(self.one_sided, 'sentence')} without a counterpart (1-0 or 0-1 links) "
                         f"left out; {_PAIRS_ONLY.get(fmt, fmt)} translation pairs only")
        if self.duplicates:
            found.append(f"tmx: {_counted(self.duplicates, 'pair')} that occurred before with the same texts "
                         "left out (--keep-duplicates writes every one)")
        return found

    def as_dict(self) -> dict[str, int]:
        return {"written": self.written, "one_sided_left_out": self.one_sided, "duplicates_left_out": self.duplicates,
                "long_segments": self.long_segments, "removed_characters": self.removed_chars}


_PAIRS_ONLY = {"tmx": "TMX holds", "moses": "Moses files hold", "parquet": "the Parquet file holds"}
XLSX_COLUMNS = ("source", "target", "score", "flags", "where")
XLSX_CHARS_PER_LINE = 58  # of the 60-character-wide text columns, in the default font


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def output_paths(output: str | Path | None, fmt: str, options: ExportOptions) -> list[Path] | None:
    """The files a format writes (None: stdout). Moses writes OUTPUT.<src_lang> and OUTPUT.<tgt_lang>."""
    if output is None or str(output) == "-":
        if fmt == "moses":
            raise UsageError("moses writes two files: give -o PREFIX (writes PREFIX.ru and PREFIX.nb)")
        if fmt in ("parquet", "xlsx"):
            raise UsageError(f"{fmt} is a binary file: give -o FILE")
        return None
    output = Path(output)
    if fmt == "parquet":
        check_parquet()
    if fmt == "xlsx":
        check_xlsx()
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
    """Write link records (see `sentaligner.pipeline.link_record`) in `fmt`, streaming."""
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
    elif fmt == "parquet":
        write_parquet(records, target, options, stats, force)
    elif fmt == "xlsx":
        with atomic_output(target, force, binary=True) as stream:
            _write_xlsx(records, stream, stats)
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


def tuid(src: str, tgt: str) -> str:
    """A unit's id from its two texts: the same pair gets the same id in every run and file."""
    return hashlib.blake2b(f"{src}\x00{tgt}".encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _write_tmx(records: Iterable[Mapping[str, Any]], stream: IO[bytes], options: ExportOptions,
               stats: ExportStats) -> None:
    from lxml import etree

    src_locale, tgt_locale = options.locales()
    now = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    written: dict[str, int] = {}  # tuid -> times written
    header = etree.Element("header", {
        "creationtool": "sentaligner", "creationtoolversion": __version__,
        "creationdate": now,
        "segtype": "sentence", "o-tmf": "sentaligner", "adminlang": "en-US",
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
                    unit_id = tuid(record["src"], record["tgt"])
                    times = written.get(unit_id, 0)
                    written[unit_id] = times + 1
                    if times and not options.keep_duplicates:
                        stats.duplicates += 1
                        continue
                    stats.written += 1
                    fields = record
                    if is_long_segment(record["src"], record["tgt"]):  # flagged here too for JSONL from elsewhere
                        stats.long_segments += 1
                        flags = list(record.get("flags") or [])
                        fields = {**record, "flags": flags if "long_segment" in flags else [*flags, "long_segment"]}
                    unit = etree.Element("tu", tuid=f"{unit_id}-{times + 1}" if times else unit_id,
                                         creationdate=now, changedate=now)
                    document = options.document or record.get("job")
                    context = (("file", document), ("id", record.get("src_where"))) if document else ()
                    for prop_type, value in context:
                        if value not in (None, ""):
                            etree.SubElement(unit, "prop", type=prop_type).text = _xml_text(str(value), stats)
                    for key, prop_type in _TMX_PROPS:
                        if fields.get(key) not in (None, "", []):
                            prop = etree.SubElement(unit, "prop", type=prop_type)
                            prop.text = _xml_text(_prop_value(fields[key]), stats)
                    for locale, text in ((src_locale, record["src"]), (tgt_locale, record["tgt"])):
                        variant = etree.SubElement(unit, "tuv", {_XML_LANG: locale})
                        etree.SubElement(variant, "seg").text = _xml_text(text, stats)
                    xml.write(unit, pretty_print=True)
            xml.write("\n")
    stream.write(b"\n")


PARQUET_ROWS_PER_GROUP = 10_000


def parquet_schema(src_lang: str, tgt_lang: str):
    """Hugging Face `datasets`' translation layout: `translation` {src_lang: text, tgt_lang: text},
    beside the link's id, score and the rest."""
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("job", pa.string()),
        ("translation", pa.struct([(src_lang, pa.string()), (tgt_lang, pa.string())])),
        ("score", pa.float64()), ("similarity", pa.float64()), ("type", pa.string()),
        ("src_ids", pa.list_(pa.int64())), ("tgt_ids", pa.list_(pa.int64())), ("flags", pa.list_(pa.string())),
        ("src_where", pa.string()), ("tgt_where", pa.string()),
    ])


def check_parquet() -> None:
    """A UsageError, before any work, where pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError('parquet needs pyarrow: pip install "sentaligner[parquet]"') from None


def write_parquet(records: Iterable[Mapping[str, Any]], path: Path | None, options: ExportOptions,
                  stats: ExportStats, force: bool = False) -> None:
    """Translation pairs (links with text on both sides) as Parquet, a row group per
    PARQUET_ROWS_PER_GROUP links, streamed; `id` is the record's own or its position."""
    check_parquet()
    import pyarrow as pa
    import pyarrow.parquet as pq
    if options.src_lang == options.tgt_lang:
        raise UsageError("parquet's translation column needs two different languages")
    schema = parquet_schema(options.src_lang, options.tgt_lang)
    with atomic_output(path, force, binary=True) as stream, pq.ParquetWriter(stream, schema) as writer:
        rows: list[dict] = []
        for position, record in enumerate(records):
            if not record["src"] or not record["tgt"]:
                stats.one_sided += 1
                continue
            flags = record.get("flags")
            rows.append({"id": str(record.get("id", position)),
                         "job": None if record.get("job") is None else str(record["job"]),
                         "translation": {options.src_lang: record["src"], options.tgt_lang: record["tgt"]},
                         "score": record.get("score"), "similarity": record.get("similarity"),
                         "type": record.get("type"), "src_ids": record["src_ids"], "tgt_ids": record["tgt_ids"],
                         "flags": [str(f) for f in flags] if isinstance(flags, list) else [],
                         "src_where": record.get("src_where"), "tgt_where": record.get("tgt_where")})
            if len(rows) == PARQUET_ROWS_PER_GROUP:
                writer.write_table(pa.Table.from_pylist(rows, schema))
                stats.written += len(rows)
                rows = []
        if rows or not stats.written:
            writer.write_table(pa.Table.from_pylist(rows, schema))
            stats.written += len(rows)


def check_xlsx() -> None:
    """A UsageError, before any work, where openpyxl is not installed."""
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise UsageError('xlsx needs openpyxl: pip install "sentaligner[documents]"') from None


def _sheet_key(record: Mapping[str, Any]) -> str:
    """The document a link belongs to: its batch job, or its channel post pair; one sheet each."""
    if record.get("job") is not None:
        return str(record["job"])
    if record.get("src_post_id") is not None or record.get("tgt_post_id") is not None:
        return f"{record.get('src_post_id', '')}-{record.get('tgt_post_id', '')}"
    return "links"


def _sheet_title(key: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", "_", key)[:31] or "links"
    title, n = base, 1
    while title.lower() in used:
        n += 1
        title = f"{base[:31 - len(str(n)) - 1]}~{n}"
    used.add(title.lower())
    return title


def _write_xlsx(records: Iterable[Mapping[str, Any]], stream: IO[bytes], stats: ExportStats) -> None:
    """The side-by-side sheet translators review in: a sheet per document, columns XLSX_COLUMNS, a
    frozen header, wrapped text, and a red-yellow-green colour scale on the score."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.formatting.rule import ColorScaleRule
    from openpyxl.styles import Alignment, Font

    workbook = Workbook(write_only=True)
    sheets: dict[str, Any] = {}
    rows: dict[str, int] = {}
    used: set[str] = set()
    wrapped, top = Alignment(wrap_text=True, vertical="top"), Alignment(vertical="top")

    def sheet_for(key: str):
        if key not in sheets:
            sheet = workbook.create_sheet(_sheet_title(key, used))
            sheet.freeze_panes = "A2"
            sheet.page_setup.orientation = "landscape"  # printed, the columns fit the page's width
            sheet.sheet_properties.pageSetUpPr.fitToPage = True
            sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
            sheet.print_title_rows = "1:1"
            for column, width in zip("ABCDE", (60, 60, 8, 18, 22), strict=True):
                sheet.column_dimensions[column].width = width
            header = []
            for name in XLSX_COLUMNS:
                cell = WriteOnlyCell(sheet, value=name)
                cell.font = Font(bold=True)
                header.append(cell)
            sheet.append(header)
            sheets[key], rows[key] = sheet, 1
        return sheets[key]

    for record in records:
        key = _sheet_key(record)
        sheet = sheet_for(key)
        where = " / ".join(filter(None, (record.get("src_where"), record.get("tgt_where"))))
        values = (_xml_text(record["src"], stats), _xml_text(record["tgt"], stats), record.get("score"),
                  ", ".join(map(str, record.get("flags") or [])), where)
        cells = []
        for column, value in enumerate(values):
            cell = WriteOnlyCell(sheet, value=value)
            cell.alignment = wrapped if column < 2 else top
            if column == 2:
                cell.number_format = "0.000"
            cells.append(cell)
        rows[key] += 1
        # Row heights are not fitted by every reader (LibreOffice keeps the default): set from the text.
        lines = max(1, *(math.ceil(len(str(value)) / XLSX_CHARS_PER_LINE) for value in values[:2]))
        sheet.row_dimensions[rows[key]].height = 15 * lines
        sheet.append(cells)
        stats.written += 1
    if not sheets:
        sheet_for("links")
    for key, sheet in sheets.items():
        if rows[key] > 1:
            sheet.conditional_formatting.add(f"C2:C{rows[key]}", ColorScaleRule(
                start_type="num", start_value=0, start_color="F8696B", mid_type="num", mid_value=0.5,
                mid_color="FFEB84", end_type="num", end_value=1, end_color="63BE7B"))
    workbook.save(stream)
