"""The command line end to end on small inputs, including bad inputs (exit 2, no partial output)."""

from __future__ import annotations

import numpy as np
import pytest

from conformap.cli import main


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim") / "rotor"
    assert (
        main(
            [
                "simulate",
                "--out",
                str(d),
                "-n",
                "16",
                "--noise",
                "0.1",
                "--shape",
                "20",
                "32",
                "20",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    return d


def test_simulate_writes_maps_and_ground_truth(simulated):
    import mrcfile

    files = sorted(simulated.glob("*.mrc"))
    assert len(files) == 16
    assert mrcfile.read(files[0]).shape == (20, 32, 20)
    lines = (simulated / "ground_truth.csv").read_text().splitlines()
    assert lines[0] == "name,angle_deg" and len(lines) == 17


def test_simulate_refuses_to_overwrite(simulated, capsys):
    code, _, err = run(["simulate", "--out", simulated, "-n", "2"], capsys)
    assert code == 2 and "not empty" in err and "--overwrite" in err


def test_embed_end_to_end_with_color(simulated, tmp_path, capsys):
    out = tmp_path / "emb"
    code, stdout, err = run(
        [
            "embed",
            simulated,
            "--out",
            out,
            "--color-by",
            f"{simulated / 'ground_truth.csv'}:angle_deg",
            "--cyclic",
            "--quiet",
            "--negative",
            "keep",
        ],
        capsys,
    )
    assert code == 0, err
    z = np.load(out.with_suffix(".npz"))
    assert z["embedding"].shape == (16, 2)
    assert z["eigenvalues"][0] == pytest.approx(1.0)
    assert list(z["names"]) == [f"rotor_{i:04d}.mrc" for i in range(16)]
    assert float(z["bandwidth"]) > 0
    assert out.with_suffix(".csv").read_text().startswith("name,psi1,psi2")
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "embedded 16 items" in stdout


def test_embed_euclidean_on_npy(tmp_path, capsys):
    X = np.random.default_rng(0).random((30, 8, 8))
    np.save(tmp_path / "x.npy", X)
    code, _, err = run(
        [
            "embed",
            tmp_path / "x.npy",
            "--metric",
            "euclidean",
            "--out",
            tmp_path / "o.npz",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    assert np.load(tmp_path / "o.npz")["embedding"].shape == (30, 2)


def _no_outputs(stem):
    return not any(stem.parent.glob(stem.name + "*"))


def _write(path, data):
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data)
    elif data is not None:
        np.save(path, data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("missing.mrc", None, "no such file"),
        ("trunc.mrc", b"\x00" * 100, "not a readable MRC"),
        ("nan.npy", np.r_[np.ones((3, 9)), [[np.nan] * 9]], "nan.npy:3"),
        ("zero.npy", np.r_[np.ones((3, 9)), np.zeros((1, 9))], "zero.npy:3: the map is all zero"),
        ("one.npy", np.ones(9), "item per row"),
        ("x.txt", "hi", "unsupported file type"),
    ],
)
def test_bad_inputs_exit_2_with_message_and_no_output(tmp_path, capsys, name, data, message):
    src = _write(tmp_path / name, data)
    stem = tmp_path / "emb"
    code, _, err = run(["embed", src, "--out", stem, "--quiet"], capsys)
    assert code == 2
    assert message in err
    assert _no_outputs(stem)


def test_mismatched_shapes_name_both_files(tmp_path, capsys):
    import mrcfile

    mrcfile.write(tmp_path / "a.mrc", np.ones((4, 5, 6), np.float32))
    mrcfile.write(tmp_path / "b.mrc", np.ones((4, 5, 7), np.float32))
    code, _, err = run(["embed", tmp_path, "--out", tmp_path / "o", "--quiet"], capsys)
    assert code == 2 and "a.mrc" in err and "b.mrc" in err and "(4, 5, 7)" in err


def test_bad_color_column_fails_before_computing(simulated, tmp_path, capsys):
    code, _, err = run(
        [
            "embed",
            simulated,
            "--out",
            tmp_path / "o",
            "--quiet",
            "--color-by",
            f"{simulated / 'ground_truth.csv'}:nope",
        ],
        capsys,
    )
    assert code == 2 and "no column 'nope'" in err
    assert _no_outputs(tmp_path / "o")


def test_disconnected_graph_is_reported(tmp_path, capsys):
    X = (
        1
        + np.r_[
            np.random.default_rng(0).normal(0, 0.01, (10, 4)),
            np.random.default_rng(1).normal(100, 0.01, (10, 4)),
        ]
    )
    np.save(tmp_path / "x.npy", X)
    code, _, err = run(
        [
            "embed",
            tmp_path / "x.npy",
            "--metric",
            "euclidean",
            "--bandwidth",
            "0.5",
            "--out",
            tmp_path / "o",
            "--quiet",
        ],
        capsys,
    )
    assert code == 2 and "disconnected" in err


def test_bad_option_values_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["embed", "x.npy", "--out", "o", "--bandwidth", "-1"])
    assert exc.value.code == 2


def test_abbreviated_options_are_refused_and_nothing_is_written(tmp_path, capsys):
    # argparse's prefix matching read `simulate-particles --n 600` as `--noise 600`
    out = tmp_path / "p"
    with pytest.raises(SystemExit) as exc:
        main(["simulate-particles", "--out", str(out), "--no", "0.1", "--quiet"])
    assert exc.value.code == 2 and "unrecognized arguments: --no" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit) as exc:
        main(["embed", "x.npy", "--out", "o", "--bandw", "1"])
    assert exc.value.code == 2


def test_simulate_particles_takes_n_as_a_long_option(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["simulate-particles", "--out", str(out), "--n", "12", "--quiet"]) == 0
    lines = (out / "ground_truth.csv").read_text().splitlines()
    assert len(lines) == 13  # header + 12 particles, with the default noise
    assert "12 particles" in capsys.readouterr().out


def test_demo_small(tmp_path, capsys):
    code, out, err = run(["demo", "--out", tmp_path / "demo", "--sizes", "16"], capsys)
    assert code == 0, err
    assert (tmp_path / "demo" / "summary.png").is_file()
    table = (tmp_path / "demo" / "recovery.csv").read_text().splitlines()
    assert len(table) == 1 + 4  # clean/noisy x wemd/euclidean
    assert "median angular error" in out
    md = (tmp_path / "demo" / "recovery.md").read_text()
    for column in table[0].split(","):  # every column of the table is defined under it
        assert f"**{column}**" in md
    assert "Why circ_corr and geometry_corr can disagree" in md


@pytest.mark.slow
def test_reproduce_earthmover_small(tmp_path, capsys):
    code, out, err = run(
        [
            "reproduce",
            "earthmover",
            "--out",
            tmp_path / "em",
            "--sizes",
            "12",
            "20",
            "--seeds",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    for name in (
        "fig3_distance_vs_angle.png",
        "fig4_timings.png",
        "fig5_embeddings.png",
        "tables.md",
        "results.json",
    ):
        assert (tmp_path / "em" / name).is_file()
    assert "Median angular recovery error" in (tmp_path / "em" / "tables.md").read_text()
    # progress: readable lines on stdout (no raw dicts), a tqdm bar of stages on stderr
    assert "[earthmover] fig3 done: distance grows" in out and "{" not in out
    assert "reproduce earthmover" in err
