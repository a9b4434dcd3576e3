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


def _registered_commands() -> dict[str, object]:
    """Every command the parser knows ("reproduce earthmover" for nested ones) -> its parser."""
    from conformap.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    found = {}
    for name, p in sub.choices.items():
        nested = [a for a in p._actions if a.dest == "paper"]
        if nested:
            found.update({f"{name} {paper}": q for paper, q in nested[0].choices.items()})
        else:
            found[name] = p
    return found


@pytest.fixture(scope="module")
def inputs(points, rect, tmp_path_factory):
    """What the commands read: the checks come first, so only embed's output is real."""
    d = tmp_path_factory.mktemp("inputs")
    assert main(["embed", str(points), "--metric", "euclidean", "--out", str(d / "emb"),
                 "--quiet"]) == 0
    (d / "in.star").write_text("data_particles\n")
    return {"points": points, "rect": rect, "emb": d / "emb.npz", "star": d / "in.star"}


#: Every command: (argv writing to OUT, the name OUT gets, an existing output it must refuse,
#: relative to OUT's directory). test_the_table_covers_every_command keeps it complete.
CASES = {
    "simulate": (lambda i, o: ["simulate", "--out", o, "-n", "2"], "full", "full/keep.txt"),
    "demo": (lambda i, o: ["demo", "--out", o, "--sizes", "8"], "full", "full/keep.txt"),
    "reproduce earthmover": (lambda i, o: ["reproduce", "earthmover", "--out", o, "--sizes",
                                           "8"], "full", "full/keep.txt"),
    "reproduce product-manifold": (lambda i, o: ["reproduce", "product-manifold", "--out", o],
                                   "full", "full/keep.txt"),
    "embed": (lambda i, o: ["embed", i["points"], "--metric", "euclidean", "--out", o],
              "e", "e.png"),
    "factorize": (lambda i, o: ["factorize", i["rect"], "--out", o], "f", "f_factors.png"),
    "simulate-particles": (lambda i, o: ["simulate-particles", "--out", o, "-n", "3"],
                           "full", "full/keep.txt"),
    "export": (lambda i, o: ["export", i["emb"], "--star", i["star"], "--out", o],
               "sel.star", "sel.star"),
    "report": (lambda i, o: ["report", i["emb"], "--out", o], "r.html", "r.html"),
    "trajectory": (lambda i, o: ["trajectory", i["emb"], "--bins", "4", "--out", o],
                   "traj", "traj/psi1_bins.csv"),
}


def test_the_table_covers_every_command():
    """A new command cannot escape the output rule: it must be added to CASES."""
    from conformap.cli import COMMANDS

    registered = _registered_commands()
    assert set(CASES) == set(registered)
    assert len(COMMANDS) <= len(registered)


def test_every_command_has_overwrite_and_quiet():
    for name, p in _registered_commands().items():
        opts = {o for a in p._actions for o in a.option_strings}
        assert {"--overwrite", "--quiet"} <= opts, name


@pytest.fixture
def no_compute(monkeypatch):
    """Any computation (or reading of inputs) fails the test: output checks must come first."""
    import conformap.datasets
    from conformap import estimators, product
    from conformap import report as creport

    def boom(*a, **k):
        raise AssertionError("computed before checking the output")

    monkeypatch.setattr(estimators.DiffusionMap, "fit", boom)
    monkeypatch.setattr(product, "factorize", boom)
    monkeypatch.setattr(cio, "read_stack", boom)
    monkeypatch.setattr(creport, "load_embedding", boom)
    monkeypatch.setattr(conformap.datasets, "make_rotor", boom)


@pytest.mark.parametrize("command", sorted(CASES))
def test_every_command_refuses_existing_outputs(inputs, tmp_path, capsys, no_compute, command):
    """The same rule for each command, checked before any work."""
    argv, name, clash = CASES[command]
    (tmp_path / clash).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / clash).write_text("precious")
    code, _, err = run([*argv(inputs, tmp_path / name), "--quiet"], capsys)
    assert code == 2, err
    assert "exist" in err and "--overwrite" in err, err
    assert (tmp_path / clash).read_text() == "precious"


@pytest.mark.parametrize("command", sorted(CASES))
def test_output_into_a_file_names_the_path(inputs, tmp_path, capsys, no_compute, command):
    argv, name, _ = CASES[command]
    (tmp_path / "afile").write_text("x")
    given = tmp_path / "afile" / name
    code, _, err = run([*argv(inputs, given), "--quiet"], capsys)
    assert code == 2, err
    assert f"--out {given}" in err and "is a file" in err and "Errno" not in err, err
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("command", sorted(CASES))
def test_missing_parent_is_refused_not_created(inputs, tmp_path, capsys, no_compute, command):
    argv, name, _ = CASES[command]
    given = tmp_path / "nonexistent" / name
    code, _, err = run([*argv(inputs, given), "--quiet"], capsys)
    assert code == 2 and f"--out {given}" in err and "does not exist" in err, err
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


@pytest.mark.parametrize("command", sorted(CASES))
def test_read_only_location_fails_before_computing(inputs, tmp_path, capsys, monkeypatch,
                                                    no_compute, command):
    argv, name, _ = CASES[command]
    ro = tmp_path / "ro"
    ro.mkdir()
    _erofs_for(ro, monkeypatch)
    given = ro / name
    code, _, err = run([*argv(inputs, given), "--quiet"], capsys)
    assert code == 2, err
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


def _no_progress(err: str) -> bool:
    """Only warnings (``conformap: warning: ...``) may remain under --quiet."""
    return all(line.startswith("conformap: warning") for line in err.splitlines() if line)


def test_particle_commands_follow_the_rule(tmp_path, capsys):
    """simulate-particles, export, report, trajectory: --quiet, progress, --overwrite."""
    p = tmp_path / "p"
    code, _, err = run(["simulate-particles", "--out", p, "-n", "30", "--quiet"], capsys)
    assert code == 0 and _no_progress(err), err
    code, _, err = run(["simulate-particles", "--out", p, "-n", "30", "--overwrite"], capsys)
    assert code == 0 and "simulate-particles" in err, err
    code, _, err = run(["embed", p / "particles.star", "--metric", "euclidean", "--out",
                        tmp_path / "emb", "--quiet"], capsys)
    assert code == 0, err
    emb = tmp_path / "emb.npz"
    commands = {
        "export": ["export", emb, "--star", p / "particles.star", "--out", tmp_path / "s-0.1.star"],
        "report": ["report", emb, "--out", tmp_path / "r-0.1.html", "--max-thumbnails", "2"],
        "trajectory": ["trajectory", emb, "--bins", "3", "--out", tmp_path / "t"],
    }
    for name, argv in commands.items():
        code, _, err = run([*argv, "--quiet"], capsys)
        assert code == 0 and _no_progress(err), (name, err)
        code, _, err = run(argv, capsys)
        assert code == 2 and "--overwrite" in err, (name, err)
        code, _, err = run([*argv, "--overwrite"], capsys)
        assert code == 0 and name in err, (name, err)  # the progress bar's label
    # dotted names kept
    assert (tmp_path / "s-0.1.star").is_file() and (tmp_path / "r-0.1.html").is_file()
    # trajectory adds another coordinate's outputs beside the first without --overwrite
    code, _, err = run(["trajectory", emb, "--bins", "3", "--coordinate", "2", "--out",
                        tmp_path / "t", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "t" / "psi2_bins.csv").is_file() and (tmp_path / "t" / "psi1_bins.csv")
