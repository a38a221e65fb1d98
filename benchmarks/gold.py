"""Every gold set under --data, each document aligned on its own: strict and lax P/R/F1 per set and
their mean over sets (so a long novel does not outweigh the rest), strings embedded per sentence
and seconds, for sentaligner and, in the same run with the same encoder, for Bertalign's algorithm
(--bertalign-python, see textberg.py) and Vecalign's (--sentalign; documents over
--sentalign-max-sentences are left out of its figures).

    python benchmarks/gold.py --data ../shared/data [--bertalign-python PY] [--sentalign]
        [--sets textberg-dev,parice-en-is] [--choose PARAM=V1,V2,...] [--cache DIR] [--errors]
        [--no-paragraphs] [--json OUT]

--choose is the tuning protocol: sentaligner runs with each value of the AlignParams setting; for each
set, the value with the best mean strict F1 on the *other* sets is chosen, and sentaligner's figure for
that set is the one it then gets (the left-out figure). A value that only fits one set cannot win
there.

A set is a folder of NAME.<src>, NAME.<tgt> and the gold NAME.<src><tgt> (Vecalign format; the
language codes are the file suffixes); NAME.<lang>.paragraphs beside both sides (a paragraph number
a line, as steinbeck-hu-en has) give the search the paragraph boundaries. With --cache, vectors
are kept in (and read from) a disk cache, so a rerun embeds nothing: its embedding seconds then
measure the cache, not the encoder (the table marks them). --errors adds each system's wrong
links by kind (`sentaligner eval --errors`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from textberg import (
    check_bertalign_python,
    print_signature,
    read_lines,
    run_aligner,
    run_bertalign,
    run_sentalign,
)

from sentaligner.dp import AlignParams
from sentaligner.embed import DiskCache, EmbeddingStore, load_encoder
from sentaligner.evaluate import ERROR_CLASSES, link_errors, read_alignment, score


@dataclass
class Document:
    set_name: str
    name: str
    src_lang: str
    tgt_lang: str
    src_path: Path
    tgt_path: Path
    gold_path: Path

    def boundaries(self) -> tuple[list[int], list[int]] | None:
        """From NAME.<lang>.paragraphs beside both sides (a paragraph number a line): 1 before each
        line that starts a paragraph; None where a side has none."""
        sides = []
        for path in (self.src_path, self.tgt_path):
            numbers_path = path.with_name(path.name + ".paragraphs")
            if not numbers_path.is_file():
                return None
            numbers = numbers_path.read_text(encoding="utf-8").split()
            sides.append([0] + [int(a != b) for a, b in zip(numbers, numbers[1:], strict=False)])
        return sides[0], sides[1]

    @property
    def sentences(self) -> int:
        return len(read_lines(self.src_path)) + len(read_lines(self.tgt_path))


def find_documents(data: Path, sets: list[str] | None) -> dict[str, list[Document]]:
    """Each set folder's documents: NAME.<src><tgt> with NAME.<src> and NAME.<tgt> beside it."""
    found: dict[str, list[Document]] = {}
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        if sets and folder.name not in sets:
            continue
        for gold in sorted(folder.iterdir()):
            suffix = gold.suffix.lstrip(".")
            if len(suffix) != 4:
                continue
            src_lang, tgt_lang = suffix[:2], suffix[2:]
            src, tgt = gold.with_suffix(f".{src_lang}"), gold.with_suffix(f".{tgt_lang}")
            if src.is_file() and tgt.is_file():
                found.setdefault(folder.name, []).append(
                    Document(folder.name, gold.stem, src_lang, tgt_lang, src, tgt, gold))
    missing = set(sets or []) - set(found)
    if missing:
        sys.exit(f"no gold set named {', '.join(sorted(missing))} under {data}")
    return found


def run_system(name: str, document: Document, encoder, max_merge: int, store: EmbeddingStore,
               bertalign_python: str | None, params: dict, paragraphs: bool = True) -> tuple[list, dict]:
    src, tgt = read_lines(document.src_path), read_lines(document.tgt_path)
    if name == "sentaligner":
        return run_aligner(src, tgt, encoder, max_merge, (document.src_lang, document.tgt_lang), store,
                           document.boundaries() if paragraphs else None, **params)
    if name == "bertalign":
        assert bertalign_python
        return run_bertalign(document.src_path, document.tgt_path, bertalign_python, src, tgt, encoder, max_merge,
                             store)
    return run_sentalign(src, tgt, encoder, max_merge, store)


def set_figures(system: str, documents: list[Document], encoder, cache: DiskCache | None, max_merge: int,
                bertalign_python: str | None, params: dict, paragraphs: bool = True) -> dict:
    """One system on every document of a set: the set's scores, wrong links by kind, strings per
    sentence and seconds."""
    golds, tests, totals = [], [], Counter()
    for document in documents:
        store = EmbeddingStore(encoder, cache=cache)
        links, stats = run_system(system, document, encoder, max_merge, store, bertalign_python, params, paragraphs)
        golds.append(read_alignment(document.gold_path))
        tests.append(links)
        totals.update(strings=stats["strings_embedded"] + stats.get("cache_hits", 0),
                      sentences=document.sentences, embed=stats["embed_seconds"],
                      align=stats["align_seconds"], cached=stats.get("cache_hits", 0))
    scores = score(golds, tests)
    errors = Counter(e.kind for g, t in zip(golds, tests, strict=True) for e in link_errors(g, t))
    return {"documents": len(documents), "sentences": totals["sentences"],
            **{k: round(v, 4) for k, v in scores.as_dict().items() if isinstance(v, float)},
            "strings_per_sentence": round(totals["strings"] / totals["sentences"], 3),
            "embed_seconds": round(totals["embed"], 2), "align_seconds": round(totals["align"], 2),
            "cached": totals["cached"] > 0.05 * totals["strings"],
            "errors": {kind: errors[kind] for kind in ERROR_CLASSES}}


def print_row(set_name: str, system: str, row: dict, with_errors: bool) -> None:
    print(f"{set_name:20} {system:18} {row['documents']:4} {row['precision_strict']:8.4f} {row['recall_strict']:6.4f} "
          f"{row['f1_strict']:6.4f} {row['f1_lax']:7.4f} {row['strings_per_sentence']:8.2f} "
          f"{row['embed_seconds']:7.1f}{'*' if row['cached'] else ' '} {row['align_seconds']:8.2f}", flush=True)
    if with_errors:
        print(" " * 21 + "wrong links: " + ", ".join(f"{kind} {n}" for kind, n in row["errors"].items()))


def parse_choice(text: str) -> tuple[str, list]:
    """`reattach_margin=off,0,0.005` -> ("reattach_margin", [None, 0.0, 0.005])."""
    name, _, values = text.partition("=")
    if name not in AlignParams.__dataclass_fields__ or not values:
        raise argparse.ArgumentTypeError(f"expected PARAM=V1,V2,... with PARAM an AlignParams field, got {text!r}")
    kind = type(getattr(AlignParams(), name) or 0.0)
    return name, [None if v == "off" else kind(v) for v in values.split(",")]


def leave_one_set_out(by_value: dict, sets: list[str]) -> dict[str, tuple]:
    """For each set, the value whose mean strict F1 over the other sets is highest (ties: the
    earlier value), and that value's row on the set left out."""
    chosen = {}
    for left_out in sets:
        others = [name for name in sets if name != left_out] or [left_out]
        best = max(by_value, key=lambda v: (np.mean([by_value[v][name]["f1_strict"] for name in others]),
                                            -list(by_value).index(v)))
        chosen[left_out] = (best, by_value[best][left_out])
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the folder holding the gold sets")
    parser.add_argument("--sets", help="comma-separated set folders (default: all)")
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--max-merge", type=int, default=AlignParams().max_merge)
    parser.add_argument("--bertalign-python", help="a Python >= 3.12 with bertalign, numba and scipy")
    parser.add_argument("--sentalign", action="store_true", help="also run Vecalign's algorithm (sentalign)")
    parser.add_argument("--sentalign-max-sentences", type=int, default=3000,
                        help="leave longer documents out of sentalign's run (default 3000 sentences)")
    parser.add_argument("--choose", type=parse_choice, metavar="PARAM=V1,V2,...",
                        help="choose this AlignParams setting leaving one set out (`off` is None): sentaligner's "
                             "figure for each set is then that of the value the other sets chose")
    parser.add_argument("--cache", type=Path, help="keep vectors in this folder's disk cache and reuse them")
    parser.add_argument("--errors", action="store_true", help="count each system's wrong links by kind")
    parser.add_argument("--no-paragraphs", action="store_true",
                        help="leave out the paragraph boundaries of sets that have them (NAME.<lang>.paragraphs)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    if args.bertalign_python and (problem := check_bertalign_python(args.bertalign_python)):
        parser.error(problem)
    sets = find_documents(args.data, args.sets.split(",") if args.sets else None)
    encoder = load_encoder(args.model)
    cache = DiskCache(args.cache, encoder.signature) if args.cache else None
    figures = partial(set_figures, encoder=encoder, cache=cache, max_merge=args.max_merge,
                      paragraphs=not args.no_paragraphs,
                      bertalign_python=args.bertalign_python)
    systems = (["sentaligner"] + (["bertalign"] if args.bertalign_python else [])
               + (["sentalign"] if args.sentalign else []))
    rows: dict[str, dict[str, dict]] = {system: {} for system in systems}
    header = (f"{'set':20} {'system':18} {'docs':>4} {'strict P':>8} {'R':>6} {'F1':>6} {'lax F1':>7} "
              f"{'str/sent':>8} {'embed s':>8} {'align s':>8}")
    choice: dict = {}
    if args.choose:
        name, values = args.choose
        by_value = {}
        print(f"sentaligner with each {name}:\n{header}", flush=True)
        for value in values:
            by_value[value] = {set_name: figures("sentaligner", documents, params={name: value})
                               for set_name, documents in sets.items()}
            for set_name, row in by_value[value].items():
                print_row(set_name, f"= {'off' if value is None else value}", row, False)
        choice = leave_one_set_out(by_value, list(sets))
        for set_name, (value, row) in choice.items():
            rows["sentaligner"][set_name] = {**row, name: value}
        print(f"\n{name} chosen on the other sets: "
              + ", ".join(f"{set_name} {value}" for set_name, (value, _) in choice.items()) + "\n")
    print(header + (" (sentaligner: left-out figures)" if choice else ""), flush=True)
    for set_name, documents in sets.items():
        for system in systems:
            kept = [d for d in documents
                    if system != "sentalign" or d.sentences <= args.sentalign_max_sentences]
            if not kept:
                continue
            if not (system == "sentaligner" and choice):
                rows[system][set_name] = figures(system, kept, params={})
            print_row(set_name, system, rows[system][set_name], args.errors)
    print()
    for system in systems:
        covered = list(rows[system].values())
        means = {key: float(np.mean([row[key] for row in covered])) for key in ("f1_strict", "f1_lax")}
        rows[system]["mean over sets"] = {**means, "sets": len(covered)}
        print(f"{'mean over sets':20} {system:10} strict F1 {means['f1_strict']:.4f}  lax F1 {means['f1_lax']:.4f}"
              f"  ({len(covered)} sets)")
    if "bertalign" in rows:
        ours, theirs = rows["sentaligner"], rows["bertalign"]
        for set_name in [*sets, "mean over sets"]:
            if set_name in theirs:
                a, b = ours[set_name], theirs[set_name]
                line = (f"sentaligner against bertalign, {set_name}: strict F1 {a['f1_strict'] - b['f1_strict']:+.4f}, "
                        f"lax F1 {a['f1_lax'] - b['f1_lax']:+.4f}")
                if "align_seconds" in a and not (a["cached"] or b["cached"]):
                    ratio = (b["embed_seconds"] + b["align_seconds"]) / (a["embed_seconds"] + a["align_seconds"])
                    line += f", end to end {ratio:.1f}x faster"
                print(line)
    print("* over 5% of the vectors read from the disk cache: embedding seconds are not the encoder's, "
          "and no speed ratio is printed")
    print_signature(encoder, args.max_merge, rows, args.json)


if __name__ == "__main__":
    main()
