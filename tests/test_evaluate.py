"""Metrics on cases small enough to count by hand."""

import pytest

from sentaligner.errors import InputError
from sentaligner.evaluate import parse_link, read_alignment, score


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


def test_each_kind_of_wrong_link_on_a_hand_made_case():
    from sentaligner.evaluate import link_errors

    gold = [((0,), (0,)), ((1, 2), (1,)), ((3,), ()), ((4,), (2,)), ((5,), (3,)), ((6,), (4, 5)), ((7,), (6,)),
            ((), (7,)), ((8,), (8,))]
    test = [((0,), (0,)),  # right
            ((1,), (1,)), ((2,), ()),  # a piece of the 2-1 block, and a spurious skip
            ((3, 4), (2,)),  # absorbs the gold skip 3
            ((5, 6), (3, 4, 5)),  # two whole gold links glued
            ((7,), (6, 7)),  # absorbs the gold insertion 7
            ((8,), (8,))]
    kinds = [(error.kind, error.link) for error in link_errors(gold, test)]
    assert kinds == [("piece of a gold block", ((1,), (1,))), ("spurious skip", ((2,), ())),
                     ("absorbed skip", ((3, 4), (2,))), ("gold links merged", ((5, 6), (3, 4, 5))),
                     ("absorbed skip", ((7,), (6, 7)))]
    shifted = [((0,), (0,)), ((1, 2), ()), ((), (1,)), ((3,), ()), ((4, 5), (2,)), ((), (3,)), ((6, 7), (4, 5, 6)),
               ((), (7,)), ((8,), (8,))]
    by_link = {error.link: error for error in link_errors(gold, shifted)}
    assert by_link[((4, 5), (2,))].kind == "boundary shift"  # gold [4]:[2] and [5]:[3] split differently
    assert by_link[((6, 7), (4, 5, 6))].kind == "gold links merged"
    assert by_link[((1, 2), ())].kind == "spurious skip" and by_link[((), (3,))].kind == "spurious skip"
    misplaced = link_errors(gold, [((0,), (8,))])
    assert [error.kind for error in misplaced] == ["misplaced"]
