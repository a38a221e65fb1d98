"""Reading input: UTF-8 text files, JSONL link files and Telegram channel exports, with clear
errors for what cannot be read."""

from __future__ import annotations

import codecs
import contextlib
import io
import itertools
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

MAX_INPUT_BYTES = 200 * 1024 * 1024


# Legacy encodings a Russian or Norwegian text file may come in; the detector chooses among them.
LEGACY_ENCODINGS = ("cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp866", "mac_cyrillic", "cp1252", "latin_1",
                    "iso8859_15")


def _case_breaks(text: str) -> int:
    """Lower-case letters followed by a capital (`рТЙЧЕФ`): what KOI8-R read as cp1251 looks like."""
    return sum(1 for a, b in zip(text, text[1:], strict=False) if a.islower() and b.isupper())


# Files that are not plain text, by their first bytes.
_SIGNATURES = ((b"%PDF-", "a PDF document"), (b"{\\rtf", "an RTF document"),
               (b"PK\x03\x04", "a ZIP archive (docx, odt, xlsx and epub are ZIP archives)"),
               (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (doc, xls)"),
               (b"\x1f\x8b", "a gzip file"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
               (b"GIF8", "a GIF image"))


def _check_plain_text(data: bytes, name: str | Path, encoding: str | None) -> None:
    """An InputError for a known non-text format, or for UTF-8 text given a legacy --encoding
    (which would be read as mojibake: `п÷п╟я│п╦п╩п╦п╧` for `Василий`)."""
    start = data[:64].removeprefix(codecs.BOM_UTF8).lstrip()
    for signature, kind in _SIGNATURES:
        if start.startswith(signature):
            raise InputError(f"{name}: is {kind}, not plain text; save it as UTF-8 text first")
    if encoding and not codecs.lookup(encoding).name.startswith("utf") and not data.isascii():
        try:
            codecs.getincrementaldecoder("utf-8")().decode(data[:1 << 20], final=False)
        except UnicodeDecodeError:
            return
        raise InputError(f"{name}: is UTF-8 text, not {encoding}; leave out --encoding")


def _codec(data: bytes, name: str | Path, encoding: str | None, complete: bool = True) -> tuple[str, bool]:
    """The codec to read `data` with (all of a file, or its start when not `complete`), and
    whether it had to be detected: `encoding` when given; UTF-16 with a BOM; UTF-8 (a BOM is
    dropped); otherwise the legacy encoding charset-normalizer finds among LEGACY_ENCODINGS."""
    _check_plain_text(data, name, encoding)
    if encoding:
        return ("utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding), False
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", False
    if b"\x00" in data[:65536]:
        raise InputError(f"{name}: looks binary (contains NUL bytes), expected text")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
        return "utf-8-sig", False
    except UnicodeDecodeError as exc:
        offset = exc.start
    from charset_normalizer import from_bytes

    candidates = list(from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)))
    if not candidates:
        raise InputError(f"{name}: not valid UTF-8 at byte offset {offset}, and no legacy encoding fits; "
                         "give --encoding")
    return min(candidates, key=lambda match: _case_breaks(str(match)[:100_000])).encoding, True


def note_detected(notes: list[str] | None, path: str | Path, codec: str) -> None:
    if notes is not None:
        notes.append(f"{path}: not UTF-8; read as {codec} (detected; --encoding forces another)")


def decode(data: bytes, name: str | Path, encoding: str | None = None) -> tuple[str, str | None]:
    """The text of `data`, and the legacy encoding it was detected in (None otherwise)."""
    _check_plain_text(data, name, encoding)
    if encoding is None and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            and b"\x00" not in data[:65536]:
        with contextlib.suppress(UnicodeDecodeError):  # the common case, decoded once
            return data.decode("utf-8-sig"), None
    codec, detected = _codec(data, name, encoding)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not valid {encoding or codec} at byte offset {exc.start}") from None
    except UnicodeError as exc:  # e.g. UTF-16 without a byte-order mark
        raise InputError(f"{name}: not valid {encoding or codec} ({exc})") from None
    return text, codec if detected else None


@contextlib.contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """OS errors while reading `path` as one-line InputErrors."""
    try:
        yield
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not {what}") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_text(path: str | Path, encoding: str | None = None, notes: list[str] | None = None) -> str:
    """The file's text, line ends normalized to \\n (see `decode` for encodings). A legacy
    encoding that had to be detected is reported in `notes`.

    Raises InputError for a missing, unreadable, empty, binary or undecodable file."""
    path = Path(path)
    return text_of(read_input(path, "a text file"), path, encoding, notes)


def read_input(path: Path, what: str) -> bytes:
    """The bytes of an input file of at most MAX_INPUT_BYTES (InputErrors for the rest)."""
    with reading(path, what):
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"{path}: {size / 2**20:.0f} MiB is larger than the "
                             f"{MAX_INPUT_BYTES // 2**20} MiB this command reads")
        return path.read_bytes()


def text_of(data: bytes, path: Path, encoding: str | None = None, notes: list[str] | None = None) -> str:
    """An input file's bytes as text (`decode`), line ends normalized; an empty one is an InputError."""
    text, detected = decode(data, path, encoding)
    if detected:
        note_detected(notes, path, detected)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{path}: is empty")
    return text


def check_text_file(path: str | Path, what: str) -> None:
    """An InputError for a missing or unreadable file, or one whose start shows it is not UTF-8
    text (a known binary format, NUL bytes, bytes UTF-8 does not allow), before it is read line by
    line."""
    with reading(path, what), open(path, "rb") as stream:
        start = stream.read(65536)
    _check_plain_text(start, path, None)
    if b"\x00" in start:
        raise InputError(f"{path}: looks binary (contains NUL bytes), expected {what}")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start + 1}); save {what} as UTF-8") from None


def _binary_lines(path: str | Path) -> Iterator[bytes]:
    if str(path) == "-":
        yield from sys.stdin.buffer
        return
    with reading(path, "a JSONL file"), open(path, "rb") as stream:
        yield from stream


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(text: str, where: str) -> object:
    """`text` as JSON, or an InputError naming `where` (malformed, or nested past Python's
    recursion limit)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno}, column {exc.colno}" if "\n" in text.rstrip("\n") else f"character {exc.pos + 1}"
        raise InputError(f"{where}: not JSON ({exc.msg} at {at})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply to read") from None


def _ids(value) -> bool:
    return isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in value)


def is_number(value) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_json_lines(path: str | Path) -> Iterator[tuple[str, dict]]:
    """The objects of a JSONL file, one a line, streamed, each with where it was read (`FILE line
    N`); `-` reads stdin. Blank lines are skipped; any other line that is not a JSON object, or
    holds a lone surrogate escape, is an InputError."""
    name = "<stdin>" if str(path) == "-" else str(path)
    for number, raw in enumerate(_binary_lines(path), start=1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        where = f"{name} line {number}"
        if b"\x00" in raw:
            raise InputError(f"{where}: looks binary (contains NUL bytes), expected JSONL")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: not valid UTF-8 at byte {exc.start} of the line") from None
        if not line.strip():
            continue
        record = parse_json(line, where)
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
        for key, value in record.items():
            if isinstance(value, str) and _SURROGATE.search(value):
                raise InputError(f"{where}: {key!r} holds a lone surrogate escape (\\ud800-\\udfff), which is not text")
        yield where, record


def _is_text(value) -> bool:
    return isinstance(value, str)


def read_link_records(path: str | Path) -> Iterator[dict]:
    """Link records from JSONL (`align -f jsonl`, `channel`'s corpus.jsonl), one a line, streamed;
    `-` reads stdin. Each needs `src_ids`, `tgt_ids` (lists of ints) and `src`, `tgt` (texts);
    `type` is derived when missing; other fields pass through. Blank lines are skipped."""
    count = 0
    for where, record in read_json_lines(path):
        for key, valid, what in (("src_ids", _ids, "a list of integers"), ("tgt_ids", _ids, "a list of integers"),
                                 ("src", _is_text, "a string"), ("tgt", _is_text, "a string")):
            if key not in record:
                raise InputError(f"{where}: no {key!r} field")
            if not valid(record[key]):
                raise InputError(f"{where}: {key!r} must be {what}")
        for key in ("score", "similarity"):
            if record.get(key) is not None and not is_number(record[key]):
                raise InputError(f"{where}: {key!r} must be a number")
        if not isinstance(record.get("type", ""), str):
            raise InputError(f"{where}: 'type' must be a string such as \"1-1\"")
        record.setdefault("type", f"{len(record['src_ids'])}-{len(record['tgt_ids'])}")
        count += 1
        yield record
    if not count:
        raise InputError(f"{'<stdin>' if str(path) == '-' else path}: holds no links")


def read_unpaired_posts(path: str | Path) -> list[dict]:
    """The records of a channel's unpaired.jsonl; each needs `reason` and `text` (strings)."""
    posts = []
    for where, record in read_json_lines(path):
        for key in ("reason", "text"):
            if not _is_text(record.get(key)):
                raise InputError(f"{where}: {key!r} must be a string (not an unpaired post sentaligner wrote)")
        posts.append(record)
    return posts


# ---- Telegram channels: Desktop JSON export, Desktop HTML export, text dump of the web view ----

@dataclass
class Post:
    """One channel post. In a text dump there are no ids or dates: the id is the 1-based line
    where the post starts."""

    id: int
    text: str
    date: str | None = None  # ISO 8601 as the export gives it
    forwarded_from: str | None = None
    position: int = 0  # order in the source


_UI_NOISE = {"Please open Telegram to view this post", "VIEW IN TELEGRAM", "Media is too big",
             "Download Telegram"}
# Reaction counters closing a post in the web view: `👍1`, `2👍1`, `3🎉2`.
_REACTIONS = re.compile(r"^\d*(?:[^\w\s\d]+\d+)+$")
_COUNTER = re.compile(r"^[\d.,]+K? (?:subscribers|photos|videos|files|links|members)$")
_FORWARDED = re.compile(r"^Forwarded from\s+(.+)$")


def read_channel(path: str | Path, encoding: str | None = None, notes: list[str] | None = None) -> list[Post]:
    """The posts of a Telegram Desktop JSON export (`result.json` or its folder), a Telegram
    Desktop HTML export (its folder or one `messages*.html`), or a text dump of the web view
    (in UTF-8 or a legacy encoding, see `read_text`)."""
    path = Path(path)
    if path.is_dir():
        if (path / "result.json").is_file():
            return read_telegram_json(path / "result.json")
        pages = sorted(path.glob("messages*.html"), key=_page_number)
        if not pages:
            raise InputError(f"{path}: a folder without result.json or messages.html: "
                             "not a Telegram Desktop export")
        return read_telegram_html(pages)
    sample = _sample(path)
    start = sample.removeprefix(codecs.BOM_UTF8).lstrip()[:1]
    if path.suffix.lower() == ".json" or (start and start in b"{["):
        return read_telegram_json(path, read_text(path, encoding, notes))
    if path.suffix.lower() in {".html", ".htm"} or start == b"<":
        return read_telegram_html([path], read_text(path, encoding, notes))
    return read_telegram_dump(stream_lines(path, encoding, notes, sample), path)


_SAMPLE_BYTES = 1 << 20


def _sample(path: Path) -> bytes:
    with reading(path, "a text file"), open(path, "rb") as raw:
        return raw.read(_SAMPLE_BYTES)


def stream_lines(path: str | Path, encoding: str | None = None, notes: list[str] | None = None,
                 sample: bytes | None = None) -> Iterator[str]:
    """The lines of a text file, decoded as it is read (memory does not grow with the file); the
    codec is chosen on the first MiB (`sample`, when the caller has read it) as `decode` does."""
    path = Path(path)
    sample = _sample(path) if sample is None else sample
    if not sample.strip():
        raise InputError(f"{path}: is empty")
    codec, detected = _codec(sample, path, encoding, complete=len(sample) < _SAMPLE_BYTES)
    if detected:
        note_detected(notes, path, codec)
    number = 0
    with reading(path, "a text file"), open(path, "rb") as raw:
        stream = io.TextIOWrapper(raw, encoding=codec, newline=None)
        try:
            for number, line in enumerate(stream, start=1):  # noqa: B007 (read in the except below)
                yield line
        except UnicodeError:
            raise InputError(f"{path}: not valid {encoding or codec} in line {number + 1}") from None


def read_telegram_dump(text: str | Iterable[str], name: str | Path = "<dump>") -> list[Post]:
    """Posts of a web-view dump, given as its text or as an iterable of its lines (streamed)."""
    lines = iter(text.split("\n")) if isinstance(text, str) else (line.rstrip("\r\n") for line in text)
    head = list(itertools.islice(lines, 200))
    start = _header_end(head)
    posts: list[Post] = []
    body: list[str] = []
    has_text = False
    first_line = start + 1
    forwarded = None
    after_noise = False

    def close() -> None:
        nonlocal body, forwarded, has_text
        post_text = "\n".join(body).strip("\n")
        if post_text.strip() or forwarded:
            posts.append(Post(first_line, post_text, None, forwarded, len(posts)))
        body, forwarded, has_text = [], None, False

    for number, line in enumerate(itertools.chain(head[start:], lines), start=start + 1):
        stripped = " ".join(line.split())  # also folds no-break spaces
        forward = _FORWARDED.match(stripped)
        if forward:
            if has_text:
                close()
            first_line, forwarded = number, forward.group(1)
        elif _REACTIONS.match(stripped) or (after_noise and stripped.isdigit()):
            close()  # a bare count after a media placeholder is a reaction with a custom emoji
            first_line = number + 1
        elif stripped not in _UI_NOISE:
            if not has_text and not forwarded:
                first_line = number
            has_text = has_text or bool(stripped)
            body.append(line.rstrip())
        after_noise = stripped in _UI_NOISE or (after_noise and not stripped)
    close()
    return _with_text(posts, name)


def _header_end(lines: list[str]) -> int:
    """Lines before the first post: the channel's name, counters and description, which end
    at `Download Telegram` when the dump has it."""
    for number, line in enumerate(lines):
        stripped = " ".join(line.split())
        if _REACTIONS.match(stripped) or _FORWARDED.match(stripped):
            break
        if stripped == "Download Telegram":
            return number + 1
    counters = [n for n, line in enumerate(lines[:10]) if _COUNTER.match(line.strip())]
    return counters[-1] + 1 if counters and counters[0] == 1 else 0


def _with_text(posts: list[Post], name) -> list[Post]:
    if not any(post.text.strip() for post in posts):
        raise InputError(f"{name}: no post with text found")
    return posts


def _page_number(page: Path) -> int:
    digits = page.stem.removeprefix("messages")
    return int(digits) if digits.isdigit() else 1


def _json_text(value) -> str:
    """A message's `text`: a string, or a list of strings and `{"type", "text"}` entities."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", ""))
                       for part in value if isinstance(part, str | dict))
    return ""


def read_telegram_json(path: str | Path, text: str | None = None) -> list[Post]:
    path = Path(path)
    text = read_text(path) if text is None else text
    data = parse_json(text, str(path))
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        raise InputError(f"{path}: no 'messages' list: not a Telegram Desktop chat export "
                         "(export one channel as JSON)")
    posts: list[Post] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("type", "message") != "message":
            continue
        body = _json_text(message.get("text"))
        if not body.strip() and "text_entities" in message:
            body = _json_text(message["text_entities"])
        message_id = message.get("id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise InputError(f"{path}: a message without an integer 'id'")
        date = message.get("date")
        posts.append(Post(message_id, body.replace("\r\n", "\n").strip("\n"),
                          date if isinstance(date, str) else None,
                          message.get("forwarded_from") if isinstance(message.get("forwarded_from"), str) else None,
                          len(posts)))
    return _with_text(posts, path)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _html_date(title: str | None) -> str | None:
    """`23.12.2025 10:15:00 UTC+03:00` (Telegram Desktop's title) -> `2025-12-23T10:15:00`."""
    match = re.match(r"(\d\d)\.(\d\d)\.(\d{4}) (\d\d:\d\d:\d\d)", title or "")
    return f"{match[3]}-{match[2]}-{match[1]}T{match[4]}" if match else None


def _element_text(element) -> str:
    for br in element.iter("br"):
        br.tail = "\n" + (br.tail or "")
    return element.text_content().strip()


def read_telegram_html(pages: list[Path], text: str | None = None) -> list[Post]:
    from lxml import html

    posts: list[Post] = []
    for page in pages:
        page_text = read_text(page) if text is None else text
        page_text = _CONTROL.sub("", page_text)  # lxml refuses them, and HTML text never holds them
        try:
            root = html.document_fromstring(page_text)
        except Exception as exc:  # lxml raises ParserError or ValueError for documents it cannot read
            raise InputError(f"{page}: not readable HTML ({exc})") from None
        for message in root.xpath('//div[contains(concat(" ", @class, " "), " message ")]'):
            classes = message.get("class", "").split()
            match = re.fullmatch(r"message(\d+)", message.get("id", ""))
            if "service" in classes or not match:
                continue
            forwarded = message.xpath('.//div[contains(concat(" ", @class, " "), " forwarded ")]')
            scope = forwarded[0] if forwarded else message
            bodies = scope.xpath('./div[@class="text"] | ./div[@class="body"]/div[@class="text"]')
            body = _element_text(bodies[0]) if bodies else ""  # media without a caption has none
            forwarded_from = None
            if forwarded:
                names = forwarded[0].xpath('./div[@class="from_name"]')
                if names:
                    forwarded_from = (names[0].text or "").strip() or None
            dates = message.xpath('.//div[contains(@class, "date")]/@title')
            posts.append(Post(int(match[1]), body, _html_date(dates[0] if dates else None),
                              forwarded_from, len(posts)))
    if not posts:
        raise InputError(f"{pages[0]}: no Telegram messages found: not a Telegram Desktop HTML export")
    return _with_text(posts, pages[0])
