"""Pairing Russian posts with their Norwegian versions: a combined score from the posts' embedding
similarity, agreement of numbers, hashtags and Latin-script names, and their distance in the
channel; then a one-to-one assignment that maximizes the total score above a threshold."""

from __future__ import annotations

import math
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from .ingest import Post
from .score import numbers

_HASHTAG = re.compile(r"#\w+")
_LATIN_NAME = re.compile(r"\b[A-Z][A-Za-z]{2,}\b")


@dataclass(frozen=True)
class PairParams:
    threshold: float = 0.5  # pairs below this confidence stay unpaired
    window: int = 50  # candidates at most this many posts apart
    max_days: float = 14.0  # and, where both have dates, at most this many days apart
    # Weights of the evidence in the confidence's logit, set by hand on seed 000 and the
    # synthetic channel of benchmarks/channel.py.
    similarity_weight: float = 6.0
    numbers_weight: float = 3.0
    hashtags_weight: float = 2.0
    names_weight: float = 1.5
    position_weight: float = 1.0


@dataclass
class PostPair:
    ru: int  # index into the Russian posts
    nb: int  # index into the Norwegian posts
    confidence: float
    evidence: dict


def _jaccard(a: AbstractSet, b: AbstractSet) -> float | None:
    return len(a & b) / len(a | b) if a | b else None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)  # exports give local wall-clock times
    except ValueError:
        return None


def normalized_distance(ru_vectors: np.ndarray, nb_vectors: np.ndarray, ru_mean: np.ndarray,
                        nb_mean: np.ndarray) -> np.ndarray:
    """Cosine distance over each post's expected distance to the other language's posts (their
    mean vector, as in dp.py), so one threshold holds for any encoder and channel."""
    ru_spread = 1.0 - ru_vectors @ nb_mean
    nb_spread = 1.0 - nb_vectors @ ru_mean
    return 2.0 * (1.0 - ru_vectors @ nb_vectors.T) / np.maximum(ru_spread[:, None] + nb_spread[None, :], 1e-6)


class _Features:
    """What each post offers as evidence, computed once per post."""

    def __init__(self, post: Post):
        self.numbers = numbers(post.text)
        self.hashtags = {h.lower() for h in _HASHTAG.findall(post.text)}
        self.names = set(_LATIN_NAME.findall(post.text))
        self.date = _parse_date(post.date)
        self.text = post.text


def evidence_for(ru: _Features, nb: _Features, similarity: float, distance: float,
                 position_gap: int, params: PairParams) -> tuple[float, dict]:
    """Confidence in [0, 1] that `nb` translates `ru`, with the evidence behind it."""
    logit = params.similarity_weight * (1.0 - distance)
    evidence: dict = {"similarity": round(similarity, 4), "distance": round(distance, 4)}
    number_agreement = _jaccard(ru.numbers, nb.numbers)
    if number_agreement is not None:
        logit += params.numbers_weight * (number_agreement - 0.3)
        evidence["numbers"] = {"agreement": round(number_agreement, 3),
                               "shared": sorted(ru.numbers & nb.numbers)[:20]}
    hashtag_agreement = _jaccard(ru.hashtags, nb.hashtags)
    if hashtag_agreement is not None:
        logit += params.hashtags_weight * (hashtag_agreement - 0.5)
        evidence["hashtags"] = {"agreement": round(hashtag_agreement, 3), "shared": sorted(ru.hashtags & nb.hashtags)}
    if ru.names:  # Latin-script names in the Russian text should reappear in the Norwegian one
        found = {name for name in ru.names if name in nb.text}
        logit += params.names_weight * (len(found) / len(ru.names) - 0.5)
        evidence["latin_names"] = {"found": sorted(found), "missing": sorted(ru.names - found)}
    # The Norwegian version usually comes right after the Russian one.
    closeness = math.exp(-abs(position_gap - 1) / 3.0)
    evidence["position_gap"] = position_gap
    if ru.date and nb.date:
        hours = (nb.date - ru.date).total_seconds() / 3600.0
        closeness = max(closeness, math.exp(-abs(hours) / 48.0))
        evidence["hours_apart"] = round(hours, 1)
    logit += params.position_weight * (closeness - 0.5)
    return 1.0 / (1.0 + math.exp(-logit)), evidence


def score_bilingual(ru_post: Post, nb_post: Post, ru_vector: np.ndarray, nb_vector: np.ndarray,
                    ru_mean: np.ndarray, nb_mean: np.ndarray, params: PairParams = PairParams()) -> tuple[float, dict]:
    """The two language parts of one post: their own pair, scored like any other, as if adjacent."""
    similarity = float(ru_vector @ nb_vector)
    distance = float(normalized_distance(ru_vector[None], nb_vector[None], ru_mean, nb_mean)[0, 0])
    confidence, evidence = evidence_for(_Features(ru_post), _Features(nb_post), similarity, distance, 1, params)
    evidence["bilingual_post"] = True
    return confidence, evidence


def max_assignment(gain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the one-to-one assignment with the greatest summed gain. When the best
    positive gains of all rows lie in different columns, taking them is that assignment (no other
    can sum higher) and scipy, 0.6 s to import, is not needed; otherwise the Hungarian algorithm."""
    rows = np.flatnonzero(gain.max(axis=1, initial=0.0) > 0)
    cols = gain[rows].argmax(axis=1)
    if len(np.unique(cols)) == len(cols):
        return rows, cols
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(gain, maximize=True)


def pair_posts(ru_posts: list[Post], nb_posts: list[Post], ru_vectors: np.ndarray, nb_vectors: np.ndarray,
               ru_mean: np.ndarray | None, nb_mean: np.ndarray | None, params: PairParams = PairParams(),
               ) -> tuple[list[PostPair], dict[tuple[str, int], dict]]:
    """One-to-one pairs maximizing the summed confidence above the threshold, and for every post
    left over its best candidate (for the unpaired report). A side's mean is None only when it
    has no posts."""
    if not ru_posts or not nb_posts:
        return [], {}
    assert ru_mean is not None and nb_mean is not None
    distance = normalized_distance(ru_vectors, nb_vectors, ru_mean, nb_mean)
    similarity = ru_vectors @ nb_vectors.T
    ru_features = [_Features(p) for p in ru_posts]
    nb_features = [_Features(p) for p in nb_posts]
    nb_positions = np.array([p.position for p in nb_posts])
    gain = np.zeros((len(ru_posts), len(nb_posts)))
    scored: dict[tuple[int, int], tuple[float, dict]] = {}
    for i, ru_post in enumerate(ru_posts):
        near = np.flatnonzero(np.abs(nb_positions - ru_post.position) <= params.window)
        for j in near.tolist():
            ru_f, nb_f = ru_features[i], nb_features[j]
            if ru_f.date and nb_f.date and abs((nb_f.date - ru_f.date).days) > params.max_days:
                continue
            confidence, evidence = evidence_for(ru_f, nb_f, float(similarity[i, j]), float(distance[i, j]),
                                                int(nb_positions[j] - ru_post.position), params)
            scored[(i, int(j))] = (confidence, evidence)
            gain[i, j] = max(confidence - params.threshold, 0.0)
    rows, cols = max_assignment(gain)
    pairs = [PostPair(int(i), int(j), round(scored[(i, j)][0], 4), scored[(i, j)][1])
             for i, j in zip(rows, cols, strict=True) if gain[i, j] > 0]
    paired = {("ru", p.ru) for p in pairs} | {("nb", p.nb) for p in pairs}
    best: dict[tuple[str, int], dict] = {}
    for (i, j), (confidence, _) in scored.items():
        for side, index, other, other_id in (("ru", i, "nb", nb_posts[j].id), ("nb", j, "ru", ru_posts[i].id)):
            if (side, index) not in paired and confidence > best.get((side, index), {}).get("confidence", -1):
                best[(side, index)] = {"confidence": round(confidence, 4), f"{other}_id": other_id}
    return pairs, best
