"""A channel: posts in, post pairs and a sentence corpus out.

route_posts   each post to Russian, Norwegian, bilingual (split into its two parts) or unpaired
pair_channel  Russian posts with their Norwegian versions, a bilingual post's parts with each other
align_pairs   the sentences of every pair (pipeline.align_units)
write_channel the output folder: pairs, unpaired posts, the corpus in the formats asked, summary
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .dp import AlignParams
from .embed import EmbeddingStore, Encoder
from .export import ExportOptions, ExportStats, export_links, write_jsonl
from .files import atomic_directory, atomic_output
from .ingest import Post
from .language import PostLanguage, classify_posts
from .pair import PairParams, pair_posts, score_bilingual
from .pipeline import ChannelLink, Signature, Stage, align_units, carries_content, signature, split_units
from .report import build_report, channel_facts

FORMATS = ("tsv", "tmx", "moses", "xlsx")  # besides corpus.jsonl, always written
# A post's vector is the length-weighted mean of its sentences that start in its opening (titles
# and first paragraphs are translated most closely), so each sentence is embedded once, for pairing
# and alignment alike.
POST_OPENING_CHARS = 1000
_LANGUAGE_REASONS = {"en": "English: not part of the corpus", "und": "too little text to tell its language"}


@dataclass
class RoutedPosts:
    ru: list[Post]
    nb: list[Post]
    bilingual: list[tuple[Post, Post, Post]]  # the post, its Russian part, its Norwegian part
    unpaired: list[dict]  # posts in no language of the pair, or without text
    languages: list[PostLanguage]  # of every post, in input order


@dataclass
class PostPair:
    ru: Post
    nb: Post
    confidence: float
    evidence: dict


@dataclass
class ChannelPairs:
    pairs: list[PostPair]  # in the order of their Russian posts
    unpaired: list[dict]  # every post in no pair, routed or not
    embed_seconds: float  # every sentence of every Russian and Norwegian post
    pair_seconds: float


@dataclass
class ChannelResult:
    pairs: list[dict]  # pairs.jsonl
    unpaired: list[dict]  # unpaired.jsonl
    links: list[ChannelLink]  # corpus.jsonl
    signature: Signature
    stats: dict = field(default_factory=dict)


def unpaired_record(post: Post, lang: str, reason: str, **extra) -> dict:
    record = {"id": post.id, "date": post.date, "lang": lang, "reason": reason}
    if post.forwarded_from:
        record["forwarded_from"] = post.forwarded_from
    record.update(extra)
    record["text"] = post.text
    return record


def route_posts(posts: list[Post], advance: Callable[[int], None] | None = None) -> RoutedPosts:
    """Each post by its language (language.classify_posts): Russian, Norwegian, bilingual, or
    unpaired with the reason; `advance(n)` follows the posts done."""
    languages = classify_posts([post.text for post in posts], advance=advance)
    routed = RoutedPosts([], [], [], [], languages)
    for post, language in zip(posts, languages, strict=True):
        if language.lang == "ru":
            routed.ru.append(post)
        elif language.lang == "nb":
            routed.nb.append(post)
        elif language.parts:
            routed.bilingual.append((post, replace(post, text=language.parts["ru"]),
                                     replace(post, text=language.parts["nb"])))
        elif not post.text.strip():
            routed.unpaired.append(unpaired_record(post, "und", "no text (media without a caption)"))
        else:
            reason = _LANGUAGE_REASONS.get(language.lang, f"language {language.lang}: not Russian or Norwegian")
            routed.unpaired.append(unpaired_record(post, language.lang, reason))
    return routed


def post_vectors(groups: list[tuple[list[Post], str]], store: EmbeddingStore,
                 stage: Stage | None = None) -> list[np.ndarray]:
    """Each group's post vectors (POST_OPENING_CHARS), the posts of a group in its language. All
    their sentences are embedded, in one pass, and stay in `store` for the alignment."""
    sentences = [[split_units(post.text, lang, False).texts for post in posts] for posts, lang in groups]
    texts = [text for group in sentences for post in group for text in post if carries_content(text)]
    previous = store.progress
    if stage:
        store.progress = stage("embedding sentences", len(set(texts).difference(store.vectors)))
    try:
        dim = store.embed(texts).shape[1]
    finally:
        store.progress = previous
    out = []
    for group in sentences:
        vectors = np.zeros((len(group), dim), dtype=np.float32)
        for row, post in enumerate(group):
            opening, start = [], 0
            for text in post:
                if start >= POST_OPENING_CHARS:
                    break
                if carries_content(text):
                    opening.append(text)
                start += len(text) + 1
            if opening:
                mean = np.array([len(text) for text in opening], dtype=np.float32) @ store.embed(opening)
                vectors[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        out.append(vectors)
    return out


def _mean(*vectors: np.ndarray) -> np.ndarray | None:
    joined = np.concatenate(vectors)
    return joined.mean(axis=0) if len(joined) else None


def pair_channel(routed: RoutedPosts, store: EmbeddingStore, params: PairParams = PairParams(),
                 stage: Stage | None = None) -> ChannelPairs:
    """Pair the routed posts (pair.pair_posts; a bilingual post's parts with each other when they
    match). Each side's mean vector, which normalizes the distances, is over its Russian (or
    Norwegian) posts and the bilingual posts' parts together."""
    started = time.perf_counter()
    ru_vectors, nb_vectors, bi_ru_vectors, bi_nb_vectors = post_vectors(
        [(routed.ru, "ru"), (routed.nb, "nb"), ([ru for _, ru, _ in routed.bilingual], "ru"),
         ([nb for _, _, nb in routed.bilingual], "nb")], store, stage)
    embed_seconds = time.perf_counter() - started
    if stage:
        stage("pairing posts", None)
    started = time.perf_counter()
    ru_mean, nb_mean = _mean(ru_vectors, bi_ru_vectors), _mean(nb_vectors, bi_nb_vectors)

    pairs: list[PostPair] = []
    unpaired = list(routed.unpaired)
    for (original, ru_part, nb_part), ru_vector, nb_vector in zip(routed.bilingual, bi_ru_vectors, bi_nb_vectors,
                                                                  strict=True):
        assert ru_mean is not None and nb_mean is not None  # they include the bilingual posts' parts
        confidence, evidence = score_bilingual(ru_part, nb_part, ru_vector, nb_vector, ru_mean, nb_mean, params)
        if confidence >= params.threshold:
            pairs.append(PostPair(ru_part, nb_part, confidence, evidence))
        else:
            unpaired.append(unpaired_record(original, "ru+nb", "bilingual post whose two parts do not match",
                                            confidence=round(confidence, 4)))
    found, best = pair_posts(routed.ru, routed.nb, ru_vectors, nb_vectors, ru_mean, nb_mean, params)
    pairs += [PostPair(routed.ru[p.ru], routed.nb[p.nb], p.confidence, p.evidence) for p in found]
    paired_ru, paired_nb = {p.ru for p in found}, {p.nb for p in found}
    for side, items, paired, reason in (("ru", routed.ru, paired_ru, "no Norwegian version found"),
                                        ("nb", routed.nb, paired_nb, "no Russian original found")):
        for index, post in enumerate(items):
            if index not in paired:
                extra = {"best_candidate": best[(side, index)]} if (side, index) in best else {}
                unpaired.append(unpaired_record(post, side, reason, **extra))
    pair_seconds = time.perf_counter() - started
    pairs.sort(key=lambda pair: pair.ru.position)
    return ChannelPairs(pairs, unpaired, embed_seconds, pair_seconds)


def _post_side(post: Post) -> dict:
    return {"id": post.id, "date": post.date, "text": post.text}


def align_pairs(pairs: list[PostPair], encoder: Encoder, params: AlignParams = AlignParams(),
                store: EmbeddingStore | None = None, calibration: dict | None = None,
                advance: Callable[[int], None] | None = None) -> tuple[list[dict], list[ChannelLink], dict]:
    """Sentence-align every pair: the pair records (pairs.jsonl), the links with their posts' ids
    and date (corpus.jsonl), and the summed embedding and alignment figures. `advance(1)` is
    called as each pair is done."""
    store = store or EmbeddingStore(encoder)
    pair_records: list[dict] = []
    links: list[ChannelLink] = []
    stats = {"strings_embedded": 0, "embed_seconds": 0.0, "align_seconds": 0.0}
    for pair in pairs:
        result = align_units(split_units(pair.ru.text, "ru", False), split_units(pair.nb.text, "nb", False),
                             encoder, "ru", "nb", params, store, calibration)
        for key in stats:
            stats[key] += result.stats[key]
        links += [ChannelLink(**link, src_post_id=pair.ru.id, tgt_post_id=pair.nb.id, date=pair.ru.date)
                  for link in result.links]
        pair_records.append({"ru": _post_side(pair.ru), "nb": _post_side(pair.nb),
                             "confidence": round(pair.confidence, 4), "evidence": pair.evidence,
                             "sentence_links": len(result.links)})
        if advance:
            advance(1)
    return pair_records, links, stats


def align_channel(posts: list[Post], encoder: Encoder, params: AlignParams = AlignParams(),
                  pair_params: PairParams = PairParams(), store: EmbeddingStore | None = None,
                  stage: Stage | None = None, calibration: dict | None = None) -> ChannelResult:
    """Route posts by language, pair Russian posts with their Norwegian versions (a bilingual post
    with itself) and sentence-align every pair; `stage` names each stage as it starts (Stage)."""
    store = store or EmbeddingStore(encoder)
    started = time.perf_counter()
    routed = route_posts(posts, stage("identifying languages", len(posts)) if stage else None)
    language_seconds = time.perf_counter() - started
    paired = pair_channel(routed, store, pair_params, stage)
    position_of = {post.id: post.position for post in posts}
    unpaired = sorted(paired.unpaired, key=lambda record: position_of[record["id"]])
    advance = stage("aligning pairs", len(paired.pairs)) if stage else None
    pair_records, links, align_stats = align_pairs(paired.pairs, encoder, params, store, calibration, advance)
    counts = dict(Counter(language.lang for language in routed.languages))
    return ChannelResult(
        pair_records, unpaired, links,
        signature(encoder, params, "ru", "nb", pair_threshold=pair_params.threshold),
        {"posts": len(posts), "languages": counts, "pairs": len(pair_records),
         "bilingual_pairs": sum(1 for r in pair_records if r["evidence"].get("bilingual_post")),
         "unpaired": len(unpaired), "links": len(links),
         "language_seconds": round(language_seconds, 3), "sentence_embed_seconds": round(paired.embed_seconds, 3),
         "pair_seconds": round(paired.pair_seconds, 3), **{k: round(v, 3) for k, v in align_stats.items()},
         "strings_embedded_total": store.strings_embedded, "cache_hits": store.cache_hits},
    )


def write_channel(result: ChannelResult, outdir: str | Path, formats: Iterable[str], options: ExportOptions,
                  force: bool = False, report: bool = False) -> tuple[list[str], dict[str, ExportStats]]:
    """Fill OUTDIR with pairs.jsonl, unpaired.jsonl, corpus.jsonl, summary.json, the corpus in the
    other formats asked and, with `report`, report.html; returns the file names and what
    writing each format found."""
    written: dict[str, ExportStats] = {}
    with atomic_directory(outdir, force) as folder:
        write_jsonl(result.pairs, folder / "pairs.jsonl")
        write_jsonl(result.unpaired, folder / "unpaired.jsonl")
        write_jsonl(result.links, folder / "corpus.jsonl")
        for fmt in dict.fromkeys(formats):
            written[fmt] = export_links(result.links, folder / ("corpus" if fmt == "moses" else f"corpus.{fmt}"),
                                        fmt, options, force=True)
        summary = {"signature": str(result.signature), **result.stats,
                   "exported": {fmt: stats.as_dict() for fmt, stats in written.items()}}
        with atomic_output(folder / "summary.json", force=True) as stream:
            stream.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        if report:
            page = build_report(result.links, title=f"Channel corpus: {Path(outdir).name}",
                                signature=str(result.signature), extra=channel_facts(result.stats),
                                unpaired=result.unpaired)
            with atomic_output(folder / "report.html", force=True) as stream:
                stream.write(page)
        names = sorted(path.name for path in folder.iterdir())
    return names, written
