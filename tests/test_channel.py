"""From a channel export to a corpus: the three input formats, language routing, post pairing,
OUTDIR, and errors. The exports are built from seed 000 by tests/make_telegram_fixtures.py."""

import json
import re

import make_telegram_fixtures
import numpy as np
import pytest

from helpers import SEED, one_line_error, run_cli
from sentaligner.channel import align_channel, route_posts
from sentaligner.ingest import Post, read_channel, read_telegram_dump
from sentaligner.language import classify_posts
from sentaligner.pair import PairParams, max_assignment, numbers, pair_posts
from sentaligner.pipeline import split_units

CHANNEL = SEED.parent
INPUTS = {"dump": SEED, "json": CHANNEL / "result.json", "html": CHANNEL / "html"}
UI_NOISE = ("Please open Telegram", "VIEW IN TELEGRAM", "Media is too big", "Download Telegram", "subscribers",
            "2👍1", "3🎉2", "Forwarded from")


@pytest.fixture(scope="module")
def dump_posts():
    return read_channel(SEED)


def test_dump_is_cut_into_its_fourteen_posts_without_ui_noise(dump_posts):
    assert len(dump_posts) == 14
    assert dump_posts[0].text.startswith("⚡️ Under Presidential Decree No. 883")
    assert dump_posts[0].text.endswith("#Russia1Love")  # hashtags stay text
    assert dump_posts[1].text.splitlines()[0] == "🤩Желаем всем нашим норвежским друзьям счастливого Рождества!"
    assert dump_posts[7].text.startswith("🎄Накануне Нового года") and dump_posts[7].text.endswith("эмоций.")
    assert [p.forwarded_from for p in dump_posts].count("Russian MFA 🇷🇺") == 8
    assert [p.position for p in dump_posts] == list(range(14))
    for post in dump_posts:
        assert not any(noise in post.text for noise in UI_NOISE), post.text[:80]
        assert post.text == post.text.strip("\n") and post.date is None
    # ids are the lines where posts start
    lines = SEED.read_text(encoding="utf-8").split("\n")
    assert lines[dump_posts[2].id - 1].startswith("🎙️Комментарий Посольства России")
    assert lines[dump_posts[0].id - 1].startswith("Forwarded from")


def test_post_without_reactions_ends_at_the_next_forward():
    posts = read_telegram_dump("Первый пост без реакций.\nForwarded from Russian MFA 🇷🇺\nSecond post.\n👍2\n")
    assert [(p.text, p.forwarded_from) for p in posts] == [("Первый пост без реакций.", None),
                                                         ("Second post.", "Russian MFA 🇷🇺")]


@pytest.mark.parametrize("kind", ["json", "html"])
def test_exports_hold_the_same_posts_as_the_dump(dump_posts, kind):
    posts = read_channel(INPUTS[kind])
    with_text = [p for p in posts if p.text]
    assert [p.text for p in with_text] == [p.text for p in dump_posts]
    assert [p.forwarded_from for p in with_text] == [p.forwarded_from for p in dump_posts]
    assert all(p.date and p.date.startswith("2025-12-") for p in posts)
    assert [p.id for p in posts] == sorted(p.id for p in posts) and posts[0].id == 1401
    assert sum(1 for p in posts if not p.text) == 1  # the photo without a caption


def test_fixture_exports_are_what_the_generator_writes(tmp_path):
    written = make_telegram_fixtures.write(tmp_path)
    for path in written:
        committed = CHANNEL / path.relative_to(tmp_path)
        assert path.read_bytes() == committed.read_bytes(), f"regenerate {committed}"


def test_languages_of_the_seed_posts(dump_posts):
    languages = classify_posts([p.text for p in dump_posts])
    assert [link.lang for link in languages] == ["en", "ru+nb", "ru", "nb", "en", "en", "en", "ru", "ru", "nb",
                                           "en", "en", "en", "en"]
    christmas = languages[1].parts
    assert christmas == {"ru": "🤩Желаем всем нашим норвежским друзьям счастливого Рождества!",
                         "nb": "🤩Vi ønsker alle våre norske venner å ha en gledelig Jul!"}


def test_a_russian_post_quoting_one_norwegian_line_is_not_bilingual():
    text = ("Посол России принял участие в конференции по вопросам Арктики в Тромсё. В своём выступлении он "
            "подчеркнул важность сотрудничества в регионе и сохранения диалога.\n"
            "Det var en god dag.\n"
            "Также посол встретился с представителями местных властей и обсудил перспективы развития связей.")
    assert classify_posts([text])[0].lang == "ru"


def test_numbers_read_decimal_commas_alike():
    assert numbers("протяженность 197,7 км. в 2026 г.") == numbers("197.7 km lang i 2026") == {"197.7", "2026"}


def unit(vector):
    vector = np.asarray(vector, dtype=float)
    return vector / np.linalg.norm(vector)


def test_pairing_is_one_to_one_and_leaves_weak_candidates_unpaired():
    rng = np.random.default_rng(7)
    topics = [unit(rng.normal(size=16)) for _ in range(3)]
    ru = [Post(1, "Визит 12 марта 2026 г.", position=0), Post(3, "Встреча 4 апреля.", position=2),
          Post(5, "Праздник без чисел.", position=4)]
    nb = [Post(2, "Besøket 12. mars 2026.", position=1), Post(4, "Møtet 4. april.", position=3)]
    ru_vectors = np.stack([topics[0], topics[1], topics[2]])
    nb_vectors = np.stack([unit(topics[0] + 0.2 * rng.normal(size=16)), unit(topics[1] + 0.2 * rng.normal(size=16))])
    mean_ru, mean_nb = ru_vectors.mean(0), nb_vectors.mean(0)
    pairs, best = pair_posts(ru, nb, ru_vectors, nb_vectors, mean_ru, mean_nb)
    assert sorted((ru[p.ru].id, nb[p.nb].id) for p in pairs) == [(1, 2), (3, 4)]
    assert all(p.confidence >= 0.5 for p in pairs)
    assert pairs[0].evidence["numbers"]["shared"] == ["12", "2026"]
    assert ("ru", 2) in best and best[("ru", 2)]["confidence"] < 0.5
    strict = PairParams(threshold=0.9999)
    assert pair_posts(ru, nb, ru_vectors, nb_vectors, mean_ru, mean_nb, strict)[0] == []


def test_assignment_without_conflicts_is_the_optimum_scipy_finds():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(3)
    shortcuts = 0
    for _ in range(300):
        gain = np.maximum(rng.normal(size=(rng.integers(1, 7), rng.integers(1, 7))) - 0.8, 0.0)
        rows, cols = max_assignment(gain)
        best_rows, best_cols = linear_sum_assignment(gain, maximize=True)
        assert len(set(cols.tolist())) == len(cols)
        assert gain[rows, cols].sum() == pytest.approx(gain[best_rows, best_cols].sum())
        row_best = gain[gain.max(axis=1) > 0].argmax(axis=1)
        shortcuts += len(set(row_best.tolist())) == len(row_best)
    assert 50 < shortcuts < 300  # both ways were taken


# ---- the whole command, with the bundled encoder ----

def pair_summary(outdir):
    pairs = [json.loads(line) for line in (outdir / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    return [(p["ru"]["text"][:24], p["nb"]["text"][:24], p["ru"]["id"] == p["nb"]["id"]) for p in pairs]


EXPECTED_PAIRS = [
    ("🤩Желаем всем нашим норве", "🤩Vi ønsker alle våre nor", True),  # the Christmas greeting, one post
    ("🎙️Комментарий Посольства", "🎙️Kommentar fra Russland", False),  # the Izvestia commentary
    ("🎙Комментарий Посла Росси", "Kommentar fra Russlands ", False),  # the ambassador's RIA Novosti comment
]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dump", "json", "html"])
def test_seed_channel_gives_exactly_the_three_pairs(tmp_path, kind):
    outdir = tmp_path / "corpus"
    result = run_cli("channel", INPUTS[kind], "-o", outdir, "-f", "tmx", "-f", "tsv")
    assert result.exit_code == 0, result.output
    assert pair_summary(outdir) == EXPECTED_PAIRS
    assert "3 pairs (1 inside a bilingual post)" in result.output
    summary = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    tmx_text = (outdir / "corpus.tmx").read_text(encoding="utf-8")
    assert f'<prop type="x-signature">{summary["signature"]}</prop>' in tmx_text
    assert tmx_text.count("<seg>🔗 Читать полностью</seg>") == 1  # the boilerplate of two posts, once
    assert summary["exported"]["tmx"]["duplicates_left_out"] == 1
    assert "tmx: 1 pair that occurred before with the same texts left out" in result.output
    assert sorted(p.name for p in outdir.iterdir()) == ["corpus.jsonl", "corpus.tmx", "corpus.tsv", "pairs.jsonl",
                                                        "summary.json", "unpaired.jsonl"]
    unpaired = [json.loads(line) for line in (outdir / "unpaired.jsonl").read_text(encoding="utf-8").splitlines()]
    english = [u for u in unpaired if u["lang"] == "en"]
    assert len(english) == 8 and all(u["reason"].startswith("English") for u in english)
    barentsburg = [u for u in unpaired if u["text"].startswith("🎄Накануне Нового года")]
    assert len(barentsburg) == 1 and barentsburg[0]["reason"] == "no Norwegian version found"
    pairs = [json.loads(line) for line in (outdir / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    ids_in_pairs = {p[side]["id"] for p in pairs for side in ("ru", "nb")}
    assert not ids_in_pairs & {u["id"] for u in english}
    links = [json.loads(line) for line in (outdir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert ({(link["src_post_id"], link["tgt_post_id"]) for link in links}
            == {(p["ru"]["id"], p["nb"]["id"]) for p in pairs})
    assert sum(1 for link in links if link["src_post_id"] == pairs[1]["ru"]["id"]) >= 28  # Izvestia, 29 + 29 units
    christmas = [link for link in links if link["src_post_id"] == pairs[0]["ru"]["id"]]
    assert [link["type"] for link in christmas] == ["1-1"] and christmas[0]["score"] > 0.8


class CountingEncoder:
    """The bundled encoder, keeping every text it is given."""

    def __init__(self, encoder):
        self.encoder, self.seen = encoder, []
        self.name, self.signature, self.dim = encoder.name, encoder.signature, encoder.dim
        self.calibration, self.random_distance = encoder.calibration, encoder.random_distance

    def encode(self, texts):
        self.seen += texts
        return self.encoder.encode(texts)


@pytest.mark.slow
def test_each_sentence_is_embedded_once_for_pairing_and_alignment(dump_posts, e5):
    encoder = CountingEncoder(e5)
    stages = []

    def stage(name, total):
        stages.append((name, total))
        return lambda done: None

    result = align_channel(dump_posts, encoder, stage=stage)
    assert [(p["ru"]["text"][:24], p["nb"]["text"][:24], p["ru"]["id"] == p["nb"]["id"])
            for p in result.pairs] == EXPECTED_PAIRS
    routed = route_posts(dump_posts)
    sentences = {text for posts, lang in ((routed.ru, "ru"), (routed.nb, "nb"),
                                          ([ru for _, ru, _ in routed.bilingual], "ru"),
                                          ([nb for _, _, nb in routed.bilingual], "nb"))
                 for post in posts for text in split_units(post.text, lang, False).texts}
    assert len(encoder.seen) == len(set(encoder.seen)) == result.stats["strings_embedded_total"]
    assert set(encoder.seen) <= sentences  # no post opening, no English post
    assert [name for name, _ in stages] == ["identifying languages", "embedding sentences", "pairing posts",
                                            "aligning pairs"]
    assert stages[0][1] == len(dump_posts) and stages[1][1] == len(set(encoder.seen)) and stages[3][1] == 3


def test_only_english_is_an_error_without_outdir(tmp_path):
    english = tmp_path / "english.txt"
    english.write_text("Forwarded from Russian MFA 🇷🇺\nThe Foreign Minister met his counterpart in Geneva "
                       "to discuss the situation in the region.\n👍2\n", encoding="utf-8")
    one_line_error(run_cli("channel", english, "-o", tmp_path / "out"), 5, "no Russian–Norwegian post pair")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["english.txt"]


@pytest.mark.parametrize("name, content, fragment", [
    ("broken.json", '{"name": "x", "messages": [{"id": 1, "type": "message", "text": "Привет"', "not JSON"),
    ("nomessages.json", '{"name": "x", "chats": {"list": []}}', "no 'messages' list"),
    pytest.param("deep.json", '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply",
                 id="deeply-nested-json"),
    ("empty.txt", "\n\n   \n", "is empty"),
    ("noise.txt", "Please open Telegram to view this post\nVIEW IN TELEGRAM\n👍1\n", "no post with text"),
    ("page.html", "<html><body><p>Not an export</p></body></html>", "no Telegram messages found"),
])
def test_bad_channel_inputs_fail_cleanly_without_outdir(tmp_path, name, content, fragment):
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    one_line_error(run_cli("channel", source, "-o", tmp_path / "out"), 2, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_folder_that_is_no_export(tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    one_line_error(run_cli("channel", tmp_path, "-o", tmp_path / "out"), 2, "not a Telegram Desktop export")


def test_existing_outdir_needs_force_and_a_failed_run_keeps_it(tmp_path, monkeypatch):
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "pairs.jsonl").write_text("previous\n", encoding="utf-8")
    one_line_error(run_cli("channel", SEED, "-o", outdir), 4, "use --force")

    import sentaligner.cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sentaligner.cli, "align_channel", interrupted)
    result = run_cli("channel", SEED, "-o", outdir, "--force")
    assert result.exit_code != 0
    assert (outdir / "pairs.jsonl").read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_interrupted_writing_leaves_no_partial_outdir(tmp_path, monkeypatch):
    import sentaligner.channel
    from sentaligner.channel import ChannelResult, write_channel
    from sentaligner.errors import OutputError
    from sentaligner.export import ExportOptions

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sentaligner.channel, "export_links", broken)
    result = ChannelResult([{"ru": {}, "nb": {}}], [], [{"src": "a", "tgt": "b"}], "sig", {})
    with pytest.raises(OutputError, match="No space left"):
        write_channel(result, tmp_path / "out", ["tmx"], ExportOptions())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_channel_report_lists_the_unpaired_posts_with_their_reasons(tmp_path):
    result = run_cli("channel", SEED, "-o", tmp_path / "corpus", "--report", "-q")
    assert result.exit_code == 0 and result.output == ""
    page = (tmp_path / "corpus" / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="unpaired">'):]
    assert "9 posts are not in the corpus: 8 English: not part of the corpus; 1 no Norwegian version found." in section
    first = re.search(r"<tbody><tr>(.*?)</tr>", section, re.S).group(1)
    assert "no Norwegian version found" in first and "🎄Накануне Нового года" in first
