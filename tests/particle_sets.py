"""Small particle sets written by the tests themselves (STAR 3.0/3.1, cryoSPARC .cs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conformap.io import write_mrc


def blob_images(n: int, size: int = 24, rng=0) -> tuple[np.ndarray, np.ndarray]:
    """Positive images of a Gaussian blob moving on a circle; (images, angles in degrees)."""
    gen = np.random.default_rng(rng)
    ang = np.sort(gen.uniform(0, 360, n))
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = size / 4
    cy, cx = r * np.sin(np.radians(ang)), r * np.cos(np.radians(ang))
    img = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / 8.0)
    img += 0.05 + 0.01 * gen.random(img.shape)
    return img.astype(np.float32), ang


def write_star31(folder, images, angles, *, rng=1, box_override=None) -> Path:
    """A RELION 3.1 STAR file written as text, with hand-formatted values.

    Three stacks, rows in shuffled order, an optics block, a simple (non-loop) block, and
    columns in several number formats (ints, fixed, exponent) that a round trip must keep.
    Returns the STAR path; the stacks are under ``folder/Stacks/``.
    """
    folder = Path(folder)
    n = len(images)
    names = []
    for s in range(3):
        members = list(range(s, n, 3))
        stack = images[members]
        if box_override is not None and s == 2:
            stack = np.zeros((len(members), box_override, box_override), np.float32) + 1
        write_mrc(folder / f"Stacks/s{s + 1}.mrcs", stack, voxel_size=2.5)
    for i in range(n):
        names.append(f"{i // 3 + 1:06d}@Stacks/s{i % 3 + 1}.mrcs")
    order = np.random.default_rng(rng).permutation(n)
    lines = [
        "# version 30001", "", "data_optics", "", "loop_",
        "_rlnOpticsGroupName #1", "_rlnOpticsGroup #2", "_rlnImagePixelSize #3",
        "_rlnImageSize #4", "_rlnImageDimensionality #5",
        "opticsGroup1 1 2.500000 24 2", "", "",
        "data_particles", "", "loop_",
        "_rlnImageName #1", "_rlnAngleRot #2", "_rlnDefocusU #3", "_rlnClassNumber #4",
        "_rlnOpticsGroup #5", "_rlnMicrographName #6",
    ]
    for i in order:
        lines.append(f"{names[i]} {angles[i]:.3f} {1.5e4 + 10 * i:.6e} {i % 4 + 1} 1 "
                     f"MotionCorr/job002/mic{i % 5:03d}.mrc")
    lines += ["", "", "data_extra", "", "_rlnComment note", "_rlnVersionNumber 0.50", ""]
    star = folder / "particles.star"
    star.write_text("\n".join(lines) + "\n")
    return star


def write_star30(folder, images) -> Path:
    """RELION 3.0: one block, no optics; pixel size from DetectorPixelSize / Magnification."""
    folder = Path(folder)
    write_mrc(folder / "all.mrcs", images, voxel_size=1.0)
    lines = ["", "data_", "", "loop_", "_rlnImageName #1", "_rlnDetectorPixelSize #2",
             "_rlnMagnification #3"]
    lines += [f"{i + 1:06d}@all.mrcs 5.000000 20000.000000" for i in range(len(images))]
    star = folder / "p30.star"
    star.write_text("\n".join(lines) + "\n")
    return star


def write_cs(folder, images, *, rng=2) -> Path:
    """A cryoSPARC-like .cs table (structured array) over two stacks, rows shuffled."""
    folder = Path(folder)
    n = len(images)
    half = n // 2
    write_mrc(folder / "J1/imported/a_particles.mrcs", images[:half], voxel_size=1.7)
    write_mrc(folder / "J1/imported/b_particles.mrcs", images[half:], voxel_size=1.7)
    dtype = [("uid", "<u8"), ("blob/path", "S40"), ("blob/idx", "<u4"),
             ("blob/shape", "<u4", (2,)), ("blob/psize_A", "<f4"), ("ctf/df1_A", "<f4")]
    arr = np.zeros(n, dtype=dtype)
    for i in range(n):
        stack = "a" if i < half else "b"
        arr[i]["uid"] = 10**15 + i
        arr[i]["blob/path"] = f">J1/imported/{stack}_particles.mrcs".encode()
        arr[i]["blob/idx"] = i if i < half else i - half
        arr[i]["blob/shape"] = images.shape[1:]
        arr[i]["blob/psize_A"] = 1.7
        arr[i]["ctf/df1_A"] = 12000.5 + i
    arr = arr[np.random.default_rng(rng).permutation(n)]
    path = folder / "J2" / "particles.cs"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.save(fh, arr)
    return path


def blob_rectangle_images(n: int = 200, size: int = 24, rng=0) -> np.ndarray:
    """A blob at independent (x, y) positions in a 12 x 5 rectangle: a product manifold."""
    gen = np.random.default_rng(rng)
    cx, cy = gen.uniform(-6, 6, n), gen.uniform(-2.5, 2.5, n)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    img = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / 8.0)
    return img.astype(np.float32)
