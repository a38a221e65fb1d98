"""Review and correct an alignment by hand: a self-contained page (`sentaligner review`) where a
person merges, splits, detaches, confirms and rejects links, which saves a corrections file;
`apply_corrections` turns that file and the RESULT it was made for into the corrected links.

The corrections file holds every link of every document as ids and a status (`unreviewed`,
`confirmed`, `edited`, `rejected`), and the SHA-256 of the RESULT's JSONL, so it cannot be applied
to other links. Edited and confirmed links come out with score 1.0 and the flag `reviewed`;
rejected ones are left out; the rest are the RESULT's own records."""

from __future__ import annotations

import hashlib
import html
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import AlignerError, InputError, UsageError
from .evaluate import LinkOrder
from .files import atomic_output
from .ingest import parse_json, read_link_records, read_text
from .report import PAGE_HEAD, asset, json_for_script
from .version import __version__

CORRECTIONS_FORMAT = "sentaligner-corrections"
OLD_CORRECTIONS_FORMATS = ("aligner-corrections",)  # as 0.3.0 and earlier, under the old name, saved them
CORRECTIONS_VERSION = 1
STATUSES = ("unreviewed", "confirmed", "edited", "rejected")
REVIEWED_FLAG = "reviewed"
MAX_CORRECTIONS_BYTES = 256 * 2**20


def links_file(result: str | Path) -> Path:
    """The JSONL of links in RESULT: the file itself, a `channel` OUTDIR's corpus.jsonl, or a
    `batch` OUTDIR's corpus.PAIR.jsonl (when it holds one language pair)."""
    result = Path(result)
    if not result.is_dir():
        return result
    if (result / "corpus.jsonl").is_file():
        return result / "corpus.jsonl"
    corpora = sorted(result.glob("corpus.*.jsonl")) if (result / "jobs").is_dir() else []
    if len(corpora) == 1:
        return corpora[0]
    if corpora:
        raise InputError(f"{result}: a batch of several language pairs ({', '.join(p.name for p in corpora)}); "
                         "review one of its corpus files")
    raise InputError(f"{result}: a folder without corpus.jsonl (not an `sentaligner channel` or `batch` output)")


def corrections_path(result: str | Path) -> Path:
    """The corrections' name (Save downloads it; `--serve` writes it): beside a JSONL RESULT,
    inside an OUTDIR."""
    result = Path(result)
    return result / "corrections.json" if result.is_dir() else result.with_name(result.stem + ".corrections.json")


def review_page_path(result: str | Path) -> Path:
    result = Path(result)
    return result / "review.html" if result.is_dir() else result.with_name(result.stem + ".review.html")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return digest.hexdigest()


DOCUMENT_FIELDS = ("job", "src_post_id", "tgt_post_id")  # what tells a result's documents apart
DocumentKey = tuple[Any, ...]  # their values; all None for a single document


@dataclass
class Document:
    """One document's links as RESULT has them, and each sentence's text."""

    key: DocumentKey
    records: list[dict] = field(default_factory=list)
    src: dict[int, str] = field(default_factory=dict)
    tgt: dict[int, str] = field(default_factory=dict)
    date: str | None = None


@dataclass
class Result:
    path: Path  # the JSONL
    sha256: str
    documents: list[Document]

    @property
    def links(self) -> int:
        return sum(len(document.records) for document in self.documents)


def _sentences(record: Mapping[str, Any], side: str, where: str) -> list[str]:
    ids = record[f"{side}_ids"]
    if len(ids) <= 1:
        return [record[side]] if ids else []
    parts = record.get(f"{side}_sentences")
    if not (isinstance(parts, list) and len(parts) == len(ids) and all(isinstance(p, str) for p in parts)):
        raise InputError(f"{where}: a merged link without its {side}_sentences (one text per id); "
                         "review needs links written by this version of sentaligner: align again with -f jsonl")
    return parts


def read_result(result: str | Path) -> Result:
    """RESULT's links by document, each checked: every sentence in one link, in order."""
    path = links_file(result)
    sha256 = file_sha256(path)
    documents: dict[DocumentKey, Document] = {}
    orders: dict[DocumentKey, LinkOrder] = {}
    for number, record in enumerate(read_link_records(path), start=1):
        where = f"{path} line {number}"
        key = tuple(record.get(name) for name in DOCUMENT_FIELDS)
        if not all(part is None or isinstance(part, int | str) for part in key):
            raise InputError(f"{where}: 'job', 'src_post_id' and 'tgt_post_id' must be numbers or strings")
        document = documents.setdefault(key, Document(key, date=record.get("date")))
        problem = orders.setdefault(key, LinkOrder(monotonic=True)).problem(record["src_ids"], record["tgt_ids"])
        if problem:
            raise InputError(f"{where}: {problem}")
        for side, texts in (("src", document.src), ("tgt", document.tgt)):
            texts.update(zip(record[f"{side}_ids"], _sentences(record, side, where), strict=True))
        document.records.append(record)
    return Result(path, sha256, list(documents.values()))


# ---- the page ----

def page_data(result: Result, title: str, save_name: str, save_url: str | None) -> dict:
    """What the page's script reads: the documents' sentences and the links, flat, in order."""
    documents, links = [], []
    for number, document in enumerate(result.documents):
        documents.append({**dict(zip(DOCUMENT_FIELDS, document.key, strict=True)),
                          "src": {str(i): text for i, text in document.src.items()},
                          "tgt": {str(i): text for i, text in document.tgt.items()}})
        for record in document.records:
            links.append({"d": number, "s": record["src_ids"], "t": record["tgt_ids"], "score": record.get("score"),
                          "flags": [f for f in record.get("flags") or [] if isinstance(f, str)]
                          if isinstance(record.get("flags"), list) else [], "st": "unreviewed", "o": 1})
    return {"title": title, "result": result.path.name, "sha256": result.sha256, "version": __version__,
            "save_name": save_name, "save_url": save_url, "documents": documents, "links": links}


def build_review_page(data: Mapping[str, Any]) -> str:
    return _PAGE.format(title=html.escape(data["title"]), version=__version__, data=json_for_script(data),
                        style=asset("review.css"), script=asset("review.js"))


def write_review(result: str | Path, output: str | Path, *, title: str | None = None, force: bool = False) -> Result:
    read = read_result(result)
    data = page_data(read, title or f"Review: {Path(result).name}", corrections_path(result).name, None)
    with atomic_output(output, force=force) as stream:
        stream.write(build_review_page(data))
    return read


# ---- corrections ----

@dataclass
class Applied:
    records: list[dict]
    counts: dict[str, int]  # links by status (rejected ones are not in records)
    reviewer: str | None
    saved: str | None


def _id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in value)


def check_corrections(corrections: Any, result: Result, where: str) -> None:
    """An InputError unless `corrections` is a corrections file for `result` whose links are a
    valid alignment of each document: every sentence in exactly one link, in order."""
    if not isinstance(corrections, dict) or corrections.get("format") not in (CORRECTIONS_FORMAT,
                                                                               *OLD_CORRECTIONS_FORMATS):
        raise InputError(f"{where}: not a corrections file (`sentaligner review` saves one)")
    if corrections.get("version") != CORRECTIONS_VERSION:
        raise InputError(f"{where}: corrections version {corrections.get('version')!r}; this sentaligner reads "
                         f"version {CORRECTIONS_VERSION}")
    if corrections.get("result_sha256") != result.sha256:
        raise InputError(f"{where} was saved for other links (sha256 {str(corrections.get('result_sha256'))[:12]}…) "
                         f"than {result.path} holds now (sha256 {result.sha256[:12]}…)")
    documents = corrections.get("documents")
    if not isinstance(documents, list) or len(documents) != len(result.documents):
        raise InputError(f"{where}: 'documents' must list the {len(result.documents)} document(s) of "
                         f"{result.path.name}")
    for number, (entry, document) in enumerate(zip(documents, result.documents, strict=True), start=1):
        here = f"{where}: document {number}"
        if not isinstance(entry, dict) or tuple(entry.get(name) for name in DOCUMENT_FIELDS) != document.key:
            named = ", ".join(f"{name} {value}" for name, value in zip(DOCUMENT_FIELDS, document.key, strict=True)
                              if value is not None)
            raise InputError(f"{here} is not the result's document {number} ({named or 'the only one'})")
        links = entry.get("links")
        if not isinstance(links, list):
            raise InputError(f"{here}: 'links' must be a list")
        order = LinkOrder(monotonic=True)
        for link in links:
            if not (isinstance(link, dict) and _id_list(link.get("src_ids")) and _id_list(link.get("tgt_ids"))
                    and link.get("status") in STATUSES):
                raise InputError(f"{here}: each link needs src_ids and tgt_ids (lists of integers) and a status "
                                 f"({', '.join(STATUSES)})")
            if not link["src_ids"] and not link["tgt_ids"]:
                raise InputError(f"{here}: a link with no sentence on either side")
            problem = order.problem(link["src_ids"], link["tgt_ids"])
            if problem:
                raise InputError(f"{here}: {problem}")
            for side, texts in (("src", document.src), ("tgt", document.tgt)):
                unknown = [i for i in link[f"{side}_ids"] if i not in texts]
                if unknown:
                    raise InputError(f"{here}: {side} sentence {unknown[0]} is not in the result")
        for name, texts, seen in (("src", document.src, order.seen[0]), ("tgt", document.tgt, order.seen[1])):
            missing = sorted(set(texts) - seen)
            if missing:
                raise InputError(f"{here}: {name} sentence {missing[0]} is in no link")


def read_corrections(path: str | Path, result: Result) -> dict:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if size > MAX_CORRECTIONS_BYTES:
        raise InputError(f"{path}: {size / 2**20:.0f} MiB is too large for a corrections file")
    corrections = parse_json(read_text(path), str(path))
    check_corrections(corrections, result, str(path))
    assert isinstance(corrections, dict)
    return corrections


def _reviewed_record(document: Document, src_ids: list[int], tgt_ids: list[int],
                     original: Mapping[str, Any] | None) -> dict:
    """A link a person edited or confirmed: its texts from the document, score 1.0, flag `reviewed`."""
    if original is not None:
        return {**original, "score": 1.0,
                "flags": [*(f for f in original.get("flags") or [] if f != REVIEWED_FLAG), REVIEWED_FLAG]}
    record = {"src_ids": src_ids, "tgt_ids": tgt_ids, "type": f"{len(src_ids)}-{len(tgt_ids)}", "score": 1.0,
              "similarity": None, "src": " ".join(document.src[i] for i in src_ids),
              "tgt": " ".join(document.tgt[j] for j in tgt_ids)}
    for side, ids, texts in (("src", src_ids, document.src), ("tgt", tgt_ids, document.tgt)):
        if len(ids) > 1:
            record[f"{side}_sentences"] = [texts[i] for i in ids]
    record["flags"] = [REVIEWED_FLAG]
    for name, value in zip(DOCUMENT_FIELDS, document.key, strict=True):
        if value is not None:
            record[name] = value
    if document.key[DOCUMENT_FIELDS.index("src_post_id")] is not None:  # a channel's post pair
        record["date"] = document.date
    return record


def apply_corrections(corrections: Mapping[str, Any], result: Result) -> Applied:
    """The corrected links of `result` (see the module docstring); `corrections` checked first."""
    counts = dict.fromkeys(STATUSES, 0)
    records = []
    for entry, document in zip(corrections["documents"], result.documents, strict=True):
        originals = {(tuple(r["src_ids"]), tuple(r["tgt_ids"])): r for r in document.records}
        for link in entry["links"]:
            original = originals.get((tuple(link["src_ids"]), tuple(link["tgt_ids"])))
            # a link not in RESULT is an edit; one a person then confirmed counts as confirmed
            status = "edited" if original is None and link["status"] == "unreviewed" else link["status"]
            counts[status] += 1
            if status == "rejected":
                continue
            if status == "unreviewed":
                records.append(dict(original))  # type: ignore[arg-type]  # unreviewed implies original
            else:
                records.append(_reviewed_record(document, link["src_ids"], link["tgt_ids"],
                                                original if status == "confirmed" else None))
    reviewer = corrections.get("reviewer")
    saved = corrections.get("saved")
    return Applied(records, counts, reviewer if isinstance(reviewer, str) and reviewer else None,
                   saved if isinstance(saved, str) else None)


def describe(applied: Applied) -> str:
    by = f" by {applied.reviewer}" if applied.reviewer else ""
    when = f", saved {applied.saved}" if applied.saved else ""
    c = applied.counts
    return (f"corrections{by}{when}: {sum(c.values())} links, {c['confirmed']} confirmed, {c['edited']} edited, "
            f"{c['rejected']} rejected (left out), {c['unreviewed']} not reviewed")


# ---- --serve: the page on localhost, saving beside RESULT ----

class ReviewServer(ThreadingHTTPServer):
    """Serves the review page on 127.0.0.1 at a random port; a request without the token is
    refused, and so is one whose Host is not this address (DNS rebinding)."""

    daemon_threads = True

    def __init__(self, result: str | Path, title: str | None = None, port: int = 0):
        self.result = read_result(result)
        self.save_to = corrections_path(result)
        self.token = secrets.token_urlsafe(18)
        self.lock = threading.Lock()
        self.saves = 0
        try:
            super().__init__(("127.0.0.1", port), _ReviewHandler)
        except OSError as exc:
            raise UsageError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        self.page = build_review_page(page_data(self.result, title or f"Review: {Path(result).name}",
                                                self.save_to.name, f"/save?token={self.token}")).encode("utf-8")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/?token={self.token}"


class _ReviewHandler(BaseHTTPRequestHandler):
    server: ReviewServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # quiet: no line per request
        pass

    def _allowed(self) -> bool:
        query = parse_qs(urlsplit(self.path).query)
        port = self.server.server_address[1]
        if self.headers.get("Host") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            self._answer(403, "text/plain", b"wrong host\n")
            return False
        if not secrets.compare_digest(query.get("token", [""])[0], self.server.token):
            self._answer(403, "text/plain", b"missing or wrong token: open the URL that `sentaligner review` printed\n")
            return False
        return True

    def _answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802  # the name http.server calls
        if urlsplit(self.path).path == "/favicon.ico":  # browsers ask without the token
            self._answer(204, "text/plain", b"")
            return
        if not self._allowed():
            return
        if urlsplit(self.path).path != "/":
            self._answer(404, "text/plain", b"not found\n")
            return
        self._answer(200, "text/html", self.server.page)

    def do_POST(self) -> None:  # noqa: N802
        if not self._allowed():
            return
        if urlsplit(self.path).path != "/save":
            self._answer(404, "text/plain", b"not found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_CORRECTIONS_BYTES:
            self._answer(413, "application/json", b'{"error": "empty or too large"}')
            return
        try:
            body = self.rfile.read(length).decode("utf-8")
            corrections = parse_json(body, "the saved corrections")
            check_corrections(corrections, self.server.result, "the saved corrections")
            with self.server.lock, atomic_output(self.server.save_to, force=True) as stream:
                stream.write(body)
                self.server.saves += 1
        except (AlignerError, UnicodeDecodeError) as exc:
            self._answer(400, "application/json", json.dumps({"error": str(exc)}).encode("utf-8"))
            return
        self._answer(200, "application/json", json.dumps({"saved": str(self.server.save_to)}).encode("utf-8"))




_BUTTONS = (("merge-prev", "Merge with previous", "Shift+M"), ("merge-next", "Merge with next", "M"),
            ("split", "Split", "S"), ("untranslated", "Untranslated", "U"), ("src-up", "Source ↑", "["),
            ("src-down", "Source ↓", "]"), ("tgt-up", "Target ↑", "{"), ("tgt-down", "Target ↓", "}"),
            ("confirm", "Confirm", "C"), ("reject", "Reject", "R"), ("undo", "Undo", "Ctrl+Z"),
            ("redo", "Redo", "Ctrl+Y"), ("next", "Next to check", "N"), ("save", "Save", "Ctrl+S"),
            ("start-over", "Start over", ""), ("help", "Keys", "?"))

_PAGE = PAGE_HEAD + """<header>
<h1>{title}</h1>
<div class="bar"><span id="progress"></span>
<label>reviewer <input id="reviewer" size="12" placeholder="your name"></label>
<label>next to check: <select id="queue"><option value="score">lowest score first</option>
<option value="flagged">flagged first, then lowest score</option></select></label></div>
<div class="bar">""" + "".join(
    f'<button type="button" id="{action}" data-action="{action}">{label}'
    f'{"<kbd>" + key.replace("{", "{{").replace("}", "}}") + "</kbd>" if key else ""}</button>'
    for action, label, key in _BUTTONS) + """</div>
<p id="keys-help" hidden>↑/↓ or J/K: previous/next link (PgUp/PgDn by ten, Home/End) · ←/→: sentence in the link ·
M: merge with the next link, Shift+M with the previous · S: split a merged link into 1-1 links, sentence by sentence ·
U: the sentence under the cursor (first or last of its side) has no counterpart · [ ]: move the source boundary with
the next link up/down · {{ }}: the same on the target side · C or Enter: confirm · R or Delete: reject (left out of the
corpus) · N: next link to check (not yet reviewed) · left border: green confirmed,
blue edited, red rejected · Ctrl+Z/Ctrl+Y: undo/redo · Ctrl+S: save. Work in progress is kept in this browser
until you save.</p>
<div id="message" aria-live="polite"></div>
</header>
<main id="links" role="grid" aria-label="links"></main>
<script type="application/json" id="review-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
