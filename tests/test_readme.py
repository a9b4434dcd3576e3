"""Every ```python and ```bash block of README.md runs as written.

Each block runs in its own temporary directory with ``.venv`` pointing at the environment that
runs the tests, so ``.venv/bin/conformap`` is the installed command. Blocks that need a user's
file make it themselves (``conformap simulate``, a here-document, the Python API).

``make test`` is the command that runs this very file (CI runs it through ``.ci/run``), so it
is checked, not re-run: running it here would recurse.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(python|bash)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
VENV_BIN = Path(sys.executable).parent


def readme_blocks() -> list[tuple[str, str, int]]:
    text = README.read_text()
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
            for m in BLOCK.finditer(text)]


BLOCKS = readme_blocks()


def test_readme_has_the_blocks_we_run():
    langs = [lang for lang, _, _ in BLOCKS]
    assert langs.count("python") >= 1 and langs.count("bash") >= 2


@pytest.fixture
def workdir(tmp_path):
    if not (VENV_BIN / "conformap").exists():
        pytest.skip("the conformap command is not installed next to this Python")
    (tmp_path / ".venv").symlink_to(VENV_BIN.parent, target_is_directory=True)
    return tmp_path


def _env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONWARNINGS"] = "default"  # not the test suite's "error"
    return env


def _prepare_make(block: str, workdir: Path) -> str:
    """A copy of the Makefile whose venv (``.venv``, the linked one) is up to date."""
    if not re.search(r"^\s*make\b", block, re.M):
        return block
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", workdir / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", workdir / "pyproject.toml")
    os.utime(workdir / "pyproject.toml", (0, 0))  # older than .venv/bin/conformap: no reinstall
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\n\t.*-m pytest", makefile, re.M), "make test must run pytest"
    lines = []
    for line in block.splitlines():
        if re.match(r"^\s*make test\b", line):
            continue  # this is the run of `make test` (see the module docstring)
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "code", "line"), BLOCKS,
                         ids=[f"README.md:{line}:{lang}" for lang, _, line in BLOCKS])
def test_readme_block_runs(lang, code, line, workdir):
    if lang == "python":
        cmd = [str(VENV_BIN / "python"), "-c", code]
    else:
        code = _prepare_make(code, workdir)
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    proc = subprocess.run(cmd, cwd=workdir, env=_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (
        f"README.md block at line {line} failed ({proc.returncode}):\n"
        f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    )
    if lang == "python":
        # The negative-voxel warning is given once per run, not once per call.
        assert proc.stderr.count("NegativeDensityWarning") <= 1, proc.stderr
