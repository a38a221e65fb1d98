"""Build the two reference reports and screenshot them in headless Chromium:

- the seed channel (tests/fixtures/channel/seed000.txt) through `sentaligner channel --report`;
- the Text+Berg dev set aligned with `sentaligner align --presplit`, reported with its gold.

    python benchmarks/reports.py --data ../shared/data/textberg-dev --out reports/

Prints what each report says at the top (links, coverage, and for Text+Berg the scores against
gold) and writes OUT/seed/report.html, OUT/seed-report.png, OUT/textberg-report.html,
OUT/textberg-report.png. The seed report and its screenshot are kept in examples/.

It also writes the review page of the Izvestia commentary as `sentaligner align` links it
(tests/fixtures/izvestia.ru-nb.jsonl) and screenshots it after a few keys: the wrong `[1,2]:[1]`
split (S), `[1]:[1]` confirmed (C), source sentence 2 kept untranslated (U), the keys shown (?):
OUT/review.html and OUT/review.png, kept in examples/ as review.png.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sentaligner(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sentaligner.cli", *args, "--quiet"] if args[0] not in ("report", "review")
                   else [sys.executable, "-m", "sentaligner.cli", *args], check=True)


def screenshot(page: Path, image: Path, keys: tuple[str, ...] = (), height: int = 1150) -> list[str]:
    """Open `page` in headless Chromium, press `keys`, screenshot the viewport; the script errors."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1300, "height": height})
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(page.resolve().as_uri())
        for key in keys:
            tab.keyboard.press(key)
        tab.screenshot(path=str(image))
        browser.close()
    return errors


def facts(page: Path) -> str:
    text = page.read_text(encoding="utf-8")
    rows = re.findall(r"<tr><th>([^<]+)</th><td>([^<]+)</td>", text)
    scores = re.findall(r"<tr><th>(strict|lax)</th><td>([\d.]+)</td><td>([\d.]+)</td><td>([\d.]+)</td>", text)
    lines = [f"  {k}: {v}" for k, v in rows if k not in ("strict", "lax")]
    lines += [f"  {kind}: precision {p}, recall {r}, F1 {f}" for kind, p, r, f in scores]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with dev.de, dev.fr, dev.defr")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    seed = args.out / "seed"
    sentaligner("channel", str(ROOT / "tests" / "fixtures" / "channel" / "seed000.txt"), "-o", str(seed),
            "--report", "--force")
    links = args.out / "textberg.jsonl"
    sentaligner("align", "--presplit", str(args.data / "dev.de"), str(args.data / "dev.fr"), "--src-lang", "de",
            "--tgt-lang", "fr", "-f", "jsonl", "-o", str(links), "--force")
    sentaligner("report", str(links), "--gold", str(args.data / "dev.defr"), "-o",
                str(args.out / "textberg-report.html"),
            "--title", "Text+Berg dev (de-fr) against gold", "--force")

    for name, page in (("seed channel", seed / "report.html"), ("Text+Berg dev", args.out / "textberg-report.html")):
        image = args.out / f"{'seed' if name.startswith('seed') else 'textberg'}-report.png"
        errors = screenshot(page, image)
        print(f"{name}: {page} ({page.stat().st_size / 1e3:.0f} kB), screenshot {image}, script errors: {len(errors)}")
        print(facts(page))

    review = args.out / "review.html"
    sentaligner("review", str(ROOT / "tests" / "fixtures" / "izvestia.ru-nb.jsonl"), "-o", str(review), "--force",
            "--title", "Review: the Izvestia commentary (ru-nb)")
    errors = screenshot(review, args.out / "review.png", ("ArrowDown", "s", "c", "u", "?"), height=900)
    print(f"review page: {review}, screenshot {args.out / 'review.png'}, script errors: {len(errors)}")


if __name__ == "__main__":
    main()
