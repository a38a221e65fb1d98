"""Text+Berg dev: strict/lax F1, time and strings embedded, for sentaligner and for Vecalign's
algorithm (PyPI `sentalign`) given the same encoder, in one run; with --bertalign-python, for
Bertalign's algorithm (PyPI `bertalign` 2.0.1, run by bertalign_kernels.py under that Python,
since bertalign needs Python >= 3.12) given the same encoder too.

    python benchmarks/textberg.py --data ../shared/data/textberg-dev [--skip-baseline]
        [--bertalign-python PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

import sentaligner
from sentaligner.dp import AlignParams
from sentaligner.embed import EmbeddingStore, load_encoder
from sentaligner.evaluate import read_alignment, score
from sentaligner.pipeline import Units, align_units


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def run_aligner(src: list[str], tgt: list[str], encoder, max_merge: int, langs: tuple[str, str] = ("de", "fr"),
                store: EmbeddingStore | None = None, boundaries: tuple[list[int], list[int]] | None = None,
                **params) -> tuple[list, dict]:
    """`store`: where vectors come from (a fresh one by default; one with a disk cache to reuse them);
    `boundaries`: each side's paragraph boundary before each line (Units.boundaries), if known."""
    units = [Units([line.strip() for line in side], list(range(len(side))), None,
                   boundaries[k] if boundaries else None) for k, side in enumerate((src, tgt))]
    result = align_units(*units, encoder, *langs, AlignParams(max_merge=max_merge, **params),
                         store or EmbeddingStore(encoder))
    links = [(tuple(link["src_ids"]), tuple(link["tgt_ids"])) for link in result.links]
    return links, result.stats


def run_sentalign(src: list[str], tgt: list[str], encoder, max_size: int,
                  store: EmbeddingStore | None = None) -> tuple[list, dict]:
    from sentalign import sentalign

    store = store or EmbeddingStore(encoder)  # each distinct string embedded once, as for sentaligner
    timing = {"embed": 0.0}

    def encode(texts):
        started = time.perf_counter()
        vectors = store.embed(list(texts))
        timing["embed"] += time.perf_counter() - started
        return vectors

    started = time.perf_counter()
    result = sentalign(src, tgt, encode, alignment_max_size=max_size)
    total = time.perf_counter() - started
    links = [(tuple(a.src_indices), tuple(a.tgt_indices)) for a in result.alignments]
    return links, {"strings_embedded": store.strings_embedded, "cache_hits": store.cache_hits,
                   "embed_seconds": round(timing["embed"], 3),
                   "align_seconds": round(total - timing["embed"], 3), "seconds": round(total, 3)}


BERTALIGN_MAX_ALIGN = 5  # Bertalign's default: it embeds every run of 1 to 4 consecutive sentences


def check_bertalign_python(python: str) -> str | None:
    """Why `python` cannot run bertalign_kernels.py, or None when it can."""
    try:
        probe = subprocess.run([python, "-c", "import importlib.util, numba, scipy\n"
                                "assert importlib.util.find_spec('bertalign'), 'no module named bertalign'"],
                               capture_output=True, text=True)
    except OSError as exc:
        return f"cannot run {python}: {exc.strerror}"
    if probe.returncode:
        last = (probe.stderr.strip().splitlines() or ["it exited with an error"])[-1]
        return f"{python} cannot import bertalign, numba and scipy ({last})"
    return None


def run_bertalign(src_path: Path, tgt_path: Path, python: str, src: list[str], tgt: list[str], encoder,
                  max_size: int, store: EmbeddingStore | None = None) -> tuple[list, dict]:
    """Bertalign's two passes with its defaults (max_size is not used: Bertalign embeds a run of
    sentences for every merge size, so its own limit of 5 keeps it to 4 strings per sentence)."""
    kernels = str(Path(__file__).resolve().parent / "bertalign_kernels.py")
    store = store or EmbeddingStore(encoder)
    with tempfile.TemporaryDirectory() as folder:
        overlaps, vectors, beads = (Path(folder) / name for name in ("overlaps.json", "vectors.npz", "beads.txt"))
        started = time.perf_counter()
        subprocess.run([python, kernels, "overlaps", str(src_path), str(tgt_path), str(BERTALIGN_MAX_ALIGN - 1),
                        str(overlaps)], check=True)
        strings = json.loads(overlaps.read_text(encoding="utf-8"))
        embed_started = time.perf_counter()
        np.savez(vectors, src=store.embed(strings["src"]), tgt=store.embed(strings["tgt"]))
        embed_seconds = time.perf_counter() - embed_started
        subprocess.run([python, kernels, "align", str(src_path), str(tgt_path), str(vectors),
                        str(BERTALIGN_MAX_ALIGN), str(beads)], check=True)
        total = time.perf_counter() - started
        links = [(tuple(a), tuple(b)) for a, b in read_alignment(beads)]
    return links, {"strings_embedded": store.strings_embedded, "cache_hits": store.cache_hits,
                   "embed_seconds": round(embed_seconds, 3), "align_seconds": round(total - embed_seconds, 3),
                   "seconds": round(total, 3)}


def print_signature(encoder, max_merge: int, rows: dict, json_path: Path | None) -> None:
    """How the figures were made; with `json_path`, the figures and that line written there."""
    signature = (f"sentaligner-{sentaligner.__version__}|model={encoder.signature}|max_merge={max_merge}"
                 f"|python-{platform.python_version()}|numpy-{np.__version__}")
    print(signature)
    if json_path:
        json_path.write_text(json.dumps({"signature": signature, "results": rows}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with dev.de, dev.fr, dev.defr")
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--max-merge", type=int, default=AlignParams().max_merge)
    parser.add_argument("--skip-baseline", action="store_true", help="do not run sentalign")
    parser.add_argument("--bertalign-python", help="a Python >= 3.12 with bertalign, numba and scipy: "
                        "also run Bertalign's algorithm with the same encoder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    if args.bertalign_python and (problem := check_bertalign_python(args.bertalign_python)):
        parser.error(problem)
    src, tgt = read_lines(args.data / "dev.de"), read_lines(args.data / "dev.fr")
    gold = read_alignment(args.data / "dev.defr")
    encoder = load_encoder(args.model)
    rows = {}
    systems = [("sentaligner", run_aligner)] + ([] if args.skip_baseline else [("vecalign (sentalign)", run_sentalign)])
    if args.bertalign_python:
        systems.append(("bertalign", partial(run_bertalign, args.data / "dev.de", args.data / "dev.fr",
                                             args.bertalign_python)))
    for name, run in systems:
        links, stats = run(src, tgt, encoder, args.max_merge)
        scores = score([gold], [links])
        rows[name] = {**stats, "f1_strict": round(scores.f1_strict, 4), "f1_lax": round(scores.f1_lax, 4),
                      "precision_strict": round(scores.precision_strict, 4),
                      "recall_strict": round(scores.recall_strict, 4),
                      "strings_per_sentence": round(stats["strings_embedded"] / (len(src) + len(tgt)), 3)}
        print(f"{name:22} strict F1 {scores.f1_strict:.4f}  lax F1 {scores.f1_lax:.4f}  "
              f"embedded {stats['strings_embedded']} strings ({rows[name]['strings_per_sentence']}/sentence) "
              f"in {stats['embed_seconds']:.1f}s  align {stats['align_seconds']:.2f}s  total {stats['seconds']:.1f}s",
              flush=True)
    ours = rows["sentaligner"]
    for name, theirs in rows.items():
        if name != "sentaligner":
            print(f"against {name}: speed-up end to end {theirs['seconds'] / ours['seconds']:.1f}x; "
                  f"strict F1 difference {ours['f1_strict'] - theirs['f1_strict']:+.4f}")
    print_signature(encoder, args.max_merge, rows, args.json)


if __name__ == "__main__":
    main()
