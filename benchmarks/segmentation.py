"""How sentaligner's segmenter cuts running text, against the sentence ends of the gold sets.

    python benchmarks/segmentation.py --data ../shared/data [--sets mac-dev-zh-en,...] [--show N]

Each side of every gold document is joined back into running text: a paragraph a line where the
set gives paragraphs (NAME.<lang>.paragraphs), otherwise a paragraph ending at each line that
does not end like a sentence (a heading);
Chinese and Japanese sentences joined without a space, the others with one. The text goes through
`segment.split_sentences`, and the ends of its sentences are compared with the ends of the gold
file's lines: precision, recall and F1 of the ends inside a paragraph (a paragraph's last end is
given), and how many sentences start with a mark that only closes (`”他说。`). The gold
files come from each corpus's own segmenter, so the figures measure agreement with it; read the
misses (--show) before calling one side's rules wrong.

With --align the two running texts of each document are also aligned as a user's raw files would
be, and the links scored against the gold (evaluate.score, strict): a link whose two spans each
start and end where gold lines do is read as those lines' link; any other is wrong. --cache as
for gold.py.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gold import find_documents
from textberg import read_lines

from sentaligner.dp import AlignParams
from sentaligner.embed import DiskCache, EmbeddingStore, load_encoder
from sentaligner.evaluate import read_alignment, score
from sentaligner.pipeline import Units, align_units
from sentaligner.segment import Sentence, split_sentences

UNSPACED = {"zh", "ja"}
# Marks that only close (`"`, `“` and `»` open too, in some language or other).
CLOSE_ONLY = frozenset("”’」』）)]】》")


# A line that does not end like a sentence (a heading, a title, a list item without a stop) stood
# on its own in the document.
_SENTENCE_END = re.compile(r"[.!?…。！？:;；：][\s\"'»”’」』)）\]]*$")


def running_text(lines: list[str], starts: list[int] | None, lang: str) -> tuple[str, set[int], set[int]]:
    """The lines joined into paragraphs; the offsets where gold sentences end inside a paragraph,
    and those where a paragraph ends."""
    joiner = "" if lang in UNSPACED else " "
    text, inside, paragraph_ends = "", set(), set()
    for k, line in enumerate(lines):
        line = line.strip()
        if k and (starts[k] if starts else not _SENTENCE_END.search(lines[k - 1].strip())):
            paragraph_ends.add(len(text))
            text += "\n"
        elif k:
            inside.add(len(text))
            text += joiner
        text += line
    paragraph_ends.add(len(text))
    return text, inside - paragraph_ends, paragraph_ends


@dataclass
class Side:
    """One side of a gold document as running text, and how the segmenter cut it."""
    lang: str
    lines: list[str]
    text: str
    gold_ends: set[int]  # where gold sentences end inside a paragraph
    paragraph_ends: set[int]
    cut: list[Sentence]

    @classmethod
    def of(cls, path: Path, lang: str, starts: list[int] | None) -> Side:
        lines = read_lines(path)
        text, gold_ends, paragraph_ends = running_text(lines, starts, lang)
        return cls(lang, lines, text, gold_ends, paragraph_ends, split_sentences(text, lang))

    def as_gold_lines(self) -> Callable[[tuple[int, ...]], tuple[int, ...] | None]:
        """A map from ids of the cut's units to the gold lines they cover, where they start and
        end with whole lines (None otherwise)."""
        starts, ends, cursor = {}, {}, 0
        for k, line in enumerate(self.lines):
            start = self.text.index(line.strip(), cursor)
            cursor = start + len(line.strip())
            starts[start], ends[cursor] = k, k

        def lines_of(ids: tuple[int, ...]) -> tuple[int, ...] | None:
            if not ids:
                return ()
            first, last = starts.get(self.cut[ids[0]].start), ends.get(self.cut[ids[-1]].end)
            return None if first is None or last is None else tuple(range(first, last + 1))
        return lines_of


def document_sides(document) -> tuple[Side, Side]:
    boundaries = document.boundaries()
    return (Side.of(document.src_path, document.src_lang, boundaries[0] if boundaries else None),
            Side.of(document.tgt_path, document.tgt_lang, boundaries[1] if boundaries else None))


def aligned(document, sides: tuple[Side, Side], encoder, store: EmbeddingStore) -> list:
    """The document's running texts aligned as cut; links put back on gold line ids (((-1,), (-1,)):
    not whole lines)."""
    units = [Units([s.text for s in side.cut], list(range(len(side.cut)))) for side in sides]
    result = align_units(*units, encoder, document.src_lang, document.tgt_lang, AlignParams(), store)
    src_lines, tgt_lines = sides[0].as_gold_lines(), sides[1].as_gold_lines()
    links = []
    for link in result.links:
        src, tgt = src_lines(tuple(link["src_ids"])), tgt_lines(tuple(link["tgt_ids"]))
        links.append(((-1,), (-1,)) if src is None or tgt is None else (src, tgt))
    return links


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the folder holding the gold sets")
    parser.add_argument("--sets", help="comma-separated set folders (default: all)")
    parser.add_argument("--show", type=int, default=0, help="print up to this many missed and extra ends per side")
    parser.add_argument("--align", action="store_true", help="also align the running texts and score the links")
    parser.add_argument("--cache", type=Path, help="keep vectors in (and read them from) this disk cache")
    args = parser.parse_args()
    encoder = load_encoder("e5-small") if args.align else None
    cache = DiskCache(args.cache, encoder.signature) if args.align and args.cache else None
    print(f"{'set':20} {'side':4} {'sentences':>9} {'found':>7} {'P':>7} {'R':>7} {'F1':>7} {'close-start':>11}")
    aligned_sets = []
    for set_name, documents in find_documents(args.data, args.sets.split(",") if args.sets else None).items():
        sides = {document.name: document_sides(document) for document in documents}
        for k in (0, 1):
            gold_ends = found_ends = hits = opened = sentences = found = 0
            shown: list[str] = []
            for document in documents:
                side = sides[document.name][k]
                ends = {s.end for s in side.cut} - side.paragraph_ends
                sentences += len(side.lines)
                found += len(side.cut)
                gold_ends += len(side.gold_ends)
                found_ends += len(ends)
                hits += len(side.gold_ends & ends)
                opened += sum(s.text[0] in CLOSE_ONLY for s in side.cut)
                for kind, offsets in (("missed", side.gold_ends - ends), ("extra", ends - side.gold_ends)):
                    for offset in sorted(offsets):
                        if len(shown) < 2 * args.show:
                            shown.append(f"    {kind:6} {document.name}: {side.text[max(0, offset - 40):offset]}|"
                                         f"{side.text[offset:offset + 40]}".replace("\n", " / "))
            p = hits / found_ends if found_ends else 0.0
            r = hits / gold_ends if gold_ends else 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            lang = sides[documents[0].name][k].lang
            print(f"{set_name:20} {lang:4} {sentences:9} {found:7} {p:7.4f} {r:7.4f} {f1:7.4f} {opened:11}")
            for line in shown:
                print(line)
        if encoder is not None:
            store = EmbeddingStore(encoder, cache=cache)
            golds = [read_alignment(document.gold_path) for document in documents]
            tests = [aligned(document, sides[document.name], encoder, store) for document in documents]
            aligned_sets.append((set_name, score(golds, tests), sum(len(t) for t in tests),
                                 sum(link == ((-1,), (-1,)) for t in tests for link in t)))
    if aligned_sets:
        print(f"\n{'set, aligned from running text':32} {'links':>6} {'not whole lines':>15} {'strict P':>8} {'R':>7} "
              f"{'F1':>7}")
        for set_name, scores, links, broken in aligned_sets:
            print(f"{set_name:32} {links:6} {broken:15} {scores.precision_strict:8.4f} {scores.recall_strict:7.4f} "
                  f"{scores.f1_strict:7.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
