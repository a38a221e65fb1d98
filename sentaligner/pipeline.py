"""Two texts in, scored sentence links out: the stages wired together for the CLI and the API."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import NotRequired, TypedDict

import numpy as np

from .documents import Document, read_document
from .dp import AlignParams, ExactSpans, Link, align_vectors
from .embed import EmbeddingStore, Encoder
from .errors import InputError
from .ingest import read_text
from .language import language_mismatch
from .score import (
    FEATURES,
    UNTRANSLATED_MAX_SCORE,
    document_flags,
    link_features,
    link_scores,
    mostly_untranslated,
    number_masks,
    quote_endings,
    typical_log_ratio,
)
from .segment import carries_content, split_sentences
from .version import __version__

DEFAULT_MAX_MERGE = AlignParams().max_merge
# One document of more units than this on a side is refused before anything is embedded: the
# search would take many minutes and the embedding hours on a laptop. Split such a text.
MAX_UNITS_PER_SIDE = 50_000
# stage(name, total) announces a stage of the work and returns its advance(n); total None when unknown.
Stage = Callable[[str, int | None], Callable[[int], None]]


@dataclass
class Units:
    """One side's alignment units: texts and the ids they are reported under; for a document
    read by blocks (documents.py), also each unit's place and the strength of the block boundary
    before it (0: inside a block, 1: a new paragraph, 2: next to a heading or a subtitle cue);
    for subtitles, each unit's cue start and end in seconds."""

    texts: list[str]
    ids: list[int]
    where: list[str] | None = None
    boundaries: list[int] | None = None
    times: list[tuple[float, float]] | None = None


_WORD = re.compile(r"[^\W\d_]{2}")


def word_masks(texts: list[str]) -> np.ndarray:
    """Which units hold a word (two letters in a row), not only a stray letter or digits."""
    return np.array([bool(_WORD.search(text)) for text in texts], dtype=bool)


def _without_content(record: LinkRecord) -> bool:
    """A link of units without content (a skip of one, in practice)."""
    return not carries_content(record["src"] + record["tgt"])


def texts_to_embed(*sides: Units) -> set[str]:
    """The distinct unit texts the alignment of these sides embeds."""
    return {text for units in sides for text in units.texts if carries_content(text)}


def split_units(text: str, lang: str, presplit: bool, keep_empty: bool = False) -> Units:
    """Sentences of `text`; with `presplit`, its lines, whose 0-based line numbers are the ids."""
    if presplit:
        lines = text.splitlines()
        keep = [i for i, line in enumerate(lines) if keep_empty or line.strip()]
        return Units([lines[i].strip() for i in keep], keep)
    sentences = split_sentences(text, lang)
    return Units([s.text for s in sentences], list(range(len(sentences))))


def read_units(path: str, lang: str, presplit: bool = False, keep_empty: bool = False, encoding: str | None = None,
               line_breaks: str = "auto", notes: list[str] | None = None) -> tuple[str, Units]:
    """A file's text (for the language check) and its units: with `presplit` its lines; else its
    blocks (a document's paragraphs, headings, cells, cues; plain text's lines or paragraphs, as
    `line_breaks` says) split into sentences. How the file was read goes into `notes`."""
    if presplit:
        text = read_text(path, encoding, notes)
        return text, split_units(text, lang, True, keep_empty)
    document = read_document(path, encoding, line_breaks, notes)
    if notes is not None:
        if document.format != "text":
            notes.append(f"{path}: {document.format.upper()}, {len(document.blocks)} blocks")
        elif line_breaks == "auto":
            how = "wraps inside paragraphs" if document.line_breaks == "paragraph" else "boundaries"
            notes.append(f"{path}: line breaks read as {how} (--line-breaks auto chose {document.line_breaks})")
    return "\n".join(block.text for block in document.blocks), document_units(document, lang)


STRONG_BLOCKS = ("h", "cue")  # boundaries next to these weigh double in the search (dp: crossing a boundary)


def document_units(document: Document, lang: str) -> Units:
    """The sentences of a document's blocks, numbered in reading order, each with its block's
    place. Plain text read line by line carries no places: its units are `split_units`' own."""
    texts, where, boundaries = [], [], []
    times: list[tuple[float, float] | None] = []
    previous = None
    for block in document.blocks:
        for first, sentence in enumerate(split_sentences(block.text, lang)):
            texts.append(sentence.text)
            where.append(block.where)
            times.append(block.times)
            strong = block.kind in STRONG_BLOCKS or (previous is not None and previous.kind in STRONG_BLOCKS)
            boundaries.append(0 if first or len(texts) == 1 else 2 if strong else 1)
        previous = block
    if document.format == "text" and document.line_breaks == "line":
        return Units(texts, list(range(len(texts))))
    cue_times = [cue for cue in times if cue is not None]
    timed = bool(cue_times) and len(cue_times) == len(texts)
    return Units(texts, list(range(len(texts))), where, boundaries, cue_times if timed else None)


class LinkRecord(TypedDict):
    """One link as it is written out (export.py) and read back (ingest.read_link_records)."""

    src_ids: list[int]
    tgt_ids: list[int]
    type: str  # "1-1", "2-1", "1-0", ...
    score: float
    similarity: float
    src: str  # the linked units' texts joined by spaces ("" for a skip)
    tgt: str
    flags: NotRequired[list[str]]  # score.document_flags
    src_sentences: NotRequired[list[str]]  # a merged side's units, one by one (`sentaligner review` splits with them)
    tgt_sentences: NotRequired[list[str]]
    src_where: NotRequired[str]  # a document's units: the places of their blocks (`p 12`, `table 1 r2 c3`)
    tgt_where: NotRequired[str]


class ChannelLink(LinkRecord):
    """A link of a channel's corpus: also the posts it comes from."""

    src_post_id: int | str
    tgt_post_id: int | str
    date: str | None


@dataclass(frozen=True)
class Signature:
    """How a result was made, printed with it so that it can be reproduced (as sacrebleu's)."""

    src_lang: str
    tgt_lang: str
    model: str  # the encoder's own signature
    max_merge: int
    skip: float
    pair_threshold: float | None = None  # channels only
    version: str = __version__

    def __str__(self) -> str:
        text = (f"sentaligner-{self.version}|{self.src_lang}-{self.tgt_lang}|model={self.model}"
                f"|max_merge={self.max_merge}|skip={self.skip}")
        return text if self.pair_threshold is None else f"{text}|pair_threshold={self.pair_threshold}"


@dataclass
class AlignmentResult:
    links: list[LinkRecord]
    src_units: Units
    tgt_units: Units
    signature: Signature
    stats: dict = field(default_factory=dict)
    features: list[list[float]] = field(default_factory=list)  # per link (score.FEATURES)


def link_record(src: Units, tgt: Units, link: Link, score: float) -> LinkRecord:
    record: LinkRecord = {
        "src_ids": [src.ids[i] for i in link.src],
        "tgt_ids": [tgt.ids[j] for j in link.tgt],
        "type": link.kind,
        "score": round(score, 4),
        "similarity": round(link.similarity, 4),
        "src": " ".join(src.texts[i] for i in link.src),
        "tgt": " ".join(tgt.texts[j] for j in link.tgt),
    }
    if len(link.src) > 1:
        record["src_sentences"] = [src.texts[i] for i in link.src]
    if len(link.tgt) > 1:
        record["tgt_sentences"] = [tgt.texts[j] for j in link.tgt]
    for side, units, ids in (("src", src, link.src), ("tgt", tgt, link.tgt)):
        if units.where is not None and ids:
            record[f"{side}_where"] = ", ".join(dict.fromkeys(units.where[i] for i in ids))  # type: ignore[literal-required]
    return record


def check_size(src: Units, tgt: Units) -> None:
    for side, units in (("source", src), ("target", tgt)):
        if len(units.texts) > MAX_UNITS_PER_SIDE:
            raise InputError(f"the {side} has {len(units.texts):,} units; one document may have at most "
                             f"{MAX_UNITS_PER_SIDE:,} a side: split it into parts")


def check_languages(src_name: str, src_text: str, src_lang: str, tgt_name: str, tgt_text: str,
                    tgt_lang: str) -> None:
    """An InputError where the two texts are the same, or one does not look like its language."""
    if " ".join(src_text.split()) == " ".join(tgt_text.split()):
        raise InputError(f"{src_name} and {tgt_name} hold the same text; --force-lang aligns them anyway")
    for name, text, lang, option in ((src_name, src_text, src_lang, "--src-lang"),
                                     (tgt_name, tgt_text, tgt_lang, "--tgt-lang")):
        reason = language_mismatch(text, lang)
        if reason:
            raise InputError(f"{name}: {reason} ({option} {lang}); --force-lang aligns it anyway")


def signature(encoder: Encoder, params: AlignParams, src_lang: str, tgt_lang: str,
              pair_threshold: float | None = None) -> Signature:
    return Signature(src_lang, tgt_lang, encoder.signature, params.max_merge, params.skip_cost, pair_threshold)


def align_units(src: Units, tgt: Units, encoder: Encoder, src_lang: str = "ru",
                tgt_lang: str = "nb", params: AlignParams = AlignParams(),
                store: EmbeddingStore | None = None, calibration: dict | None = None,
                vectors: Mapping[str, np.ndarray] | None = None, stage: Stage | None = None) -> AlignmentResult:
    """Align two sides' units; `calibration` (default: the encoder's, from models/) scores the links;
    `stage` is told of the embedding and the alignment as each starts.

    `vectors`: unit texts' vectors computed elsewhere (another process or machine, by the same
    encoder); only what they lack is embedded here: the few joined spans the search checks
    (`ExactSpans`, about 1 string in 50), and units they do not hold."""
    check_size(src, tgt)
    store = store or EmbeddingStore(encoder)
    if vectors:
        store.vectors.update(vectors)
    if params.random_distance is None and getattr(encoder, "random_distance", None):
        params = replace(params, random_distance=encoder.random_distance)
    started = time.perf_counter()
    embedded_before, hits_before = store.strings_embedded, store.cache_hits
    previous = store.progress
    if stage:
        store.progress = stage("embedding sentences", len(texts_to_embed(src, tgt).difference(store.vectors)))
    try:
        src_vectors, tgt_vectors = _unit_vectors(src.texts, store), _unit_vectors(tgt.texts, store)
    finally:
        store.progress = previous
    embed_seconds = time.perf_counter() - started
    if stage:
        stage("aligning", None)

    def span_similarity(i: int, a: int, j: int, b: int) -> float:
        joined = store.embed([" ".join(src.texts[i:i + a]), " ".join(tgt.texts[j:j + b])])
        return float(joined[0] @ joined[1])

    exact = ExactSpans(span_similarity, (word_masks(src.texts), word_masks(tgt.texts)))
    found = align_vectors(src_vectors, tgt_vectors, [len(t) for t in src.texts], [len(t) for t in tgt.texts],
                          params, number_masks(src.texts), number_masks(tgt.texts), exact,
                          src.boundaries, tgt.boundaries, quote_endings(src.texts), quote_endings(tgt.texts),
                          src.times, tgt.times)

    calibration = calibration or getattr(encoder, "calibration", None)
    links = [link_record(src, tgt, link, 0.0) for link in found]
    typical = typical_log_ratio(links)
    features = [link_features(link, record["src"], record["tgt"], typical)
                for link, record in zip(found, links, strict=True)]
    for record, score in zip(links, link_scores(features, calibration), strict=True):
        # a unit without content has nothing to translate: skipping it is certainly right
        record["score"] = 1.0 if _without_content(record) else round(float(score), 4)
    for record, flags in zip(links, document_flags(links, src_lang, tgt_lang, typical), strict=True):
        record["flags"] = flags
    if mostly_untranslated(links):
        for record in links:
            if "untranslated" in record["flags"]:
                record["score"] = min(record["score"], UNTRANSLATED_MAX_SCORE)
    total = time.perf_counter() - started
    return AlignmentResult(
        links, src, tgt, signature(encoder, params, src_lang, tgt_lang),
        {
            "src_units": len(src.texts), "tgt_units": len(tgt.texts),
            "strings_embedded": store.strings_embedded - embedded_before,
            "cache_hits": store.cache_hits - hits_before,
            "embed_seconds": round(embed_seconds, 3),
            "align_seconds": round(total - embed_seconds, 3), "seconds": round(total, 3),
        },
        features,
    )


def _unit_vectors(texts: list[str], store: EmbeddingStore) -> np.ndarray:
    """The units' vectors; a unit without content is not embedded but gets a zero vector, which
    the search skips for free (dp.py)."""
    content = [k for k, text in enumerate(texts) if carries_content(text)]
    embedded = store.embed([texts[k] for k in content])
    vectors = np.zeros((len(texts), embedded.shape[1]), dtype=embedded.dtype)
    vectors[content] = embedded
    return vectors


# ---- Calibration data: links of documents with gold, labelled ----

CALIBRATION_NOISE = 0.1  # share of target units replaced by unrelated ones in the synthetic copy


@dataclass
class CalibrationExamples:
    links: list[dict]
    features: np.ndarray
    strict: np.ndarray  # the link is a gold link
    lax: np.ndarray  # it shares a source and a target sentence with the gold
    synthetic: np.ndarray  # it comes from the copy with replaced units
    plain_scores: np.ndarray  # the uncalibrated map of the distance, for comparison


def calibration_examples(src: Units, tgt: Units, gold, encoder: Encoder, src_lang: str, tgt_lang: str,
                         store: EmbeddingStore | None = None, params: AlignParams = AlignParams(),
                         noise: float = CALIBRATION_NOISE, seed: int = 0) -> CalibrationExamples:
    """Align a document with gold, and a copy of it with `noise` of its target units replaced by
    unrelated ones (units from the far half of the same side); label every link."""
    from .evaluate import gold_after_replacement, link_labels, replaced_units
    from .score import DEFAULT_CALIBRATION

    store = store or EmbeddingStore(encoder)
    texts, replaced = replaced_units(tgt.texts, noise, seed) if noise else (tgt.texts, set())
    copies = [(tgt, gold, False)]
    if replaced:
        copies.append((Units(texts, tgt.ids), gold_after_replacement(gold, set(), {tgt.ids[k] for k in replaced}),
                       True))
    rows: dict[str, list] = {"links": [], "features": [], "strict": [], "lax": [], "synthetic": []}
    for target, target_gold, synthetic in copies:
        result = align_units(src, target, encoder, src_lang, tgt_lang, params, store)
        labels = link_labels(result.links, target_gold)
        for link, vector, (strict, lax) in zip(result.links, result.features, labels, strict=True):
            if _without_content(link):  # scored 1 whatever the calibration
                continue
            for key, value in (("links", link), ("features", vector), ("strict", strict), ("lax", lax),
                               ("synthetic", synthetic)):
                rows[key].append(value)
    features = np.array(rows["features"], dtype=float).reshape(-1, len(FEATURES))
    return CalibrationExamples(rows["links"], features, np.array(rows["strict"], dtype=bool),
                               np.array(rows["lax"], dtype=bool), np.array(rows["synthetic"], dtype=bool),
                               link_scores(features, DEFAULT_CALIBRATION))
