""".ci/install-torch takes torch's CPU build from PyTorch's CPU index, and the default index only
when that index cannot be reached. Both indexes are played by local PEP 503 indexes serving
wheels built here; pip resolves with --dry-run and reports what it would install."""

import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

INSTALL_TORCH = Path(__file__).resolve().parents[1] / ".ci" / "install-torch"


def fake_torch_wheel(folder: Path, version: str) -> str:
    """A wheel that only says it is torch VERSION: enough for pip to resolve it."""
    name = f"torch-{version}-py3-none-any.whl"
    info = f"torch-{version}.dist-info"
    with zipfile.ZipFile(folder / name, "w") as wheel:
        wheel.writestr("torch/__init__.py", "")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")
        wheel.writestr(f"{info}/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return name


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def indexes(tmp_path):
    """(CPU index URL, default index URL, a URL nothing answers), served from tmp_path."""
    for index, version in (("cpu", "2.13.0+cpu"), ("default", "2.13.0")):
        project = tmp_path / index / "torch"
        project.mkdir(parents=True)
        wheel = fake_torch_wheel(project, version)
        href = wheel.replace("+", "%2B")
        (project / "index.html").write_text(f'<!DOCTYPE html><html><body><a href="{href}">{wheel}</a></body></html>')
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as closed:  # a port bound and never listened on refuses connections
        closed.bind(("127.0.0.1", 0))
        root = f"http://127.0.0.1:{server.server_address[1]}"
        yield f"{root}/cpu", f"{root}/default", f"http://127.0.0.1:{closed.getsockname()[1]}/cpu"
    server.shutdown()


def resolve_torch(tmp_path, torch_index, default_index):
    """What `.ci/install-torch` would install, by pip's --dry-run report; no machine pip settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(SENTALIGNER_TORCH_INDEX=torch_index, PIP_INDEX_URL=default_index, PIP_CONFIG_FILE=os.devnull)
    report = tmp_path / "report.json"
    done = subprocess.run([str(INSTALL_TORCH), sys.executable, "--dry-run", "--no-cache-dir", "--ignore-installed",
                           "--report", str(report)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [install] = json.loads(report.read_text())["install"]
    return install["metadata"]["version"], install["download_info"]["url"], done.stderr


def test_torch_comes_from_the_cpu_index_when_it_answers(tmp_path, indexes):
    cpu, default, _ = indexes
    version, url, said = resolve_torch(tmp_path, cpu, default)
    assert version == "2.13.0+cpu" and url.startswith(cpu + "/torch/")
    assert f"ci: torch 2.13.0 from {cpu} (CPU build)" in said


def test_torch_comes_from_the_default_index_when_the_cpu_index_cannot_be_reached(tmp_path, indexes):
    _, default, unreachable = indexes
    version, url, said = resolve_torch(tmp_path, unreachable, default)
    assert version == "2.13.0" and url.startswith(default + "/torch/")
    assert f"ci: {unreachable} cannot be reached; torch 2.13.0 from the default index" in said
