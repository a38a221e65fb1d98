"""The stages wired together, with a deterministic stand-in encoder (no model needed)."""

import hashlib

import numpy as np

from sentaligner.pipeline import align_units, split_units


class BagOfWordsEncoder:
    """Hashes words into a vector: texts sharing words get similar vectors."""

    name = "bag-of-words"
    signature = "bag-of-words|test"
    dim = 256

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim))
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


TEXT = "alpha beta gamma\n\ndelta epsilon zeta\neta theta iota\n\nkappa lambda mu\n"


def test_presplit_ids_are_line_numbers_and_empty_lines_are_left_out():
    units = split_units(TEXT, "ru", presplit=True)
    assert units.ids == [0, 2, 3, 5]
    result = align_units(units, split_units(TEXT, "nb", presplit=True), BagOfWordsEncoder())
    assert [(link["src_ids"], link["tgt_ids"]) for link in result.links] == [([i], [i]) for i in (0, 2, 3, 5)]
    assert result.stats["strings_embedded"] == 4  # each distinct text once, both sides together


def test_units_without_letters_or_digits_are_skipped_and_not_embedded():
    # OCR debris and a separator line between translated sentences: skips, never merged into a link
    src = split_units("alpha beta gamma\n.:-- , .\ndelta epsilon zeta\n🇷🇺 🇳🇴\neta theta iota\n", "ru", presplit=True)
    tgt = split_units("alpha beta gamma\ndelta epsilon zeta\n* * *\neta theta iota\n", "nb", presplit=True)
    result = align_units(src, tgt, BagOfWordsEncoder())
    links = [(link["src_ids"], link["tgt_ids"]) for link in result.links]
    assert sorted(links) == sorted([([0], [0]), ([1], []), ([2], [1]), ([3], []), ([], [2]), ([4], [3])])
    assert [i for s, _ in links for i in s] == list(range(5)) and [j for _, t in links for j in t] == list(range(4))
    assert result.stats["strings_embedded"] == 3
    assert next(link for link in result.links if link["src_ids"] == [1])["src"] == ".:-- , ."


def test_keep_empty_places_empty_lines_as_skips_in_order():
    src = split_units(TEXT, "ru", presplit=True, keep_empty=True)
    tgt = split_units("alpha beta gamma\ndelta epsilon zeta\n\neta theta iota\nkappa lambda mu\n", "nb",
                      presplit=True, keep_empty=True)
    links = align_units(src, tgt, BagOfWordsEncoder()).links
    src_ids = [i for link in links for i in link["src_ids"]]
    tgt_ids = [j for link in links for j in link["tgt_ids"]]
    assert src_ids == list(range(6)) and tgt_ids == list(range(5))
    skip = next(link for link in links if link["src_ids"] == [1])
    assert {"src_ids": [1], "tgt_ids": [], "type": "1-0"}.items() <= skip.items()
    assert next(link for link in links if link["tgt_ids"] == [2])["type"] == "0-1"
    assert ([3], [3]) in [(link["src_ids"], link["tgt_ids"]) for link in links]


class CountingEncoder(BagOfWordsEncoder):
    def __init__(self):
        self.seen = []

    def encode(self, texts):
        self.seen.extend(texts)
        return super().encode(texts)


def test_vectors_computed_elsewhere_are_used_and_only_what_they_lack_is_embedded():
    # "omega" has no counterpart: the search skips it, and checks it joined to either neighbour
    src = split_units("alpha beta gamma delta epsilon zeta\nomega\ntheta iota kappa\n", "ru", presplit=True)
    tgt = split_units("alpha beta gamma delta epsilon zeta\ntheta iota kappa\n", "nb", presplit=True)
    here = align_units(src, tgt, BagOfWordsEncoder())
    elsewhere = BagOfWordsEncoder()  # another process or machine embeds the sentences
    vectors = dict(zip(src.texts + tgt.texts, elsewhere.encode(src.texts + tgt.texts), strict=True))
    counting = CountingEncoder()
    there = align_units(src, tgt, counting, vectors=vectors)
    assert there.links == here.links and ([1], []) in [(link["src_ids"], link["tgt_ids"]) for link in there.links]
    assert counting.seen == ["alpha beta gamma delta epsilon zeta omega", "omega theta iota kappa"]  # spans only
