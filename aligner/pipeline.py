"""Two texts in, scored sentence links out: the stages wired together for the CLI and the API."""

from __future__ import annotations

import time
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
    links = _insert_empty_units(links, src, tgt, src_real, tgt_real)
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


def _insert_empty_units(links: list[dict], src: Units, tgt: Units,
                        src_real: list[int], tgt_real: list[int]) -> list[dict]:
    """Place each empty unit as a skip right after the link that precedes it on its side."""
    empty_src = sorted(set(range(len(src.texts))) - set(src_real))
    empty_tgt = sorted(set(range(len(tgt.texts))) - set(tgt_real))
    if not empty_src and not empty_tgt:
        return links
    skip = {"type": "", "score": 1.0, "similarity": 0.0, "src": "", "tgt": ""}
    pending = [(src.ids[i], "src") for i in empty_src] + [(tgt.ids[j], "tgt") for j in empty_tgt]
    out: list[dict] = []
    last = {"src": -1, "tgt": -1}

    def flush(limit: dict):
        nonlocal pending
        keep = []
        for unit_id, side in pending:
            if unit_id < limit[side]:
                out.append({**skip, "src_ids": [unit_id] if side == "src" else [],
                            "tgt_ids": [unit_id] if side == "tgt" else [],
                            "type": "1-0" if side == "src" else "0-1"})
            else:
                keep.append((unit_id, side))
        pending = keep

    for link in links:
        flush({"src": min(link["src_ids"], default=last["src"] + 1),
               "tgt": min(link["tgt_ids"], default=last["tgt"] + 1)})
        out.append(link)
        last = {"src": max(link["src_ids"], default=last["src"]),
                "tgt": max(link["tgt_ids"], default=last["tgt"])}
    flush({"src": float("inf"), "tgt": float("inf")})
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
