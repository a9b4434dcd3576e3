"""Shared fixtures: the paper's real map when ../shared/data is present (skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_MAP = Path(__file__).resolve().parents[2] / "shared" / "data" / "rotating_shaft_res6.mrc"


@pytest.fixture(scope="session")
def real_rotor_map():
    """The earthmover paper's F0 + axle map (47 x 104 x 47), or skip."""
    if not SHARED_MAP.is_file():
        pytest.skip("../shared/data/rotating_shaft_res6.mrc is not present")
    import mrcfile

    return mrcfile.read(SHARED_MAP).astype("float32")
