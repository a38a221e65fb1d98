"""`sentaligner review` and `sentaligner apply`: the corrections file checked against the result it was
made for, applied to real links; the page driven in headless Chromium by mouse and by keyboard
alone, kept in the browser's storage, and saved through `--serve`.

The result reviewed is `fixtures/izvestia.ru-nb.jsonl`, what `sentaligner align izvestia.ru.txt
izvestia.nb.txt -f jsonl` wrote: it links the untranslated "Ранее схожие заявления делались в Осло."
(source 2) into `[1,2]:[1]`, the error the browser tests correct."""

import http.client
import io
import json
import shutil
import subprocess
import sys
import threading

import pytest
from test_export import HYPOMNEMA_READER, TMX14_DTD, hypomnema_python
from test_report import browser_or_skip, channel_result

from helpers import FIXTURES, one_line_error, run_cli
from sentaligner.errors import AlignerError
from sentaligner.review import ReviewServer, apply_corrections, check_corrections, read_corrections, read_result

RESULT = FIXTURES / "izvestia.ru-nb.jsonl"
RECORDS = [json.loads(line) for line in RESULT.read_text(encoding="utf-8").splitlines()]

# The edits of the browser tests, and what they leave: source 2 has no counterpart, [3]:[2] and
# [4]:[3] are one link, [5]:[4] is rejected; a second rejection ([6]:[5]) is undone.
EXPECTED_STATUSES = {"[1]:[1]": "edited", "[2]:[]": "confirmed", "[3,4]:[2,3]": "edited", "[5]:[4]": "rejected"}


def ids(link):
    return f"[{','.join(map(str, link['src_ids']))}]:[{','.join(map(str, link['tgt_ids']))}]"


def corrections_for(result, changes):
    """A corrections file for `result` (read_result) replacing the links at the given positions."""
    document = result.documents[0]
    links = [{"src_ids": r["src_ids"], "tgt_ids": r["tgt_ids"], "status": "unreviewed"} for r in document.records]
    for position, replacement in sorted(changes.items(), reverse=True):
        links[position:position + 1] = replacement
    return {"format": "sentaligner-corrections", "version": 1, "result_sha256": result.sha256, "reviewer": "Kari",
            "saved": "2026-12-03T10:00:00Z",
            "documents": [{"src_post_id": None, "tgt_post_id": None, "links": links}]}


def expected_corrected_links():
    """The fixture's links after the browser tests' edits, as `apply` must write them."""
    out = [RECORDS[0],
           {"src_ids": [1], "tgt_ids": [1], "type": "1-1", "score": 1.0, "similarity": None,
            "src": "Власти Финляндии намерены в 2026 г. завершить строительство забора на границе с Россией.",
            "tgt": RECORDS[1]["tgt"], "flags": ["reviewed"]},
           {"src_ids": [2], "tgt_ids": [], "type": "1-0", "score": 1.0, "similarity": None,
            "src": "Ранее схожие заявления делались в Осло.", "tgt": "", "flags": ["reviewed"]},
           {"src_ids": [3, 4], "tgt_ids": [2, 3], "type": "2-2", "score": 1.0, "similarity": None,
            "src": RECORDS[2]["src"] + " " + RECORDS[3]["src"], "tgt": RECORDS[2]["tgt"] + " " + RECORDS[3]["tgt"],
            "src_sentences": [RECORDS[2]["src"], RECORDS[3]["src"]],
            "tgt_sentences": [RECORDS[2]["tgt"], RECORDS[3]["tgt"]], "flags": ["reviewed"]}]
    return out + RECORDS[5:]  # RECORDS[4], [5]:[4], is rejected


def test_the_fixture_is_the_aligners_mistake_this_file_corrects():
    assert ids(RECORDS[1]) == "[1,2]:[1]"
    assert RECORDS[1]["src_sentences"][1] == "Ранее схожие заявления делались в Осло."
    gold = (FIXTURES / "izvestia.ru-nb.gold").read_text(encoding="utf-8").split()
    assert "[2]:[]" in gold and "[1,2]:[1]" not in gold


def test_apply_writes_edited_and_confirmed_links_reviewed_and_leaves_out_rejected_ones():
    result = read_result(RESULT)
    assert len(result.documents) == 1 and len(result.documents[0].src) == 29 and len(result.documents[0].tgt) == 29
    corrections = corrections_for(result, {
        1: [{"src_ids": [1], "tgt_ids": [1], "status": "edited"},
            {"src_ids": [2], "tgt_ids": [], "status": "confirmed"}],
        2: [{"src_ids": [3, 4], "tgt_ids": [2, 3], "status": "edited"}],
        4: [{"src_ids": [5], "tgt_ids": [4], "status": "rejected"}],
        3: [],
        28: [{"src_ids": [28], "tgt_ids": [28], "status": "confirmed"}]})
    check_corrections(corrections, result, "c.json")
    applied = apply_corrections(corrections, result)
    # [2]:[] is not in RESULT: an edit, then confirmed, it counts as confirmed
    assert applied.counts == {"unreviewed": 24, "confirmed": 2, "edited": 2, "rejected": 1}
    assert applied.reviewer == "Kari"
    confirmed = {**RECORDS[28], "score": 1.0, "flags": ["boilerplate", "reviewed"]}  # keeps its similarity
    assert applied.records == expected_corrected_links()[:-1] + [confirmed]


def test_corrections_saved_by_aligner_0_3_are_applied(tmp_path):
    """Before the rename the page saved `"format": "aligner-corrections"`; apply takes them."""
    result = read_result(RESULT)
    corrections = corrections_for(result, {4: [{"src_ids": [5], "tgt_ids": [4], "status": "rejected"}]})
    corrections["format"] = "aligner-corrections"
    (tmp_path / "old.json").write_text(json.dumps(corrections), encoding="utf-8")
    applied = run_cli("apply", tmp_path / "old.json", RESULT, "-f", "jsonl", "-o", tmp_path / "fixed.jsonl")
    assert applied.exit_code == 0, applied.output
    assert len((tmp_path / "fixed.jsonl").read_text(encoding="utf-8").splitlines()) == 28


@pytest.mark.parametrize("mangle, fragment", [
    (lambda c: c.update(result_sha256="0" * 64), "saved for other links"),
    (lambda c: c.update(format="tmx"), "not a corrections file"),
    (lambda c: c.update(version=2), "corrections version 2"),
    (lambda c: c["documents"][0]["links"].pop(5), "src sentence 6 is in no link"),
    (lambda c: c["documents"][0]["links"][5].update(src_ids=[5]), "repeats a sentence"),
    (lambda c: c["documents"][0]["links"].insert(3, c["documents"][0]["links"].pop(6)), "goes back"),
    (lambda c: c["documents"][0]["links"][5].update(tgt_ids=[99]), "tgt sentence 99 is not in the result"),
    (lambda c: c["documents"][0]["links"][5].update(status="maybe"), "and a status"),
    (lambda c: c["documents"][0]["links"].append({"src_ids": [], "tgt_ids": [], "status": "edited"}),
     "no sentence on either side"),
    (lambda c: c["documents"][0].update(src_post_id=7), "is not the result's document 1 (the only one)"),
])
def test_apply_refuses_corrections_that_do_not_fit_the_result_in_one_line(tmp_path, mangle, fragment):
    corrections = corrections_for(read_result(RESULT), {})
    mangle(corrections)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(corrections), encoding="utf-8")
    one_line_error(run_cli("apply", path, RESULT, "-o", tmp_path / "out.tsv"), 2, fragment)
    assert not (tmp_path / "out.tsv").exists()


def test_apply_refuses_a_file_that_is_not_json_and_review_a_merged_link_without_its_sentences(tmp_path):
    (tmp_path / "c.json").write_text("{not json", encoding="utf-8")
    one_line_error(run_cli("apply", tmp_path / "c.json", RESULT, "-o", tmp_path / "out.tsv"), 2, "not JSON")
    old = [{k: v for k, v in r.items() if not k.endswith("_sentences")} for r in RECORDS]
    (tmp_path / "old.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old), encoding="utf-8")
    one_line_error(run_cli("review", tmp_path / "old.jsonl"), 2, "line 2: a merged link without its src_sentences")
    assert not (tmp_path / "old.review.html").exists()
    odd = [{**RECORDS[0], "src_post_id": [1], "flags": "merged"}]
    (tmp_path / "odd.jsonl").write_text("".join(json.dumps(r) + "\n" for r in odd), encoding="utf-8")
    one_line_error(run_cli("review", tmp_path / "odd.jsonl"), 2, "must be numbers or strings")


def test_review_writes_the_page_beside_the_result_and_keeps_an_existing_one(tmp_path):
    shutil.copy(RESULT, tmp_path / "links.jsonl")
    result = run_cli("review", tmp_path / "links.jsonl")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "links.review.html").read_text(encoding="utf-8")
    assert "Ранее схожие заявления делались в Осло." in page and 'src="http' not in page and "<link" not in page
    assert "links.corrections.json" in result.stderr
    one_line_error(run_cli("review", tmp_path / "links.jsonl"), 4, "use --force")


def test_a_channel_result_is_reviewed_by_post_pair_and_new_links_keep_their_posts(tmp_path):
    channel_result(tmp_path / "corpus")
    records = [json.loads(line) for line in (tmp_path / "corpus" / "corpus.jsonl").read_text("utf-8").splitlines()]
    records[-1]["tgt_sentences"] = ["Pressemelding «A & B»", "andre linje"]  # the 1-2 link of post pair 1412→1413
    (tmp_path / "corpus" / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    result = read_result(tmp_path / "corpus")
    assert [document.key for document in result.documents] == [(None, None, None), (None, 1412, 1413)]
    corrections = {"format": "sentaligner-corrections", "version": 1, "result_sha256": result.sha256,
                   "documents": [{"src_post_id": d.key[1], "tgt_post_id": d.key[2],
                                  "links": [{"src_ids": r["src_ids"], "tgt_ids": r["tgt_ids"], "status": "unreviewed"}
                                            for r in d.records]} for d in result.documents]}
    corrections["documents"][1]["links"] = [{"src_ids": [29], "tgt_ids": [29], "status": "edited"},
                                            {"src_ids": [], "tgt_ids": [30], "status": "edited"}]
    check_corrections(corrections, result, "c.json")
    applied = apply_corrections(corrections, result)
    assert applied.records[:-2] == records[:-1]
    date = "2025-12-23T10:15:00"
    assert [(r["tgt"], r["src_post_id"], r["tgt_post_id"], r["date"]) for r in applied.records[-2:]] == [
        ("Pressemelding «A & B»", 1412, 1413, date), ("andre linje", 1412, 1413, date)]
    corrections["documents"][1]["links"][1]["tgt_ids"] = [2]  # a sentence of the other document
    with pytest.raises(AlignerError, match="tgt sentence 2 is not in the result"):
        check_corrections(corrections, result, "c.json")
    assert run_cli("review", tmp_path / "corpus").exit_code == 0
    assert (tmp_path / "corpus" / "review.html").exists()


def test_a_batch_result_is_reviewed_by_job(tmp_path):
    (tmp_path / "batch" / "jobs").mkdir(parents=True)
    records = [{**r, "job": job, "id": f"{job}:{k}"} for job in ("a", "b") for k, r in enumerate(RECORDS)]
    (tmp_path / "batch" / "corpus.ru-nb.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    result = read_result(tmp_path / "batch")
    assert [document.key for document in result.documents] == [("a", None, None), ("b", None, None)]
    corrections = {"format": "sentaligner-corrections", "version": 1, "result_sha256": result.sha256,
                   "documents": [{"job": d.key[0], "links": [{"src_ids": r["src_ids"], "tgt_ids": r["tgt_ids"],
                                                              "status": "unreviewed"} for r in d.records]}
                                 for d in result.documents]}
    corrections["documents"][1]["links"][1:2] = [{"src_ids": [1], "tgt_ids": [1], "status": "edited"},
                                                 {"src_ids": [2], "tgt_ids": [], "status": "edited"}]
    check_corrections(corrections, result, "c.json")
    applied = apply_corrections(corrections, result).records
    assert [(r["job"], r.get("id")) for r in applied[29:32]] == [("b", "b:0"), ("b", None), ("b", None)]
    assert "src_post_id" not in applied[30]
    (tmp_path / "batch" / "corpus.de-fr.jsonl").write_text("", encoding="utf-8")
    one_line_error(run_cli("review", tmp_path / "batch"), 2, "a batch of several language pairs")


# ---- in the browser ----

def row(page, link_ids):
    return page.locator(".link").filter(has=page.locator(".ids", has_text=link_ids)).first


def link_states(page):
    return page.evaluate("() => links.map(l => '[' + l.s + ']:[' + l.t + ']/' + l.st)")


def saved_corrections(path):
    corrections = json.loads(path.read_text(encoding="utf-8"))
    return {ids(link): link["status"] for link in corrections["documents"][0]["links"]}, corrections


def check_the_edits(statuses, corrections, tmp_path):
    assert {k: v for k, v in statuses.items() if k in EXPECTED_STATUSES} == EXPECTED_STATUSES
    assert [k for k, v in statuses.items() if v != "unreviewed"] == list(EXPECTED_STATUSES)
    assert len(statuses) == 29 and statuses["[6]:[5]"] == "unreviewed"  # the undone rejection
    (tmp_path / "corrections.json").write_text(json.dumps(corrections), encoding="utf-8")
    result = run_cli("apply", tmp_path / "corrections.json", RESULT, "-f", "jsonl", "-o", tmp_path / "fixed.jsonl")
    assert result.exit_code == 0, result.output
    assert "29 links, 1 confirmed, 2 edited, 1 rejected (left out), 25 not reviewed" in result.stderr
    fixed = [json.loads(line) for line in (tmp_path / "fixed.jsonl").read_text(encoding="utf-8").splitlines()]
    assert fixed == expected_corrected_links()


def open_review(playwright, chromium, url):
    browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(url)
    return browser, page, errors


def test_review_by_mouse_then_apply_gives_the_expected_links_and_a_tmx_readers_accept(tmp_path):
    from lxml import etree
    from playwright.sync_api import sync_playwright
    from translate.storage import tmx

    chromium = browser_or_skip()
    assert run_cli("review", RESULT, "-o", tmp_path / "review.html").exit_code == 0
    with sync_playwright() as playwright:
        browser, page, errors = open_review(playwright, chromium, (tmp_path / "review.html").as_uri())
        assert page.locator("#progress").inner_text() == "0 of 29 links reviewed"
        row(page, "[1,2]:[1]").click()
        page.click("#split")
        assert page.locator("#message").inner_text() == "split into 2 links, sentence by sentence"
        row(page, "[2]:[]").click()
        page.click("#untranslated")
        row(page, "[3]:[2]").click()
        page.click("#merge-next")
        row(page, "[5]:[4]").click()
        page.click("#reject")
        row(page, "[6]:[5]").click()
        page.click("#reject")
        page.click("#undo")
        assert page.locator("#progress").inner_text() == "4 of 29 links reviewed"
        assert page.locator(".link.st-rejected .side.src").inner_text().endswith(RECORDS[4]["src"])
        page.screenshot(path=str(tmp_path / "review.png"))
        with page.expect_download() as download:
            page.click("#save")
        download.value.save_as(tmp_path / "downloaded.json")
        suggested_name = download.value.suggested_filename
        browser.close()
    assert errors == []
    assert suggested_name == "izvestia.ru-nb.corrections.json"
    statuses, corrections = saved_corrections(tmp_path / "downloaded.json")
    check_the_edits(statuses, corrections, tmp_path)
    tmx_run = run_cli("apply", tmp_path / "downloaded.json", RESULT, "-f", "tmx", "-o", tmp_path / "fixed.tmx")
    assert tmx_run.exit_code == 0, tmx_run.output
    pairs = [(r["src"], r["tgt"]) for r in expected_corrected_links() if r["src"] and r["tgt"]]
    assert [(u.source, u.target) for u in tmx.tmxfile.parsefile(str(tmp_path / "fixed.tmx")).units] == pairs
    dtd = etree.DTD(io.StringIO(TMX14_DTD))
    assert dtd.validate(etree.parse(str(tmp_path / "fixed.tmx")))
    done = subprocess.run([hypomnema_python(), "-c", HYPOMNEMA_READER, str(tmp_path / "fixed.tmx")],
                          capture_output=True, text=True, encoding="utf-8")
    assert done.returncode == 0, done.stderr
    units = json.loads(done.stdout)["units"]
    assert [(u["variants"][0][1], u["variants"][1][1]) for u in units] == pairs
    assert units[1]["props"]["x-flags"] == "reviewed" and units[1]["props"]["x-score"] == "1.0000"


KEYBOARD_EDITS = ["ArrowDown", "s",  # split [1,2]:[1]
                  "ArrowDown", "u",  # [2]:[] has no counterpart
                  "ArrowDown", "m",  # merge [3]:[2] with [4]:[3]
                  "ArrowDown", "r",  # reject [5]:[4]; the selection moves on to [6]:[5]
                  "r", "Control+z"]  # reject [6]:[5], and undo that


def test_review_by_keyboard_alone_then_reload_keeps_the_work(tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = browser_or_skip()
    assert run_cli("review", RESULT, "-o", tmp_path / "review.html").exit_code == 0
    with sync_playwright() as playwright:
        browser, page, errors = open_review(playwright, chromium, (tmp_path / "review.html").as_uri())
        page.evaluate("() => { window.mouseEvents = 0; for (const kind of ['mousedown', 'pointerdown', 'mouseup']) "
                      "document.addEventListener(kind, () => window.mouseEvents++, true); }")
        for key in KEYBOARD_EDITS:
            page.keyboard.press(key)
        edited = link_states(page)
        with page.expect_download() as download:
            page.keyboard.press("Control+s")
        download.value.save_as(tmp_path / "downloaded.json")
        assert page.evaluate("() => window.mouseEvents") == 0
        page.keyboard.press("Control+y")  # redo the rejection of [6]:[5]
        assert "[6]:[5]/rejected" in link_states(page)
        page.keyboard.press("Control+z")
        page.reload()  # a closed tab: the work is in local storage
        assert link_states(page) == edited
        assert page.locator("#message").inner_text().startswith("restored the review kept in this browser")
        page.click("#start-over")
        assert page.locator("#progress").inner_text() == "0 of 29 links reviewed"
        assert not page.locator("#keys-help").is_visible()
        page.keyboard.press("?")
        assert page.locator("#keys-help").is_visible() and page.locator("#help").is_visible()
        page.keyboard.press("n")  # the lowest score: []:[23], 0.8857
        assert page.locator(".link.selected .ids").inner_text() == "[]:[23]"
        page.keyboard.press("c")
        page.focus("#queue")
        page.keyboard.press("ArrowDown")  # flagged first: the merged link, then [28]:[28], boilerplate
        assert page.locator(".link.selected .ids").inner_text() == "[1,2]:[1]"
        page.keyboard.press("r")  # back on the links, not in the list
        assert page.locator(".link.st-rejected .ids").all_inner_texts() == ["[1,2]:[1]"]
        browser.close()
    assert errors == []
    statuses, corrections = saved_corrections(tmp_path / "downloaded.json")
    check_the_edits(statuses, corrections, tmp_path)


def test_served_review_saves_beside_the_result_and_refuses_strangers(tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = browser_or_skip()
    shutil.copy(RESULT, tmp_path / "links.jsonl")
    server = ReviewServer(tmp_path / "links.jsonl")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        def request(method, path, body=None, host=f"127.0.0.1:{port}"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(method, path, body=body, headers={"Host": host})
            response = connection.getresponse()
            return response.status, response.read()

        token = server.token
        assert request("GET", "/")[0] == 403 and request("GET", "/?token=wrong")[0] == 403
        assert request("GET", f"/?token={token}", host="attacker.example:80")[0] == 403
        status, answer = request("POST", f"/save?token={token}", body=b'{"format": "sentaligner-corrections"}')
        assert status == 400 and b"corrections version" in answer
        assert not (tmp_path / "links.corrections.json").exists()
        with sync_playwright() as playwright:
            browser, page, errors = open_review(playwright, chromium, server.url)
            for key in KEYBOARD_EDITS:
                page.keyboard.press(key)
            page.keyboard.press("Control+s")
            page.wait_for_function("() => document.getElementById('message').textContent.startsWith('saved to')")
            browser.close()
        assert errors == [] and server.saves == 1
        corrections = read_corrections(tmp_path / "links.corrections.json", read_result(tmp_path / "links.jsonl"))
        check_the_edits({ids(link): link["status"] for link in corrections["documents"][0]["links"]},
                        corrections, tmp_path)
    finally:
        server.shutdown()
        server.server_close()


def test_review_serve_on_a_port_in_use_is_a_one_line_error():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(run_cli("review", RESULT, "--serve", "--port", port), 2, f"cannot serve on 127.0.0.1:{port}")


def test_review_serve_prints_its_url_and_stops_on_ctrl_c(tmp_path):
    import signal
    import urllib.request

    shutil.copy(RESULT, tmp_path / "links.jsonl")
    process = subprocess.Popen([sys.executable, "-m", "sentaligner", "review", str(tmp_path / "links.jsonl"),
                                "--serve"],
                               stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        lines = [process.stderr.readline() for _ in range(3)]
        url = next(line.split()[1] for line in lines if line.startswith("open "))
        assert url.startswith("http://127.0.0.1:") and "token=" in url
        with urllib.request.urlopen(url, timeout=10) as response:
            assert "Ранее схожие заявления" in response.read().decode("utf-8")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert process.stderr.read().strip() == f"stopped; nothing saved to {tmp_path / 'links.corrections.json'}"
    finally:
        process.kill()


def test_boundaries_move_both_ways_and_edits_that_would_break_the_order_are_refused(tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = browser_or_skip()
    assert run_cli("review", RESULT, "-o", tmp_path / "review.html").exit_code == 0
    with sync_playwright() as playwright:
        browser, page, errors = open_review(playwright, chromium, (tmp_path / "review.html").as_uri())

        def after(*keys):
            for key in keys:
                page.keyboard.press(key)
            return link_states(page)[1:3], page.locator("#message").inner_text()

        assert after("ArrowDown", "[") == (["[1]:[1]/edited", "[2,3]:[2]/edited"], "source boundary moved up")
        assert after("]") == (["[1,2]:[1]/edited", "[3]:[2]/edited"], "source boundary moved down")
        assert after("}") == (["[1,2]:[1,2]/edited", "[3]:[]/edited"], "target boundary moved down")
        assert after("{")[0] == ["[1,2]:[1]/edited", "[3]:[2]/edited"]
        assert after("m", "m")[0] == ["[1,2,3,4]:[1,2,3]/edited", "[5]:[4]/unreviewed"]
        assert after("ArrowRight", "u")[1] == ("only the first or the last sentence of a side can be taken out; "
                                               "split the link first")
        assert after("ArrowLeft", "u") == (["[1]:[]/edited", "[2,3,4]:[1,2,3]/edited"],
                                           "source sentence 1 marked untranslated")
        assert after("End", "m")[1] == "no neighbouring link in this document to merge with"
        assert after("End", "]")[1] == "no next link in this document"
        assert after("Home", "s")[1] == "only a link with several sentences on a side splits; U takes a sentence out"
        browser.close()
    assert errors == []


def test_letter_keys_work_with_caps_lock_and_shift(tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = browser_or_skip()
    assert run_cli("review", RESULT, "-o", tmp_path / "review.html").exit_code == 0
    with sync_playwright() as playwright:
        browser, page, errors = open_review(playwright, chromium, (tmp_path / "review.html").as_uri())

        def caps_lock(key):  # what a letter key sends with Caps Lock on and no Shift
            page.evaluate("key => document.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}))", key)

        page.keyboard.press("J")  # Shift+J: down, as j
        caps_lock("M")  # merge with the next link, as m
        assert link_states(page)[1] == "[1,2,3]:[1,2]/edited"
        page.keyboard.press("Shift+M")  # merge with the previous one
        assert link_states(page)[0] == "[0,1,2,3]:[0,1,2]/edited"
        page.keyboard.press("Shift+C")  # confirm, as c, and go on to the next link
        caps_lock("C")
        assert link_states(page)[:2] == ["[0,1,2,3]:[0,1,2]/confirmed", "[4]:[3]/confirmed"]
        browser.close()
    assert errors == []


def test_no_sequence_of_keys_makes_an_invalid_alignment(tmp_path):
    """Four hundred random keys over a result of two post pairs: what the page would save is
    always every sentence in exactly one link, in order, inside its own document."""
    import random

    from playwright.sync_api import sync_playwright

    chromium = browser_or_skip()
    folder = tmp_path / "corpus"
    folder.mkdir()
    second = [{**r, "src_post_id": 5, "tgt_post_id": 6, "date": None} for r in RECORDS[:8]]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS + second), "utf-8")
    assert run_cli("review", folder).exit_code == 0
    result = read_result(folder)
    keys = ["ArrowDown", "ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight", "PageDown", "PageUp", "End", "Home",
            "m", "M", "s", "u", "[", "]", "{", "}", "c", "r", "Control+z", "Control+z", "Control+y"]
    pressed = random.Random(18).choices(keys, k=400)
    with sync_playwright() as playwright:
        browser, page, errors = open_review(playwright, chromium, (folder / "review.html").as_uri())
        states = set()
        for number, key in enumerate(pressed, start=1):
            page.keyboard.press(key)
            if number % 50 == 0:
                corrections = json.loads(page.evaluate("() => correctionsText()"))
                check_corrections(corrections, result, f"after {number} keys")
                states.update(link["status"] for document in corrections["documents"] for link in document["links"])
        browser.close()
    assert errors == []
    assert states == {"unreviewed", "confirmed", "edited", "rejected"}
    applied = apply_corrections(corrections, result)
    assert sum(applied.counts.values()) == sum(len(d["links"]) for d in corrections["documents"])


def split_the_wrong_link(tmp_path):
    """`apply` of a review that only splits `[1,2]:[1]` into `[1]:[1]` and `[2]:[]`: fixed.jsonl."""
    corrections = corrections_for(read_result(RESULT), {1: [{"src_ids": [1], "tgt_ids": [1], "status": "edited"},
                                                            {"src_ids": [2], "tgt_ids": [], "status": "edited"}]})
    (tmp_path / "c.json").write_text(json.dumps(corrections), encoding="utf-8")
    assert run_cli("apply", tmp_path / "c.json", RESULT, "-f", "jsonl", "-o", tmp_path / "fixed.jsonl").exit_code == 0
    return tmp_path / "fixed.jsonl"


def test_corrected_links_are_gold_for_eval(tmp_path):
    """Splitting the one wrong link of the fixture gives the hand-made gold exactly."""
    fixed = split_the_wrong_link(tmp_path)
    against_gold = run_cli("eval", FIXTURES / "izvestia.ru-nb.gold", fixed, "--json")
    assert json.loads(against_gold.stdout)["f1_strict"] == 1.0
    as_gold = json.loads(run_cli("eval", fixed, RESULT, "--json").stdout)
    assert (as_gold["gold_links"], as_gold["test_links"]) == (30, 29)
    assert as_gold["precision_strict"] == pytest.approx(28 / 29)


@pytest.mark.slow
def test_calibrate_fits_a_score_on_corrected_links(tmp_path):
    """The same calibration as from the hand-made gold that the corrected links equal."""
    fixed = split_the_wrong_link(tmp_path)
    files = [FIXTURES / "izvestia.ru.txt", FIXTURES / "izvestia.nb.txt", fixed,
             FIXTURES / "ria.ru.txt", FIXTURES / "ria.nb.txt", FIXTURES / "ria.ru-nb.gold"]
    assert run_cli("calibrate", *files, "-o", tmp_path / "from-review.json").exit_code == 0
    files[2] = FIXTURES / "izvestia.ru-nb.gold"  # what the corrected links equal
    assert run_cli("calibrate", *files, "-o", tmp_path / "from-gold.json").exit_code == 0
    from_review, from_gold = (json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
                              for name in ("from-review", "from-gold"))
    assert from_review["model"] == "e5-small" and from_review == from_gold


@pytest.mark.slow
def test_the_fixture_is_what_align_writes_today():
    """These tests and README's walkthrough start from the fixture: when sentaligner links the
    commentary otherwise, write the fixture anew and check the walkthrough."""
    result = run_cli("align", FIXTURES / "izvestia.ru.txt", FIXTURES / "izvestia.nb.txt", "-f", "jsonl", "-q")
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == RECORDS
