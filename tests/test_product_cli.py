"""``conformap factorize`` end to end on small inputs."""

import json

import numpy as np
import pytest

from conformap.cli import main
from conformap.datasets import make_rectangle


@pytest.fixture(scope="module")
def rect_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rect")
    X, t = make_rectangle(900, rng=0)
    np.save(d / "points.npy", X)
    with open(d / "truth.csv", "w") as fh:
        fh.write("name,x,y\n")
        for i, (x, y) in enumerate(zip(t["x"], t["y"], strict=True)):
            fh.write(f"{i},{x},{y}\n")
    np.savetxt(d / "points.csv", X, delimiter=",", header="a,b,c", comments="")
    return d


def test_factorize_npy_with_labels(rect_files, capsys):
    out = rect_files / "out" / "rect"
    out.parent.mkdir()
    rc = main(["factorize", str(rect_files / "points.npy"), "-N", "20",
               "--labels", str(rect_files / "truth.csv"), "--out", str(out)])
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert len(summary["factors"]) == 2
    assert all(isinstance(c, int) and c >= 1 for f in summary["factors"] for c in f)
    assert summary["triplets"]
    assert len(summary["scores"]) == len(summary["triplets"])
    with np.load(out.with_suffix(".npz")) as z:
        assert z["eigenvectors"].shape == (900, 21)
        np.testing.assert_allclose(z["eigenvectors"][:, 0], 1.0)
        assert z["eigenvalues"].shape == (21,)
        assert z["separability"].shape == (21, 21)
    for suffix in ("_factors.png", "_separability.png", "_embeddings.png"):
        assert (out.parent / f"rect{suffix}").stat().st_size > 1000
    assert "2 factors" in capsys.readouterr().out
    assert summary["n_factors"] == 2
    assert [len(c) for c in summary["confidence"]] == [len(f) for f in summary["factors"]]
    assert all(0 <= v <= 1 for c in summary["confidence"] for v in c)


def test_factorize_circle_reports_one_factor(tmp_path, capsys):
    t = np.random.default_rng(0).uniform(0, 2 * np.pi, 700)
    np.save(tmp_path / "circle.npy", np.column_stack([np.cos(t), np.sin(t)]))
    rc = main(["factorize", str(tmp_path / "circle.npy"), "-N", "15",
               "--out", str(tmp_path / "circ")])
    assert rc == 0
    summary = json.loads((tmp_path / "circ.json").read_text())
    assert summary["n_factors"] == 1
    assert summary["message"].startswith("1 factor")
    assert len(summary["confidence"][0]) == 15
    assert "do not look like a product" in capsys.readouterr().out


def test_factorize_csv_explicit_parameters(rect_files):
    out = rect_files / "csv_out"
    rc = main(["factorize", str(rect_files / "points.csv"), "-N", "20", "--delta", "2.0",
               "--gamma", "0.8", "--out", str(out)])
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["delta"] == 2.0
    assert summary["gamma"] == 0.8


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--gamma", "1.5"], "gamma"),
     (["--delta", "-2"], "delta")],
)
def test_bad_arguments_rejected_by_parser(rect_files, args, message, capsys):
    with pytest.raises(SystemExit):
        main(["factorize", str(rect_files / "points.npy"), "--out", "x", *args])
    assert message in capsys.readouterr().err


def test_bad_inputs_clear_message(rect_files, tmp_path, capsys):
    rc = main(["factorize", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "no such file" in capsys.readouterr().err
    np.save(tmp_path / "flat.npy", np.arange(10.0))
    rc = main(["factorize", str(tmp_path / "flat.npy"), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "shape (n, d)" in capsys.readouterr().err
    rc = main(["factorize", str(rect_files / "points.npy"), "-N", "2", "--out",
               str(tmp_path / "o")])
    assert rc == 2
    assert "n_eigenvectors" in capsys.readouterr().err
    rc = main(["factorize", str(rect_files / "points.npy"), "--hierarchical", "--out",
               str(tmp_path / "o")])
    assert rc == 2
    assert "--factors 3" in capsys.readouterr().err


def test_factorize_precomputed_distances(tmp_path):
    from conformap import pairwise_distances

    X, _ = make_rectangle(500, rng=1)
    np.save(tmp_path / "d.npy", pairwise_distances(X, metric="l2"))
    out = tmp_path / "pre"
    rc = main(["factorize", str(tmp_path / "d.npy"), "--metric", "precomputed", "-N", "15",
               "--gamma", "0.7", "--out", str(out)])
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["n_items"] == 500
    assert len(summary["factors"]) == 2


@pytest.mark.parametrize("tol", [0.0, 0.05])
def test_factorize_unmix_flag_equals_the_api(rect_files, tol):
    """``--unmix TOL`` is ``factorize(..., unmix=TOL)`` on the same points and seed."""
    from conformap.product import factorize

    out = rect_files / f"unmix_out{round(tol * 100)}"
    rc = main(["factorize", str(rect_files / "points.npy"), "-N", "20", "--unmix", str(tol),
               "--out", str(out)])
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["params"]["unmix"] == tol
    ref = factorize(np.load(rect_files / "points.npy"), n_eigenvectors=20, unmix=tol, rng=0)
    assert summary["factors"] == [[int(c) for c in f] for f in ref.factors]
    with np.load(out.with_suffix(".npz")) as z:
        np.testing.assert_allclose(z["eigenvectors"], ref.eigenvectors)


def test_factorize_unmix_rejects_bad_tolerance(rect_files, capsys):
    with pytest.raises(SystemExit):
        main(["factorize", str(rect_files / "points.npy"), "--out", "x", "--unmix", "-0.1"])
    assert "unmix" in capsys.readouterr().err


def test_factorize_unmix_default_is_the_library_default(rect_files):
    """No ``--unmix``: the CLI, the function and the estimator all use DEFAULT_UNMIX."""
    import inspect

    from conformap.product import (
        DEFAULT_UNMIX,
        ProductManifoldFactorizer,
        factorize,
        factorize_spectrum,
    )

    for fn in (factorize, factorize_spectrum, ProductManifoldFactorizer.__init__):
        assert inspect.signature(fn).parameters["unmix"].default == DEFAULT_UNMIX
    out = rect_files / "default_unmix_out"
    assert main(["factorize", str(rect_files / "points.npy"), "-N", "20", "--out", str(out),
                 "--quiet"]) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["params"]["unmix"] == DEFAULT_UNMIX
    ref = factorize(np.load(rect_files / "points.npy"), n_eigenvectors=20, rng=0)
    assert summary["factors"] == [f.tolist() for f in ref.factors]


def test_factorize_harmonics_and_clean_products_reach_the_library(rect_files, tmp_path):
    # the two switches (harmonics on by default, clean_products off): the CLI and the
    # estimator give factorize's result
    from conformap.product import ProductManifoldFactorizer, factorize

    X = np.load(rect_files / "points.npy")
    out = tmp_path / "hc"
    rc = main(["factorize", str(rect_files / "points.npy"), "-N", "20", "--harmonics",
               "--clean-products", "--seed", "0", "--out", str(out)])
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["params"]["harmonics"] and summary["params"]["clean_products"]
    lib = factorize(X, n_eigenvectors=20, harmonics=True, clean_products=True, rng=0)
    assert summary["factors"] == [f.tolist() for f in lib.factors]
    est = ProductManifoldFactorizer(20, harmonics=True, clean_products=True,
                                    random_state=0).fit(X)
    assert [f.tolist() for f in est.factors_] == summary["factors"]


def test_factorize_no_harmonics_turns_the_default_off(rect_files, tmp_path):
    from conformap.product import DEFAULT_HARMONICS, factorize

    assert DEFAULT_HARMONICS  # diagnosis.md section 12
    out = tmp_path / "nh"
    rc = main(["factorize", str(rect_files / "points.npy"), "-N", "20", "--no-harmonics",
               "--seed", "0", "--out", str(out)])
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["params"]["harmonics"] is False
    lib = factorize(np.load(rect_files / "points.npy"), n_eigenvectors=20, harmonics=False,
                    rng=0)
    assert summary["factors"] == [f.tolist() for f in lib.factors]
