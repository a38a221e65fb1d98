"""Flags on links: what a reviewer should look at, on real sentences of seed 000."""

import pytest

from helpers import FIXTURES
from sentaligner import align
from sentaligner.score import link_flags

RU = ("Действительно, некоторое время назад здесь обсуждалось строительство заградительного забора "
      "(протяженность госграницы между Россией и Норвегией составляет 197,7 км.).")
NB = ("For en tid siden ble det faktisk diskutert å bygge et gjerde langs grensen til Russland "
      "(statsgrensen mellom Russland og Norge er 197,7 km lang).")


def flags(src, tgt, merged=False):
    return link_flags(src, tgt, "ru", "nb", 0.0, merged)


def test_a_faithful_translation_has_no_flags():
    assert flags(RU, NB) == []


def test_changed_number_sets_number_mismatch():
    assert flags(RU, NB.replace("197,7", "917,7")) == ["number_mismatch"]


def test_numbers_are_compared_as_values_not_as_written():
    from sentaligner.score import numbers

    assert numbers("197,7 km") == numbers("197.7 km") == {"197.7"}
    assert numbers("3 000 m") == numbers("3'000 m") == numbers("3000 m") == {"3000"}
    assert numbers("8847.60 m") == {"8847.6"} and numbers("1.000 Franken") == {"1.000"}
    assert numbers("2023–2025, nr. 3") == {"2023", "2025", "3"}
    assert flags("Высота 3 000 м.", "Høyde 3000 m.") == []


def test_copy_or_wrong_language_sets_untranslated():
    assert "untranslated" in flags(RU, RU)
    assert "untranslated" in flags(RU, "Действительно, здесь обсуждалось строительство забора (197,7 км).")


def test_length_outlier_boilerplate_and_merged():
    assert "length_outlier" in flags(RU, "Ja, et gjerde (197,7 km).")
    assert flags("🔗 Читать полностью", "🔗 Les mer") == ["boilerplate"]
    assert flags("#Russia1Love", "#Russia1Love")[-1] == "boilerplate"
    assert flags(RU, NB, merged=True) == ["merged"]


@pytest.mark.slow
def test_flags_on_the_aligned_izvestia_commentary(e5):
    ru = (FIXTURES / "izvestia.ru.txt").read_text(encoding="utf-8")
    nb = (FIXTURES / "izvestia.nb.txt").read_text(encoding="utf-8").replace("197,7", "917,7")
    links = align(ru, nb, model=e5).links
    border = next(link for link in links if "917,7" in link["tgt"])
    assert "number_mismatch" in border["flags"]
    assert next(link for link in links if link["src"].startswith("🔗"))["flags"] == ["boilerplate"]
    clean = [link for link in links if link["type"] == "1-1" and not link["flags"]]
    assert len(clean) >= 20  # most links of a faithful translation carry no flag
    copied = align(ru, ru.replace("🎙️Комментарий", "🎙️Kommentar"), model=e5, tgt_lang="nb").links
    assert sum("untranslated" in link["flags"] for link in copied) >= 25
