"""Messages advise only options that exist, each warning once per run, --level is checked
against the grid, maps keep their origin, and a single point to factorize is a clear error."""

from __future__ import annotations

import math
import subprocess
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


def test_negative_warning_once_per_run():
    code = (
        "import warnings\n"
        "import conformap\n"
        "from conformap.datasets import make_rotor\n"
        "maps = make_rotor(10, noise=0.1, shape=(10, 16, 10), rng=0)[0]\n"
        "conformap.DiffusionMap(metric='wemd').fit(maps)\n"
        "conformap.wemd_distances(maps)\n"
        "conformap.wemd_embedding(maps)\n"
        "conformap.wemd_embedding(maps[:5])\n"
    )
    proc = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True,
                          text=True, check=True)
    assert proc.stderr.count("NegativeDensityWarning") == 1, proc.stderr


def test_cli_warns_once_with_its_own_flags(tmp_path):
    def cli(*argv):  # a fresh process: the command's own warning filters and formatting
        code = "import sys; from conformap.cli import main; sys.exit(main(sys.argv[1:]))"
        proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    d = tmp_path / "noisy"
    cli("simulate", "--out", d, "-n", "10", "--noise", "0.1", "--shape", *SHAPE, "--quiet")
    err = cli("embed", d, "--out", tmp_path / "e", "--quiet")
    assert err.count("negative voxels") == 1, err
    assert "--negative keep" in err and "metric_params" not in err
    err = cli("embed", d, "--out", tmp_path / "f", "--quiet", "--negative", "keep")
    assert "negative voxels" not in err


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
