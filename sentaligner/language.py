"""Language codes (what users type, what outputs carry) and language identification."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
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
IDENTIFY_CHUNK = 500  # lines per call into lingua, which does not return to Python (or see Ctrl-C) until done
_detector = None


def _lingua():
    """lingua in its low-accuracy mode (trigram models only): loading the full models takes 1.6 s
    on every run; on the seed channel and its synthetic copies it routes every post the same, and
    keeps 97% of the English lines of a novel as English (the full models: 98%)."""
    global _detector
    if _detector is None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in DETECTABLE]
        _detector = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
    return _detector


def letter_count(text: str) -> int:
    return sum(map(str.isalpha, text))


@dataclass
class LanguageGuess:
    lang: str  # routing language: ru, nb, en, sv, uk, or "und" when there is too little text
    confidence: float  # share of the letters, weighted by the identifier's confidence
    scores: dict[str, float]


def identify_lines(lines: list[str], advance: Callable[[int], None] | None = None) -> list[dict[str, float]]:
    """Per line (or any text), the identifier's confidence for each detectable language (empty for
    no letters); `advance(n)` is called as lines are done."""
    detector = _lingua()
    wanted = [i for i, line in enumerate(lines) if letter_count(line)]
    out: list[dict[str, float]] = [{} for _ in lines]
    for start in range(0, len(wanted), IDENTIFY_CHUNK):
        chunk = wanted[start:start + IDENTIFY_CHUNK]
        found = detector.compute_language_confidence_values_in_parallel([lines[i] for i in chunk])
        for i, values in zip(chunk, found, strict=True):
            out[i] = {v.language.iso_code_639_1.name.lower(): v.value for v in values}
        if advance:
            advance(len(chunk))
    if advance:
        advance(len(lines) - len(wanted))
    return out


def _add(totals: dict[str, float], code: str, value: float) -> None:
    totals[code] = value + totals.get(code, 0.0)


def _routed(scores: dict[str, float], weight: float = 1.0) -> dict[str, float]:
    merged: dict[str, float] = {}
    for code, value in scores.items():
        _add(merged, _ROUTE.get(code, code), weight * value)
    return merged


def route(scores: dict[str, float], among: AbstractSet[str] | None = None) -> str:
    """The routing language of a line; with `among`, the likeliest of those languages."""
    merged = _routed(scores)
    if among is not None:
        merged = {code: value for code, value in merged.items() if code in among}
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


OPENING_CHARS = 1000  # a post in one script is identified by its opening, as a whole
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def _one_script(text: str, min_share: float) -> bool:
    """Under `min_share` of the letters Cyrillic, or of the others: such a post cannot hold
    Russian and Norwegian both, so it needs no identification line by line."""
    letters = letter_count(text)
    cyrillic = len(_CYRILLIC.findall(text))
    return min(cyrillic, letters - cyrillic) < min_share * letters


def classify_posts(texts: list[str], pair=("ru", "nb"), min_share: float = 0.2,
                   min_line_letters: int = 8, advance: Callable[[int], None] | None = None) -> list[PostLanguage]:
    """The language of each post. A post in one script is identified by its opening
    (OPENING_CHARS); a post in Cyrillic and Latin both line by line, each line weighted by its
    letters, and if its lines are partly Russian and partly Norwegian (each at least `min_share`
    of its letters) it is split into the two parts, each line going to the likeliest of the
    languages that hold `min_share` of the post. `advance(n)` follows the posts done."""
    one_script = [_one_script(text, min_share / 2) for text in texts]
    whole = [i for i, one in enumerate(one_script) if one]
    mixed = [i for i, one in enumerate(one_script) if not one]
    out: list[PostLanguage] = [PostLanguage("und", 0.0, {}) for _ in texts]
    openings = [texts[i][:OPENING_CHARS] for i in whole]
    for i, opening, opening_scores in zip(whole, openings, identify_lines(openings, advance), strict=True):
        guess = combine([opening], [opening_scores])
        out[i] = PostLanguage(guess.lang, guess.confidence, {})
    lines_of = [texts[i].split("\n") for i in mixed]
    flat_scores = identify_lines([line for lines in lines_of for line in lines])
    offset = 0
    for i, lines in zip(mixed, lines_of, strict=True):
        scores = flat_scores[offset:offset + len(lines)]
        offset += len(lines)
        out[i] = _split_languages(lines, scores, pair, min_share, min_line_letters)
        if advance:
            advance(1)
    return out


def _split_languages(lines: list[str], scores: list[dict[str, float]], pair: tuple[str, str], min_share: float,
                     min_line_letters: int) -> PostLanguage:
    guess = combine(lines, scores)
    shares = guess.scores
    if all(shares.get(code, 0.0) >= min_share for code in pair):
        post_languages = {code for code, share in shares.items() if share >= min_share}
        labels: list[str | None] = [route(s, post_languages) if letter_count(line) >= min_line_letters else None
                                    for line, s in zip(lines, scores, strict=True)]
        labels = _fill_labels(labels)
        parts = {code: "\n".join(line for line, label in zip(lines, labels, strict=True) if label == code).strip()
                 for code in pair}
        if all(letter_count(part) >= 15 for part in parts.values()):
            return PostLanguage("+".join(pair), guess.confidence, parts)
    return PostLanguage(guess.lang, guess.confidence, {})


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


# ---- Is an input in the language the user named? ----

# Where a text's letters are mostly not in its language's script, it is another language or was
# read in the wrong encoding (cp1251 read as latin-1 gives `Ïðèâåò`).
_SCRIPT_OF = {
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "kk", "ky", "mn", "tg"), "CYRILLIC"),
    **dict.fromkeys(("en", "de", "fr", "es", "it", "pt", "nl", "nb", "nn", "da", "sv", "fi", "is", "pl", "cs",
                     "sk", "sl", "hr", "bs", "ro", "hu", "et", "lv", "lt", "tr", "ca", "eu", "gl", "ga", "cy",
                     "sq", "mt", "id", "ms", "vi", "af", "sw", "az", "eo", "la"), "LATIN"),
    "el": "GREEK", "ar": "ARABIC", "fa": "ARABIC", "ur": "ARABIC", "he": "HEBREW", "hy": "ARMENIAN",
    "ka": "GEORGIAN", "hi": "DEVANAGARI", "mr": "DEVANAGARI", "th": "THAI",
}
# Languages an input is told apart from: the channel's, and the commonest others.
CHECKED_AGAINST = (*DETECTABLE, "de", "fr", "es", "it", "pt", "nl", "pl", "fi", "is", "ro", "cs", "tr", "et")
# Close enough that lingua confuses them on plain text; any counts as the other.
_KIN = ({"nb", "nn", "da"}, {"bs", "hr", "sr"}, {"id", "ms"})
CHECK_CHARS = 3000  # the opening of a text that is checked
MIN_CHECK_LETTERS = 50  # fewer letters than this are not checked
_checkers: dict[frozenset[str], object] = {}


def _script(char: str) -> str:
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


def script_mismatch(text: str, lang: str) -> str | None:
    """Why the letters of `text` cannot be `lang` (most are not in its script), or None."""
    expected = _SCRIPT_OF.get(lang)
    letters = [char for char in text if char.isalpha()]
    if expected is None or len(letters) < MIN_CHECK_LETTERS:
        return None
    scripts = Counter(map(_script, letters))
    if scripts[expected] >= 0.5 * len(letters):
        return None
    found, count = scripts.most_common(1)[0]
    return (f"{count / len(letters):.0%} of its letters are {found.title()}, "
            f"where {lang} is written in {expected.title()}")


def _kin(lang: str) -> set[str]:
    return next((group for group in _KIN if lang in group), {lang})


def detected_language(text: str, expected: str) -> str | None:
    """The language lingua finds in `text`, told apart from `expected` and CHECKED_AGAINST;
    None where there are too few letters, lingua does not know `expected`, or it is unsure."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    if letter_count(text) < MIN_CHECK_LETTERS or not hasattr(IsoCode639_1, expected.upper()):
        return None
    codes = frozenset((*CHECKED_AGAINST, expected))
    if codes not in _checkers:
        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]
        _checkers[codes] = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
    values = _checkers[codes].compute_language_confidence_values(text)  # type: ignore[attr-defined]
    confidence = {value.language.iso_code_639_1.name.lower(): value.value for value in values}
    kin = _kin(expected)
    if sum(confidence.get(code, 0.0) for code in kin) >= 0.1:
        return expected
    best = max(confidence, key=confidence.__getitem__)
    return best if confidence[best] >= 0.5 else None


# lingua's names are ASCII; these two are spelled otherwise.
_SPELLED = {"BOKMAL": "Bokmål", "MAORI": "Māori"}


def language_name(code: str) -> str:
    """`nb` -> `Bokmål`, from lingua's name; the code itself where lingua does not know it."""
    from lingua import IsoCode639_1, Language

    if not hasattr(IsoCode639_1, code.upper()):
        return code
    name = Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())).name
    return _SPELLED.get(name, name.title())


def language_mismatch(text: str, lang: str) -> str | None:
    """Why the opening of `text` does not look like `lang`, or None (also when it cannot tell)."""
    opening = text[:CHECK_CHARS]
    reason = script_mismatch(opening, lang)
    if reason:
        return reason
    found = detected_language(opening, lang)
    if found is not None and found != lang:
        return f"it looks like {language_name(found)} ({found}), not {language_name(lang)} ({lang})"
    return None
