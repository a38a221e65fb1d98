import os
import tempfile

import pytest

# The CLI caches embeddings on disk; tests never touch the user's cache folder.
os.environ["SENTALIGNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="sentaligner-test-cache-")


@pytest.fixture(scope="session")
def e5():
    from sentaligner.embed import load_encoder

    return load_encoder("e5-small")
