import os
import tempfile

import pytest

# The CLI caches embeddings on disk; tests never touch the user's cache folder.
os.environ["ALIGNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="aligner-test-cache-")


@pytest.fixture(scope="session")
def e5():
    from aligner.embed import load_encoder

    return load_encoder("e5-small")
