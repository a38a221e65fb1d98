"""Command line: `sentaligner align` and `sentaligner eval`. Options are parsed here; the work is done
by the stage modules."""

from __future__ import annotations

import codecs
import json
import os
import signal
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import click
import numpy as np

from .batch import FORMATS as BATCH_FORMATS
from .batch import Settings as BatchSettings
from .batch import count_rows, run_batch
from .channel import FORMATS as CHANNEL_FORMATS
from .channel import align_channel, write_channel
from .documents import LINE_BREAKS
from .dp import AlignParams
from .embed import (
    DiskCache,
    EmbeddingStore,
    backend_available,
    built_model_dir,
    default_cache_dir,
    load_encoder,
    model_descriptions,
    torch_available,
)
from .errors import BATCH_FAILURES, INTERRUPTED, AlignerError, InputError, NothingToAlignError, OutputError, UsageError
from .evaluate import ERROR_CLASSES, auroc, calibration_error, link_errors, read_alignment, score
from .export import FORMATS, ExportOptions, export_links, output_paths
from .files import atomic_output, check_directory, check_outputs
from .ingest import read_channel, read_link_records, read_text
from .language import normalize_lang, normalize_locale
from .pair import PairParams
from .pipeline import (
    CALIBRATION_NOISE,
    align_units,
    calibration_examples,
    check_languages,
    check_size,
    read_units,
    split_units,
    texts_to_embed,
)
from .progress import StageProgress
from .report import write_report
from .score import RECOMMENDED_MIN_SCORE, fit_calibration, leave_one_out, read_calibration
from .version import __version__


class CliError(click.ClickException):
    """A one-line error with the exit code of the AlignerError it came from."""

    def __init__(self, error: AlignerError):
        super().__init__(str(error))
        self.exit_code = error.exit_code  # type: ignore[misc]  # click reads it per instance


@contextmanager
def user_errors():
    try:
        yield
    except AlignerError as error:
        raise CliError(error) from None


def _lang(ctx, param, value: str) -> str:
    try:
        return normalize_lang(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _locale(ctx, param, value: str | None) -> str | None:
    try:
        return value and normalize_locale(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _stack(options):
    """One decorator applying `options` in the order listed (as --help shows them)."""
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def force_and_locale_options(src_default: str, tgt_default: str):
    return _stack([
        click.option("--force", is_flag=True, help="Replace an existing output."),
        click.option("--src-locale", callback=_locale, metavar="CODE",
                     help=f"TMX language code of the source (default {src_default})."),
        click.option("--tgt-locale", callback=_locale, metavar="CODE",
                     help=f"TMX language code of the target (default {tgt_default})."),
    ])


def _encoding(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        info = codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {value!r}") from None
    if not getattr(info, "_is_text_encoding", True):  # hex, base64, zlib...: bytes to bytes
        raise click.BadParameter(f"{value!r} is not a text encoding")
    return info.name


LINE_BREAKS_OPTION = click.option(
    "--line-breaks", type=click.Choice(LINE_BREAKS), default="auto", show_default=True,
    help="Plain text: every line break is a boundary (line), a blank line separates paragraphs and a "
         "single break is a wrap (paragraph), or chosen per file from its line lengths and endings (auto, "
         "said on stderr). Documents (DOCX, ODT, EPUB, HTML, Markdown, subtitles, PDF) keep their own "
         "paragraphs.")
ENCODING_OPTION = click.option(
    "--encoding", callback=_encoding, metavar="NAME",
    help="Read the input in this encoding (e.g. cp1251, koi8-r, latin-1); default UTF-8, or a "
         "legacy encoding detected and reported.")


cache_options = _stack([
    click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
                 help="Folder of the embedding cache (default: SENTALIGNER_CACHE_DIR or ~/.cache/sentaligner)."),
    click.option("--no-cache", is_flag=True, help="Neither read nor write the embedding cache."),
])


def embedding_store(encoder, cache_dir, no_cache, progress) -> EmbeddingStore:
    cache = None if no_cache else DiskCache(cache_dir or default_cache_dir(), encoder.signature)
    return EmbeddingStore(encoder, progress=progress, cache=cache)


def _calibration(ctx, param, value: str | None) -> dict | None:
    if value is None:
        return None
    with user_errors():
        return read_calibration(value)


score_options = _stack([  # align and channel
    click.option("--min-score", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
                 help=f"Leave out links scored below this; {RECOMMENDED_MIN_SCORE} keeps the links more likely "
                      "right than wrong."),
    click.option("--calibration", type=click.Path(dir_okay=False), callback=_calibration, metavar="FILE",
                 help="Score with this calibration (from `sentaligner calibrate`) instead of the model's."),
])


KEEP_DUPLICATES_OPTION = click.option(
    "--keep-duplicates", is_flag=True,
    help="TMX: write a pair repeated with the same texts every time (default: once).")

output_options = _stack([  # every command that writes links
    click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="tsv", show_default=True,
                 help="tmx and moses hold only links with text on both sides."),
    click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                 help="Output file, written atomically; default stdout. For moses a prefix: "
                      "OUTPUT.<src-lang> and OUTPUT.<tgt-lang>."),
    force_and_locale_options("from --src-lang: ru-RU for ru", "from --tgt-lang: nb-NO for nb"),
    KEEP_DUPLICATES_OPTION,
])


def write_output(records, output, fmt, options: ExportOptions, force: bool):
    """Export, and warn on stderr of what changed on the way (notes are the caller's to show)."""
    stats = export_links(records, output, fmt, options, force)
    for warning in stats.warnings(fmt):
        click.echo(f"Warning: {warning}", err=True)
    return stats


class Interrupted(click.ClickException):
    """Ctrl-C: one line and status 130 (128 + SIGINT; __main__ then ends the process by SIGINT)."""

    exit_code = INTERRUPTED

    def __init__(self):
        super().__init__("interrupted")

    def show(self, file=None):
        if sys.stderr.isatty():
            click.echo(err=True)  # past the terminal's `^C`
        super().show(file)


class Terminated(click.ClickException):
    """SIGTERM (a kill, a service manager): one line and status 143 (128 + SIGTERM)."""

    exit_code = 128 + signal.SIGTERM

    def __init__(self):
        super().__init__("terminated")


class _TerminateSignal(SystemExit):
    """Raised by the SIGTERM handler: a SystemExit, so no `except Exception` on the way stops it."""


class _Commands(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None
        except _TerminateSignal:
            raise Terminated() from None
        except BrokenPipeError:
            raise  # a reader that stopped early (`| head`): click exits quietly
        except OSError as exc:
            if exc.filename is not None:  # files are checked where they are opened
                raise
            raise CliError(OutputError(f"standard output: cannot write: {exc.strerror or exc}")) from None


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="sentaligner")
def main():
    """Sentence alignment of a text and its translation, with a quality score on every link."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum, frame):
    """A kill (SIGTERM) unwinds like Ctrl-C, so temp files and folders are removed."""
    raise _TerminateSignal(128 + signum)


@main.command()
@click.argument("src", type=click.Path(dir_okay=False))
@click.argument("tgt", type=click.Path(dir_okay=False))
@click.option("--src-lang", default="ru", show_default=True, callback=_lang, help="Language of SRC.")
@click.option("--tgt-lang", default="nb", show_default=True, callback=_lang,
              help="Language of TGT (`no` is read as `nb`).")
@click.option("--force-lang", is_flag=True,
              help="Align even when SRC and TGT hold the same text, or one does not look like its language.")
@click.option("--presplit", is_flag=True,
              help="Inputs hold one sentence per line; 0-based line numbers are the ids.")
@click.option("--keep-empty", is_flag=True,
              help="With --presplit, keep empty lines as units (always aligned as skips).")
@LINE_BREAKS_OPTION
@click.option("--model", default="e5-small", show_default=True,
              help="Encoder: a name from models/ (`sentaligner models list`; NAME@BACKEND picks a backend) "
                   "or st:NAME_OR_PATH (sentence-transformers).")
@click.option("--max-merge", type=click.IntRange(2, 12), default=AlignParams().max_merge,
              show_default=True, help="Most sentences in one link, both sides together.")
@score_options
@output_options
@ENCODING_OPTION
@cache_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
def align(src, tgt, src_lang, tgt_lang, force_lang, presplit, keep_empty, line_breaks, model, max_merge, min_score,
          calibration, fmt, output, force, src_locale, tgt_locale, keep_duplicates, encoding, cache_dir, no_cache,
          quiet):
    """Align the sentences of SRC and TGT."""
    options = ExportOptions(src_lang, tgt_lang, src_locale, tgt_locale, keep_duplicates=keep_duplicates)
    if min_score and fmt == "vecalign":
        raise click.UsageError("-f vecalign lists every sentence once; it cannot leave links out (--min-score)")
    with user_errors(), StageProgress(quiet, "reading") as progress:
        check_outputs(output_paths(output, fmt, options), force)
        notes: list[str] = []
        src_text, src_units = read_units(src, src_lang, presplit, keep_empty, encoding, line_breaks, notes)
        tgt_text, tgt_units = read_units(tgt, tgt_lang, presplit, keep_empty, encoding, line_breaks, notes)
        if not force_lang:
            check_languages(src, src_text, src_lang, tgt, tgt_text, tgt_lang)
        check_size(src_units, tgt_units)
        distinct = texts_to_embed(src_units, tgt_units)
        progress.stage("loading the encoder")
        encoder = load_encoder(model, sum(map(len, distinct)))
        params = AlignParams(max_merge=max_merge)
        result = align_units(src_units, tgt_units, encoder, src_lang, tgt_lang, params,
                             embedding_store(encoder, cache_dir, no_cache, None), calibration, stage=progress.stage)
        options.signature = str(result.signature)
        options.document = Path(src).name
        kept = [link for link in result.links if link["score"] >= min_score]
        progress.stage("writing", None)
        written = write_output(kept, output, fmt, options, force)
    if not quiet:
        for note in notes:
            click.echo(note, err=True)
        kinds = Counter(link["type"] for link in result.links)
        common = ", ".join(f"{k} {v}" for k, v in kinds.most_common(5))
        stats = result.stats
        dropped = f"; {len(result.links) - len(kept)} below --min-score {min_score} left out" if min_score else ""
        click.echo(f"{len(result.links)} links ({common}) from {stats['src_units']} + "
                   f"{stats['tgt_units']} units; {stats['strings_embedded']} strings embedded "
                   f"({stats['cache_hits']} more read from the cache) in "
                   f"{stats['embed_seconds']:.1f}s, aligned in {stats['align_seconds']:.2f}s{dropped}", err=True)
        for note in written.notes(fmt):
            click.echo(note, err=True)
        click.echo(result.signature, err=True)


@main.command()
@click.argument("links", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--src-lang", default="ru", show_default=True, callback=_lang, help="Language of the src texts.")
@click.option("--tgt-lang", default="nb", show_default=True, callback=_lang, help="Language of the tgt texts.")
@output_options
def convert(links, src_lang, tgt_lang, fmt, output, force, src_locale, tgt_locale, keep_duplicates):
    """Write LINKS (JSONL from `align -f jsonl` or `channel`, perhaps filtered; - for stdin) in
    another format."""
    options = ExportOptions(src_lang, tgt_lang, src_locale, tgt_locale, keep_duplicates=keep_duplicates)
    with user_errors():
        check_outputs(output_paths(output, fmt, options), force)
        written = write_output(read_link_records(links), output, fmt, options, force)
    for note in written.notes(fmt):
        click.echo(note, err=True)


@main.command()
@click.argument("source", metavar="INPUT", type=click.Path())
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for pairs.jsonl, unpaired.jsonl, corpus.jsonl, summary.json and the -f formats.")
@click.option("-f", "--format", "formats", multiple=True, type=click.Choice(CHANNEL_FORMATS),
              help="Also write the corpus as corpus.tsv, corpus.tmx, corpus.xlsx or corpus.ru + corpus.nb (repeatable; "
                   "corpus.jsonl is always written).")
@click.option("--model", default="e5-small", show_default=True,
              help="Encoder: a name from models/ (`sentaligner models list`; NAME@BACKEND picks a backend) "
                   "or st:NAME_OR_PATH (sentence-transformers).")
@click.option("--max-merge", type=click.IntRange(2, 12), default=AlignParams().max_merge, show_default=True,
              help="Most sentences in one link, both sides together.")
@click.option("--pair-threshold", type=click.FloatRange(0.0, 1.0), default=PairParams().threshold,
              show_default=True, help="Posts whose best pairing confidence is below this stay unpaired.")
@score_options
@force_and_locale_options("ru-RU", "nb-NO")
@KEEP_DUPLICATES_OPTION
@click.option("--report", "with_report", is_flag=True, help="Also write report.html (see `sentaligner report`).")
@ENCODING_OPTION
@cache_options
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary on stderr.")
def channel(source, outdir, formats, model, max_merge, pair_threshold, min_score, calibration, force, src_locale,
            tgt_locale, keep_duplicates, with_report, encoding, cache_dir, no_cache, quiet):
    """Pair the Russian and Norwegian posts of a Telegram channel and align their sentences.

    INPUT is a Telegram Desktop JSON export (result.json or its folder), a Telegram Desktop HTML
    export folder, or a text dump of the channel's web view."""
    options = ExportOptions("ru", "nb", src_locale, tgt_locale, keep_duplicates=keep_duplicates)
    with user_errors(), StageProgress(quiet, "reading") as progress:
        check_directory(outdir, force)
        notes: list[str] = []
        posts = read_channel(source, encoding, notes)
        progress.stage("loading the encoder")
        encoder = load_encoder(model, sum(len(post.text) for post in posts))
        result = align_channel(posts, encoder, AlignParams(max_merge=max_merge), PairParams(threshold=pair_threshold),
                               embedding_store(encoder, cache_dir, no_cache, None), progress.stage, calibration)
        if not result.pairs:
            counts = ", ".join(f"{lang} {n}" for lang, n in sorted(result.stats["languages"].items()))
            raise NothingToAlignError(f"{source}: no Russian–Norwegian post pair found among "
                                      f"{len(posts)} posts ({counts})")
        if min_score:
            kept = [link for link in result.links if link["score"] >= min_score]
            result.stats.update(min_score=min_score, links_below_min_score=len(result.links) - len(kept),
                                links=len(kept))
            result.links = kept
        options.signature = str(result.signature)
        progress.stage("writing", None)
        names, written = write_channel(result, outdir, formats, options, force, with_report)
    for fmt, stats in written.items():
        for warning in stats.warnings(fmt):
            click.echo(f"Warning: {warning}", err=True)
    if not quiet:
        for note in notes:
            click.echo(note, err=True)
        click.echo(channel_summary(result, outdir, names, [n for fmt, st in written.items() for n in st.notes(fmt)]),
                   err=True)


def channel_summary(result, outdir, names, export_notes=()) -> str:
    stats = result.stats
    languages = ", ".join(f"{lang} {n}" for lang, n in sorted(stats["languages"].items(), key=lambda x: -x[1]))
    reasons = Counter(record["reason"] for record in result.unpaired)
    kinds = Counter(link["type"] for link in result.links)
    return "\n".join([
        f"{stats['posts']} posts: {languages}",
        f"{stats['pairs']} pairs ({stats['bilingual_pairs']} inside a bilingual post); {stats['unpaired']} unpaired"
        + "".join(f"\n  {n:4} {reason}" for reason, n in reasons.most_common()),
        f"{stats['links']} sentence links ({', '.join(f'{k} {v}' for k, v in kinds.most_common(5))}); "
        f"{stats['strings_embedded_total']} strings embedded, {stats['cache_hits']} read from the cache",
        *export_notes,
        f"wrote {outdir}/: {', '.join(names)}",
        str(result.signature),
    ])


@main.command()
@click.argument("result", type=click.Path(allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--gold", type=click.Path(dir_okay=False),
              help="Gold alignment (Vecalign format) of a single-document RESULT: adds P/R/F1 and marks every link.")
@click.option("--title", default=None, help="Title of the report (default: RESULT's name).")
@click.option("--force", is_flag=True, help="Replace an existing report.")
def report(result, output, gold, title, force):
    """Write a self-contained HTML report of RESULT: links in JSONL (`align -f jsonl`,
    `convert`), or a `channel` OUTDIR."""
    with user_errors():
        check_outputs([Path(output)], force)
        write_report(result, output, gold=gold, title=title, force=force)
    click.echo(f"wrote {output}", err=True)


@main.command()
@click.argument("manifest", type=click.Path())
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for jobs/, the merged corpus.PAIR.* files, summary.json and failed.jsonl; rerun "
                   "with the same folder to resume.")
@click.option("-f", "--format", "formats", multiple=True, type=click.Choice(BATCH_FORMATS),
              help="Also write the merged corpus in this format (repeatable; corpus.PAIR.jsonl is always written).")
@click.option("--src-lang", default="ru", show_default=True, callback=_lang,
              help="Language of src files, where a row gives none.")
@click.option("--tgt-lang", default="nb", show_default=True, callback=_lang,
              help="Language of tgt files, where a row gives none.")
@click.option("--pair-by-stem", is_flag=True,
              help="MANIFEST is a folder: pair its *.SRC_LANG and *.TGT_LANG files by name.")
@click.option("--force-lang", is_flag=True, help="As for align: no language check of the texts.")
@LINE_BREAKS_OPTION
@click.option("--model", default="e5-small", show_default=True, help="Encoder, as for align.")
@click.option("--max-merge", type=click.IntRange(2, 12), default=AlignParams().max_merge, show_default=True,
              help="Most sentences in one link, both sides together.")
@click.option("--pair-threshold", type=click.FloatRange(0.0, 1.0), default=PairParams().threshold,
              show_default=True, help="For channel rows, as for channel.")
@score_options
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: worker processes on this machine; ray: Ray Data (pip install \"sentaligner[ray]\").")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (local) or embedding actors (ray); default: the CPU count.")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="With --engine ray: the cluster to join (ray://HOST:10001, auto); default a local Ray.")
@click.option("--gpus-per-worker", type=click.FloatRange(0.0), default=0.0, show_default=True,
              help="With --engine ray: GPUs for each embedding actor.")
@KEEP_DUPLICATES_OPTION
@click.option("--force", is_flag=True, help="Redo every job, even those done by an earlier run.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary on stderr.")
@click.pass_context
def batch(ctx, manifest, outdir, formats, src_lang, tgt_lang, pair_by_stem, force_lang, line_breaks, model,
          max_merge, pair_threshold, min_score, calibration, engine, workers, ray_address, gpus_per_worker,
          keep_duplicates, force, quiet):
    """Align many documents: every job of MANIFEST (JSONL, CSV or TSV rows of id, src, tgt,
    src_lang, tgt_lang, presplit, or channel; or a folder with --pair-by-stem), each written as
    soon as it is done. A rerun skips the jobs done with the same inputs and settings."""
    if engine == "local" and (ray_address or gpus_per_worker):
        raise click.UsageError("--ray-address and --gpus-per-worker go with --engine ray")
    settings = BatchSettings(model, max_merge, min_score, calibration, force_lang, pair_threshold, line_breaks)
    workers = workers or os.cpu_count() or 1
    with user_errors(), batch_progress(quiet, manifest, pair_by_stem) as advance:
        summary = run_batch(manifest, outdir, settings, src_lang=src_lang, tgt_lang=tgt_lang,
                            pair_by_stem=pair_by_stem, engine=engine, workers=workers, formats=formats, force=force,
                            ray_address=ray_address, gpus_per_worker=gpus_per_worker,
                            export_options=lambda src, tgt: ExportOptions(src, tgt, keep_duplicates=keep_duplicates),
                            on_outcome=advance)
    if not quiet:
        click.echo(batch_summary(summary, outdir), err=True)
    if summary.failed:
        ctx.exit(BATCH_FAILURES)


@contextmanager
def batch_progress(quiet: bool, manifest, pair_by_stem: bool):
    """Progress over the jobs (StageProgress), with a count of sentences and failures."""
    with StageProgress(quiet, "jobs") as progress:
        total = None if quiet else count_rows(manifest, pair_by_stem)  # a pass over MANIFEST
        progress.stage("jobs", total)
        counts: Counter[str] = Counter()

        def advance(outcome) -> None:
            counts["sentences"] += outcome.sentences
            counts["failed"] += bool(outcome.error)
            progress.detail(f"{counts['sentences']:,} sentences, {counts['failed']} failed")
            progress.advance(1)

        yield advance


def batch_summary(summary, outdir) -> str:
    rate = (f" in {summary.seconds:.1f} s ({summary.done / summary.seconds:.2f} jobs/s, "
            f"{summary.sentences / summary.seconds:,.0f} sentences/s)" if summary.done and summary.seconds else "")
    lines = [f"{summary.jobs} jobs: {summary.done} done, {summary.skipped} done before (skipped), "
             f"{summary.failed} failed{' (see failed.jsonl)' if summary.failed else ''}; {summary.links:,} links; "
             f"{summary.sentences:,} sentences aligned{rate} ({summary.engine}, {summary.workers} "
             f"worker{'' if summary.workers == 1 else 's'})"]
    lines.append(f"wrote {', '.join(summary.exported) or 'no corpus'} in {outdir}")
    lines.append(summary.signature)
    return "\n".join(lines)


@main.command()
@click.argument("result", type=click.Path(exists=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The page to write (default: beside RESULT, NAME.review.html or OUTDIR/review.html).")
@click.option("--serve", is_flag=True,
              help="Serve the page on localhost instead (a random port, a token in the URL); Save then writes "
                   "the corrections beside RESULT. Ctrl-C stops it.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="With --serve: the port (0: a free one).")
@click.option("--title", default=None, help="Title of the page (default: from RESULT's name).")
@click.option("--force", is_flag=True, help="Replace an existing page.")
def review(result, output, serve, port, title, force):
    """Check and correct RESULT's links in the browser: merge, split, mark untranslated, move a
    boundary, confirm, reject, all from the keyboard. RESULT: links in JSONL (`align -f jsonl`),
    a `channel` OUTDIR or a `batch` OUTDIR. Save gives a corrections file for `sentaligner apply`."""
    from .review import ReviewServer, corrections_path, review_page_path, write_review  # here: --help stays quick

    with user_errors():
        if serve:
            if output:
                raise UsageError("--serve writes no page; leave out -o")
            server = ReviewServer(result, title=title, port=port)
            click.echo(f"reviewing {server.result.path} ({server.result.links} links); Save writes {server.save_to}",
                       err=True)
            click.echo(f"open {server.url}", err=True)
            click.echo("Ctrl-C stops the server", err=True)
            try:
                server.serve_forever()
            except KeyboardInterrupt:  # the way to stop a server: not an error
                saved = f"saved {server.saves} time(s) to" if server.saves else "nothing saved to"
                click.echo(f"{chr(10) if sys.stderr.isatty() else ''}stopped; {saved} {server.save_to}", err=True)
            finally:
                server.server_close()
            return
        output = Path(output) if output else review_page_path(result)
        check_outputs([output], force)
        read = write_review(result, output, title=title, force=force)
    click.echo(f"wrote {output} ({read.links} links); its Save button "
               f"downloads {corrections_path(result).name} for `sentaligner apply`", err=True)


@main.command(name="apply")
@click.argument("corrections", type=click.Path(dir_okay=False))
@click.argument("result", type=click.Path())
@click.option("--src-lang", default="ru", show_default=True, callback=_lang, help="Language of the src texts.")
@click.option("--tgt-lang", default="nb", show_default=True, callback=_lang, help="Language of the tgt texts.")
@output_options
def apply(corrections, result, src_lang, tgt_lang, fmt, output, force, src_locale, tgt_locale, keep_duplicates):
    """Write RESULT's links with the CORRECTIONS saved by `sentaligner review`: edited and confirmed
    links get score 1.0 and the flag `reviewed`, rejected ones are left out. The output is valid
    gold for `sentaligner eval` and `sentaligner calibrate`."""
    from .review import apply_corrections, describe, read_corrections, read_result

    options = ExportOptions(src_lang, tgt_lang, src_locale, tgt_locale, keep_duplicates=keep_duplicates)
    with user_errors():
        read = read_result(result)
        applied = apply_corrections(read_corrections(corrections, read), read)
        check_outputs(output_paths(output, fmt, options), force)
        written = write_output(applied.records, output, fmt, options, force)
    click.echo(describe(applied), err=True)
    for note in written.notes(fmt):
        click.echo(note, err=True)


@main.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--errors", "with_errors", is_flag=True,
              help="Also count the wrong links by kind (spurious skip, piece of a gold block, ...).")
@click.option("--show", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --errors: print up to this many examples of each kind.")
@click.option("--texts", nargs=2, type=click.Path(dir_okay=False), metavar="SRC TGT",
              help="With --show: the sentences, one a line, of a single GOLD TEST pair's two sides.")
def evaluate(files, as_json, with_errors, show, texts):
    """Score alignments against gold: GOLD TEST [GOLD TEST ...], in Vecalign format (TEST also as
    sentaligner's JSONL or TSV)."""
    if len(files) % 2:
        raise click.UsageError("give GOLD TEST pairs: an even number of files")
    with user_errors():
        if texts and len(files) != 2:
            raise UsageError("--texts goes with a single GOLD TEST pair")
        golds = [read_alignment(path) for path in files[0::2]]
        tests = [read_alignment(path, monotonic=True) for path in files[1::2]]
        sentences = [read_text(path).splitlines() for path in texts] if texts else None
    result = score(golds, tests)
    errors = [(path, error) for gold, test, path in zip(golds, tests, files[1::2], strict=True)
              for error in link_errors(gold, test)] if with_errors else []
    counts = Counter(error.kind for _, error in errors)
    if as_json:
        click.echo(json.dumps({**result.as_dict(), **({"errors": {kind: counts[kind] for kind in ERROR_CLASSES}}
                                                       if with_errors else {})}, indent=2))
        return
    click.echo(f"{'':10}{'strict':>8}{'lax':>8}")
    for name in ("precision", "recall", "f1"):
        strict, lax = getattr(result, f"{name}_strict"), getattr(result, f"{name}_lax")
        click.echo(f"{name:10}{strict:8.4f}{lax:8.4f}")
    click.echo(f"{result.documents} document(s), {result.gold_links} gold links, "
               f"{result.test_links} test links")
    if with_errors:
        click.echo(f"\n{len(errors)} test links are not gold links:")
        for kind, meaning in ERROR_CLASSES.items():
            click.echo(f"{counts[kind]:6}  {kind:22} {meaning}")
        for kind in ERROR_CLASSES:
            examples = [(path, error) for path, error in errors if error.kind == kind][:show]
            if examples:
                click.echo(f"\n{kind}:")
            for path, error in examples:
                click.echo(error_example(path if len(files) > 2 else None, error, sentences))


def error_example(path, error, sentences) -> str:
    """A wrong link, the gold links around it and, given the sentences, their texts."""
    def ids(link):
        return f"[{','.join(map(str, link[0]))}]:[{','.join(map(str, link[1]))}]"

    lines = [f"  {path + ': ' if path else ''}test {ids(error.link)}   gold "
             + (", ".join(ids(link) for link in error.gold) or "none")]
    if sentences:
        for side, name in ((0, "src"), (1, "tgt")):
            shown = sorted({i for link in (error.link, *error.gold) for i in link[side]})
            for i in shown:
                text = sentences[side][i] if i < len(sentences[side]) else "(no such line)"
                lines.append(f"    {name} {i:>5} {'*' if i in error.link[side] else ' '} {text}")
    return "\n".join(lines)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False), metavar="SRC TGT GOLD ...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The calibration file to write (JSON; give it to align/channel --calibration).")
@click.option("--src-lang", default="ru", show_default=True, callback=_lang, help="Language of the SRC files.")
@click.option("--tgt-lang", default="nb", show_default=True, callback=_lang, help="Language of the TGT files.")
@click.option("--presplit", is_flag=True, help="SRC and TGT hold one sentence per line (gold ids are line numbers).")
@click.option("--model", default="e5-small", show_default=True, help="The encoder to calibrate (as for align).")
@click.option("--max-merge", type=click.IntRange(2, 12), default=AlignParams().max_merge, show_default=True,
              help="As for align.")
@click.option("--noise", type=click.FloatRange(0.0, 0.5), default=CALIBRATION_NOISE, show_default=True,
              help="Share of target sentences replaced by unrelated ones in a synthetic copy of each document.")
@click.option("--force", is_flag=True, help="Replace an existing output.")
@ENCODING_OPTION
@cache_options
@click.option("-q", "--quiet", is_flag=True, help="No progress and no figures on stderr.")
def calibrate(files, output, src_lang, tgt_lang, presplit, model, max_merge, noise, force, encoding, cache_dir,
              no_cache, quiet):
    """Fit the link score to your own gold: triples of SRC TGT GOLD (GOLD in Vecalign format, ids
    as `align` numbers the sentences). Prints figures cross-validated over the documents and
    writes the calibration for --calibration."""
    if len(files) % 3:
        raise click.UsageError("give SRC TGT GOLD triples: a multiple of three files")
    with user_errors():
        check_outputs([Path(output)], force)
        triples = [files[k:k + 3] for k in range(0, len(files), 3)]
        documents = []
        for src, tgt, gold in triples:
            src_units = split_units(read_text(src, encoding), src_lang, presplit)
            tgt_units = split_units(read_text(tgt, encoding), tgt_lang, presplit)
            documents.append((src_units, tgt_units, read_alignment(gold)))
        distinct = texts_to_embed(*(units for document in documents for units in document[:2]))
        encoder = load_encoder(model, sum(map(len, distinct)))
        with StageProgress(quiet, "embedding sentences") as progress:
            store = embedding_store(encoder, cache_dir, no_cache, progress.stage("embedding sentences", len(distinct)))
            examples = [calibration_examples(src_units, tgt_units, gold, encoder, src_lang, tgt_lang, store,
                                             AlignParams(max_merge=max_merge), noise, seed)
                        for seed, (src_units, tgt_units, gold) in enumerate(documents)]
        try:
            fitted = fit_calibration(*(np.concatenate(column) for column in
                                       zip(*((e.features, e.strict, e.lax) for e in examples), strict=True)))
        except ValueError as exc:
            raise InputError(f"cannot calibrate on this gold: {exc}") from None
        real = sum(int((~e.synthetic).sum()) for e in examples)
        fitted["fitted_on"] = (f"{len(documents)} document(s) of the user's gold: {real} links, and "
                               f"{sum(len(e.strict) for e in examples) - real} from copies with {noise:.0%} "
                               "of the target sentences replaced")
        record = {"model": encoder.name, "signature": encoder.signature, "score": fitted}
        with atomic_output(Path(output), force) as stream:
            stream.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    if not quiet:
        click.echo(calibration_summary(examples), err=True)
        click.echo(f"wrote {output}", err=True)


def calibration_summary(examples) -> str:
    """Leave-one-document-out figures on the real links (with two documents or more)."""
    if len(examples) < 2:
        return "one document: no cross-validated figures"
    try:
        held_out = leave_one_out([(e.features, e.strict, e.lax) for e in examples])
    except ValueError:
        return "too few wrong links to cross-validate over documents"
    scores = np.concatenate([score[~e.synthetic] for score, e in zip(held_out, examples, strict=True)])
    right = np.concatenate([e.strict[~e.synthetic] for e in examples])
    kept = scores >= RECOMMENDED_MIN_SCORE
    return (f"cross-validated over {len(examples)} documents, {len(right)} links ({int(right.sum())} right): "
            f"AUROC {auroc(scores, right):.3f}, expected calibration error "
            f"{calibration_error(scores, right):.3f}; at {RECOMMENDED_MIN_SCORE} kept {int(kept.sum())}, "
            f"precision {right[kept].mean() if kept.any() else float('nan'):.3f}, "
            f"recall {right[kept].sum() / max(right.sum(), 1):.3f}")


@main.group()
def models():
    """The encoders sentaligner knows (models/) and the torch build of the bundled one."""


@models.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def list_models(as_json):
    """Each known encoder: its backends (fastest first), which run offline here, and whether its
    score is calibrated. A bare --model NAME runs on the first available backend."""
    rows = []
    for name, desc in sorted(model_descriptions().items()):
        available = [backend for backend in desc["backends"] if backend_available(desc, backend)]
        rows.append({"name": name, "backends": desc["backends"], "available": available,
                     "prefix": desc.get("prefix", ""), "dimension": desc.get("dimension"),
                     "calibrated": bool(desc.get("score", {}).get("fitted_on")),
                     "description": desc.get("description", "")})
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(f"{'name':10} {'backends (fastest first)':26} {'offline here':22} {'prefix':10} {'dim':>4}  calibrated")
    for row in rows:
        click.echo(f"{row['name']:10} {', '.join(row['backends']):26} {', '.join(row['available']) or '-':22} "
                   f"{row['prefix'].strip() or '-':10} {row['dimension'] or '?':>4}  "
                   f"{'yes' if row['calibrated'] else 'no'}")
    built = [row["name"] for row in rows if "torch" in row["backends"] and "torch" not in row["available"]]
    needs = "" if torch_available() else " (needs torch and sentence-transformers: pip install \"sentaligner[st]\")"
    for name in built:
        click.echo(f"{name}: `sentaligner models build {name}`{needs} adds the faster torch backend.", err=True)


@models.command(name="build")
@click.argument("name")
@click.option("--force", is_flag=True, help="Rebuild even if an up-to-date build exists.")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on stderr but errors.")
def build_model(name, force, quiet):
    """Write the sentence-transformers form of a bundled model (e5-small) into the user cache,
    so that --model NAME runs on torch. Offline; does nothing if already built."""
    from .modelbuild import build_bundled

    with user_errors():
        known = model_descriptions()
        if name not in known or "torch" not in known[name]["backends"]:
            buildable = ", ".join(n for n, d in sorted(known.items()) if "torch" in d["backends"])
            raise UsageError(f"no bundled model {name!r} to build; buildable: {buildable}")
        with StageProgress(quiet, f"building {name}"):
            folder, built = build_bundled(known[name], built_model_dir(name), force=force)
    if not quiet:
        click.echo(f"{'built' if built else 'already built'}: {folder}", err=True)
    click.echo(str(folder))


if __name__ == "__main__":
    sys.exit(main())
