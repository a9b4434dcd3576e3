"""Lazy imports: ``import conformap`` and ``conformap --help`` load none of the heavy stack.

(Times are measured in ``benchmarks/bench_import.py``, never asserted here.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numba", "scipy.stats", "scipy.ndimage", "sklearn", "matplotlib", "pywt", "mrcfile")


def _loaded_after(code: str) -> set[str]:
    probe = code + f"\nimport sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    return set(eval(out))  # a printed list of str


def test_import_conformap_is_lazy():
    assert _loaded_after("import conformap") == set()


def test_help_loads_no_heavy_module():
    code = ("import contextlib, io\nfrom conformap.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass")
    assert _loaded_after(code) == set()


def test_every_public_name_resolves():
    import conformap

    for name in conformap.__all__:
        assert getattr(conformap, name) is not None, name
    assert set(conformap.__all__) <= set(dir(conformap))
    from conformap import DiffusionMap, wemd_distances  # noqa: F401

    with pytest.raises(AttributeError, match="no_such_name"):
        conformap.no_such_name  # noqa: B018
