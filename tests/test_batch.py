"""`sentaligner batch`: manifests read lazily and checked row by row; real documents through the local
engine (two worker processes) and Ray Data (local Ray, two CPUs) give the links `sentaligner align` and
`sentaligner channel` give; a bad row lands in failed.jsonl while the rest finish; a run killed with
SIGKILL resumes to the same output; the Parquet reads back with Hugging Face `datasets`.

The documents: the seed's Izvestia and RIA post pairs, the seed channel itself, and, where the
shared dev data is found (SENTALIGNER_SHARED_DATA, or ../shared/data beside the checkout), two ParIce
documents (en-is, one sentence a line)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import FIXTURES, SEED, one_line_error, run_cli
from sentaligner.batch import BadRow, Job, Settings, job_name, read_manifest, run_local

SHARED_DATA = Path(os.environ.get("SENTALIGNER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PARICE = SHARED_DATA / "parice-en-is"


def document_rows():
    rows = [{"id": "izvestia", "src": str(FIXTURES / "izvestia.ru.txt"), "tgt": str(FIXTURES / "izvestia.nb.txt")},
            {"id": "ria", "src": str(FIXTURES / "ria.ru.txt"), "tgt": str(FIXTURES / "ria.nb.txt")}]
    if PARICE.is_dir():
        rows += [{"id": f"parice/{name}", "src": str(PARICE / f"{name}.en"), "tgt": str(PARICE / f"{name}.is"),
                  "src_lang": "en", "tgt_lang": "is", "presplit": True} for name in ("t_2", "u_1")]
    return rows


def write_manifest(path, rows, bad_lines=()):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows) + "".join(bad_lines),
                    encoding="utf-8")
    return path


def job_links(outdir, name):
    path = outdir / "jobs" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def without_batch_fields(records):
    return [{k: v for k, v in record.items() if k not in ("job", "id")} for record in records]


# ---- the manifest ----

def test_manifest_rows_become_jobs_or_reasons_and_are_read_lazily(tmp_path):
    (tmp_path / "a.ru").write_text("x", encoding="utf-8")
    manifest = write_manifest(tmp_path / "m.jsonl", [
        {"id": "one", "src": "a.ru", "tgt": "b.nb"},
        {"id": 2, "src": "a.ru", "tgt": "b.nb", "src_lang": "de", "tgt_lang": "fr", "presplit": "true"},
        {"id": "one", "src": "a.ru", "tgt": "b.nb"},
        {"src": "a.ru"},
        {"id": "c", "channel": "export", "src": "a.ru"},
        {"id": "d", "src": "a.ru", "tgt": "b.nb", "src_lang": "klingon"},
        {"id": "e", "src": "a.ru", "tgt": "b.nb", "colour": "red"},
    ], bad_lines=["[1, 2]\n", "{broken\n"])
    jobs = list(read_manifest(manifest, "ru", "nb"))
    assert jobs[0] == Job("one", "ru", "nb", str(tmp_path / "a.ru"), str(tmp_path / "b.nb"))
    assert jobs[1] == Job("2", "de", "fr", str(tmp_path / "a.ru"), str(tmp_path / "b.nb"), presplit=True)
    reasons = [(job.id, job.reason) for job in jobs[2:]]
    assert [r[0] for r in reasons] == ["one", "row 4", "c", "d", "e", "row 8", "row 9"]
    assert "used by an earlier row" in reasons[0][1] and "needs src and tgt" in reasons[1][1]
    assert "not both" in reasons[2][1] and "klingon" in reasons[3][1] and "unknown field 'colour'" in reasons[4][1]
    assert "not a JSON object" in reasons[5][1] and "not JSON" in reasons[6][1]
    # A manifest is streamed: the first job comes before a later line is read.
    with (tmp_path / "big.jsonl").open("w", encoding="utf-8") as stream:
        stream.write(json.dumps({"id": "first", "src": "a.ru", "tgt": "b.nb"}) + "\n")
        stream.write("\n" * 1_000_000 + "\xff not utf-8 \n")
    assert next(read_manifest(tmp_path / "big.jsonl", "ru", "nb")).id == "first"


def test_csv_tsv_and_a_folder_by_stem(tmp_path):
    (tmp_path / "docs").mkdir()
    for name in ("a.ru", "a.nb", "b.ru", "c.nb", "notes.txt"):
        (tmp_path / "docs" / name).write_text("x", encoding="utf-8")
    by_stem = list(read_manifest(tmp_path / "docs", "ru", "nb", pair_by_stem=True))
    assert by_stem[0] == Job("a", "ru", "nb", str(tmp_path / "docs" / "a.ru"), str(tmp_path / "docs" / "a.nb"))
    assert [type(job) for job in by_stem] == [Job, BadRow, BadRow]
    (tmp_path / "m.csv").write_text("id,src,tgt,presplit\nx,docs/a.ru,docs/a.nb,1\ny,docs/b.ru\n", encoding="utf-8")
    rows = list(read_manifest(tmp_path / "m.csv", "ru", "nb"))
    assert rows[0] == Job("x", "ru", "nb", str(tmp_path / "docs/a.ru"), str(tmp_path / "docs/a.nb"), presplit=True)
    assert isinstance(rows[1], BadRow)
    (tmp_path / "m.tsv").write_text("id\tchannel\ns\tseed.txt\n", encoding="utf-8")
    assert list(read_manifest(tmp_path / "m.tsv", "de", "fr")) == [
        Job("s", "ru", "nb", channel=str(tmp_path / "seed.txt"))]


def test_batch_usage_errors_are_one_line(tmp_path):
    (tmp_path / "m.txt").write_text("x", encoding="utf-8")
    one_line_error(run_cli("batch", tmp_path / "m.txt", "-o", tmp_path / "out"), 2, "a manifest is .jsonl, .csv")
    one_line_error(run_cli("batch", tmp_path, "-o", tmp_path / "out"), 2, "give --pair-by-stem")
    one_line_error(run_cli("batch", tmp_path / "none.jsonl", "-o", tmp_path / "out"), 2, "no such file")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("x", encoding="utf-8")
    write_manifest(tmp_path / "m.jsonl", [])
    one_line_error(run_cli("batch", tmp_path / "m.jsonl", "-o", tmp_path / "taken"), 4, "holds other files")
    assert (tmp_path / "taken" / "thesis.tex").exists()
    (tmp_path / "ls.jsonl").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(100))
    (tmp_path / "image.tsv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (tmp_path / "latin1.csv").write_bytes("id,src,tgt\nBærum,a.nb,b.ru\n".encode("latin-1"))
    for name, fragment in (("ls.jsonl", "looks binary"), ("image.tsv", "is a PNG image"),
                           ("latin1.csv", "not UTF-8 text")):
        one_line_error(run_cli("batch", tmp_path / name, "-o", tmp_path / "out"), 2, fragment)
        assert not (tmp_path / "out").exists()  # refused before OUTDIR is made
    result = run_cli("batch", tmp_path / "m.jsonl", "-o", tmp_path / "out", "--ray-address", "auto")
    assert result.exit_code == 2 and "go with --engine ray" in result.output


def test_the_local_pool_holds_only_a_few_jobs_ahead(tmp_path):
    """100,000 rows are never all in flight: when the first outcome comes back, at most
    workers x IN_FLIGHT_PER_WORKER (+1 read ahead) jobs were taken from the manifest."""
    taken = []

    def jobs():
        for number in range(100_000):
            taken.append(number)
            yield Job(f"j{number}", "ru", "nb", str(tmp_path / "missing.ru"), str(tmp_path / "missing.nb")), "key"

    outcomes = run_local(jobs(), Settings(), tmp_path, workers=2)
    first = next(outcomes)
    assert "missing.ru" in first.error and len(taken) <= 2 * 2 + 1
    outcomes.close()


# ---- real documents through both engines ----

@pytest.fixture(scope="module")
def batch_runs(tmp_path_factory):
    """The same manifest, with bad rows, through the local engine (2 workers) and Ray (2 CPUs)."""
    folder = tmp_path_factory.mktemp("batch")
    shutil.copy(FIXTURES / "izvestia.nb.txt", folder / "binary.nb")
    (folder / "binary.ru").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    rows = document_rows() + [
        {"id": "seed-channel", "channel": str(SEED)},
        {"id": "missing", "src": "nope.ru", "tgt": str(FIXTURES / "ria.nb.txt")},
        {"id": "binary", "src": "binary.ru", "tgt": "binary.nb"},
        {"id": "wrong-language", "src": str(FIXTURES / "ria.nb.txt"), "tgt": str(FIXTURES / "ria.ru.txt")},
    ]
    manifest = write_manifest(folder / "manifest.jsonl", rows, bad_lines=["{not json\n"])
    runs = {}
    for engine in ("local", "ray"):
        out = folder / engine
        result = run_cli("batch", manifest, "-o", out, "--engine", engine, "--workers", 2, "-f", "parquet",
                         "-f", "tmx")
        runs[engine] = (out, result)
    return folder, rows, runs


@pytest.mark.slow
def test_both_engines_give_the_links_align_and_channel_give(batch_runs, tmp_path):
    folder, rows, runs = batch_runs
    for _, result in runs.values():
        assert result.exit_code == 6, result.output  # some jobs failed, the rest are done
        assert "4 failed (see failed.jsonl)" in result.stderr, result.stderr
    local, ray = runs["local"][0], runs["ray"][0]
    assert sorted(p.name for p in (local / "jobs").iterdir()) == sorted(p.name for p in (ray / "jobs").iterdir())
    for path in (local / "jobs").glob("*.jsonl"):
        assert path.read_bytes() == (ray / "jobs" / path.name).read_bytes(), path.name  # same ids, same scores
    for row in document_rows():
        args = ["align", row["src"], row["tgt"], "-f", "jsonl", "-q", "--src-lang", row.get("src_lang", "ru"),
                "--tgt-lang", row.get("tgt_lang", "nb")] + (["--presplit"] if row.get("presplit") else [])
        aligned = run_cli(*args)
        assert aligned.exit_code == 0, aligned.output
        batch_links = job_links(local, job_name(row["id"]))
        assert without_batch_fields(batch_links) == [json.loads(line) for line in aligned.stdout.splitlines()]
        assert [link["id"] for link in batch_links] == [f"{row['id']}:{k}" for k in range(len(batch_links))]
    channel = run_cli("channel", SEED, "-o", tmp_path / "channel", "-q")
    assert channel.exit_code == 0, channel.output
    expected = [json.loads(line) for line in (tmp_path / "channel" / "corpus.jsonl").read_text("utf-8").splitlines()]
    assert without_batch_fields(job_links(local, "seed-channel")) == expected


@pytest.mark.slow
def test_bad_rows_land_in_failed_jsonl_and_the_rest_are_merged(batch_runs):
    folder, rows, runs = batch_runs
    out = runs["local"][0]
    failed = {line["job"]: line["error"] for line in map(json.loads, (out / "failed.jsonl").read_text().splitlines())}
    malformed = f"row {len(rows) + 1}"  # the manifest's last line
    assert set(failed) == {"missing", "binary", "wrong-language", malformed}
    assert "nope.ru: cannot read" in failed["missing"] and "PNG" in failed["binary"]
    assert "Latin" in failed["wrong-language"] and "not JSON" in failed[malformed]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    done = len(rows) - 3
    assert (summary["jobs"], summary["done"], summary["failed"], summary["skipped"]) == (len(rows) + 1, done, 4, 0)
    merged = [json.loads(line) for line in (out / "corpus.ru-nb.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [link["job"] for link in merged] == sorted(
        (link["job"] for link in merged), key=["izvestia", "ria", "seed-channel"].index)  # manifest order
    assert len(merged) == sum(len(job_links(out, job)) for job in ("izvestia", "ria", "seed-channel"))
    assert summary["exported"]["corpus.ru-nb.tmx"]["written"] > 0


@pytest.mark.slow
def test_parquet_reads_back_with_hugging_face_datasets(batch_runs, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = batch_runs[2]["local"][0]
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    table = datasets.load_dataset("parquet", data_files=str(out / "corpus.ru-nb.parquet"), split="train",
                                  cache_dir=str(tmp_path / "hf"))
    merged = [json.loads(line) for line in (out / "corpus.ru-nb.jsonl").read_text("utf-8").splitlines()]
    pairs = [link for link in merged if link["src"] and link["tgt"]]
    assert table.num_rows == len(pairs)
    assert set(table.features["translation"]) == {"ru", "nb"}
    assert table[0]["translation"] == {"ru": pairs[0]["src"], "nb": pairs[0]["tgt"]}
    assert table[0]["id"] == pairs[0]["id"] and table[0]["score"] == pairs[0]["score"]


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_the_same_output(tmp_path):
    rows = [{"id": f"izvestia-{k}", "src": str(FIXTURES / "izvestia.ru.txt"), "tgt": str(FIXTURES / "izvestia.nb.txt")}
            for k in range(8)]
    manifest = write_manifest(tmp_path / "m.jsonl", rows)
    command = [sys.executable, "-m", "sentaligner", "batch", str(manifest), "-o", str(tmp_path / "out"), "--workers",
               "1",
               "-q"]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "out" / "jobs").glob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    jobs = tmp_path / "out" / "jobs"
    done_before = sorted(p.stem for p in jobs.glob("*.json"))
    assert 2 <= len(done_before) < 8, "the kill came too late to test a resume"
    for meta in jobs.glob("*.json"):  # every job marked done is whole
        links = (jobs / f"{meta.stem}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(links) == json.loads(meta.read_text(encoding="utf-8"))["links"] and all(map(json.loads, links))
    assert not (tmp_path / "out" / "corpus.ru-nb.jsonl").exists()
    rerun = subprocess.run(command[:-1], capture_output=True, text=True, encoding="utf-8")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{8 - len(done_before)} done, {len(done_before)} done before (skipped)" in rerun.stderr
    assert not list(jobs.glob(".*.tmp"))  # a killed run's temp files are cleared
    whole = subprocess.run([*command[:6], str(tmp_path / "whole"), *command[7:]], capture_output=True)
    assert whole.returncode == 0
    merged = (tmp_path / "out" / "corpus.ru-nb.jsonl").read_bytes()
    assert merged == (tmp_path / "whole" / "corpus.ru-nb.jsonl").read_bytes()
    assert len(merged.splitlines()) == 8 * 29
    again = subprocess.run(command[:-1], capture_output=True, text=True, encoding="utf-8")
    assert "0 done, 8 done before (skipped)" in again.stderr
    forced = subprocess.run([*command, "--force"], capture_output=True)
    assert forced.returncode == 0 and (tmp_path / "out" / "corpus.ru-nb.jsonl").read_bytes() == merged


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_with_one_line(tmp_path):
    rows = [{"id": f"ria-{k}", "src": str(FIXTURES / "ria.ru.txt"), "tgt": str(FIXTURES / "ria.nb.txt")}
            for k in range(6)]
    manifest = write_manifest(tmp_path / "m.jsonl", rows)
    process = subprocess.Popen([sys.executable, "-m", "sentaligner", "batch", str(manifest), "-o",
                                str(tmp_path / "out"),
                                "--workers", "2"], start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "out" / "jobs").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
    assert process.wait(timeout=60) == -signal.SIGINT  # ends (how soon depends on the machine's load)
    said = [line for line in process.stderr.read().splitlines() if not line.startswith("sentaligner: ")]
    assert said == ["Error: interrupted"]  # no worker tracebacks (progress lines come every 10 s off a terminal)
    assert len(list((tmp_path / "out" / "jobs").glob("*.json"))) < 6


def test_parquet_without_pyarrow_and_ray_without_ray_are_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    one_line_error(run_cli("align", FIXTURES / "izvestia.ru.txt", FIXTURES / "izvestia.nb.txt", "-f", "parquet",
                           "-o", tmp_path / "out.parquet"), 2, 'pip install "sentaligner[parquet]"')
    manifest = write_manifest(tmp_path / "m.jsonl", document_rows()[:1])
    one_line_error(run_cli("batch", manifest, "-o", tmp_path / "out", "-f", "parquet"), 2, "needs pyarrow")
    assert not (tmp_path / "out").exists()  # refused before OUTDIR, let alone a job, was made
    monkeypatch.setitem(sys.modules, "ray.data", None)
    one_line_error(run_cli("batch", manifest, "-o", tmp_path / "out", "--engine", "ray"), 2, '"sentaligner[ray]"')
    assert not (tmp_path / "out" / "jobs").exists()


def test_the_job_key_follows_the_calibration_in_use():
    """A release that refits the encoder's score must not count jobs of the old one as done."""
    shipped, refitted = {"match": {"bias": 1.0}}, {"match": {"bias": 2.0}}
    assert Settings().signature("e5", shipped) != Settings().signature("e5", refitted)
    given = Settings(calibration={"midpoint": 0.7, "slope": 9.0})
    assert given.signature("e5", shipped) == given.signature("e5", refitted)  # --calibration wins
    assert Settings().signature("e5", None).endswith(
        "|calibration=none|force_lang=False|pair_threshold=0.5|line_breaks=auto")
    assert Settings(line_breaks="line").signature("e5", None) != Settings().signature("e5", None)  # other units
