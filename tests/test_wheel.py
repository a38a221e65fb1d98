"""The wheel: built from this checkout, it holds the package, its assets and models/ only, and
installed into a fresh virtual environment, away from the source tree, its command answers
--help, runs the channel example with a report and aligns the fixtures.

The fresh environment gets the wheel alone (`--no-deps --no-index`); its dependencies come from
the environment running the tests through a path file, so that the test needs no network."""

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from helpers import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the setuptools of this environment builds it, without fetching one
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True)
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    (found,) = out.glob("sentaligner-*-py3-none-any.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment with the wheel installed; its bin folder."""
    folder = tmp_path_factory.mktemp("venv")
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "dependencies-of-the-test-run.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    return folder / "bin"


def test_the_wheel_holds_the_package_its_assets_and_models_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"sentaligner", wheel.name.split("-py3")[0] + ".dist-info"}
    assert {"sentaligner/py.typed", "sentaligner/assets/review.js", "sentaligner/assets/review.css",
            "sentaligner/assets/report.js", "sentaligner/assets/report.css", "sentaligner/models/e5-small.json",
            "sentaligner/__main__.py", "sentaligner/api.py"} <= set(names)
    assert not [name for name in names if "test" in name.split("/")[-1] or "benchmark" in name]
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA").decode()
    assert "Name: sentaligner" in metadata and "Requires-Python: >=3.11" in metadata
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata


def test_the_installed_command_runs_away_from_the_source_tree(installed, tmp_path):
    def run(*args):
        done = subprocess.run([str(installed / "sentaligner"), *map(str, args)], cwd=tmp_path, capture_output=True,
                              text=True, env={"PATH": f"{installed}:/usr/bin:/bin", "HOME": str(tmp_path),
                                              "SENTALIGNER_CACHE_DIR": str(tmp_path / "cache")})
        assert done.returncode == 0, done.stderr
        return done

    where = subprocess.run([str(installed / "python"), "-c", "import sentaligner; print(sentaligner.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(installed.parent)) and "site-packages" in where
    assert "Usage: sentaligner" in run("--help").stdout
    shutil.copy(ROOT / "examples" / "channel-dump.txt", tmp_path)
    ran = run("channel", "channel-dump.txt", "-o", "corpus", "-f", "tmx", "--report")
    assert "3 pairs" in ran.stderr
    assert (tmp_path / "corpus" / "corpus.tmx").is_file()
    assert "function" in (tmp_path / "corpus" / "report.html").read_text(encoding="utf-8")  # its script, from the wheel
    run("align", FIXTURES / "izvestia.ru.txt", FIXTURES / "izvestia.nb.txt", "-f", "jsonl", "-o", "links.jsonl")
    links = [json.loads(line) for line in (tmp_path / "links.jsonl").read_text(encoding="utf-8").splitlines()]
    expected = [json.loads(line) for line in (FIXTURES / "izvestia.ru-nb.jsonl").read_text(encoding="utf-8")
                .splitlines()]
    assert links == expected
