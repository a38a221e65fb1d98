"""Progress on stderr: off a terminal, a line naming the stage every interval while work goes on;
nothing with --quiet."""

import io
import time

from helpers import FIXTURES, run_cli
from sentaligner.progress import StageProgress


def test_lines_name_the_stage_and_its_count_while_work_goes_on(monkeypatch):
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    with StageProgress(quiet=False, first_stage="reading", interval=0.01) as progress:
        advance = progress.stage("embedding sentences", 1200)
        advance(300)
        progress.detail("2 failed")
        deadline = time.monotonic() + 30
        while "embedding" not in stderr.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert stderr.getvalue().splitlines()[0].startswith("sentaligner: embedding sentences 300/1,200; 2 failed (")
    written = stderr.getvalue()
    time.sleep(0.05)
    assert stderr.getvalue() == written  # the lines end with the work
    with StageProgress(quiet=True, interval=0.01) as progress:
        progress.stage("aligning")
        time.sleep(0.05)
    assert stderr.getvalue().count("aligning") == 0


def test_align_off_a_terminal_says_where_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTALIGNER_PROGRESS_INTERVAL", "0.05")
    args = ["align", FIXTURES / "izvestia.ru.txt", FIXTURES / "izvestia.nb.txt", "--no-cache"]
    result = run_cli(*args, "-o", tmp_path / "a.jsonl")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("sentaligner: ")]
    assert any(line.startswith("sentaligner: embedding sentences ") and "/" in line for line in lines), result.output
    quiet = run_cli(*args, "-q", "-o", tmp_path / "b.jsonl")
    assert quiet.exit_code == 0 and quiet.output == ""
