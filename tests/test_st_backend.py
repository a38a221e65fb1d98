"""The sentence-transformers backend, on a tiny random model built here (nothing downloaded)."""

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytestmark = pytest.mark.slow

WORDS = "россия норвегия рыба мир осло russland norge fisk fred oslo og и в i . ,".split()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st_models
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("tiny")
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(root / "bert")
    fast.save_pretrained(root / "bert")
    transformer = st_models.Transformer(str(root / "bert"), max_seq_length=60)
    dimension = (transformer.get_embedding_dimension() if hasattr(transformer, "get_embedding_dimension")
                 else transformer.get_word_embedding_dimension())
    pooling = st_models.Pooling(dimension, "mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(root / "model"))
    return str(root / "model")


def test_loads_from_a_path_and_embeds_normalized_vectors(tiny_model):
    from sentaligner.embed import load_encoder

    encoder = load_encoder("st:" + tiny_model)
    vectors = encoder.encode(["россия и норвегия", "norge og russland", "россия и норвегия"])
    assert vectors.shape == (3, 32) and encoder.dim == 32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2])
    assert "sentence-transformers" in encoder.signature


def test_cli_aligns_with_the_tiny_model(tiny_model, tmp_path):
    from helpers import run_cli

    text = "россия и норвегия .\nрыба в осло .\nмир .\n"
    (tmp_path / "a").write_text(text, encoding="utf-8")
    (tmp_path / "b").write_text(text, encoding="utf-8")
    result = run_cli("align", "--presplit", tmp_path / "a", tmp_path / "b",
                     "--model", "st:" + tiny_model, "-f", "vecalign", "-q", "--force-lang")  # the same text twice
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["[0]:[0]", "[1]:[1]", "[2]:[2]"]
