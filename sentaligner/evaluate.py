"""Strict and lax precision, recall and F1 of sentence alignments, with Vecalign's definitions.

Precision counts every predicted link that is not empty on both sides (insertions and deletions
included); recall counts the gold links that are non-empty on both sides. A link is a lax match
when it shares a source id with some gold link and a target id with what gold aligns that source
to. Counts are summed over all documents before the ratios are taken (micro-average).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

Alignment = list[tuple[tuple[int, ...], tuple[int, ...]]]

_LINK = re.compile(r"^\s*\[([\d,\s]*)\]\s*:\s*\[([\d,\s]*)\]\s*(?::.*)?$")


def parse_link(line: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`[1,2]:[3]` -> ((1, 2), (3,)); a trailing `:score` is allowed and ignored."""
    match = _LINK.match(line)
    if not match:
        raise ValueError(f"not an alignment link: {line.strip()[:60]!r}")
    sides = []
    for group in match.groups():
        ids = [part.strip() for part in group.split(",")]
        if ids == [""]:
            ids = []
        if any(not part for part in ids):
            raise ValueError(f"empty id in alignment link: {line.strip()[:60]!r}")
        sides.append(tuple(int(part) for part in ids))
    return sides[0], sides[1]


def format_link(src: tuple[int, ...], tgt: tuple[int, ...]) -> str:
    return f"[{','.join(map(str, src))}]:[{','.join(map(str, tgt))}]"


class LinkOrder:
    """Whether links can be one document's alignment: no sentence in two links and, with
    `monotonic`, no link with text on both sides that starts before a sentence already aligned
    (human gold may cross: Text+Berg dev has `[455]:[541]` then `[456]:[540]`; skips may come
    late in any case: `[]:[292]` after `[250]:[291,293,294]`)."""

    def __init__(self, monotonic: bool) -> None:
        self.monotonic = monotonic
        self.seen: tuple[set[int], set[int]] = (set(), set())
        self.highest = [-1, -1]

    def problem(self, src: Sequence[int], tgt: Sequence[int]) -> str | None:
        """Why this next link cannot follow the links before it, or None."""
        link = format_link(tuple(src), tuple(tgt))
        for side, ids in enumerate((src, tgt)):
            if len(set(ids)) < len(ids) or not self.seen[side].isdisjoint(ids):
                return f"link {link} repeats a sentence of an earlier link (several documents in one file?)"
        if self.monotonic and src and tgt and (min(src) < self.highest[0] or min(tgt) < self.highest[1]):
            return f"link {link} goes back before the links above it"
        for side, ids in enumerate((src, tgt)):
            self.seen[side].update(ids)
            self.highest[side] = max(self.highest[side], *ids) if ids else self.highest[side]
        return None


_TSV_HEADER = "src_ids\ttgt_ids\t"
_FORMATS_READ = "Vecalign ([0]:[0] a line), or sentaligner's JSONL or TSV"


def _record_link(line: str, where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ids of a JSONL link record (`align -f jsonl`, `channel`'s corpus.jsonl)."""
    from .ingest import parse_json

    record = parse_json(line, where)
    if not isinstance(record, dict) or "src_ids" not in record or "tgt_ids" not in record:
        raise InputError(f"{where}: a JSON line needs 'src_ids' and 'tgt_ids' (expected {_FORMATS_READ})")
    sides = record["src_ids"], record["tgt_ids"]
    if not all(isinstance(ids, list) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                             for i in ids) for ids in sides):
        raise InputError(f"{where}: 'src_ids' and 'tgt_ids' must be lists of ids (integers from 0)")
    return tuple(sides[0]), tuple(sides[1])


def _tsv_link(line: str, where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ids of a row of sentaligner's TSV: its first two cells, comma-separated ids."""
    cells = line.split("\t")
    try:
        src, tgt = (tuple(int(i) for i in cell.split(",")) if cell else () for cell in cells[:2])
    except ValueError:
        raise InputError(f"{where}: not a link row of sentaligner's TSV: {line.strip()[:60]!r}") from None
    return src, tgt


def read_alignment(path: str | Path, monotonic: bool = False) -> Alignment:
    """The links of an alignment file: Vecalign format, or sentaligner's own JSONL or TSV. A sentence
    in two links is an error; with `monotonic`, so is a link that goes back."""
    links: Alignment = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read alignment file: {exc}") from None
    lines = text.removeprefix("\ufeff").splitlines()
    first = next((line for line in lines if line.strip()), "")
    order = LinkOrder(monotonic)
    for number, line in enumerate(lines, start=1):
        if not line.strip() or (number == 1 and line.startswith(_TSV_HEADER)):
            continue
        where = f"{path}:{number}"
        if first.startswith(_TSV_HEADER):
            links.append(_tsv_link(line, where))
        elif first.lstrip().startswith("{"):
            links.append(_record_link(line, where))
        else:
            try:
                links.append(parse_link(line))
            except ValueError as exc:
                raise InputError(f"{where}: {exc} (expected {_FORMATS_READ})") from None
        problem = order.problem(*links[-1])
        if problem:
            raise InputError(f"{where}: {problem}")
    return links


def _counts(gold: Alignment, test: Alignment) -> tuple[int, int, int, int]:
    """(strict hits, strict misses, lax hits, lax misses) of `test` links judged against `gold`."""
    test_links = sorted({(tuple(s), tuple(t)) for s, t in test if s or t})
    labels = link_labels([{"src_ids": s, "tgt_ids": t} for s, t in test_links], gold)
    strict_hit = sum(strict for strict, _ in labels)
    lax_hit = sum(lax for _, lax in labels)
    return strict_hit, len(labels) - strict_hit, lax_hit, len(labels) - lax_hit


def _ratio(hit: int, miss: int) -> float:
    return hit / (hit + miss) if hit + miss else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Scores:
    precision_strict: float
    recall_strict: float
    f1_strict: float
    precision_lax: float
    recall_lax: float
    f1_lax: float
    documents: int
    gold_links: int
    test_links: int

    def as_dict(self) -> dict:
        return asdict(self)


def score(golds: list[Alignment], tests: list[Alignment]) -> Scores:
    if len(golds) != len(tests):
        raise ValueError("need one test alignment per gold alignment")
    p = [0, 0, 0, 0]
    r = [0, 0, 0, 0]
    for gold, test in zip(golds, tests, strict=True):
        p = [a + b for a, b in zip(p, _counts(gold, test), strict=True)]
        gold_both = [(s, t) for s, t in gold if s and t]
        test_both = [(s, t) for s, t in test if s and t]
        r = [a + b for a, b in zip(r, _counts(test_both, gold_both), strict=True)]
    ps, rs = _ratio(p[0], p[1]), _ratio(r[0], r[1])
    pl, rl = _ratio(p[2], p[3]), _ratio(r[2], r[3])
    return Scores(
        precision_strict=ps, recall_strict=rs, f1_strict=_f1(ps, rs),
        precision_lax=pl, recall_lax=rl, f1_lax=_f1(pl, rl),
        documents=len(golds),
        gold_links=sum(len(g) for g in golds), test_links=sum(len(t) for t in tests),
    )


def link_labels(links: Sequence[Mapping[str, Any]], gold: Alignment) -> list[tuple[bool, bool]]:
    """(strict, lax) rightness of each link against `gold`: strict, it is a gold link; lax, it
    shares a source and a target sentence with the gold (for a skip, lax is strict)."""
    gold_links = {(tuple(s), tuple(t)) for s, t in gold if s or t}
    gold_targets_of: defaultdict[int, set[int]] = defaultdict(set)
    for src, tgt in gold_links:
        for s in src:
            gold_targets_of[s].update(tgt)
    out = []
    for link in links:
        src, tgt = tuple(link["src_ids"]), tuple(link["tgt_ids"])
        strict = (src, tgt) in gold_links
        lax = strict or bool(src and tgt and set().union(*(gold_targets_of[s] for s in src)).intersection(tgt))
        out.append((strict, lax))
    return out


# Why a predicted link is not a gold link, in the order they are tested.
ERROR_CLASSES = {
    "spurious skip": "a 1-0/0-1 for a sentence the gold links to something",
    "absorbed skip": "a sentence the gold leaves unaligned, put into a pair",
    "piece of a gold block": "part of one gold n-m link, found as a link of its own",
    "gold links merged": "whole gold links glued into one (a gold 1-1 inside a merge, ...)",
    "boundary shift": "overlaps a gold link but crosses its boundary",
    "misplaced": "shares no source-and-target sentence pair with any gold link",
}


@dataclass(frozen=True)
class LinkError:
    kind: str  # a key of ERROR_CLASSES
    link: tuple[tuple[int, ...], tuple[int, ...]]
    gold: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # the gold links holding its sentences


def link_errors(gold: Alignment, test: Alignment) -> list[LinkError]:
    """Every predicted link that is not a gold link, classified (ERROR_CLASSES), in TEST's order."""
    gold_links = [(tuple(s), tuple(t)) for s, t in gold if s or t]
    exact = set(gold_links)
    src_home = {s: link for link in gold_links for s in link[0]}
    tgt_home = {t: link for link in gold_links for t in link[1]}
    errors = []
    for src, tgt in test:
        link = (tuple(src), tuple(tgt))
        if link in exact or not (src or tgt):
            continue
        homes = [src_home.get(s) for s in src] + [tgt_home.get(t) for t in tgt]
        touched = tuple(dict.fromkeys(home for home in homes if home is not None))
        if not src or not tgt:
            kind = "spurious skip" if any(home[0] and home[1] for home in touched) else "gold links merged"
        elif any(home is None or not (home[0] and home[1]) for home in homes):
            kind = "absorbed skip"
        elif len(touched) == 1:
            kind = "piece of a gold block"
        elif all(set(home[0]) <= set(src) and set(home[1]) <= set(tgt) for home in touched):
            kind = "gold links merged"
        elif any(src_home[s] == tgt_home[t] for s in src for t in tgt):
            kind = "boundary shift"
        else:
            kind = "misplaced"
        errors.append(LinkError(kind, link, touched))
    return errors


def replaced_units(texts: list[str], share: float, seed: int = 0) -> tuple[list[str], set[int]]:
    """A copy of one side with about `share` of its units replaced by unrelated ones (units from
    the far half of the same side), and the positions replaced: wrong links for calibration."""
    import random

    n = len(texts)
    if n < 4:
        return list(texts), set()
    chosen = random.Random(seed).sample(range(n), max(1, round(share * n)))
    out, replaced = list(texts), set()
    for k in chosen:
        other = texts[(k + n // 2) % n]
        if other and other != texts[k]:
            out[k] = other
            replaced.add(k)
    return out, replaced


def gold_after_replacement(gold: Alignment, src_replaced: set[int], tgt_replaced: set[int]) -> Alignment:
    """The gold of a document after `replaced_units`: a replaced unit has no counterpart, and
    neither has a unit whose only counterparts were replaced."""
    out: Alignment = []
    for src, tgt in gold:
        kept_src = tuple(i for i in src if i not in src_replaced)
        kept_tgt = tuple(j for j in tgt if j not in tgt_replaced)
        if kept_src and kept_tgt:
            out.append((kept_src, kept_tgt))
        else:
            out.extend(((i,), ()) for i in kept_src)
            out.extend(((), (j,)) for j in kept_tgt)
        out.extend(((i,), ()) for i in src if i in src_replaced)
        out.extend(((), (j,)) for j in tgt if j in tgt_replaced)
    return out


def auroc(scores, right) -> float:
    """Chance that a right link scores above a wrong one (ties count half): Mann-Whitney U."""
    import numpy as np
    from scipy.stats import rankdata

    scores, right = np.asarray(scores, dtype=float), np.asarray(right, dtype=bool)
    positives, negatives = int(right.sum()), int((~right).sum())
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(scores)  # ties get their average rank
    return float((ranks[right].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def reliability(scores, right, bins: int = 10) -> list[tuple[float, float, int, float, float]]:
    """(bin low, bin high, links, mean score, share right) per non-empty score bin."""
    import numpy as np

    scores, right = np.asarray(scores, dtype=float), np.asarray(right, dtype=float)
    index = np.minimum((scores * bins).astype(int), bins - 1)
    return [(k / bins, (k + 1) / bins, int((index == k).sum()), float(scores[index == k].mean()),
             float(right[index == k].mean())) for k in range(bins) if (index == k).any()]


def calibration_error(scores, right, bins: int = 10) -> float:
    """Expected calibration error: the links-weighted gap between mean score and share right."""
    total = len(scores)
    return sum(count / total * abs(mean - share) for _, _, count, mean, share in reliability(scores, right, bins))
