"""Reading every input format, refusing bad files by name, writing atomically (conformap.io)."""

from __future__ import annotations

import numpy as np
import pytest

from conformap.cli import main
from conformap.io import (
    InputError,
    read_metadata_column,
    read_stack,
    write_csv,
    write_mrc,
    write_npz,
)


def blobs(n=4, shape=(8, 9, 10), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 1.0, size=(n, *shape)).astype(np.float32)


@pytest.fixture
def mrc_dir(tmp_path):
    d = tmp_path / "maps"
    for i, m in enumerate(blobs()):
        write_mrc(d / f"m{i}.mrc", m, voxel_size=(1.5, 2.0, 2.5), origin=(-3.0, 4.0, 5.5))
    return d


def test_directory_glob_and_voxel_size_origin_round_trip(mrc_dir):
    st = read_stack(mrc_dir)
    np.testing.assert_array_equal(st.data, blobs())
    assert st.names == [f"m{i}.mrc" for i in range(4)]
    assert st.voxel_size == pytest.approx((1.5, 2.0, 2.5))  # (z, y, x)
    assert st.origin == pytest.approx((-3.0, 4.0, 5.5))
    st2 = read_stack(str(mrc_dir / "m[13].mrc"))
    assert st2.names == ["m1.mrc", "m3.mrc"]
    np.testing.assert_array_equal(st2.data, blobs()[[1, 3]])
    st3 = read_stack([mrc_dir / "m2.mrc", mrc_dir / "m0.mrc"])
    assert st3.names == ["m2.mrc", "m0.mrc"]


def test_mrcs_stack_npy_npz(tmp_path):
    imgs = blobs(5, (6, 7))
    write_mrc(tmp_path / "s.mrcs", imgs)
    st = read_stack(tmp_path / "s.mrcs")
    assert st.names == [f"s.mrcs:{i}" for i in range(5)]
    assert len(st.voxel_size) == 2  # (y, x) of the images
    np.testing.assert_array_equal(st.data, imgs)
    np.save(tmp_path / "a.npy", imgs.astype(np.float64))
    np.testing.assert_allclose(read_stack(tmp_path / "a.npy").data, imgs)
    np.savez(tmp_path / "b.npz", densities=imgs, other=np.zeros(3))
    np.testing.assert_array_equal(read_stack(tmp_path / "b.npz").data, imgs)
    np.savez(tmp_path / "c.npz", only=imgs)
    np.testing.assert_array_equal(read_stack(tmp_path / "c.npz").data, imgs)
    np.savez(tmp_path / "d.npz", x1=imgs, x2=imgs)
    with pytest.raises(InputError, match=r"d\.npz.*name the array 'densities'"):
        read_stack(tmp_path / "d.npz")


def test_a_stack_converts_to_its_array_and_fits(tmp_path):
    from conformap import DiffusionMap

    imgs = blobs(30, (6, 7), seed=1)
    write_mrc(tmp_path / "s.mrcs", imgs)
    st = read_stack(tmp_path / "s.mrcs")
    assert len(st) == 30
    assert np.shares_memory(np.asarray(st), st.data)  # no copy unless asked
    copied = np.array(st, dtype=np.float64)
    assert copied.dtype == np.float64 and not np.shares_memory(copied, st.data)
    a = DiffusionMap(metric="euclidean", random_state=0).fit(st).embedding_
    b = DiffusionMap(metric="euclidean", random_state=0).fit(st.data).embedding_
    np.testing.assert_allclose(a, b, atol=1e-5)  # float32 data, converted on either path


def test_different_shapes_name_both_files(tmp_path):
    write_mrc(tmp_path / "a.mrc", blobs(1)[0])
    write_mrc(tmp_path / "b.mrc", blobs(1, (8, 9, 11))[0])
    with pytest.raises(InputError, match=r"b\.mrc: shape \(8, 9, 11\) differs from a\.mrc: "
                                         r"shape \(8, 9, 10\)"):
        read_stack(tmp_path)


def test_different_voxel_sizes_name_both_files(tmp_path):
    write_mrc(tmp_path / "a.mrc", blobs(1)[0], voxel_size=1.0)
    write_mrc(tmp_path / "b.mrc", blobs(1)[0], voxel_size=2.0)
    with pytest.raises(InputError, match=r"b\.mrc: voxel size .* differs from a\.mrc"):
        read_stack(tmp_path)


@pytest.mark.parametrize("keep", [0, 100, 1024, 1500])
def test_truncated_mrc_names_the_file(mrc_dir, keep):
    p = mrc_dir / "m2.mrc"
    p.write_bytes(p.read_bytes()[:keep])
    with pytest.raises(InputError, match=r"m2\.mrc: not a readable MRC file.*truncated"):
        read_stack(mrc_dir)


def test_garbage_with_mrc_suffix(tmp_path):
    (tmp_path / "x.mrc").write_bytes(b"hello" * 300)
    with pytest.raises(InputError, match=r"x\.mrc: not a readable MRC file"):
        read_stack(tmp_path / "x.mrc")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mrcfile header stats of NaN/inf maps
@pytest.mark.parametrize(
    ("value", "match"),
    [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (0.0, "all zero"),
     (-1.0, "total mass .* not positive")],
)
def test_bad_map_values_name_the_file(mrc_dir, value, match):
    m = blobs()[1]
    if value in (0.0, -1.0):
        m = np.zeros_like(m) if value == 0.0 else -m
    else:
        m[3, 4, 5] = value
    write_mrc(mrc_dir / "m1.mrc", m, voxel_size=(1.5, 2.0, 2.5))
    with pytest.raises(InputError, match=rf"m1\.mrc: .*{match}"):
        read_stack(mrc_dir)


def test_bad_item_inside_an_array_names_the_index(tmp_path):
    x = blobs(3, (5, 5))
    x[2, 1, 1] = np.nan
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(InputError, match=r"x\.npy:2: 1 voxel\(s\) are NaN"):
        read_stack(tmp_path / "x.npy")


@pytest.mark.parametrize("shape", [(7,), (2, 2, 2, 2, 2)])
def test_wrong_dimensionality(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.ones(shape))
    with pytest.raises(InputError, match=r"x\.npy: expected an array of shape \(n, \.\.\.\)"):
        read_stack(tmp_path / "x.npy")


def test_missing_paths_and_unsupported_types(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        read_stack(tmp_path / "nope.mrc")
    with pytest.raises(InputError, match="the pattern matches no file"):
        read_stack(str(tmp_path / "*.mrc"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"directory holds no .mrc"):
        read_stack(tmp_path / "empty")
    (tmp_path / "t.tif").write_bytes(b"II*\0")
    with pytest.raises(InputError, match=r"t\.tif: unsupported file type '\.tif'"):
        read_stack(tmp_path / "t.tif")
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    with pytest.raises(InputError, match="not numeric"):
        read_stack(tmp_path / "s.npy")


def test_metadata_join_by_name_and_order(tmp_path):
    names = ["m0.mrc", "m1.mrc", "stack.mrcs:2"]
    write_csv(tmp_path / "gt.csv", ["name", "angle"],
              [("stack.mrcs:2", 30), ("dir/m1.mrc", 20), ("m0.mrc", 10)])
    np.testing.assert_array_equal(read_metadata_column(f"{tmp_path / 'gt.csv'}:angle", names),
                                  [10, 20, 30])
    write_csv(tmp_path / "ord.csv", ["id", "v"], [("a", 1), ("b", 2), ("c", 3)])
    np.testing.assert_array_equal(read_metadata_column(f"{tmp_path / 'ord.csv'}:v", names),
                                  [1, 2, 3])
    with pytest.raises(InputError, match=r"no column 'nope'; columns are \['name', 'angle'\]"):
        read_metadata_column(f"{tmp_path / 'gt.csv'}:nope", names)
    write_csv(tmp_path / "txt.csv", ["name", "angle"], [(n, "abc") for n in names])
    with pytest.raises(InputError, match="not numeric"):
        read_metadata_column(f"{tmp_path / 'txt.csv'}:angle", names)
    with pytest.raises(InputError, match=r"no row for items \['x.mrc'\]"):
        read_metadata_column(f"{tmp_path / 'gt.csv'}:angle", ["m0.mrc", "x.mrc"])
    with pytest.raises(InputError, match=r"FILE.csv:COLUMN"):
        read_metadata_column("gt.csv", names)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    target = tmp_path / "out.npz"

    def boom(fh, **arrays):
        fh.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        write_npz(target, a=np.ones(3))
    assert list(tmp_path.iterdir()) == []


def test_successful_write_replaces_atomically(tmp_path):
    target = write_npz(tmp_path / "out.npz", a=np.arange(3))
    write_npz(target, a=np.arange(4))
    with np.load(target) as z:
        np.testing.assert_array_equal(z["a"], np.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def test_cli_embed_bad_input_exits_2_and_writes_nothing(mrc_dir, tmp_path, capsys):
    p = mrc_dir / "m3.mrc"
    p.write_bytes(p.read_bytes()[:1100])
    rc = main(["embed", str(mrc_dir), "--out", str(tmp_path / "emb"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("conformap embed: error: ")
    assert "m3.mrc" in err
    assert not list(tmp_path.glob("emb*"))


def test_cli_embed_too_few_items_for_components(mrc_dir, tmp_path, capsys):
    rc = main(["embed", str(mrc_dir), "--out", str(tmp_path / "emb"), "--quiet",
               "--n-components", "5"])
    assert rc == 2
    assert "--n-components 5: needs at least 7 items, got 4" in capsys.readouterr().err
    assert not list(tmp_path.glob("emb*"))


def test_cli_embed_records_voxel_size_and_origin(mrc_dir, tmp_path):
    import json

    assert main(["embed", str(mrc_dir), "--out", str(tmp_path / "e"), "--quiet",
                 "--n-components", "1"]) == 0
    with np.load(tmp_path / "e.npz") as z:
        params = json.loads(str(z["params"]))
    assert params["voxel_size"] == pytest.approx([1.5, 2.0, 2.5])
    assert params["origin"] == pytest.approx([-3.0, 4.0, 5.5])


def _two_clusters(path):
    x = np.zeros((8, 64))
    for i, p in enumerate([5, 6, 7, 8, 50, 51, 52, 53]):
        x[i, p] = 1.0
        x[i, p + 1] = 0.5
    np.save(path, x)
    return x


@pytest.mark.parametrize(
    ("bandwidth", "match"),
    [("14", "falls apart into 2 disconnected pieces"),
     ("1e9", "makes every affinity (numerically) one"),
     ("1e-9", "makes every affinity (numerically) zero")],
)
def test_cli_bad_graphs_exit_2(tmp_path, capsys, bandwidth, match):
    from conformap import pairwise_distances, wemd_embedding

    x = _two_clusters(tmp_path / "x.npy")
    d = pairwise_distances(wemd_embedding(x))
    # sigma = 14 links neighbours within each cluster and cuts the clusters apart.
    steps = np.concatenate([np.diag(d, 1)[:3], np.diag(d, 1)[4:]])
    assert np.exp(-steps.max() ** 2 / (2 * 14**2)) > 0.1
    assert np.exp(-d[:4, 4:].min() ** 2 / (2 * 14**2)) < 1e-12
    rc = main(["embed", str(tmp_path / "x.npy"), "--out", str(tmp_path / "e"), "--quiet",
               "--bandwidth", bandwidth, "--n-components", "1"])
    assert rc == 2
    assert match in capsys.readouterr().err
    assert not list(tmp_path.glob("e.*"))


def test_image_voxel_size_and_origin_round_trip(tmp_path):
    img = blobs(1, (6, 7))[0]
    write_mrc(tmp_path / "a.mrc", img, voxel_size=(1.25, 3.0), origin=(2.0, -1.0))
    st = read_stack(tmp_path / "a.mrc")
    assert st.data.shape == (1, 6, 7)
    assert st.voxel_size == pytest.approx((1.25, 3.0))
    assert st.origin == pytest.approx((2.0, -1.0))
    write_mrc(tmp_path / "b.mrc", img, voxel_size=st.voxel_size, origin=st.origin)
    assert read_stack(tmp_path / "b.mrc").voxel_size == pytest.approx((1.25, 3.0))
    with pytest.raises(ValueError, match="voxel_size: expected a number or"):
        write_mrc(tmp_path / "c.mrc", img, voxel_size=(1.0, 2.0, 3.0, 4.0))
    assert not (tmp_path / "c.mrc").exists()


def test_mixed_inputs_keep_their_order(mrc_dir, tmp_path):
    extra = blobs(2, seed=5)
    np.save(tmp_path / "more.npy", extra)
    st = read_stack([mrc_dir / "m1.mrc", tmp_path / "more.npy", mrc_dir / "m0.mrc"])
    assert st.names == ["m1.mrc", "more.npy:0", "more.npy:1", "m0.mrc"]
    np.testing.assert_array_equal(st.data, np.stack([blobs()[1], *extra, blobs()[0]]))


def test_metadata_table_is_the_one_reader(tmp_path):
    """embed's FILE:COLUMN and report's bare FILE read the same table the same way."""
    from conformap.io import read_metadata_table
    from conformap.report import metadata_columns

    names = ["a.mrc", "b.mrc"]
    (tmp_path / "t.csv").write_text("name,x,label,y\nb.mrc,2,bb,5\na.mrc,1,aa\n")
    table = read_metadata_table(tmp_path / "t.csv", names)
    assert sorted(table) == ["x", "y"]  # "label" is not numeric; a missing field is NaN
    np.testing.assert_array_equal(table["x"], [1, 2])
    np.testing.assert_array_equal(table["y"], [np.nan, 5])
    cols, col = metadata_columns(str(tmp_path / "t.csv"), names)
    assert col is None and cols.keys() == table.keys()
    np.testing.assert_array_equal(read_metadata_column(f"{tmp_path / 't.csv'}:x", names),
                                  cols["x"])
    with pytest.raises(InputError, match="column 'label' is not numeric"):
        metadata_columns(f"{tmp_path / 't.csv'}:label", names)
