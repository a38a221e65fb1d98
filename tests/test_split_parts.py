"""benchmarks/split_parts.py cuts a gold document into parts between gold links where both sides
start a paragraph; the parts, put back together, are the document and its gold."""

import subprocess
import sys
from pathlib import Path

from sentaligner.evaluate import read_alignment

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "split_parts.py"


def test_parts_put_back_together_are_the_document_and_its_gold(tmp_path):
    data = tmp_path / "novel-hu-en"
    data.mkdir()
    # 12 source and 11 target sentences in four paragraphs a side that start together only before
    # links 3 (source 3, target 3) and 9 (source 9, target 8): the cuts that may fall
    gold = [([0], [0]), ([1], [1]), ([2], [2]), ([3], [3]), ([4, 5], [4]), ([], [5]), ([6], [6]), ([7], [7]),
            ([8], []), ([9], [8]), ([10], [9]), ([11], [10])]
    src_paragraphs = [1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4]
    tgt_paragraphs = [1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4]
    (data / "novel.hu").write_text("".join(f"hu {i}\n" for i in range(12)), encoding="utf-8")
    (data / "novel.en").write_text("".join(f"en {j}\n" for j in range(11)), encoding="utf-8")
    (data / "novel.hu.paragraphs").write_text("".join(f"{p}\n" for p in src_paragraphs), encoding="utf-8")
    (data / "novel.en.paragraphs").write_text("".join(f"{p}\n" for p in tgt_paragraphs), encoding="utf-8")
    (data / "novel.huen").write_text("".join(f"{s}:{t}\n".replace(" ", "") for s, t in gold), encoding="utf-8")
    out = tmp_path / "parts"
    subprocess.run([sys.executable, str(SCRIPT), str(data), "--parts", "2", "--out", str(out)], check=True,
                   capture_output=True)
    parts = sorted(out.iterdir())
    assert [part.name for part in parts] == ["novel-hu-en-part1", "novel-hu-en-part2"]
    first, second = (part / f"novel-part{k}" for k, part in enumerate(parts, start=1))
    # of the two, the one nearest the middle of the source (6); 3 and 9 are as near, the first wins
    assert read_alignment(first.with_suffix(".huen")) == [((0,), (0,)), ((1,), (1,)), ((2,), (2,))]
    second_gold = read_alignment(second.with_suffix(".huen"))
    shifted = [(tuple(i + 3 for i in s), tuple(j + 3 for j in t)) for s, t in second_gold]
    assert shifted == [(tuple(s), tuple(t)) for s, t in gold[3:]]
    assert (first.with_suffix(".hu").read_text(encoding="utf-8") + second.with_suffix(".hu").read_text(encoding="utf-8")
            == (data / "novel.hu").read_text(encoding="utf-8"))
    assert second.with_name("novel-part2.en.paragraphs").read_text(encoding="utf-8").split() == \
        [str(p) for p in tgt_paragraphs[3:]]
