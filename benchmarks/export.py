"""Export speed and memory: write 10,000 and 100,000 links (real sentences of seed-like posts,
repeated) as TMX and the other formats, and convert a JSONL file of them to TMX; print seconds and peak resident memory.

Each size runs in a fresh process, so peak RSS is that of one export; the links come from a
generator, as they do from `sentaligner convert`, so a flat peak means the writer streams.

    python benchmarks/export.py [--sizes 10000 100000] [--formats tmx convert moses jsonl tsv]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def synthetic_links(count: int):
    from sentaligner.ingest import read_text
    from sentaligner.pipeline import split_units

    src = split_units(read_text(FIXTURES / "izvestia.ru.txt"), "ru", presplit=False).texts
    tgt = split_units(read_text(FIXTURES / "izvestia.nb.txt"), "nb", presplit=False).texts
    for n in range(count):
        i, j = n % len(src), n % len(tgt)
        yield {"src_ids": [n], "tgt_ids": [n], "type": "1-1", "score": 0.9, "similarity": 0.8,
               "src": f"{src[i]} & <{n}>", "tgt": f"{tgt[j]} & <{n}>",
               "src_post_id": n // 30, "tgt_post_id": n // 30 + 1, "date": "2025-12-23T10:15:00"}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_one(count: int, fmt: str) -> dict:
    """`fmt` is a format, or `convert` (`sentaligner convert` of a JSONL file to TMX, reading included)."""
    from sentaligner.export import ExportOptions, export_links
    from sentaligner.ingest import read_link_records

    with tempfile.TemporaryDirectory() as folder:
        links = synthetic_links(count)
        if fmt == "convert":
            export_links(links, Path(folder) / "in.jsonl", "jsonl")
            links = read_link_records(Path(folder) / "in.jsonl")
        baseline = peak_rss_mib()
        out = Path(folder) / "out" / "links"
        out.parent.mkdir()
        started = time.perf_counter()
        stats = export_links(links, out, "tmx" if fmt == "convert" else fmt, ExportOptions(signature="benchmark"))
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in out.parent.iterdir())
    return {"links": count, "format": fmt, "written": stats.written, "seconds": round(seconds, 2),
            "mb": round(size / 1e6, 1), "peak_rss_mib": round(peak_rss_mib(), 1),
            "rss_growth_mib": round(peak_rss_mib() - baseline, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--formats", nargs="+", default=["tmx", "convert", "moses", "jsonl", "tsv"])
    parser.add_argument("--one", nargs=2, metavar=("COUNT", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(int(args.one[0]), args.one[1])))
        return
    print(f"{'format':8}{'links':>9}{'seconds':>9}{'links/s':>9}{'MB':>8}{'peak RSS MiB':>14}{'growth MiB':>12}")
    for fmt in args.formats:
        for count in args.sizes:
            done = subprocess.run([sys.executable, __file__, "--one", str(count), fmt],
                                  capture_output=True, text=True, check=True, env=os.environ)
            row = json.loads(done.stdout)
            print(f"{fmt:8}{count:>9}{row['seconds']:>9.2f}{count / row['seconds']:>9.0f}{row['mb']:>8.1f}"
                  f"{row['peak_rss_mib']:>14.1f}{row['rss_growth_mib']:>12.1f}")


if __name__ == "__main__":
    main()
