"""Hostile and messy input: legacy encodings, random text, mutated exports, malformed alignment
and JSONL lines, interruptions. Every case ends in a result or a one-line error with a non-zero
exit, never a traceback."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FIXTURES, SEED, one_line_error, run_cli
from sentaligner.errors import AlignerError
from sentaligner.ingest import read_channel

PROPERTY_SETTINGS = settings(max_examples=int(os.environ.get("SENTALIGNER_PROPERTY_EXAMPLES", "40")), deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def ends_cleanly(result):
    """A result, or one line of error with a non-zero exit; never a traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed: {result.exception!r}\n{result.output}") from result.exception
    assert "Traceback" not in result.output
    if result.exit_code:
        lines = [line for line in result.output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error:")]
        assert len(errors) == 1, result.output
    return result


# ---- encodings: the same links as the UTF-8 version ----

def encodable(text, encoding):
    return text.encode(encoding, "ignore").decode(encoding)


@pytest.fixture(scope="module")
def ria_texts():
    ru = (FIXTURES / "ria.ru.txt").read_text(encoding="utf-8")
    nb = (FIXTURES / "ria.nb.txt").read_text(encoding="utf-8")
    # what every legacy encoding below can hold: no emoji, no typographic dashes or quotes
    ru = encodable(encodable(ru, "koi8-r"), "cp1251")
    nb = encodable(nb, "latin-1")
    return ru, nb


def links_of(tmp_path, name, ru_bytes, nb_bytes, *options):
    ru, nb = tmp_path / f"{name}.ru", tmp_path / f"{name}.nb"
    ru.write_bytes(ru_bytes)
    nb.write_bytes(nb_bytes)
    result = ends_cleanly(run_cli("align", ru, nb, "-f", "jsonl", *options))
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")], result.output


@pytest.mark.slow
@pytest.mark.parametrize("name, ru_encoding, nb_encoding, transform", [
    ("cp1251", "cp1251", "latin-1", None),
    ("koi8r", "koi8-r", "latin-1", None),
    ("bom", "utf-8-sig", "utf-8-sig", None),
    ("crlf", "utf-8", "utf-8", lambda text: text.replace("\n", "\r\n")),
])
def test_legacy_encodings_bom_and_crlf_give_the_utf8_links(tmp_path, ria_texts, name, ru_encoding, nb_encoding,
                                                            transform):
    ru, nb = ria_texts
    expected, _ = links_of(tmp_path, "utf8", ru.encode("utf-8"), nb.encode("utf-8"))
    transform = transform or (lambda text: text)
    links, output = links_of(tmp_path, name, transform(ru).encode(ru_encoding), transform(nb).encode(nb_encoding))
    assert links == expected and len(links) >= 7
    if name in ("cp1251", "koi8r"):
        assert f"read as {ru_encoding.replace('-', '_')}" in output  # the detected encoding is reported


def test_forced_encoding_and_undecodable_bytes(tmp_path, ria_texts):
    ru = tmp_path / "a.ru"
    ru.write_bytes(ria_texts[0].encode("koi8-r"))
    nb = tmp_path / "a.nb"
    nb.write_bytes(b"Hei \xff\xfe verden.\n")
    result = ends_cleanly(run_cli("align", ru, nb, "--encoding", "utf-8"))
    assert result.exit_code == 2 and "a.ru: not valid utf-8 at byte offset 0" in result.output
    for command in (["align", ru, nb], ["channel", ru, "-o", tmp_path / "out"]):
        result = ends_cleanly(run_cli(*command, "--encoding", "utf-16"))
        assert result.exit_code == 2 and "not valid utf-16" in result.output
    assert not (tmp_path / "out").exists()


# ---- files that are not text in the language given ----

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"4 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 72 712 Td (Norge og Russland.) Tj ET\nendstream endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")
RTF = "{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Норвегия и Россия возобновили сотрудничество.\\par }"


@pytest.mark.parametrize("name, data, kind, as_document", [
    ("pdf", PDF, "a PDF document", "not a readable PDF (startxref not found)"),
    ("rtf", RTF.encode("utf-8"), "an RTF document", "is an RTF document, not plain text"),
    ("docx", b"PK\x03\x04\x14\x00\x06\x00" + b"word/document.xml" + bytes(40), "a ZIP archive",
     "a damaged ZIP archive (File is not a zip file)"),
    ("doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "an old Office document",
     "is an old Office document"),
])
def test_documents_that_are_not_plain_text_are_refused(tmp_path, name, data, kind, as_document):
    """A channel is text: every such file is refused by its first bytes. `align` reads PDF and ZIP
    documents (tests/test_documents.py); these broken ones get one line saying why."""
    document = tmp_path / f"post.{name}"
    document.write_bytes(data)
    nb = FIXTURES / "ria.nb.txt"
    one_line_error(run_cli("align", document, nb, "-o", tmp_path / "out.tsv"), 2, f"post.{name}: {as_document}")
    one_line_error(run_cli("channel", document, "-o", tmp_path / "out"), 2, f"post.{name}: is {kind}")
    assert not (tmp_path / "out.tsv").exists() and not (tmp_path / "out").exists()


def test_utf8_read_in_a_declared_legacy_encoding_is_refused(tmp_path):
    ru, nb = FIXTURES / "ria.ru.txt", FIXTURES / "ria.nb.txt"
    one_line_error(run_cli("align", ru, nb, "--encoding", "koi8-r"), 2, "ria.ru.txt: is UTF-8 text, not koi8-r")
    one_line_error(run_cli("channel", SEED, "-o", tmp_path / "out", "--encoding", "cp1251"), 2,
                   "seed000.txt: is UTF-8 text, not cp1251")


def test_mojibake_of_a_wrong_encoding_is_refused(tmp_path, ria_texts):
    """cp1251 Russian declared latin-1: valid bytes, but every letter Latin (`Ðîññèÿ`)."""
    ru, nb = tmp_path / "a.ru", tmp_path / "a.nb"
    ru.write_bytes(ria_texts[0].encode("cp1251"))
    nb.write_bytes(ria_texts[1].encode("latin-1"))
    one_line_error(run_cli("align", ru, nb, "--encoding", "latin-1"), 2,
                   "are Latin, where ru is written in Cyrillic (--src-lang ru)")


@pytest.mark.parametrize("src, tgt, options, message", [
    ("ria.ru.txt", "izvestia.ru.txt", [], "izvestia.ru.txt: 98% of its letters are Cyrillic, where nb is written in "
                                         "Latin (--tgt-lang nb)"),
    ("ria.nb.txt", "ria.ru.txt", [], "ria.nb.txt: 100% of its letters are Latin, where ru is written in Cyrillic"),
    ("ria.ru.txt", "ria.nb.txt", ["--tgt-lang", "de"], "ria.nb.txt: it looks like Bokmål (nb), not German (de)"),
    ("ria.ru.txt", "ria.ru.txt", [], "ria.ru.txt hold the same text"),
])
def test_a_side_in_the_wrong_language_or_the_same_file_twice_is_refused(tmp_path, src, tgt, options, message):
    output = tmp_path / "out.tmx"
    result = run_cli("align", FIXTURES / src, FIXTURES / tgt, *options, "-o", output)
    one_line_error(result, 2, message)
    assert "--force-lang aligns" in result.output and not output.exists()


@pytest.mark.slow
def test_forced_copies_score_low_but_a_copied_name_in_a_translation_does_not(tmp_path):
    ru = FIXTURES / "ria.ru.txt"
    result = run_cli("align", ru, ru, "--force-lang", "-f", "jsonl", "-q")
    assert result.exit_code == 0, result.output
    copies = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(copies) >= 7 and all("untranslated" in link["flags"] for link in copies)
    assert all(link["score"] <= 0.2 for link in copies)
    assert run_cli("align", ru, ru, "--force-lang", "--min-score", "0.5", "-f", "jsonl", "-q").stdout == ""

    names = "\n\nNanga Parbat, Cho Oyu, Gasherbrum.\n"
    (tmp_path / "a.ru").write_text(ru.read_text(encoding="utf-8") + names, encoding="utf-8")
    (tmp_path / "a.nb").write_text((FIXTURES / "ria.nb.txt").read_text(encoding="utf-8") + names, encoding="utf-8")
    result = run_cli("align", tmp_path / "a.ru", tmp_path / "a.nb", "-f", "jsonl", "-q")
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["src"] == last["tgt"] == names.strip() and "untranslated" in last["flags"]
    assert last["score"] >= 0.5


# ---- property tests ----

NASTY = st.sampled_from(["\u200f", "\u200e", "\u200d", "\u202e", "\ufeff", "\x07", "\x0b", "\x1c", "\u2028",
                         "\u0301", "🇳🇴", "👩🏻\u200d💻", "\t", "\r", "\n\n", " ", ".", "!?", "«»", "…", "\ufffd"])
TEXT = st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), NASTY,
                          st.just("Россия и Норвегия. "), st.just("Norge og Russland. "), st.just("a" * 3000)),
                max_size=8).map("".join)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(src=TEXT, tgt=TEXT, presplit=st.booleans(), force_lang=st.booleans())
def test_align_on_random_unicode_never_crashes(tmp_path_factory, src, tgt, presplit, force_lang):
    folder = tmp_path_factory.mktemp("random")
    (folder / "a").write_text(src, encoding="utf-8", newline="")
    (folder / "b").write_text(tgt, encoding="utf-8", newline="")
    args = ["align", folder / "a", folder / "b", "-f", "jsonl", "--no-cache", "-q"]
    args += ["--presplit"] if presplit else []
    args += ["--force-lang"] if force_lang else []
    result = ends_cleanly(run_cli(*args))
    if result.exit_code == 0:
        links = [json.loads(line) for line in result.stdout.splitlines()]
        assert all(0.0 <= link["score"] <= 1.0 for link in links)
    else:
        assert result.exit_code == 2


def mutate(data: bytes, draw) -> bytes:
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["cut", "delete", "insert", "duplicate", "flip"]))
        if kind == "cut":
            data = data[:at]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 200)):]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=20)) + data[at:]
        elif kind == "duplicate":
            data = data[:at] + data[at:at + 500] + data[at:]
        else:
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data


SOURCES = {"dump": SEED.read_bytes(), "json": (SEED.parent / "result.json").read_bytes(),
           "html": (SEED.parent / "html" / "messages.html").read_bytes()}


@PROPERTY_SETTINGS
@given(kind=st.sampled_from(sorted(SOURCES)), data=st.data())
def test_channel_parsers_on_mutated_exports(tmp_path_factory, kind, data):
    mutated = mutate(SOURCES[kind], data.draw)
    name = {"dump": "dump.txt", "json": "result.json", "html": "messages.html"}[kind]
    path = tmp_path_factory.mktemp("mutated") / name
    path.write_bytes(mutated)
    try:
        posts = read_channel(path)
    except AlignerError as error:
        assert error.exit_code == 2 and "\n" not in str(error)
        return
    assert all(isinstance(p.text, str) and isinstance(p.id, int) for p in posts)


LINK_LINE = st.one_of(
    st.builds(lambda a, b: f"[{','.join(map(str, a))}]:[{','.join(map(str, b))}]",
              st.lists(st.integers(-3, 12), max_size=3), st.lists(st.integers(-3, 12), max_size=3)),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.sampled_from(["[0]:[0]", "[1,2]:[3]", "[]:[]", "[0]:", ":[1]", "[0]:[0]:[0]", "[a]:[1]", "[1.5]:[2]",
                     "[" * 50, "[99999999999999999999]:[0]", "[0] : [0]", "\ufeff[0]:[0]"]))


@PROPERTY_SETTINGS
@given(gold=st.lists(LINK_LINE, max_size=6), test=st.lists(LINK_LINE, max_size=6))
def test_eval_on_malformed_alignment_lines(tmp_path_factory, gold, test):
    folder = tmp_path_factory.mktemp("eval")
    (folder / "gold").write_text("\n".join(gold), encoding="utf-8")
    (folder / "test").write_text("\n".join(test), encoding="utf-8")
    result = ends_cleanly(run_cli("eval", folder / "gold", folder / "test", "--json"))
    if result.exit_code == 0:
        scores = json.loads(result.output)
        assert all(0.0 <= scores[k] <= 1.0 for k in scores if k.startswith(("precision", "recall", "f1")))
    else:
        assert result.exit_code == 2


JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                      max_size=3), max_leaves=6)
RECORD = st.fixed_dictionaries({}, optional={"src_ids": JSON_VALUE | st.lists(st.integers(0, 5), max_size=3),
                                             "tgt_ids": JSON_VALUE | st.lists(st.integers(0, 5), max_size=3),
                                             "src": JSON_VALUE, "tgt": JSON_VALUE, "score": JSON_VALUE,
                                             "type": JSON_VALUE, "flags": JSON_VALUE, "date": JSON_VALUE})


@PROPERTY_SETTINGS
@given(records=st.lists(RECORD | JSON_VALUE, min_size=0, max_size=4),
       fmt=st.sampled_from(["tsv", "jsonl", "vecalign", "tmx", "moses"]))
def test_convert_on_arbitrary_json_lines(tmp_path_factory, records, fmt):
    folder = tmp_path_factory.mktemp("convert")
    (folder / "in.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    result = ends_cleanly(run_cli("convert", folder / "in.jsonl", "-f", fmt, "-o", folder / "out"))
    if result.exit_code:
        assert result.exit_code == 2
        assert not any(p.name.startswith("out") for p in folder.iterdir())


# ---- interruptions ----

@pytest.mark.slow
def test_interrupted_channel_leaves_nothing_and_the_rerun_reuses_the_cache(tmp_path, monkeypatch):
    import sentaligner.cli
    from sentaligner.embed import load_encoder

    real = load_encoder("e5-small")

    class Interrupted:
        """e5-small that is interrupted (Ctrl-C) during its third batch."""

        name, signature, dim = real.name, real.signature, real.dim
        calibration, random_distance = real.calibration, real.random_distance
        calls = 0

        def encode(self, texts):
            Interrupted.calls += 1
            if Interrupted.calls == 3:
                raise KeyboardInterrupt
            return real.encode(texts)

    cache, outdir = tmp_path / "cache", tmp_path / "out"
    monkeypatch.setattr(sentaligner.cli, "load_encoder", lambda name, workload=None: Interrupted())
    result = run_cli("channel", SEED, "-o", outdir, "--cache", cache)
    assert result.exit_code != 0 and Interrupted.calls == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # no OUTDIR, no temp folder

    monkeypatch.setattr(sentaligner.cli, "load_encoder", lambda name, workload=None: real)
    result = ends_cleanly(run_cli("channel", SEED, "-o", outdir, "--cache", cache))
    assert result.exit_code == 0
    summary = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    assert summary["cache_hits"] >= 2 and summary["strings_embedded_total"] + summary["cache_hits"] == 78
    assert "3 pairs" in result.output


@pytest.mark.slow
def test_sigterm_during_channel_cleans_up(tmp_path):
    outdir, cache = tmp_path / "out", tmp_path / "cache"
    process = subprocess.Popen([sys.executable, "-m", "sentaligner.cli", "channel", str(SEED), "-o", str(outdir),
                                "--cache", str(cache), "-q"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (cache / "embeddings.sqlite3").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the cache opens once the posts are read and the model is loaded
    time.sleep(0.5)  # embedding under way
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM and stderr == "Error: terminated\n", stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
