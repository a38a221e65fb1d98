"""What a user waits for: `sentaligner --help`, and `sentaligner channel` on the bundled example with a
cold cache (`--no-cache`), each run in a fresh process; with `--compare DIR` the same for another
checkout (e.g. `git worktree add /tmp/before <commit>`) in the same run, interleaved, so the
ratio is measured on one machine at one time. With `--interrupt`, also the seconds from a Ctrl-C
(SIGINT, sent 0.15 / 0.5 / 1.0 / 1.8 s after the start) to the end of `sentaligner channel`, idle
and with `--load N` busy processes running beside it (the tests only check that it ends).

    python benchmarks/cli_speed.py [--runs 5] [--compare /tmp/before] [--interrupt] [--load 4]

Prints the median and the range of the wall-clock seconds of each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
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
    subprocess.run([sys.executable, "-c", "import sys; from sentaligner.cli import main; main(sys.argv[1:])", *args],
                   cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def seconds_to_interrupt(delay: float, scratch: str) -> float:
    """Seconds from SIGINT, sent `delay` seconds after the start of `sentaligner channel`, to its end."""
    process = subprocess.Popen([sys.executable, "-m", "sentaligner", "channel", EXAMPLE, "-o", f"{scratch}/interrupted",
                                "--force", "--no-cache"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    time.sleep(delay)
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    return time.perf_counter() - sent


def _spin() -> None:
    while True:
        pass


def interrupt_figures(runs: int, load: int) -> None:
    for busy in sorted({0, load}):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
        for spinner in spinners:
            spinner.start()
        try:
            with tempfile.TemporaryDirectory() as scratch:
                for delay in (0.15, 0.5, 1.0, 1.8):
                    runs_seconds = [seconds_to_interrupt(delay, scratch) for _ in range(runs)]
                    print(f"Ctrl-C after {delay:4.2f} s, {busy} busy processes beside it: median "
                          f"{statistics.median(runs_seconds):5.2f} s to end  (max {max(runs_seconds):.2f})")
        finally:
            for spinner in spinners:
                spinner.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another checkout of sentaligner to time alongside this one")
    parser.add_argument("--interrupt", action="store_true", help="also time how soon Ctrl-C ends `sentaligner channel`")
    parser.add_argument("--load", type=int, default=4, help="busy processes beside it for the loaded Ctrl-C runs")
    args = parser.parse_args()
    if args.interrupt:
        interrupt_figures(args.runs, args.load)
    checkouts = {"this checkout": ROOT} | ({f"{args.compare}": args.compare.resolve()} if args.compare else {})
    with tempfile.TemporaryDirectory() as scratch:
        jobs = {"sentaligner --help": ["--help"],
                "sentaligner channel (example, --no-cache)": ["channel", EXAMPLE, "-o", f"{scratch}/corpus", "-f",
                                                              "tmx",
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
