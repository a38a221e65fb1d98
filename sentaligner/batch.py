"""Many documents in one run (`sentaligner batch`): a manifest of jobs, each aligned on its own and
its result written the moment it is done, so that a rerun skips what is done and a stopped run
loses at most the jobs in flight.

OUTDIR holds `jobs/NAME.jsonl` (the job's links, each with `job` and `id`) and `jobs/NAME.json`
(written after it: the job's key, signature and counts); a job is done when the key in its
`.json` is the key of its inputs and settings now (`job_key`). At the end come the merged corpus,
one file per language pair and format (`corpus.ru-nb.jsonl`, ...), `summary.json` and
`failed.jsonl` (a line per job that failed, with its reason; one failure never stops the rest).

Engines: `local` (this process, or a pool of worker processes each loading the encoder once)
and `ray` (Ray Data: sentences embedded in an actor pool, each job aligned in a map task, on a
local Ray or a cluster). Both call `run_job` / `align_units` as `sentaligner align` does, so their
links are the same."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .channel import align_channel
from .dp import AlignParams
from .embed import EmbeddingStore, Encoder, load_encoder
from .errors import INTERRUPTED, AlignerError, InputError, OutputError, UsageError
from .export import ExportOptions, ExportStats, check_parquet, export_links, write_jsonl
from .files import LOCK_NAME, atomic_output, hold_folder
from .ingest import check_text_file, parse_json, read_channel, read_link_records
from .language import normalize_lang
from .pair import PairParams
from .pipeline import Units, align_units, check_languages, check_size, read_units, texts_to_embed
from .version import __version__

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

MANIFEST_COLUMNS = ("id", "src", "tgt", "src_lang", "tgt_lang", "presplit", "channel")
FORMATS = ("tsv", "tmx", "moses", "parquet", "xlsx")  # besides the merged JSONL, always written
IN_FLIGHT_PER_WORKER = 2  # jobs handed to a worker ahead: the pool never holds the whole manifest
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends
_QUIET_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"
RAY_CPUS = 0.5  # per embedding actor and per read or align task: they share the workers' CPUs
_SAFE_NAME = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class Job:
    """One row of the manifest: two texts (`src`, `tgt`) or a channel export (`channel`)."""

    id: str
    src_lang: str
    tgt_lang: str
    src: str | None = None
    tgt: str | None = None
    channel: str | None = None
    presplit: bool = False

    @property
    def inputs(self) -> list[str]:
        return [self.channel] if self.channel else [self.src or "", self.tgt or ""]

    @property
    def pair(self) -> str:
        return f"{self.src_lang}-{self.tgt_lang}"


@dataclass(frozen=True)
class BadRow:
    """A manifest row that is not a job; it goes to failed.jsonl."""

    id: str
    reason: str


@dataclass(frozen=True)
class Settings:
    """What every job is aligned with (the options of `align` and `channel`)."""

    model: str = "e5-small"
    max_merge: int = AlignParams().max_merge
    min_score: float = 0.0
    calibration: dict | None = None
    force_lang: bool = False
    pair_threshold: float = PairParams().threshold
    line_breaks: str = "auto"

    def signature(self, encoder_signature: str, encoder_calibration: dict | None = None) -> str:
        """Everything but the inputs that makes a job's links what they are; the calibration is
        the one given, else the encoder's own (refitted with a new release)."""
        used = self.calibration or encoder_calibration
        calibration = (hashlib.blake2b(json.dumps(used, sort_keys=True).encode(), digest_size=8).hexdigest()
                       if used else "none")
        return (f"sentaligner-{__version__}|{encoder_signature}|max_merge={self.max_merge}"
                f"|skip={AlignParams().skip_cost}"
                f"|min_score={self.min_score}|calibration={calibration}|force_lang={self.force_lang}"
                f"|pair_threshold={self.pair_threshold}|line_breaks={self.line_breaks}")


@dataclass
class Outcome:
    """What became of one job."""

    id: str
    pair: str
    name: str = ""  # its files: jobs/NAME.jsonl and jobs/NAME.json
    error: str | None = None
    links: int = 0
    sentences: int = 0
    seconds: float = 0.0
    skipped: bool = False  # done by an earlier run with the same inputs and settings


# ---- the manifest ----

def _flag(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("", "0", "false", "no"):
        return False
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes"):
        return True
    return None


def _job(row: Mapping[str, Any], number: int, base: Path, src_lang: str, tgt_lang: str) -> Job | BadRow:
    """A job from a manifest row (paths relative to the manifest's folder), or why it is not one."""
    raw_id = row.get("id")
    job_id = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id) else (
        f"row {number}")
    unknown = sorted(set(row) - set(MANIFEST_COLUMNS))
    if unknown:
        return BadRow(job_id, f"unknown field {unknown[0]!r} (a row has {', '.join(MANIFEST_COLUMNS)})")
    paths = {}
    for key in ("src", "tgt", "channel"):
        value = row.get(key)
        if value not in (None, ""):
            if not isinstance(value, str):
                return BadRow(job_id, f"{key!r} must be a path")
            paths[key] = str(base / value)
    if "channel" in paths and ("src" in paths or "tgt" in paths):
        return BadRow(job_id, "a row is either a channel or a src and a tgt, not both")
    if "channel" not in paths and not ("src" in paths and "tgt" in paths):
        return BadRow(job_id, "a row needs src and tgt (paths), or channel")
    presplit = _flag(row.get("presplit"))
    if presplit is None:
        return BadRow(job_id, "'presplit' must be true or false")
    try:
        langs = [normalize_lang(str(row.get(key) or default)) for key, default in
                 (("src_lang", src_lang), ("tgt_lang", tgt_lang))]
    except ValueError as exc:
        return BadRow(job_id, str(exc))
    if "channel" in paths:
        langs = ["ru", "nb"]
    return Job(job_id, langs[0], langs[1], paths.get("src"), paths.get("tgt"), paths.get("channel"), presplit)


def _rows(manifest: Path) -> Iterator[tuple[int, dict | str]]:
    """(row number, the row or why it cannot be read), streamed."""
    suffix = manifest.suffix.lower()
    if suffix in (".jsonl", ".json"):
        with manifest.open("rb") as stream:
            for number, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                try:
                    row = parse_json(raw.decode("utf-8"), f"line {number}")
                except (AlignerError, UnicodeDecodeError) as exc:
                    yield number, str(exc)
                    continue
                yield number, row if isinstance(row, dict) else f"line {number}: not a JSON object"
    elif suffix in (".csv", ".tsv"):
        import csv

        with manifest.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream, delimiter="\t" if suffix == ".tsv" else ",")
            try:
                for number, row in enumerate(reader, start=2):
                    if None in row:
                        yield number, f"line {number}: more cells than the header has"
                        continue
                    yield number, {key: value for key, value in row.items() if value not in (None, "")}
            except UnicodeDecodeError:
                raise InputError(f"{manifest}: not UTF-8 text; save the manifest as UTF-8") from None
            except csv.Error as exc:
                raise InputError(f"{manifest} line {reader.line_num}: {exc}") from None


def read_manifest(manifest: str | Path, src_lang: str, tgt_lang: str, pair_by_stem: bool = False
                  ) -> Iterator[Job | BadRow]:
    """The jobs of a manifest (JSONL, CSV or TSV with the columns MANIFEST_COLUMNS), or of a
    folder of `*.<src_lang>` and `*.<tgt_lang>` files paired by stem; streamed. A row that is
    not a job, or repeats an id, comes as a BadRow. A manifest that cannot be one at all (no
    such file, binary, another suffix) is an error now, before any row is read."""
    manifest = Path(manifest)
    if manifest.is_dir():
        if not pair_by_stem:
            raise UsageError(f"{manifest} is a folder: give --pair-by-stem to pair its *.{src_lang} and "
                             f"*.{tgt_lang} files by name")
        stems: dict[str, dict[str, str]] = {}
        for path in sorted(manifest.iterdir()):
            if path.is_file() and path.suffix in (f".{src_lang}", f".{tgt_lang}"):
                stems.setdefault(path.stem, {})[path.suffix[1:]] = path.name
        if not stems:
            raise InputError(f"{manifest}: no *.{src_lang} or *.{tgt_lang} files")
        rows: Iterable[tuple[int, dict | str]] = (
            (number, {"id": stem, "src": sides.get(src_lang), "tgt": sides.get(tgt_lang)})
            for number, (stem, sides) in enumerate(stems.items(), start=1))
        base = manifest
    else:
        if pair_by_stem:
            raise UsageError("--pair-by-stem goes with a folder, not a manifest file")
        if not manifest.is_file():
            raise InputError(f"{manifest}: no such file or folder")
        if manifest.suffix.lower() not in (".jsonl", ".json", ".csv", ".tsv"):
            raise UsageError(f"{manifest}: a manifest is .jsonl, .csv or .tsv (or a folder with --pair-by-stem)")
        check_text_file(manifest, "a manifest")
        rows, base = _rows(manifest), manifest.parent
    return _unique_jobs(rows, base, src_lang, tgt_lang)


def _unique_jobs(rows: Iterable[tuple[int, dict | str]], base: Path, src_lang: str, tgt_lang: str
                 ) -> Iterator[Job | BadRow]:
    seen: set[str] = set()
    for number, row in rows:
        job = _job(row, number, base, src_lang, tgt_lang) if isinstance(row, dict) else BadRow(f"row {number}", row)
        if job.id in seen:
            yield BadRow(job.id, f"row {number}: the id {job.id!r} is used by an earlier row")
            continue
        seen.add(job.id)
        yield job


# ---- one job ----

def job_name(job_id: str) -> str:
    """A file name for the job: its id where that is safe, else a cleaned id and a hash."""
    clean = _SAFE_NAME.sub("_", job_id).strip("._")[:80]
    if clean == job_id:
        return clean
    return f"{clean or 'job'}-{hashlib.blake2b(job_id.encode(), digest_size=4).hexdigest()}"


def _hash_path(digest, path: Path) -> None:
    try:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                digest.update(str(child.relative_to(path)).encode() + b"\0")
                _hash_path(digest, child)
            return
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def job_key(job: Job, signature: str) -> str:
    """A hash of the job's input files, its row and the settings' signature."""
    digest = hashlib.blake2b(digest_size=16)
    spec = {**asdict(job), "src": None, "tgt": None, "channel": bool(job.channel), "signature": signature}
    digest.update(json.dumps(spec, sort_keys=True).encode())
    for path in job.inputs:
        _hash_path(digest, Path(path))
        digest.update(b"\1")
    return digest.hexdigest()


def done_before(outdir: Path, job: Job, key: str) -> dict | None:
    """The job's `.json` when an earlier run finished it with this key, else None."""
    jobs = outdir / "jobs"
    try:
        meta = json.loads((jobs / f"{job_name(job.id)}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if meta.get("key") == key and (jobs / f"{job_name(job.id)}.jsonl").is_file() else None


@dataclass
class Prepared:
    """A document job read and split, ready to embed."""

    src: Units
    tgt: Units

    def texts(self) -> list[str]:
        return sorted(texts_to_embed(self.src, self.tgt))


def prepare(job: Job, settings: Settings) -> Prepared:
    """Read and split a document job's two texts (as `sentaligner align` does)."""
    assert job.src and job.tgt
    src_text, src = read_units(job.src, job.src_lang, job.presplit, line_breaks=settings.line_breaks)
    tgt_text, tgt = read_units(job.tgt, job.tgt_lang, job.presplit, line_breaks=settings.line_breaks)
    if not settings.force_lang:
        check_languages(job.src, src_text, job.src_lang, job.tgt, tgt_text, job.tgt_lang)
    check_size(src, tgt)
    return Prepared(src, tgt)


def run_job(job: Job, key: str, encoder: Encoder, settings: Settings, outdir: Path,
            prepared: Prepared | None = None, vectors: Mapping[str, np.ndarray] | None = None) -> Outcome:
    """Align one job and write its result; an error a user can act on becomes the outcome's
    `error`. `prepared` and `vectors` come from stages that ran elsewhere (the Ray engine)."""
    outcome = Outcome(job.id, job.pair, job_name(job.id))
    started = time.perf_counter()
    try:
        if job.channel:
            result = align_channel(read_channel(job.channel), encoder, AlignParams(max_merge=settings.max_merge),
                                   PairParams(threshold=settings.pair_threshold), EmbeddingStore(encoder),
                                   calibration=settings.calibration)
            if not result.pairs:
                raise InputError(f"{job.channel}: no Russian–Norwegian post pair found")
            links: list[Mapping[str, Any]] = list(result.links)
            signature = result.signature
            outcome.sentences = len({(link["src_post_id"], i) for link in links for i in link["src_ids"]}) + len(
                {(link["tgt_post_id"], j) for link in links for j in link["tgt_ids"]})
        else:
            prepared = prepared or prepare(job, settings)
            aligned = align_units(prepared.src, prepared.tgt, encoder, job.src_lang, job.tgt_lang,
                                  AlignParams(max_merge=settings.max_merge), calibration=settings.calibration,
                                  vectors=vectors)
            links, signature = list(aligned.links), aligned.signature
            outcome.sentences = len(prepared.src.texts) + len(prepared.tgt.texts)
        kept = [{**link, "job": job.id, "id": f"{job.id}:{number}"}
                for number, link in enumerate(links) if link["score"] >= settings.min_score]
    except AlignerError as exc:
        outcome.error = str(exc)
        return outcome
    except Exception as exc:  # a bug or an odd input must not stop the other jobs
        outcome.error = f"unexpected {type(exc).__name__}: {exc}"
        return outcome
    # OUTDIR that cannot be written (read-only, full) fails every job alike: an OutputError here stops the run.
    outcome.links = len(kept)
    outcome.seconds = round(time.perf_counter() - started, 3)
    jobs = outdir / "jobs"
    write_jsonl(kept, jobs / f"{outcome.name}.jsonl")
    meta = {"job": job.id, "key": key, "signature": str(signature), "pair": job.pair, "links": outcome.links,
            "links_below_min_score": len(links) - len(kept), "sentences": outcome.sentences, "inputs": job.inputs}
    with atomic_output(jobs / f"{outcome.name}.json", force=True) as stream:  # last: marks the job done
        stream.write(json.dumps(meta, ensure_ascii=False) + "\n")
    return outcome


# ---- engines ----

@cache
def worker_encoder(model: str) -> Encoder:
    """The encoder of this process, loaded once."""
    return load_encoder(model)


def _worker_start(threads: int, parent: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before the encoder's engine starts its threads
    # Ctrl-C reaches the whole process group: the main process reports it; a worker just ends (a
    # job it was writing leaves a temp file, which the next run clears).
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(INTERRUPTED))
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """End this worker when the batch process ends, even by `kill -9`, which gives it no chance
    to end its workers: on Linux the kernel sends SIGKILL (PR_SET_PDEATHSIG); elsewhere, and
    as a second guard, a thread checks every second that the parent is still there."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(INTERRUPTED)

    if os.getppid() != parent:  # it ended before the guard was set
        os._exit(INTERRUPTED)
    threading.Thread(target=watch, name="sentaligner-parent-watch", daemon=True).start()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the workers now (SIGTERM), not after the jobs they are running."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.terminate()


def _run_in_worker(job: Job, key: str, settings: Settings, outdir: str) -> Outcome:
    return run_job(job, key, worker_encoder(settings.model), settings, Path(outdir))


def run_local(jobs: Iterable[tuple[Job, str]], settings: Settings, outdir: Path, workers: int) -> Iterator[Outcome]:
    """Jobs in this process (one worker) or in a pool of `workers` processes, at most
    IN_FLIGHT_PER_WORKER each ahead; outcomes as they finish."""
    if workers == 1:
        for job, key in jobs:
            yield run_job(job, key, worker_encoder(settings.model), settings, outdir)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # here: `sentaligner --help` stays quick
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    threads = max(1, (os.cpu_count() or 1) // workers)
    # A run ended by a signal leaves its pool's semaphores to multiprocessing's resource tracker,
    # which removes them and warns on stderr; after a deliberate stop that warning is noise. The
    # tracker is started with this process's -W options.
    if _QUIET_TRACKER not in sys.warnoptions:
        sys.warnoptions.append(_QUIET_TRACKER)
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_start,
                               initargs=(threads, os.getpid()))
    finished = False
    try:
        pending: set[Future] = set()
        queue = iter(jobs)
        while True:
            for job, key in queue:
                pending.add(pool.submit(_run_in_worker, job, key, settings, str(outdir)))
                if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    break
            if not pending:
                finished = True
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise AlignerError("a worker process died (out of memory?); the jobs done are kept: "
                                       "rerun to go on, with fewer --workers") from None
    finally:  # stopped early (a signal, an error): jobs not started are dropped, running ones end now
        if not finished:
            _stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def check_ray() -> None:
    try:
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError('--engine ray needs Ray Data: pip install "sentaligner[ray]"') from None


def run_ray(jobs: Iterable[tuple[Job, str]], settings: Settings, outdir: Path, workers: int,
            address: str | None = None, gpus_per_worker: float = 0.0) -> Iterator[Outcome]:
    """Ray Data: read and split each job (a map task), embed its sentences in an actor pool of
    `workers` actors that load the encoder once (GPUs when asked), align and write it (a map
    task; the few joined spans the search checks are embedded there, by the same encoder)."""
    check_ray()
    import ray
    import ray.data

    rows = [{"job": json.dumps(asdict(job)), "key": key} for job, key in jobs]
    if not rows:
        return
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # sentaligner shows its own
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        # The actor's settings as class attributes: constructor arguments would sit in the object store.
        embedder = type("Embedder", (_RayEmbedder,), {"settings": settings, "outdir": outdir})
        # Half a CPU each: the embedding actors and the read and align tasks share the workers' CPUs.
        runtime_env = {"env_vars": {"OMP_NUM_THREADS": "1"}}
        with warnings.catch_warnings():
            # max_restarts=0: a failed actor fails the run (a rerun resumes it); restarting one is
            # what Ray warns it cannot do safely with the arguments its Data layer gives actors.
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
            dataset = (ray.data.from_items(rows, override_num_blocks=min(len(rows), 64 * workers))
                       .map(partial(_RayStages.read, settings=settings), num_cpus=RAY_CPUS, runtime_env=runtime_env)
                       .map_batches(embedder, batch_size=1, max_restarts=0,
                                    compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=RAY_CPUS,
                                    num_gpus=gpus_per_worker or None, runtime_env=runtime_env)
                       .map(partial(_RayStages.align, settings=settings, outdir=str(outdir)), num_cpus=RAY_CPUS,
                            runtime_env=runtime_env))
        for row in dataset.iter_rows():
            yield Outcome(**json.loads(row["outcome"]))
    finally:
        if started:
            ray.shutdown()


class _RayStages:
    """The map steps of the Ray engine; a row carries its job, key and stage data as JSON and bytes."""

    @staticmethod
    def read(row: dict, settings: Settings) -> dict:
        job = Job(**json.loads(row["job"]))
        out = {**row, "units": "", "error": "", "vectors": b"", "outcome": ""}
        if job.channel:
            return out
        try:
            prepared = prepare(job, settings)
            out["units"] = json.dumps({"src": asdict(prepared.src), "tgt": asdict(prepared.tgt)}, ensure_ascii=False)
        except AlignerError as exc:
            out["error"] = str(exc)
        except Exception as exc:  # as in run_job
            out["error"] = f"unexpected {type(exc).__name__}: {exc}"
        return out

    @staticmethod
    def align(row: dict, settings: Settings, outdir: str) -> dict:
        job = Job(**json.loads(row["job"]))
        if row["outcome"]:  # a channel, done by the embedding actor
            return row
        if row["error"]:
            outcome = Outcome(job.id, job.pair, job_name(job.id), error=row["error"])
        else:
            units = json.loads(row["units"])
            prepared = Prepared(Units(**units["src"]), Units(**units["tgt"]))
            texts = prepared.texts()
            vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(texts), -1)
            outcome = run_job(job, row["key"], worker_encoder(settings.model), settings, Path(outdir), prepared,
                              dict(zip(texts, vectors, strict=True)))
        return {**row, "vectors": b"", "outcome": json.dumps(asdict(outcome))}


class _RayEmbedder:
    """An actor of the pool: loads the encoder once; embeds each document's distinct sentences,
    and runs a channel job whole (pairing posts needs the encoder throughout)."""

    settings: Settings
    outdir: Path

    def __init__(self) -> None:
        self.encoder = worker_encoder(self.settings.model)

    def __call__(self, batch: dict) -> dict:
        vectors, outcomes = [], []
        for job_text, key, units, error, outcome in zip(batch["job"], batch["key"], batch["units"], batch["error"],
                                                        batch["outcome"], strict=True):
            job = Job(**json.loads(job_text))
            vector_bytes = b""
            if job.channel:
                outcome = json.dumps(asdict(run_job(job, key, self.encoder, self.settings, self.outdir)))
            elif not error:
                loaded = json.loads(units)
                texts = Prepared(Units(**loaded["src"]), Units(**loaded["tgt"])).texts()
                vector_bytes = EmbeddingStore(self.encoder).embed(texts).astype(np.float32).tobytes()
            vectors.append(vector_bytes)
            outcomes.append(outcome)
        return {**batch, "vectors": np.array(vectors, dtype=object), "outcome": np.array(outcomes, dtype=object)}


# ---- the whole run ----

@dataclass
class BatchSummary:
    engine: str
    workers: int
    signature: str
    jobs: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    links: int = 0
    sentences: int = 0  # of the jobs done in this run
    seconds: float = 0.0  # wall clock of this run's jobs, from the first row read to the last job done
    exported: dict = field(default_factory=dict)


def check_outdir(outdir: Path) -> None:
    """OUTDIR is new, empty, or an earlier batch's (it has jobs/): never another folder."""
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    if outdir.is_dir() and any(p.name != LOCK_NAME for p in outdir.iterdir()) and not (outdir / "jobs").is_dir():
        raise OutputError(f"{outdir}: a folder that holds other files; give a new or empty one, or an earlier "
                          "batch's OUTDIR to resume it")
    if not outdir.parent.is_dir():
        raise OutputError(f"{outdir.parent}: no such folder")


def run_batch(manifest: str | Path, outdir: str | Path, settings: Settings, *, src_lang: str = "ru",
              tgt_lang: str = "nb", pair_by_stem: bool = False, engine: str = "local", workers: int = 1,
              formats: Iterable[str] = (), force: bool = False, ray_address: str | None = None,
              gpus_per_worker: float = 0.0, export_options: Callable[[str, str], ExportOptions] | None = None,
              on_outcome: Callable[[Outcome], None] | None = None) -> BatchSummary:
    """Run every job of MANIFEST not yet done (all with `force`), then merge the results."""
    outdir = Path(outdir)
    check_outdir(outdir)
    jobs = read_manifest(manifest, src_lang, tgt_lang, pair_by_stem)  # a manifest that is none: an error now
    if "parquet" in formats:
        check_parquet()  # now, not after the last job
    if engine == "ray":
        check_ray()
    try:
        outdir.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write here: {exc.strerror or exc}") from None
    with hold_folder(outdir, "sentaligner batch"):
        (outdir / "jobs").mkdir(exist_ok=True)
        for temp in (outdir / "jobs").glob(".*.tmp"):  # a killed run's half-written files
            temp.unlink(missing_ok=True)
        encoder = worker_encoder(settings.model)
        signature = settings.signature(encoder.signature, getattr(encoder, "calibration", None))
        summary = BatchSummary(engine, workers, signature)
        finished: dict[str, Outcome] = {}  # by id, in manifest order: what the merged corpus holds
        failures: list[dict] = []

        def note(outcome: Outcome) -> None:
            if outcome.error:
                summary.failed += 1
                failures.append({"job": outcome.id, "error": outcome.error})
            else:
                summary.done += not outcome.skipped
                summary.skipped += outcome.skipped
                summary.links += outcome.links
                summary.sentences += 0 if outcome.skipped else outcome.sentences
            finished[outcome.id] = outcome
            if on_outcome:
                on_outcome(outcome)

        def pending() -> Iterator[tuple[Job, str]]:
            for job in jobs:
                summary.jobs += 1
                if isinstance(job, BadRow):
                    note(Outcome(job.id, "", error=job.reason))
                    continue
                try:
                    key = job_key(job, signature)
                except AlignerError as exc:
                    note(Outcome(job.id, job.pair, job_name(job.id), error=str(exc)))
                    continue
                meta = None if force else done_before(outdir, job, key)
                if meta:
                    note(Outcome(job.id, job.pair, job_name(job.id), links=meta["links"], sentences=meta["sentences"],
                                 skipped=True))
                    continue
                finished[job.id] = Outcome(job.id, job.pair, job_name(job.id))  # its place in manifest order
                yield job, key

        if engine == "ray":
            outcomes = run_ray(pending(), settings, outdir, workers, ray_address, gpus_per_worker)
        else:
            outcomes = run_local(pending(), settings, outdir, workers)
        started = time.perf_counter()
        for outcome in outcomes:
            note(outcome)
        summary.seconds = round(time.perf_counter() - started, 3)
        write_jsonl(failures, outdir / "failed.jsonl")
        summary.exported = merge_outputs(outdir, [o for o in finished.values() if not o.error], formats, export_options)
        with atomic_output(outdir / "summary.json", force=True) as stream:
            stream.write(json.dumps(asdict(summary), ensure_ascii=False, indent=2) + "\n")
        return summary


def merge_outputs(outdir: Path, outcomes: list[Outcome], formats: Iterable[str],
                  export_options: Callable[[str, str], ExportOptions] | None = None) -> dict[str, dict]:
    """The merged corpus of the jobs done, a file per language pair and format
    (`corpus.PAIR.jsonl` always), streamed from the jobs' files in manifest order."""
    exported: dict[str, dict] = {}
    earlier = set(outdir.glob("corpus.*"))  # an earlier run's merge: what this one does not rewrite goes
    for pair in dict.fromkeys(o.pair for o in outcomes):
        names = [o.name for o in outcomes if o.pair == pair]
        src_lang, tgt_lang = pair.split("-")
        options = export_options(src_lang, tgt_lang) if export_options else ExportOptions(src_lang, tgt_lang)

        exported[f"corpus.{pair}.jsonl"] = {"written": write_jsonl(job_links(outdir, names),
                                                                   outdir / f"corpus.{pair}.jsonl")}
        for fmt in dict.fromkeys(formats):
            stats: ExportStats = export_links(job_links(outdir, names), outdir / (
                f"corpus.{pair}" if fmt == "moses" else f"corpus.{pair}.{fmt}"), fmt, options, force=True)
            exported[f"corpus.{pair}.{fmt}"] = stats.as_dict()
    pairs = dict.fromkeys(o.pair for o in outcomes)
    written = {outdir / name for name in exported} | {  # moses: corpus.PAIR.SRC and corpus.PAIR.TGT
        outdir / f"corpus.{pair}.{lang}" for pair in pairs for lang in pair.split("-")}
    for stale in earlier - written:
        stale.unlink(missing_ok=True)
    return exported


def job_links(outdir: Path, names: Iterable[str]) -> Iterator[dict]:
    """The links of these jobs, streamed from their files."""
    for name in names:
        path = outdir / "jobs" / f"{name}.jsonl"
        if path.stat().st_size:
            yield from read_link_records(path)


def count_rows(manifest: str | Path, pair_by_stem: bool) -> int | None:
    """How many jobs MANIFEST holds, counted cheaply for a progress bar (None: unknown)."""
    path = Path(manifest)
    try:
        if path.is_dir():
            return len({p.stem for p in path.iterdir() if p.is_file()}) if pair_by_stem else None
        with path.open("rb") as stream:
            rows = sum(1 for line in stream if line.strip())
        return rows - (path.suffix.lower() in (".csv", ".tsv"))
    except OSError:
        return None
