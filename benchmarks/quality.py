"""How well the link score separates right from wrong links: AUROC, precision and recall of the
links kept at several thresholds, and a reliability table (predicted vs observed per score bin),
on Text+Berg dev and the RU-NB fixtures, against their gold. A link is right when it is exactly
a gold link (strict), for skips too.

    python benchmarks/quality.py --data ../shared/data/textberg-dev

The score is not fitted to these data yet (issue 4), so no cross-validation is needed: these are
the figures a calibrated score has to beat.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from textberg import read_lines  # noqa: E402

from aligner import align  # noqa: E402
from aligner.embed import EmbeddingStore, load_encoder  # noqa: E402
from aligner.evaluate import read_alignment  # noqa: E402
from aligner.pipeline import Units, align_units  # noqa: E402


def auroc(scores: np.ndarray, right: np.ndarray) -> float:
    positive, negative = scores[right], scores[~right]
    if not len(positive) or not len(negative):
        return float("nan")
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * ties)


def scored_links(data: Path, encoder) -> list[tuple[str, float, bool, bool]]:
    """(document, score, right, is a pair) for every predicted link."""
    out = []
    src, tgt = read_lines(data / "dev.de"), read_lines(data / "dev.fr")
    units = [Units([line.strip() for line in side], list(range(len(side)))) for side in (src, tgt)]
    result = align_units(*units, encoder, "de", "fr", store=EmbeddingStore(encoder))
    gold = set(read_alignment(data / "dev.defr"))
    for link in result.links:
        key = (tuple(link["src_ids"]), tuple(link["tgt_ids"]))
        out.append(("textberg", link["score"], key in gold, bool(link["src_ids"] and link["tgt_ids"])))
    fixtures = ROOT / "tests" / "fixtures"
    for name in ("izvestia", "ria"):
        result = align((fixtures / f"{name}.ru.txt").read_text(encoding="utf-8"),
                       (fixtures / f"{name}.nb.txt").read_text(encoding="utf-8"), model=encoder)
        gold = set(read_alignment(fixtures / f"{name}.ru-nb.gold"))
        for link in result.links:
            key = (tuple(link["src_ids"]), tuple(link["tgt_ids"]))
            out.append((name, link["score"], key in gold, bool(link["src_ids"] and link["tgt_ids"])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="e5-small")
    args = parser.parse_args()
    links = scored_links(args.data, load_encoder(args.model))
    scores = np.array([score for _, score, _, _ in links])
    right = np.array([r for _, _, r, _ in links])
    pairs = np.array([p for _, _, _, p in links])
    print(f"{len(links)} links ({right.sum()} right), of which {pairs.sum()} pairs ({right[pairs].sum()} right)")
    print(f"AUROC all links {auroc(scores, right):.3f}; pairs only {auroc(scores[pairs], right[pairs]):.3f}")
    print(f"\n{'threshold':>9}{'kept':>7}{'precision':>11}{'recall of right':>17}")
    for threshold in (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
        kept = scores >= threshold
        precision = right[kept].mean() if kept.any() else float("nan")
        print(f"{threshold:>9.2f}{kept.sum():>7}{precision:>11.3f}{right[kept].sum() / right.sum():>17.3f}")
    print(f"\n{'score bin':>11}{'links':>7}{'mean score':>12}{'right share':>13}")
    ece = 0.0
    for low in np.arange(0.0, 1.0, 0.1):
        inside = (scores >= low) & (scores < low + 0.1 if low < 0.9 else scores <= 1.0)
        if inside.any():
            gap = abs(scores[inside].mean() - right[inside].mean())
            ece += inside.mean() * gap
            print(f"{low:>5.1f}-{low + 0.1:<5.1f}{inside.sum():>7}{scores[inside].mean():>12.3f}"
                  f"{right[inside].mean():>13.3f}")
    print(f"\nexpected calibration error {ece:.3f}")


if __name__ == "__main__":
    main()
