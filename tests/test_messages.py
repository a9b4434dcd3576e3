"""Messages advise only options that exist, each warning once per run, --level is checked
against the grid, maps keep their origin, and a single point to factorize is a clear error."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest

from conformap import DiffusionMap, NegativeDensityWarning, wemd_embedding
from conformap.cli import build_parser, main
from conformap.datasets import make_rotor

SHAPE = (12, 20, 12)


@pytest.fixture(scope="module")
def noisy():
    return make_rotor(12, noise=0.1, shape=SHAPE, rng=0)[0]


def test_negative_warning_advises_options_that_exist(noisy):
    with pytest.warns(NegativeDensityWarning) as record:
        DiffusionMap(metric="wemd").fit(noisy)
    text = str(record[0].message)
    assert "metric_params={'negative'" in text and "negative='keep'" in text
    w = record[0].message
    assert w.n_items == 12 and 0 < w.n_negative <= 12 and 0 < w.fraction < 0.5
    # every spelling it advises is accepted, and silences the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for policy in ("keep", "clip"):
            DiffusionMap(metric="wemd", metric_params={"negative": policy}).fit(noisy)
            wemd_embedding(noisy, negative=policy)
    with pytest.raises(ValueError, match="negative values"):
        DiffusionMap(metric="wemd", metric_params={"negative": "error"}).fit(noisy)


@pytest.fixture
def fresh_run(monkeypatch):
    """A new run as far as warnings go: nothing shown yet."""
    import conformap._validation as v

    monkeypatch.setattr(v, "_SHOWN", set())


def test_negative_warning_once_per_run(noisy, fresh_run):
    from conformap import wemd_distances

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        DiffusionMap(metric="wemd").fit(noisy)
        wemd_distances(noisy)
        wemd_embedding(noisy)
        wemd_embedding(noisy[:5])
    assert sum(issubclass(w.category, NegativeDensityWarning) for w in seen) == 1
    # a filter that asks for every occurrence still gets every one
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        wemd_embedding(noisy)
        wemd_embedding(noisy)
    assert sum(issubclass(w.category, NegativeDensityWarning) for w in seen) == 2


def test_cli_warns_once_with_its_own_flags(tmp_path, capsys, monkeypatch, fresh_run):
    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr(warnings, "showwarning", show)  # print, as outside pytest
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main() sets it
    d = tmp_path / "noisy"
    assert main(["simulate", "--out", str(d), "-n", "10", "--noise", "0.1", "--shape",
                 *map(str, SHAPE), "--quiet"]) == 0
    with warnings.catch_warnings():
        assert main(["embed", str(d), "--out", str(tmp_path / "e"), "--quiet"]) == 0
        assert main(["embed", str(d), "--out", str(tmp_path / "e2"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("negative voxels") == 1, err
    assert "--negative keep" in err and "metric_params" not in err
    with warnings.catch_warnings():
        assert main(["embed", str(d), "--out", str(tmp_path / "f"), "--quiet", "--negative",
                     "keep"]) == 0
    assert "negative voxels" not in capsys.readouterr().err


def test_level_is_checked_against_the_grid(tmp_path, capsys):
    from conformap.wemd import default_level

    assert default_level(SHAPE) == math.ceil(math.log2(max(SHAPE))) == 5
    x = make_rotor(4, shape=SHAPE, rng=0)[0]
    wemd_embedding(x, level=5)
    with pytest.raises(ValueError, match=r"level: 6 is too deep .* at most 5"):
        wemd_embedding(x, level=6)
    np.save(tmp_path / "x.npy", x)
    code = main(["embed", str(tmp_path / "x.npy"), "--level", "12", "--out",
                 str(tmp_path / "e"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--level 12" in err and "at most 5" in err
    assert not list(tmp_path.glob("e.*"))


def test_level_help_states_the_rule_the_code_uses():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    level = next(a for a in sub.choices["embed"]._actions if a.dest == "level")
    assert "ceil(log2(max(shape)))" in level.help


def test_simulate_map_keeps_origin_and_voxel_size(tmp_path, capsys):
    import mrcfile

    from conformap.io import read_stack, write_mrc

    vol = make_rotor(1, shape=(16, 24, 16), rng=0)[0][0]
    src = write_mrc(tmp_path / "mine.mrc", vol, voxel_size=(1.5, 1.25, 1.5),
                    origin=(-12.0, 30.5, 7.25))
    out = tmp_path / "rot"
    assert main(["simulate", "--out", str(out), "-n", "3", "--map", str(src), "--quiet"]) == 0
    stack = read_stack(out)
    assert stack.origin == pytest.approx((-12.0, 30.5, 7.25))
    assert stack.voxel_size == pytest.approx((1.5, 1.25, 1.5))
    with mrcfile.open(out / "rotor_0000.mrc") as m:
        assert float(m.header.origin.x) == pytest.approx(7.25)


@pytest.mark.parametrize("n", [1, 2])
def test_factorize_too_few_points_is_a_clear_error(tmp_path, capsys, n):
    np.save(tmp_path / "p.npy", np.ones((n, 3)))
    code = main(["factorize", str(tmp_path / "p.npy"), "--out", str(tmp_path / "f"),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"{n} item(s); factorize needs at least 3" in err
    assert "n_neighbors" not in err
