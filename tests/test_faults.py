"""Faults a long `sentaligner batch` run meets: `kill -9` at random points, SIGTERM or SIGINT to the
parent alone, an OUTDIR that turns read-only mid-run, a full disk, and four `sentaligner align`
sharing one cache folder. Each case ends with no live process of the run (psutil), no partial
output file, and a rerun whose merged corpus is byte-identical to an uninterrupted run's.

The read-only and full-disk cases need a private mount namespace (`unshare --mount`, as root or
through a user namespace); where there is none they are skipped, saying so.
`benchmarks/faults.py` runs the same cases and prints them as a table."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
JOBS = 6
RUN_MARKER = "SENTALIGNER_FAULT_CASE"  # in the environment of every process of a case's run
STOP_LIMIT = 30.0  # seconds a stopped run may take to be gone (the figure itself is a benchmark's)
pytestmark = pytest.mark.slow


@dataclass
class Case:
    name: str
    exit_code: int | None = None
    stop_seconds: float | None = None  # from the fault to the last process of the run gone
    orphans: int = 0  # processes of the run alive STOP_LIMIT seconds after the fault
    partial: tuple[str, ...] = ()  # output files that are not whole
    identical: bool | None = None  # the rerun's merged corpus is the uninterrupted run's
    stderr: str = ""


class Scene:
    """A manifest of JOBS real post pairs, a warm embedding cache, and an uninterrupted run's corpus."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        rows = [{"id": f"post-{k}", "src": str(FIXTURES / f"{name}.ru.txt"), "tgt": str(FIXTURES / f"{name}.nb.txt")}
                for k, name in enumerate(["izvestia", "ria"] * (JOBS // 2))]
        self.manifest = folder / "manifest.jsonl"
        self.manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        self.env = {**os.environ, "SENTALIGNER_CACHE_DIR": str(folder / "cache")}
        assert self.batch(folder / "whole", "whole").wait(timeout=600) == 0  # and the cache is warm
        self.corpus = (folder / "whole" / "corpus.ru-nb.jsonl").read_bytes()
        assert len(self.corpus.splitlines()) > JOBS * 10
        started = time.monotonic()
        assert self.batch(folder / "warm", "warm").wait(timeout=600) == 0
        self.seconds = time.monotonic() - started  # of a run with a warm cache, as the cases have

    def batch(self, outdir: Path, label: str) -> subprocess.Popen:
        """`sentaligner batch` into OUTDIR; its processes carry RUN_MARKER=label in their environment."""
        return subprocess.Popen(scene_command(self, outdir), cwd=ROOT, env={**self.env, RUN_MARKER: label},
                                stderr=subprocess.PIPE, text=True)

    def rerun_identical(self, outdir: Path) -> bool:
        rerun = self.batch(outdir, "rerun")
        _, stderr = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, stderr
        return (outdir / "corpus.ru-nb.jsonl").read_bytes() == self.corpus


def partial_files(outdir: Path, temp_allowed: bool) -> tuple[str, ...]:
    """Output files that are not whole: a temp file (unless a SIGKILL may have left it; the next
    run clears them), JSON that does not parse, a job marked done whose links are not all there."""
    bad = []
    for path in sorted(p for p in outdir.rglob("*") if p.is_file() and p.name != ".lock"):
        name = str(path.relative_to(outdir))
        if path.name.startswith("."):
            bad += [] if temp_allowed else [name]
            continue
        try:
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if (
                path.suffix == ".jsonl") else [json.loads(path.read_text(encoding="utf-8"))]
        except ValueError:
            bad.append(name)
            continue
        if path.suffix == ".json" and path.parent.name == "jobs":
            links = path.with_suffix(".jsonl")
            if not links.is_file() or len(links.read_text(encoding="utf-8").splitlines()) != lines[0]["links"]:
                bad.append(name)
    return tuple(bad)


def run_processes(label: str) -> list:
    """Live processes (not zombies) whose environment has RUN_MARKER=label."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(RUN_MARKER) == label and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def gone_after(label: str, since: float) -> tuple[float, int]:
    """Seconds from `since` until no process of the run is alive (polled), and how many still
    were at STOP_LIMIT."""
    while True:
        alive = run_processes(label)
        if not alive or time.monotonic() - since > STOP_LIMIT:
            return round(time.monotonic() - since, 2), len(alive)
        time.sleep(0.05)


def stop_and_watch(process: subprocess.Popen, signum: int, label: str) -> tuple[int, float, int, str]:
    """Send `signum` to the batch process alone; its exit code, the seconds until it and every
    process it started are gone, how many were left alive, and its stderr."""
    sent = time.monotonic()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=STOP_LIMIT)
    seconds, orphans = gone_after(label, sent)
    return process.returncode, seconds, orphans, stderr


def wait_for_jobs(outdir: Path, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while len(list((outdir / "jobs").glob("*.json"))) < count and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)


# ---- the cases ----

def kill_at(scene: Scene, delay: float, label: str, tries: int = 4) -> Case:
    """`kill -9` the batch `delay` seconds in. A run that ends before that (the machine is less
    loaded than when the scene timed a run) is started again and killed at half the delay, so
    the point still falls inside a run; after `tries` such runs there is nothing to test."""
    for attempt in range(tries):
        name = label if attempt == 0 else f"{label}-again-{attempt}"
        outdir = scene.folder / name
        process = scene.batch(outdir, name)
        time.sleep(delay / 2 ** attempt)
        if process.poll() is None:
            code, seconds, orphans, stderr = stop_and_watch(process, signal.SIGKILL, name)
            partial = partial_files(outdir, temp_allowed=True) if outdir.exists() else ()
            return Case(name, code, seconds, orphans, partial, scene.rerun_identical(outdir), stderr)
    return Case(label, process.returncode, identical=None)


def signal_parent(scene: Scene, signum: int, label: str) -> Case:
    outdir = scene.folder / label
    process = scene.batch(outdir, label)
    wait_for_jobs(outdir, 1, process)  # jobs in flight in both workers
    code, seconds, orphans, stderr = stop_and_watch(process, signum, label)
    return Case(label, code, seconds, orphans, partial_files(outdir, temp_allowed=False),
                scene.rerun_identical(outdir), stderr)


def private_mount() -> list[str] | None:
    """The unshare command that gives a private mount namespace here, if any."""
    if not shutil.which("unshare"):
        return None
    for prefix in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


def read_only_mid_run(scene: Scene, prefix: list[str], label: str = "read-only OUTDIR mid-run") -> Case:
    """After the first job is done, OUTDIR becomes a read-only bind mount of itself."""
    outdir = scene.folder / "read-only"
    outdir.mkdir()
    script = f"""
        {' '.join(scene_command(scene, outdir))} 2>"$1/stderr" & pid=$!
        until [ -n "$(ls "{outdir}"/jobs/*.json 2>/dev/null)" ] || ! kill -0 $pid 2>/dev/null; do sleep 0.02; done
        mount --bind "{outdir}" "{outdir}" && mount -o remount,bind,ro "{outdir}" && date +%s.%N >"$1/fault"
        wait $pid; echo $? >"$1/rc"
    """
    return _in_namespace(scene, prefix, script, outdir, label)


def full_disk(scene: Scene, prefix: list[str], label: str = "full disk (a 96 KiB tmpfs)") -> Case:
    """OUTDIR on a tmpfs too small for the corpus; what was written is copied out for the rerun."""
    outdir = scene.folder / "full-disk"
    mount = scene.folder / "tmpfs"
    mount.mkdir()
    script = f"""
        mount -t tmpfs -o size=96k tmpfs "{mount}" || exit 97
        {' '.join(scene_command(scene, mount / "out"))} 2>"$1/stderr"; echo $? >"$1/rc"
        cp -a "{mount}/out" "{outdir}"
    """
    return _in_namespace(scene, prefix, script, outdir, label)


def scene_command(scene: Scene, outdir: Path) -> list[str]:
    return [sys.executable, "-m", "sentaligner", "batch", str(scene.manifest), "-o", str(outdir), "--workers", "2",
            "-q"]


def _in_namespace(scene: Scene, prefix: list[str], script: str, outdir: Path, label: str) -> Case:
    notes = scene.folder / f"notes-{outdir.name}"
    notes.mkdir()
    shell = subprocess.Popen([*prefix, "sh", "-c", script, "sh", str(notes)], cwd=ROOT,
                             env={**scene.env, RUN_MARKER: label})
    shell.wait(timeout=600)
    ended = time.time()
    _, orphans = gone_after(label, time.monotonic())
    code = int((notes / "rc").read_text())
    fault = notes / "fault"  # when the fault came, where the script makes it at a known time
    seconds = round(ended - float(fault.read_text()), 2) if fault.exists() else None
    return Case(label, code, seconds, orphans, partial_files(outdir, temp_allowed=False),
                scene.rerun_identical(outdir), (notes / "stderr").read_text(encoding="utf-8"))


def shared_cache(scene: Scene, processes: int = 4) -> tuple[list[int], list[str], list[bytes]]:
    """`processes` `sentaligner align` at once on one new cache folder: exit codes, stderr, outputs."""
    cache = scene.folder / "shared-cache"
    runs = [subprocess.Popen([sys.executable, "-m", "sentaligner", "align", str(FIXTURES / "izvestia.ru.txt"),
                              str(FIXTURES / "izvestia.nb.txt"), "--cache", str(cache), "-q", "-o",
                              str(scene.folder / f"shared-{k}.jsonl")], cwd=ROOT, env=scene.env,
                             stderr=subprocess.PIPE, text=True) for k in range(processes)]
    errors = [run.communicate(timeout=600)[1] for run in runs]
    return ([run.returncode for run in runs], errors,
            [(scene.folder / f"shared-{k}.jsonl").read_bytes() for k in range(processes)])


# ---- the tests ----

@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return Scene(tmp_path_factory.mktemp("faults"))


def kill_points(scene: Scene, count: int = 10) -> list[float]:
    rng = random.Random(32)
    return sorted(round(rng.uniform(0.2, scene.seconds), 2) for _ in range(count))


def test_kill_9_at_ten_random_points_leaves_no_process_and_resumes_to_the_same_corpus(scene):
    cases = [kill_at(scene, delay, f"kill-9-{k}") for k, delay in enumerate(kill_points(scene))]
    killed = [case for case in cases if case.identical is not None]
    assert len(killed) >= 8, cases  # the points lie inside the run
    for case in killed:
        assert case.exit_code == -signal.SIGKILL and case.orphans == 0 and not case.partial, case
        assert case.identical, case


@pytest.mark.parametrize("signum, code, line", [(signal.SIGTERM, 143, "Error: terminated\n"),
                                                (signal.SIGINT, -signal.SIGINT, "Error: interrupted\n")])
def test_a_signal_to_the_parent_alone_ends_the_run_and_its_workers(scene, signum, code, line):
    case = signal_parent(scene, signum, f"signal-{signum}")
    assert case.exit_code == code and case.stderr == line, case
    assert case.orphans == 0 and not case.partial and case.identical, case


def test_a_second_run_on_the_same_outdir_is_refused_naming_the_first(scene):
    outdir = scene.folder / "held"
    first = scene.batch(outdir, "held-first")
    wait_for_jobs(outdir, 1, first)
    second = scene.batch(outdir, "held-second")
    _, stderr = second.communicate(timeout=300)
    first_alive = first.poll() is None
    assert second.returncode == 4
    assert stderr.startswith(f"Error: {outdir}: in use by sentaligner batch (pid {first.pid}")
    assert len(stderr.splitlines()) == 1 and first_alive
    assert first.wait(timeout=600) == 0
    assert (outdir / "corpus.ru-nb.jsonl").read_bytes() == scene.corpus


@pytest.fixture(scope="module")
def namespace():
    prefix = private_mount()
    if prefix is None:
        pytest.skip("no private mount namespace here (unshare --mount, or --user --map-root-user)")
    return prefix


def test_an_outdir_turned_read_only_mid_run_stops_it_with_one_line(scene, namespace):
    case = read_only_mid_run(scene, namespace)
    assert case.exit_code == 4 and "Read-only file system" in case.stderr, case
    assert len(case.stderr.splitlines()) == 1 and case.stderr.startswith("Error: "), case
    assert case.orphans == 0 and not case.partial and case.identical, case


def test_a_full_disk_stops_the_run_with_one_line(scene, namespace):
    case = full_disk(scene, namespace)
    assert case.exit_code == 4 and "No space left on device" in case.stderr, case
    assert len(case.stderr.splitlines()) == 1 and case.stderr.startswith("Error: "), case
    assert case.orphans == 0 and not case.partial and case.identical, case


def test_four_aligns_share_one_cache_folder(scene):
    codes, errors, outputs = shared_cache(scene)
    assert codes == [0, 0, 0, 0] and not any(errors), errors
    assert len(set(outputs)) == 1
