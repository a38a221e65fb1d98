"""The Python API for notebooks and scripts: `align`, `align_files` and `align_channel` return
an `Alignment`, whose links can be read, turned into a pandas DataFrame or a Hugging Face
`Dataset`, written in any of the command line's formats, or reported as HTML.

    >>> from sentaligner import align
    >>> alignment = align("Привет. Как дела?", "Hei. Hvordan går det?")
    >>> alignment.to_pandas()[["src", "tgt", "score"]]
    >>> alignment.write("links.tmx")
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .channel import align_channel as _align_posts
from .dp import AlignParams
from .embed import Encoder, load_encoder
from .errors import UsageError
from .export import FORMATS, ExportOptions, ExportStats, export_links
from .files import atomic_output
from .ingest import read_channel
from .language import normalize_lang
from .pair import PairParams
from .pipeline import (
    DEFAULT_MAX_MERGE,
    LinkRecord,
    Units,
    align_units,
    check_languages,
    check_size,
    read_units,
    split_units,
)
from .report import build_report, channel_facts

if TYPE_CHECKING:
    import datasets
    import pandas

# The format a file name's ending stands for in `Alignment.write`.
_SUFFIX_FORMATS = {".tsv": "tsv", ".jsonl": "jsonl", ".tmx": "tmx", ".parquet": "parquet", ".txt": "vecalign"}


@dataclass
class Alignment:
    """The scored links of one alignment and how they were made.

    `links` are dicts (the JSONL record: `src_ids`, `tgt_ids`, `type`, `score`, `similarity`,
    `src`, `tgt`, `flags`, ...); `signature` says how they were made (version, languages,
    encoder, settings); `stats` counts units, strings embedded and seconds. A channel's
    alignment also holds its post `pairs` and `unpaired` posts."""

    links: list[dict[str, Any]]
    src_lang: str
    tgt_lang: str
    signature: str
    stats: dict[str, Any] = field(default_factory=dict)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    unpaired: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.links)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.links)

    def to_pandas(self) -> pandas.DataFrame:
        """The links as a pandas DataFrame, a row a link (needs pandas)."""
        try:
            import pandas
        except ImportError:
            raise UsageError("to_pandas needs pandas: pip install pandas") from None
        columns = ["src_ids", "tgt_ids", "type", "score", "similarity", "src", "tgt", "flags"]
        extra = sorted({key for link in self.links for key in link} - set(columns) - {"src_sentences",
                                                                                     "tgt_sentences"})
        return pandas.DataFrame([{key: link.get(key) for key in columns + extra} for link in self.links],
                                columns=columns + extra)

    def to_dataset(self) -> datasets.Dataset:
        """The translation pairs (links with text on both sides) as a Hugging Face `Dataset`, laid
        out as `-f parquet` writes them: `translation` {src_lang: text, tgt_lang: text}, `score`,
        `similarity`, `type`, `src_ids`, `tgt_ids`, `flags` (needs datasets)."""
        try:
            import datasets
        except ImportError:
            raise UsageError("to_dataset needs datasets: pip install datasets") from None
        if self.src_lang == self.tgt_lang:
            raise UsageError("a translation column needs two different languages")
        rows = [{"translation": {self.src_lang: link["src"], self.tgt_lang: link["tgt"]},
                 "score": link.get("score"), "similarity": link.get("similarity"), "type": link["type"],
                 "src_ids": list(link["src_ids"]), "tgt_ids": list(link["tgt_ids"]),
                 "flags": list(link.get("flags") or [])}
                for link in self.links if link["src"] and link["tgt"]]
        features = datasets.Features({
            "translation": datasets.Translation(languages=[self.src_lang, self.tgt_lang]),
            "score": datasets.Value("float64"), "similarity": datasets.Value("float64"),
            "type": datasets.Value("string"), "src_ids": datasets.Sequence(datasets.Value("int64")),
            "tgt_ids": datasets.Sequence(datasets.Value("int64")),
            "flags": datasets.Sequence(datasets.Value("string"))})
        return datasets.Dataset.from_list(rows, features=features)

    def write(self, path: str | Path, format: str | None = None, *, force: bool = False, min_score: float = 0.0,
              src_locale: str | None = None, tgt_locale: str | None = None) -> ExportStats:
        """Write the links to `path` atomically in `format` (one of FORMATS; by default from the
        file name's ending: .tsv, .jsonl, .tmx, .parquet, .txt for Vecalign; `moses` writes
        PATH.SRC and PATH.TGT). Links scored below `min_score` are left out."""
        fmt = format or _SUFFIX_FORMATS.get(Path(path).suffix.lower())
        if fmt not in FORMATS:
            raise UsageError(f"say the format of {path} (format=...): one of {', '.join(FORMATS)}")
        if min_score and fmt == "vecalign":
            raise UsageError("vecalign lists every sentence once; it cannot leave links out (min_score)")
        options = ExportOptions(self.src_lang, self.tgt_lang, src_locale, tgt_locale, signature=self.signature)
        kept = [link for link in self.links if link["score"] >= min_score]
        return export_links(kept, path, fmt, options, force=force)

    def report(self, path: str | Path, *, title: str = "Alignment report", force: bool = False) -> Path:
        """Write the HTML report of the links (summary, plots, a table to filter) to `path`."""
        extra = channel_facts(self.stats) if self.pairs else None
        page = build_report(self.links, title=title, signature=self.signature, extra=extra,
                            unpaired=self.unpaired or None)
        with atomic_output(Path(path), force) as stream:
            stream.write(page)
        return Path(path)


def _encoder(model: str | Encoder, workload_chars: int | None = None) -> Encoder:
    return load_encoder(model, workload_chars) if isinstance(model, str) else model


def align(src: str, tgt: str, *, src_lang: str = "ru", tgt_lang: str = "nb", model: str | Encoder = "e5-small",
          presplit: bool = False, max_merge: int = DEFAULT_MAX_MERGE, calibration: dict | None = None) -> Alignment:
    """Align two texts, a text and its translation, and score every link.

    `model` is a name as for `--model` (default the bundled e5-small) or an encoder object;
    with `presplit` each line is a unit and the ids are line numbers; `calibration` is a dict
    from `sentaligner calibrate`, read with `sentaligner.score.read_calibration`."""
    src_lang, tgt_lang = normalize_lang(src_lang), normalize_lang(tgt_lang)
    src_units, tgt_units = split_units(src, src_lang, presplit), split_units(tgt, tgt_lang, presplit)
    return _aligned(src_units, tgt_units, src_lang, tgt_lang, model, max_merge, calibration)


def _aligned(src_units: Units, tgt_units: Units, src_lang: str, tgt_lang: str, model: str | Encoder, max_merge: int,
             calibration: dict | None) -> Alignment:
    check_size(src_units, tgt_units)
    encoder = _encoder(model, sum(map(len, src_units.texts + tgt_units.texts)))
    result = align_units(src_units, tgt_units, encoder, src_lang, tgt_lang, AlignParams(max_merge=max_merge),
                         calibration=calibration)
    return Alignment(_plain(result.links), src_lang, tgt_lang, str(result.signature), result.stats)


def align_files(src: str | Path, tgt: str | Path, *, src_lang: str = "ru", tgt_lang: str = "nb",
                model: str | Encoder = "e5-small", presplit: bool = False, max_merge: int = DEFAULT_MAX_MERGE,
                calibration: dict | None = None, encoding: str | None = None, force_lang: bool = False,
                line_breaks: str = "auto") -> Alignment:
    """Align two files as `sentaligner align` does: plain text (UTF-8, or `encoding`, or a legacy
    encoding detected; its line breaks read as `line_breaks` says) or a document (DOCX, ODT,
    EPUB, HTML, Markdown, SRT/VTT, PDF), checked to be in their languages unless `force_lang`.
    A document's links carry their places (`src_where`, `tgt_where`)."""
    src_lang, tgt_lang = normalize_lang(src_lang), normalize_lang(tgt_lang)
    src_text, src_units = read_units(str(src), src_lang, presplit, encoding=encoding, line_breaks=line_breaks)
    tgt_text, tgt_units = read_units(str(tgt), tgt_lang, presplit, encoding=encoding, line_breaks=line_breaks)
    if not force_lang:
        check_languages(str(src), src_text, src_lang, str(tgt), tgt_text, tgt_lang)
    return _aligned(src_units, tgt_units, src_lang, tgt_lang, model, max_merge, calibration)


def align_channel(source: str | Path, *, model: str | Encoder = "e5-small", max_merge: int = DEFAULT_MAX_MERGE,
                  pair_threshold: float = PairParams().threshold, calibration: dict | None = None,
                  encoding: str | None = None) -> Alignment:
    """Pair the Russian and Norwegian posts of a Telegram channel (a Telegram Desktop JSON or
    HTML export, or a text dump of the web view) and align their sentences, as `sentaligner
    channel` does; the links carry their posts' ids and date."""
    posts = read_channel(source, encoding)
    encoder = _encoder(model, sum(len(post.text) for post in posts))
    result = _align_posts(posts, encoder, AlignParams(max_merge=max_merge), PairParams(threshold=pair_threshold),
                          calibration=calibration)
    return Alignment(_plain(result.links), "ru", "nb", str(result.signature), result.stats, result.pairs,
                     result.unpaired)


def _plain(links: list[LinkRecord] | list[Any]) -> list[dict[str, Any]]:
    return [dict(link) for link in links]
