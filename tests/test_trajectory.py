"""conformap trajectory: kernel averages along a coordinate, MRC series + ChimeraX, montages."""

from __future__ import annotations

import warnings

import mrcfile
import numpy as np
import pytest

from conformap.cli import main
from conformap.io import write_mrc
from conformap.trajectory import bin_weights, kernel_average


def test_bin_weights_and_average_are_the_kernel_means():
    rng = np.random.default_rng(0)
    psi = rng.uniform(-1, 1, 500)
    centres, w, n_eff = bin_weights(psi, 5, width=0.5)
    lo, hi = np.quantile(psi, [0.02, 0.98])
    np.testing.assert_allclose(centres, np.linspace(lo, hi, 5))
    h = 0.5 * (centres[1] - centres[0])
    ref = np.exp(-((psi[None] - centres[:, None]) ** 2) / (2 * h * h))
    np.testing.assert_allclose(w, ref / ref.sum(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(n_eff, ref.sum(1) ** 2 / (ref**2).sum(1), rtol=1e-12)
    data = rng.random((500, 3, 4, 5)).astype(np.float32)
    avg = kernel_average(data, w, chunk=64)  # chunked = direct
    np.testing.assert_allclose(avg, np.einsum("bn,nijk->bijk", w, data), rtol=1e-5)
    with pytest.raises(ValueError, match="single value"):
        bin_weights(np.ones(10), 3)


def _moving_blob_maps(folder, n=24, size=16):
    """Maps of a blob moving along x: psi1 must follow x, so the averages move too."""
    xs = np.linspace(-4, 4, n)
    zz, yy, xx = np.mgrid[:size, :size, :size] - (size - 1) / 2
    for i, x0 in enumerate(xs):
        m = np.exp(-((xx - x0) ** 2 + yy**2 + zz**2) / 4.0) + 0.01
        write_mrc(folder / f"m{i:03d}.mrc", m, voxel_size=1.5, origin=(3.0, 6.0, 9.0))
    return xs


def test_trajectory_on_maps(tmp_path, capsys):
    maps = tmp_path / "maps"
    _moving_blob_maps(maps)
    assert main(["embed", str(maps), "--out", str(tmp_path / "emb"), "--quiet",
                 "--metric", "euclidean"]) == 0
    out = tmp_path / "traj"
    assert main(["trajectory", str(tmp_path / "emb.npz"), "--coordinate", "1", "--bins", "5",
                 "--out", str(out)]) == 0
    files = sorted(out.glob("psi1_bin*.mrc"))
    assert [f.name for f in files] == [f"psi1_bin{j:02d}.mrc" for j in range(1, 6)]
    cx = []
    for f in files:
        with mrcfile.open(f) as m:
            assert m.voxel_size.x == pytest.approx(1.5)
            assert (float(m.header.origin.x), float(m.header.origin.z)) == (9.0, 3.0)
            d = m.data.astype(float) - 0.01
            cx.append((d.sum((0, 1)) * np.arange(d.shape[2])).sum() / d.sum())
    steps = np.diff(cx)
    assert (np.abs(steps) > 0.5).all() and (np.sign(steps) == np.sign(steps[0])).all()
    cxc = (out / "psi1_movie.cxc").read_text()
    assert "open " + " ".join(f.name for f in files) + " vseries true" in cxc
    assert "vseries play #1" in cxc
    assert len((out / "psi1_bins.csv").read_text().splitlines()) == 6
    # outputs are not overwritten silently; the inputs must be the embedded ones
    assert main(["trajectory", str(tmp_path / "emb.npz"), "--bins", "5", "--out",
                 str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    (maps / "m000.mrc").unlink()
    assert main(["trajectory", str(tmp_path / "emb.npz"), "--bins", "5", "--out",
                 str(tmp_path / "t2")]) == 2
    assert "do not match the 24 embedded items" in capsys.readouterr().err


def test_trajectory_on_images_writes_a_montage(tmp_path):
    from particle_sets import blob_images, write_star31

    imgs, ang = blob_images(30)
    star = write_star31(tmp_path, imgs, ang)
    assert main(["embed", str(star), "--out", str(tmp_path / "emb"), "--quiet"]) == 0
    out = tmp_path / "traj"
    from conformap._validation import ConformapWarning

    # 15 bins of 30 images: the emptiest averages fewer than 3 items, whatever the embedding;
    # 15 panels also fill one row of the montage and half of a second (was a crash)
    with pytest.warns(ConformapWarning, match="effective items"):
        assert main(["trajectory", str(tmp_path / "emb.npz"), "--coordinate", "2", "--bins",
                     "15", "--out", str(tmp_path / "thin")]) == 0
    with warnings.catch_warnings():  # 6 bins: thin or not depends on the embedding's spread
        warnings.simplefilter("ignore", ConformapWarning)
        assert main(["trajectory", str(tmp_path / "emb.npz"), "--coordinate", "2", "--bins",
                     "6", "--out", str(out)]) == 0
    with mrcfile.open(out / "psi2_averages.mrcs") as m:
        assert m.data.shape == (6, 24, 24) and m.voxel_size.x == pytest.approx(2.5)
    from PIL import Image

    with Image.open(out / "psi2_montage.png") as im:
        w, h = im.size
    assert w > 3 * h > 0  # one row of six labelled panels
