"""Speed: (a) Text+Berg dev end to end beside Vecalign's algorithm (`sentalign`) with the same
encoder in the same run; (b) the search alone on synthetic embeddings at 1k, 10k and 100k
sentences a side, each size in a fresh process (seconds and peak memory).

    python benchmarks/speed.py --data ../shared/data/textberg-dev [--skip-baseline] [--sizes 1000 10000 100000]

(a) prints strings embedded per input sentence, seconds and strict F1 for sentaligner (as it runs: the
dev set is long enough for the coarse-to-fine band; and with the whole grid searched) and, unless
--skip-baseline, for Vecalign's algorithm (`sentalign`, about 25 minutes on 2 cores). (b) builds a target side from the
source vectors with noise, 2% of the sentences dropped and lengths 10% longer, so the right
links are known, and prints the share found.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from textberg import read_lines, run_aligner, run_sentalign  # noqa: E402

from sentaligner.dp import AlignParams, align_vectors  # noqa: E402
from sentaligner.embed import load_encoder  # noqa: E402
from sentaligner.evaluate import read_alignment, score  # noqa: E402


def search_case(n: int, dim: int = 384, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    src = rng.normal(size=(n, dim)).astype(np.float32)
    src /= np.linalg.norm(src, axis=1, keepdims=True)
    tgt = src + 0.5 * rng.normal(size=src.shape).astype(np.float32) / np.sqrt(dim)
    tgt /= np.linalg.norm(tgt, axis=1, keepdims=True)
    keep = rng.random(n) > 0.02
    src_len = rng.uniform(20, 200, n)
    quoted = (rng.random(n) < 0.1).astype(np.int8)  # one sentence in ten ends a quotation, on both sides
    started = time.perf_counter()
    links = align_vectors(src, tgt[keep], src_len, src_len[keep] * 1.1, AlignParams(),
                          src_endings=quoted, tgt_endings=quoted[keep])
    seconds = time.perf_counter() - started
    target_of = np.cumsum(keep) - 1
    right = sum(1 for link in links if (len(link.src) == 1 and len(link.tgt) == 1 and keep[link.src[0]]
                                        and target_of[link.src[0]] == link.tgt[0])
                or (len(link.src) == 1 and not link.tgt and not keep[link.src[0]]))
    return {"n": n, "m": int(keep.sum()), "seconds": round(seconds, 2), "links": len(links),
            "right_share": round(right / n, 4),
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def textberg(data: Path, skip_baseline: bool) -> None:
    src, tgt = read_lines(data / "dev.de"), read_lines(data / "dev.fr")
    gold = read_alignment(data / "dev.defr")
    encoder = load_encoder("e5-small")
    sentences = len(src) + len(tgt)
    default, whole, baseline = "sentaligner", "sentaligner, whole grid searched", "sentalign"
    runs = [(default, lambda: run_aligner(src, tgt, encoder, 8)),
            (whole, lambda: run_aligner(src, tgt, encoder, 8, max_exact_cells=10**12))]
    if not skip_baseline:
        runs.append((baseline, lambda: run_sentalign(src, tgt, encoder, 8)))
    results = {}
    for name, run in runs:
        links, stats = run()
        f1 = score([gold], [links]).f1_strict
        results[name] = stats["seconds"]
        print(f"{name:40} strict F1 {f1:.4f}  strings/sentence {stats['strings_embedded'] / sentences:.3f}  "
              f"embed {stats['embed_seconds']:.1f}s  align {stats['align_seconds']:.2f}s  "
              f"total {stats['seconds']:.1f}s")
    if not skip_baseline:
        print(f"end to end: sentaligner {results[baseline] / results[default]:.1f}x faster than Vecalign's algorithm "
              "(sentalign) with the same encoder and merge limit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder with dev.de, dev.fr, dev.defr (part a)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(search_case(args.one)))
        return
    if args.data:
        textberg(args.data, args.skip_baseline)
    for n in args.sizes:
        done = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        row = json.loads(done.stdout)
        print(f"search {row['n']:>7,} x {row['m']:>7,}: {row['seconds']:7.1f} s, peak RSS {row['peak_mib']:>5} MiB, "
              f"{row['links']:,} links, {row['right_share']:.2%} of sentences linked right")


if __name__ == "__main__":
    main()
