"""Pairing at channel scale: a synthetic channel of N posts (default 10,000) made by repeating and
perturbing the posts of seed 000, written as a text dump and read back like a real one.

Each copy of the seed's 14 posts gets its own numbers (every number shifted by the copy's
index, the same in a Russian post and its Norwegian version), a copy number, dates; the Norwegian
version comes right after its Russian post in most copies, one or two posts later in some, before
it in a few, and is missing in some. Sentence vectors are the seed sentences' real e5-small
vectors plus noise seeded by the text (a stand-in encoder that counts every text it is given),
and post vectors are made from them as in the product, so pairing sees realistic similarities
while embedding costs nothing; the real encoder's speed on the seed's sentences is measured
separately.

    python benchmarks/channel.py [--posts 10000] [--seed 0]

Prints seconds per stage (read, language, pairing), how many texts the encoder was given per
Russian/Norwegian post, and pairing precision/recall against the known truth.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "fixtures" / "channel" / "seed000.txt"
sys.path.insert(0, str(ROOT))

from sentaligner.channel import pair_channel, route_posts  # noqa: E402
from sentaligner.embed import EmbeddingStore, load_encoder  # noqa: E402
from sentaligner.ingest import read_telegram_dump  # noqa: E402
from sentaligner.language import classify_posts  # noqa: E402
from sentaligner.pair import PairParams  # noqa: E402
from sentaligner.pipeline import carries_content, split_units  # noqa: E402

ROLES = {2: ("ru", "izvestia"), 3: ("nb", "izvestia"), 7: ("ru", "barentsburg"), 8: ("ru", "ria"),
         9: ("nb", "ria")}  # seed post index -> language and story; index 1 is bilingual, the rest English


def shift_numbers(text: str, by: int) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + by), text)


def synthetic_channel(base: list[str], posts: int, rng: np.random.Generator):
    """Text dump, each post's base index, and the true (ru post, nb post) pairs by dump order."""
    blocks, order, truth = [], [], []
    copy = 0
    while len(order) < posts:
        copy += 1
        texts = {i: shift_numbers(text, copy) for i, text in enumerate(base)}
        texts = {i: t + (f"\n\n(№ {copy})" if ROLES.get(i, ("",))[0] == "ru" else
                         f"\n\n(nr. {copy})" if ROLES.get(i, ("",))[0] == "nb" else f"\n\n(no. {copy})")
                 for i, t in texts.items()}
        sequence = list(range(len(base)))
        for nb_index in (3, 9):  # move some Norwegian versions
            roll = rng.random()
            if roll < 0.1:
                sequence.remove(nb_index)  # never published
            elif roll < 0.25:
                sequence.remove(nb_index)
                sequence.insert(min(sequence.index(nb_index - 1) + 1 + int(rng.integers(1, 3)), len(sequence)),
                                nb_index)
            elif roll < 0.3:
                sequence.remove(nb_index)
                sequence.insert(sequence.index(nb_index - 1), nb_index)  # before its Russian post
        for i in sequence:
            if len(order) == posts:
                break
            order.append((copy, i))
            blocks.append(texts[i] + "\n👍1")
    position = {key: n for n, key in enumerate(order)}
    for (copy, i) in order:
        if i in (2, 8) and (copy, i + 1) in position:
            truth.append((position[(copy, i)], position[(copy, i + 1)]))
    return "Test channel\n12 subscribers\nDownload Telegram\n" + "\n".join(blocks) + "\n", order, truth


class StandInEncoder:
    """Real e5-small vectors of the seed's sentences plus noise seeded by the text; counts its inputs."""

    name = signature = "stand-in"
    calibration = random_distance = None

    def __init__(self, base_vectors: dict[str, np.ndarray], lookup, noise: float):
        self.base_vectors, self.lookup, self.noise = base_vectors, lookup, noise
        self.dim = next(iter(base_vectors.values())).shape[0]
        self.texts_seen = 0
        self.unknown: set[str] = set()  # texts segmented unlike any seed sentence: a random vector

    def encode(self, texts):
        self.texts_seen += len(texts)
        out = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            noise = np.random.default_rng(seed).normal(size=self.dim) * self.noise / np.sqrt(self.dim)
            base = self.base_vectors.get(self.lookup(text))
            if base is None:
                self.unknown.add(text)
                base = np.random.default_rng(seed + 1).normal(size=self.dim) / np.sqrt(self.dim)
            vector = base + noise
            out.append(vector / np.linalg.norm(vector))
        return np.array(out, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.3, help="norm of the noise added to a post vector")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    base_posts = read_telegram_dump(SEED.read_text(encoding="utf-8"), SEED)
    base = [p.text for p in base_posts]
    base_languages = classify_posts(base)
    texts = [(base[i], ROLES[i][0]) for i in ROLES] + [(base_languages[1].parts[c], c) for c in ("ru", "nb")]
    texts += [("(№ 1)", "ru"), ("(nr. 1)", "nb"), ("(no. 1)", "nb")]
    sentences = sorted({s for text, lang in texts for s in split_units(text, lang, False).texts if carries_content(s)})
    e5 = load_encoder("e5-small")
    started = time.perf_counter()
    real = e5.encode(sentences)
    e5_seconds = time.perf_counter() - started

    def key(text: str) -> str:
        return re.sub(r"\d+", "#", text)

    base_vectors = {key(s): vector for s, vector in zip(sentences, real, strict=True)}
    dump, order, truth = synthetic_channel(base, args.posts, rng)
    encoder = StandInEncoder(base_vectors, key, args.noise)

    timings = {}
    started = time.perf_counter()
    posts = read_telegram_dump(dump, "synthetic")
    timings["read dump"] = time.perf_counter() - started
    assert len(posts) == len(order), (len(posts), len(order))

    started = time.perf_counter()
    routed = route_posts(posts)
    timings["language"] = time.perf_counter() - started
    index_of = {post.id: i for i, post in enumerate(posts)}
    ru, nb = [index_of[post.id] for post in routed.ru], [index_of[post.id] for post in routed.nb]

    store = EmbeddingStore(encoder)
    paired = pair_channel(routed, store, PairParams())
    timings["embed (stand-in)"] = paired.embed_seconds
    timings["pairing"] = paired.pair_seconds
    pairs = [pair for pair in paired.pairs if not pair.evidence.get("bilingual_post")]

    found = {(index_of[pair.ru.id], index_of[pair.nb.id]) for pair in pairs}
    right = len(found & set(truth))
    english = sum(1 for (copy, i) in order if i not in ROLES and i != 1)
    wrong_language = sum(1 for i in ru + nb if order[i][1] not in ROLES)
    print(f"synthetic channel: {len(posts)} posts ({len(ru)} ru, {len(nb)} nb, {len(routed.bilingual)} bilingual, "
          f"{english} English); {len(truth)} true ru-nb pairs")
    for stage, seconds in timings.items():
        print(f"  {stage:18}{seconds:8.2f} s")
    apart = timings["read dump"] + timings["language"] + timings["pairing"]
    print(f"  {'total apart from embedding':30}{apart:6.2f} s")
    texts_needed = len(ru) + len(nb) + 2 * len(routed.bilingual)
    print(f"texts given to the encoder: {encoder.texts_seen} sentences for {texts_needed} post texts "
          f"({encoder.texts_seen / texts_needed:.2f} per post; distinct texts {len(store.vectors)}), "
          "each embedded once for pairing and alignment")
    print(f"posts routed to a wrong language: {wrong_language}; sentences unlike any seed sentence "
          f"(given a random vector): {len(encoder.unknown)} {sorted(encoder.unknown)[:5]}")
    print(f"pairing: {len(pairs)} pairs, {right} right: precision {right / max(len(pairs), 1):.4f}, "
          f"recall {right / max(len(truth), 1):.4f}")
    print(f"real e5-small on the {len(sentences)} sentences of the seed's Russian and Norwegian posts: "
          f"{e5_seconds:.1f} s ({len(sentences) / e5_seconds:.1f} sentences/s)")


if __name__ == "__main__":
    main()
