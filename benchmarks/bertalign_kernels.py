"""Bertalign's two passes (PyPI `bertalign` 2.0.1, Liu & Zhu 2022) on vectors made elsewhere.

Run by textberg.py under a Python >= 3.12 that has `bertalign`, `numba` and `scipy` installed
(bertalign needs Python 3.12; this project runs on 3.11):

    PY overlaps SRC TGT NUM_OVERLAPS OUT.json    the strings Bertalign embeds, in its order
    PY align SRC TGT VECTORS.npz MAX_ALIGN OUT   the beads, one `[i,...]:[j,...]` a line

The alignment is `Bertalign.align_sents` step by step with the package's own numba kernels and
defaults; only its top-k search, a torch matmul + topk, is the same exact search in numpy, so
neither torch nor sentence-transformers is needed (their modules are stubbed; nothing of them runs).
"""

from __future__ import annotations

import json
import sys
from unittest import mock

for _module in ("torch", "sentence_transformers", "lingua", "sentence_splitter"):
    sys.modules.setdefault(_module, mock.MagicMock())

import numpy as np  # noqa: E402
from bertalign.corelib import (  # noqa: E402
    find_first_search_path,
    find_second_search_path,
    first_back_track,
    first_pass_align,
    get_alignment_types,
    second_back_track,
    second_pass_align,
)
from bertalign.utils import yield_overlaps  # noqa: E402

TOP_K, WINDOW, SKIP = 3, 5, -0.1  # Bertalign's defaults


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


def align(src: list[str], tgt: list[str], src_vectors: np.ndarray, tgt_vectors: np.ndarray,
          max_align: int) -> list[tuple[list[int], list[int]]]:
    overlaps = max_align - 1
    n, m = len(src), len(tgt)
    src_vecs = src_vectors.reshape(overlaps, n, -1).astype(np.float32)
    tgt_vecs = tgt_vectors.reshape(overlaps, m, -1).astype(np.float32)
    src_lens = np.array([len(s.encode("utf-8")) for s in yield_overlaps(src, overlaps)], dtype=np.int64)
    tgt_lens = np.array([len(s.encode("utf-8")) for s in yield_overlaps(tgt, overlaps)], dtype=np.int64)
    src_lens, tgt_lens = src_lens.reshape(overlaps, n), tgt_lens.reshape(overlaps, m)
    char_ratio = float(np.sum(src_lens[0]) / np.sum(tgt_lens[0]))

    similarity = src_vecs[0] @ tgt_vecs[0].T
    indices = np.argsort(-similarity, axis=1, kind="stable")[:, :min(TOP_K, m)]
    scores = np.take_along_axis(similarity, indices, axis=1)
    first_types = get_alignment_types(2)
    width, path = find_first_search_path(n, m)
    pointers = first_pass_align(n, m, width, path, first_types, scores.astype(np.float32), indices.astype(np.int64))
    first = first_back_track(n, m, pointers, path, first_types)

    second_types = get_alignment_types(max_align)
    width, path = find_second_search_path(first, WINDOW, n, m)
    pointers = second_pass_align(src_vecs, tgt_vecs, src_lens, tgt_lens, width, path, second_types, char_ratio,
                                 SKIP, margin=True, len_penalty=True)
    return second_back_track(n, m, pointers, path, second_types)


def main() -> None:
    command, src_path, tgt_path = sys.argv[1:4]
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if command == "overlaps":
        overlaps, out = int(sys.argv[4]), sys.argv[5]
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({"src": list(yield_overlaps(src, overlaps)), "tgt": list(yield_overlaps(tgt, overlaps))}, handle)
    elif command == "align":
        vectors, max_align, out = np.load(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
        beads = align(src, tgt, vectors["src"], vectors["tgt"], max_align)
        with open(out, "w", encoding="utf-8") as handle:
            for a, b in beads:
                handle.write(f"[{','.join(str(int(i)) for i in a)}]:[{','.join(str(int(j)) for j in b)}]\n")
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
