"""A self-contained HTML report of an alignment: summary, plots (inline SVG from matplotlib),
optional scores against gold, a side-by-side table of links that can be sorted and filtered
(a small inline script) with a legend of its colours, and for a channel the posts left unpaired
with their reasons. No external resources: it opens offline."""

from __future__ import annotations

import html
import io
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .errors import InputError, UsageError
from .evaluate import read_alignment
from .evaluate import score as evaluate_score
from .files import atomic_output
from .ingest import is_number, parse_json, read_link_records, read_text, read_unpaired_posts
from .version import __version__

# Rows drawn at once in the table; filtering and sorting work on every link.
TABLE_ROWS = 2000
UNPAIRED_OPENING_CHARS = 300  # of an unpaired post's text shown before "more"


def link_marks(records: Sequence[Mapping[str, Any]], gold: list[tuple[tuple, tuple]]) -> list[str]:
    """Per link: `right` (in gold), `partial` (shares a source and a target sentence with a gold
    link, Vecalign's lax match) or `wrong`."""
    exact = set(gold)
    src_of = {s: g for g in gold for s in g[0]}
    tgt_of = {t: g for g in gold for t in g[1]}
    marks = []
    for record in records:
        link = (tuple(record["src_ids"]), tuple(record["tgt_ids"]))
        if link in exact:
            marks.append("right")
        elif any(src_of.get(s) is not None and src_of.get(s) == tgt_of.get(t) for s in link[0] for t in link[1]):
            marks.append("partial")
        else:
            marks.append("wrong")
    return marks


def summarize(records: Sequence[Mapping[str, Any]]) -> dict:
    documents = {(r.get("src_post_id"), r.get("tgt_post_id")) for r in records}
    sides = {}
    for side in ("src", "tgt"):
        units = {(r.get(f"{side}_post_id"), i) for r in records for i in r[f"{side}_ids"]}
        covered = {(r.get(f"{side}_post_id"), i) for r in records if r["src_ids"] and r["tgt_ids"]
                   for i in r[f"{side}_ids"]}
        sides[side] = {"sentences": len(units), "covered": len(covered)}
    scores = [r["score"] for r in records if isinstance(r.get("score"), int | float)]
    flags = Counter(flag for r in records for flag in r.get("flags") or [])
    return {"documents": len(documents), "links": len(records), "sides": sides,
            "types": Counter(r["type"] for r in records), "mean_score": sum(scores) / len(scores) if scores else None,
            "flags": flags}


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight",
                   metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def plots(records: Sequence[Mapping[str, Any]], marks: list[str] | None) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "sentaligner", "svg.fonttype": "none", "font.size": 9})
    from matplotlib.figure import Figure

    def chart(title: str, xlabel: str | None, ylabel: str, size=(4.2, 2.6)):
        figure = Figure(figsize=size)
        axes = figure.subplots()
        axes.set_title(title)
        axes.set_ylabel(ylabel)
        if xlabel:
            axes.set_xlabel(xlabel)
        return figure, axes

    scores = [r.get("score") for r in records]
    known = [(i, s) for i, s in enumerate(scores) if isinstance(s, int | float)]
    out = {}

    figure, axes = chart("Score histogram", "score", "links")
    if marks:
        groups = [[s for i, s in known if marks[i] == m] for m in ("right", "partial", "wrong")]
        axes.hist(groups, bins=20, range=(0, 1), stacked=True, color=["#3a7d44", "#e0a030", "#c0392b"],
                  label=["right", "partial", "wrong"])
        axes.legend(frameon=False)
    else:
        axes.hist([s for _, s in known], bins=20, range=(0, 1), color="#3b6ea8")
    out["score histogram"] = _svg(figure)

    figure, axes = chart("Link types", None, "links")
    types = Counter(r["type"] for r in records).most_common(10)
    axes.bar([t for t, _ in types], [n for _, n in types], color="#3b6ea8")
    out["link types"] = _svg(figure)

    figure, axes = chart("Length ratio", "log2(target length / source length)", "links")
    ratios = [math.log2((len(r["tgt"]) + 1) / (len(r["src"]) + 1)) for r in records if r["src"] and r["tgt"]]
    axes.hist(ratios, bins=30, color="#3b6ea8")
    out["length ratio"] = _svg(figure)

    figure, axes = chart("Score along the document", "link, in document order", "score", size=(8.6, 2.4))
    colors = ["#c0392b" if marks and marks[i] == "wrong" else "#e0a030" if marks and marks[i] == "partial"
              else "#3b6ea8" for i, _ in known]
    axes.scatter([i for i, _ in known], [s for _, s in known], s=6, c=colors)
    axes.set_ylim(-0.02, 1.02)
    out["score along the document"] = _svg(figure)
    return out


def channel_facts(summary: dict) -> dict:
    """The lines a channel's summary adds to the report's summary."""
    facts = {"posts": summary.get("posts"), "post pairs": summary.get("pairs"),
             "unpaired posts": summary.get("unpaired")}
    return {k: v for k, v in facts.items() if v is not None}


def write_report(result: str | Path, output: str | Path, *, gold: str | Path | None = None,
                 title: str | None = None, force: bool = False) -> None:
    """Read RESULT (a JSONL file of links, or a channel OUTDIR) and write the report atomically."""
    result = Path(result)
    signature, extra, unpaired = None, {}, None
    source = result
    if result.is_dir():
        source = result / "corpus.jsonl"
        if (result / "unpaired.jsonl").is_file():
            unpaired = read_unpaired_posts(result / "unpaired.jsonl")
        summary_path = result / "summary.json"
        if summary_path.is_file():
            summary = parse_json(read_text(summary_path), str(summary_path))
            if not isinstance(summary, dict):
                raise InputError(f"{summary_path}: not a summary sentaligner wrote")
            signature = summary.get("signature") if isinstance(summary.get("signature"), str) else None
            extra = channel_facts(summary)
    records = list(read_link_records(source))
    gold_links = read_alignment(gold) if gold else None
    if gold_links is not None and len({(r.get("src_post_id"), r.get("tgt_post_id")) for r in records}) > 1:
        raise UsageError(f"{result}: --gold needs a single-document result; this one holds several post pairs")
    page = build_report(records, title=title or f"Alignment report: {result.name}", gold=gold_links,
                        signature=signature, extra=extra, unpaired=unpaired)
    with atomic_output(output, force=force) as stream:
        stream.write(page)


def json_for_script(value) -> str:
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def _candidate(best: Any) -> str:
    """`nb 231, confidence 0.18` from an unpaired post's best candidate."""
    if not isinstance(best, Mapping):
        return ""
    parts = [f"{key.removesuffix('_id')} {value}" for key, value in best.items() if key.endswith("_id")]
    if is_number(best.get("confidence")):
        parts.append(f"confidence {best['confidence']:.2f}")
    return ", ".join(parts)


def unpaired_section(posts: Sequence[Mapping[str, Any]]) -> str:
    """The posts left out of the corpus, rarest reason first (the common ones, such as English
    forwards, are expected), each with its opening and the rest behind "more"."""
    reasons = Counter(post["reason"] for post in posts)
    ordered = sorted(posts, key=lambda post: (reasons[post["reason"]], post["reason"]))
    rows = []
    for post in ordered:
        text = post["text"]
        shown = html.escape(text[:UNPAIRED_OPENING_CHARS])
        if len(text) > UNPAIRED_OPENING_CHARS:
            shown = (f"<details><summary>{shown}…</summary>{html.escape(text[UNPAIRED_OPENING_CHARS:])}"
                     "</details>")
        cells = [post.get("id"), post.get("date"), post.get("lang"), post["reason"], _candidate(post.get("best_candidate"))]
        rows.append("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in cells)
                    + f'<td class="text">{shown}</td></tr>')
    counts = "; ".join(f"{n} {html.escape(reason)}" for reason, n in reasons.most_common())
    return (f'<section id="unpaired"><h2>Unpaired posts</h2><p>{len(posts)} posts are not in the corpus: {counts}.</p>'
            '<table class="unpaired"><thead><tr><th>post</th><th>date</th><th>language</th><th>reason</th>'
            f'<th>best candidate</th><th>text</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>'
            if posts else "")


def build_report(records: Sequence[Mapping[str, Any]], *, title: str = "Alignment report", gold=None,
                 signature: str | None = None, extra: dict | None = None,
                 unpaired: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The report as one HTML string. `gold` is a list of (src ids, tgt ids) for a single document;
    `extra` adds lines to the summary (e.g. the channel's posts and pairs); `unpaired` are a
    channel's unpaired posts."""
    marks = link_marks(records, gold) if gold is not None else None
    summary = summarize(records)
    figures = plots(records, marks)
    rows = []
    for index, record in enumerate(records):
        rows.append({"n": index, "s": ",".join(map(str, record["src_ids"])), "t": ",".join(map(str, record["tgt_ids"])),
                     "type": record["type"], "score": record.get("score"), "flags": record.get("flags") or [],
                     "src": record["src"], "tgt": record["tgt"],
                     "post": (f"{record.get('src_post_id')}→{record.get('tgt_post_id')}"
                              if record.get("src_post_id") is not None else None),
                     "mark": marks[index] if marks else None})
    facts = [("links", f"{summary['links']:,}"), ("documents", f"{summary['documents']:,}")]
    for side, name in (("src", "source"), ("tgt", "target")):
        counts = summary["sides"][side]
        share = counts["covered"] / counts["sentences"] if counts["sentences"] else 0.0
        facts.append((f"{name} sentences", f"{counts['sentences']:,} ({counts['covered']:,} in pairs, {share:.1%})"))
    facts.append(("link types", ", ".join(f"{t} {n}" for t, n in summary["types"].most_common())))
    if summary["mean_score"] is not None:
        facts.append(("mean score", f"{summary['mean_score']:.3f}"))
    if summary["flags"]:
        facts.append(("flags", ", ".join(f"{f} {n}" for f, n in summary["flags"].most_common())))
    for key, value in (extra or {}).items():
        facts.append((key, str(value)))
    scores_html = ""
    if gold is not None:
        test = [(tuple(r["src_ids"]), tuple(r["tgt_ids"])) for r in records]
        result = evaluate_score([gold], [test])
        counts = Counter(marks)
        scores_html = (
            '<section><h2>Against gold</h2><table class="scores"><tr><th></th><th>precision</th><th>recall</th>'
            "<th>F1</th></tr>"
            + "".join(f"<tr><th>{kind}</th>" + "".join(
                f"<td>{getattr(result, f'{m}_{kind}'):.4f}</td>" for m in ("precision", "recall", "f1")) + "</tr>"
                for kind in ("strict", "lax"))
            + f"</table><p>{len(gold)} gold links; predicted links: {counts['right']} right, "
            f"{counts['partial']} partial (lax match only), {counts['wrong']} wrong.</p></section>")
    facts_html = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    figures_html = "".join(f'<figure class="plot" data-plot="{html.escape(name)}">{svg}</figure>'
                           for name, svg in figures.items())
    mark_header = "<th data-key=\"mark\">gold</th>" if marks else ""
    mark_legend = ('; gold: <span class="mark-right">right</span>, <span class="mark-partial">partial</span>, '
                   '<span class="mark-wrong">wrong</span>' if marks else "")
    with_posts = any(row["post"] for row in rows)
    return _PAGE.format(
        title=html.escape(title), version=__version__, signature=html.escape(signature or ""),
        facts=facts_html, scores=scores_html, figures=figures_html, mark_header=mark_header, mark_legend=mark_legend,
        unpaired=unpaired_section(unpaired or []),
        mark_col='<col class="mark">' if marks else "",
        post_col='<col class="post">' if with_posts else "",
        post_header='<th data-key="post">posts</th>' if with_posts else "",
        limit=TABLE_ROWS, data=json_for_script(rows), style=asset("report.css"), script=asset("report.js"))




@cache
def asset(name: str) -> str:
    """A file of sentaligner/assets/, the pages' CSS and JavaScript, read once."""
    from importlib.resources import files

    return files("sentaligner").joinpath("assets", name).read_text(encoding="utf-8")


# The start of every page sentaligner writes (report, review): a str.format template.
PAGE_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sentaligner {version}">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
"""

_PAGE = PAGE_HEAD + """<h1>{title}</h1>
<p class="signature">{signature}</p>
<section><h2>Summary</h2><table class="facts">{facts}</table></section>
{scores}
<section><h2>Plots</h2><div class="plots">{figures}</div></section>
<section><h2>Links</h2>
<div class="controls">
<label>score from <input id="min-score" type="number" min="0" max="1" step="0.05" value="0"></label>
<label>to <input id="max-score" type="number" min="0" max="1" step="0.05" value="1"></label>
<label>text <input id="search" type="search" placeholder="words in either side"></label>
<label><input id="flagged" type="checkbox"> only flagged or wrong</label>
<span id="shown"></span>
</div>
<p class="legend">Row colour is the score: 0 <span id="score-scale"></span> 1; no colour: no score{mark_legend}.
Click a column's name to sort by it (again to reverse).</p>
<table id="links" data-limit="{limit}">
<colgroup><col class="num">{post_col}<col class="ids"><col class="ids"><col class="type"><col class="score"><col class="flags">{mark_col}<col><col></colgroup>
<thead><tr><th data-key="n">#</th>{post_header}<th data-key="s">src</th><th data-key="t">tgt</th><th data-key="type">type</th>
<th data-key="score">score</th><th>flags</th>{mark_header}<th data-key="src">source text</th><th data-key="tgt">target text</th></tr></thead>
<tbody></tbody>
</table>
</section>
{unpaired}
<script type="application/json" id="link-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
