"""Monotonic sentence alignment by dynamic programming over two embedded sentence sequences.

A link joins `a` consecutive source sentences to `b` consecutive target sentences (a + b <=
max_merge; 1-0 and 0-1 are skips). The search minimizes the summed cost of the links:

    d(x, y)   = 2 (1 - x.y) / ((1 - x.mu_tgt) + (1 - y.mu_src))
    cost(a,b) = (a + b) / 2 * (d + length_weight * |length misfit|)
                + merge_penalty * (a + b - 2)
                + component_weight * sum over the merged sentences s of max(0, d(s, other span) - θ)
    skip      = skip_cost per sentence

`mu_*` is the mean sentence vector of a side, so `1 - x.mu` is x's expected distance to a random
sentence of the other side (Vecalign's normalization, computed exactly instead of sampled): one
skip threshold then works across documents and encoders. For short documents it is shrunk
towards the encoder's typical distance between unrelated sentences. The component term charges a merge
for every sentence in it that on its own looks unrelated to the other side, so a stray line is
skipped (1-0 / 0-1) instead of being swallowed by a neighbour.

Skipping a unit shorter than `short_unit` characters costs less, a unit given a zero vector (the
pipeline does so for units without a letter or digit) nothing, and the length misfit is taken
against the length ratio of mutually nearest sentence pairs, which untranslated passages do not
skew. A merged span's vector is the normalized sum of its sentences' vectors weighted by the
square root of their lengths, so each sentence is embedded once; on Text+Berg dev this scored as
well as embedding the joined text of every span (benchmarks/README.md).

Every link of the cheapest path also gets its posterior: a forward-backward pass over the same
band with soft minima, where each path weighs exp(-cost / T). It is the best single sign (for the
score, score.py) that a link is a piece of a larger block or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SKIP = -1  # backpointer for an insertion (0-1) inside a row


@dataclass(frozen=True)
class AlignParams:
    # Tuned on the Text+Berg dev set with e5-small (benchmarks/README.md).
    max_merge: int = 8
    skip_cost: float = 0.9
    merge_penalty: float = 0.4
    length_weight: float = 0.5
    component_weight: float = 1.0
    component_threshold: float = 0.9
    short_unit: float = 10.0  # units shorter than this many characters are cheaper to skip
    max_exact_cells: int = 250_000  # larger inputs: a coarse-to-fine band, then every link type in it
    band: int = 12  # rows and columns kept around the first pass's path
    # The encoder's typical distance 1 - x.y between unrelated sentences (models/); a side's
    # expected distance is shrunk towards it as if `prior_sentences` more sentences were there,
    # so a document of one or two sentences is not compared only with itself.
    random_distance: float | None = None
    prior_sentences: float = 4.0
    number_weight: float = 0.5  # times the share of numbers not shared, when both sides have some
    # Paths are weighted exp(-cost / T) for the links' posteriors; T small: only near-best paths count.
    posterior_temperature: float = 0.2


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
    # _Band.path_posteriors): low where another segmentation of the stretch costs almost as little.
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


class SpanVectors:
    """Vectors of spans (start, length) of one side's sentences: the normalized sum of the
    sentence vectors weighted by the square root of their lengths."""

    def __init__(self, sentence_vectors: np.ndarray, lengths: np.ndarray):
        self.sentences = sentence_vectors
        weighted = sentence_vectors * np.sqrt(np.maximum(lengths, 1.0))[:, None]
        self._prefix = np.vstack([np.zeros((1, weighted.shape[1])), np.cumsum(weighted, 0)])

    def get(self, length: int, starts: np.ndarray) -> np.ndarray:
        if length == 1:
            return self.sentences[starts]
        vectors = self._prefix[starts + length] - self._prefix[starts]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@dataclass
class _Costs:
    """Link and skip costs: whole matrices for the exact search, row pieces for the banded one."""

    src: SpanVectors
    tgt: SpanVectors
    src_len: np.ndarray
    tgt_len: np.ndarray
    params: AlignParams
    known_log_ratio: float | None = None  # skips the nearest-neighbour estimate (long documents)
    src_numbers: np.ndarray | None = None  # per sentence, its numbers hashed into a 64-bit mask
    tgt_numbers: np.ndarray | None = None
    mu_src: np.ndarray = field(init=False)
    mu_tgt: np.ndarray = field(init=False)
    log_ratio: float = field(init=False)

    def __post_init__(self):
        self.mu_src = self.src.sentences.mean(0)
        self.mu_tgt = self.tgt.sentences.mean(0)
        self._src_len_prefix = np.concatenate([[0.0], np.cumsum(self.src_len)])
        self._tgt_len_prefix = np.concatenate([[0.0], np.cumsum(self.tgt_len)])
        self.log_ratio = self.known_log_ratio if self.known_log_ratio is not None else self._typical_log_ratio()
        self.skip_src = self._skip_costs(self.src_len, self.src.sentences)
        self.skip_tgt = self._skip_costs(self.tgt_len, self.tgt.sentences)
        self.skip_tgt_prefix = np.concatenate([[0.0], np.cumsum(self.skip_tgt)])

    def _typical_log_ratio(self) -> float:
        return mutual_log_ratio(self.src.sentences, self.tgt.sentences, self.src_len, self.tgt_len)

    def _skip_costs(self, lengths: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Skipping costs `skip_cost`, less for a unit too short to carry meaning (a stray
        letter left by editing, OCR debris), nothing for a unit with a zero vector (one without
        content, which the caller did not embed)."""
        p = self.params
        costs = np.full(len(lengths), p.skip_cost)
        if p.short_unit:
            costs *= np.minimum(1.0, np.sqrt(lengths / p.short_unit))
        return np.where(np.einsum("nd,nd->n", vectors, vectors) < 0.25, 0.0, costs)

    def distances(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sim = xs @ ys.T
        norm = (self._expected(1.0 - xs @ self.mu_tgt, len(self.tgt_len))[:, None]
                + self._expected(1.0 - ys @ self.mu_src, len(self.src_len))[None, :])
        return sim, 2.0 * (1.0 - sim) / np.maximum(norm, 1e-6)

    def paired_distances(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarity and distance of source vectors to target vectors row by row (broadcast)."""
        sim = np.einsum("...d,...d->...", xs, ys)
        norm = (self._expected(1.0 - xs @ self.mu_tgt, len(self.tgt_len))
                + self._expected(1.0 - ys @ self.mu_src, len(self.src_len)))
        return sim, 2.0 * (1.0 - sim) / np.maximum(norm, 1e-6)

    def _expected(self, distance_to_mean: np.ndarray, sentences: int) -> np.ndarray:
        p = self.params
        if p.random_distance is None:
            return distance_to_mean
        return (sentences * distance_to_mean + p.prior_sentences * p.random_distance) / (sentences + p.prior_sentences)

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


def align_vectors(src_vectors: np.ndarray, tgt_vectors: np.ndarray,
                  src_lengths: np.ndarray, tgt_lengths: np.ndarray,
                  params: AlignParams = AlignParams(), src_numbers: np.ndarray | None = None,
                  tgt_numbers: np.ndarray | None = None) -> list[Link]:
    """Align two sequences of L2-normalized sentence vectors; lengths are in characters."""
    n, m = len(src_vectors), len(tgt_vectors)
    if n == 0 or m == 0:
        return ([Link((i,), (), 0.0, 2.0) for i in range(n)]
                + [Link((), (j,), 0.0, 2.0) for j in range(m)])
    src_lengths = np.asarray(src_lengths, dtype=float)
    tgt_lengths = np.asarray(tgt_lengths, dtype=float)
    src_vectors = np.asarray(src_vectors, float)
    tgt_vectors = np.asarray(tgt_vectors, float)
    types = link_types(params.max_merge)
    if n * m <= params.max_exact_cells:
        costs = _Costs(SpanVectors(src_vectors, src_lengths), SpanVectors(tgt_vectors, tgt_lengths),
                       src_lengths, tgt_lengths, params, src_numbers=src_numbers, tgt_numbers=tgt_numbers)
        lo, hi = full_band(n, m)
    else:
        # Pass 1: a 1-1/skip path, coarse to fine; pass 2: every link type near it.
        # Time and memory grow with length times band width.
        lo, hi, coarse_log_ratio = coarse_to_fine_band(src_vectors, tgt_vectors, src_lengths, tgt_lengths, params)
        costs = _Costs(SpanVectors(src_vectors, src_lengths), SpanVectors(tgt_vectors, tgt_lengths),
                       src_lengths, tgt_lengths, params,
                       known_log_ratio=None if n * m <= EXACT_RATIO_CELLS else coarse_log_ratio,
                       src_numbers=src_numbers, tgt_numbers=tgt_numbers)
    band = _Band(n, m, types, costs, lo, hi)
    path = band.best_path()
    posteriors = band.path_posteriors(path, params.posterior_temperature)
    del band  # the band's link costs are the largest array; the link measures need their room
    return _make_links(costs, path, posteriors)


NEARBY = 3  # how far from a skip its best match is looked for
MARGIN_WINDOW = 6  # neighbours for the ratio margin: sentences this close to the link's other span
MARGIN_K = 3  # mean of this many nearest of them


def _ratio_margin(costs: _Costs, xs: np.ndarray, ys: np.ndarray, src_starts: np.ndarray,
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


def _make_links(costs: _Costs, path: list[tuple[int, int, int, int]], posteriors: np.ndarray) -> list[Link]:
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
            for (i, a, j, b), (s, d, r), p in zip(path, measures, posteriors)]


# ---- The search: coarse-to-fine band for long documents, band costs at once, rows by gathers ----

EXACT_RATIO_CELLS = 25_000_000  # up to here the length ratio comes from all sentence pairs
COARSE_UNITS = 1500  # the coarsest level of the first pass has at most this many units a side
COARSE_RADIUS = 4  # a path found at one level is searched again within this many units at the next


def _pool(vectors: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of consecutive units merged into one (√length-weighted, normalized), as spans are."""
    n = len(vectors)
    weighted = vectors * np.sqrt(np.maximum(lengths, 1.0))[:, None]
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
        (pooled_src, pooled_src_len), (pooled_tgt, pooled_tgt_len) = _pool(s, sl), _pool(t, tl)
        levels.append((pooled_src, pooled_tgt, pooled_src_len, pooled_tgt_len))
    top = levels[-1]
    log_ratio = mutual_log_ratio(top[0], top[1], top[2], top[3])
    path = None
    for s, t, sl, tl in reversed(levels[1:] or levels):
        costs = _Costs(SpanVectors(s, sl), SpanVectors(t, tl), sl, tl, params, known_log_ratio=log_ratio)
        n, m = len(s), len(t)
        lo, hi = full_band(n, m) if path is None else _refine(path, n, m, COARSE_RADIUS)
        path = search(n, m, [(1, 0), (1, 1)], costs, lo, hi)
    n, m = len(src), len(tgt)
    if len(levels) == 1:
        return (*band_around(path, n, m, params.band), log_ratio)
    return (*_refine(path, n, m, params.band), log_ratio)


def _band_link_costs(costs: _Costs, types: list[tuple[int, int]], lo: np.ndarray,
                     hi: np.ndarray) -> np.ndarray:
    """Cost of every link type starting at every band cell: out[t, p, k - lo[p]] for source start
    p and target start k in [lo[p], hi[p]] (inf where the link does not fit). The same costs as
    `_Costs._block_costs`, built from sentence-level similarities in a band (a span's similarity
    is a weighted sum of its sentences'), so the vectors are multiplied once per cell."""
    p_ = costs.params
    n, m = len(costs.src_len), len(costs.tgt_len)
    width = int((hi - lo).max()) + 1
    max_a = max(a for a, _ in types)
    max_b = max(b for _, b in types)
    out = np.full((len(types), n + 1, width), np.inf, dtype=np.float32)
    if n == 0 or m == 0:
        return out
    x, y = costs.src.sentences, costs.tgt.sentences
    w_src, w_tgt = np.sqrt(np.maximum(costs.src_len, 1.0)), np.sqrt(np.maximum(costs.tgt_len, 1.0))

    # Sentence similarities S[s, c] = x_s . y_(base[s] + c) over the columns any span through row s can reach.
    base = np.array([lo[max(0, s - max_a + 1):s + 1].min() for s in range(n)])
    reach = np.array([hi[max(0, s - max_a + 1):s + 1].max() for s in range(n)]) + max_b
    span = int((reach - base).max()) + 1
    columns = base[:, None] + np.arange(span)[None, :]
    inside = columns < m
    columns = np.minimum(columns, m - 1)
    sims = np.zeros((n, span), dtype=np.float32)
    for start in range(0, n, 256):  # a block of rows against the columns they reach, by BLAS
        stop = min(n, start + 256)
        first = base[start]
        block = x[start:stop] @ y[first:min(m, base[stop - 1] + span)].T
        sims[start:stop] = np.take_along_axis(block, columns[start:stop] - first, axis=1)
    sims[~inside] = 0.0
    weighted_prefix = np.zeros((n, span + 1))
    weighted_prefix[:, 1:] = np.cumsum(sims * w_tgt[columns], axis=1)

    # Span norms and their products with the other side's mean vector, from prefix sums.
    def span_terms(spans: SpanVectors, weights, mean):
        vectors, prefix = spans.sentences, spans._prefix
        dot = np.concatenate([[0.0], np.cumsum(weights * (vectors @ mean))])
        norms, means = {}, {}
        for size in range(1, max(max_a, max_b) + 1):
            if size <= len(vectors):
                total = prefix[size:] - prefix[:-size]
                norms[size] = np.maximum(np.linalg.norm(total, axis=1), 1e-12)
                means[size] = (dot[size:] - dot[:-size]) / norms[size]
        return norms, means

    src_norm, src_dot_mu = span_terms(costs.src, w_src, costs.mu_tgt)
    tgt_norm, tgt_dot_mu = span_terms(costs.tgt, w_tgt, costs.mu_src)
    src_sentence_expected = costs._expected(1.0 - x @ costs.mu_tgt, m)
    tgt_sentence_expected = costs._expected(1.0 - y @ costs.mu_src, n)

    def expected_src(size, idx):
        return costs._expected(1.0 - src_dot_mu[size][idx], m)

    def expected_tgt(size, idx):
        return costs._expected(1.0 - tgt_dot_mu[size][idx], n)

    d = np.arange(width)[None, :]
    band_widths = hi - lo
    blocks = [(t, a, b, np.arange(start, min(n + 1 - a, start + 2048)))  # rows in blocks: cache-sized arrays
              for t, (a, b) in enumerate(types) if 0 < a <= n and b <= m
              for start in range(0, n + 1 - a, 2048)]
    for t, a, b, p_rows in blocks:
        if b == 0:
            out[t, p_rows] = np.where(d <= band_widths[p_rows, None], costs.skip_src[p_rows, None], np.inf)
            continue
        k = lo[p_rows, None] + d
        valid = (d <= band_widths[p_rows, None]) & (k + b <= m)
        k = np.minimum(k, m - b)
        cross = np.zeros(k.shape)
        part_sims = []
        for q in range(a):
            s = p_rows + q
            lo_col = np.clip(k - base[s, None], 0, span - b)  # clipping touches only cells outside the band
            row_sum = (np.take_along_axis(weighted_prefix[s], lo_col + b, axis=1)
                       - np.take_along_axis(weighted_prefix[s], lo_col, axis=1))
            cross += w_src[s, None] * row_sum
            if a > 1:
                part_sims.append(row_sum / tgt_norm[b][k])
        sim = cross / (src_norm[a][p_rows, None] * tgt_norm[b][k])
        norm = expected_src(a, p_rows)[:, None] + expected_tgt(b, k)
        dist = 2.0 * (1.0 - sim) / np.maximum(norm, 1e-6)
        src_chars = costs._src_len_prefix[p_rows + a] - costs._src_len_prefix[p_rows]
        tgt_chars = costs._tgt_len_prefix[k + b] - costs._tgt_len_prefix[k]
        misfit = np.abs(np.log((tgt_chars + 10.0) / (src_chars[:, None] + 10.0)) - costs.log_ratio)
        cost = (a + b) / 2.0 * (dist + p_.length_weight * misfit) + p_.merge_penalty * (a + b - 2)
        if p_.number_weight and costs.src_numbers is not None and costs.tgt_numbers is not None:
            src_mask = np.bitwise_or.reduce([costs.src_numbers[p_rows + q] for q in range(a)], axis=0)
            tgt_mask = np.bitwise_or.reduce([costs.tgt_numbers[k + q] for q in range(b)], axis=0)
            union = np.bitwise_count(src_mask[:, None] | tgt_mask)
            shared = np.bitwise_count(src_mask[:, None] & tgt_mask)
            both = (src_mask[:, None] != 0) & (tgt_mask != 0)
            cost += p_.number_weight * np.where(both, 1.0 - shared / np.maximum(union, 1), 0.0)
        if p_.component_weight and a + b > 2:
            for q, part in enumerate(part_sims):  # each source sentence against the target span
                s = p_rows + q
                part_norm = src_sentence_expected[s][:, None] + expected_tgt(b, k)
                part_dist = 2.0 * (1.0 - part) / np.maximum(part_norm, 1e-6)
                cost += p_.component_weight * np.maximum(0.0, part_dist - p_.component_threshold)
            if b > 1:  # each target sentence against the source span
                for q in range(b):
                    column_sum = np.zeros(k.shape)
                    for r in range(a):
                        s = p_rows + r
                        at = np.clip(k + q - base[s, None], 0, span - 1)
                        column_sum += w_src[s, None] * np.take_along_axis(sims[s], at, axis=1)
                    part = column_sum / src_norm[a][p_rows, None]
                    part_norm = expected_src(a, p_rows)[:, None] + tgt_sentence_expected[k + q]
                    part_dist = 2.0 * (1.0 - part) / np.maximum(part_norm, 1e-6)
                    cost += p_.component_weight * np.maximum(0.0, part_dist - p_.component_threshold)
        out[t, p_rows] = np.where(valid, cost, np.inf)
    return out


def search(n: int, m: int, types: list[tuple[int, int]], costs: _Costs,
           lo: np.ndarray, hi: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Cheapest monotone path from (0, 0) to (n, m) through cells (i, j) with lo[i] <= j <= hi[i],
    as links (src_start, a, tgt_start, b)."""
    return _Band(n, m, types, costs, lo, hi).best_path()


class _Band:
    """The link costs of a search band and the passes over it: the cheapest path, and the
    posterior of its links. The costs of the whole band come first; then each row is updated from
    all link types at once by gathers; 0-1 (insertion) runs inside a row.

    Rows of values are stored with `pad` inf columns on the left and one on the right, so a
    gather that falls outside a row's band reads inf without a mask (band edges never move left,
    so no gather lands further left than the largest target span)."""

    def __init__(self, n: int, m: int, types: list[tuple[int, int]], costs: _Costs,
                 lo: np.ndarray, hi: np.ndarray):
        if np.any(np.diff(lo) < 0):
            raise ValueError("the band's left edge must not move left")
        types = [(a, b) for a, b in types if a > 0]  # 0-1 (insertion) runs inside a row
        self.n, self.m, self.types, self.lo, self.hi = n, m, types, lo, hi
        self.link_costs = _band_link_costs(costs, types, lo, hi)
        self.skip_tgt, self.skip_tgt_prefix = costs.skip_tgt, costs.skip_tgt_prefix
        self.width = self.link_costs.shape[2]
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

    def _row(self, values: np.ndarray) -> np.ndarray:
        out = np.full(self.padded_width, np.inf)
        out[self.pad:self.pad + len(values)] = values
        return out

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
            steps = self.skip_tgt_prefix[lo[i]:hi[i] + 1]
            row = best[:row_width]
            with np.errstate(invalid="ignore"):
                via_skip = np.minimum.accumulate(row - steps) + steps
                inserted = via_skip + 1e-9 * (1.0 + np.abs(via_skip)) < row
            row = np.where(inserted, via_skip, row)
            row_choice = choice[:row_width].copy()
            row_choice[inserted] = SKIP
            best_rows[i % ring] = self._row(row)
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

    def path_posteriors(self, path: list[tuple[int, int, int, int]], temperature: float) -> np.ndarray:
        """For each link of `path`, its posterior: the share of all paths through the band that
        use it, each path weighted by exp(-cost / temperature) (forward-backward with soft
        minima). Near 1: no other segmentation of that stretch costs nearly as little."""
        n, m, lo, hi, t = self.n, self.m, self.lo, self.hi, temperature
        # Both passes keep a ring of the last rows; a link's value is read in the row it starts
        # from: the forward value there, then the backward value at its end.
        ring = self.max_a + 1
        starting: dict[int, list[int]] = {}
        for index, (i, _, _, _) in enumerate(path):
            starting.setdefault(i, []).append(index)
        before = np.empty(len(path))
        forward = np.full((ring, self.padded_width), np.inf)
        for i in range(n + 1):
            steps = self.skip_tgt_prefix[lo[i]:hi[i] + 1]
            if i == 0:
                arriving = np.full(len(steps), np.inf)
                arriving[0] = 0.0 if lo[0] == 0 else np.inf
            else:
                arriving = _soft_min(self._incoming(i, forward, ring)[:, :len(steps)], t)
            # insertions within the row: forward[j] = softmin over k <= j of arriving[k] + steps[j] - steps[k]
            forward[i % ring] = self._row(steps - t * np.logaddexp.accumulate((steps - arriving) / t))
            for index in starting.get(i, ()):
                before[index] = forward[i % ring, self.pad + path[index][2] - lo[i]]
        total = forward[n % ring, self.pad + m - lo[n]]
        type_of = {ab: k for k, ab in enumerate(self.types)}
        posteriors = np.empty(len(path))
        backward = np.full((ring, self.padded_width), np.inf)
        for i in range(n, -1, -1):
            steps = self.skip_tgt_prefix[lo[i]:hi[i] + 1]
            leaving = _soft_min(self._outgoing(i, backward, ring)[:, :len(steps)], t)
            if i == n:
                leaving[m - lo[n]] = 0.0
            # insertions: backward[j] = softmin over k >= j of leaving[k] + steps[k] - steps[j]
            backward[i % ring] = self._row(-steps - t * np.logaddexp.accumulate(-(leaving + steps)[::-1] / t)[::-1])
            for index in starting.get(i, ()):
                _, a, j, b = path[index]
                cost = self.skip_tgt[j] if a == 0 else self.link_costs[type_of[(a, b)], i, j - lo[i]]
                through = before[index] + cost + backward[(i + a) % ring, self.pad + j + b - lo[i + a]]
                posteriors[index] = np.exp(-(through - total) / t)
        return np.clip(posteriors, 0.0, 1.0)


def _soft_min(values: np.ndarray, temperature: float) -> np.ndarray:
    """-T log sum exp(-values / T) over axis 0 (inf where every value is inf)."""
    low = values.min(axis=0)
    finite = np.isfinite(low)
    shifted = np.where(finite, low, 0.0)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        total = np.exp((shifted - values) / temperature).sum(axis=0)
        return np.where(finite, shifted - temperature * np.log(total), np.inf)
