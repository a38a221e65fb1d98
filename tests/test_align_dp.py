"""The DP on synthetic embeddings whose right answer is known by construction."""

from collections import defaultdict

import numpy as np
import pytest

from sentaligner.dp import AlignParams, align_vectors, link_types

DIM = 64


def random_units(rng, count):
    return normalized(rng.normal(size=(count, DIM)))


def normalized(vectors):
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def merged(vectors, lengths):
    """The vector the sentaligner assumes for a merged span (length-weighted sum, normalized)."""
    total = (vectors * np.sqrt(lengths)[:, None]).sum(0)
    return total / np.linalg.norm(total)


def links_of(src, tgt, src_len=None, tgt_len=None, **params):
    src_len = np.full(len(src), 80.0) if src_len is None else src_len
    tgt_len = np.full(len(tgt), 80.0) if tgt_len is None else tgt_len
    return [(link.src, link.tgt) for link in align_vectors(src, tgt, src_len, tgt_len, AlignParams(**params))]


def assert_complete(links, n, m):
    assert [i for s, _ in links for i in s] == list(range(n))
    assert [j for _, t in links for j in t] == list(range(m))


def test_identical_texts_align_one_to_one():
    vectors = random_units(np.random.default_rng(0), 30)
    assert links_of(vectors, vectors) == [((i,), (i,)) for i in range(30)]


def test_one_to_two_and_two_to_one():
    rng = np.random.default_rng(1)
    tgt = random_units(rng, 12)
    lengths = np.full(12, 80.0)
    # source 3 is the translation of targets 3+4; source 8+9 of target 9
    src = list(tgt[:3]) + [merged(tgt[3:5], lengths[3:5])] + list(tgt[5:9])
    split_parts = random_units(rng, 2)
    src += list(split_parts)
    tgt[9] = merged(split_parts, np.full(2, 80.0))
    src += list(tgt[10:])
    src = np.array(src)
    links = links_of(src, tgt)
    assert ((3,), (3, 4)) in links
    assert ((8, 9), (9,)) in links
    assert_complete(links, len(src), len(tgt))


def test_deletion_and_insertion():
    rng = np.random.default_rng(2)
    shared = random_units(rng, 20)
    extra = random_units(rng, 2)
    src = np.vstack([shared[:7], extra[:1], shared[7:]])  # source 7 has no translation
    tgt = np.vstack([shared[:15], extra[1:], shared[15:]])  # target 15 has no original
    links = links_of(src, tgt)
    assert ((7,), ()) in links
    assert ((), (15,)) in links
    assert links.count(((), (15,))) == 1
    assert sum(1 for s, t in links if s and t) == 20


def test_an_unrelated_block_is_not_glued_into_one_link():
    """Four source and four target sentences between anchors, none a translation of another: no
    link there joins several sentences on both sides (telling such pairs from translations is the
    score's match part, test_score.py)."""
    rng = np.random.default_rng(13)
    shared = random_units(rng, 10)
    src = np.vstack([shared[:5], random_units(rng, 4), shared[5:]])
    tgt = np.vstack([shared[:5], random_units(rng, 4), shared[5:]])
    found = align_vectors(src, tgt, np.full(14, 80.0), np.full(14, 80.0), AlignParams())
    links = [(link.src, link.tgt) for link in found]
    assert links[:5] == [((i,), (i,)) for i in range(5)] and links[-5:] == [((i,), (i,)) for i in range(9, 14)]
    block = found[5:-5]
    assert block and all(len(link.src) < 2 or len(link.tgt) < 2 for link in block)


def test_long_run_of_deletions():
    rng = np.random.default_rng(3)
    shared = random_units(rng, 10)
    src = np.vstack([shared[:5], random_units(rng, 12), shared[5:]])
    links = links_of(src, shared)
    assert [((i,), ()) for i in range(5, 17)] == [link for link in links if not link[1]]
    assert ((17,), (5,)) in links


def test_one_side_empty():
    vectors = random_units(np.random.default_rng(4), 3)
    empty = np.zeros((0, DIM))
    assert links_of(vectors, empty) == [((0,), ()), ((1,), ()), ((2,), ())]
    assert links_of(empty, vectors) == [((), (0,)), ((), (1,)), ((), (2,))]
    assert links_of(empty, empty) == []


def test_stray_short_unit_is_skipped_not_merged():
    rng = np.random.default_rng(5)
    shared = random_units(rng, 8)
    stray = random_units(rng, 1)
    tgt = np.vstack([shared[:4], stray, shared[4:]])
    tgt_len = np.full(9, 80.0)
    tgt_len[4] = 1.0  # a lone letter left by editing
    links = links_of(shared, tgt, tgt_len=tgt_len)
    assert ((), (4,)) in links


def test_merges_respect_max_merge_and_output_is_deterministic():
    rng = np.random.default_rng(6)
    src, tgt = random_units(rng, 40), random_units(rng, 47)
    first = links_of(src, tgt, max_merge=3)
    assert first == links_of(src, tgt, max_merge=3)
    assert all(len(s) + len(t) <= 3 for s, t in first)
    assert_complete(first, 40, 47)


def test_link_types():
    assert sorted(link_types(3)) == [(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)]
    assert len(link_types(8)) == 2 + 28
    with pytest.raises(ValueError):
        link_types(1)


def test_alignment_may_start_and_end_with_skips():
    rng = np.random.default_rng(7)
    shared = random_units(rng, 6)
    extra = random_units(rng, 3)
    tgt = np.vstack([extra[:2], shared, extra[2:]])
    links = links_of(shared, tgt)
    assert links[:2] == [((), (0,)), ((), (1,))]
    assert links[-1] == ((), (8,))


@pytest.mark.parametrize("n, m", [(300, 300), (300, 360), (410, 290)])
def test_banded_search_matches_exact_search(n, m):
    rng = np.random.default_rng(n + m)
    shared = random_units(rng, min(n, m))
    src = np.vstack([shared, random_units(rng, n - len(shared))]) if n > m else shared
    tgt = np.vstack([shared[:100], random_units(rng, m - len(shared)), shared[100:]]) if m > n else shared
    exact = links_of(src, tgt)
    banded = links_of(src, tgt, max_exact_cells=0)
    assert banded == exact
    assert_complete(banded, n, m)


def test_larger_merges_two_to_two_and_one_to_three():
    rng = np.random.default_rng(8)
    a, b, c, d, e, f, g = random_units(rng, 7)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    before, after = random_units(rng, 3), random_units(rng, 3)
    # 2-2: the sentences are cut differently, only the two together say the same
    # 1-3: one source sentence says what three target sentences say
    src = np.vstack([before, unit(a + b), unit(c + d), unit(e + f + g), after])
    tgt = np.vstack([before, unit(a + c), unit(b + d), e, f, g, after])
    links = links_of(src, tgt)
    assert ((3, 4), (3, 4)) in links
    assert ((5,), (5, 6, 7)) in links
    assert_complete(links, len(src), len(tgt))


def reference_cost(costs, a, i, b, k):
    """The link cost of dp.py's docstring, computed directly from span vectors for one cell."""
    p = costs.params
    x = costs.src.get(a, np.array([i]))
    y = costs.tgt.get(b, np.array([k]))
    _, dist = costs.distances(x, y)
    src_chars = costs.src_len[i:i + a].sum()
    tgt_chars = costs.tgt_len[k:k + b].sum()
    half = np.exp(costs.log_ratio / 2)  # 10 characters of padding, split by the typical ratio
    misfit = abs(np.log((tgt_chars + 10.0 * half) / (src_chars + 10.0 / half)) - costs.log_ratio)
    cost = (a + b) / 2 * (dist[0, 0] + p.length_weight * misfit) + p.merge_penalty * (a + b - 2)
    if a + b > 2:
        _, parts = costs.distances(costs.src.sentences[i:i + a], y)
        cost += p.component_weight * np.maximum(0.0, parts[:, 0] - p.component_threshold).sum() if a > 1 else 0.0
        _, parts = costs.distances(x, costs.tgt.sentences[k:k + b])
        cost += p.component_weight * np.maximum(0.0, parts[0] - p.component_threshold).sum() if b > 1 else 0.0
    return cost


def test_band_costs_are_the_documented_link_cost():
    from sentaligner.dp import LinkCosts, SpanVectors, band_around, band_link_costs

    rng = np.random.default_rng(11)
    src, tgt = random_units(rng, 40), random_units(rng, 47)
    src_len, tgt_len = rng.uniform(5, 300, 40), rng.uniform(5, 300, 47)
    costs = LinkCosts(SpanVectors(src, src_len), SpanVectors(tgt, tgt_len), src_len, tgt_len,
                   AlignParams(random_distance=0.2))
    types = [t for t in link_types(8) if t[0] > 0]
    diagonal = [(i, 1, min(46, i), 1) for i in range(40)]
    lo, hi = band_around(diagonal, 40, 47, 5)
    band = band_link_costs(costs, types, lo, hi)
    checked = 0
    for t, (a, b) in enumerate(types):
        for i in range(0, 41 - a, 3):
            for k in range(lo[i], hi[i] + 1, 2):
                if b == 0 or k + b > 47:
                    continue
                assert band[t, i, k - lo[i]] == pytest.approx(reference_cost(costs, a, i, b, k), rel=1e-5, abs=1e-5)
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize("n, m", [(300, 320), (333, 290)])
def test_coarse_to_fine_search_matches_exact_search(monkeypatch, n, m):
    import sentaligner.dp

    monkeypatch.setattr(sentaligner.dp, "COARSE_UNITS", 30)  # several levels of pooling
    rng = np.random.default_rng(n * m)
    shared = random_units(rng, min(n, m))
    extra = random_units(rng, abs(n - m))
    src = shared if n <= m else np.vstack([shared[:150], extra, shared[150:]])
    tgt = shared if m <= n else np.vstack([shared[:120], extra, shared[120:]])
    src_len, tgt_len = rng.uniform(20, 200, n), rng.uniform(20, 200, m)
    noisy = tgt + rng.normal(scale=0.4 / np.sqrt(DIM), size=tgt.shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    exact = links_of(src, noisy, src_len, tgt_len)
    coarse = links_of(src, noisy, src_len, tgt_len, max_exact_cells=0)
    assert coarse == exact
    assert_complete(coarse, n, m)


def test_shared_numbers_tip_a_close_call_towards_the_merge_that_keeps_them_together():
    from sentaligner.score import number_masks

    rng = np.random.default_rng(5)
    tgt = random_units(rng, 10)
    lengths = np.full(10, 80.0)
    src = tgt.copy()
    leaning = tgt[3] + 0.25 * tgt[4]  # source 3 says what targets 3 and 4 say, 4 only faintly
    src[3] = leaning / np.linalg.norm(leaning)
    src = np.delete(src, 4, axis=0)
    src_texts, tgt_texts = ["-"] * 9, ["-"] * 10
    src_texts[3], tgt_texts[3], tgt_texts[4] = "1955 erstiegen, 8848 m hoch", "haut de 8848 m", "en 1955"
    plain = align_vectors(src, tgt, lengths[:9], lengths)
    counted = align_vectors(src, tgt, lengths[:9], lengths, AlignParams(), number_masks(src_texts),
                            number_masks(tgt_texts))
    assert [(link.src, link.tgt) for link in plain if 3 in link.src] == [((3,), (3,))]
    assert [(link.src, link.tgt) for link in counted if 3 in link.src] == [((3,), (3, 4))]
    without_weight = align_vectors(src, tgt, lengths[:9], lengths, AlignParams(number_weight=0.0),
                                   number_masks(src_texts), number_masks(tgt_texts))
    assert [(link.src, link.tgt) for link in without_weight if 3 in link.src] == [((3,), (3,))]
    # a side without numbers is no evidence: the same case with target 3 holding none stays 1-1
    tgt_texts[3] = "tout en haut"
    unclear = align_vectors(src, tgt, lengths[:9], lengths, AlignParams(), number_masks(src_texts),
                            number_masks(tgt_texts))
    assert [(link.src, link.tgt) for link in unclear if 3 in link.src] == [((3,), (3,))]


@pytest.mark.parametrize("seed", [0, 1, 2, 4, 9, 18, 26, 28])  # 9 and up: the decoded path is not the cheapest
def test_link_posteriors_and_the_decoded_path_equal_those_of_paths_counted_one_by_one(seed):
    from sentaligner.dp import Band, LinkCosts, SpanVectors, full_band

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    src, tgt = random_units(rng, n), random_units(rng, m)
    src_len, tgt_len = rng.integers(5, 60, n).astype(float), rng.integers(5, 60, m).astype(float)
    costs = LinkCosts(SpanVectors(src, src_len), SpanVectors(tgt, tgt_len), src_len, tgt_len, AlignParams(max_merge=4))
    types = [(a, b) for a, b in link_types(4) if a]
    band = Band(n, m, types, costs, *full_band(n, m))

    def cost(i, a, j, b):
        return costs.skip_tgt[j] if a == 0 else float(band.link_costs[types.index((a, b)), i, j])

    paths = []

    def walk(i, j, links):
        if (i, j) == (n, m):
            paths.append(links)
        for a, b in [(0, 1)] + types:
            if i + a <= n and j + b <= m and np.isfinite(cost(i, a, j, b)):
                walk(i + a, j + b, links + [(i, a, j, b)])

    walk(0, 0, [])
    totals = np.array([sum(cost(*link) for link in path) for path in paths])
    temperature = 0.3
    weights = np.exp(-(totals - totals.min()) / temperature)
    weights /= weights.sum()
    best = band.best_path()
    assert best == paths[int(totals.argmin())]
    posterior: defaultdict = defaultdict(float)
    for weight, path in zip(weights, paths, strict=True):
        for link in path:
            posterior[link] += weight
    assert np.allclose(band.path_posteriors(best, temperature), [posterior[link] for link in best])
    # minimum Bayes risk: the path whose links' posteriors, less the threshold, sum highest
    gain = [sum(posterior[link] - 0.5 for link in path) for path in paths]
    band.costs_to_posterior_gains(temperature, 0.5)
    decoded = band.best_path()
    assert decoded in paths
    assert sum(posterior[link] - 0.5 for link in decoded) == pytest.approx(max(gain))
    assert np.allclose(band.gained_posteriors(decoded), [posterior[link] for link in decoded])
    if seed >= 9:
        assert decoded != best


def test_a_merge_the_lengths_confirm_is_more_certain_than_one_they_contradict():
    rng = np.random.default_rng(7)
    src = random_units(rng, 10)
    tgt = np.delete(src.copy(), 5, axis=0)
    tgt[4] = merged(src[4:6], np.array([80.0, 80.0]))  # target 4 translates sources 4 and 5
    certainty = {}
    for length in (60.0, 160.0):  # target 4 much shorter than the two sources, or as long
        tgt_len = np.full(9, 80.0)
        tgt_len[4] = length
        links = align_vectors(src, tgt, np.full(10, 80.0), tgt_len, AlignParams(posterior_temperature=0.1))
        merge = next(link for link in links if link.src == (4, 5))
        assert merge.tgt == (4,)
        certainty[length] = merge.posterior
        assert all(0.99 < link.posterior <= 1.0 for link in links if link is not merge)
    # the doubt, 1 - posterior, of the merge the lengths contradict is many times the other's (14x
    # here; 20x at target length 80 when merges cost 0.4 a sentence, before they cost 0.3)
    assert 1 - certainty[60.0] > 0.05 and 1 - certainty[60.0] > 10 * (1 - certainty[160.0])


def concept_spans(src_concepts, tgt_concepts, movable=None):
    """ExactSpans where each sentence carries a set of concepts and a joined span matches the
    other side by the share of concepts both hold (Jaccard): what an exact embedding of the
    joined text measures, with no vectors."""
    from sentaligner.dp import ExactSpans

    def similarity(i, a, j, b):
        left = set().union(*src_concepts[i:i + a])
        right = set().union(*tgt_concepts[j:j + b])
        return len(left & right) / len(left | right)
    return ExactSpans(similarity, movable or (np.ones(len(src_concepts), bool), np.ones(len(tgt_concepts), bool)))


def test_a_skipped_fragment_joins_the_pair_whose_text_it_completes():
    from sentaligner.dp import reattach_skips

    # source 1 ("and demonstrated ...") is the end of target 0; source 3 is a sentence of its own
    src = [{"antennas", "2009"}, {"performance"}, {"glacier"}, {"parking"}]
    tgt = [{"antennas", "2009", "performance"}, {"glacier"}]
    path = [(0, 1, 0, 1), (1, 1, 1, 0), (2, 1, 1, 1), (3, 1, 2, 0)]
    assert reattach_skips(path, concept_spans(src, tgt), 8, 0.0) == [
        (0, 2, 0, 1), (2, 1, 1, 1), (3, 1, 2, 0)]  # the extra sentence (parking) stays a skip
    assert reattach_skips(path, concept_spans(src, tgt), 2, 0.0) == path  # 2-1 is over max_merge 2
    without_a_word = (np.array([True, False, True, True]), np.ones(2, bool))
    assert reattach_skips(path, concept_spans(src, tgt, without_a_word), 8, 0.0) == path


def test_a_run_of_skipped_fragments_joins_one_after_another_and_target_skips_too():
    from sentaligner.dp import reattach_skips

    src = [{"a", "b", "c"}]
    tgt = [{"a"}, {"b"}, {"c"}, {"z"}]  # one sentence cut into three lines, then an untranslated one
    path = [(0, 1, 0, 1), (1, 0, 1, 1), (1, 0, 2, 1), (1, 0, 3, 1)]
    assert reattach_skips(path, concept_spans(src, tgt), 8, 0.0) == [(0, 1, 0, 3), (1, 0, 3, 1)]
    # a margin asks for a clearer gain: joining "b" raises the match from 1/3 to 2/3 only
    assert reattach_skips(path, concept_spans(src, tgt), 8, 0.4) == path


def test_a_negative_margin_lets_a_sentence_join_that_dilutes_the_match_a_little():
    from sentaligner.dp import ExactSpans, reattach_skips

    # joining the short source 1 to the pair lowers the exact match from 0.900 to 0.895: it
    # belongs, but adds a word the embedding weighs a little against the target
    scores = {(0, 1, 0, 1): 0.900, (0, 2, 0, 1): 0.895, (1, 2, 1, 1): 0.5, (2, 1, 1, 1): 0.8}
    exact = ExactSpans(lambda i, a, j, b: scores[(i, a, j, b)], (np.ones(3, bool), np.ones(2, bool)))
    path = [(0, 1, 0, 1), (1, 1, 1, 0), (2, 1, 1, 1)]
    assert reattach_skips(path, exact, 8, 0.0) == path
    assert reattach_skips(path, exact, 8, -0.01) == [(0, 2, 0, 1), (2, 1, 1, 1)]
    assert AlignParams().reattach_margin == -0.02


def test_a_heading_glued_to_the_sentence_before_leaves_it_to_pair_with_the_skipped_heading():
    from sentaligner.dp import trade_edges_for_skips

    # Steinbeck: "3." is skipped and "1.1.2 III" is glued to the last sentence of the chapter
    # before, to which it adds nothing; the two headings pair
    src = [{"wagon", "road"}, {"chapter-3"}, {"morning"}]
    tgt = [{"wagon", "road"}, {"heading-III"}, {"morning"}]
    content = (np.ones(3, bool), np.ones(3, bool))
    path = [(0, 1, 0, 2), (1, 1, 2, 0), (2, 1, 2, 1)]
    assert trade_edges_for_skips(path, concept_spans(src, tgt).similarity, 0.01, content) == [
        (0, 1, 0, 1), (1, 1, 1, 1), (2, 1, 2, 1)]
    # a target sentence that completes the merge stays in it, and the source skip stays a skip
    tgt = [{"wagon"}, {"road"}, {"morning"}]
    assert trade_edges_for_skips(path, concept_spans(src, tgt).similarity, 0.01, content) == path
    # a skip of a unit without content (a separator line) takes nothing
    no_content = (np.array([True, False, True]), np.ones(3, bool))
    tgt = [{"wagon", "road"}, {"heading-III"}, {"morning"}]
    assert trade_edges_for_skips(path, concept_spans(src, tgt).similarity, 0.01, no_content) == path


def test_a_source_skip_and_a_target_skip_side_by_side_pair_unless_one_has_no_content():
    from sentaligner.dp import pair_facing_skips

    path = [(0, 1, 0, 1), (1, 1, 1, 0), (2, 0, 1, 1), (2, 1, 2, 1), (3, 0, 3, 1), (3, 1, 4, 0)]
    content = (np.ones(4, bool), np.ones(4, bool))
    assert pair_facing_skips(path, content) == [(0, 1, 0, 1), (1, 1, 1, 1), (2, 1, 2, 1), (3, 1, 3, 1)]
    # two skips of the same side stay skips; so does a separator line ("* * *") beside a skip
    assert pair_facing_skips([(0, 1, 0, 0), (1, 1, 0, 0)], content) == [(0, 1, 0, 0), (1, 1, 0, 0)]
    separator = (np.ones(4, bool), np.array([True, False, True, True]))
    assert pair_facing_skips(path, separator) == [(0, 1, 0, 1), (1, 1, 1, 0), (2, 0, 1, 1), (2, 1, 2, 1),
                                                  (3, 1, 3, 1)]


def speech_document(rng, target_endings_follow_source: bool):
    """30 sentence pairs, every third ending a quotation on the source side, then a source
    sentence of speech X (ending with a quotation mark) and one more, Y; the target cuts X in
    two, and its second half, a short one that ends the quotation, reads a little more like Y."""
    n = 30
    base = random_units(rng, n + 2)
    u, v = base[n], base[n + 1]
    src = np.vstack([base[:n], u, v])
    tgt = np.vstack([normalized(base[:n] + 0.04 * rng.normal(size=(n, DIM))),
                     normalized(u + 0.025 * rng.normal(size=DIM)), normalized(0.6 * u + 0.8 * v),
                     normalized(v + 0.025 * rng.normal(size=DIM))])
    src_endings = np.array([int(i % 3 == 0) for i in range(n)] + [1, 0])
    tgt_endings = np.array([int(i % 3 == 0) for i in range(n)] + [0, 1, 0])
    if not target_endings_follow_source:
        tgt_endings[:n] = rng.permutation(tgt_endings[:n])
    src_len, tgt_len = np.full(n + 2, 60.0), np.concatenate([np.full(n, 60.0), [50.0, 10.0, 50.0]])
    return src, tgt, src_len, tgt_len, src_endings, tgt_endings


def test_a_block_ends_where_the_quotation_ends_when_the_document_keeps_quotations_alike():
    rng = np.random.default_rng(5)
    src, tgt, src_len, tgt_len, src_endings, tgt_endings = speech_document(rng, True)

    def last_links(params, tgt_endings=tgt_endings):
        links = align_vectors(src, tgt, src_len, tgt_len, params, src_endings=src_endings, tgt_endings=tgt_endings)
        return [(link.src, link.tgt) for link in links][-2:]

    without = AlignParams(ending_weight=0.0)
    assert last_links(without) == [((30,), (30,)), ((31,), (31, 32))]
    assert last_links(AlignParams()) == [((30,), (30, 31)), ((31,), (32,))]
    # where the two sides' endings have nothing to do with each other, the term is about 0
    _, _, _, _, _, shuffled = speech_document(np.random.default_rng(5), False)
    assert last_links(AlignParams(ending_weight=4.0), shuffled) == last_links(without)


def repeated_line_subtitles(rng):
    """30 cues a side, then a short line said three times ("Yes.") and five more cues; the target
    has the short line twice: the one said second is not subtitled. Each cue lasts 2.5 s of 3."""
    base, yes = random_units(rng, 30), random_units(rng, 1)[0]
    src = np.vstack([base[:25], yes, yes, yes, base[25:]])
    tgt = np.vstack([normalized(base[:25] + 0.04 * rng.normal(size=(25, DIM))),
                     normalized(yes + 0.02 * rng.normal(size=(2, DIM))),
                     normalized(base[25:] + 0.04 * rng.normal(size=(5, DIM)))])
    starts = np.arange(len(src)) * 3.0
    src_times = np.stack([starts, starts + 2.5], axis=1)
    tgt_times = np.delete(src_times, 26, axis=0)
    src_len, tgt_len = np.full(len(src), 40.0), np.full(len(tgt), 40.0)
    src_len[25:28], tgt_len[25:27] = 4.0, 3.0
    return src, tgt, src_len, tgt_len, src_times, tgt_times


def test_subtitle_times_tell_which_of_a_repeated_line_has_no_counterpart():
    rng = np.random.default_rng(3)
    src, tgt, src_len, tgt_len, src_times, tgt_times = repeated_line_subtitles(rng)

    def around_the_repeats(src_times=None, tgt_times=None):
        links = align_vectors(src, tgt, src_len, tgt_len, AlignParams(), src_times=src_times, tgt_times=tgt_times)
        return [(link.src, link.tgt) for link in links if set(link.src) & {25, 26, 27}]

    # the vectors alone cannot tell the three apart: two of them merge
    assert around_the_repeats() == [((25,), (25,)), ((26, 27), (26,))]
    with_times = [((25,), (25,)), ((26,), ()), ((27,), (26,))]
    assert around_the_repeats(src_times, tgt_times) == with_times
    # subtitles of another release, running 7 s behind, or at 25 frames a second against 23.976,
    # line up by the links found without the times
    assert around_the_repeats(src_times, tgt_times + 7.0) == with_times
    assert around_the_repeats(src_times, tgt_times * (25 / 23.976) + 7.0) == with_times
    # times that say nothing of which cues go together change nothing
    shuffled = tgt_times.copy()
    shuffled[:, 0] = rng.permutation(shuffled[:, 0])
    shuffled[:, 1] = shuffled[:, 0] + 2.5
    assert around_the_repeats(src_times, shuffled) == around_the_repeats()


def test_the_clock_map_of_subtitles_at_another_frame_rate_ignores_wrong_pairs():
    from sentaligner.dp import _clock_map

    rng = np.random.default_rng(1)
    src = np.sort(rng.uniform(0, 5400, 800))  # cue starts over a 90-minute film
    tgt = src * (25 / 23.976) - 3.0
    paired = tgt.copy()
    wrong = rng.choice(800, 80, replace=False)
    paired[wrong] = rng.uniform(0, 5600, 80)  # one pair in ten is wrong
    assert np.allclose(_clock_map(paired, src)(tgt), src)
    # a rate no frame-rate conversion gives is not believed: the clocks are taken to run alike
    assert np.allclose(_clock_map(src * 2.0, src)(src * 2.0 + 1.0), src * 2.0 + 1.0 - np.median(src))


def test_overlap_classes_grade_the_shared_time_by_thirds():
    from sentaligner.dp import _overlap_classes

    cue = np.array([[0.0, 3.0]])
    others = np.array([[3.0, 5.0], [2.0, 6.0], [1.0, 4.0], [0.0, 3.0], [0.5, 3.0]])
    # apart (touching), 1/6, 2/4, 3/3, 2.5/3 of the time covered together
    assert _overlap_classes(cue, cue, others, others).tolist() == [0, 1, 2, 3, 3]
    # a span runs from its first cue's start to its last cue's end
    assert _overlap_classes(cue, np.array([[4.0, 6.0]]), np.array([[0.0, 3.0]]), np.array([[3.5, 6.0]])).tolist() == [3]


def test_length_padding_follows_the_typical_ratio_so_short_and_long_sentences_fit_alike():
    from sentaligner.dp import LinkCosts, SpanVectors

    # a source script three times denser than the target's (Chinese against English): every
    # target sentence three times as long as its source
    src_len = np.array([8.0, 15.0, 40.0, 120.0, 300.0])
    tgt_len = 3 * src_len
    vectors = random_units(np.random.default_rng(2), 5)
    costs = LinkCosts(SpanVectors(vectors, src_len), SpanVectors(vectors, tgt_len), src_len, tgt_len,
                      AlignParams(random_distance=0.2))
    assert costs.log_ratio == pytest.approx(np.log(3), abs=0.01)
    rows = np.arange(5)
    misfit = costs.length_misfit(1, 1, rows, rows[:, None])[:, 0]
    assert np.all(misfit < 0.02)
    # ten characters on both sides would have made the shortest look as if it wanted half its target
    assert abs(np.log((tgt_len[0] + 10) / (src_len[0] + 10)) - costs.log_ratio) > 0.3


def test_centering_removes_what_a_side_shares_and_keeps_units_without_content_empty():
    from sentaligner.dp import Centering

    rng = np.random.default_rng(4)
    shared = random_units(rng, 1)[0]
    src = random_units(rng, 50) + 2.0 * shared
    src /= np.linalg.norm(src, axis=1, keepdims=True)
    src[7] = 0.0  # a unit without content
    tgt = random_units(rng, 60)
    centering = Centering.of(src, tgt, prior=1.0)
    centered = centering.src(src)
    assert np.all(centered[7] == 0.0)
    content = np.delete(np.arange(50), 7)
    assert np.allclose(np.linalg.norm(centered[content], axis=1), 1.0)
    assert (src[content] @ shared).mean() > 0.8 and abs((centered[content] @ shared).mean()) < 0.1
    # a document of two sentences keeps most of each: the mean is shrunk as if one zero vector more
    pair = random_units(rng, 2)
    kept = Centering.of(pair, pair, prior=1.0).src(pair)
    assert np.all(np.einsum("nd,nd->n", kept, pair) > 0.7)


def test_links_report_the_cosine_of_the_encoders_vectors_not_of_the_centered_ones():
    rng = np.random.default_rng(6)
    src = random_units(rng, 12)
    tgt = src + 0.3 * random_units(rng, 12)
    tgt /= np.linalg.norm(tgt, axis=1, keepdims=True)
    links = align_vectors(src, tgt, np.full(12, 50.0), np.full(12, 50.0))
    assert [(link.src, link.tgt) for link in links] == [((k,), (k,)) for k in range(12)]
    assert [link.similarity for link in links] == pytest.approx([float(src[k] @ tgt[k]) for k in range(12)])


def test_a_link_crossing_a_block_boundary_on_one_side_only_costs_one_merge_more_per_strength():
    from sentaligner.dp import LinkCosts, SpanVectors, band_link_costs, full_band

    rng = np.random.default_rng(5)
    src, tgt = random_units(rng, 12), random_units(rng, 12)
    src_len, tgt_len = rng.uniform(20, 200, 12), rng.uniform(20, 200, 12)
    params = AlignParams(random_distance=0.2)
    src_edges = np.zeros(12)
    src_edges[[4, 8]] = [1, 2]  # a paragraph starts at source 4; a heading at 8
    tgt_edges = np.zeros(12)
    tgt_edges[4] = 1  # and at target 4
    plain = LinkCosts(SpanVectors(src, src_len), SpanVectors(tgt, tgt_len), src_len, tgt_len, params)
    blocks = LinkCosts(SpanVectors(src, src_len), SpanVectors(tgt, tgt_len), src_len, tgt_len, params,
                       src_boundaries=src_edges, tgt_boundaries=tgt_edges)
    types = [(1, 1), (2, 1), (2, 2), (3, 1)]
    lo, hi = full_band(12, 12)
    with np.errstate(invalid="ignore"):  # inf - inf where a link does not fit
        extra = np.nan_to_num(band_link_costs(blocks, types, lo, hi) - band_link_costs(plain, types, lo, hi))
    assert np.allclose(extra[0], 0)  # 1-1 links cross nothing
    assert extra[1, 3, 5] == pytest.approx(0.3)  # source 3-4 crosses the paragraph, target 5 nothing
    assert extra[2, 3, 3] == pytest.approx(0.0, abs=1e-6)  # 3-4 : 3-4, both sides cross it
    assert extra[1, 7, 0] == pytest.approx(0.6)  # source 7-8 crosses the heading: strength 2
    assert extra[3, 1, 6] == pytest.approx(0.0, abs=1e-6)  # source 1-3 stays inside the first paragraph
    assert extra[3, 2, 6] == pytest.approx(0.3)  # source 2-4 crosses into the second; target 6 alone does not
