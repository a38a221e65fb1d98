"""Reading documents (issue 33): a 300-page DOCX and a 300-page EPUB, made here from the English
seed texts with python-docx and ebooklib, read by `sentaligner.documents.read_document`. Prints
the seconds, the blocks, and the reader's peak traced memory (tracemalloc) against the
document's text. A page is taken as 3,000 characters (about 500 words).

    python benchmarks/documents.py --seeds ../shared/seeds [--pages 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentaligner.documents import read_document  # noqa: E402

PAGE_CHARS = 3000


def paragraphs(seeds: Path, pages: int) -> list[str]:
    """The seeds' paragraphs, repeated until they fill `pages` pages."""
    found = [p.strip() for path in sorted(seeds.glob("00[1-9]_*.txt"))
             for p in path.read_text(encoding="utf-8").split("\n") if len(p.strip()) > 40]
    out, total = [], 0
    while total < pages * PAGE_CHARS:
        paragraph = found[len(out) % len(found)]
        out.append(paragraph)
        total += len(paragraph)
    return out


def make_docx(path: Path, texts: list[str]) -> None:
    import docx

    document = docx.Document()
    for number, text in enumerate(texts):
        if number % 40 == 0:
            document.add_heading(f"Chapter {number // 40 + 1}", level=1)
        document.add_paragraph(text)
    document.save(path)


def make_epub(path: Path, texts: list[str]) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("bench")
    book.set_title("Bench")
    book.set_language("en")
    chapters = []
    for start in range(0, len(texts), 40):
        chapter = epub.EpubHtml(title=str(start), file_name=f"c{start}.xhtml", lang="en")
        body = "".join(f"<p>{text}</p>" for text in texts[start:start + 40])
        chapter.content = f"<h1>Chapter {start // 40 + 1}</h1>{body}"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = chapters
    epub.write_epub(str(path), book)


def rss_growth(path: Path) -> int:
    """Bytes the peak resident memory of a fresh process grows by while it reads `path`, after
    its imports and a first small read."""
    script = ("import sys, lxml.etree, lxml.html, markdown_it; from sentaligner.documents import read_document\n"
              "def status(key):\n"
              "    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith(key))\n"
              "before = status('VmRSS:'); read_document(sys.argv[1]); print(status('VmHWM:') - before)")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                          cwd=ROOT)
    return int(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, required=True, help="the folder of the seed texts (../shared/seeds)")
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    texts = paragraphs(args.seeds, args.pages)
    chars = sum(map(len, texts))
    print(f"{args.pages} pages: {len(texts):,} paragraphs, {chars:,} characters of text")
    print(f"{'format':6} {'file KiB':>9} {'seconds':>8} {'blocks':>7} {'text MiB':>9} {'traced MiB':>10} "
          f"{'RSS+ MiB':>9} {'RSS+/text':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for kind, make in (("docx", make_docx), ("epub", make_epub)):
            path = Path(folder) / f"book.{kind}"
            make(path, texts)
            read_document(path)  # imports and caches warmed, as in a second document of a batch
            started = time.perf_counter()
            document = read_document(path)
            seconds = time.perf_counter() - started
            tracemalloc.start()
            read_document(path)
            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rss = rss_growth(path)  # C memory too (lxml's trees), in a fresh process
            text_bytes = sum(sys.getsizeof(block.text) for block in document.blocks)
            print(f"{kind:6} {path.stat().st_size / 1024:>9,.0f} {seconds:>8.2f} {len(document.blocks):>7,} "
                  f"{text_bytes / 2**20:>9.1f} {traced / 2**20:>10.1f} {rss / 2**20:>9.1f} {rss / text_bytes:>9.1f}")


if __name__ == "__main__":
    main()
