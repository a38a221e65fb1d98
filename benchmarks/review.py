"""How the review page (`sentaligner review`) copes with a long document, in headless Chromium.

    python benchmarks/review.py --data ../shared/data/orwell-1984-ro-en [--result LINKS.jsonl] [--out DIR]

Without --result, the RESULT is the novel's gold links with their texts (6,397 links, no scores);
with --result, any JSONL of links (e.g. `sentaligner align 1984.ro 1984.en --presplit --src-lang ro
--tgt-lang en -f jsonl`). Prints the page's size and, in Chromium on this machine: first
contentful paint, when the page's script is done (every row built), how long from then until the
last row is on screen (End), frame times while scrolling with the wheel, and the time of one edit
(merge) and of undo near the end, and of building the corrections file (Save).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SCROLL_STEPS = 60
FRAME_BUDGET_MS = 50  # a frame slower than this is a visible stutter

NEXT_FRAME = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done())))"


def gold_result(data: Path, out: Path) -> Path:
    """The gold links of the set in `data` with their texts, as a JSONL RESULT."""
    gold = next(path for path in data.iterdir() if path.suffix and len(path.suffix) == 5)
    src_lang, tgt_lang = gold.suffix[1:3], gold.suffix[3:5]
    src = gold.with_suffix(f".{src_lang}").read_text(encoding="utf-8").splitlines()
    tgt = gold.with_suffix(f".{tgt_lang}").read_text(encoding="utf-8").splitlines()
    from sentaligner.evaluate import read_alignment

    path = out / f"{gold.stem}.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for src_ids, tgt_ids in read_alignment(gold):
            record = {"src_ids": list(src_ids), "tgt_ids": list(tgt_ids), "score": None,
                      "src": " ".join(src[i] for i in src_ids), "tgt": " ".join(tgt[j] for j in tgt_ids)}
            for side, ids, lines in (("src", src_ids, src), ("tgt", tgt_ids, tgt)):
                if len(ids) > 1:
                    record[f"{side}_sentences"] = [lines[i] for i in ids]
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def measure(page_path: Path) -> dict:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(page_path.resolve().as_uri())
        tab.wait_for_function("() => performance.getEntriesByName('review-ready').length > 0")
        figures = tab.evaluate("""() => ({
            paint: performance.getEntriesByName('first-contentful-paint')[0].startTime,
            ready: performance.getEntriesByName('review-ready')[0].startTime,
            links: links.length})""")
        figures["to_last_row"] = tab.evaluate("""async () => {
            const start = performance.now();
            document.dispatchEvent(new KeyboardEvent('keydown', {key: 'End'}));
            await (""" + NEXT_FRAME + """)();
            const box = rows[rows.length - 1].getBoundingClientRect();
            return {ms: performance.now() - start, on_screen: box.top < innerHeight && box.bottom > 0};
        }""")
        tab.keyboard.press("Home")
        tab.evaluate(NEXT_FRAME)
        tab.mouse.move(700, 600)
        tab.evaluate("() => { window.frameTimes = []; let last = performance.now(); const tick = now => {"
                     " window.frameTimes.push(now - last); last = now; requestAnimationFrame(tick); };"
                     " requestAnimationFrame(tick); }")
        for _ in range(SCROLL_STEPS):
            tab.mouse.wheel(0, 900)
            tab.wait_for_timeout(16)
        tab.evaluate(NEXT_FRAME)
        frames = tab.evaluate("() => window.frameTimes.slice(1)")
        figures["scroll"] = {"px": SCROLL_STEPS * 900, "frames": len(frames), "median_ms": statistics.median(frames),
                             "p95_ms": sorted(frames)[int(0.95 * (len(frames) - 1))], "max_ms": max(frames),
                             "over_budget": sum(f > FRAME_BUDGET_MS for f in frames)}
        for name, key in (("merge_ms", {"key": "M", "shiftKey": True}), ("undo_ms", {"key": "z", "ctrlKey": True})):
            tab.keyboard.press("End")
            figures[name] = tab.evaluate("""async key => {
                const start = performance.now();
                document.dispatchEvent(new KeyboardEvent('keydown', key));
                await (""" + NEXT_FRAME + """)();
                return performance.now() - start;
            }""", key)
        figures["save_text_ms"] = tab.evaluate("""() => {
            const start = performance.now();
            const text = correctionsText();
            return [performance.now() - start, text.length];
        }""")
        browser.close()
    figures["errors"] = errors
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a gold set folder (its gold links become the RESULT)")
    parser.add_argument("--result", type=Path, help="a JSONL of links to review instead")
    parser.add_argument("--out", type=Path, help="keep the page here (default: a temporary folder)")
    args = parser.parse_args()
    if not args.data and not args.result:
        parser.error("give --data or --result")
    out = args.out or Path(tempfile.mkdtemp(prefix="sentaligner-review-"))
    out.mkdir(parents=True, exist_ok=True)
    result = args.result or gold_result(args.data, out)
    page = out / "review.html"
    subprocess.run([sys.executable, "-m", "sentaligner.cli", "review", str(result), "-o", str(page), "--force"],
                   check=True, stderr=subprocess.DEVNULL)
    chromium = subprocess.run([shutil.which("chromium") or "chromium", "--version"], capture_output=True,
                              text=True).stdout.strip()
    figures = measure(page)
    last = figures["to_last_row"]
    scroll = figures["scroll"]
    print(f"review page of {result.name}: {figures['links']:,} links, {page.stat().st_size / 2**20:.1f} MiB; "
          f"{chromium}, headless, 1400x900")
    print(f"first contentful paint   {figures['paint']:7.0f} ms")
    print(f"every row built (ready)  {figures['ready']:7.0f} ms")
    print(f"End: last row on screen  {last['ms']:7.0f} ms after ready (on screen: {last['on_screen']}); "
          f"{figures['ready'] + last['ms']:.0f} ms from navigation")
    print(f"wheel scroll {scroll['px']:,} px: {scroll['frames']} frames, median {scroll['median_ms']:.1f} ms, "
          f"p95 {scroll['p95_ms']:.1f} ms, max {scroll['max_ms']:.1f} ms, {scroll['over_budget']} over "
          f"{FRAME_BUDGET_MS} ms")
    print(f"merge at the end {figures['merge_ms']:.0f} ms, undo {figures['undo_ms']:.0f} ms (to the next frame); "
          f"corrections file {figures['save_text_ms'][1] / 2**10:.0f} KiB built in {figures['save_text_ms'][0]:.0f} ms")
    print(f"script errors: {len(figures['errors'])}")


if __name__ == "__main__":
    main()
