"""Two texts in, scored sentence links out: the stages wired together for the CLI and the API."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from . import __version__
from .align import AlignParams, align_vectors
from .embed import EmbeddingStore, Encoder, load_encoder
from .language import normalize_lang
from .score import link_score
from .segment import split_sentences

DEFAULT_MAX_MERGE = AlignParams().max_merge


@dataclass
class Units:
    """One side's alignment units: texts and the ids they are reported under."""

    texts: list[str]
    ids: list[int]


def split_units(text: str, lang: str, presplit: bool, keep_empty: bool = False) -> Units:
    """Sentences of `text`; with `presplit`, its lines, whose 0-based line numbers are the ids."""
    if presplit:
        lines = text.splitlines()
        keep = [i for i, line in enumerate(lines) if keep_empty or line.strip()]
        return Units([lines[i].strip() for i in keep], keep)
    sentences = split_sentences(text, lang)
    return Units([s.text for s in sentences], list(range(len(sentences))))


@dataclass
class AlignmentResult:
    links: list[dict]
    src_units: Units
    tgt_units: Units
    signature: str
    stats: dict = field(default_factory=dict)


def link_record(src: Units, tgt: Units, link, score: float) -> dict:
    return {
        "src_ids": [src.ids[i] for i in link.src],
        "tgt_ids": [tgt.ids[j] for j in link.tgt],
        "type": link.kind,
        "score": round(score, 4),
        "similarity": round(link.similarity, 4),
        "src": " ".join(src.texts[i] for i in link.src),
        "tgt": " ".join(tgt.texts[j] for j in link.tgt),
    }


def signature(encoder: Encoder, params: AlignParams, src_lang: str, tgt_lang: str) -> str:
    return (f"aligner-{__version__}|{src_lang}-{tgt_lang}|model={encoder.signature}"
            f"|max_merge={params.max_merge}|skip={params.skip_cost}")


def align_units(src: Units, tgt: Units, encoder: Encoder, src_lang: str = "ru",
                tgt_lang: str = "nb", params: AlignParams = AlignParams(),
                store: EmbeddingStore | None = None) -> AlignmentResult:
    store = store or EmbeddingStore(encoder)
    started = time.perf_counter()
    embedded_before = store.strings_embedded
    src_vectors = store.embed([t for t in src.texts if t])
    tgt_vectors = store.embed([t for t in tgt.texts if t])
    embed_seconds = time.perf_counter() - started

    # Empty units (kept only when asked) are never embedded: they can only be skipped.
    src_real = [i for i, t in enumerate(src.texts) if t]
    tgt_real = [j for j, t in enumerate(tgt.texts) if t]
    src_lengths = np.array([len(src.texts[i]) for i in src_real], dtype=float)
    tgt_lengths = np.array([len(tgt.texts[j]) for j in tgt_real], dtype=float)
    found = align_vectors(src_vectors, tgt_vectors, src_lengths, tgt_lengths, params)

    calibration = getattr(encoder, "calibration", None)
    links = []
    for link in found:
        link = replace(link, src=tuple(src_real[i] for i in link.src),
                       tgt=tuple(tgt_real[j] for j in link.tgt))
        links.append(link_record(src, tgt, link, link_score(link, calibration)))
    links = _insert_empty_units(links, src, tgt)
    total = time.perf_counter() - started
    return AlignmentResult(
        links, src, tgt, signature(encoder, params, src_lang, tgt_lang),
        {
            "src_units": len(src.texts), "tgt_units": len(tgt.texts),
            "strings_embedded": store.strings_embedded - embedded_before,
            "embed_seconds": round(embed_seconds, 3),
            "align_seconds": round(total - embed_seconds, 3), "seconds": round(total, 3),
        },
    )


def _insert_empty_units(links: list[dict], src: Units, tgt: Units) -> list[dict]:
    """Place each empty unit as a skip just before the first link that passes it on its side."""
    pending = {"src": deque(i for i, t in zip(src.ids, src.texts) if not t),
               "tgt": deque(j for j, t in zip(tgt.ids, tgt.texts) if not t)}
    if not pending["src"] and not pending["tgt"]:
        return links
    out: list[dict] = []

    def flush(side: str, before: float) -> None:
        while pending[side] and pending[side][0] < before:
            unit = pending[side].popleft()
            out.append({"src_ids": [unit] if side == "src" else [], "tgt_ids": [unit] if side == "tgt" else [],
                        "type": "1-0" if side == "src" else "0-1", "score": 1.0, "similarity": 0.0,
                        "src": "", "tgt": ""})

    for link in links:
        for side in ("src", "tgt"):
            if link[f"{side}_ids"]:
                flush(side, link[f"{side}_ids"][0])
        out.append(link)
    for side in ("src", "tgt"):
        flush(side, float("inf"))
    return out


def align(src: str, tgt: str, *, src_lang: str = "ru", tgt_lang: str = "nb",
          model: str | Encoder = "e5-small", presplit: bool = False,
          max_merge: int = DEFAULT_MAX_MERGE) -> AlignmentResult:
    """Align two texts (a post and its translation) and score every link.

    >>> from aligner import align
    >>> result = align(russian_text, norwegian_text)
    >>> result.links[0]["type"], result.links[0]["score"]
    """
    src_lang, tgt_lang = normalize_lang(src_lang), normalize_lang(tgt_lang)
    encoder = load_encoder(model) if isinstance(model, str) else model
    params = AlignParams(max_merge=max_merge)
    return align_units(split_units(src, src_lang, presplit), split_units(tgt, tgt_lang, presplit),
                       encoder, src_lang, tgt_lang, params)
