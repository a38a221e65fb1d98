import os
import tempfile
from pathlib import Path

import pytest

# The CLI caches embeddings on disk; tests never touch the user's cache folder.
os.environ["ALIGNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="aligner-test-cache-")

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "channel" / "seed000.txt"  # the raw dump of seed 000, as published


@pytest.fixture(scope="session")
def e5():
    from aligner.embed import load_encoder

    return load_encoder("e5-small")
