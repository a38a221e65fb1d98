"""What the tests share: the fixtures, one way to run the command line, and its error check."""

from pathlib import Path

from click.testing import CliRunner, Result

from sentaligner.cli import main
from sentaligner.modelcheck import parity_sentences

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "channel" / "seed000.txt"  # the raw dump of seed 000, as published


def run_cli(*args, input=None) -> Result:
    """`sentaligner ARGS...` in this process, its output captured."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def one_line_error(result: Result, code: int, fragment: str) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and fragment in lines[0], result.output
    assert "Traceback" not in result.output


def seed_sentences(count: int = 200) -> tuple[str, ...]:
    """Distinct sentences of seed 000: every Russian and Norwegian one (79), English ones to make up `count`."""
    return parity_sentences(SEED, count)
