import os
import signal
import tempfile

import pytest

# A test run started in the background of a non-interactive shell (`pytest &`, as a CI harness
# may start it) inherits SIGINT ignored, and every command the tests start would too: the
# Ctrl-C tests need it as a terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The CLI caches embeddings on disk; tests never touch the user's cache folder.
os.environ["SENTALIGNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="sentaligner-test-cache-")


@pytest.fixture(scope="session")
def e5():
    from sentaligner.embed import load_encoder

    return load_encoder("e5-small")
