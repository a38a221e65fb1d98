"""Metrics on cases small enough to count by hand."""

import pytest

from aligner.errors import InputError
from aligner.evaluate import parse_link, read_alignment, score


def test_parse_link():
    assert parse_link("[0]:[0]") == ((0,), (0,))
    assert parse_link("[1, 2]:[3]") == ((1, 2), (3,))
    assert parse_link("[4]:[]") == ((4,), ())
    assert parse_link("[]:[5]:0.42") == ((), (5,))
    for bad in ("[1:[2]", "1:2", "[a]:[1]", "[1,]:[2]"):
        with pytest.raises(ValueError):
            parse_link(bad)


def test_perfect_alignment():
    gold = [((0,), (0,)), ((1, 2), (1,)), ((3,), ())]
    result = score([gold], [gold])
    assert result.f1_strict == result.f1_lax == 1.0


def test_hand_counted_case():
    gold = [((0,), (0,)), ((1,), (1, 2)), ((2,), (3,)), ((), (4,))]
    test = [((0,), (0,)), ((1,), (1,)), ((), (2,)), ((2,), (3, 4))]
    # precision: 4 test links; strict hit [0]:[0] only -> 1/4.
    # lax: [1]:[1] overlaps gold [1]:[1,2]; [2]:[3,4] overlaps [2]:[3]; []:[2] is a miss -> 3/4.
    # recall: 3 gold links non-empty on both sides; strict hit [0]:[0] -> 1/3; lax all 3 -> 3/3.
    result = score([gold], [test])
    assert result.precision_strict == pytest.approx(1 / 4)
    assert result.precision_lax == pytest.approx(3 / 4)
    assert result.recall_strict == pytest.approx(1 / 3)
    assert result.recall_lax == pytest.approx(1.0)
    assert result.f1_strict == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))


def test_counts_are_summed_over_documents():
    doc_a = [((0,), (0,)), ((1,), (1,))]
    doc_b = [((0,), (0,))]
    wrong_b = [((0,), ()), ((), (0,))]
    result = score([doc_a, doc_b], [doc_a, wrong_b])
    assert result.precision_strict == pytest.approx(2 / 4)
    assert result.recall_strict == pytest.approx(2 / 3)


def test_read_alignment_reports_the_bad_line(tmp_path):
    path = tmp_path / "gold"
    path.write_text("[0]:[0]\n[1]:[x]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"gold:2"):
        read_alignment(path)
