"""Text+Berg dev: strict/lax F1, time and strings embedded, for aligner and for Vecalign's
algorithm (PyPI `sentalign`) given the same encoder, in one run.

    python benchmarks/textberg.py --data ../shared/data/textberg-dev [--skip-baseline]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import aligner
from aligner.align import AlignParams
from aligner.embed import EmbeddingStore, load_encoder
from aligner.evaluate import read_alignment, score
from aligner.pipeline import Units, align_units


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def run_aligner(src: list[str], tgt: list[str], encoder, max_merge: int, **params) -> tuple[list, dict]:
    units = [Units([line.strip() for line in side], list(range(len(side)))) for side in (src, tgt)]
    result = align_units(*units, encoder, "de", "fr", AlignParams(max_merge=max_merge, **params),
                         EmbeddingStore(encoder))
    links = [(tuple(link["src_ids"]), tuple(link["tgt_ids"])) for link in result.links]
    return links, result.stats


def run_sentalign(src: list[str], tgt: list[str], encoder, max_size: int) -> tuple[list, dict]:
    from sentalign import sentalign

    store = EmbeddingStore(encoder)  # each distinct string embedded once, as for aligner
    timing = {"embed": 0.0}

    def encode(texts):
        started = time.perf_counter()
        vectors = store.embed(list(texts))
        timing["embed"] += time.perf_counter() - started
        return vectors

    started = time.perf_counter()
    result = sentalign(src, tgt, encode, alignment_max_size=max_size)
    total = time.perf_counter() - started
    links = [(tuple(a.src_indices), tuple(a.tgt_indices)) for a in result.alignments]
    return links, {"strings_embedded": store.strings_embedded, "embed_seconds": round(timing["embed"], 3),
                   "align_seconds": round(total - timing["embed"], 3), "seconds": round(total, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with dev.de, dev.fr, dev.defr")
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--max-merge", type=int, default=AlignParams().max_merge)
    parser.add_argument("--skip-baseline", action="store_true", help="do not run sentalign")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    src, tgt = read_lines(args.data / "dev.de"), read_lines(args.data / "dev.fr")
    gold = read_alignment(args.data / "dev.defr")
    encoder = load_encoder(args.model)
    rows = {}
    systems = [("aligner", run_aligner)] + ([] if args.skip_baseline else [("vecalign (sentalign)", run_sentalign)])
    for name, run in systems:
        links, stats = run(src, tgt, encoder, args.max_merge)
        scores = score([gold], [links])
        rows[name] = {**stats, "f1_strict": round(scores.f1_strict, 4), "f1_lax": round(scores.f1_lax, 4),
                      "precision_strict": round(scores.precision_strict, 4),
                      "recall_strict": round(scores.recall_strict, 4),
                      "strings_per_sentence": round(stats["strings_embedded"] / (len(src) + len(tgt)), 3)}
        print(f"{name:22} strict F1 {scores.f1_strict:.4f}  lax F1 {scores.f1_lax:.4f}  "
              f"embedded {stats['strings_embedded']} strings ({rows[name]['strings_per_sentence']}/sentence) "
              f"in {stats['embed_seconds']:.1f}s  align {stats['align_seconds']:.2f}s  total {stats['seconds']:.1f}s",
              flush=True)
    if len(rows) == 2:
        ours, theirs = rows["aligner"], rows["vecalign (sentalign)"]
        print(f"speed-up end to end: {theirs['seconds'] / ours['seconds']:.1f}x; "
              f"strict F1 difference: {ours['f1_strict'] - theirs['f1_strict']:+.4f}")
    signature = (f"aligner-{aligner.__version__}|model={encoder.signature}|max_merge={args.max_merge}"
                 f"|python-{platform.python_version()}|numpy-{np.__version__}")
    print(signature)
    if args.json:
        args.json.write_text(json.dumps({"signature": signature, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
