"""Monotonic sentence alignment by dynamic programming over two embedded sentence sequences.

A link joins `a` consecutive source sentences to `b` consecutive target sentences (a + b <=
max_merge; 1-0 and 0-1 are skips). The search minimizes the summed cost of the links:

    d(x, y)   = 2 (1 - x.y) / ((1 - x.mu_tgt) + (1 - y.mu_src))
    cost(a,b) = (a + b) / 2 * (d + length_weight * |length misfit|)
                + merge_penalty * (a + b - 2)
                + component_weight * sum over the merged sentences s of max(0, d(s, other span) - θ)
                + number_weight * (share of the spans' numbers not on both sides, when both have some)
    skip      = skip_cost per sentence

The vectors are first centered: each side's mean is taken off every sentence vector (Centering),
so that a span's summed vector says what its sentences say rather than what all of the side's
sentences share, which summing would otherwise reward the more the longer the spans.
`mu_*` is the mean sentence vector of a side, so `1 - x.mu` is x's expected distance to a random
sentence of the other side (Vecalign's normalization, computed exactly instead of sampled): one
skip threshold then works across documents and encoders. For short documents it is shrunk
towards the typical distance between unrelated sentences. The component term charges a merge
for every sentence in it that on its own looks unrelated to the other side, so a stray line is
skipped (1-0 / 0-1) instead of being swallowed by a neighbour.

Skipping a unit shorter than `short_unit` characters costs less, a unit given a zero vector (the
pipeline does so for units without a letter or digit) nothing, and the length misfit is taken
against the length ratio of mutually nearest sentence pairs, which untranslated passages do not
skew, with both lengths padded by 10 characters counted in each side's own units (one Chinese
character carries about three English ones). A merged span's vector is the normalized sum of
its sentences' vectors weighted by their lengths to the power 0.25, so each sentence is embedded
once; embedding the joined texts of the merges the search is unsure of instead scored no better
on the six gold sets (benchmarks/README.md).

Given the exact embeddings of joined spans (ExactSpans, from the caller), a skip next to a pair
then joins it where the joined text matches the other side nearly as well (reattach_skips), and
a skip beside a merge takes the merge's facing edge sentence where that sentence adds nothing to
the merge (trade_edges_for_skips). A source skip and a target skip side by side become a pair
(pair_facing_skips).

Two signals are weighed by what the document itself shows (Band.add_ending_term,
Band.add_time_term): how a link's spans end (a quotation mark or not) and, for subtitles, how
far their cues overlap in time. Each adds -T log of a likelihood ratio, taken over the links
the document's text alone gives (the cheapest path before the term; for the times, the whole
alignment without them) against chance, so it counts where the two texts agree on it and is
about 0 where they do not (quotations marked differently, subtitles timed for another film).
Where both sides are timed, the cue boundaries are not anchors: each side's subtitler cuts cues
in their own places, and the times say where cues meet.

Every possible link gets its posterior: a forward-backward pass over the same band with soft
minima, where each path weighs exp(-cost / T), gives the share of all paths that use it. The path
returned is not the cheapest but the one whose links' posteriors, less `decode_threshold`, sum
highest (minimum Bayes risk decoding): where two segmentations of a stretch cost about the same,
it keeps the links that more of the near-best paths agree on. The posterior is also the best
single sign (for the score, score.py) that a link is a piece of a larger block or the other way
round.

The file reads top down: the entry point (align_vectors), the search (bands, the coarse-to-fine
first pass for long documents, the passes over a band), the costs, and the measures each link of
the path is reported with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from copy import copy as shallow_copy
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike

SKIP = -1  # backpointer for an insertion (0-1) inside a row
# A merged span's vector weighs each sentence's vector by its length to this power (AlignParams).
SPAN_WEIGHT_POWER = 0.25


@dataclass(frozen=True)
class AlignParams:
    # Chosen with e5-small leaving each of the six gold sets out (benchmarks/README.md).
    max_merge: int = 8
    skip_cost: float = 0.9
    merge_penalty: float = 0.3
    length_weight: float = 0.5
    component_weight: float = 1.0
    component_threshold: float = 0.9
    short_unit: float = 10.0  # units shorter than this many characters are cheaper to skip
    max_exact_cells: int = 250_000  # larger inputs: a coarse-to-fine band, then every link type in it
    # Rows and columns kept around the first pass's path. 8 gives the links and scores of 24 on
    # the novel and of the whole grid on Text+Berg dev and ParIce (benchmarks/README.md).
    band: int = 8
    # The encoder's typical distance 1 - x.y between unrelated sentences (models/); a side's
    # expected distance is shrunk towards it as if `prior_sentences` more sentences were there,
    # so a document of one or two sentences is not compared only with itself.
    random_distance: float | None = None
    prior_sentences: float = 4.0
    number_weight: float = 0.5  # times the share of numbers not shared, when both sides have some
    # Paths are weighted exp(-cost / T) for the links' posteriors; T small: only near-best paths
    # count. Chosen leaving each gold set out (benchmarks/README.md).
    posterior_temperature: float = 0.15
    # The path returned is the one whose links' posteriors, less this, sum highest (minimum Bayes
    # risk): a link is worth its place when it is more likely in the alignment than not. None:
    # the cheapest path.
    decode_threshold: float | None = 0.5
    # A skip joins a neighbouring pair when, embedded exactly, the pair's spans match at least this
    # much better with it (reattach_skips); None: never. Below 0: a sentence that belongs dilutes
    # the joined embedding a little, so a small loss is allowed (chosen leaving each gold set out,
    # benchmarks/README.md). Needs a span_similarity for align_vectors.
    reattach_margin: float | None = -0.02
    # A merge beside a skip keeps the sentence at its edge that faces the skip only where, embedded
    # exactly, that sentence makes the merge's spans at least this much more similar; else the
    # sentence leaves the merge and pairs with the skip (trade_edges_for_skips). None: never.
    # Chosen leaving each gold set out (benchmarks/README.md).
    trade_margin: float | None = 0.01
    # Sentence vectors are taken less their side's mean, shrunk towards 0 as if this many more
    # zero vectors were there (Centering); None: as the encoder gives them.
    center_prior: float | None = 1.0
    # Sides of fewer sentences with content are not centered: the mean of a handful of sentences
    # is mostly those sentences, and taking it off makes the two sides alike through what they
    # leave out (a line with no counterpart in a three-line post was then merged, not skipped).
    # Below the smallest gold document (19 sentences), so no gold figure depends on it.
    center_min_sentences: int = 10
    # How much a sentence's length counts in a merged span's vector (length ** power; 0.5 was
    # chosen on Text+Berg dev alone). Lower, a short sentence at the edge of a block moves the
    # span's vector enough for the search to see where it belongs ("One thing was certain." is
    # the start of the next Chinese sentence, not the end of this one). Chosen leaving each gold
    # set out (benchmarks/README.md).
    span_weight_power: float = SPAN_WEIGHT_POWER
    # How a link's spans end (with a quotation mark or not) counts this many times the log of
    # how much likelier that pair of endings is in the links the text alone gives than by chance,
    # in units of posterior_temperature (Band.add_ending_term). 1 is the weight of a likelihood
    # ratio: a cost is -T log of a probability. Only MAC-Dev's links move with it (2 fits it
    # better, chosen on it alone), so no other value is supported by the other sets.
    ending_weight: float = 1.0
    # A link crossing a block boundary (a paragraph, a heading, a cue) on one side only costs this
    # many merge penalties per unit of the boundary's strength. Chosen leaving one part of
    # Steinbeck out, the only gold text with paragraphs (benchmarks/README.md).
    boundary_weight: float = 1.0
    # Where both sides are subtitles, the time overlap of a link's cues counts so: the log of how
    # much likelier that overlap is in the links found without the times than among all candidate
    # links, in units of posterior_temperature (Band.add_time_term). No gold set has subtitles, so
    # nothing was chosen: 1 is the weight of a likelihood ratio, as for the endings.
    time_weight: float = 1.0
    # The tables of endings and time overlaps are shrunk towards chance as if this many more
    # links were there, so a handful of links cannot set a strong term.
    evidence_prior: float = 10.0


@dataclass(frozen=True)
class Link:
    src: tuple[int, ...]
    tgt: tuple[int, ...]
    # Cosine and normalized distance d of the two spans; for a skip, of the sentence's best
    # 1-1 match among the other side's sentences near the skip.
    similarity: float
    distance: float
    # For a pair, the ratio margin: its similarity over the mean of its nearest neighbours on
    # the other side (0 for a skip).
    margin: float = 0.0
    # The share of the near-best paths through the search band that use this link (see
    # Band.path_posteriors): low where another segmentation of the stretch costs almost as little.
    posterior: float = 1.0

    @property
    def kind(self) -> str:
        return f"{len(self.src)}-{len(self.tgt)}"


def link_types(max_merge: int) -> list[tuple[int, int]]:
    """All (a, b) with a + b <= max_merge, skips (1, 0) and (0, 1) included."""
    if max_merge < 2:
        raise ValueError("max_merge must be at least 2")
    types = [(1, 0), (0, 1)]
    types += [(a, b) for a in range(1, max_merge) for b in range(1, max_merge) if a + b <= max_merge]
    return types


@dataclass(frozen=True)
class ExactSpans:
    """What the caller, who has the texts and the encoder, can tell about spans."""
    similarity: Callable[[int, int, int, int], float]  # cos of exact embeddings of src[i:i+a], tgt[j:j+b]
    movable: tuple[np.ndarray, np.ndarray]  # per side: units that hold a word, so joining them can show


def align_vectors(src_vectors: np.ndarray, tgt_vectors: np.ndarray, src_lengths: ArrayLike, tgt_lengths: ArrayLike,
                  params: AlignParams = AlignParams(), src_numbers: np.ndarray | None = None,
                  tgt_numbers: np.ndarray | None = None, exact: ExactSpans | None = None,
                  src_boundaries: ArrayLike | None = None, tgt_boundaries: ArrayLike | None = None,
                  src_endings: np.ndarray | None = None, tgt_endings: np.ndarray | None = None,
                  src_times: ArrayLike | None = None, tgt_times: ArrayLike | None = None) -> list[Link]:
    """Align two sequences of L2-normalized sentence vectors; lengths are in characters. With
    `exact`, skips next to a pair are checked against exact span embeddings (reattach_skips);
    with both sides' `boundaries` (the block boundary before each sentence: 0 none, 1 a
    paragraph, 2 a heading or cue), a link crossing them on one side only costs more. With both
    sides' `endings` (a class per sentence: 1 where it ends a quotation) and `times` (each
    sentence's cue, start and end in seconds), links whose spans agree on them as the links the
    text alone gives do cost less; the times are weighed by how the links found without them
    overlap, and take the place of the boundaries."""
    n, m = len(src_vectors), len(tgt_vectors)
    if n == 0 or m == 0:
        return ([Link((i,), (), 0.0, 2.0) for i in range(n)]
                + [Link((), (j,), 0.0, 2.0) for j in range(m)])
    endings = (src_endings, tgt_endings) \
        if params.ending_weight and src_endings is not None and tgt_endings is not None else None
    times = (np.asarray(src_times, float), np.asarray(tgt_times, float)) \
        if params.time_weight and src_times is not None and tgt_times is not None else None
    if times is not None:
        # cue boundaries are where each side's subtitler cut, often not in the same places; where
        # cues meet, their times say
        src_boundaries = tgt_boundaries = None
    src_lengths = np.asarray(src_lengths, dtype=float)
    tgt_lengths = np.asarray(tgt_lengths, dtype=float)
    # the encoder's vectors as given (float32 from the pipeline), kept for the links' measures
    # without a float64 copy of their own: at 100,000 sentences a side such copies cost 600 MiB
    raw_vectors, raw_params, centering = (np.asarray(src_vectors), np.asarray(tgt_vectors)), params, None
    if params.center_prior is not None and min(_has_content(raw_vectors[0]).sum(),
                                               _has_content(raw_vectors[1]).sum()) >= params.center_min_sentences:
        centering = Centering.of(*raw_vectors, params.center_prior)
        src_vectors, tgt_vectors = centering.src(raw_vectors[0]), centering.tgt(raw_vectors[1])
        params = replace(params, random_distance=CENTERED_RANDOM_DISTANCE)
    else:
        src_vectors, tgt_vectors = np.asarray(src_vectors, float), np.asarray(tgt_vectors, float)
    types = link_types(params.max_merge)
    power = params.span_weight_power
    both = src_boundaries is not None and tgt_boundaries is not None
    src_edges = np.asarray(src_boundaries, float) if both else None
    tgt_edges = np.asarray(tgt_boundaries, float) if both else None
    if n * m <= params.max_exact_cells:
        costs = LinkCosts(SpanVectors(src_vectors, src_lengths, power), SpanVectors(tgt_vectors, tgt_lengths, power),
                       src_lengths, tgt_lengths, params, src_numbers=src_numbers, tgt_numbers=tgt_numbers,
                       src_boundaries=src_edges, tgt_boundaries=tgt_edges)
        lo, hi = full_band(n, m)
    else:
        # Pass 1: a 1-1/skip path, coarse to fine; pass 2: every link type near it.
        # Time and memory grow with length times band width.
        lo, hi, coarse_log_ratio = coarse_to_fine_band(src_vectors, tgt_vectors, src_lengths, tgt_lengths, params)
        costs = LinkCosts(SpanVectors(src_vectors, src_lengths, power), SpanVectors(tgt_vectors, tgt_lengths, power),
                       src_lengths, tgt_lengths, params,
                       known_log_ratio=None if n * m <= EXACT_RATIO_CELLS else coarse_log_ratio,
                       src_numbers=src_numbers, tgt_numbers=tgt_numbers,
                       src_boundaries=src_edges, tgt_boundaries=tgt_edges)
    band = Band(n, m, types, costs, lo, hi)
    temperature, prior = params.posterior_temperature, params.evidence_prior
    if endings is not None:
        chosen = [(i, a, j, b) for i, a, j, b in band.best_path() if a and b]  # the cheapest path so far
        band.add_ending_term(*endings, chosen, params.ending_weight * temperature, prior)
    content = (_has_content(raw_vectors[0]), _has_content(raw_vectors[1]))
    if times is not None:  # the links the text gives without the times, decoded from a copy of the band
        chosen = [(i, a, j, b) for i, a, j, b in _decode(band.copy(), params, exact, content) if a and b]
        band.add_time_term(*times, chosen, params.time_weight * temperature, prior)
    path = _decode(band, params, exact, content)
    posteriors = (band.path_posteriors(path, params.posterior_temperature) if params.decode_threshold is None
                  else band.gained_posteriors(path))
    del band  # the band's link costs are the largest array; the link measures need their room
    if centering is not None:  # links are reported with the cosines of the encoder's own vectors
        log_ratio = costs.log_ratio
        del costs, src_vectors, tgt_vectors  # the centered side, before the measures take its room
        costs = LinkCosts(SpanVectors(raw_vectors[0], src_lengths, power),
                          SpanVectors(raw_vectors[1], tgt_lengths, power),
                          src_lengths, tgt_lengths, raw_params, known_log_ratio=log_ratio,
                          src_numbers=src_numbers, tgt_numbers=tgt_numbers)
    return _make_links(costs, path, posteriors)


def _decode(band: Band, params: AlignParams, exact: ExactSpans | None,
            content: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int, int, int]]:
    """The path through `band` (minimum Bayes risk where params.decode_threshold is set, which
    turns the band's costs into gains in place), then the steps after the search: skips
    reattached, merge edges traded for skips, facing skips paired."""
    if params.decode_threshold is not None:
        band.costs_to_posterior_gains(params.posterior_temperature, params.decode_threshold)
    path = band.best_path()
    # the steps after the search move no sentence against what the document's evidence says:
    # not where that makes the links it touches less than half as likely
    with_evidence = band.ending_evidence is not None or band.time_evidence is not None
    evidence = band.evidence_cost if with_evidence else None
    veto = params.posterior_temperature * np.log(2.0)
    if exact is not None and params.reattach_margin is not None:
        path = reattach_skips(path, exact, params.max_merge, params.reattach_margin, evidence, veto)
    if exact is not None and params.trade_margin is not None:
        path = trade_edges_for_skips(path, exact.similarity, params.trade_margin, content, evidence, veto)
    return pair_facing_skips(path, content, evidence, veto)


# Centered unrelated sentences are about orthogonal: the distance 1 - x.y a short document's
# expected distances are shrunk towards (AlignParams.random_distance) once vectors are centered.
CENTERED_RANDOM_DISTANCE = 1.0


@dataclass(frozen=True)
class Centering:
    """Each side's vectors less the side's mean, normalized again (zero vectors stay zero).

    Summing sentence vectors into a span adds up what all sentences of a side share (the
    language, the document's subject) faster than what each one says, so the summed vectors of
    two long spans look alike whatever they hold: on MAC-Dev the cosine of candidate merges rose
    from 0.846 (3 sentences) to 0.880 (6) and ranked the gold merges below the rest (AUROC
    0.36 at 5 sentences), where their exact embeddings stay at 0.83. Less that shared part, a
    span's vector is what its sentences say. The mean is shrunk towards 0 as if `prior` more
    zero vectors were there; align_vectors centers no side of fewer than
    AlignParams.center_min_sentences sentences (benchmarks/README.md)."""
    src_mean: np.ndarray
    tgt_mean: np.ndarray

    @classmethod
    def of(cls, src: np.ndarray, tgt: np.ndarray, prior: float) -> Centering:
        def mean(vectors: np.ndarray) -> np.ndarray:
            content = _has_content(vectors)
            return vectors[content].sum(0) / (content.sum() + prior)
        return cls(mean(src), mean(tgt))

    def src(self, vectors: np.ndarray) -> np.ndarray:
        return _centered(vectors, self.src_mean)

    def tgt(self, vectors: np.ndarray) -> np.ndarray:
        return _centered(vectors, self.tgt_mean)


def _has_content(vectors: np.ndarray) -> np.ndarray:
    """Rows that are unit vectors, not the zero vectors of units without content."""
    return np.einsum("nd,nd->n", vectors, vectors) > 0.25


def _centered(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, float)
    out = np.where(_has_content(vectors)[:, None], vectors - mean, 0.0)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


Evidence = Callable[[int, int, int, int], float]  # what the document's evidence adds to a link's cost


def reattach_skips(path: list[tuple[int, int, int, int]], exact: ExactSpans, max_merge: int, margin: float,
                   evidence: Evidence | None = None, veto: float = 0.0) -> list[tuple[int, int, int, int]]:
    """The path with each skip (1-0 / 0-1) of a movable sentence joined to the neighbouring
    pair it fits best, where the pair's two spans, embedded exactly with the sentence, are at
    least `margin` more similar than without it (a negative margin: at most that much less).
    The search prices a merge from approximate span vectors, and a fragment ("and demonstrated
    the excellent performance of the instruments,") barely resembles the whole sentence it
    belongs to, so it is skipped; the joined text shows whether it carries what the other side
    has. A sentence with no counterpart makes the span less similar and stays a skip. A unit
    without a word (a stray letter) barely moves an embedding, so its gain would be noise: it is
    not movable. Nor is a sentence whose joining would raise the pair's `evidence` cost by more
    than `veto` (a subtitle cue said at another time than the pair's)."""
    movable, span_similarity = exact.movable, exact.similarity
    path = list(path)
    k = 0
    while k < len(path):
        i, a, j, b = path[k]
        if a + b != 1 or not (movable[0][i] if a else movable[1][j]):
            k += 1
            continue
        best: tuple[float, int, tuple[int, int, int, int]] | None = None
        for neighbour in (k - 1, k + 1):
            if not 0 <= neighbour < len(path):
                continue
            ni, na, nj, nb = path[neighbour]
            if not (na and nb) or na + nb + 1 > max_merge:
                continue
            joined = (ni, na + a, nj, nb + b) if neighbour < k else (i, a + na, j, b + nb)
            if evidence is not None and evidence(*joined) - evidence(ni, na, nj, nb) > veto:
                continue
            gain = span_similarity(*joined) - span_similarity(ni, na, nj, nb)
            if gain >= margin and (best is None or gain > best[0]):
                best = (gain, neighbour, joined)
        if best is None:
            k += 1
            continue
        _, neighbour, joined = best
        path[neighbour] = joined
        del path[k]
        k = min(k, neighbour)  # the grown link may take the next skip too
    return path


def trade_edges_for_skips(path: list[tuple[int, int, int, int]], span_similarity: Callable[[int, int, int, int], float],
                          margin: float, content: tuple[np.ndarray, np.ndarray], evidence: Evidence | None = None,
                          veto: float = 0.0) -> list[tuple[int, int, int, int]]:
    """The path where each skip beside a merge takes the merge's edge sentence that faces it on
    the other side, unless that sentence, embedded exactly with its merge, makes the merge's two
    spans at least `margin` more similar (both units with `content`). A heading the encoder cannot match ("3." against
    "1.1.2 III") is left a skip, and its counterpart, about as cheap to glue onto the sentence
    before as to pair with nothing alike, is glued there; the joined text then shows that it
    adds nothing to that link, and the two headings, at the same place in both texts, pair. No
    trade raises the two links' `evidence` cost by more than `veto`."""
    path = list(path)
    for k, (i, a, j, b) in enumerate(path):
        if a + b != 1 or not (content[0][i] if a else content[1][j]):
            continue
        for neighbour in (k - 1, k + 1):
            if not 0 <= neighbour < len(path):
                continue
            ni, na, nj, nb = path[neighbour]
            before = neighbour < k
            if a and na and nb >= 2:  # a source skip; the merge gives up a target sentence
                edge = nj + nb - 1 if before else nj
                rest = (ni, na, nj if before else nj + 1, nb - 1)
                pair = (i, 1, edge, 1)
            elif b and nb and na >= 2:
                edge = ni + na - 1 if before else ni
                rest = (ni if before else ni + 1, na - 1, nj, nb)
                pair = (edge, 1, j, 1)
            else:
                continue
            if not content[1 if a else 0][edge]:
                continue
            if evidence is not None and evidence(*rest) + evidence(*pair) - evidence(ni, na, nj, nb) > veto:
                continue
            if span_similarity(ni, na, nj, nb) - span_similarity(*rest) < margin:
                path[neighbour], path[k] = rest, pair
                break
    return path


def pair_facing_skips(path: list[tuple[int, int, int, int]], content: tuple[np.ndarray, np.ndarray],
                      evidence: Evidence | None = None, veto: float = 0.0) -> list[tuple[int, int, int, int]]:
    """The path with a source skip and a target skip that follow each other, both units with
    `content` (the others have nothing to translate), made one 1-1 link: the two sentences are
    at the same place in both texts, between the same two links, and a translation that drops
    one sentence and adds another just there is rarer than a pair the encoder does not see as
    alike (differently written section numbers). Not where the pair's `evidence` cost is above
    `veto` (two cues said at different times)."""
    def lone_skip(step: tuple[int, int, int, int]) -> bool:
        i, a, j, b = step
        return a + b == 1 and bool(content[0][i] if a else content[1][j])

    paired: list[tuple[int, int, int, int]] = []
    for step in path:
        last = paired[-1] if paired else None
        if last is not None and lone_skip(last) and lone_skip(step) and last[1] != step[1]:
            src, tgt = (last, step) if last[1] else (step, last)
            pair = (src[0], 1, tgt[2], 1)
            if evidence is None or evidence(*pair) <= veto:
                paired[-1] = pair
                continue
            paired.append(step)
        else:
            paired.append(step)
    return paired


# ---- The search: one band around the likely path, every link type in it ----

def full_band(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n + 1, dtype=np.int64), np.full(n + 1, m, dtype=np.int64)


def band_around(path: list[tuple[int, int, int, int]], n: int, m: int,
                width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows' target ranges within `width` of the cells a path passes through."""
    lo = np.full(n + 1, m, dtype=np.int64)
    hi = np.zeros(n + 1, dtype=np.int64)
    lo[0] = hi[0] = 0
    for i, a, j, b in path:
        lo[i + a] = min(lo[i + a], j + b)
        hi[i + a] = max(hi[i + a], j + b)
        lo[i] = min(lo[i], j)
        hi[i] = max(hi[i], j)
    # widen by `width` rows and columns around every cell of the path
    lo_wide = np.array([lo[max(0, i - width):i + width + 1].min() for i in range(n + 1)]) - width
    hi_wide = np.array([hi[max(0, i - width):i + width + 1].max() for i in range(n + 1)]) + width
    return np.clip(lo_wide, 0, m), np.clip(hi_wide, 0, m)


LENGTH_PADDING = 10.0  # characters added to both spans' lengths before their ratio is taken
EXACT_RATIO_CELLS = 25_000_000  # up to here the length ratio comes from all sentence pairs
COARSE_UNITS = 1500  # the coarsest level of the first pass has at most this many units a side
COARSE_RADIUS = 4  # a path found at one level is searched again within this many units at the next


def _pool(vectors: np.ndarray, lengths: np.ndarray, power: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of consecutive units merged into one (length ** power-weighted, normalized), as spans are."""
    n = len(vectors)
    weighted = vectors * (np.maximum(lengths, 1.0) ** power)[:, None]
    if n % 2:
        weighted = np.vstack([weighted, np.zeros((1, weighted.shape[1]))])
        lengths = np.append(lengths, 0.0)
    pooled = weighted[0::2] + weighted[1::2]
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled, lengths[0::2] + lengths[1::2]


def _refine(path: list[tuple[int, int, int, int]], n: int, m: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """The band at the next finer level (twice the units) around a path found at this one."""
    lo = np.full(n + 1, m, dtype=np.int64)
    hi = np.zeros(n + 1, dtype=np.int64)
    for i, a, j, b in path:
        for row in range(2 * i, min(n, 2 * (i + a)) + 1):
            lo[row] = min(lo[row], 2 * j)
            hi[row] = max(hi[row], min(m, 2 * (j + b)))
    lo[0] = 0
    lo = np.minimum.accumulate(lo[::-1])[::-1]  # monotone, so the band has no gaps
    hi = np.maximum.accumulate(hi)
    lo_wide = np.array([lo[max(0, i - radius):i + radius + 1].min() for i in range(n + 1)]) - radius
    hi_wide = np.array([hi[max(0, i - radius):i + radius + 1].max() for i in range(n + 1)]) + radius
    lo_wide, hi_wide = np.clip(lo_wide, 0, m), np.clip(hi_wide, 0, m)
    hi_wide[n] = m
    return lo_wide, hi_wide


def mutual_log_ratio(src: np.ndarray, tgt: np.ndarray, src_len: np.ndarray, tgt_len: np.ndarray) -> float:
    """Log ratio of summed lengths (target/source) over mutual nearest-neighbour pairs: unlike the
    ratio of total lengths, it is not skewed by untranslated passages. Memory linear in length."""
    best_tgt = np.empty(len(src), dtype=np.int64)
    best_src = np.zeros(len(tgt), dtype=np.int64)
    best_src_sim = np.full(len(tgt), -np.inf)
    for start in range(0, len(src), 2048):
        sim = src[start:start + 2048] @ tgt.T
        best_tgt[start:start + 2048] = sim.argmax(1)
        chunk_best = sim.max(0)
        better = chunk_best > best_src_sim
        best_src[better] = sim.argmax(0)[better] + start
        best_src_sim[better] = chunk_best[better]
    mutual = np.flatnonzero(best_src[best_tgt] == np.arange(len(src)))
    if len(mutual) < 3:
        return float(np.log((tgt_len.sum() + 1) / (src_len.sum() + 1)))
    return float(np.log((tgt_len[best_tgt[mutual]].sum() + 1) / (src_len[mutual].sum() + 1)))


def coarse_to_fine_band(src: np.ndarray, tgt: np.ndarray, src_len: np.ndarray, tgt_len: np.ndarray,
                        params: AlignParams) -> tuple[np.ndarray, np.ndarray, float]:
    """The band for the full search of a long document: a 1-1/skip path found on pooled units
    (pairs of pairs ... of sentences) and refined level by level, each level searched only near
    the path of the one above, down to pairs of sentences; the band holds the sentences within
    `params.band` of that path. Also the typical length ratio, from mutual nearest units of the
    coarsest level."""
    levels = [(src, tgt, src_len, tgt_len)]
    while max(len(levels[-1][0]), len(levels[-1][1])) > COARSE_UNITS:
        s, t, sl, tl = levels[-1]
        (pooled_src, pooled_src_len), (pooled_tgt, pooled_tgt_len) = (_pool(s, sl, params.span_weight_power),
                                                                      _pool(t, tl, params.span_weight_power))
        levels.append((pooled_src, pooled_tgt, pooled_src_len, pooled_tgt_len))
    top = levels[-1]
    log_ratio = mutual_log_ratio(top[0], top[1], top[2], top[3])
    path = None
    for s, t, sl, tl in reversed(levels[1:] or levels):
        costs = LinkCosts(SpanVectors(s, sl, params.span_weight_power), SpanVectors(t, tl, params.span_weight_power),
                          sl, tl, params, known_log_ratio=log_ratio)
        n, m = len(s), len(t)
        lo, hi = full_band(n, m) if path is None else _refine(path, n, m, COARSE_RADIUS)
        path = Band(n, m, [(1, 0), (1, 1)], costs, lo, hi).best_path()
    assert path is not None  # there is at least one level
    n, m = len(src), len(tgt)
    if len(levels) == 1:
        return (*band_around(path, n, m, params.band), log_ratio)
    return (*_refine(path, n, m, params.band), log_ratio)


class Band:
    """The link costs of a search band and the passes over it: the cheapest path, and the
    posterior of its links. The costs of the whole band come first; then each row is updated from
    all link types at once by gathers; 0-1 (insertion) runs inside a row.

    Rows of values are stored with `pad` inf columns on the left and one on the right, so a
    gather that falls outside a row's band reads inf without a mask (band edges never move left,
    so no gather lands further left than the largest target span)."""

    def __init__(self, n: int, m: int, types: list[tuple[int, int]], costs: LinkCosts,
                 lo: np.ndarray, hi: np.ndarray):
        if np.any(np.diff(lo) < 0):
            raise ValueError("the band's left edge must not move left")
        types = [(a, b) for a, b in types if a > 0]  # 0-1 (insertion) runs inside a row
        self.n, self.m, self.types, self.lo, self.hi = n, m, types, lo, hi
        self.link_costs = band_link_costs(costs, types, lo, hi)
        self.skip_tgt, self.skip_tgt_prefix = costs.skip_tgt, costs.skip_tgt_prefix
        # set by costs_to_posterior_gains: per row, the summed gains of insertions, and the threshold
        self.insertion_gain_prefix: np.ndarray | None = None
        self.gain_threshold = 0.0
        # set by add_ending_term / add_time_term: per side the sentences' classes or times, and the term
        self.ending_evidence: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.time_evidence: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.width = self.link_costs.shape[2]
        self.type_number = {ab: k for k, ab in enumerate(types)}
        self.a_of = np.array([a for a, _ in types])
        self.b_of = np.array([b for _, b in types])
        self.max_a = int(self.a_of.max())
        self.pad = int(self.b_of.max())
        self.padded_width = self.pad + self.width + 1
        self.type_index = np.arange(len(types))[:, None]
        self.columns = np.arange(self.width)[None, :]
        rows = np.arange(n + 1)[:, None]
        # per row and link type: the row a link ending in it starts from, the one a link starting
        # in it ends in, and the column shifts between the two rows' bands
        self.before = np.maximum(rows - self.a_of, 0)
        self.after = np.minimum(rows + self.a_of, n)
        self.shift_before = lo[:, None] - self.b_of - lo[self.before]
        self.shift_after = lo[:, None] + self.b_of - lo[self.after]

    def copy(self) -> Band:
        """A band of the same costs so far, whose passes and terms leave this one's alone."""
        twin = shallow_copy(self)
        twin.link_costs = self.link_costs.copy()  # the one array the passes and terms change in place
        return twin

    def add_ending_term(self, src_endings: np.ndarray, tgt_endings: np.ndarray,
                        chosen_links: list[tuple[int, int, int, int]], scale: float, prior: float) -> None:
        """Add to every pair link's cost -scale * log(P(e, f) / P(e) P(f)), where e and f are the
        classes of how its two spans end (their last sentences') and P is taken over the chosen
        links (i, a, j, b): the pairs of the cheapest path by the costs without this term, of any
        size, so a Chinese sentence English cuts in two counts with the English block's end. P is
        shrunk towards independence by `prior` links. Where a translation keeps direct speech,
        a sentence that ends a quotation ends one on the other side too, and a block whose last
        sentence does so on one side only is likely cut in the wrong place (English splitting a
        long Chinese sentence of dialogue); where the two texts mark speech differently (Hungarian
        dashes against English quotation marks) or have none, the classes are independent in
        those links and the term is about 0."""
        chosen = np.array(chosen_links, dtype=np.int64).reshape(-1, 4)
        src, tgt = chosen[:, 0] + chosen[:, 1] - 1, chosen[:, 2] + chosen[:, 3] - 1
        classes = int(max(src_endings.max(initial=0), tgt_endings.max(initial=0))) + 1
        counts = np.zeros((classes, classes))
        np.add.at(counts, (src_endings[src], tgt_endings[tgt]), 1.0)
        total = max(counts.sum(), 1.0)
        term = _evidence_term(counts, np.outer(counts.sum(1) / total, counts.sum(0) / total), scale, prior)
        rows = np.arange(self.n + 1)
        for t, (a, b) in enumerate(self.types):
            if not b:
                continue
            last_src = src_endings[np.minimum(rows + a - 1, self.n - 1)]
            last_tgt = tgt_endings[np.clip(self.lo[:, None] + self.columns + b - 1, 0, self.m - 1)]
            self.link_costs[t] += term[last_src[:, None], last_tgt]
        self.ending_evidence = (src_endings, tgt_endings, term)

    def add_time_term(self, src_times: np.ndarray, tgt_times: np.ndarray, chosen_links: list[tuple[int, int, int, int]],
                      scale: float, prior: float) -> None:
        """Add to every pair link's cost -scale * log(P(c | chosen link) / P(c | candidate pair)),
        where c is the class of how far a link's two spans overlap in time (`_overlap_classes`),
        the chosen links (i, a, j, b) are the pairs found without the times (of any size: where
        one side cuts its cues in two, a right link is a 1-2, and a 1-1 covers half the time) and
        the candidates every pair link of the band (with one more of each class); the chosen links'
        shares are shrunk towards the candidates' by `prior` links. The target's times are first
        mapped onto the source's clock (`_clock_map`), so subtitles of another release, running
        behind or at another frame rate, still line up; where the times say nothing of which cues
        go together, the two distributions are alike and the term is about 0."""
        chosen = np.array(chosen_links, dtype=np.int64).reshape(-1, 4)
        if not len(chosen):
            return
        first_src, last_src = chosen[:, 0], chosen[:, 0] + chosen[:, 1] - 1
        first_tgt, last_tgt = chosen[:, 2], chosen[:, 2] + chosen[:, 3] - 1
        tgt_times = _clock_map(tgt_times[first_tgt, 0], src_times[first_src, 0])(tgt_times)
        starts = np.arange(self.n + 1)
        tgt_starts = np.clip(self.lo[:, None] + self.columns, 0, self.m - 1)

        def band_classes(a: int, b: int) -> np.ndarray:
            first = src_times[np.minimum(starts, self.n - 1)][:, None]
            last = src_times[np.minimum(starts + a - 1, self.n - 1)][:, None]
            tgt_last = tgt_times[np.minimum(tgt_starts + b - 1, self.m - 1)]
            return _overlap_classes(first, last, tgt_times[tgt_starts], tgt_last)

        pairs = [(t, a, b) for t, (a, b) in enumerate(self.types) if b]
        # each type's classes are taken twice (counted, then added) rather than held: together
        # they are as large as the band
        candidates = np.ones(OVERLAP_CLASSES)  # one more of each: a class rare in the band is not impossible
        for t, a, b in pairs:
            candidates += np.bincount(band_classes(a, b)[np.isfinite(self.link_costs[t])], minlength=OVERLAP_CLASSES)
        sure = _overlap_classes(src_times[first_src], src_times[last_src], tgt_times[first_tgt], tgt_times[last_tgt])
        term = _evidence_term(np.bincount(sure, minlength=OVERLAP_CLASSES).astype(float),
                              candidates / candidates.sum(), scale, prior)
        for t, a, b in pairs:
            self.link_costs[t] += term[band_classes(a, b)]
        self.time_evidence = (src_times, tgt_times, term)

    def evidence_cost(self, i: int, a: int, j: int, b: int) -> float:
        """What the ending and time terms add to the cost of the link of source sentences i..i+a-1
        and target sentences j..j+b-1 (0 for a skip, or without those terms)."""
        if not (a and b):
            return 0.0
        cost = 0.0
        if self.ending_evidence is not None:
            src_endings, tgt_endings, term = self.ending_evidence
            cost += float(term[src_endings[i + a - 1], tgt_endings[j + b - 1]])
        if self.time_evidence is not None:
            src_times, tgt_times, term = self.time_evidence
            classes = _overlap_classes(src_times[i], src_times[i + a - 1], tgt_times[j], tgt_times[j + b - 1])
            cost += float(term[classes])
        return cost

    def _incoming(self, i: int, rows: np.ndarray, ring: int) -> np.ndarray:
        """Cost of reaching each cell of row i by each link type: the value at the link's start
        (from a ring of the last `ring` padded rows) plus the link's cost; inf where no link fits."""
        before = self.before[i]
        gather = self.columns + self.shift_before[i][:, None]
        previous = rows[(before % ring)[:, None],
                        np.minimum(gather + self.pad, self.padded_width - 1)]
        total = previous + self.link_costs[self.type_index, before[:, None],
                                           np.maximum(np.minimum(gather, self.width - 1), 0)]
        if i < self.max_a:
            total[self.a_of > i] = np.inf
        return total

    def _outgoing(self, i: int, rows: np.ndarray, ring: int) -> np.ndarray:
        """Cost from each cell of row i to the end, by each link type: the link's cost plus the
        value at its end (from a ring of the last `ring` padded rows)."""
        gather = self.columns + self.shift_after[i][:, None]
        ahead = rows[(self.after[i] % ring)[:, None], np.minimum(gather + self.pad, self.padded_width - 1)]
        total = self.link_costs[:, i] + ahead
        if i > self.n - self.max_a:
            total[i + self.a_of > self.n] = np.inf
        return total

    def best_path(self) -> list[tuple[int, int, int, int]]:
        """The cheapest path. Ties go to the earlier link type, so the result is deterministic."""
        n, m, lo, hi = self.n, self.m, self.lo, self.hi
        ring = self.max_a + 1
        best_rows = np.full((ring, self.padded_width), np.inf)
        cells = np.arange(self.width)
        back = []
        pad = self.pad
        with np.errstate(invalid="ignore"):  # inf - inf where a row's start is unreachable
            for i in range(n + 1):
                row_width = hi[i] - lo[i] + 1
                if i == 0:
                    best = np.full(self.width, np.inf)
                    best[0] = 0.0 if lo[0] == 0 else np.inf
                    choice = np.full(self.width, SKIP, dtype=np.int8)
                else:
                    total = self._incoming(i, best_rows, ring)
                    choice = total.argmin(axis=0).astype(np.int8)
                    best = total[choice, cells]
                    choice[~np.isfinite(best)] = SKIP
                steps = self._insertion_steps(i)
                row = best[:row_width]
                via_skip = np.minimum.accumulate(row - steps) + steps
                inserted = via_skip + 1e-9 * (1.0 + np.abs(via_skip)) < row
                row_choice = choice[:row_width].copy()
                row_choice[inserted] = SKIP
                kept = best_rows[i % ring]
                kept.fill(np.inf)
                kept[pad:pad + row_width] = np.where(inserted, via_skip, row)
                back.append(row_choice)
        if not np.isfinite(best_rows[n % ring][self.pad + m - lo[n]]):
            raise RuntimeError("no path through the search band")
        links = []
        i, j = n, m
        while i > 0 or j > 0:
            t = int(back[i][j - lo[i]])
            a, b = (0, 1) if t == SKIP else self.types[t]
            i, j = i - a, j - b
            links.append((i, a, j, b))
        links.reverse()
        return links

    def _insertion_steps(self, i: int) -> np.ndarray:
        """Cumulative cost of insertions (0-1) along row i's band, from its first cell."""
        if self.insertion_gain_prefix is not None:
            return self.insertion_gain_prefix[i, :self.hi[i] - self.lo[i] + 1]
        return self.skip_tgt_prefix[self.lo[i]:self.hi[i] + 1]

    def posterior_passes(self, temperature: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Forward and backward values of every row (padded) with soft minima, where each path
        weighs exp(-cost / temperature), and the soft total of all paths."""
        n, m, lo, hi, t, pad = self.n, self.m, self.lo, self.hi, temperature, self.pad
        forward = np.full((n + 1, self.padded_width), np.inf)
        backward = np.full((n + 1, self.padded_width), np.inf)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # rows' unreachable cells are inf
            for i in range(n + 1):
                steps = self.skip_tgt_prefix[lo[i]:hi[i] + 1]
                if i == 0:
                    arriving = np.full(len(steps), np.inf)
                    arriving[0] = 0.0 if lo[0] == 0 else np.inf
                else:
                    arriving = _soft_min(self._incoming(i, forward, n + 1)[:, :len(steps)], t)
                # insertions within the row: forward[j] = softmin over k <= j of arriving[k] + steps[j] - steps[k]
                forward[i, pad:pad + len(steps)] = steps - t * np.logaddexp.accumulate((steps - arriving) / t)
            total = float(forward[n, pad + m - lo[n]])
            for i in range(n, -1, -1):
                steps = self.skip_tgt_prefix[lo[i]:hi[i] + 1]
                leaving = _soft_min(self._outgoing(i, backward, n + 1)[:, :len(steps)], t)
                if i == n:
                    leaving[m - lo[n]] = 0.0
                # insertions: backward[j] = softmin over k >= j of leaving[k] + steps[k] - steps[j]
                ahead = np.logaddexp.accumulate(-(leaving + steps)[::-1] / t)[::-1]
                backward[i, pad:pad + len(steps)] = -steps - t * ahead
        return forward, backward, total

    def path_posteriors(self, path: list[tuple[int, int, int, int]], temperature: float) -> np.ndarray:
        """For each link of `path`, its posterior: the share of all paths through the band that
        use it, each path weighted by exp(-cost / temperature) (forward-backward with soft
        minima). Near 1: no other segmentation of that stretch costs nearly as little."""
        forward, backward, total = self.posterior_passes(temperature)
        lo, pad = self.lo, self.pad
        posteriors = np.empty(len(path))
        for index, (i, a, j, b) in enumerate(path):
            cost = self.skip_tgt[j] if a == 0 else self.link_costs[self.type_number[(a, b)], i, j - lo[i]]
            through = forward[i, pad + j - lo[i]] + cost + backward[i + a, pad + j + b - lo[i + a]]
            posteriors[index] = np.exp(-(through - total) / temperature)
        return np.clip(posteriors, 0.0, 1.0)

    def costs_to_posterior_gains(self, temperature: float, threshold: float) -> None:
        """Replace every link's cost by `threshold` minus its posterior, so that best_path then
        finds the path whose links' posteriors, less the threshold, sum highest: the alignment
        with the most links expected right for the links it has (minimum Bayes risk). Where
        several segmentations of a stretch are about as cheap, the cheapest one may hold links
        that are each less likely than not, and a path of likelier links wins. In place: the
        costs are the largest array."""
        forward, backward, total = self.posterior_passes(temperature)
        n, lo, hi, pad, width = self.n, self.lo, self.hi, self.pad, self.width
        block = max(1, 2**20 // (len(self.types) * width))  # rows at once: temporaries of about 8 MB
        for start in range(0, n + 1, block):  # every link type at once, as _outgoing does row by row
            rows = np.arange(start, min(n + 1, start + block))
            gather = self.columns[None, :, :] + self.shift_after[rows][:, :, None]  # row, type, column
            ahead = backward[self.after[rows][:, :, None], np.minimum(gather + pad, self.padded_width - 1)]
            ahead[rows[:, None] + self.a_of[None, :] > n] = np.inf
            costs = self.link_costs[:, rows]
            through = forward[rows, pad:pad + width][None, :, :] + costs + ahead.transpose(1, 0, 2)
            self.link_costs[:, rows] = np.where(np.isfinite(costs), threshold - _posterior(through, total, temperature),
                                                np.inf)
        columns = lo[:, None] + np.arange(width)[None, :]
        inside = columns < hi[:, None]  # an insertion from each cell but the row's last
        through = (forward[:, pad:pad + width] + self.skip_tgt[np.minimum(columns, self.m - 1)]
                   + backward[:, pad + 1:pad + 1 + width])
        self.insertion_gain_prefix = np.zeros((n + 1, width + 1))
        self.insertion_gain_prefix[:, 1:] = np.cumsum(
            np.where(inside, threshold - _posterior(through, total, temperature), 0.0), axis=1)
        self.gain_threshold = threshold

    def gained_posteriors(self, path: list[tuple[int, int, int, int]]) -> np.ndarray:
        """The posteriors of `path`'s links, after costs_to_posterior_gains."""
        assert self.insertion_gain_prefix is not None, "costs_to_posterior_gains first"
        steps = self.insertion_gain_prefix
        gains = [steps[i, j - self.lo[i] + 1] - steps[i, j - self.lo[i]] if a == 0
                 else self.link_costs[self.type_number[(a, b)], i, j - self.lo[i]] for i, a, j, b in path]
        return np.clip(self.gain_threshold - np.asarray(gains, dtype=float), 0.0, 1.0)


def _posterior(through: np.ndarray, total: float, temperature: float) -> np.ndarray:
    """exp(-(through - total) / T): the share of the paths' weight through a link whose best
    paths cost `through`; 0 where no path goes through."""
    with np.errstate(over="ignore", invalid="ignore"):
        posterior = np.exp(-(through - total) / temperature)
    return np.nan_to_num(posterior, nan=0.0, posinf=0.0)


def _soft_min(values: np.ndarray, temperature: float) -> np.ndarray:
    """-T log sum exp(-values / T) over axis 0 (inf where every value is inf). The caller
    silences numpy's warnings about inf (once, around its loop: per call it costs time)."""
    low = values.min(axis=0)
    finite = np.isfinite(low)
    shifted = np.where(finite, low, 0.0)
    total = np.exp((shifted - values) / temperature).sum(axis=0)
    return np.where(finite, shifted - temperature * np.log(total), np.inf)


# ---- Costs: the terms of the module docstring, for whole bands at once ----


class SpanVectors:
    """Vectors of spans (start, length) of one side's sentences: the normalized sum of the
    sentence vectors weighted by their lengths to `weight_power`."""

    def __init__(self, sentence_vectors: np.ndarray, lengths: np.ndarray, weight_power: float = SPAN_WEIGHT_POWER):
        self.sentences = sentence_vectors
        self.weights = np.maximum(lengths, 1.0) ** weight_power
        weighted = sentence_vectors * self.weights[:, None]
        # prefix[k] is the weighted sum of the first k sentences
        self.prefix = np.vstack([np.zeros((1, weighted.shape[1])), np.cumsum(weighted, 0)])

    def get(self, length: int, starts: np.ndarray) -> np.ndarray:
        if length == 1:
            return self.sentences[starts]
        vectors = self.prefix[starts + length] - self.prefix[starts]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@dataclass
class LinkCosts:
    """What the link and skip costs of one document are made of: span vectors, the sides' mean
    vectors, lengths, the typical length ratio and the skip costs."""

    src: SpanVectors
    tgt: SpanVectors
    src_len: np.ndarray
    tgt_len: np.ndarray
    params: AlignParams
    known_log_ratio: float | None = None  # skips the nearest-neighbour estimate (long documents)
    src_numbers: np.ndarray | None = None  # per sentence, its numbers hashed into a 64-bit mask
    tgt_numbers: np.ndarray | None = None
    # per sentence, the strength of the block boundary before it (0: same block as the one before)
    src_boundaries: np.ndarray | None = None
    tgt_boundaries: np.ndarray | None = None
    mu_src: np.ndarray = field(init=False)
    mu_tgt: np.ndarray = field(init=False)
    log_ratio: float = field(init=False)
    skip_src: np.ndarray = field(init=False)
    skip_tgt: np.ndarray = field(init=False)
    skip_tgt_prefix: np.ndarray = field(init=False)

    def __post_init__(self):
        self.mu_src = self.src.sentences.mean(0)
        self.mu_tgt = self.tgt.sentences.mean(0)
        self._src_len_prefix = np.concatenate([[0.0], np.cumsum(self.src_len)])
        self._tgt_len_prefix = np.concatenate([[0.0], np.cumsum(self.tgt_len)])
        self.log_ratio = (self.known_log_ratio if self.known_log_ratio is not None else
                          mutual_log_ratio(self.src.sentences, self.tgt.sentences, self.src_len, self.tgt_len))
        self.skip_src = self._skip_costs(self.src_len, self.src.sentences)
        self.skip_tgt = self._skip_costs(self.tgt_len, self.tgt.sentences)
        self.skip_tgt_prefix = np.concatenate([[0.0], np.cumsum(self.skip_tgt)])

    def _skip_costs(self, lengths: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Skipping costs `skip_cost`, less for a unit too short to carry meaning (a stray
        letter left by editing, OCR debris), nothing for a unit with a zero vector (one without
        content, which the caller did not embed)."""
        p = self.params
        costs = np.full(len(lengths), p.skip_cost)
        if p.short_unit:
            costs *= np.minimum(1.0, np.sqrt(lengths / p.short_unit))
        return np.where(_has_content(vectors), costs, 0.0)

    def src_chars(self, starts: np.ndarray, size: int) -> np.ndarray:
        return self._src_len_prefix[starts + size] - self._src_len_prefix[starts]

    def tgt_chars(self, starts: np.ndarray, size: int) -> np.ndarray:
        return self._tgt_len_prefix[starts + size] - self._tgt_len_prefix[starts]

    def length_misfit(self, a: int, b: int, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
        """|log length ratio of the spans - the document's typical one| for source starts `rows`
        by target starts `k` (one row of `k` per source start), each side padded by
        `length_padding` (LENGTH_PADDING characters in each side's own units)."""
        src_chars, tgt_chars = self.src_chars(rows, a), self.tgt_chars(k, b)
        src_pad, tgt_pad = self.length_padding
        return np.abs(np.log((tgt_chars + tgt_pad) / (src_chars[:, None] + src_pad)) - self.log_ratio)

    @property
    def length_padding(self) -> tuple[float, float]:
        """LENGTH_PADDING split between the sides by the typical ratio: where one script packs
        three times more meaning per character (Chinese against English), 10 characters on both
        sides would make every short source sentence look as if it wanted less target text than
        a long one (on MAC-Dev's 1-1 links the padded log ratio fell 0.36 below the document's,
        0.05 with this split; on the other sets the ratio is near 1 and nothing changes)."""
        half = float(np.exp(self.log_ratio / 2))
        return LENGTH_PADDING / half, LENGTH_PADDING * half

    def distances(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarity and distance d of every source vector to every target vector."""
        sim = xs @ ys.T
        norm = (self.expected_distance(1.0 - xs @ self.mu_tgt, len(self.tgt_len))[:, None]
                + self.expected_distance(1.0 - ys @ self.mu_src, len(self.src_len))[None, :])
        return sim, 2.0 * (1.0 - sim) / np.maximum(norm, 1e-6)

    def paired_distances(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarity and distance of source vectors to target vectors row by row (broadcast)."""
        sim = np.einsum("...d,...d->...", xs, ys)
        norm = (self.expected_distance(1.0 - xs @ self.mu_tgt, len(self.tgt_len))
                + self.expected_distance(1.0 - ys @ self.mu_src, len(self.src_len)))
        return sim, 2.0 * (1.0 - sim) / np.maximum(norm, 1e-6)

    def expected_distance(self, distance_to_mean: np.ndarray, sentences: int) -> np.ndarray:
        """A vector's expected distance to a random sentence of the other side (`sentences` of
        them): its distance to their mean, shrunk towards the encoder's typical distance."""
        p = self.params
        if p.random_distance is None:
            return distance_to_mean
        return (sentences * distance_to_mean + p.prior_sentences * p.random_distance) / (sentences + p.prior_sentences)


class _BandSimilarities:
    """Sentence similarities x_s . y_c for every source sentence s and the target columns c that
    any span through s can reach in the band, with prefix sums along each row weighted by the
    target sentences' weights; a span's similarity is a weighted sum of these."""

    ROW_BLOCK = 256  # rows multiplied at once against the columns they reach, by BLAS

    def __init__(self, src: SpanVectors, tgt: SpanVectors, lo: np.ndarray, hi: np.ndarray, max_a: int, max_b: int):
        n, m = len(src.sentences), len(tgt.sentences)
        self.base = np.array([lo[max(0, s - max_a + 1):s + 1].min() for s in range(n)])
        reach = np.array([hi[max(0, s - max_a + 1):s + 1].max() for s in range(n)]) + max_b
        self.span = int((reach - self.base).max()) + 1
        columns = self.base[:, None] + np.arange(self.span)[None, :]
        inside = columns < m
        columns = np.minimum(columns, m - 1)
        self.sims = np.zeros((n, self.span), dtype=np.float32)
        for start in range(0, n, self.ROW_BLOCK):
            stop = min(n, start + self.ROW_BLOCK)
            first = self.base[start]
            block = src.sentences[start:stop] @ tgt.sentences[first:min(m, self.base[stop - 1] + self.span)].T
            self.sims[start:stop] = np.take_along_axis(block, columns[start:stop] - first, axis=1)
        self.sims[~inside] = 0.0
        self.weighted_prefix = np.zeros((n, self.span + 1))
        self.weighted_prefix[:, 1:] = np.cumsum(self.sims * tgt.weights[columns], axis=1)

    def span_sum(self, s: np.ndarray, k: np.ndarray, b: int) -> np.ndarray:
        """Sum over the target span [k, k + b) of weight(c) * x_s . y_c."""
        first = np.clip(k - self.base[s, None], 0, self.span - b)  # clipping touches only cells outside the band
        return (np.take_along_axis(self.weighted_prefix[s], first + b, axis=1)
                - np.take_along_axis(self.weighted_prefix[s], first, axis=1))

    def at(self, s: np.ndarray, c: np.ndarray) -> np.ndarray:
        """x_s . y_c."""
        return np.take_along_axis(self.sims[s], np.clip(c - self.base[s, None], 0, self.span - 1), axis=1)


@dataclass
class _SpanMeasures:
    """For every span size and start on one side: the norm of the span's weighted sum, and the
    span vector's dot product with the other side's mean vector."""

    norms: dict[int, np.ndarray]
    dot_mean: dict[int, np.ndarray]

    @classmethod
    def of(cls, spans: SpanVectors, other_mean: np.ndarray, max_size: int) -> _SpanMeasures:
        dot = np.concatenate([[0.0], np.cumsum(spans.weights * (spans.sentences @ other_mean))])
        norms, dot_mean = {}, {}
        for size in range(1, min(max_size, len(spans.sentences)) + 1):
            total = spans.prefix[size:] - spans.prefix[:-size]
            norms[size] = np.maximum(np.linalg.norm(total, axis=1), 1e-12)
            dot_mean[size] = (dot[size:] - dot[:-size]) / norms[size]
        return cls(norms, dot_mean)


class _BandCosts:
    """The cost of one link type (a, b) at band cells: source starts `rows` (a column vector's
    worth) by target starts `k`, term by term as the module docstring writes it. The vectors are
    multiplied once per cell (_BandSimilarities); every term reads from there."""

    def __init__(self, costs: LinkCosts, lo: np.ndarray, hi: np.ndarray, max_a: int, max_b: int):
        self.costs, self.params = costs, costs.params
        self.n, self.m = len(costs.src_len), len(costs.tgt_len)
        self.similarities = _BandSimilarities(costs.src, costs.tgt, lo, hi, max_a, max_b)
        self.src_spans = _SpanMeasures.of(costs.src, costs.mu_tgt, max(max_a, max_b))
        self.src_crossing = _crossings(costs.src_boundaries, max_a)
        self.tgt_crossing = _crossings(costs.tgt_boundaries, max_b)
        self.tgt_spans = _SpanMeasures.of(costs.tgt, costs.mu_src, max(max_a, max_b))
        self.src_sentence_expected = costs.expected_distance(1.0 - costs.src.sentences @ costs.mu_tgt, self.m)
        self.tgt_sentence_expected = costs.expected_distance(1.0 - costs.tgt.sentences @ costs.mu_src, self.n)
        # Gathers that link types of one block of rows share (band_link_costs): a source sentence's
        # sum over a target span, a sentence pair's similarity. Keyed by what they depend on.
        self.shared: dict[tuple, np.ndarray] = {}

    def _span_sum(self, rows: np.ndarray, q: int, k: np.ndarray, b: int) -> np.ndarray:
        key = ("span", q, b, len(rows))
        if key not in self.shared:
            self.shared[key] = self.similarities.span_sum(rows + q, k, b)
        return self.shared[key]

    def _pair_similarity(self, rows: np.ndarray, r: int, k: np.ndarray, q: int, b: int) -> np.ndarray:
        key = ("pair", r, q, b, len(rows))
        if key not in self.shared:
            self.shared[key] = self.similarities.at(rows + r, k + q)
        return self.shared[key]

    def expected_src(self, a: int, rows: np.ndarray) -> np.ndarray:
        return self.costs.expected_distance(1.0 - self.src_spans.dot_mean[a][rows], self.m)

    def expected_tgt(self, b: int, k: np.ndarray) -> np.ndarray:
        return self.costs.expected_distance(1.0 - self.tgt_spans.dot_mean[b][k], self.n)

    def cost(self, a: int, b: int, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
        p = self.params
        distance, source_parts = self.distance(a, b, rows, k)
        cost = (a + b) / 2.0 * (distance + p.length_weight * self.costs.length_misfit(a, b, rows, k)) \
            + p.merge_penalty * (a + b - 2)
        src_numbers, tgt_numbers = self.costs.src_numbers, self.costs.tgt_numbers
        if p.number_weight and src_numbers is not None and tgt_numbers is not None:
            cost += p.number_weight * self.numbers_not_shared(src_numbers, tgt_numbers, a, b, rows, k)
        if p.component_weight and a + b > 2:
            for part in self.component_costs(a, b, rows, k, source_parts):
                cost += p.component_weight * part
        if self.src_crossing and self.tgt_crossing and a + b > 2 and p.boundary_weight:
            # A span crossing a block boundary the other side's does not cross costs what
            # boundary_weight more merged sentences cost, per unit of the boundary's strength.
            crossed = np.abs(self.src_crossing[a][rows, None] - self.tgt_crossing[b][k])
            cost += p.boundary_weight * p.merge_penalty * crossed
        return cost

    def distance(self, a: int, b: int, rows: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """d of the two spans; with a > 1 also each source sentence's similarity to the target span."""
        tgt_norm = self.tgt_spans.norms[b][k]
        cross = np.zeros(k.shape)
        source_parts = []
        for q in range(a):
            row_sum = self._span_sum(rows, q, k, b)
            cross += self.costs.src.weights[rows + q, None] * row_sum
            if a > 1:
                source_parts.append(row_sum / tgt_norm)
        sim = cross / (self.src_spans.norms[a][rows, None] * tgt_norm)
        norm = self.expected_src(a, rows)[:, None] + self.expected_tgt(b, k)
        return 2.0 * (1.0 - sim) / np.maximum(norm, 1e-6), source_parts

    @staticmethod
    def numbers_not_shared(src_numbers: np.ndarray, tgt_numbers: np.ndarray, a: int, b: int, rows: np.ndarray,
                           k: np.ndarray) -> np.ndarray:
        """The share of the spans' numbers (masks per sentence) not on both sides; 0 where a side has none."""
        src_mask = np.bitwise_or.reduce([src_numbers[rows + q] for q in range(a)], axis=0)
        tgt_mask = np.bitwise_or.reduce([tgt_numbers[k + q] for q in range(b)], axis=0)
        union = np.bitwise_count(src_mask[:, None] | tgt_mask)
        shared = np.bitwise_count(src_mask[:, None] & tgt_mask)
        both = (src_mask[:, None] != 0) & (tgt_mask != 0)
        return np.where(both, 1.0 - shared / np.maximum(union, 1), 0.0)

    def component_costs(self, a: int, b: int, rows: np.ndarray, k: np.ndarray,
                        source_parts: list[np.ndarray]) -> Iterator[np.ndarray]:
        """max(0, d(sentence, other span) - θ) for each merged sentence: the source sentences
        against the target span, then the target sentences against the source span."""
        threshold = self.params.component_threshold
        for q, part in enumerate(source_parts):
            part_norm = self.src_sentence_expected[rows + q][:, None] + self.expected_tgt(b, k)
            yield np.maximum(0.0, 2.0 * (1.0 - part) / np.maximum(part_norm, 1e-6) - threshold)
        if b > 1:
            src_norm = self.src_spans.norms[a][rows, None]
            for q in range(b):
                column_sum = np.zeros(k.shape)
                for r in range(a):
                    column_sum += self.costs.src.weights[rows + r, None] * self._pair_similarity(rows, r, k, q, b)
                part_norm = self.expected_src(a, rows)[:, None] + self.tgt_sentence_expected[k + q]
                yield np.maximum(0.0, 2.0 * (1.0 - column_sum / src_norm) / np.maximum(part_norm, 1e-6) - threshold)


def _crossings(boundaries: np.ndarray | None, max_size: int) -> dict[int, np.ndarray]:
    """For each span size, the strongest block boundary inside the span starting at each unit
    ({} without boundaries)."""
    if boundaries is None:
        return {}
    n = len(boundaries)
    padded = np.concatenate([np.asarray(boundaries, dtype=float), np.zeros(max_size)])
    out, inside = {}, np.zeros(n)
    for size in range(1, max_size + 1):
        if size > 1:
            inside = np.maximum(inside, padded[size - 1:size - 1 + n])
        out[size] = inside.copy()
    return out


def _evidence_term(counts: np.ndarray, chance: np.ndarray, scale: float, prior: float) -> np.ndarray:
    """-scale * log(P / chance) per class, P the `counts`' shares shrunk towards `chance` as if
    `prior` more links were there; 0 for a class chance never gives."""
    together = (counts + prior * chance) / (counts.sum() + prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chance > 0, -scale * np.log(together / chance), 0.0)


OVERLAP_CLASSES = 4  # no overlap; overlaps under a third, under two thirds, at least two thirds
# Frame rates subtitles are converted between (23.976, 24, 25 fps) run at most 4.3% apart.
CLOCK_RATES = (1 / 1.05, 1.05)


def _clock_map(tgt_starts: np.ndarray, src_starts: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The map from the target's clock to the source's, src = rate * tgt + offset, taken from
    pairs of cues that go together: the rate is the median of the rates between pairs of them (a
    few dozen wrong pairs do not move it), kept only within CLOCK_RATES (else 1: no real
    conversion runs faster or slower), and the offset the median of what is left."""
    rate = 1.0
    if len(tgt_starts) >= 3:
        rng = np.random.default_rng(0)
        first, second = rng.integers(0, len(tgt_starts), size=(2, min(20_000, len(tgt_starts) ** 2)))
        apart = np.abs(tgt_starts[second] - tgt_starts[first]) > 1.0  # seconds: a cue's length
        if apart.any():
            rates = (src_starts[second] - src_starts[first])[apart] / (tgt_starts[second] - tgt_starts[first])[apart]
            estimate = float(np.median(rates))
            rate = estimate if CLOCK_RATES[0] <= estimate <= CLOCK_RATES[1] else 1.0
    offset = float(np.median(src_starts - rate * tgt_starts))
    return lambda times: rate * times + offset


def _overlap_classes(src_first: np.ndarray, src_last: np.ndarray, tgt_first: np.ndarray,
                     tgt_last: np.ndarray) -> np.ndarray:
    """How far two spans overlap in time, each running from the start of its first cue to the end
    of its last (arrays of (start, end) pairs): 0 not at all, else 1, 2 or 3 as the time they
    share reaches a third and two thirds of the time they cover together."""
    src_start, src_end = src_first[..., 0], src_last[..., 1]
    tgt_start, tgt_end = tgt_first[..., 0], tgt_last[..., 1]
    shared = np.minimum(src_end, tgt_end) - np.maximum(src_start, tgt_start)
    covered = np.maximum(src_end, tgt_end) - np.minimum(src_start, tgt_start)
    share = np.where(shared > 0, shared / np.where(covered > 0, covered, 1.0), 0.0)
    return np.where(shared > 0, 1 + (share >= 1 / 3) + (share >= 2 / 3), 0).astype(np.intp)


def band_link_costs(costs: LinkCosts, types: list[tuple[int, int]], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Cost of every link type starting at every band cell: out[t, p, k - lo[p]] for source start
    p and target start k in [lo[p], hi[p]] (inf where the link does not fit)."""
    n, m = len(costs.src_len), len(costs.tgt_len)
    width = int((hi - lo).max()) + 1
    out = np.full((len(types), n + 1, width), np.inf, dtype=np.float32)
    if n == 0 or m == 0:
        return out
    band = _BandCosts(costs, lo, hi, max(a for a, _ in types), max(b for _, b in types))
    offsets = np.arange(width)[None, :]
    band_widths = hi - lo
    block = max(64, 80_000 // width)  # rows at once: cache-sized arrays
    for start in range(0, n, block):
        band.shared.clear()  # every link type of this block reads the gathers they share
        for t, (a, b) in enumerate(types):
            if not 0 < a <= n or b > m or start >= n + 1 - a:
                continue
            rows = np.arange(start, min(n + 1 - a, start + block))
            in_band = offsets <= band_widths[rows, None]
            if b == 0:
                out[t, rows] = np.where(in_band, costs.skip_src[rows, None], np.inf)
                continue
            k = lo[rows, None] + offsets
            valid = in_band & (k + b <= m)
            out[t, rows] = np.where(valid, band.cost(a, b, rows, np.minimum(k, m - b)), np.inf)
    band.shared.clear()
    return out


# ---- The measures each link of the path is reported with ----

NEARBY = 3  # how far from a skip its best match is looked for
MARGIN_WINDOW = 6  # neighbours for the ratio margin: sentences this close to the link's other span
MARGIN_K = 3  # mean of this many nearest of them


def _ratio_margin(costs: LinkCosts, xs: np.ndarray, ys: np.ndarray, src_starts: np.ndarray,
                  tgt_starts: np.ndarray, sim: np.ndarray) -> np.ndarray:
    """cos(x, y) over the mean of x's and y's MARGIN_K most similar sentences near the link."""
    offsets = np.arange(-MARGIN_WINDOW, MARGIN_WINDOW + 1)

    def neighbour_mean(vectors, others, starts):
        # float32 halves the memory traffic of the gathers; one side's copy at a time, made per
        # call: keeping both sides' copies for the whole of _make_links raised the peak by 290 MB
        # at 100,000 sentences, more than the conversions cost in time
        vectors, others = vectors.astype(np.float32), others.astype(np.float32)
        sims = np.full((len(starts), len(offsets)), -np.inf, dtype=np.float32)
        for column, offset in enumerate(offsets):  # one (links x dim) gather at a time: bounded memory
            near = np.clip(starts + offset, 0, len(others) - 1)
            inside = (starts + offset >= 0) & (starts + offset < len(others))
            sims[:, column] = np.where(inside, np.einsum("nd,nd->n", vectors, others[near]), -np.inf)
        sims = np.sort(sims, axis=1)[:, -MARGIN_K:]
        sims = np.where(np.isfinite(sims), sims, np.nan)
        return np.nanmean(sims, axis=1).astype(float)

    neighbours = (neighbour_mean(xs, costs.tgt.sentences, tgt_starts)
                  + neighbour_mean(ys, costs.src.sentences, src_starts)) / 2
    return sim / np.maximum(neighbours, 1e-3)


def _make_links(costs: LinkCosts, path: list[tuple[int, int, int, int]], posteriors: np.ndarray) -> list[Link]:
    """Links with the similarity and distance of their spans, computed per link type at once; a
    skip gets those of its sentence's best match among the other side's sentences near it."""
    measures = np.zeros((len(path), 3))
    by_type: dict[tuple[int, int], list[int]] = {}
    for index, (_, a, _, b) in enumerate(path):
        by_type.setdefault((a, b), []).append(index)
    offsets = np.arange(-NEARBY, NEARBY)
    for (a, b), indices in by_type.items():
        src_starts = np.array([path[k][0] for k in indices])
        tgt_starts = np.array([path[k][2] for k in indices])
        if a and b:
            xs, ys = costs.src.get(a, src_starts), costs.tgt.get(b, tgt_starts)
            sim, dist = costs.paired_distances(xs, ys)
            measures[indices] = np.column_stack([sim, dist, _ratio_margin(costs, xs, ys, src_starts, tgt_starts, sim)])
            continue
        # a deletion at (i, j) looks at target sentences j-3 .. j+2; an insertion the same way
        others = costs.tgt.sentences if a else costs.src.sentences
        near = (tgt_starts if a else src_starts)[:, None] + offsets[None, :]
        inside = (near >= 0) & (near < len(others))
        near = np.clip(near, 0, len(others) - 1)
        if a:
            sim, dist = costs.paired_distances(costs.src.sentences[src_starts][:, None, :], others[near])
        else:
            sim, dist = costs.paired_distances(others[near], costs.tgt.sentences[tgt_starts][:, None, :])
        dist = np.where(inside, dist, np.inf)
        best = dist.argmin(1)
        rows = np.arange(len(indices))
        measures[indices, :2] = np.column_stack([sim[rows, best], dist[rows, best]])
    return [Link(tuple(range(i, i + a)), tuple(range(j, j + b)), float(s), float(d), float(r), float(p))
            for (i, a, j, b), (s, d, r), p in zip(path, measures, posteriors, strict=True)]
