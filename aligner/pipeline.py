"""Two texts in, scored sentence links out: the stages wired together for the CLI and the API."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from . import __version__
from .align import AlignParams, align_vectors
from .embed import EmbeddingStore, Encoder, load_encoder
from .errors import InputError
from .ingest import Post
from .language import classify_posts, normalize_lang
from .pair import PairParams, pair_posts, score_bilingual
from .score import FEATURES, add_flags, link_features, link_scores, number_masks, typical_log_ratio
from .segment import split_sentences

DEFAULT_MAX_MERGE = AlignParams().max_merge
# One document of more units than this on a side is refused before anything is embedded: the
# search would take many minutes and the embedding hours on a laptop. Split such a text.
MAX_UNITS_PER_SIDE = 50_000


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
    features: list[list[float] | None] = field(default_factory=list)  # per link (None: an empty unit)


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


def check_size(src: Units, tgt: Units) -> None:
    for side, units in (("source", src), ("target", tgt)):
        if len(units.texts) > MAX_UNITS_PER_SIDE:
            raise InputError(f"the {side} has {len(units.texts):,} units; one document may have at most "
                             f"{MAX_UNITS_PER_SIDE:,} a side: split it into parts")


def signature(encoder: Encoder, params: AlignParams, src_lang: str, tgt_lang: str) -> str:
    return (f"aligner-{__version__}|{src_lang}-{tgt_lang}|model={encoder.signature}"
            f"|max_merge={params.max_merge}|skip={params.skip_cost}")


def align_units(src: Units, tgt: Units, encoder: Encoder, src_lang: str = "ru",
                tgt_lang: str = "nb", params: AlignParams = AlignParams(),
                store: EmbeddingStore | None = None, calibration: dict | None = None) -> AlignmentResult:
    """Align two sides' units; `calibration` (default: the encoder's, from models/) scores the links."""
    check_size(src, tgt)
    store = store or EmbeddingStore(encoder)
    if params.random_distance is None and getattr(encoder, "random_distance", None):
        params = replace(params, random_distance=encoder.random_distance)
    started = time.perf_counter()
    embedded_before, hits_before = store.strings_embedded, store.cache_hits
    src_vectors = store.embed([t for t in src.texts if t])
    tgt_vectors = store.embed([t for t in tgt.texts if t])
    embed_seconds = time.perf_counter() - started

    # Empty units (kept only when asked) are never embedded: they can only be skipped.
    src_real = [i for i, t in enumerate(src.texts) if t]
    tgt_real = [j for j, t in enumerate(tgt.texts) if t]
    src_lengths = np.array([len(src.texts[i]) for i in src_real], dtype=float)
    tgt_lengths = np.array([len(tgt.texts[j]) for j in tgt_real], dtype=float)
    found = align_vectors(src_vectors, tgt_vectors, src_lengths, tgt_lengths, params,
                          number_masks([src.texts[i] for i in src_real]),
                          number_masks([tgt.texts[j] for j in tgt_real]))

    calibration = calibration or getattr(encoder, "calibration", None)
    links = []
    for link in found:
        link = replace(link, src=tuple(src_real[i] for i in link.src),
                       tgt=tuple(tgt_real[j] for j in link.tgt))
        links.append(link_record(src, tgt, link, 0.0))
    typical = typical_log_ratio(links)
    features = [link_features(link, record["src"], record["tgt"], typical) for link, record in zip(found, links)]
    for record, score in zip(links, link_scores(features, calibration)):
        record["score"] = round(float(score), 4)
    feature_of = {id(record): vector for record, vector in zip(links, features)}
    links = _insert_empty_units(links, src, tgt)
    add_flags(links, src_lang, tgt_lang, typical)  # inserted empty units are skips: same typical ratio
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
        [feature_of.get(id(record)) for record in links],
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
        for link, vector, (strict, lax) in zip(result.links, result.features, link_labels(result.links, target_gold)):
            if vector is None:
                continue
            for key, value in (("links", link), ("features", vector), ("strict", strict), ("lax", lax),
                               ("synthetic", synthetic)):
                rows[key].append(value)
    features = np.array(rows["features"], dtype=float).reshape(-1, len(FEATURES))
    return CalibrationExamples(rows["links"], features, np.array(rows["strict"], dtype=bool),
                               np.array(rows["lax"], dtype=bool), np.array(rows["synthetic"], dtype=bool),
                               link_scores(features, DEFAULT_CALIBRATION))


# ---- A channel: posts in, post pairs and a sentence corpus out ----

POST_EMBED_CHARS = 1000  # a post is embedded by its opening: titles and first paragraphs are translated most closely


@dataclass
class ChannelResult:
    pairs: list[dict]  # pairs.jsonl
    unpaired: list[dict]  # unpaired.jsonl
    links: list[dict]  # corpus.jsonl: link records with the post ids
    signature: str
    stats: dict = field(default_factory=dict)


def _post_side(post: Post) -> dict:
    return {"id": post.id, "date": post.date, "text": post.text}


def _unpaired(post: Post, lang: str, reason: str, **extra) -> dict:
    record = {"id": post.id, "date": post.date, "lang": lang, "reason": reason}
    if post.forwarded_from:
        record["forwarded_from"] = post.forwarded_from
    record.update(extra)
    record["text"] = post.text
    return record


_LANGUAGE_REASONS = {"en": "English: not part of the corpus", "und": "too little text to tell its language"}


def align_channel(posts: list[Post], encoder: Encoder, params: AlignParams = AlignParams(),
                  pair_params: PairParams = PairParams(), store: EmbeddingStore | None = None,
                  pairs_done: Callable[[int, int], None] | None = None,
                  calibration: dict | None = None) -> ChannelResult:
    """Route posts by language, pair Russian posts with their Norwegian versions (a bilingual post
    with itself) and sentence-align every pair; `pairs_done(done, total)` follows the alignment."""
    store = store or EmbeddingStore(encoder)
    started = time.perf_counter()
    languages = classify_posts([post.text for post in posts])
    language_seconds = time.perf_counter() - started
    ru_posts, nb_posts, bilingual, unpaired = [], [], [], []
    for post, language in zip(posts, languages):
        if language.lang == "ru":
            ru_posts.append(post)
        elif language.lang == "nb":
            nb_posts.append(post)
        elif language.parts:
            bilingual.append((post, replace(post, text=language.parts["ru"]), replace(post, text=language.parts["nb"])))
        elif not post.text.strip():
            unpaired.append(_unpaired(post, "und", "no text (media without a caption)"))
        else:
            reason = _LANGUAGE_REASONS.get(language.lang, f"language {language.lang}: not Russian or Norwegian")
            unpaired.append(_unpaired(post, language.lang, reason))

    def opening(items: list[Post]) -> np.ndarray:
        return store.embed([post.text[:POST_EMBED_CHARS] for post in items])

    embed_started = time.perf_counter()
    ru_vectors, nb_vectors = opening(ru_posts), opening(nb_posts)
    bi_ru_vectors, bi_nb_vectors = opening([b[1] for b in bilingual]), opening([b[2] for b in bilingual])
    post_embed_seconds = time.perf_counter() - embed_started
    pair_started = time.perf_counter()
    ru_mean = np.concatenate([ru_vectors, bi_ru_vectors]).mean(axis=0) if len(ru_vectors) + len(bi_ru_vectors) else None
    nb_mean = np.concatenate([nb_vectors, bi_nb_vectors]).mean(axis=0) if len(nb_vectors) + len(bi_nb_vectors) else None

    found: list[tuple[Post, Post, float, dict]] = []
    for (original, ru_part, nb_part), ru_vector, nb_vector in zip(bilingual, bi_ru_vectors, bi_nb_vectors):
        confidence, evidence = score_bilingual(ru_part, nb_part, ru_vector, nb_vector, ru_mean, nb_mean, pair_params)
        if confidence >= pair_params.threshold:
            found.append((ru_part, nb_part, confidence, evidence))
        else:
            unpaired.append(_unpaired(original, "ru+nb", "bilingual post whose two parts do not match",
                                      confidence=round(confidence, 4)))
    pairs, best = pair_posts(ru_posts, nb_posts, ru_vectors, nb_vectors, ru_mean, nb_mean, pair_params)
    found += [(ru_posts[p.ru], nb_posts[p.nb], p.confidence, p.evidence) for p in pairs]
    paired_ru, paired_nb = {p.ru for p in pairs}, {p.nb for p in pairs}
    for side, items, paired, reason in (("ru", ru_posts, paired_ru, "no Norwegian version found"),
                                        ("nb", nb_posts, paired_nb, "no Russian original found")):
        for index, post in enumerate(items):
            if index not in paired:
                extra = {"best_candidate": best[(side, index)]} if (side, index) in best else {}
                unpaired.append(_unpaired(post, side, reason, **extra))
    pair_seconds = time.perf_counter() - pair_started

    found.sort(key=lambda pair: pair[0].position)
    position_of = {post.id: post.position for post in posts}
    unpaired.sort(key=lambda record: position_of[record["id"]])
    pair_records, links = [], []
    align_stats = {"strings_embedded": 0, "embed_seconds": 0.0, "align_seconds": 0.0}
    for done, (ru_post, nb_post, confidence, evidence) in enumerate(found, start=1):
        result = align_units(split_units(ru_post.text, "ru", False), split_units(nb_post.text, "nb", False),
                             encoder, "ru", "nb", params, store, calibration)
        for key in align_stats:
            align_stats[key] += result.stats[key]
        for link in result.links:
            links.append({**link, "src_post_id": ru_post.id, "tgt_post_id": nb_post.id, "date": ru_post.date})
        pair_records.append({"ru": _post_side(ru_post), "nb": _post_side(nb_post), "confidence": round(confidence, 4),
                             "evidence": evidence, "sentence_links": len(result.links)})
        if pairs_done:
            pairs_done(done, len(found))
    counts = dict(Counter(language.lang for language in languages))
    return ChannelResult(
        pair_records, unpaired, links,
        signature(encoder, params, "ru", "nb") + f"|pair_threshold={pair_params.threshold}",
        {"posts": len(posts), "languages": counts, "pairs": len(pair_records),
         "bilingual_pairs": sum(1 for r in pair_records if r["evidence"].get("bilingual_post")),
         "unpaired": len(unpaired), "links": len(links),
         "language_seconds": round(language_seconds, 3), "post_embed_seconds": round(post_embed_seconds, 3),
         "pair_seconds": round(pair_seconds, 3), **{k: round(v, 3) for k, v in align_stats.items()},
         "strings_embedded_total": store.strings_embedded, "cache_hits": store.cache_hits},
    )
