"""The output rule of every command (cli/_common.py) and of conformap.io's writers.

Outputs honour the umask, keep dotted stems, are never overwritten without --overwrite, and an
unusable location is an error naming the user's path (exit 2) before any computation.
"""

from __future__ import annotations

import errno
import os
import stat

import numpy as np
import pytest

from conformap import io as cio
from conformap.cli import main


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def umask():
    """Set a umask for the test and restore the old one."""
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    d = tmp_path_factory.mktemp("pts")
    rng = np.random.default_rng(0)
    np.save(d / "x.npy", rng.random((24, 6)))
    return d / "x.npy"


@pytest.fixture(scope="module")
def rect(tmp_path_factory):
    from conformap.datasets import make_rectangle

    d = tmp_path_factory.mktemp("rect")
    X, _ = make_rectangle(300, rng=0)
    np.save(d / "points.npy", X)
    return d / "points.npy"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_writers_honour_the_umask(tmp_path, umask, mask):
    from conformap.plotting import pyplot, save_figure

    umask(mask)
    want = 0o666 & ~mask
    paths = [
        cio.write_npz(tmp_path / "a.npz", x=np.ones(3)),
        cio.write_csv(tmp_path / "a.csv", ["a"], [[1]]),
        cio.write_mrc(tmp_path / "a.mrc", np.ones((4, 4, 4))),
    ]
    fig = pyplot().figure()
    paths.append(save_figure(fig, tmp_path / "a.png"))
    for p in paths:
        assert _mode(p) == want, p


def test_cli_outputs_are_readable_by_the_group(points, tmp_path, umask, capsys):
    umask(0o022)
    code, _, err = run(["embed", points, "--metric", "euclidean", "--out", tmp_path / "e",
                        "--quiet"], capsys)
    assert code == 0, err
    for ending in (".npz", ".csv", ".png"):
        assert _mode(tmp_path / f"e{ending}") == 0o644


def test_atomic_write_error_names_the_final_path(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OSError, match="cannot write here") as info:
        cio.write_npz(tmp_path / "afile" / "x.npz", x=np.ones(2))
    msg = str(info.value)
    assert str(tmp_path / "afile" / "x.npz") in msg and ".part" not in msg


def test_failed_block_leaves_nothing(tmp_path):
    def half_write():
        with cio.atomic_path(tmp_path / "o.npz") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        half_write()
    assert list(tmp_path.iterdir()) == []


def test_dotted_stem_keeps_its_name_embed(points, tmp_path, capsys):
    for stem in ("sigma-0.5", "sigma-0.7"):
        code, _, err = run(["embed", points, "--metric", "euclidean", "--out",
                            tmp_path / stem, "--quiet"], capsys)
        assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"sigma-0.{d}.{e}" for d in (5, 7) for e in ("csv", "npz", "png")]
    # an explicit .npz is still the stem's suffix
    code, _, err = run(["embed", points, "--metric", "euclidean", "--out",
                        tmp_path / "r-1.5.npz", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "r-1.5.csv").is_file()


def test_dotted_stem_keeps_its_name_factorize(rect, tmp_path, capsys):
    code, _, err = run(["factorize", rect, "-N", "12", "--out", tmp_path / "run-0.1",
                        "--quiet"], capsys)
    assert code == 0, err
    for ending in (".json", ".npz", "_factors.png", "_separability.png", "_embeddings.png"):
        assert (tmp_path / f"run-0.1{ending}").is_file(), ending


def test_embed_refuses_to_overwrite_unless_asked(points, tmp_path, capsys):
    argv = ["embed", points, "--metric", "euclidean", "--out", tmp_path / "e", "--quiet"]
    assert run(argv, capsys)[0] == 0
    before = (tmp_path / "e.npz").read_bytes()
    (tmp_path / "e.csv").write_text("mine")
    code, _, err = run(argv, capsys)
    assert code == 2 and "e.npz exists" in err and "--overwrite" in err
    assert (tmp_path / "e.csv").read_text() == "mine"
    code, _, err = run([*argv, "--overwrite"], capsys)
    assert code == 0, err
    assert (tmp_path / "e.csv").read_text().startswith("name,psi1")
    assert (tmp_path / "e.npz").read_bytes() != b"" and before


def test_every_command_refuses_existing_outputs(points, rect, tmp_path, capsys):
    """The same rule for each command, checked before any work (so these calls are fast)."""
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("precious")
    (tmp_path / "f_factors.png").write_text("old")
    cases = [
        ["simulate", "--out", full, "-n", "2"],
        ["demo", "--out", full, "--sizes", "8"],
        ["reproduce", "earthmover", "--out", full, "--sizes", "8"],
        ["reproduce", "product-manifold", "--out", full],
        ["factorize", rect, "--out", tmp_path / "f"],
    ]
    for argv in cases:
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        assert "--overwrite" in err, (argv, err)
    assert (full / "keep.txt").read_text() == "precious"
    assert (tmp_path / "f_factors.png").read_text() == "old"


def test_every_command_has_overwrite_and_quiet():
    from conformap.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in COMMANDS:
        parsers = [sub.choices[name]]
        nested = [a for a in parsers[0]._actions if a.dest == "paper"]
        if nested:
            parsers = list(nested[0].choices.values())
        for p in parsers:
            opts = {o for a in p._actions for o in a.option_strings}
            assert {"--overwrite", "--quiet"} <= opts, name


@pytest.fixture
def no_compute(monkeypatch):
    """Any computation fails the test: output checks must come first."""
    from conformap import estimators, product

    def boom(*a, **k):
        raise AssertionError("computed before checking the output")

    monkeypatch.setattr(estimators.DiffusionMap, "fit", boom)
    monkeypatch.setattr(product, "factorize", boom)


@pytest.mark.parametrize("command", ["embed", "factorize"])
def test_output_into_a_file_names_the_path(points, tmp_path, capsys, no_compute, command):
    (tmp_path / "afile").write_text("x")
    given = tmp_path / "afile" / "emb"
    code, _, err = run([command, points, "--out", given, "--quiet"], capsys)
    assert code == 2
    assert f"--out {given}" in err and "is a file" in err and "Errno" not in err


@pytest.mark.parametrize("command", ["embed", "factorize"])
def test_missing_parent_is_refused_not_created(points, tmp_path, capsys, no_compute, command):
    given = tmp_path / "nonexistent" / "emb"
    code, _, err = run([command, points, "--out", given, "--quiet"], capsys)
    assert code == 2 and f"--out {given}" in err and "does not exist" in err
    assert not (tmp_path / "nonexistent").exists()


def test_root_level_missing_directory_is_not_created(points, capsys, no_compute):
    given = "/nonexistent-conformap-test/emb"
    code, _, err = run(["embed", points, "--out", given, "--quiet"], capsys)
    assert code == 2 and given in err
    assert not os.path.exists("/nonexistent-conformap-test")


def test_directory_commands_create_their_own_directory_only(tmp_path, capsys):
    code, _, err = run(["simulate", "--out", tmp_path / "new", "-n", "2", "--shape", "8", "8",
                        "8", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "new" / "ground_truth.csv").is_file()
    code, _, err = run(["simulate", "--out", tmp_path / "a" / "b", "-n", "2", "--quiet"], capsys)
    assert code == 2 and "does not exist" in err and not (tmp_path / "a").exists()


def _erofs_for(directory, monkeypatch):
    """Make file creation in ``directory`` fail as on a read-only file system (works as root)."""
    real = os.open

    def fake(path, flags, *a, **k):
        if os.path.dirname(os.fspath(path)) == os.fspath(directory) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real(path, flags, *a, **k)

    monkeypatch.setattr(cio.os, "open", fake)


@pytest.mark.parametrize("command", ["embed", "factorize", "simulate"])
def test_read_only_location_fails_before_computing(points, tmp_path, capsys, monkeypatch,
                                                    no_compute, command):
    ro = tmp_path / "ro"
    ro.mkdir()
    _erofs_for(ro, monkeypatch)
    given = ro / "out"
    argv = ([command, "--out", given, "-n", "2"] if command == "simulate"
            else [command, points, "--out", given])
    code, _, err = run([*argv, "--quiet"], capsys)
    assert code == 2
    assert f"--out {given}" in err and "Read-only file system" in err and ".part" not in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only directories")
def test_read_only_directory_permissions(points, tmp_path, capsys, no_compute):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = run(["embed", points, "--out", ro / "emb", "--quiet"], capsys)
    finally:
        ro.chmod(0o755)
    assert code == 2 and f"--out {ro / 'emb'}" in err and "cannot write" in err


def test_quiet_means_no_progress_and_default_shows_it(tmp_path, capsys):
    argv = ["simulate", "-n", "3", "--shape", "8", "8", "8"]
    code, _, err = run([*argv, "--out", tmp_path / "q", "--quiet"], capsys)
    assert code == 0 and err == ""
    code, _, err = run([*argv, "--out", tmp_path / "v"], capsys)
    assert code == 0 and "writing maps" in err


def test_quiet_embed_and_factorize_print_nothing_on_stderr(points, rect, tmp_path, capsys):
    code, _, err = run(["embed", points, "--metric", "euclidean", "--out", tmp_path / "e",
                        "--quiet"], capsys)
    assert code == 0 and err == ""
    code, _, err = run(["factorize", rect, "-N", "12", "--out", tmp_path / "f", "--quiet"],
                       capsys)
    assert code == 0 and err == "", err
    code, _, err = run(["factorize", rect, "-N", "12", "--out", tmp_path / "g"], capsys)
    assert code == 0 and "factorize" in err
