"""Documents as translators have them. Each test builds its files with the format's own library
(python-docx, odfpy, ebooklib, pysubs2, fpdf2, pypdf, openpyxl to read back), holding the RIA
Novosti comment of seed 000 (six paragraphs a side, hand-made gold), aligns them with
`sentaligner align` and checks the links against the gold and the places each link carries.
Bad documents get one line, exit 2, and nothing written."""

import io
import json
import re
import textwrap
import zipfile
from pathlib import Path

import pytest

from helpers import FIXTURES, one_line_error, run_cli
from sentaligner.documents import choose_line_breaks, read_document
from sentaligner.evaluate import read_alignment

pytestmark = pytest.mark.slow
GOLD = read_alignment(FIXTURES / "ria.ru-nb.gold")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def paragraphs(lang):
    """The six paragraphs of the RIA comment: a title, a question, and the answer."""
    text = (FIXTURES / f"ria.{lang}.txt").read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n") if p.strip()]


EXTRA = {"ru": {"cells": ["Норвегия", "Россия"], "note": "Источник: РИА Новости."},
         "nb": {"cells": ["Norge", "Russland"], "note": "Kilde: RIA Novosti."}}


def aligned(tmp_path, src, tgt, *options):
    result = run_cli("align", src, tgt, "-f", "jsonl", "-o", tmp_path / "links.jsonl", "--force", *options)
    assert result.exit_code == 0, result.output
    links = [json.loads(line) for line in (tmp_path / "links.jsonl").read_text(encoding="utf-8").splitlines()]
    return links, result.output


def ids(links):
    return [(tuple(link["src_ids"]), tuple(link["tgt_ids"])) for link in links]


# ---- builders: one file a language, with its own library ----

def build_docx(path, lang):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    title, *rest = paragraphs(lang)
    document.add_heading(title, level=1)
    for paragraph in rest:
        document.add_paragraph(paragraph)
    table = document.add_table(rows=1, cols=2)
    for cell, text in zip(table.rows[0].cells, EXTRA[lang]["cells"], strict=True):
        cell.text = text
    document.save(path)
    add_footnote(path, EXTRA[lang]["note"])


def add_footnote(path, text):
    """A footnote, as Word stores one: word/footnotes.xml, its relationship and content type, and a
    reference in the last paragraph (python-docx writes no footnotes)."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    parts = dict((name, data) for name, data in ((n, zipfile.ZipFile(path).read(n))
                                                 for n in zipfile.ZipFile(path).namelist()))
    parts["word/footnotes.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{w}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        f'<w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote></w:footnotes>').encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-'
                     b'officedocument.wordprocessingml.footnotes+xml"/></Types>')
    parts["word/_rels/document.xml.rels"] = parts["word/_rels/document.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdNotes" Type="http://schemas.openxmlformats.org/officeDocument/'
                             b'2006/relationships/footnotes" Target="footnotes.xml"/></Relationships>')
    body = parts["word/document.xml"].decode()
    at = body.rindex("</w:p>")
    parts["word/document.xml"] = (body[:at] + '<w:r><w:footnoteReference w:id="1"/></w:r>' + body[at:]).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def build_odt(path, lang):
    pytest.importorskip("odf")
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    title, *rest = paragraphs(lang)
    document.text.addElement(H(outlinelevel=1, text=title))
    for paragraph in rest:
        document.text.addElement(P(text=paragraph))
    document.save(str(path))


def build_epub(path, lang):
    epub = pytest.importorskip("ebooklib.epub")
    book = epub.EpubBook()
    book.set_identifier(f"ria-{lang}")
    book.set_title("RIA")
    book.set_language(lang)
    title, *rest = paragraphs(lang)
    chapters = [epub.EpubHtml(title="1", file_name="one.xhtml", lang=lang),
                epub.EpubHtml(title="2", file_name="two.xhtml", lang=lang)]
    chapters[0].content = f"<h1>{title}</h1>" + "".join(f"<p>{p}</p>" for p in rest[:2])
    chapters[1].content = "".join(f"<p>{p}</p>" for p in rest[2:])
    for chapter in chapters:
        book.add_item(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)


def build_html(path, lang):
    title, *rest = paragraphs(lang)
    menu = {"ru": "Главная Новости Контакты", "nb": "Hjem Nyheter Kontakt"}[lang]
    path.write_text(f"<!DOCTYPE html><html><head><title>x</title><style>p {{color: red}}</style></head><body>"
                    f"<nav><a href='/'>{menu}</a></nav><script>var menu = '{menu}';</script>"
                    f"<h1>{title}</h1>" + "".join(f"<p>{p}</p>" for p in rest) + "</body></html>", encoding="utf-8")


def build_markdown(path, lang):
    title, *rest = paragraphs(lang)
    wrapped = ["\n".join(textwrap.wrap(p, 70)) for p in rest]  # Markdown wraps its paragraphs
    path.write_text(f"# {title}\n\n" + "\n\n".join(wrapped) + "\n", encoding="utf-8")


def build_srt(path, lang):
    pysubs2 = pytest.importorskip("pysubs2")
    subs = pysubs2.SSAFile()
    for k, paragraph in enumerate(paragraphs(lang)):
        subs.append(pysubs2.SSAEvent(start=k * 5000 + 1000, end=k * 5000 + 4000, text=paragraph))
    subs.save(str(path), format_="srt")


def build_pdf(path, lang):
    fpdf = pytest.importorskip("fpdf")
    if not FONT.is_file():
        pytest.skip(f"no {FONT} to write Cyrillic into a PDF")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=11)
    for paragraph in paragraphs(lang):
        pdf.multi_cell(0, 6, paragraph)  # wraps the paragraph into lines
        pdf.ln(6)  # and a blank line after it
    pdf.output(str(path))


BUILDERS = {"docx": build_docx, "odt": build_odt, "epub": build_epub, "html": build_html, "md": build_markdown,
            "srt": build_srt, "pdf": build_pdf}
# The place of the first two links (the title, the question) in each format.
FIRST_PLACES = {"docx": ("h1 1", "p 1"), "odt": ("h1 1", "p 1"), "epub": ("chapter 2 h1 1", "chapter 2 p 1"),
                "html": ("h1 1", "p 1"), "md": ("h1 1", "p 1"), "srt": ("cue 1 00:00:01,000", "cue 2 00:00:06,000"),
                "pdf": ("page 1 p 1", "page 1 p 2")}


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_each_format_aligns_as_the_gold_says_with_its_places(kind, tmp_path):
    src, tgt = tmp_path / f"ria-ru.{kind}", tmp_path / f"ria-nb.{kind}"
    BUILDERS[kind](src, "ru")
    BUILDERS[kind](tgt, "nb")
    links, output = aligned(tmp_path, src, tgt)
    assert ids(links)[:len(GOLD)] == GOLD, output
    assert (links[0]["src_where"], links[1]["src_where"]) == FIRST_PLACES[kind]
    assert (links[0]["tgt_where"], links[1]["tgt_where"]) == FIRST_PLACES[kind]
    assert "Главная" not in json.dumps(links, ensure_ascii=False)  # HTML navigation is not text
    if kind == "docx":
        assert ids(links)[len(GOLD):] == [((7,), (8,)), ((8,), (9,)), ((9,), (10,))]
        assert [link["src_where"] for link in links[len(GOLD):]] == ["table 1 r1 c1", "table 1 r1 c2", "footnote 1"]
        assert links[-1]["tgt"] == "Kilde: RIA Novosti."
    else:
        assert len(links) == len(GOLD)


def test_a_pdf_of_only_an_image_says_to_run_ocr(tmp_path):
    fpdf = pytest.importorskip("fpdf")
    from PIL import Image

    image = tmp_path / "scan.png"
    Image.new("RGB", (200, 100), "white").save(image)
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.image(str(image), x=10, y=10, w=100)
    pdf.output(str(tmp_path / "scan.pdf"))
    build_html(tmp_path / "b.html", "nb")
    one_line_error(run_cli("align", tmp_path / "scan.pdf", tmp_path / "b.html", "-o", tmp_path / "out.tsv"), 2,
                   "no text layer: run OCR first")
    assert not (tmp_path / "out.tsv").exists()


def bad_documents(tmp_path):
    """(file, what the one-line error says) for each kind of bad document."""
    cases = []
    build_docx(tmp_path / "whole.docx", "ru")
    data = (tmp_path / "whole.docx").read_bytes()
    (tmp_path / "truncated.docx").write_bytes(data[:len(data) // 2])
    cases.append(("truncated.docx", "a damaged ZIP archive"))
    pypdf = pytest.importorskip("pypdf")
    build_pdf(tmp_path / "open.pdf", "ru")
    writer = pypdf.PdfWriter(clone_from=str(tmp_path / "open.pdf"))
    writer.encrypt("secret")
    writer.write(str(tmp_path / "locked.pdf"))
    cases.append(("locked.pdf", "an encrypted PDF"))
    build_epub(tmp_path / "book.epub", "ru")
    with zipfile.ZipFile(tmp_path / "book.epub") as source, zipfile.ZipFile(tmp_path / "drm.epub", "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("META-INF/encryption.xml", '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:'
                                                   'container"/>')
    cases.append(("drm.epub", "an EPUB with DRM"))
    docx = pytest.importorskip("docx")
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (60, 40), "gray").save(picture, format="PNG")
    images = docx.Document()
    images.add_picture(picture)
    images.save(tmp_path / "images.docx")
    cases.append(("images.docx", "holds only images, no text: run OCR first"))
    (tmp_path / "empty.html").write_text("<!DOCTYPE html><html><body><nav>Hjem</nav><script>x()</script></body>"
                                         "</html>", encoding="utf-8")
    cases.append(("empty.html", "no text outside navigation, scripts and styles"))
    return cases


def test_bad_documents_get_one_line_exit_2_and_nothing_written(tmp_path):
    build_html(tmp_path / "good.html", "nb")
    for name, fragment in bad_documents(tmp_path):
        out = tmp_path / f"{name}.tsv"
        one_line_error(run_cli("align", tmp_path / name, tmp_path / "good.html", "-o", out), 2, fragment)
        assert not out.exists() and not list(tmp_path.glob(f".{out.name}*")), name


def test_wrapped_text_gives_the_links_of_the_unwrapped_text(tmp_path):
    """The Izvestia commentary joined into one paragraph a side, and the same wrapped at 72 columns."""
    for lang in ("ru", "nb"):
        joined = " ".join((FIXTURES / f"izvestia.{lang}.txt").read_text(encoding="utf-8").split("\n")).strip()
        (tmp_path / f"joined.{lang}").write_text(joined + "\n", encoding="utf-8")
        wrapped = textwrap.fill(joined, 72, break_on_hyphens=False, break_long_words=False)
        (tmp_path / f"wrapped.{lang}").write_text(wrapped + "\n", encoding="utf-8")
        assert choose_line_breaks(wrapped) == "paragraph" and choose_line_breaks(joined) == "line"
    plain, _ = aligned(tmp_path, tmp_path / "joined.ru", tmp_path / "joined.nb")
    wrapped_links, output = aligned(tmp_path, tmp_path / "wrapped.ru", tmp_path / "wrapped.nb")
    assert "line breaks read as wraps inside paragraphs (--line-breaks auto chose paragraph)" in output
    assert [{k: v for k, v in link.items() if not k.endswith("_where")} for link in wrapped_links] == plain
    by_line, _ = aligned(tmp_path, tmp_path / "wrapped.ru", tmp_path / "wrapped.nb", "--line-breaks", "line")
    assert len(by_line) > 2 * len(plain)  # every wrap a boundary: fragments


def test_the_seed_posts_are_read_line_by_line_as_before():
    for name in ("izvestia.ru.txt", "izvestia.nb.txt", "ria.ru.txt", "ria.nb.txt"):
        document = read_document(FIXTURES / name, line_breaks="auto")
        assert document.line_breaks == "line"


def test_xlsx_is_the_side_by_side_sheet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    build_docx(tmp_path / "a.docx", "ru")
    build_docx(tmp_path / "b.docx", "nb")
    result = run_cli("align", tmp_path / "a.docx", tmp_path / "b.docx", "-f", "xlsx", "-o", tmp_path / "links.xlsx")
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(tmp_path / "links.xlsx").active
    assert [cell.value for cell in sheet[1]] == ["source", "target", "score", "flags", "where"]
    assert sheet.freeze_panes == "A2" and sheet["A2"].alignment.wrap_text
    assert sheet["E2"].value == "h1 1 / h1 1" and sheet["E11"].value == "footnote 1 / footnote 1"
    assert sheet["B11"].value == "Kilde: RIA Novosti." and 0.5 < sheet["C11"].value <= 1
    rules = [rule for ranges in sheet.conditional_formatting for rule in ranges.rules]
    assert [rule.type for rule in rules] == ["colorScale"]
    tmx = run_cli("align", tmp_path / "a.docx", tmp_path / "b.docx", "-f", "tmx", "-o", tmp_path / "links.tmx")
    assert tmx.exit_code == 0
    text = (tmp_path / "links.tmx").read_text(encoding="utf-8")
    assert '<prop type="file">a.docx</prop>' in text and '<prop type="id">table 1 r1 c1</prop>' in text


@pytest.mark.parametrize("module, name, fragment", [("pysubs2", "a.srt", "subtitles need pysubs2"),
                                                    ("pypdf", "a.pdf", "a PDF needs pypdf")])
def test_a_missing_library_says_the_pip_line_that_adds_it(module, name, fragment, tmp_path, monkeypatch):
    from sentaligner.errors import UsageError

    (tmp_path / name).write_bytes(b"%PDF-1.4\n" if name.endswith(".pdf") else
                                  "1\n00:00:01,000 --> 00:00:02,000\nHei.\n".encode())
    monkeypatch.setitem(__import__("sys").modules, module, None)  # as if not installed
    with pytest.raises(UsageError, match=f'{fragment}: pip install "sentaligner\\[documents\\]"'):
        read_document(tmp_path / name)



def test_a_channel_corpus_as_xlsx_has_a_sheet_per_post_pair(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from helpers import SEED

    result = run_cli("channel", SEED, "-o", tmp_path / "out", "-f", "xlsx")
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(tmp_path / "out" / "corpus.xlsx")
    pairs = [json.loads(line) for line in (tmp_path / "out" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert book.sheetnames == [f"{pair['ru']['id']}-{pair['nb']['id']}" for pair in pairs]
    assert sum(sheet.max_row - 1 for sheet in book) == 37


def test_block_boundaries_go_to_the_search_headings_weighing_double(tmp_path):
    from sentaligner.pipeline import document_units

    (tmp_path / "a.md").write_text("# Tittel\n\nFørste setning. Andre setning.\n\nTredje setning.\n", encoding="utf-8")
    units = document_units(read_document(tmp_path / "a.md"), "nb")
    assert units.texts == ["Tittel", "Første setning.", "Andre setning.", "Tredje setning."]
    assert units.boundaries == [0, 2, 0, 1]  # after the heading: 2; inside a paragraph: 0; a new paragraph: 1
    assert units.where == ["h1 1", "p 1", "p 1", "p 2"]
    plain = document_units(read_document(FIXTURES / "ria.nb.txt", line_breaks="line"), "nb")
    assert plain.boundaries is None and plain.where is None  # posts read line by line: as before



def izvestia_links():
    """The fixture's links of the Izvestia commentary: a Russian and a Norwegian text each."""
    return [json.loads(line) for line in (FIXTURES / "izvestia.ru-nb.jsonl").read_text(encoding="utf-8").splitlines()]


def build_dialogue_srt(path, lang, thanked_at):
    """The Izvestia commentary as subtitles, a cue a link of the fixture 4 s apart, with "thank
    you" said twice in the middle (at 62 s and at 64 s). The Norwegian subtitles give the thanks
    once, at `thanked_at` seconds."""
    pysubs2 = pytest.importorskip("pysubs2")
    side = "src" if lang == "ru" else "tgt"
    lines = [link[side] for link in izvestia_links()]
    subs = pysubs2.SSAFile()
    for k, line in enumerate(lines):
        start = k * 4000 + (8000 if k >= 15 else 0)  # 60 s to 68 s: the thanks
        if line:
            subs.append(pysubs2.SSAEvent(start=start, end=start + 3000, text=line))
    for second in [62, 64] if lang == "ru" else [thanked_at]:
        subs.append(pysubs2.SSAEvent(start=second * 1000, end=second * 1000 + 1500,
                                     text="Спасибо." if lang == "ru" else "Takk."))
    subs.sort()
    subs.save(str(path), format_="srt")


@pytest.mark.parametrize("thanked_at, cue", [(62, "cue 16 00:01:02,000"), (64, "cue 17 00:01:04,000")])
def test_subtitle_times_decide_which_repeated_line_is_translated(thanked_at, cue, tmp_path):
    build_dialogue_srt(tmp_path / "a.ru.srt", "ru", thanked_at)
    build_dialogue_srt(tmp_path / "a.nb.srt", "nb", thanked_at)
    links, output = aligned(tmp_path, tmp_path / "a.ru.srt", tmp_path / "a.nb.srt")
    thanks = [link for link in links if "Спасибо." in link["src"]]
    assert [link["src"] for link in thanks] == ["Спасибо.", "Спасибо."], output  # each a link of its own
    translated = [link["src_where"] for link in thanks if link["tgt"]]
    assert translated == [cue], output
    assert [link["tgt"] for link in thanks if link["tgt"]] == ["Takk."]


def test_subtitles_cut_into_other_cues_pair_by_time(tmp_path):
    """The Izvestia commentary as subtitles, a cue a link of the fixture 6 s apart; the Norwegian
    cuts each cue of six words or more in two (at half its words and half its time). Each
    Russian cue goes with the Norwegian cues said in its time: 1-2 links, not cues left out or
    runs of cues joined because both sides cut there."""
    pysubs2 = pytest.importorskip("pysubs2")
    links = izvestia_links()
    ru, nb = pysubs2.SSAFile(), pysubs2.SSAFile()
    for k, link in enumerate(links):
        start = k * 6000
        if link["src"]:
            ru.append(pysubs2.SSAEvent(start=start, end=start + 5000, text=link["src"]))
        words = link["tgt"].split()
        if len(words) >= 6:
            half = len(words) // 2
            nb.append(pysubs2.SSAEvent(start=start, end=start + 2400, text=" ".join(words[:half])))
            nb.append(pysubs2.SSAEvent(start=start + 2600, end=start + 5000, text=" ".join(words[half:])))
        elif words:
            nb.append(pysubs2.SSAEvent(start=start, end=start + 5000, text=link["tgt"]))
    ru.save(str(tmp_path / "a.ru.srt"))
    nb.save(str(tmp_path / "a.nb.srt"))
    found, output = aligned(tmp_path, tmp_path / "a.ru.srt", tmp_path / "a.nb.srt")

    def slots(where):  # the 6-second slots (fixture links) a side's cues start in
        return {(int(h) * 3600 + int(m) * 60 + int(s)) // 6 for h, m, s in re.findall(r"(\d\d):(\d\d):(\d\d),", where)}

    pairs = [link for link in found if link["src"] and link["tgt"]]
    assert len(pairs) == sum(bool(link["src"] and link["tgt"]) for link in links), output
    assert all(slots(link["src_where"]) == slots(link["tgt_where"]) and len(slots(link["src_where"])) == 1
               for link in pairs), output


def test_a_vtt_file_is_read_as_cues_with_their_times(tmp_path):
    pysubs2 = pytest.importorskip("pysubs2")
    from sentaligner.pipeline import document_units

    subs = pysubs2.SSAFile()
    title, question, *_ = paragraphs("nb")
    subs.append(pysubs2.SSAEvent(start=1000, end=4000, text=title))
    subs.append(pysubs2.SSAEvent(start=61500, end=64250, text=question))
    path = tmp_path / "a.nb.vtt"
    subs.save(str(path), format_="vtt")
    assert path.read_text(encoding="utf-8").startswith("WEBVTT")
    document = read_document(path)
    assert document.format == "vtt"
    assert [block.where for block in document.blocks] == ["cue 1 00:00:01,000", "cue 2 00:01:01,500"]
    units = document_units(document, "nb")
    assert units.times is not None and len(units.times) == len(units.texts)
    assert units.times[0] == (1.0, 4.0) and units.times[-1] == (61.5, 64.25)
