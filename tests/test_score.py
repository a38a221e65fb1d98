"""The calibrated link score: features, fitting, metrics, and what it does on real posts."""

import json

import numpy as np
import pytest

from helpers import FIXTURES, run_cli
from sentaligner.errors import InputError, ModelError
from sentaligner.evaluate import (
    auroc,
    calibration_error,
    gold_after_replacement,
    link_labels,
    reliability,
    replaced_units,
)
from sentaligner.score import (
    FEATURES,
    RECOMMENDED_MIN_SCORE,
    check_calibration,
    fit_calibration,
    predict,
    read_calibration,
)


def test_auroc_reliability_and_calibration_error_on_hand_computed_cases():
    assert auroc([0.9, 0.8, 0.3, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.8, 0.3, 0.9], [True, True, False, False]) == 0.25  # of 4 pairs only 0.8 > 0.3
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    scores, right = [0.95, 0.95, 0.15, 0.15], [True, False, False, False]
    assert reliability(scores, right) == [(0.1, 0.2, 2, 0.15, 0.0), (0.9, 1.0, 2, 0.95, 0.5)]
    assert calibration_error(scores, right) == pytest.approx(0.5 * 0.15 + 0.5 * 0.45)


def test_link_labels_strict_and_lax():
    gold = [((0,), (0,)), ((1, 2), (1,)), ((3,), ())]
    links = [{"src_ids": [0], "tgt_ids": [0]}, {"src_ids": [1], "tgt_ids": [1]},
             {"src_ids": [2], "tgt_ids": []}, {"src_ids": [3], "tgt_ids": []}, {"src_ids": [3], "tgt_ids": [1]}]
    assert link_labels(links, gold) == [(True, True), (False, True), (False, False), (True, True), (False, False)]


def test_replaced_units_and_the_gold_that_follows():
    texts = [f"sentence {k}" for k in range(10)]
    changed, replaced = replaced_units(texts, 0.2, seed=1)
    assert len(replaced) == 2 and all(changed[k] == texts[(k + 5) % 10] for k in replaced)
    assert all(changed[k] == texts[k] for k in range(10) if k not in replaced)
    gold = [((0,), (0,)), ((1,), (1, 2)), ((2,), (3,))]
    assert gold_after_replacement(gold, set(), {1, 3}) == [((0,), (0,)), ((1,), (2,)), ((), (1,)), ((2,), ()),
                                                           ((), (3,))]


def test_fit_separates_and_calibrates_synthetic_links():
    rng = np.random.default_rng(0)
    n = 2000
    features = np.zeros((n, len(FEATURES)))
    lax = rng.random(n) < 0.8
    features[:, FEATURES.index("distance")] = np.where(lax, rng.normal(0.45, 0.1, n), rng.normal(0.95, 0.1, n))
    features[:, FEATURES.index("margin")] = 1 + rng.normal(0, 0.05, n)
    confidence = rng.exponential(2.0, n)
    features[:, FEATURES.index("posterior")] = confidence
    strict = lax & (rng.random(n) < 1 / (1 + np.exp(3 * (1 - confidence))))
    fitted = check_calibration(fit_calibration(features, strict, lax), "test")
    scores = predict(fitted, features)
    assert scores.min() >= 0 and scores.max() <= 1
    assert auroc(scores, strict) > 0.85
    assert calibration_error(scores, strict) < 0.05
    assert fitted["match"]["weights"][fitted["match"]["features"].index("distance")] < 0
    with pytest.raises(ValueError):
        fit_calibration(features, np.ones(n, bool), np.ones(n, bool))


def test_a_skip_is_scored_by_its_posterior_alone():
    """The match part judges pairs; a skip's distance to its nearest sentence does not move its score."""
    rng = np.random.default_rng(1)
    n = 1000
    features = np.zeros((n, len(FEATURES)))
    skip = rng.random(n) < 0.2
    lax = skip | (rng.random(n) < 0.8)
    features[:, FEATURES.index("skip")] = skip
    features[:, FEATURES.index("distance")] = np.where(lax & ~skip, rng.normal(0.45, 0.1, n), rng.normal(0.95, 0.1, n))
    features[:, FEATURES.index("posterior")] = rng.exponential(2.0, n)
    strict = lax & (rng.random(n) < 1 / (1 + np.exp(3 * (1 - features[:, FEATURES.index("posterior")]))))
    fitted = fit_calibration(features, strict, lax)
    a_skip = features[np.flatnonzero(skip)[:1]].copy()
    near, far = a_skip.copy(), a_skip.copy()
    near[0, FEATURES.index("distance")], far[0, FEATURES.index("distance")] = 0.2, 1.5
    assert predict(fitted, near) == predict(fitted, far)
    pair = near.copy()
    pair[0, FEATURES.index("skip")] = 0
    assert predict(fitted, pair) > predict(fitted, np.where(np.arange(len(FEATURES)) == FEATURES.index("skip"), 0,
                                                            far))


def test_calibration_files_are_checked(tmp_path):
    assert check_calibration({"midpoint": 0.7, "slope": 9}, "x")["slope"] == 9
    with pytest.raises(ModelError, match="features this version lacks: loudness"):
        check_calibration({"match": {"features": ["loudness"], "mean": [0], "scale": [1], "weights": [1],
                                     "bias": 0}, "granularity": {}}, "x")
    bad = tmp_path / "bad.json"
    for content in ("{not json", "[1, 2]", '{"score": {"match": 1}}', "[" * 100_000 + "]" * 100_000):
        bad.write_text(content, encoding="utf-8")
        with pytest.raises(InputError):
            read_calibration(str(bad))


def test_calibrate_needs_triples_and_a_gold_with_wrong_links(tmp_path):
    result = run_cli("calibrate", "a", "b", "-o", str(tmp_path / "c.json"))
    assert result.exit_code == 2 and "multiple of three" in result.output


# ---- on real posts (slow: the bundled encoder) ----

def _align_changed(ru, nb, e5, store):
    from sentaligner.pipeline import align_units, split_units

    return align_units(split_units(ru, "ru", False), split_units(nb, "nb", False), e5, "ru", "nb", store=store)


@pytest.mark.slow
def test_an_unrelated_sentence_falls_below_the_recommended_threshold(e5):
    from sentaligner.embed import EmbeddingStore
    from sentaligner.segment import split_sentences

    ru = (FIXTURES / "izvestia.ru.txt").read_text(encoding="utf-8")
    nb = (FIXTURES / "izvestia.nb.txt").read_text(encoding="utf-8")
    replaced = ("Dette bekreftes av planlagte fellesaktiviteter og regelmessige møter mellom representanter for "
                 "russiske og norske grensemyndigheter.")
    assert replaced in nb
    stranger = [s.text for s in split_sentences((FIXTURES / "ria.nb.txt").read_text(encoding="utf-8"), "nb")][2]
    store = EmbeddingStore(e5)
    original = _align_changed(ru, nb, e5, store).links
    assert next(link for link in original if replaced in link["tgt"])["score"] >= RECOMMENDED_MIN_SCORE
    changed = _align_changed(ru, nb.replace(replaced, stranger), e5, store).links
    link = next(link for link in changed if stranger in link["tgt"])
    assert link["type"] == "1-1" and link["score"] < RECOMMENDED_MIN_SCORE
    # every long sentence in turn: the stranger is skipped or scored below the threshold
    sentences = [s.text for s in split_sentences(nb, "nb") if len(s.text) >= 30]
    caught = 0
    for sentence in sentences:
        links = _align_changed(ru, nb.replace(sentence, stranger), e5, store).links
        holder = next(link for link in links if stranger in link["tgt"])
        caught += not holder["src_ids"] or holder["score"] < RECOMMENDED_MIN_SCORE
    assert caught >= 0.75 * len(sentences)


@pytest.mark.slow
def test_min_score_leaves_weak_links_out_of_align_and_channel(tmp_path):
    from helpers import SEED

    ru, nb = FIXTURES / "izvestia.ru.txt", FIXTURES / "izvestia.nb.txt"
    every = run_cli("align", ru, nb, "-f", "jsonl", "-q")
    kept = run_cli("align", ru, nb, "-f", "jsonl", "-q", "--min-score", "0.9")
    assert every.exit_code == 0 and kept.exit_code == 0
    scores = [json.loads(line)["score"] for line in every.stdout.splitlines()]
    kept_scores = [json.loads(line)["score"] for line in kept.stdout.splitlines()]
    assert kept_scores == [s for s in scores if s >= 0.9] and len(kept_scores) < len(scores)
    out = tmp_path / "corpus"
    result = run_cli("channel", SEED, "-o", out, "-q", "--min-score", "0.9", "-f", "tmx")
    assert result.exit_code == 0 and result.output == ""  # quiet: no notes of what TMX leaves out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    corpus = [json.loads(line) for line in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert summary["links_below_min_score"] > 0 and summary["links"] == len(corpus)
    assert all(link["score"] >= 0.9 for link in corpus)
    assert (out / "corpus.tmx").read_text(encoding="utf-8").count("<tu>") <= len(corpus)


@pytest.mark.slow
def test_calibrate_on_the_fixtures_writes_a_calibration_align_can_use(tmp_path):
    files = [str(FIXTURES / name) for stem in ("izvestia", "ria")
             for name in (f"{stem}.ru.txt", f"{stem}.nb.txt", f"{stem}.ru-nb.gold")]
    output = tmp_path / "calibration.json"
    result = run_cli("calibrate", *files, "-o", str(output))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr
    record = json.loads(output.read_text(encoding="utf-8"))
    assert record["model"] == "e5-small" and set(record["score"]) >= {"match", "granularity", "fitted_on"}
    aligned = run_cli("align", files[0], files[1], "-f", "jsonl", "-q", "--calibration", output)
    assert aligned.exit_code == 0
    assert all(0 <= json.loads(line)["score"] <= 1 for line in aligned.stdout.splitlines())
    again = run_cli("calibrate", *files, "-o", str(output))
    assert again.exit_code == 4  # exists, no --force


def test_quote_endings_mark_texts_that_end_a_quotation_in_any_script():
    from sentaligner.score import quote_endings

    texts = ["Посол заявил: «Мы готовы к диалогу».", "Han sa: «Vi er klare for dialog»",
             "韦小宝大喜，道：“成了，明儿我准能赢他。”", "'Tomorrow, I win!'", "Trinket was pleased as punch.",
             "the brothers' turn", "", "   ",
             # speech closed after its own final mark, with something trailing; a quoted word
             "他说：“这是传奇中的传奇。” ……", "'Live or die!' )", "形成所谓的‘余烬’。", "what she calls \"home\" ."]
    assert quote_endings(texts).tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0]
