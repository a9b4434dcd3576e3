"""The style rules of ``[tool.ruff]`` in pyproject.toml hold on the whole code base.

ruff is a test dependency (``pip install -e ".[test]"``), so ``make test`` and CI run it; the
rules themselves (and the few deliberate exceptions) live in pyproject.toml, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_reports_nothing():
    pytest.importorskip("ruff", reason="ruff comes with the test extra: pip install -e '.[test]'")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
