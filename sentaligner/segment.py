"""Sentence segmentation with character offsets back into the source text.

Every line break is a hard boundary (Telegram posts use single newlines between list items and
paragraphs). Inside a line, Russian goes through razdel and Norwegian through pysbd's Danish
rules: on the seed posts these were the only libraries that kept `Н.В. Корчунова`, `млрд.крон`,
numbered list items, `23. desember`, `f.eks.` and `nr. 3` intact (comparison in the README).
pysbd's pieces are mended where they part from the sentences of the gold sets
(benchmarks/segmentation.py): sentences inside a quotation are cut as pysbd cuts them outside
one, and a closing mark cut off the end of a sentence goes back to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
    segment = _pysbd_segmenter(rules).segment
    pieces = segment(line) if len(line) <= LONG_LINE else _split_long_line(line, segment)
    return [part for piece in pieces for part in _inside_quotations(piece, segment)]


# pysbd rescans the whole text for every abbreviation it meets, so its time grows with the square
# of a line's length (100k characters: 20 s; 200k: 91 s). A longer line than this goes through it
# in windows of about this size.
LONG_LINE = 2_000
# Where pysbd can end a sentence: after terminal punctuation (and closing quotes or brackets) and
# space; after a Chinese or Japanese full stop, question or exclamation mark, which no space follows.
_AFTER_SENTENCE_END = re.compile(r"[.!?…][\"'»”’)\]]*\s+|[。！？][\"'»”’」』)）\]]*\s*")


def _atoms(line: str) -> Iterator[str]:
    """`line` in pieces that end where a sentence can end; joined, they are `line`."""
    start = 0
    for match in _AFTER_SENTENCE_END.finditer(line):
        yield line[start:match.end()]
        start = match.end()
    if start < len(line):
        yield line[start:]


def _split_long_line(line: str, segment: Callable[[str], list[str]]) -> list[str]:
    """`segment(line)`, about LONG_LINE new characters at a time: each window's last sentence,
    which may go on, starts the next. A stretch longer than LONG_LINE with no sentence end is one
    sentence as it is (pysbd would not split it, only take long to say so); a window in which
    pysbd ends nothing, and a last sentence past LONG_LINE, are cut where they end."""
    sentences: list[str] = []
    window, fresh = "", 0  # fresh: characters added since `segment` last saw the window
    for atom in _atoms(line):
        if len(atom) > LONG_LINE:
            sentences += segment(window) if window.strip() else []
            sentences.append(atom)
            window, fresh = "", 0
            continue
        window += atom
        fresh += len(atom)
        if fresh < LONG_LINE:
            continue
        pieces = segment(window)
        last = window.rfind(pieces[-1].strip()) if pieces else -1
        if len(pieces) > 1 and last > 0 and len(window) - last <= LONG_LINE:
            sentences += pieces[:-1]
            window, fresh = window[last:], 0
        else:
            sentences += pieces
            window, fresh = "", 0
    if window.strip():
        sentences += segment(window)
    return sentences


# Quotation marks of any script; the search's ending term and the segmenter read the same ones.
QUOTATION_MARKS = frozenset("\"'“”„‟«»‹›「」『』‘’‚‛")
_SINGLE_QUOTES = "'‘’‚‛"  # also apostrophes (`don't`)
# Quotation marks, and a single quote that is not inside a word.
_QUOTE_CHARS = re.compile(
    "[" + re.escape("".join(sorted(QUOTATION_MARKS - frozenset(_SINGLE_QUOTES)))) + "]"
    + rf"|(?<![^\W\d_])[{_SINGLE_QUOTES}]|[{_SINGLE_QUOTES}](?![^\W\d_])")
_INNER_END = re.compile(r"[.!?…][\"'“”»’]*\s")


def _inside_quotations(piece: str, segment: Callable[[str], list[str]]) -> list[str]:
    """pysbd ends no sentence inside a quotation (`"I am sure. Go away."` stays whole); the
    piece is cut where pysbd cuts it with its quotation marks read as spaces."""
    if not _QUOTE_CHARS.search(piece) or not _INNER_END.search(piece.strip()):
        return [piece]
    blank = _QUOTE_CHARS.sub(" ", piece)
    parts, cursor = [], 0
    for part in segment(blank) if len(blank) <= LONG_LINE else _split_long_line(blank, segment):
        part = part.strip()
        found = blank.find(part, cursor) if part else -1
        if found < 0:
            return [piece]
        if cursor:  # the cut goes where the part before ends: the marks between close it or open this one
            parts.append(cursor)
        cursor = found + len(part)
    cuts = [0] + parts + [len(piece)]
    return [piece[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if piece[a:b].strip()]


_LINE = re.compile(r"[^\r\n]+")

# Each closing mark, with the marks it closes.
_OPENERS = {"”": "“", "’": "‘", "“": "„", "‘": "‚", "»": "«", "«": "»", "」": "「", "』": "『", ")": "(",
            "）": "（", "]": "[", "】": "【", "》": "《", '"': '"', "'": "'"}
_MARKS = frozenset(_OPENERS) | frozenset(_OPENERS.values())
_APOSTROPHES = frozenset("'’")
_STOPS = frozenset(".!?…。！？")
_CONTINUATION = tuple(",，、;；:：")
_CONTENT = re.compile(r"[^\W_]")


def carries_content(text: str) -> bool:
    """Whether a unit holds a letter or a digit. One without (an empty line, punctuation, OCR
    debris, emoji alone) has nothing to translate: it is not embedded and is skipped for free."""
    return bool(_CONTENT.search(text))


def _inside_word(text: str, k: int) -> bool:
    """Whether text[k] stands between two letters (an apostrophe: `don't`)."""
    return 0 < k < len(text) - 1 and text[k - 1].isalpha() and text[k + 1].isalpha()


def _goes_on(rest: str) -> bool:
    rest = rest.lstrip()
    return rest.startswith(_CONTINUATION) or rest[:1].islower()


class _MarkCounts:
    """How often each quotation mark and bracket stands in a text, kept as the text grows."""

    def __init__(self, text: str = ""):
        self.counts: dict[str, int] = {}
        self.add(text)

    def add(self, text: str) -> None:
        for k, ch in enumerate(text):
            if ch in _MARKS and not (ch in _APOSTROPHES and _inside_word(text, k)):
                self.counts[ch] = self.counts.get(ch, 0) + 1

    def copy(self) -> _MarkCounts:
        twin = _MarkCounts()
        twin.counts = dict(self.counts)
        return twin

    def left_open(self, mark: str) -> bool:
        opener = _OPENERS[mark]
        if opener == mark:
            return self.counts.get(mark, 0) % 2 == 1
        return self.counts.get(opener, 0) > self.counts.get(mark, 0)


def _closing_run(before: _MarkCounts, text: str) -> int:
    """How many of `text`'s first characters end the sentence before it: the marks that close
    what `before` left open, and the stops, ellipses and spaces among them."""
    k = 0
    while k < len(text):
        ch = text[k]
        if not (ch.isspace() or ch in _STOPS or (ch in _OPENERS and before.left_open(ch))):
            break
        before.add(ch)
        k += 1
    return k


def _closers_back(text: str, sentences: list[Sentence]) -> list[Sentence]:
    """One line's sentences with what a library cut off the end of one given back to it (pysbd
    splits Chinese before the quotation mark that closes a sentence, `“这是对的。` + `”他说。`:
    its issue 99): a piece without a letter or digit, and the closing marks, stops and ellipsis a
    piece starts with where they close what the line so far left open (a straight quotation mark:
    what the sentence before left open), and the rest too where it goes on with a comma or a
    small letter (`„Darf ich mitspielen?` + `“, fragte sie.`; `"Come here!` + `" he said.`)."""
    out: list[Sentence] = []
    line_so_far = _MarkCounts()
    for sentence in sentences:
        previous = out[-1] if out else None
        if previous is None or not (text[previous.start:previous.end] == previous.text
                                    and text[sentence.start:sentence.end] == sentence.text
                                    and previous.end <= sentence.start):
            out.append(sentence)  # the first, or offsets approximate where the library changed the text
            line_so_far.add(sentence.text)
            continue
        first, head = sentence.text[0], 0
        if not carries_content(sentence.text):
            head = len(sentence.text)
        elif first in _OPENERS:
            before = _MarkCounts(previous.text) if _OPENERS[first] == first else line_so_far.copy()
            if before.left_open(first):
                head = _closing_run(before, sentence.text)
                if _goes_on(sentence.text[head:]):
                    head = len(sentence.text)
        line_so_far.add(sentence.text)
        if not head:
            out.append(sentence)
            continue
        end = sentence.start + len(sentence.text[:head].rstrip())
        out[-1] = Sentence(text[previous.start:end], previous.start, end)
        rest = sentence.text[head:]
        if rest.strip():
            start = sentence.start + head + (len(rest) - len(rest.lstrip()))
            out.append(Sentence(rest.strip(), start, start + len(rest.strip())))
    return out


def split_sentences(text: str, lang: str) -> list[Sentence]:
    """Split `text` into sentences; blank lines and whitespace-only pieces are dropped."""
    lang = normalize_lang(lang)
    sentences: list[Sentence] = []
    for line in _LINE.finditer(text):
        if not line.group().strip():
            continue
        cursor = line.start()
        pieces = []
        for piece in _split_line(line.group(), lang):
            piece = piece.strip()
            if not piece:
                continue
            found = text.find(piece, cursor)
            if found < 0:  # the library changed the text; keep its output, offsets approximate
                found = cursor
            pieces.append(Sentence(piece, found, found + len(piece)))
            cursor = found + len(piece)
        sentences += _closers_back(text, pieces)
    return sentences
