"""Real RU/NB post pairs from seed 000 against hand-made gold.

Gold was made on sentaligner's own segmentation (razdel for Russian, pysbd's Danish rules for
Norwegian, every line break a boundary), checked sentence by sentence: the Izvestia commentary
(29 + 29 units; the Norwegian drops "Ранее схожие заявления делались в Осло." and carries a
stray line "P") and the RIA Novosti comment (7 + 8 units; one Russian question is two
Norwegian sentences)."""

import pytest

from helpers import FIXTURES
from sentaligner import align
from sentaligner.evaluate import read_alignment, score

pytestmark = pytest.mark.slow


def links_for(name, encoder):
    result = align((FIXTURES / f"{name}.ru.txt").read_text(encoding="utf-8"),
                   (FIXTURES / f"{name}.nb.txt").read_text(encoding="utf-8"), model=encoder)
    return result, [(tuple(link["src_ids"]), tuple(link["tgt_ids"])) for link in result.links]


def test_ria_novosti_comment_is_aligned_exactly(e5):
    result, links = links_for("ria", e5)
    assert links == read_alignment(FIXTURES / "ria.ru-nb.gold")
    assert result.links[1]["type"] == "1-2"
    assert all(0.0 <= link["score"] <= 1.0 for link in result.links)


def test_izvestia_commentary_against_gold(e5):
    result, links = links_for("izvestia", e5)
    gold = read_alignment(FIXTURES / "izvestia.ru-nb.gold")
    assert score([gold], [links]).f1_strict >= 0.95
    assert ((), (23,)) in links  # the stray "P" is an insertion, not merged into item 4
    assert ((24,), (24,)) in links
    numbered = [link for link in result.links if link["src"][:2] in {f"{k}." for k in range(1, 8)}]
    assert [link["tgt"][:2] for link in numbered] == [link["src"][:2] for link in numbered]


def test_unrelated_sentence_scores_lower_than_its_translation(e5):
    ru = "Россия и Норвегия возобновили сотрудничество по рыболовству.\nСегодня в Осло идёт снег."
    nb_good = "Russland og Norge har gjenopptatt fiskerisamarbeidet.\nI dag snør det i Oslo."
    nb_bad = "Russland og Norge har gjenopptatt fiskerisamarbeidet.\nKatten sover på sofaen hele dagen."
    good = align(ru, nb_good, model=e5).links
    bad = align(ru, nb_bad, model=e5).links
    assert [link["type"] for link in good] == ["1-1", "1-1"]
    unrelated = next(link for link in bad if "Katten" in link["tgt"])
    assert unrelated["score"] < good[1]["score"]
    assert unrelated["similarity"] < good[1]["similarity"]


def test_align_writes_tmx_and_moses_of_the_real_post(tmp_path):
    from translate.storage import tmx

    from helpers import run_cli

    ru, nb = FIXTURES / "ria.ru.txt", FIXTURES / "ria.nb.txt"
    result = run_cli("align", ru, nb, "-f", "tmx", "-o", tmp_path / "ria.tmx", "--quiet")
    assert result.exit_code == 0, result.output
    units = tmx.tmxfile.parsefile(str(tmp_path / "ria.tmx")).units
    assert len(units) == 7
    assert units[2].source.startswith("💬 Ответ:") and units[2].target.startswith("💬 Svar:")
    assert b"x-signature" in (tmp_path / "ria.tmx").read_bytes()
    result = run_cli("align", ru, nb, "-f", "moses", "-o", tmp_path / "ria", "--quiet")
    assert result.exit_code == 0, result.output
    ru_lines = (tmp_path / "ria.ru").read_text(encoding="utf-8").splitlines()
    nb_lines = (tmp_path / "ria.nb").read_text(encoding="utf-8").splitlines()
    assert list(zip(ru_lines, nb_lines, strict=True)) == [(u.source, u.target) for u in units]
