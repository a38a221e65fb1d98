"""Two texts in, scored sentence links out: the stages wired together for the CLI and the API."""

from __future__ import annotations

import re
import time
from collections import Counter
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


_CONTENT = re.compile(r"[^\W_]")


def carries_content(text: str) -> bool:
    """Whether a unit holds a letter or a digit. One without (an empty line, punctuation, OCR
    debris, emoji alone) has nothing to translate: it is not embedded and is skipped for free."""
    return bool(_CONTENT.search(text))


def _without_content(record: dict) -> bool:
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


@dataclass
class AlignmentResult:
    links: list[dict]
    src_units: Units
    tgt_units: Units
    signature: str
    stats: dict = field(default_factory=dict)
    features: list[list[float]] = field(default_factory=list)  # per link (score.FEATURES)


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
    src_vectors, tgt_vectors = _unit_vectors(src.texts, store), _unit_vectors(tgt.texts, store)
    embed_seconds = time.perf_counter() - started

    found = align_vectors(src_vectors, tgt_vectors, [len(t) for t in src.texts], [len(t) for t in tgt.texts],
                          params, number_masks(src.texts), number_masks(tgt.texts))

    calibration = calibration or getattr(encoder, "calibration", None)
    links = [link_record(src, tgt, link, 0.0) for link in found]
    typical = typical_log_ratio(links)
    features = [link_features(link, record["src"], record["tgt"], typical) for link, record in zip(found, links)]
    for record, score in zip(links, link_scores(features, calibration)):
        # a unit without content has nothing to translate: skipping it is certainly right
        record["score"] = 1.0 if _without_content(record) else round(float(score), 4)
    add_flags(links, src_lang, tgt_lang, typical)
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
    the search skips for free (align.py)."""
    content = [k for k, text in enumerate(texts) if carries_content(text)]
    embedded = store.embed([texts[k] for k in content])
    vectors = np.zeros((len(texts), embedded.shape[1]), dtype=embedded.dtype)
    vectors[content] = embedded
    return vectors


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
            if _without_content(link):  # scored 1 whatever the calibration
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
