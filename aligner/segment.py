"""Sentence segmentation with character offsets back into the source text.

Every line break is a hard boundary (Telegram posts use single newlines between list items and
paragraphs). Inside a line, Russian goes through razdel and Norwegian through pysbd's Danish
rules: on the seed posts these were the only libraries that kept `Н.В. Корчунова`, `млрд.крон`,
numbered list items, `23. desember`, `f.eks.` and `nr. 3` intact (comparison in the README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .language import normalize_lang

_PYSBD_LANGS = {
    "am", "ar", "bg", "da", "de", "el", "en", "es", "fa", "fr", "hi", "hy", "it", "ja", "kk", "mr",
    "my", "nl", "pl", "ru", "sk", "ur", "zh",
}
# Languages pysbd lacks, mapped to the closest rule set it has.
_PYSBD_FALLBACK = {"nb": "da", "nn": "da", "sv": "da"}
_RAZDEL_LANGS = {"ru", "uk", "be"}


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset of the first character in the source text
    end: int  # offset one past the last character


@lru_cache(maxsize=None)
def _pysbd_segmenter(lang: str):
    import pysbd

    return pysbd.Segmenter(language=lang, clean=False)


def _split_line(line: str, lang: str) -> list[str]:
    if lang in _RAZDEL_LANGS:
        import razdel

        return [s.text for s in razdel.sentenize(line)]
    rules = _PYSBD_FALLBACK.get(lang, lang if lang in _PYSBD_LANGS else "en")
    return _pysbd_segmenter(rules).segment(line)


_LINE = re.compile(r"[^\r\n]+")


def split_sentences(text: str, lang: str) -> list[Sentence]:
    """Split `text` into sentences; blank lines and whitespace-only pieces are dropped."""
    lang = normalize_lang(lang)
    sentences: list[Sentence] = []
    for line in _LINE.finditer(text):
        if not line.group().strip():
            continue
        cursor = line.start()
        for piece in _split_line(line.group(), lang):
            piece = piece.strip()
            if not piece:
                continue
            found = text.find(piece, cursor)
            if found < 0:  # the library changed the text; keep its output, offsets approximate
                found = cursor
            sentences.append(Sentence(piece, found, found + len(piece)))
            cursor = found + len(piece)
    return sentences
