"""The HTML report: marks against gold, summary, and the page itself in a real browser (headless
Chromium through Playwright): no script errors, plots and table there, filtering and sorting
work; a screenshot is saved."""

import json
import os
import re
import shutil

import pytest
from test_export import seed_records

from helpers import SEED, one_line_error, run_cli
from sentaligner.channel import route_posts, unpaired_record
from sentaligner.ingest import read_channel
from sentaligner.report import build_report, link_marks, summarize


def test_marks_against_gold():
    gold = [((0,), (0,)), ((1, 2), (1,)), ((3,), ())]
    records = [{"src_ids": [0], "tgt_ids": [0]}, {"src_ids": [1], "tgt_ids": [1]},
               {"src_ids": [2], "tgt_ids": []}, {"src_ids": [3], "tgt_ids": []}]
    assert link_marks(records, gold) == ["right", "partial", "wrong", "right"]


def test_summary_counts_sentences_and_coverage():
    records = seed_records()
    summary = summarize(records)
    assert summary["links"] == len(records) and summary["documents"] == 2  # the gold post + one with post ids
    assert summary["types"]["1-0"] == 1 and summary["types"]["0-1"] == 1
    src = summary["sides"]["src"]
    assert src["sentences"] == 30 and src["covered"] == 29  # one Russian sentence has no counterpart


def test_report_is_self_contained_and_escapes_text(tmp_path):
    page = build_report(seed_records(), title="Seed <report>", gold=None, signature="sig|x")
    assert not re.search(r"""(src|href)=["']?https?:|url\(\s*["']?https?:|<link|@import""", page)
    assert "Seed &lt;report&gt;" in page
    assert page.count("<svg") == 4
    data = re.search(r'<script type="application/json" id="link-data">(.*?)</script>', page, re.S).group(1)
    rows = json.loads(data)
    assert rows[-1]["src"].startswith("Пресс-релиз «A & B» <срочно>")
    assert "</script" not in data


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def channel_result(folder):
    """A channel OUTDIR as `sentaligner channel` leaves it: the seed's links, and as unpaired its eight
    English forwards (routed for real) and the Barentsburg post that found no Norwegian version."""
    posts = read_channel(SEED)
    unpaired = route_posts(posts).unpaired
    barentsburg = next(post for post in posts if post.text.startswith("🎄Накануне Нового года"))
    unpaired.append(unpaired_record(barentsburg, "ru", "no Norwegian version found",
                                    best_candidate={"confidence": 0.1796, "nb_id": 231}))
    folder.mkdir()
    write_jsonl(folder / "corpus.jsonl", seed_records())
    write_jsonl(folder / "unpaired.jsonl", unpaired)
    summary = {"signature": "sentaligner-test|ru-nb", "posts": 14, "pairs": 3, "unpaired": len(unpaired)}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return unpaired


def test_report_of_a_channel_lists_its_unpaired_posts_rarest_reason_first(tmp_path):
    unpaired = channel_result(tmp_path / "corpus")
    assert len(unpaired) == 9 and sum(post["lang"] == "en" for post in unpaired) == 8
    result = run_cli("report", tmp_path / "corpus", "-o", tmp_path / "report.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="unpaired">'):]
    assert "9 posts are not in the corpus: 8 English: not part of the corpus; 1 no Norwegian version found." in section
    rows = re.findall(r"<tr><td>(.*?)</td><td>.*?</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", section)
    assert len(rows) == 9
    assert rows[0] == ("206", "ru", "no Norwegian version found", "nb 231, confidence 0.18")
    assert {row[2] for row in rows[1:]} == {"English: not part of the corpus"}
    assert section.count("<details>") == sum(len(post["text"]) > 300 for post in unpaired) > 0
    assert "Russia’s defence and security;" in section  # the rest of a long post, behind "more"


def test_report_of_links_alone_has_no_unpaired_section_and_a_bad_one_is_an_error(tmp_path):
    page = build_report(seed_records())
    assert 'id="unpaired"' not in page and 'id="score-scale"' in page
    channel_result(tmp_path / "corpus")
    (tmp_path / "corpus" / "unpaired.jsonl").write_text('{"id": 1, "reason": 7, "text": "x"}\n', encoding="utf-8")
    one_line_error(run_cli("report", tmp_path / "corpus", "-o", tmp_path / "r.html"), 2,
                   "unpaired.jsonl line 1: 'reason' must be a string")
    assert not (tmp_path / "r.html").exists()


def browser_or_skip():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        chromium = None
    if not chromium:
        if os.environ.get("SENTALIGNER_REQUIRE_BROWSER") == "1":
            pytest.fail("the browser test must run here: chromium or playwright is missing")
        pytest.skip("needs chromium and playwright (.ci/run installs both)")
    return chromium


def open_in_browser(path, chromium, screenshot):
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(path.as_uri())
        facts = {
            "plots": page.locator("figure.plot svg").count(),
            "rows": page.locator("#links tbody tr").count(),
            "shown": page.locator("#shown").inner_text(),
            "gold_marks": page.locator("#links td.mark-right").count(),
        }
        page.screenshot(path=str(screenshot), full_page=True)
        page.fill("#min-score", "0.95")
        facts["rows_above_095"] = page.locator("#links tbody tr").count()
        page.fill("#min-score", "0")
        sorted_by = 'return [...document.querySelectorAll("#links th[aria-sort]")].map(th => ' \
                    '[th.dataset.key, th.getAttribute("aria-sort"), getComputedStyle(th, "::after").content])'
        facts["sorted_at_start"] = page.evaluate(f"() => {{ {sorted_by} }}")
        page.click('th[data-key="score"]')
        facts["sorted_after_click"] = page.evaluate(f"() => {{ {sorted_by} }}")
        score_column = 1 + [t.strip() for t in page.locator("#links thead th").all_inner_texts()].index("score")
        facts["first_score_sorted"] = page.locator(f"#links tbody tr td:nth-child({score_column})").first.inner_text()
        page.click('th[data-key="score"]')
        facts["sorted_after_second_click"] = page.evaluate(f"() => {{ {sorted_by} }}")
        facts["first_score_reversed"] = page.locator(f"#links tbody tr td:nth-child({score_column})").first.inner_text()
        facts["swatches"] = page.evaluate('() => [...document.querySelectorAll("#score-scale .swatch")]'
                                          '.map(s => getComputedStyle(s).backgroundColor)')
        facts["legend"] = page.locator("p.legend").inner_text()
        facts["unpaired_rows"] = page.locator("#unpaired tbody tr").count()
        page.fill("#search", "Пресс-релиз")
        facts["rows_search"] = page.locator("#links tbody tr").count()
        browser.close()
    return facts, errors


def test_report_says_where_it_wrote(tmp_path):
    (tmp_path / "links.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in seed_records()),
                                          encoding="utf-8")
    result = run_cli("report", tmp_path / "links.jsonl", "-o", tmp_path / "report.html")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"wrote {tmp_path / 'report.html'}\n" and result.stdout == ""


def test_report_in_headless_chromium(tmp_path):
    chromium = browser_or_skip()
    records = seed_records()
    (tmp_path / "links.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                          encoding="utf-8")
    result = run_cli("report", tmp_path / "links.jsonl", "-o", tmp_path / "report.html")
    assert result.exit_code == 0, result.output
    facts, errors = open_in_browser(tmp_path / "report.html", chromium, tmp_path / "report.png")
    assert errors == []
    assert facts["plots"] == 4
    assert facts["rows"] == len(records) and facts["shown"] == f"{len(records)} of {len(records)} links"
    expected_high = sum(1 for r in records if r["score"] >= 0.95)
    assert facts["rows_above_095"] == expected_high < len(records)
    assert facts["first_score_sorted"] == f"{min(r['score'] for r in records):.3f}"
    assert facts["first_score_reversed"] == f"{max(r['score'] for r in records):.3f}"
    assert facts["sorted_at_start"] == [["n", "ascending", '" ▲"']]  # the arrow is on the sorted column only
    assert facts["sorted_after_click"] == [["score", "ascending", '" ▲"']]
    assert facts["sorted_after_second_click"] == [["score", "descending", '" ▼"']]
    assert len(facts["swatches"]) == 11 and len(set(facts["swatches"])) == 11  # 0, 0.1, ... 1, each its colour
    assert facts["legend"].startswith("Row colour is the score: 0") and "no colour: no score" in facts["legend"]
    assert facts["rows_search"] == 1
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_report_with_gold_in_browser(tmp_path):
    chromium = browser_or_skip()
    records = [r for r in seed_records() if "src_post_id" not in r]  # the single gold document
    (tmp_path / "links.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                          encoding="utf-8")
    gold = tmp_path / "gold.txt"
    links = [f"[{','.join(map(str, r['src_ids']))}]:[{','.join(map(str, r['tgt_ids']))}]" for r in records]
    links[3] = "[3,4]:[3]"  # one gold link differs from the result
    del links[4]
    gold.write_text("\n".join(links) + "\n", encoding="utf-8")
    result = run_cli("report", tmp_path / "links.jsonl", "--gold", gold, "-o", tmp_path / "report.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Against gold" in page and "partial (lax match only)" in page
    facts, errors = open_in_browser(tmp_path / "report.html", chromium, tmp_path / "gold.png")
    assert errors == [] and facts["plots"] == 4
    assert facts["gold_marks"] == len(records) - 2
    assert "gold: right, partial, wrong" in facts["legend"]


def test_channel_report_in_browser_shows_the_unpaired_posts(tmp_path):
    chromium = browser_or_skip()
    channel_result(tmp_path / "corpus")
    assert run_cli("report", tmp_path / "corpus", "-o", tmp_path / "report.html").exit_code == 0
    facts, errors = open_in_browser(tmp_path / "report.html", chromium, tmp_path / "channel.png")
    assert errors == [] and facts["unpaired_rows"] == 9


def test_report_errors(tmp_path):
    records = seed_records()
    (tmp_path / "links.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                          encoding="utf-8")
    gold = tmp_path / "gold.txt"
    gold.write_text("[0]:[0]\n", encoding="utf-8")
    one_line_error(run_cli("report", tmp_path / "links.jsonl", "--gold", gold, "-o", tmp_path / "r.html"), 2,
                   "single-document")
    one_line_error(run_cli("report", tmp_path / "missing.jsonl", "-o", tmp_path / "r.html"), 2, "no such file")
    (tmp_path / "r.html").write_text("old", encoding="utf-8")
    one_line_error(run_cli("report", tmp_path / "links.jsonl", "-o", tmp_path / "r.html"), 4, "use --force")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == "old"
    result_dir = tmp_path / "result"
    result_dir.mkdir()
    (result_dir / "corpus.jsonl").write_text((tmp_path / "links.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    for summary, fragment in (("{", "not JSON"), ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
                              ("[1]", "not a summary sentaligner wrote")):
        (result_dir / "summary.json").write_text(summary, encoding="utf-8")
        one_line_error(run_cli("report", result_dir, "-o", tmp_path / "new.html"), 2, fragment)
    assert not (tmp_path / "new.html").exists()
