"""One long line of clauses (commas and semicolons, no sentence end), the pathological input of
issue 32: the words of the bundled Izvestia pair repeated to SIZE bytes a side, each side one
line. Prints the seconds to split each side into sentences and, with `--align`, the seconds of
the whole `sentaligner align` command (a fresh process, cold cache) and how many units each side has.

    python benchmarks/long_line.py [--sizes 25000 50000 100000 1800000] [--align]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentaligner.pipeline import split_units  # noqa: E402


def comma_line(lang: str, size: int) -> str:
    """The words of examples/izvestia.LANG.txt, a comma after every 9th and a semicolon after every
    23rd, repeated to `size` UTF-8 bytes: one line with no sentence end."""
    words = re.findall(r"[^\W\d_]+", (ROOT / f"examples/izvestia.{lang}.txt").read_text(encoding="utf-8"))
    parts, length, i = [], 0, 0
    while length < size:
        word = words[i % len(words)]
        i += 1
        separator = ", " if i % 9 == 0 else "; " if i % 23 == 0 else " "
        parts.append(word + separator)
        length += len(word.encode()) + len(separator)
    return "".join(parts).strip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 1_800_000])
    parser.add_argument("--align", action="store_true", help="also time `sentaligner align` on the pair")
    args = parser.parse_args()
    print(f"{'bytes a side':>12} {'split ru s':>10} {'units ru':>8} {'split nb s':>10} {'units nb':>8}"
          f"{' align s':>9}" * args.align)
    for size in args.sizes:
        row = f"{size:>12,}"
        with tempfile.TemporaryDirectory() as scratch:
            for lang in ("ru", "nb"):
                text = comma_line(lang, size)
                Path(scratch, f"line.{lang}").write_text(text, encoding="utf-8")
                started = time.perf_counter()
                units = split_units(text, lang, presplit=False)
                row += f" {time.perf_counter() - started:>10.2f} {len(units.texts):>8}"
            if args.align:
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "sentaligner", "align", f"{scratch}/line.ru",
                                f"{scratch}/line.nb",
                                "--no-cache", "-q", "-o", f"{scratch}/out.jsonl"], cwd=ROOT, check=True,
                               stderr=subprocess.DEVNULL)
                row += f" {time.perf_counter() - started:>8.1f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
