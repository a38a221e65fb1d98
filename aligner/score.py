"""Quality score in [0, 1] and flags for every link.

A logistic map of the link's normalized distance `d` (see align.py), with a midpoint and slope
stored per encoder in `models/`. For a 1-1 or merged link the score is the estimated chance that
the link is right; for a skip (1-0, 0-1) it is the chance that the sentence really has no
counterpart, i.e. one minus the score of its best match nearby.
"""

from __future__ import annotations

import math
import re

from .align import Link

DEFAULT_CALIBRATION = {"midpoint": 0.75, "slope": 9.0}


def link_score(link: Link, calibration: dict | None = None) -> float:
    cal = calibration or DEFAULT_CALIBRATION
    z = cal["slope"] * (link.distance - cal["midpoint"])
    match = 1.0 / (1.0 + math.exp(min(max(z, -50.0), 50.0)))
    return match if link.src and link.tgt else 1.0 - match


# ---- Flags: what a reviewer should look at, whatever the score ----

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_]+")
_CYRILLIC_LANGUAGES = {"ru", "uk", "be", "bg", "sr", "mk", "kk"}
# Link texts and calls to action that carry no sentence to translate.
_BOILERPLATE = {"читать полностью", "подробнее", "читать далее", "les mer", "les hele saken", "read in full",
                "read more", "подписывайтесь", "view in telegram", "please open telegram to view this post"}
LENGTH_OUTLIER = math.log(2.0)  # |log length ratio - the document's typical one| above this


def numbers(text: str) -> set[str]:
    """Numbers as written, decimal comma read as a point: `197,7` -> `197.7`."""
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


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
    """`number_mismatch`, `untranslated`, `length_outlier`, `boilerplate`, `merged` (n-m link)."""
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
    return flags


def add_flags(records: list[dict], src_lang: str, tgt_lang: str) -> None:
    """Set `flags` on every link record of one document (its typical length ratio is the median
    over its 1-1 links)."""
    ratios = sorted(log_length_ratio(r["src"], r["tgt"]) for r in records if r["type"] == "1-1")
    typical = ratios[len(ratios) // 2] if ratios else 0.0
    for record in records:
        merged = len(record["src_ids"]) + len(record["tgt_ids"]) > 2
        record["flags"] = link_flags(record["src"], record["tgt"], src_lang, tgt_lang, typical, merged)
