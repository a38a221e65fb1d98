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
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from gold import find_documents
from textberg import read_lines

from sentaligner.segment import split_sentences

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the folder holding the gold sets")
    parser.add_argument("--sets", help="comma-separated set folders (default: all)")
    parser.add_argument("--show", type=int, default=0, help="print up to this many missed and extra ends per side")
    args = parser.parse_args()
    print(f"{'set':20} {'side':4} {'sentences':>9} {'found':>7} {'P':>7} {'R':>7} {'F1':>7} {'close-start':>11}")
    for set_name, documents in find_documents(args.data, args.sets.split(",") if args.sets else None).items():
        for side in ("src", "tgt"):
            gold_ends = found_ends = hits = opened = sentences = found = 0
            shown: list[str] = []
            for document in documents:
                lang = document.src_lang if side == "src" else document.tgt_lang
                path = document.src_path if side == "src" else document.tgt_path
                boundaries = document.boundaries()
                starts = (boundaries[0] if side == "src" else boundaries[1]) if boundaries else None
                lines = read_lines(path)
                text, gold, paragraph_ends = running_text(lines, starts, lang)
                cut = split_sentences(text, lang)
                ends = {s.end for s in cut} - paragraph_ends
                sentences += len(lines)
                found += len(cut)
                gold_ends += len(gold)
                found_ends += len(ends)
                hits += len(gold & ends)
                opened += sum(s.text[0] in CLOSE_ONLY for s in cut)
                for kind, offsets in (("missed", gold - ends), ("extra", ends - gold)):
                    for offset in sorted(offsets):
                        if len(shown) < 2 * args.show:
                            shown.append(f"    {kind:6} {document.name}: {text[max(0, offset - 40):offset]}|"
                                         f"{text[offset:offset + 40]}".replace("\n", " / "))
            p = hits / found_ends if found_ends else 0.0
            r = hits / gold_ends if gold_ends else 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            lang = documents[0].src_lang if side == "src" else documents[0].tgt_lang
            print(f"{set_name:20} {lang:4} {sentences:9} {found:7} {p:7.4f} {r:7.4f} {f1:7.4f} {opened:11}")
            for line in shown:
                print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
