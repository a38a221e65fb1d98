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

Skipping a unit shorter than `short_unit` characters costs less, and the length misfit is taken
against the length ratio of mutually nearest sentence pairs, which untranslated passages do not
skew. A merged span's vector is the normalized sum of its sentences' vectors weighted by the
square root of their lengths, so each sentence is embedded once; on Text+Berg dev this scored as
well as embedding the joined text of every span (benchmarks/README.md).
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
    max_exact_cells: int = 1_000_000  # larger inputs are searched in a band (two passes)
    band: int = 12  # rows and columns kept around the first pass's path
    # The encoder's typical distance 1 - x.y between unrelated sentences (models/); a side's
    # expected distance is shrunk towards it as if `prior_sentences` more sentences were there,
    # so a document of one or two sentences is not compared only with itself.
    random_distance: float | None = None
    prior_sentences: float = 4.0


@dataclass(frozen=True)
class Link:
    src: tuple[int, ...]
    tgt: tuple[int, ...]
    # Cosine and normalized distance d of the two spans; for a skip, of the sentence's best
    # 1-1 match among the other side's sentences near the skip.
    similarity: float
    distance: float

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
    mu_src: np.ndarray = field(init=False)
    mu_tgt: np.ndarray = field(init=False)
    log_ratio: float = field(init=False)

    def __post_init__(self):
        self._matrices: dict[tuple[int, int], np.ndarray] = {}
        self.mu_src = self.src.sentences.mean(0)
        self.mu_tgt = self.tgt.sentences.mean(0)
        self._src_len_prefix = np.concatenate([[0.0], np.cumsum(self.src_len)])
        self._tgt_len_prefix = np.concatenate([[0.0], np.cumsum(self.tgt_len)])
        self.log_ratio = self._typical_log_ratio()
        self.skip_src = self._skip_costs(self.src_len)
        self.skip_tgt = self._skip_costs(self.tgt_len)
        self.skip_tgt_prefix = np.concatenate([[0.0], np.cumsum(self.skip_tgt)])

    def _typical_log_ratio(self) -> float:
        """Log ratio of summed lengths (target/source) over mutual nearest-neighbour sentence
        pairs: unlike the ratio of total lengths, it is not skewed by untranslated passages."""
        src, tgt = self.src.sentences, self.tgt.sentences
        best_tgt = np.empty(len(src), dtype=np.int64)
        best_src = np.zeros(len(tgt), dtype=np.int64)
        best_src_sim = np.full(len(tgt), -np.inf)
        for start in range(0, len(src), 2048):  # in chunks: memory stays linear in length
            sim = src[start:start + 2048] @ tgt.T
            best_tgt[start:start + 2048] = sim.argmax(1)
            chunk_best = sim.max(0)
            better = chunk_best > best_src_sim
            best_src[better] = sim.argmax(0)[better] + start
            best_src_sim[better] = chunk_best[better]
        mutual = np.flatnonzero(best_src[best_tgt] == np.arange(len(src)))
        if len(mutual) < 3:
            return float(np.log((self.tgt_len.sum() + 1) / (self.src_len.sum() + 1)))
        return float(np.log((self.tgt_len[best_tgt[mutual]].sum() + 1) / (self.src_len[mutual].sum() + 1)))

    def _skip_costs(self, lengths: np.ndarray) -> np.ndarray:
        """Skipping costs `skip_cost`, less for a unit too short to carry meaning (a stray
        letter left by editing, OCR debris)."""
        p = self.params
        if not p.short_unit:
            return np.full(len(lengths), p.skip_cost)
        return p.skip_cost * np.minimum(1.0, np.sqrt(lengths / p.short_unit))

    def similarity_and_distance(self, a: int, b: int, i: int, ks: np.ndarray):
        sim, dist = self.distances(self.src.get(a, np.array([i])), self.tgt.get(b, ks))
        return sim[0], dist[0]

    def distances(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sim = xs @ ys.T
        norm = (self._expected(1.0 - xs @ self.mu_tgt, len(self.tgt_len))[:, None]
                + self._expected(1.0 - ys @ self.mu_src, len(self.src_len))[None, :])
        return sim, 2.0 * (1.0 - sim) / np.maximum(norm, 1e-6)

    def _expected(self, distance_to_mean: np.ndarray, sentences: int) -> np.ndarray:
        p = self.params
        if p.random_distance is None:
            return distance_to_mean
        return (sentences * distance_to_mean + p.prior_sentences * p.random_distance) / (sentences + p.prior_sentences)

    def _block_costs(self, a: int, b: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Cost of linking source [i, i+a) to target [k, k+b) for i in rows, k in cols."""
        p = self.params
        xs, ys = self.src.get(a, rows), self.tgt.get(b, cols)
        _, dist = self.distances(xs, ys)
        src_chars = self._src_len_prefix[rows + a] - self._src_len_prefix[rows]
        tgt_chars = self._tgt_len_prefix[cols + b] - self._tgt_len_prefix[cols]
        misfit = np.abs(np.log((tgt_chars[None, :] + 10.0) / (src_chars[:, None] + 10.0)) - self.log_ratio)
        cost = (a + b) / 2.0 * (dist + p.length_weight * misfit) + p.merge_penalty * (a + b - 2)
        if p.component_weight and a + b > 2:  # rows and cols are contiguous ranges
            if a > 1:  # each source sentence of the span against the target span
                _, parts = self.distances(self.src.sentences[rows[0]:rows[-1] + a], ys)
                for k in range(a):
                    cost += p.component_weight * np.maximum(0.0, parts[k:k + len(rows)] - p.component_threshold)
            if b > 1:
                _, parts = self.distances(xs, self.tgt.sentences[cols[0]:cols[-1] + b])
                for k in range(b):
                    cost += p.component_weight * np.maximum(0.0, parts[:, k:k + len(cols)] - p.component_threshold)
        return cost

    def precompute(self, types: list[tuple[int, int]]) -> None:
        """Cost matrices of every link type over the whole grid (for the exact search)."""
        n, m = len(self.src_len), len(self.tgt_len)
        self._matrices = {(a, b): self._block_costs(a, b, np.arange(n - a + 1), np.arange(m - b + 1))
                          for a, b in types if 0 < a <= n and 0 < b <= m}

    def link(self, a: int, b: int, i: int, k0: int, k1: int) -> np.ndarray:
        """Cost of linking source [i, i+a) to target [k, k+b) for k in [k0, k1)."""
        if b == 0:  # deletion of source sentence i
            return np.full(k1 - k0, self.skip_src[i])
        if (a, b) in self._matrices:
            return self._matrices[(a, b)][i, k0:k1]
        return self._block_costs(a, b, np.array([i]), np.arange(k0, k1))[0]


def full_band(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n + 1, dtype=np.int64), np.full(n + 1, m, dtype=np.int64)


def diagonal_band(n: int, m: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    center = np.round(np.arange(n + 1) * (m / n)).astype(np.int64)
    return np.clip(center - width, 0, m), np.clip(center + width, 0, m)


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


def search(n: int, m: int, types: list[tuple[int, int]], costs: _Costs,
           lo: np.ndarray, hi: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Cheapest monotone path from (0, 0) to (n, m) through cells (i, j) with lo[i] <= j <= hi[i].

    Returns links as (src_start, a, tgt_start, b). Ties go to the earlier link type, so the
    result is deterministic."""
    max_a = max(a for a, _ in types)
    rows: dict[int, np.ndarray] = {}
    back: list[np.ndarray] = []
    for i in range(n + 1):
        width = hi[i] - lo[i] + 1
        best = np.full(width, np.inf)
        choice = np.full(width, SKIP, dtype=np.int8)
        if i == 0:
            best[0] = 0.0 if lo[0] == 0 else np.inf
        for t, (a, b) in enumerate(types):
            if a == 0 or a > i:
                continue
            p = i - a
            j0 = max(lo[i], lo[p] + b)
            j1 = min(hi[i], hi[p] + b)
            if j0 > j1:
                continue
            prev = rows[p][j0 - b - lo[p]: j1 - b - lo[p] + 1]
            total = prev + costs.link(a, b, p, j0 - b, j1 - b + 1)
            seg = slice(j0 - lo[i], j1 - lo[i] + 1)
            better = total < best[seg]
            best[seg] = np.where(better, total, best[seg])
            choice[seg] = np.where(better, t, choice[seg])
        # insertions: best[j] = min over k <= j of best[k] + skip costs of targets k..j-1
        steps = costs.skip_tgt_prefix[lo[i]:hi[i] + 1]
        with np.errstate(invalid="ignore"):  # inf - inf where a row starts unreachable
            via_skip = np.minimum.accumulate(best - steps) + steps
            inserted = via_skip + 1e-9 * (1.0 + np.abs(via_skip)) < best  # not mere round-off
        best = np.where(inserted, via_skip, best)
        choice[inserted] = SKIP
        rows[i] = best
        rows.pop(i - max_a - 1, None)
        back.append(choice)
    if not np.isfinite(rows[n][m - lo[n]]):
        raise RuntimeError("no path through the search band")
    links = []
    i, j = n, m
    while i > 0 or j > 0:
        t = int(back[i][j - lo[i]])
        a, b = (0, 1) if t == SKIP else types[t]
        i, j = i - a, j - b
        links.append((i, a, j, b))
    links.reverse()
    return links


def align_vectors(src_vectors: np.ndarray, tgt_vectors: np.ndarray,
                  src_lengths: np.ndarray, tgt_lengths: np.ndarray,
                  params: AlignParams = AlignParams()) -> list[Link]:
    """Align two sequences of L2-normalized sentence vectors; lengths are in characters."""
    n, m = len(src_vectors), len(tgt_vectors)
    if n == 0 or m == 0:
        return ([Link((i,), (), 0.0, 2.0) for i in range(n)]
                + [Link((), (j,), 0.0, 2.0) for j in range(m)])
    src_lengths = np.asarray(src_lengths, dtype=float)
    tgt_lengths = np.asarray(tgt_lengths, dtype=float)
    costs = _Costs(SpanVectors(np.asarray(src_vectors, float), src_lengths),
                   SpanVectors(np.asarray(tgt_vectors, float), tgt_lengths),
                   src_lengths, tgt_lengths, params)
    types = link_types(params.max_merge)
    if n * m <= params.max_exact_cells:
        costs.precompute(types)
        path = search(n, m, types, costs, *full_band(n, m))
    else:
        # Pass 1: 1-1 links and skips inside a band around the diagonal; pass 2: every link
        # type near that path. Memory and time grow with length times band width.
        width = max(100, int(0.06 * max(n, m)))
        rough = search(n, m, [(1, 0), (0, 1), (1, 1)], costs, *diagonal_band(n, m, width))
        path = search(n, m, types, costs, *band_around(rough, n, m, params.band))
    return [_make_link(costs, i, a, j, b) for i, a, j, b in path]


NEARBY = 3  # how far from a skip its best match is looked for


def _make_link(costs: _Costs, i: int, a: int, j: int, b: int) -> Link:
    src, tgt = tuple(range(i, i + a)), tuple(range(j, j + b))
    if a and b:
        sim, dist = costs.similarity_and_distance(a, b, i, np.array([j]))
        return Link(src, tgt, float(sim[0]), float(dist[0]))
    if a:  # deletion: compare source sentence i with target sentences around j
        ks = np.arange(max(0, j - NEARBY), min(len(costs.tgt_len), j + NEARBY))
        sim, dist = costs.similarity_and_distance(1, 1, i, ks)
    else:  # insertion: the same from the target side
        ks = np.arange(max(0, i - NEARBY), min(len(costs.src_len), i + NEARBY))
        sim, dist = costs.distances(costs.src.sentences[ks], costs.tgt.sentences[j:j + 1])
        sim, dist = sim[:, 0], dist[:, 0]
    if len(ks) == 0:
        return Link(src, tgt, 0.0, 2.0)
    best = int(np.argmin(dist))
    return Link(src, tgt, float(sim[best]), float(dist[best]))
