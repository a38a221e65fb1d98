"""How well the link score ranks and calibrates links on a gold set it was not fitted on.

    python benchmarks/quality.py --data ../shared/data [--cache DIR] [--model e5-small] [--detail] [--write-model]

Every document of every gold set under --data (see gold.py) is aligned, and so is a copy of it
with --noise of its target sentences replaced by unrelated ones; every link is labelled right when
it is exactly a gold link (skips too). The RU-NB fixtures of tests/ join every fit, never a test.
For each set left out, the calibration is fitted on the other sets and the figures are those of the
left-out set's real links: AUROC, the AUROC among pairs of those sharing a sentence pair with the
gold against those sharing nothing (unrel AUC), the strict precision of the best-scored 90% of
links (P best90), precision of the links kept at several thresholds, precision
at the threshold that keeps 90% of the right links, a reliability table and the expected
calibration error; the AUROC on its copies (how unrelated sentences are caught) beside them.

The posterior's temperature, which also decides the links (dp.py), is chosen by gold.py's
protocol on strict F1, not here. --write-model fits on every set and the fixtures and stores the
result in models/NAME.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gold import find_documents  # noqa: E402
from textberg import read_lines  # noqa: E402

from sentaligner.dp import AlignParams  # noqa: E402
from sentaligner.embed import DiskCache, EmbeddingStore, load_encoder  # noqa: E402
from sentaligner.evaluate import auroc, calibration_error, read_alignment, reliability  # noqa: E402
from sentaligner.pipeline import CALIBRATION_NOISE, Units, calibration_examples, split_units  # noqa: E402
from sentaligner.score import FEATURES, RECOMMENDED_MIN_SCORE, fit_calibration, predict  # noqa: E402

THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9)
FIXTURES = "RU-NB fixtures"


def examples(data: Path, encoder, cache: DiskCache | None, noise: float) -> dict[str, dict]:
    """Per set (and the fixtures): features, strict and lax labels, and which links are synthetic."""
    cases: dict[str, list] = {}
    for set_name, documents in find_documents(data, None).items():
        for document in documents:
            lines = [read_lines(path) for path in (document.src_path, document.tgt_path)]
            sides = [Units([line.strip() for line in side], list(range(len(side)))) for side in lines]
            cases.setdefault(set_name, []).append((sides, read_alignment(document.gold_path),
                                                   document.src_lang, document.tgt_lang))
    fixtures = ROOT / "tests" / "fixtures"
    for name in ("izvestia", "ria"):
        sides = [split_units((fixtures / f"{name}.{lang}.txt").read_text(encoding="utf-8"), lang, False)
                 for lang in ("ru", "nb")]
        cases.setdefault(FIXTURES, []).append((sides, read_alignment(fixtures / f"{name}.ru-nb.gold"), "ru", "nb"))
    out = {}
    for name, documents in cases.items():
        found = [calibration_examples(src, tgt, gold, encoder, src_lang, tgt_lang,
                                      EmbeddingStore(encoder, cache=cache), noise=noise, seed=seed)
                 for seed, ((src, tgt), gold, src_lang, tgt_lang) in enumerate(documents)]
        out[name] = {key: np.concatenate([getattr(f, key) for f in found])
                     for key in ("features", "strict", "lax", "synthetic")}
    return out


def fit_on(by_set: dict[str, dict], names: list[str]) -> dict:
    chosen = [by_set[name] for name in names]
    return fit_calibration(*(np.concatenate([part[key] for part in chosen]) for key in ("features", "strict", "lax")))


def figures(calibration: dict, part: dict) -> dict:
    """The score's figures on a set's real links, and its AUROC on the set's copies."""
    scores = predict(calibration, part["features"])
    real, right = ~part["synthetic"], part["strict"].astype(bool)
    s, r = scores[real], right[real]
    ninety = np.sort(s[r])[::-1][int(np.ceil(0.9 * r.sum())) - 1]
    kept = s >= RECOMMENDED_MIN_SCORE
    pairs = ~part["features"][real, FEATURES.index("skip")].astype(bool)
    best_90 = np.argsort(-s, kind="stable")[:int(np.ceil(0.9 * len(s)))]
    return {"links": int(real.sum()), "right_share": float(r.mean()), "auroc": auroc(s, r),
            "unrelated_auroc": auroc(s[pairs], part["lax"][real][pairs].astype(bool)),
            "unrelated_pairs": int((~part["lax"][real][pairs].astype(bool)).sum()),
            "precision_best_90": float(r[best_90].mean()),
            "precision_at_min_score": float(r[kept].mean()), "kept_at_min_score": float(r[kept].sum() / r.sum()),
            "threshold_keeping_90": float(ninety), "precision_keeping_90": float(r[s >= ninety].mean()),
            "ece": calibration_error(s, r), "synthetic_auroc": auroc(scores[~real], right[~real]),
            "thresholds": [(t, int((s >= t).sum()), float(r[s >= t].mean()) if (s >= t).any() else float("nan"),
                            float(r[s >= t].sum() / r.sum())) for t in THRESHOLDS],
            "reliability": reliability(s, r)}


def left_out_figures(by_set: dict[str, dict]) -> dict[str, dict]:
    """Each gold set scored by a calibration fitted on the other sets and the fixtures."""
    sets = [name for name in by_set if name != FIXTURES]
    return {held: figures(fit_on(by_set, [n for n in by_set if n != held]), by_set[held]) for held in sets}


def print_set(name: str, row: dict, detail: bool) -> None:
    print(f"{name:20} {row['links']:6} {row['right_share']:6.3f} {row['auroc']:6.3f} {row['unrelated_auroc']:6.3f}"
          f"{'(' + str(row['unrelated_pairs']) + ')':>5} "
          f"{row['precision_best_90']:8.3f} "
          f"{row['precision_at_min_score']:8.3f} {row['kept_at_min_score']:6.3f} "
          f"{row['threshold_keeping_90']:7.3f} {row['precision_keeping_90']:8.3f} {row['ece']:6.3f} "
          f"{row['synthetic_auroc']:10.3f}")
    if detail:
        print(f"{'':22}threshold  kept  precision  right kept")
        for threshold, kept, precision, recall in row["thresholds"]:
            print(f"{'':22}{threshold:9.2f} {kept:5} {precision:10.3f} {recall:11.3f}")
        print(f"{'':22}score bin  links  mean score  right share")
        for low, high, count, mean, share in row["reliability"]:
            print(f"{'':22}{low:.1f}-{high:.1f} {count:7} {mean:11.3f} {share:12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the folder holding the gold sets")
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--cache", type=Path, help="keep vectors in (and read them from) this disk cache")
    parser.add_argument("--noise", type=float, default=CALIBRATION_NOISE,
                        help="share of target units replaced in the synthetic copies")
    parser.add_argument("--detail", action="store_true", help="thresholds and reliability of every set")
    parser.add_argument("--write-model", action="store_true",
                        help="store the fit on every set and the fixtures in models/")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    cache = DiskCache(args.cache, encoder.signature) if args.cache else None
    by_set = examples(args.data, encoder, cache, args.noise)
    print(f"{'left-out set':20} {'links':>6} {'right':>6} {'AUROC':>6} {'unrel AUC (n)':>11} {'P best90':>8} "
          f"{'P@' + str(RECOMMENDED_MIN_SCORE):>8} "
          f"{'kept':>6} {'thr 90%':>7} {'P@90%':>8} {'ECE':>6} {'copies AUROC':>10}")
    rows = left_out_figures(by_set)
    for name, row in rows.items():
        print_set(name, row, args.detail)
    mean = {key: np.mean([row[key] for row in rows.values()]) for key in
            ("auroc", "unrelated_auroc", "precision_best_90", "precision_at_min_score", "kept_at_min_score",
             "precision_keeping_90", "ece", "synthetic_auroc")}
    print(f"{'mean over sets':20} {'':6} {'':6} {mean['auroc']:6.3f} {mean['unrelated_auroc']:9.3f} "
          f"{mean['precision_best_90']:8.3f} {mean['precision_at_min_score']:8.3f} "
          f"{mean['kept_at_min_score']:6.3f} {'':7} {mean['precision_keeping_90']:8.3f} {mean['ece']:6.3f} "
          f"{mean['synthetic_auroc']:10.3f}")
    if args.write_model:
        full = fit_on(by_set, list(by_set))
        for part, model in full.items():
            print(f"{part} weights fitted on all:",
                  ", ".join(f"{n} {w:+.2f}" for n, w in zip(model["features"], model["weights"], strict=True)))
        real = sum(int((~part["synthetic"]).sum()) for part in by_set.values())
        copies = sum(int(part["synthetic"].sum()) for part in by_set.values())
        full["fitted_on"] = (f"{', '.join(by_set)} ({real} links) and copies with {args.noise:.0%} of the target "
                             f"sentences replaced ({copies} links); posterior temperature "
                             f"{AlignParams().posterior_temperature} (benchmarks/quality.py --write-model)")
        path = ROOT / "models" / f"{args.model.split('@')[0]}.json"
        description = json.loads(path.read_text(encoding="utf-8"))
        description["score"] = full
        path.write_text(json.dumps(description, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote the calibration into {path}")


if __name__ == "__main__":
    main()
