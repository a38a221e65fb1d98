"""Segmentation of the real posts in seed 000 (razdel for Russian, pysbd's Danish rules for
Norwegian, every line break a hard boundary)."""

import pytest

from helpers import FIXTURES, SEED
from sentaligner.segment import split_sentences


@pytest.fixture(scope="module")
def izvestia():
    return {lang: (FIXTURES / f"izvestia.{lang}.txt").read_text(encoding="utf-8") for lang in ("ru", "nb")}


def texts(text, lang):
    return [s.text for s in split_sentences(text, lang)]


def test_russian_abbreviations_and_numbers_stay_inside_sentences(izvestia):
    ru = [s.replace("\xa0", " ") for s in texts(izvestia["ru"], "ru")]
    assert "Из них 70 млрд.крон/ 6,85 млрд.долл. – на военную помощь." in ru
    assert any(s.startswith("5. Прямые закупки") and "т.н. «норвежской модели»;" in s for s in ru)
    assert "Ранее схожие заявления делались в Осло." in ru
    assert len(ru) == 29


def test_initials_and_emoji_answer_prefix():
    ria = texts((FIXTURES / "ria.ru.txt").read_text(encoding="utf-8"), "ru")
    assert ria[0].startswith("🎙Комментарий Посла России в Норвегии Н.В. Корчунова")
    assert ria[0].endswith("(26 декабря 2025 г.)")
    assert ria[2].startswith("💬 Ответ: Со сдержанным оптимизмом")


def test_norwegian_dates_abbreviations_and_list_items(izvestia):
    nb = texts(izvestia["nb"], "nb")
    assert nb[0] == "🎙️Kommentar fra Russlands ambassade i Norge til avisen Izvestia (23. desember 2025)"
    assert [s[:2] for s in nb if s[:1].isdigit() and s[1] == "."] == ["1.", "2.", "3.", "4.", "5.", "6.", "7."]
    assert "P" in nb  # the stray letter of the post is its own unit
    assert texts("Det gjelder f.eks. fisk og olje. Dette er nr. 3 i rekken.", "no") == [
        "Det gjelder f.eks. fisk og olje.", "Dette er nr. 3 i rekken."]


def test_offsets_point_back_into_the_text():
    text = SEED.read_text(encoding="utf-8")
    for lang in ("ru", "nb"):
        for sentence in split_sentences(text, lang):
            assert text[sentence.start:sentence.end] == sentence.text


def test_line_breaks_are_hard_boundaries():
    assert texts("Первая строка без точки\nВторая строка", "ru") == ["Первая строка без точки", "Вторая строка"]
    assert texts("Linje én\r\n\r\nLinje to", "nb") == ["Linje én", "Linje to"]
    assert texts("", "ru") == [] and texts(" \n\n ", "nb") == []


@pytest.mark.parametrize("name", ["izvestia.nb.txt", "ria.nb.txt"])
def test_a_long_line_splits_as_pysbd_splits_it_whole(name):
    """A line past LONG_LINE goes through pysbd in windows; the sentences are the same."""
    from sentaligner.segment import LONG_LINE, _pysbd_segmenter

    line = " ".join((FIXTURES / name).read_text(encoding="utf-8").split())
    line = " ".join([line] * (3 * LONG_LINE // len(line) + 2))
    assert len(line) > 3 * LONG_LINE
    whole = [s.strip() for s in _pysbd_segmenter("da").segment(line)]
    assert texts(line, "nb") == whole
    assert len(whole) > 30


def test_a_line_of_clauses_without_a_sentence_end_is_one_unit():
    clauses = "; ".join(f"ledd nummer {i}, med komma og et ord som f.eks eller nr {i}" for i in range(3000))
    assert len(clauses) > 100_000  # pysbd alone takes minutes over this (its cost grows as the square)
    assert texts(clauses + "\nNeste linje.", "nb") == [clauses, "Neste linje."]


def test_a_closing_quotation_mark_stays_with_its_sentence():
    """pysbd cuts Chinese before the mark that closes a sentence's speech (`”灵机一动…`, its issue
    99); the mark, and what trails it, go back to the sentence whose quotation it closes."""
    text = ("韦小宝道：“这个我理会得，还有好戏唱吗？”灵机一动，说道：“不过我决不会招你公公出来。”"
            "海老公道：“好，你过来！”“尤其是那个年代，更是传奇中的传奇。” ……他们又谈了一会儿。")
    assert texts(text, "zh") == [
        "韦小宝道：“这个我理会得，还有好戏唱吗？”", "灵机一动，说道：“不过我决不会招你公公出来。”",
        "海老公道：“好，你过来！”", "“尤其是那个年代，更是传奇中的传奇。” ……", "他们又谈了一会儿。"]
    for sentence in split_sentences(text, "zh"):
        assert text[sentence.start:sentence.end] == sentence.text


def test_a_quotation_the_sentence_goes_on_after_is_one_sentence():
    assert texts("Sie zögerte. „Darf ich mitspielen?“, fragte sie leise. Dann ging sie.", "de") == [
        "Sie zögerte.", "„Darf ich mitspielen?“, fragte sie leise.", "Dann ging sie."]
    # an opening mark is not given to the sentence before
    assert texts('He left. "Stop!" she cried. "Now."', "en") == ["He left.", '"Stop!" she cried.', '"Now."']
    assert texts("Он сказал: «Мы готовы. Мы придём». Потом ушёл.", "ru")[-1] == "Потом ушёл."


def test_sentences_inside_a_quotation_are_sentences():
    """pysbd ends no sentence inside quotation marks; the seed's English forward quotes three
    sentences, and they come out as three, the closing mark with the last."""
    line = next(line for line in SEED.read_text(encoding="utf-8").splitlines() if "The Nazis planned" in line)
    quoted = texts(line, "en")
    assert len(quoted) == 3
    assert quoted[0].startswith("“The Nazis planned") and quoted[1].startswith("These crimes of the Nazis")
    assert quoted[2].endswith("international law system”.")
    # dialogue in single quotes, an apostrophe inside a word and a plural's apostrophe left alone
    assert texts("'Very well. Come over here!' Trinket went. 'Come here!' he said. "
                 "He didn't go. The students' books are old.", "en") == [
        "'Very well.", "Come over here!'", "Trinket went.", "'Come here!' he said.", "He didn't go.",
        "The students' books are old."]
    assert texts("Han sa: «Vi er klare. Vi kommer.» Så gikk han.", "nb") == [
        "Han sa: «Vi er klare.", "Vi kommer.»", "Så gikk han."]
