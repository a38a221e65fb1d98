"""Cut one gold document into parts, each a gold set of its own, for choosing a setting leaving one
part out where only one document has what the setting reads (`steinbeck-hu-en` is the only gold
text with paragraph numbers). Cuts fall between gold links where both sides start a paragraph,
nearest to equal shares of the source; ids are renumbered and the paragraph files cut alike.

    python benchmarks/split_parts.py ../shared/data/steinbeck-hu-en --parts 5 --out /tmp/steinbeck-parts
    python benchmarks/gold.py --data /tmp/steinbeck-parts --choose boundary_weight=0,0.5,1,2,4

The parts are written outside the project (never copy the gold data into it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gold import find_documents, read_lines  # noqa: E402

from sentaligner.evaluate import format_link, read_alignment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", type=Path, help="a gold set folder with one document and its .paragraphs files")
    parser.add_argument("--parts", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    documents = find_documents(args.set.parent, [args.set.name])[args.set.name]
    if len(documents) != 1:
        sys.exit(f"{args.set}: expected one document, found {len(documents)}")
    document = documents[0]
    boundaries = document.boundaries()
    if boundaries is None:
        sys.exit(f"{args.set}: no NAME.<lang>.paragraphs beside both sides")
    src_lang, tgt_lang = document.src_lang, document.tgt_lang
    sides = {}
    paths = (document.src_path, document.tgt_path)
    for lang, path, before in zip((src_lang, tgt_lang), paths, boundaries, strict=True):
        numbers = path.with_name(path.name + ".paragraphs").read_text(encoding="utf-8").split()
        starts = {0} | {i for i, boundary in enumerate(before) if boundary}
        sides[lang] = (read_lines(path), numbers, starts)
    gold_path = document.gold_path
    gold = read_alignment(gold_path)
    # where a cut may fall: before gold link k, if both sides' next sentences start a paragraph
    next_src, next_tgt, cuts = 0, 0, []
    for k, (src, tgt) in enumerate(gold):
        if k and next_src in sides[src_lang][2] and next_tgt in sides[tgt_lang][2]:
            cuts.append((k, next_src, next_tgt))
        next_src += len(src)
        next_tgt += len(tgt)
    total = len(sides[src_lang][0])
    chosen = []
    for part in range(1, args.parts):
        chosen.append(min(cuts, key=lambda cut: abs(cut[1] - total * part / args.parts)))
    bounds = [(0, 0, 0), *sorted(set(chosen)), (len(gold), total, len(sides[tgt_lang][0]))]
    for number, ((k0, s0, t0), (k1, s1, t1)) in enumerate(zip(bounds, bounds[1:], strict=False), start=1):
        folder = args.out / f"{args.set.name}-part{number}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{gold_path.stem}-part{number}"
        for lang, start, end in ((src_lang, s0, s1), (tgt_lang, t0, t1)):
            lines, numbers, _ = sides[lang]
            (folder / f"{name}.{lang}").write_text("".join(line + "\n" for line in lines[start:end]), encoding="utf-8")
            (folder / f"{name}.{lang}.paragraphs").write_text("".join(n + "\n" for n in numbers[start:end]),
                                                              encoding="utf-8")
        links = [format_link(tuple(i - s0 for i in src), tuple(j - t0 for j in tgt)) for src, tgt in gold[k0:k1]]
        (folder / f"{name}.{src_lang}{tgt_lang}").write_text("".join(link + "\n" for link in links), encoding="utf-8")
        print(f"{folder.name}: {s1 - s0} + {t1 - t0} sentences, {k1 - k0} gold links")


if __name__ == "__main__":
    main()
