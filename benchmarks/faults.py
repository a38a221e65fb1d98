"""The fault table of issue 32: each fault of tests/test_faults.py once more, with the exit code,
the seconds from the fault until no process of the run is left, the processes left alive
(orphans), whether any output file was partial, and whether a rerun gave the uninterrupted
run's merged corpus byte for byte. With `--load N`, N busy processes run beside it.

    python benchmarks/faults.py [--kills 10] [--load 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import test_faults as faults  # noqa: E402


def spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="random points at which batch is killed with -9")
    parser.add_argument("--load", type=int, default=0, help="busy processes running beside it")
    args = parser.parse_args()
    load = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.load)]
    for process in load:
        process.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            scene = faults.Scene(Path(folder))
            print(f"{faults.JOBS} jobs, 2 workers; an uninterrupted run with a warm cache: {scene.seconds:.1f} s"
                  f"{f'; {args.load} busy processes beside it' if args.load else ''}")
            cases = [faults.kill_at(scene, delay, f"kill -9 at {delay:.2f} s")
                     for delay in faults.kill_points(scene, args.kills)]
            cases += [faults.signal_parent(scene, signal.SIGTERM, "SIGTERM to the parent alone"),
                      faults.signal_parent(scene, signal.SIGINT, "SIGINT to the parent alone")]
            prefix = faults.private_mount()
            if prefix:
                cases += [faults.read_only_mid_run(scene, prefix), faults.full_disk(scene, prefix)]
            else:
                print("no private mount namespace here: the read-only and full-disk cases are left out")
            print(f"| {'case':32} | exit | seconds to stop | orphans | partial files | byte-identical rerun |")
            print(f"|{'-' * 34}|------|-----------------|---------|---------------|----------------------|")
            for case in cases:
                stop = "—" if case.stop_seconds is None else f"{case.stop_seconds:.2f}"
                identical = "—" if case.identical is None else "yes" if case.identical else "NO"
                print(f"| {case.name:32} | {case.exit_code:>4} | {stop:>15} | {case.orphans:>7} | "
                      f"{len(case.partial):>13} | {identical:>20} |")
            codes, errors, outputs = faults.shared_cache(scene)
            locked = sum("database is locked" in error for error in errors)
            print(f"4 x `sentaligner align` on one new cache folder: exit codes {codes}, 'database is locked' {locked} "
                  f"times, {len(set(outputs))} distinct output(s)")
    finally:
        for process in load:
            process.terminate()


if __name__ == "__main__":
    main()
