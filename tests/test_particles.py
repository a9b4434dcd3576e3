"""Reading RELION STAR (3.0, 3.1) and cryoSPARC .cs particle sets (conformap.particles)."""

from __future__ import annotations

import shutil

import mrcfile
import numpy as np
import pytest
from particle_sets import blob_images, blob_rectangle_images, write_cs, write_star30, write_star31

from conformap.cli import main
from conformap.io import InputError, read_stack
from conformap.particles import read_particle_table, read_particles, write_particle_set


@pytest.fixture(scope="module")
def images():
    return blob_images(30)


def _expected_by_name(name, images):
    idx, stack = name.split("@")
    s = int(stack[-6]) - 1  # Stacks/sN.mrcs
    return images[(int(idx) - 1) * 3 + s]


def test_star31_optics_shuffled_three_stacks(tmp_path, images):
    imgs, ang = images
    star = write_star31(tmp_path, imgs, ang)
    st = read_stack(str(star))
    text_rows = [ln.split()[0] for ln in star.read_text().splitlines() if "@Stacks" in ln]
    assert st.names == text_rows  # the table's row order, named by rlnImageName
    assert st.voxel_size == (2.5, 2.5)  # from the optics block
    for name, item in zip(st.names, st.data, strict=True):
        np.testing.assert_array_equal(item, _expected_by_name(name, imgs))


def test_each_stack_is_opened_once(tmp_path, images, monkeypatch):
    imgs, ang = images
    star = write_star31(tmp_path, imgs, ang)
    calls = []
    real = mrcfile.mmap
    monkeypatch.setattr(mrcfile, "mmap", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    read_particles(star)
    assert len(calls) == 3 and len(set(calls)) == 3


def test_star30_without_optics(tmp_path, images):
    imgs, _ = images
    st = read_stack(write_star30(tmp_path, imgs))
    np.testing.assert_array_equal(st.data, imgs)
    assert st.voxel_size == (2.5, 2.5)  # 5 µm detector pixel / 20000x
    assert st.names[0] == "000001@all.mrcs"


def test_cs_file(tmp_path, images):
    imgs, _ = images
    cs = write_cs(tmp_path, imgs)
    arr = np.load(cs)
    st = read_stack(cs)
    half = len(imgs) // 2
    for row, item in zip(arr, st.data, strict=True):
        i = int(row["blob/idx"]) + (half if b"/b_" in row["blob/path"] else 0)
        np.testing.assert_array_equal(item, imgs[i])
    assert st.names[0].endswith("@J1/imported/" + arr[0]["blob/path"].decode()[13:])
    assert st.names[0].split("@")[0] == f"{int(arr[0]['blob/idx']) + 1:06d}"
    assert st.voxel_size == pytest.approx((1.7, 1.7))


def test_datadir(tmp_path, images):
    imgs, ang = images
    star = write_star31(tmp_path / "a", imgs, ang)
    moved = tmp_path / "elsewhere"
    shutil.move(str(tmp_path / "a" / "Stacks"), str(moved / "Stacks"))
    with pytest.raises(InputError, match="pass --datadir"):
        read_stack(star)
    st = read_stack(star, datadir=moved)
    assert len(st.names) == len(imgs)
    st2 = read_stack(star, datadir=moved / "Stacks")  # file names alone also found
    np.testing.assert_array_equal(st.data, st2.data)


def test_missing_index_names_the_row(tmp_path, images):
    imgs, ang = images
    star = write_star31(tmp_path, imgs, ang)
    text = star.read_text().replace("000010@Stacks/s1.mrcs", "000011@Stacks/s1.mrcs", 1)
    star.write_text(text)
    row = [ln.split()[0] for ln in text.splitlines() if "@Stacks" in ln].index(
        "000011@Stacks/s1.mrcs") + 1
    with pytest.raises(InputError, match=rf"particle row {row} .*image 11 does not exist.*holds 10"):
        read_stack(star)


def test_missing_file_and_mixed_boxes_and_bad_names(tmp_path, images):
    imgs, ang = images
    star = write_star31(tmp_path / "m", imgs, ang)
    (tmp_path / "m" / "Stacks" / "s2.mrcs").unlink()
    with pytest.raises(InputError, match=r"particle row \d+ \('0000\d\d@Stacks/s2.mrcs'\): stack "
                       "file 'Stacks/s2.mrcs' not found"):
        read_stack(star)
    star = write_star31(tmp_path / "b", imgs, ang, box_override=20)
    with pytest.raises(InputError, match=r"are 20 x 20 but row \d+ .* is 24 x 24; all particles "
                       "must share one box"):
        read_stack(star)
    bad = tmp_path / "b" / "bad.star"
    bad.write_text(star.read_text().replace("000001@Stacks/s1.mrcs", "0@Stacks/s1.mrcs"))
    with pytest.raises(InputError, match="is not 'index@stack' with a 1-based index"):
        read_stack(bad)


def test_cli_embed_and_factorize_read_star(tmp_path, images, capsys):
    imgs, ang = images
    star = write_star31(tmp_path, imgs, ang)
    assert main(["embed", str(star), "--out", str(tmp_path / "emb"), "--quiet"]) == 0
    with np.load(tmp_path / "emb.npz") as z:
        assert list(z["names"]) == read_particle_table(star).names
        assert z["thumbnails"].shape == (30, 24, 24)
    prod = write_particle_set(blob_rectangle_images(), tmp_path / "prod", rng=1)
    assert main(["factorize", str(prod), "--out", str(tmp_path / "fac"), "-N", "10",
                 "--pca", "4"]) == 0
    with np.load(tmp_path / "fac.npz") as z:
        assert list(z["names"]) == read_particle_table(prod).names
    (tmp_path / "Stacks" / "s3.mrcs").unlink()
    assert main(["embed", str(star), "--out", str(tmp_path / "e2"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "particle row" in err and "Stacks/s3.mrcs" in err and "--datadir" in err
    assert not (tmp_path / "e2.npz").exists()


def test_write_particle_set_round_trip(tmp_path, images):
    imgs, _ = images
    star = write_particle_set(imgs, tmp_path, pixel_size=1.25, rng=3, relion="3.1")
    st = read_stack(star)
    from conformap.particles import particle_set_names

    pos = {n: i for i, n in enumerate(particle_set_names(len(imgs)))}
    np.testing.assert_array_equal(st.data, imgs[[pos[n] for n in st.names]])
    assert st.voxel_size == (1.25, 1.25)


def test_color_by_joins_on_full_image_names(tmp_path):
    """rlnImageName values share file names (stack.mrcs): the join must use the whole name."""
    from conformap.io import read_metadata_column

    names = ["000002@Stacks/s1.mrcs", "000001@Stacks/s1.mrcs", "000001@Stacks/s2.mrcs"]
    csv = tmp_path / "t.csv"
    csv.write_text("name,v\n000001@Stacks/s1.mrcs,1\n000001@Stacks/s2.mrcs,2\n"
                   "000002@Stacks/s1.mrcs,3\n")
    np.testing.assert_array_equal(read_metadata_column(f"{csv}:v", names), [3, 1, 2])


@pytest.mark.parametrize("relion", ["3.1", "3.0"])
def test_simulate_particles_cli(tmp_path, capsys, relion):
    out = tmp_path / "p"
    assert main(["simulate-particles", "--out", str(out), "-n", "12", "--relion", relion,
                 "--pixel-size", "2"]) == 0
    st = read_stack(out / "particles.star")
    assert st.data.shape == (12, 40, 40) and st.voxel_size == (2.0, 2.0)
    truth = (out / "ground_truth.csv").read_text().splitlines()
    assert truth[0] == "name,angle_deg" and [r.split(",")[0] for r in truth[1:]] == st.names
    assert main(["simulate-particles", "--out", str(out), "-n", "12"]) == 2  # never overwrites
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err
