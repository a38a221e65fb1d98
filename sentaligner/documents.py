"""Documents as translators have them, read into blocks in reading order, each with its place:
DOCX, ODT, EPUB, HTML, Markdown, SRT/VTT subtitles, the text layer of a PDF, and plain text
whose line breaks are boundaries (`line`), or wraps inside blank-line paragraphs (`paragraph`).

The format is chosen by content: the first bytes (`%PDF-`, a ZIP), a ZIP's `mimetype` entry or
its parts, the start of the text (`WEBVTT`, an SRT cue, an HTML tag); only Markdown, which is
plain text too, is told by its name (.md) as well. DOCX, ODT and EPUB are read with zipfile and
lxml (a DOCX body streamed, so a long book is never held whole), HTML with lxml and Markdown with
markdown-it-py (all installed with sentaligner); subtitles with pysubs2 and PDF with pypdf (the
extra `documents`)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, UsageError
from .ingest import read_input, text_of

LINE_BREAKS = ("auto", "line", "paragraph")
INSTALL = 'pip install "sentaligner[documents]"'


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph, heading, list item, table cell, caption, footnote or subtitle cue."""

    text: str
    kind: str  # p, h, li, cell, caption, footnote, cue, line
    where: str  # its place: `p 12`, `h2 3`, `table 1 r2 c3`, `cue 14 00:01:02,000`, `line 7`
    level: int = 0  # a heading's level
    times: tuple[float, float] | None = None  # a subtitle cue's start and end, in seconds


@dataclass
class Document:
    format: str  # text, docx, odt, epub, html, markdown, srt, vtt, pdf
    blocks: list[Block]
    line_breaks: str | None = None  # plain text: how its line breaks were read


def read_document(path: str | Path, encoding: str | None = None, line_breaks: str = "line",
                  notes: list[str] | None = None) -> Document:
    """The blocks of the document at `path`, its format told by its content."""
    path = Path(path)
    data = read_input(path, "a document")
    start = data[:8].lstrip()
    if start.startswith(b"%PDF-"):
        return Document("pdf", _checked(_pdf(path, data), path, "no text in its pages"))
    if start.startswith(b"PK\x03\x04"):
        kind, blocks = _zipped(path, data)
        return Document(kind, _checked(blocks, path, "no text"))
    text = text_of(data, path, encoding, notes)
    head = text.lstrip("\ufeff \n\t")[:2000]
    if head.startswith("WEBVTT"):
        return Document("vtt", _checked(_subtitles(path, text, "vtt"), path, "no subtitle text"))
    if re.match(r"\d+\s*\n\d{1,2}:\d\d:\d\d[,.]\d{3}\s*-->", head):
        return Document("srt", _checked(_subtitles(path, text, "srt"), path, "no subtitle text"))
    if re.match(r"(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", head, flags=re.I | re.S):
        return Document("html", _checked(html_blocks(text, path), path, "no text outside navigation, scripts "
                                                                        "and styles"))
    if path.suffix.lower() in (".md", ".markdown"):
        return Document("markdown", _checked(_markdown(text), path, "no text"))
    chosen = choose_line_breaks(text) if line_breaks == "auto" else line_breaks
    return Document("text", text_blocks(text, chosen), chosen)


def _checked(blocks: list[Block], path: Path, what: str) -> list[Block]:
    if not any(block.text.strip() for block in blocks):
        raise InputError(f"{path}: {what}")
    return blocks


# ---- plain text ----

_SENTENCE_END = re.compile(r"[.!?…:;。！？»”\"')\]]\s*$")


def choose_line_breaks(text: str) -> str:
    """`paragraph` where the text looks hard-wrapped: most lines end near a common width (the
    90th percentile of line lengths, at most 100 characters) and run on without ending a
    sentence; `line` otherwise (posts, one paragraph or sentence a line)."""
    lines = [line.rstrip() for line in text.split("\n") if line.strip()]
    if len(lines) < 4:
        return "line"
    lengths = sorted(len(line) for line in lines)
    width = lengths[int(0.9 * (len(lengths) - 1))]
    if width > 100 or width < 30:
        return "line"
    full = [line for line in lines if len(line) >= 0.75 * width]
    running_on = [line for line in full if not _SENTENCE_END.search(line)]
    return "paragraph" if len(full) >= 0.6 * len(lines) and len(running_on) >= 0.5 * len(full) else "line"


def text_blocks(text: str, line_breaks: str) -> list[Block]:
    """Every line a block (`line`), or blank-line paragraphs with their wraps joined (`paragraph`)."""
    if line_breaks == "line":
        return [Block(line, "line", f"line {number}") for number, line in enumerate(text.split("\n"), start=1)
                if line.strip()]
    if line_breaks != "paragraph":
        raise UsageError(f"--line-breaks is one of {', '.join(LINE_BREAKS)}")
    paragraphs = [" ".join(line.strip() for line in chunk.split("\n") if line.strip())
                  for chunk in re.split(r"\n\s*\n", text)]
    return [Block(paragraph, "p", f"p {number}") for number, paragraph in enumerate(
        (p for p in paragraphs if p), start=1)]


# ---- HTML (also the chapters of an EPUB) ----

_HTML_BLOCKS = {"p": "p", "li": "li", "td": "cell", "th": "cell", "figcaption": "caption", "caption": "caption",
                "blockquote": "p", "pre": "p", "dt": "p", "dd": "p", "aside": "footnote"}
_HTML_DROPPED = ("script", "style", "nav", "noscript", "template", "head", "svg", "form", "button", "select")


def html_blocks(markup: str | bytes, path: Path | str, counters: dict[str, int] | None = None,
                prefix: str = "") -> list[Block]:
    """Headings, paragraphs, list items, table cells and captions of an HTML page, without its
    navigation, scripts and styles; a block inside another (a paragraph in a list item) is read once."""
    from lxml import etree, html

    try:
        root = html.document_fromstring(markup)
    except (etree.ParserError, ValueError) as exc:
        raise InputError(f"{path}: not readable as HTML ({exc})") from None
    for element in root.iter(*_HTML_DROPPED):
        element.drop_tree()
    counters = counters if counters is not None else {}
    blocks: list[Block] = []
    tables = {table: n for n, table in enumerate(root.iter("table"), start=counters.get("table", 0) + 1)}
    counters["table"] = counters.get("table", 0) + len(tables)
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        heading = re.fullmatch(r"h([1-6])", tag)
        kind = "h" if heading else _HTML_BLOCKS.get(tag)
        if kind is None or any(ancestor.tag in _HTML_BLOCKS or re.fullmatch(r"h[1-6]", str(ancestor.tag))
                               for ancestor in element.iterancestors() if ancestor.tag not in ("td", "th")
                               or kind != "cell"):
            continue
        text = " ".join(element.text_content().split())
        if not text:
            continue
        if kind == "cell":
            row = element.getparent()
            table = next(element.iterancestors("table"), None)
            rows = list(table.iter("tr")) if table is not None else []
            where = (f"table {tables.get(table, 0)} r{rows.index(row) + 1 if row in rows else 0} "
                     f"c{list(row).index(element) + 1}")
        elif heading:
            level = int(heading.group(1))
            counters[f"h{level}"] = counters.get(f"h{level}", 0) + 1
            where = f"h{level} {counters[f'h{level}']}"
        else:
            counters[kind] = counters.get(kind, 0) + 1
            where = f"{kind} {counters[kind]}"
        blocks.append(Block(text, kind, prefix + where, int(heading.group(1)) if heading else 0))
    return blocks


# ---- Markdown ----

def _markdown(text: str) -> list[Block]:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    blocks: list[Block] = []
    counters: dict[str, int] = {}
    open_kinds: list[tuple[str, int]] = []
    row = cell = table = 0
    for token in tokens:
        if token.type == "heading_open":
            open_kinds.append(("h", int(token.tag[1])))
        elif token.type == "list_item_open":
            open_kinds.append(("li", 0))
        elif token.type == "table_open":
            table, row = table + 1, 0
        elif token.type == "tr_open":
            row, cell = row + 1, 0
        elif token.type in ("th_open", "td_open"):
            cell += 1
            open_kinds.append(("cell", 0))
        elif token.type in ("heading_close", "list_item_close", "th_close", "td_close") and open_kinds:
            open_kinds.pop()
        elif token.type == "inline" and token.content.strip():
            kind, level = open_kinds[-1] if open_kinds else ("p", 0)
            text = " ".join(_inline_text(token).split())
            if kind == "cell":
                where = f"table {table} r{row} c{cell}"
            else:
                key = f"h{level}" if kind == "h" else kind
                counters[key] = counters.get(key, 0) + 1
                where = f"{key} {counters[key]}"
            if text:
                blocks.append(Block(text, kind, where, level))
        elif token.type == "fence" and token.content.strip():
            counters["p"] = counters.get("p", 0) + 1
            blocks.append(Block(" ".join(token.content.split()), "p", f"p {counters['p']}"))
    return blocks


def _inline_text(token) -> str:
    """An inline token's words without the markup: link and emphasis marks dropped, breaks as spaces."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


# ---- subtitles ----

def _subtitles(path: Path, text: str, kind: str) -> list[Block]:
    try:
        import pysubs2
    except ImportError:
        raise UsageError(f"{path}: subtitles need pysubs2: {INSTALL}") from None
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=kind)
    except Exception as exc:  # pysubs2 raises its own errors and ValueError for a broken file
        raise InputError(f"{path}: not readable as {kind.upper()} subtitles ({exc})") from None
    blocks = []
    for number, event in enumerate((e for e in subs if not e.is_comment), start=1):
        line = " ".join(event.plaintext.split())
        if line:
            blocks.append(Block(line, "cue", f"cue {number} {_timestamp(event.start)}",
                                times=(event.start / 1000, event.end / 1000)))
    return blocks


def _timestamp(ms: int) -> str:
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02}:{minutes:02}:{seconds:02},{ms:03}"


# ---- PDF ----

def _pdf(path: Path, data: bytes) -> list[Block]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise UsageError(f"{path}: a PDF needs pypdf: {INSTALL}") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InputError(f"{path}: an encrypted PDF; save a copy without a password first")
        pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InputError(f"{path}: not a readable PDF ({exc})") from None
    if not any(page.strip() for page in pages):
        raise InputError(f"{path}: no text layer: run OCR first")
    blocks = []
    for number, page in enumerate(pages, start=1):
        # The layout keeps a blank line where the page leaves a gap: between paragraphs.
        chunks = [chunk for chunk in re.split(r"\n\s*\n", page) if chunk.strip()]
        for paragraph_number, chunk in enumerate(chunks, start=1):
            blocks.append(Block(_joined_lines(chunk), "p", f"page {number} p {paragraph_number}"))
    return blocks


def _joined_lines(chunk: str) -> str:
    """A PDF paragraph's lines as one: justified spacing collapsed; a line ending in a hyphen
    after a letter runs on without a space (`norsk-` + `russiske`)."""
    text = ""
    for line in (" ".join(line.split()) for line in chunk.split("\n")):
        if not line:
            continue
        text += line if not text or re.search(r"\w-$", text) else " " + line
    return text


# ---- ZIP documents: DOCX, ODT, EPUB ----

_ODT = "application/vnd.oasis.opendocument.text"
_EPUB = "application/epub+zip"


def _zipped(path: Path, data: bytes) -> tuple[str, list[Block]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        mimetype = archive.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{path}: a damaged ZIP archive ({exc}); is it a whole DOCX, ODT or EPUB?") from None
    with archive:
        try:
            if mimetype == _EPUB:
                return "epub", _epub(path, archive, names)
            if mimetype == _ODT or (not mimetype and "content.xml" in names):
                return "odt", _odt(path, archive)
            if "word/document.xml" in names:
                return "docx", _docx(path, archive)
        except (zipfile.BadZipFile, EOFError, KeyError) as exc:
            raise InputError(f"{path}: a damaged ZIP archive ({exc})") from None
    what = "an XLSX workbook" if "xl/workbook.xml" in names else "a ZIP archive"
    raise InputError(f"{path}: {what}, not a document (DOCX, ODT or EPUB)")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx(path: Path, archive: zipfile.ZipFile) -> list[Block]:
    """The body of word/document.xml, streamed (iterparse; each paragraph or table dropped once
    read), then the footnotes. Headings, captions and list items are told by their styles."""
    from lxml import etree

    styles = _docx_styles(archive)
    blocks: list[Block] = []
    counters: dict[str, int] = {}
    tables = 0
    drawings = False

    def add(kind: str, text: str, level: int = 0) -> None:
        text = " ".join(text.split())
        if text:
            key = f"h{level}" if kind == "h" else kind
            counters[key] = counters.get(key, 0) + 1
            blocks.append(Block(text, kind, f"{key} {counters[key]}", level))

    try:
        with archive.open("word/document.xml") as stream:
            for _, element in etree.iterparse(stream, events=("end",), tag=(f"{_W}p", f"{_W}tbl")):
                parent = element.getparent()
                if parent is None or parent.tag != f"{_W}body":
                    continue  # a paragraph in a table cell: read with its table
                drawings = drawings or element.find(f".//{_W}drawing") is not None
                if element.tag == f"{_W}tbl":
                    tables += 1
                    for r, row in enumerate(element.iterchildren(f"{_W}tr"), start=1):
                        for c, cell in enumerate(row.iterchildren(f"{_W}tc"), start=1):
                            text = " ".join(_docx_text(p) for p in cell.iter(f"{_W}p"))
                            if text.strip():
                                blocks.append(Block(" ".join(text.split()), "cell", f"table {tables} r{r} c{c}"))
                else:
                    style_id = element.find(f"{_W}pPr/{_W}pStyle")
                    style = styles.get(style_id.get(f"{_W}val") if style_id is not None else "", "")
                    heading = re.fullmatch(r"heading (\d)", style)
                    if style == "title":
                        add("h", _docx_text(element), 1)
                    elif heading:
                        add("h", _docx_text(element), int(heading.group(1)))
                    elif style == "caption":
                        add("caption", _docx_text(element))
                    elif element.find(f"{_W}pPr/{_W}numPr") is not None or style.startswith("list"):
                        add("li", _docx_text(element))
                    else:
                        add("p", _docx_text(element))
                element.clear()
                while element.getprevious() is not None:
                    del parent[0]
        notes = archive.read("word/footnotes.xml") if "word/footnotes.xml" in archive.namelist() else b""
        for note in etree.fromstring(notes).iter(f"{_W}footnote") if notes else ():
            if note.get(f"{_W}type") not in ("separator", "continuationSeparator", "continuationNotice"):
                add("footnote", " ".join(_docx_text(p) for p in note.iter(f"{_W}p")))
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{path}: not a readable DOCX ({exc})") from None
    if not blocks and drawings:
        raise InputError(f"{path}: holds only images, no text: run OCR first")
    return blocks


def _docx_styles(archive: zipfile.ZipFile) -> dict[str, str]:
    """Paragraph style ids and their names, lower-cased (`Heading1` -> `heading 1`)."""
    from lxml import etree

    if "word/styles.xml" not in archive.namelist():
        return {}
    root = etree.fromstring(archive.read("word/styles.xml"))
    return {style.get(f"{_W}styleId", ""): (style.find(f"{_W}name").get(f"{_W}val", "")
                                          if style.find(f"{_W}name") is not None else "").lower()
            for style in root.iter(f"{_W}style")}


def _docx_text(paragraph) -> str:
    """A paragraph's text runs; tabs and breaks as spaces; deleted text (tracked changes) left out."""
    parts = []
    for element in paragraph.iter(f"{_W}t", f"{_W}tab", f"{_W}br"):
        parts.append(element.text or "" if element.tag == f"{_W}t" else " ")
    return "".join(parts)


def _odt(path: Path, archive: zipfile.ZipFile) -> list[Block]:
    from lxml import etree

    text_ns = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    try:
        root = etree.fromstring(archive.read("content.xml"))
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{path}: not a readable ODT ({exc})") from None
    blocks: list[Block] = []
    counters: dict[str, int] = {}
    table_number = 0
    for element in root.iter(f"{{{text_ns}}}h", f"{{{text_ns}}}p", f"{{{table_ns}}}table"):
        if element.tag == f"{{{table_ns}}}table":
            table_number += 1
            for r, row in enumerate(element.iter(f"{{{table_ns}}}table-row"), start=1):
                for c, cell in enumerate(row.iter(f"{{{table_ns}}}table-cell"), start=1):
                    text = " ".join(_odf_text(cell).split())
                    if text:
                        blocks.append(Block(text, "cell", f"table {table_number} r{r} c{c}"))
            continue
        if any(a.tag in (f"{{{table_ns}}}table-cell", f"{{{text_ns}}}note") for a in element.iterancestors()):
            continue  # read with its cell; a note is read after the text
        text = " ".join(_odf_text(element).split())
        if not text:
            continue
        if element.tag == f"{{{text_ns}}}h":
            level = int(element.get(f"{{{text_ns}}}outline-level", "1"))
            kind, key = "h", f"h{level}"
        else:
            level = 0
            kind = "li" if any(a.tag == f"{{{text_ns}}}list-item" for a in element.iterancestors()) else "p"
            key = kind
        counters[key] = counters.get(key, 0) + 1
        blocks.append(Block(text, kind, f"{key} {counters[key]}", level))
    for number, note in enumerate(root.iter(f"{{{text_ns}}}note-body"), start=1):
        text = " ".join(_odf_text(note).split())
        if text:
            blocks.append(Block(text, "footnote", f"footnote {number}"))
    return blocks


def _odf_text(element) -> str:
    """The text of an ODF element: spaces (text:s), tabs and line breaks as spaces; notes left out."""
    text_ns = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    parts = [element.text or ""]
    for child in element:
        if child.tag == f"{{{text_ns}}}note":
            pass
        elif child.tag in (f"{{{text_ns}}}s", f"{{{text_ns}}}tab", f"{{{text_ns}}}line-break"):
            parts.append(" ")
        else:
            parts.append(_odf_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _epub(path: Path, archive: zipfile.ZipFile, names: set[str]) -> list[Block]:
    from lxml import etree

    if "META-INF/encryption.xml" in names or "META-INF/rights.xml" in names:
        raise InputError(f"{path}: an EPUB with DRM (its content is encrypted); only a DRM-free EPUB can be read")
    try:
        container = etree.fromstring(archive.read("META-INF/container.xml"))
        opf_path = container.find(".//{*}rootfile").get("full-path")
        opf = etree.fromstring(archive.read(opf_path))
    except (KeyError, AttributeError, etree.XMLSyntaxError) as exc:
        raise InputError(f"{path}: not a readable EPUB (its container or package file: {exc})") from None
    base = opf_path.rsplit("/", 1)[0] + "/" if "/" in opf_path else ""
    manifest = {item.get("id"): item.get("href") for item in opf.iter("{*}item")}
    blocks: list[Block] = []
    counters: dict[str, int] = {}
    for chapter, itemref in enumerate(opf.iter("{*}itemref"), start=1):
        href = manifest.get(itemref.get("idref"))
        if not href or itemref.get("linear") == "no":
            continue
        blocks += html_blocks(archive.read(base + href), path, counters, prefix=f"chapter {chapter} ")
    return blocks
