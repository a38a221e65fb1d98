"""Size limits: how a 200 MB channel export is read, how a 1,000,000-line pre-split pair is
refused, and how one unpunctuated line of megabytes is aligned; seconds and peak memory, each case
in a fresh process.

    python benchmarks/robustness.py [--megabytes 200] [--lines 1000000] [--line-megabytes 2]

Cases: reading (parsing into posts) a text dump and a Telegram Desktop JSON export of about
MEGABYTES, made by repeating the seed; `sentaligner align --presplit` on two files of LINES lines,
which must be refused before any embedding; `sentaligner align` of the Izvestia commentary's Russian
text stripped of punctuation and line breaks and repeated to LINE_MEGABYTES (one unit that no
segmenter can split) against its Norwegian text.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = ROOT / "tests" / "fixtures" / "channel"


def make_dump(path: Path, megabytes: int) -> None:
    seed = (CHANNEL / "seed000.txt").read_text(encoding="utf-8")
    header, _, body = seed.partition("Download Telegram\n")
    with open(path, "w", encoding="utf-8") as out:
        out.write(header + "Download Telegram\n")
        while out.tell() < megabytes * 1_000_000:
            out.write(body)


def make_json(path: Path, megabytes: int) -> None:
    export = json.loads((CHANNEL / "result.json").read_text(encoding="utf-8"))
    messages, one = [], json.dumps(export["messages"], ensure_ascii=False).encode()
    copies = max(1, megabytes * 1_000_000 // len(one))
    for copy in range(copies):
        for message in export["messages"]:
            messages.append({**message, "id": message["id"] + copy * 100_000})
    path.write_text(json.dumps({**export, "messages": messages}, ensure_ascii=False), encoding="utf-8")


def read_case(path: str) -> None:
    import resource

    from sentaligner.ingest import read_channel

    started = time.perf_counter()
    posts = read_channel(path)
    seconds = time.perf_counter() - started
    print(json.dumps({"posts": len(posts), "seconds": round(seconds, 1),
                      "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


def timed_align(*args) -> str:
    """`sentaligner align ARGS` in a fresh process: exit code, seconds, peak RSS and its first stderr line."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "sentaligner.cli", "align",
                           *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    lines = done.stderr.strip().splitlines()
    return f"exit {done.returncode} in {seconds:.1f} s, peak RSS {int(lines[-1]) // 1024} MiB: {lines[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--line-megabytes", type=float, default=2.0)
    parser.add_argument("--read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        read_case(args.read)
        return
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name, make in (("dump.txt", make_dump), ("result.json", make_json)):
            path = folder / name
            make(path, args.megabytes)
            done = subprocess.run([sys.executable, __file__, "--read", str(path)], capture_output=True, text=True)
            if done.returncode:
                print(f"{name}: {path.stat().st_size / 1e6:.0f} MB: {done.stderr.strip().splitlines()[-1]}")
                continue
            row = json.loads(done.stdout)
            print(f"read {name} of {path.stat().st_size / 1e6:.0f} MB: {row['posts']:,} posts in {row['seconds']} s, "
                  f"peak RSS {row['peak_mib']} MiB")
            path.unlink()
        for side, word in (("ru", "Строка"), ("nb", "Linje")):
            (folder / f"big.{side}").write_text("".join(f"{word} {i}.\n" for i in range(args.lines)), encoding="utf-8")
        print(f"align --presplit of {args.lines:,} lines a side: " + timed_align(
            "--presplit", folder / "big.ru", folder / "big.nb", "-o", folder / "out.tsv"))
        fixtures = ROOT / "tests" / "fixtures"
        words = re.sub(r"[^\w ]+", " ", (fixtures / "izvestia.ru.txt").read_text(encoding="utf-8"))
        line = " ".join(words.split())
        long = folder / "line.ru"
        long.write_text((line + " ") * int(args.line_megabytes * 1_000_000 // len(line.encode()) + 1),
                        encoding="utf-8")
        print(f"align of one unpunctuated line of {long.stat().st_size / 1e6:.1f} MB: " + timed_align(
            "--no-cache", long, fixtures / "izvestia.nb.txt", "-o", folder / "line.tsv"))


if __name__ == "__main__":
    main()
