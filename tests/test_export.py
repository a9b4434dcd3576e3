"""conformap export: STAR / .cs round trips, --where, --indices, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import starfile
from particle_sets import blob_images, write_cs, write_star31

from conformap.cli import main
from conformap.export import match_rows, parse_where, read_selection
from conformap.io import InputError
from conformap.particles import read_particle_table


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    d = tmp_path_factory.mktemp("exp")
    imgs, ang = blob_images(30)
    star = write_star31(d, imgs, ang)
    cs = write_cs(d / "cs", imgs)
    assert main(["embed", str(star), "--out", str(d / "emb"), "--quiet", "--n-components",
                 "3"]) == 0
    assert main(["embed", str(cs), "--out", str(d / "embcs"), "--quiet"]) == 0
    return d, star, cs


def _raw(path):
    return starfile.read(path, always_dict=True, parse_as_string=[
        "rlnImageName", "rlnAngleRot", "rlnDefocusU", "rlnClassNumber", "rlnOpticsGroup",
        "rlnMicrographName", "rlnOpticsGroupName", "rlnImagePixelSize", "rlnImageSize",
        "rlnImageDimensionality", "rlnComment", "rlnVersionNumber", "conformapPsi1",
        "conformapPsi2", "conformapPsi3"])


def test_star_round_trip_keeps_every_value(embedded, tmp_path, capsys):
    d, star, _ = embedded
    out = tmp_path / "out.star"
    assert main(["export", str(d / "emb.npz"), "--star", str(star), "--out", str(out)]) == 0
    a, b = _raw(star), _raw(out)
    assert list(a) == list(b) == ["optics", "particles", "extra"]
    assert b["extra"] == a["extra"] == {"rlnComment": "note", "rlnVersionNumber": "0.50"}
    assert a["optics"].equals(b["optics"])
    pa, pb = a["particles"], b["particles"]
    assert list(pb.columns) == [*pa.columns, "conformapPsi1", "conformapPsi2", "conformapPsi3"]
    assert pb[pa.columns].equals(pa)  # same rows, same order, same text ("1.500000e+04")
    assert pa["rlnDefocusU"].iloc[0].endswith("e+04")
    with np.load(d / "emb.npz") as z:
        pos = {n: i for i, n in enumerate(z["names"])}
        emb = z["embedding"]
    rows = [pos[n] for n in pb["rlnImageName"]]
    np.testing.assert_allclose(pb["conformapPsi2"].astype(float), emb[rows, 1], rtol=1e-7)


def test_where_and_indices_and_overwrite(embedded, tmp_path, capsys):
    d, star, _ = embedded
    with np.load(d / "emb.npz") as z:
        names, emb = list(z["names"]), z["embedding"]
    out = tmp_path / "sel.star"
    cond = "psi1 > 0 and not (psi2 >= 0.5 or psi2 < -0.5)"
    assert main(["export", str(d / "emb.npz"), "--star", str(star), "--out", str(out),
                 "--where", cond]) == 0
    keep = (emb[:, 0] > 0) & ~((emb[:, 1] >= 0.5) | (emb[:, 1] < -0.5))
    got = starfile.read(out)["particles"]["rlnImageName"].tolist()
    table = read_particle_table(star).names
    assert got == [n for n in table if keep[names.index(n)]]  # input order, matching rows
    assert 0 < len(got) < len(names)
    # refusal without --overwrite, file unchanged
    before = out.read_bytes()
    assert main(["export", str(d / "emb.npz"), "--star", str(star), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    # --indices: indices and names, comments skipped
    sel = tmp_path / "selection.txt"
    sel.write_text(f"# from the report\n3\n0\n{names[7]}\n\n")
    assert main(["export", str(d / "emb.npz"), "--star", str(star), "--out", str(out),
                 "--indices", str(sel), "--overwrite"]) == 0
    got = starfile.read(out)["particles"]["rlnImageName"].tolist()
    assert sorted(got) == sorted([names[0], names[3], names[7]])


@pytest.mark.parametrize("expr", [
    "__import__('os').system('true')", "psi1 + 1 > 0", "psi9 > 0", "foo > 1", "psi1", "psi1 >",
    "psi1 is None", "(lambda: 1)() > 0", "psi1 > 'a'",
])
def test_where_rejects_anything_else(expr):
    with pytest.raises(InputError, match="--where"):
        parse_where(expr, 3)


def test_where_grammar():
    emb = np.array([[0.1, 0.2], [-1.0, 0.5], [2.0, -0.3]])
    f = parse_where("-0.5 < psi1 <= 2 and (psi2 < 0.3 or not psi1 != 0.1)", 2)
    np.testing.assert_array_equal(f(emb), [True, False, True])
    np.testing.assert_array_equal(parse_where("psi2 == 0.5", 2)(emb), [False, True, False])


def test_selection_errors(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("5\n")
    with pytest.raises(InputError, match=r"outside the embedding's rows 0 \.\.\. 2"):
        read_selection(p, ["a", "b", "c"])
    p.write_text("zzz\n")
    with pytest.raises(InputError, match="neither a row index nor an item name"):
        read_selection(p, ["a", "b", "c"])


def test_mismatch_by_name_is_an_error(embedded, tmp_path, capsys):
    d, star, cs = embedded
    with pytest.raises(InputError, match="have no embedding row"):
        match_rows(["x", "y"], ["x", "z"], "t.star")
    # duplicates (symmetry expansion) are matched in order of occurrence
    np.testing.assert_array_equal(match_rows(["a", "b", "a"], ["a", "a", "b"], "t"), [0, 2, 1])
    # a table that is a subset of the embedded particles is fine
    np.testing.assert_array_equal(match_rows(["c", "a"], ["a", "b", "c"], "t"), [2, 0])
    assert main(["export", str(d / "embcs.npz"), "--star", str(star), "--out",
                 str(tmp_path / "x.star")]) == 2
    assert "no embedding row with their name" in capsys.readouterr().err
    assert not (tmp_path / "x.star").exists()


def test_cs_round_trip(embedded, tmp_path):
    d, _, cs = embedded
    out = tmp_path / "out.cs"
    assert main(["export", str(d / "embcs.npz"), "--cs", str(cs), "--out", str(out),
                 "--where", "psi1 < 0"]) == 0
    a, b = np.load(cs), np.load(out)
    with np.load(d / "embcs.npz") as z:
        emb, names = z["embedding"], list(z["names"])
    keep = np.array([emb[names.index(n), 0] < 0 for n in
                     read_particle_table(cs).names])
    assert b.dtype.names == (*a.dtype.names, "conformap/psi1", "conformap/psi2")
    for f in a.dtype.names:
        np.testing.assert_array_equal(b[f], a[f][keep])
    assert (b["conformap/psi1"] < 0).all() and len(b) == keep.sum() > 0
    from conformap.export import export_cs

    with pytest.raises(InputError, match=r"must end in \.cs"):
        export_cs(emb, names, cs, tmp_path / "o.star")


def test_star30_round_trip(tmp_path):
    from particle_sets import write_star30

    imgs, _ = blob_images(12)
    star = write_star30(tmp_path, imgs)
    assert main(["embed", str(star), "--out", str(tmp_path / "e"), "--quiet"]) == 0
    out = tmp_path / "o.star"
    assert main(["export", str(tmp_path / "e.npz"), "--star", str(star), "--out", str(out)]) == 0
    cols = ["rlnImageName", "rlnDetectorPixelSize", "rlnMagnification"]
    a = starfile.read(star, parse_as_string=cols)
    b = starfile.read(out, parse_as_string=cols)
    assert b[cols].equals(a[cols]) and list(b.columns[3:]) == ["conformapPsi1", "conformapPsi2"]
    assert "data_\n" in out.read_text()  # still the single unnamed block of RELION 3.0
