"""What a user waits for: `aligner --help`, and `aligner channel` on the bundled example with a
cold cache (`--no-cache`), each run in a fresh process; with `--compare DIR` the same for another
checkout (e.g. `git worktree add /tmp/before <commit>`) in the same run, interleaved, so the
ratio is measured on one machine at one time.

    python benchmarks/cli_speed.py [--runs 5] [--compare /tmp/before]

Prints the median and the range of the wall-clock seconds of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/channel-dump.txt"


def seconds(checkout: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sys; from aligner.cli import main; main(sys.argv[1:])", *args],
                   cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another checkout of aligner to time alongside this one")
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT} | ({f"{args.compare}": args.compare.resolve()} if args.compare else {})
    with tempfile.TemporaryDirectory() as scratch:
        jobs = {"aligner --help": ["--help"],
                "aligner channel (example, --no-cache)": ["channel", EXAMPLE, "-o", f"{scratch}/corpus", "-f", "tmx",
                                                          "--force", "--no-cache", "-q"]}
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):
            for job, job_args in jobs.items():
                for name, checkout in checkouts.items():
                    times.setdefault((job, name), []).append(seconds(checkout, job_args))
    for job in jobs:
        medians = {}
        for name in checkouts:
            runs = times[(job, name)]
            medians[name] = statistics.median(runs)
            print(f"{job:40} {name:24} median {medians[name]:6.2f} s  (min {min(runs):.2f}, max {max(runs):.2f})")
        if len(medians) == 2:
            this, other = medians.values()
            print(f"{'':40} {'ratio':24} {other / this:.2f}x")


if __name__ == "__main__":
    main()
