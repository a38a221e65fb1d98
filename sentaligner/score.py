"""Quality score in [0, 1] and flags for every link.

The score is the product of two small logistic models over features of the link (`FEATURES`),
fitted per encoder on gold alignments (`sentaligner calibrate`) and stored with the encoder's
description in `models/`, so that it estimates the chance that the link is right:

- *match*, for a pair only: do the two sides translate each other at all? From the normalized
  distance `d` of the spans (see dp.py), the ratio margin over their nearest neighbours, the length
  misfit against the document's typical ratio and the agreement of numbers. Fitted on the lax
  labels of the pairs, with copies of the gold documents whose sentences were partly replaced by
  unrelated ones, as gold alone has few pairs that are not translations.
- *granularity*: given that they do (and for every skip), is this the gold's link rather than a
  piece of a larger block, a block glued from several, or a sentence left out that belongs to a
  neighbour? From the link's posterior alone: how much of the weight of near-best paths through
  the search band goes through it (dp.py).

Chosen leaving one gold set out (benchmarks/quality.py): the posterior alone ranks right links
above wrong ones better on every left-out set than with link type, skip, edge punctuation or
length beside it; those describe the set the model was fitted on (the novel's skips are mostly
wrong, Text+Berg's all right), the posterior describes the document at hand.
An encoder without fitted weights gets a fixed logistic map of `d`. For a skip (1-0, 0-1) the
score is the chance that the sentence really has no counterpart.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

from .dp import Link
from .segment import QUOTATION_MARKS

DEFAULT_CALIBRATION = {"midpoint": 0.75, "slope": 9.0}
# The threshold the README recommends for --min-score: a calibrated score above it means the link
# is more likely right than wrong.
RECOMMENDED_MIN_SCORE = 0.5
# A copy inside a translation is a name or a reference, and may be right; a document whose links
# are mostly copies was not translated, and its copied links score at most this.
UNTRANSLATED_MAX_SCORE = 0.2

FEATURES = ("distance", "margin", "length_misfit", "numbers", "skip", "posterior")
# `posterior` enters as -log(1 - posterior), which spreads the values near 1 where right and
# wrong links differ. `distance` is, for a skip, that of its sentence's best match nearby.
MATCH_FEATURES = ("distance", "margin", "length_misfit", "numbers")
GRANULARITY_FEATURES = ("posterior",)


def _agreement(src: AbstractSet[str], tgt: AbstractSet[str]) -> float:
    """+1 both sides hold the same items, -1 they differ, 0 neither has any."""
    if not src and not tgt:
        return 0.0
    return 1.0 if src == tgt else -1.0


def link_features(link: Link, src: str, tgt: str, typical_log_ratio: float) -> list[float]:
    """The feature vector of one link (see FEATURES) from its measures and its two texts."""
    pair = bool(link.src and link.tgt)
    return [
        min(link.distance, 2.0),
        link.margin,
        abs(log_length_ratio(src, tgt) - typical_log_ratio) if pair else 0.0,
        _agreement(numbers(src), numbers(tgt)) if pair else 0.0,
        0.0 if pair else 1.0,
        -math.log(max(1.0 - link.posterior, 1e-3)),
    ]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def _logistic(model: dict, features: np.ndarray) -> np.ndarray:
    columns = [FEATURES.index(name) for name in model["features"]]
    x = (np.atleast_2d(features)[:, columns] - np.asarray(model["mean"])) / np.asarray(model["scale"])
    return _sigmoid(x @ np.asarray(model["weights"]) + model["bias"])


def predict(calibration: dict, features) -> np.ndarray:
    """Calibrated scores of feature rows (see fit_calibration): a skip's is its granularity part."""
    features = np.atleast_2d(np.asarray(features, dtype=float))
    pair = features[:, FEATURES.index("skip")] == 0
    match = np.where(pair, _logistic(calibration["match"], features), 1.0)
    return match * _logistic(calibration["granularity"], features)


def link_scores(features, calibration: dict | None = None) -> np.ndarray:
    """The calibrated chance that each link is right; the fixed map of `d` without a fit."""
    cal = calibration or DEFAULT_CALIBRATION
    features = np.asarray(features, dtype=float).reshape(-1, len(FEATURES))
    if "match" in cal:
        return predict(cal, features)
    skip = features[:, FEATURES.index("skip")] == 1
    match = _sigmoid(-cal["slope"] * (features[:, FEATURES.index("distance")] - cal["midpoint"]))
    return np.where(skip, 1.0 - match, match)


def check_calibration(calibration: dict, source: str) -> dict:
    """`calibration` if it is one this version can apply: the fixed map, or the two fitted parts
    over known features; else a ModelError naming `source`."""
    from .errors import ModelError

    try:
        if "match" not in calibration:
            float(calibration["midpoint"]), float(calibration["slope"])
            return calibration
        for part in ("match", "granularity"):
            model = calibration[part]
            size = len(model["features"])
            unknown = [name for name in model["features"] if name not in FEATURES]
            if unknown:
                raise ModelError(f"{source}: calibration uses features this version lacks: {', '.join(unknown)}")
            if not all(len(model[key]) == size for key in ("mean", "scale", "weights")):
                raise ValueError(part)
            float(model["bias"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{source}: not a calibration (expected `match` and `granularity` "
                         "models, or `midpoint` and `slope`)") from None
    return calibration


def read_calibration(path: str) -> dict:
    """The calibration in a file written by `sentaligner calibrate`."""
    from .errors import AlignerError, InputError
    from .ingest import parse_json, read_text

    data = parse_json(read_text(path), path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a calibration file")
    try:
        return check_calibration(data.get("score", data), path)
    except AlignerError as exc:
        raise InputError(str(exc)) from None


def _fit_logistic(features: np.ndarray, right: np.ndarray, names: tuple[str, ...], l2: float) -> dict:
    """L2-penalized logistic regression on the standardized columns `names`."""
    from scipy.optimize import minimize

    x = features[:, [FEATURES.index(name) for name in names]]
    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    x = (x - mean) / scale

    def loss(theta):
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        gap = _sigmoid(z) - right
        value = np.sum(np.logaddexp(0.0, z) - right * z) + 0.5 * l2 * w @ w
        return value, np.append(x.T @ gap + l2 * w, gap.sum())

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return {"features": list(names), "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
            "weights": theta[:-1].round(6).tolist(), "bias": round(float(theta[-1]), 6)}


def fit_calibration(features, strict, lax, l2: float = 1.0) -> dict:
    """Fit the two parts of the score: `match` on the lax labels of the pairs, `granularity` on
    the strict labels of the pairs that are lax right and of the skips."""
    features = np.asarray(features, dtype=float)
    strict, lax = np.asarray(strict, dtype=float), np.asarray(lax, dtype=float)
    pair = features[:, FEATURES.index("skip")] == 0
    if len(set(lax[pair].tolist())) < 2:
        raise ValueError("calibration needs right and wrong links in the gold data")
    judged = (pair & (lax == 1)) | ~pair
    if len(set(strict[judged].tolist())) < 2:
        raise ValueError("calibration needs gold links of other sizes than the aligner's among the right ones")
    return {"match": _fit_logistic(features[pair], lax[pair], MATCH_FEATURES, l2),
            "granularity": _fit_logistic(features[judged], strict[judged], GRANULARITY_FEATURES, l2)}


def leave_one_out(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Scores of each part's features (features, strict, lax) by a calibration fitted on the
    other parts only: cross-validation over documents."""
    scores = []
    for held, (features, _, _) in enumerate(parts):
        train = [part for k, part in enumerate(parts) if k != held]
        features_train, strict_train, lax_train = (np.concatenate([part[column] for part in train])
                                                   for column in range(3))
        fitted = fit_calibration(features_train, strict_train, lax_train)
        scores.append(predict(fitted, features))
    return scores


# ---- Flags: what a reviewer should look at, whatever the score ----

# Digits, with groups of three after a space, apostrophe or thin space (`3 000`, Swiss `3'000`)
# and decimal or grouping points and commas.
_NUMBER = re.compile(r"\d+(?:[ '’\u00a0\u202f]\d{3}(?!\d))*(?:[.,]\d+)*")
_GROUP_SEPARATOR = re.compile(r"[ '’\u00a0\u202f]")
_WORD = re.compile(r"[^\W\d_]+")
_CYRILLIC_LANGUAGES = {"ru", "uk", "be", "bg", "sr", "mk", "kk"}
# Link texts and calls to action that carry no sentence to translate.
_BOILERPLATE = {"читать полностью", "подробнее", "читать далее", "les mer", "les hele saken", "read in full",
                "read more", "подписывайтесь", "view in telegram", "please open telegram to view this post"}
LENGTH_OUTLIER = math.log(2.0)  # |log length ratio - the document's typical one| above this
LONG_SEGMENT_CHARS = 2000  # Trados refuses a TMX segment longer than this


def is_long_segment(src: str, tgt: str) -> bool:
    return max(len(src), len(tgt)) > LONG_SEGMENT_CHARS


def number_masks(texts: list[str]) -> np.ndarray:
    """Each text's numbers hashed into the bits of one uint64 (for the search's number term)."""
    import zlib

    masks = np.zeros(len(texts), dtype=np.uint64)
    for index, text in enumerate(texts):
        for number in numbers(text):
            masks[index] |= np.uint64(1) << np.uint64(zlib.crc32(number.encode()) % 64)
    return masks


_AFTER_LAST_WORD = re.compile(r"(?<=[^\W_])[\W_]*$")


def quote_endings(texts: list[str]) -> np.ndarray:
    """1 for each text that ends a quotation, else 0 (for the search's ending term): its last
    character is a quotation mark (`…!”`, `«…dialog»`), or direct speech closes after its own
    final mark and something trails (`。” ……`, `!" )`). A quoted word before the final mark
    (`‘余烬’。`, `calls "nephew" .`) does not end a quotation."""
    out = []
    for text in texts:
        tail = _AFTER_LAST_WORD.search(text)
        marks = "".join(tail.group().split()) if tail else ""
        out.append(int(bool(marks) and (marks[-1] in QUOTATION_MARKS or (
            marks[0] not in QUOTATION_MARKS and not QUOTATION_MARKS.isdisjoint(marks)))))
    return np.array(out, dtype=np.int64)


@functools.lru_cache(maxsize=65536)  # a link's texts are read by the search, the score and the flags
def numbers(text: str) -> frozenset[str]:
    """Numbers, written one way: decimal comma read as a point (`197,7` -> `197.7`), group
    separators dropped (`3 000`, `3'000` -> `3000`), trailing decimal zeros dropped (`8847.60` ->
    `8847.6`, but `1.000` stays)."""
    found = set()
    for number in _NUMBER.findall(text):
        number = _GROUP_SEPARATOR.sub("", number).replace(",", ".")
        if number.count(".") == 1 and len(number.split(".")[1]) != 3:  # `1.000` may be a thousand
            number = number.rstrip("0").rstrip(".")
        found.add(number)
    return frozenset(found)


def _cyrillic_share(text: str) -> float:
    letters = _WORD.findall(text)
    total = sum(len(w) for w in letters)
    cyrillic = sum(1 for w in letters for ch in w if "\u0400" <= ch <= "\u04ff")
    return cyrillic / total if total else 0.0


def _is_boilerplate(text: str) -> bool:
    words = " ".join(_WORD.findall(text.lower()))
    if not words:
        return bool(text.strip())  # emoji, links or numbers only
    if words in _BOILERPLATE:
        return True
    return all(token.startswith(("#", "http://", "https://", "@")) for token in text.split())


def log_length_ratio(src: str, tgt: str) -> float:
    return math.log((len(tgt) + 10.0) / (len(src) + 10.0))


def link_flags(src: str, tgt: str, src_lang: str, tgt_lang: str, typical_log_ratio: float,
               merged: bool) -> list[str]:
    """`number_mismatch`, `untranslated`, `length_outlier`, `boilerplate`, `merged` (n-m link),
    `long_segment` (a side over LONG_SEGMENT_CHARS)."""
    flags = []
    if src and tgt:
        if numbers(src) != numbers(tgt):
            flags.append("number_mismatch")
        src_words, tgt_words = set(_WORD.findall(src.casefold())), set(_WORD.findall(tgt.casefold()))
        copied = bool(src_words) and len(src_words & tgt_words) / len(src_words | tgt_words) >= 0.8
        scripts_differ = (src_lang in _CYRILLIC_LANGUAGES) != (tgt_lang in _CYRILLIC_LANGUAGES)
        same_script = scripts_differ and src_words and tgt_words and \
            (_cyrillic_share(src) >= 0.5) == (_cyrillic_share(tgt) >= 0.5)
        if copied or same_script:
            flags.append("untranslated")
        if min(len(src), len(tgt)) >= 20 and abs(log_length_ratio(src, tgt) - typical_log_ratio) > LENGTH_OUTLIER:
            flags.append("length_outlier")
    if _is_boilerplate(src) or _is_boilerplate(tgt):
        flags.append("boilerplate")
    if merged:
        flags.append("merged")
    if is_long_segment(src, tgt):
        flags.append("long_segment")
    return flags


def typical_log_ratio(records: Sequence[Mapping[str, Any]]) -> float:
    """The document's typical length ratio: the median over its 1-1 links."""
    ratios = sorted(log_length_ratio(r["src"], r["tgt"]) for r in records if r["type"] == "1-1")
    return ratios[len(ratios) // 2] if ratios else 0.0


def document_flags(records: Sequence[Mapping[str, Any]], src_lang: str, tgt_lang: str,
                   typical: float | None = None) -> list[list[str]]:
    """The flags of every link record of one document (`typical`: its typical_log_ratio)."""
    typical = typical_log_ratio(records) if typical is None else typical
    return [link_flags(record["src"], record["tgt"], src_lang, tgt_lang, typical,
                       len(record["src_ids"]) + len(record["tgt_ids"]) > 2)
            for record in records]


def mostly_untranslated(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether at least half of a document's links with text on both sides are flagged
    `untranslated` (the same text twice, or a side in the wrong script)."""
    both = [record for record in records if record["src"] and record["tgt"]]
    copied = sum("untranslated" in record.get("flags", ()) for record in both)
    return bool(both) and copied >= 0.5 * len(both)
