"""The Python API: `align`, `align_files` and `align_channel` give an `Alignment` whose links are
the command line's, and whose methods (`to_pandas`, `to_dataset`, `write`, `report`) give what
the command line writes."""

import json

import pytest
from lxml import etree

from helpers import FIXTURES, SEED
from sentaligner import Alignment, align, align_channel, align_files
from sentaligner.errors import InputError, UsageError

pytestmark = pytest.mark.slow
FIXTURE_LINKS = [json.loads(line) for line in (FIXTURES / "izvestia.ru-nb.jsonl").read_text(encoding="utf-8")
                 .splitlines()]


@pytest.fixture(scope="module")
def izvestia(e5):
    return align_files(FIXTURES / "izvestia.ru.txt", FIXTURES / "izvestia.nb.txt", model=e5)


def test_align_files_gives_the_links_align_writes(izvestia, e5):
    assert isinstance(izvestia, Alignment) and len(izvestia) == 29
    assert izvestia.links == FIXTURE_LINKS  # what `sentaligner align -f jsonl` wrote
    assert izvestia.signature.startswith("sentaligner-") and "|ru-nb|" in izvestia.signature
    assert izvestia.stats["src_units"] == 29 and izvestia.stats["tgt_units"] == 29
    texts = [(FIXTURES / f"izvestia.{lang}.txt").read_text(encoding="utf-8") for lang in ("ru", "nb")]
    assert align(*texts, model=e5).links == izvestia.links


def test_align_files_checks_the_languages_as_the_command_does(e5):
    with pytest.raises(InputError, match="ria.ru.txt: 98% of its letters are Cyrillic, where nb is written in Latin"):
        align_files(FIXTURES / "izvestia.ru.txt", FIXTURES / "ria.ru.txt", model=e5)


def test_to_pandas_has_a_row_a_link(izvestia):
    pytest.importorskip("pandas")
    frame = izvestia.to_pandas()
    assert list(frame.columns[:8]) == ["src_ids", "tgt_ids", "type", "score", "similarity", "src", "tgt", "flags"]
    assert len(frame) == 29 and frame["score"].tolist() == [link["score"] for link in FIXTURE_LINKS]
    assert frame.loc[1, "src_ids"] == [1, 2] and frame.loc[1, "type"] == "2-1"


def test_to_dataset_holds_the_translation_pairs(izvestia):
    pytest.importorskip("datasets")
    dataset = izvestia.to_dataset()
    pairs = [link for link in FIXTURE_LINKS if link["src"] and link["tgt"]]
    assert len(dataset) == len(pairs) == 28  # the untranslated sentence has no pair
    assert dataset[0]["translation"] == {"ru": pairs[0]["src"], "nb": pairs[0]["tgt"]}
    assert dataset.features["translation"].languages == ["ru", "nb"]


def test_write_takes_the_format_from_the_name_or_as_given(izvestia, tmp_path):
    stats = izvestia.write(tmp_path / "links.tmx")
    assert stats.written == 28
    tmx = etree.parse(str(tmp_path / "links.tmx"))
    assert len(tmx.findall(".//tu")) == 28 and tmx.find("header").get("creationtool") == "sentaligner"
    izvestia.write(tmp_path / "links.jsonl")
    written = [json.loads(line) for line in (tmp_path / "links.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written == FIXTURE_LINKS
    izvestia.write(tmp_path / "kept", "moses", min_score=0.99)
    kept = (tmp_path / "kept.ru").read_text(encoding="utf-8").splitlines()
    assert len(kept) == sum(link["score"] >= 0.99 and bool(link["tgt"]) for link in FIXTURE_LINKS) > 0
    with pytest.raises(UsageError, match="say the format"):
        izvestia.write(tmp_path / "links.out")
    with pytest.raises(Exception, match="exists"):
        izvestia.write(tmp_path / "links.tmx")
    assert izvestia.write(tmp_path / "links.tmx", force=True).written == 28


def test_report_writes_the_page(izvestia, tmp_path):
    page = izvestia.report(tmp_path / "report.html", title="Izvestia").read_text(encoding="utf-8")
    assert "<title>Izvestia</title>" in page and izvestia.signature in page
    assert '<meta name="generator" content="sentaligner ' in page


def test_align_channel_pairs_the_posts_of_the_seed(e5, tmp_path):
    channel = align_channel(SEED, model=e5)
    assert len(channel.pairs) == 3 and len(channel.unpaired) == 9 and len(channel) == 37
    assert all({"src_post_id", "tgt_post_id", "date"} <= set(link) for link in channel.links)
    page = channel.report(tmp_path / "channel.html").read_text(encoding="utf-8")
    assert "post pairs" in page and "unpaired posts" in page.lower()
