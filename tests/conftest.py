from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_6705d78980be27dd.txt"


@pytest.fixture(scope="session")
def e5():
    from aligner.embed import load_encoder

    return load_encoder("e5-small")
