"""Language codes (what users type, what outputs carry) and language identification."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Norwegian is `nb` (Bokmål) in outputs; `no` is accepted on input and never written.
_ALIASES = {"no": "nb", "nor": "nb", "nob": "nb", "nno": "nn", "rus": "ru"}


def normalize_lang(code: str) -> str:
    """Lower-case ISO 639-1 code with aliases resolved: `NO` -> `nb`, `ru-RU` -> `ru`."""
    base = code.strip().lower().replace("_", "-").split("-")[0]
    if not base.isalpha() or not 2 <= len(base) <= 3:
        raise ValueError(f"not a language code: {code!r}")
    return _ALIASES.get(base, base)


# Full locales for TMX: Trados and memoQ match the whole code and skip units that differ.
_LOCALES = {"ru": "ru-RU", "nb": "nb-NO", "nn": "nn-NO", "uk": "uk-UA", "be": "be-BY", "en": "en-US",
            "de": "de-DE", "fr": "fr-FR", "sv": "sv-SE", "da": "da-DK", "fi": "fi-FI"}


def normalize_locale(code: str) -> str:
    """A TMX language code: `nb-no` -> `nb-NO`, `no-NO` -> `nb-NO`, `ru` -> `ru-RU`."""
    parts = code.strip().replace("_", "-").split("-")
    base = normalize_lang(parts[0])
    if len(parts) == 1:
        return _LOCALES.get(base, base)
    rest = []
    for part in parts[1:]:
        if not part.isalnum() or not 2 <= len(part) <= 8:
            raise ValueError(f"not a locale: {code!r}")
        rest.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part)
    return "-".join([base, *rest])


# ---- Language identification (lingua), restricted to the languages this channel holds ----

DETECTABLE = ("ru", "nb", "nn", "en", "da", "sv", "uk")
# Norwegian text is often taken for Danish or Nynorsk line by line; for routing they count as `nb`.
_ROUTE = {"nn": "nb", "da": "nb"}
_LETTER = re.compile(r"[^\W\d_]")
_detector = None


def _lingua():
    global _detector
    if _detector is None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in DETECTABLE]
        _detector = LanguageDetectorBuilder.from_languages(*languages).build()
    return _detector


def letter_count(text: str) -> int:
    return len(_LETTER.findall(text))


@dataclass
class LanguageGuess:
    lang: str  # routing language: ru, nb, en, sv, uk, or "und" when there is too little text
    confidence: float  # share of the letters, weighted by the identifier's confidence
    scores: dict[str, float]


def identify_lines(lines: list[str]) -> list[dict[str, float]]:
    """Per line, the identifier's confidence for each detectable language (empty for no letters)."""
    detector = _lingua()
    wanted = [i for i, line in enumerate(lines) if letter_count(line)]
    found = detector.compute_language_confidence_values_in_parallel([lines[i] for i in wanted])
    out: list[dict[str, float]] = [{} for _ in lines]
    for i, values in zip(wanted, found, strict=True):
        out[i] = {v.language.iso_code_639_1.name.lower(): v.value for v in values}
    return out


def _add(totals: dict[str, float], code: str, value: float) -> None:
    totals[code] = value + totals.get(code, 0.0)


def _routed(scores: dict[str, float], weight: float = 1.0) -> dict[str, float]:
    merged: dict[str, float] = {}
    for code, value in scores.items():
        _add(merged, _ROUTE.get(code, code), weight * value)
    return merged


def route(scores: dict[str, float]) -> str:
    merged = _routed(scores)
    return max(merged, key=merged.__getitem__) if merged else "und"


def combine(lines: list[str], line_scores: list[dict[str, float]]) -> LanguageGuess:
    """A text's language from its lines' scores, each weighted by its number of letters."""
    totals: dict[str, float] = {}
    for line, scores in zip(lines, line_scores, strict=True):
        for code, value in _routed(scores, letter_count(line)).items():
            _add(totals, code, value)
    mass = sum(totals.values())
    if mass < 3:
        return LanguageGuess("und", 0.0, {})
    lang = max(totals, key=totals.__getitem__)
    return LanguageGuess(lang, totals[lang] / mass, {k: round(v / mass, 3) for k, v in totals.items()})


@dataclass
class PostLanguage:
    lang: str  # ru, nb, en, ... or "und"; "ru+nb" for a post holding both
    confidence: float
    parts: dict[str, str]  # for a bilingual post, its Russian and its Norwegian text


def classify_posts(texts: list[str], pair=("ru", "nb"), min_share: float = 0.2,
                   min_line_letters: int = 8) -> list[PostLanguage]:
    """The language of each post from its lines; a post whose lines are partly Russian and partly
    Norwegian (each at least `min_share` of its letters) is split into the two parts."""
    lines_of = [text.split("\n") for text in texts]
    flat = [line for lines in lines_of for line in lines]
    flat_scores = identify_lines(flat)
    out, offset = [], 0
    for lines in lines_of:
        scores = flat_scores[offset:offset + len(lines)]
        offset += len(lines)
        guess = combine(lines, scores)
        shares = guess.scores
        if all(shares.get(code, 0.0) >= min_share for code in pair):
            labels: list[str | None] = [route(s) if letter_count(line) >= min_line_letters else None
                                        for line, s in zip(lines, scores, strict=True)]
            labels = _fill_labels(labels)
            parts = {code: "\n".join(line for line, label in zip(lines, labels, strict=True) if label == code).strip()
                     for code in pair}
            if all(letter_count(part) >= 15 for part in parts.values()):
                out.append(PostLanguage("+".join(pair), guess.confidence, parts))
                continue
        out.append(PostLanguage(guess.lang, guess.confidence, {}))
    return out


def _fill_labels(labels: list[str | None]) -> list[str | None]:
    """Short and empty lines belong with the line before them (or after, at the start)."""
    filled = list(labels)
    last = next((label for label in labels if label), None)
    for i, label in enumerate(filled):
        if label is None:
            filled[i] = last
        else:
            last = label
    return filled
