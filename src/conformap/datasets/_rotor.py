"""Procedural ATP-synthase-like rotor: the earthmover paper's showcase, built without downloads.

The molecule is a sum of isotropic Gaussian blobs on a (z, y, x) grid, long axis along y:

* stator (fixed): an alpha3-beta3-like ring of six large blobs near the top and a peripheral
  stalk running down one side;
* rotor (rotates about the y axis, i.e. in the plane of array axes 0 and 2): a ten-blob c-ring
  at the bottom, a central axle that bends off the axis as it rises into the ring, and an
  eccentric epsilon-like arm. The axle and the arm break the c-ring's 36-degree symmetry, so
  every rotation angle gives a different map and the conformation space is a circle.

Because blob centres are rotated analytically, rotated maps are exact (no interpolation).
A user's own map (for example the paper's ``rotating_shaft_res6.mrc``) is rotated by
:func:`rotate_map` with trilinear interpolation.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from .._validation import check_int, check_positive, check_rng

__all__ = [
    "DEFAULT_ROTOR_SHAPE",
    "make_rotor",
    "rotate_map",
    "rotor_blobs",
    "rotor_density",
    "sample_rotor_angles",
]

DEFAULT_ROTOR_SHAPE = (40, 72, 40)


def sample_rotor_angles(n: int, *, rng=None) -> np.ndarray:
    r"""Draw ``n`` angles (degrees, in [0, 360)) from the paper's mixture.

    .. math:: \tfrac25 U[0, 360] + \tfrac15 N(0, 1) + \tfrac15 N(120, 1) + \tfrac15 N(240, 1)
    """
    n = check_int(n, "n", low=1)
    gen = check_rng(rng)
    comp = gen.choice(4, size=n, p=[0.4, 0.2, 0.2, 0.2])
    uniform = gen.uniform(0.0, 360.0, size=n)
    normal = gen.normal(0.0, 1.0, size=n) + 120.0 * (comp - 1)
    return np.mod(np.where(comp == 0, uniform, normal), 360.0)


def rotor_blobs(shape) -> np.ndarray:
    """Blob table of the rotor on a grid of ``shape``, shape (n_blobs, 6).

    Columns: centre (z, y, x) relative to the grid centre (voxels, at angle 0), sigma (voxels),
    weight (peak density), rotates (1: rotor part, turns about the y axis; 0: stator).
    """
    s = shape[1] / 72.0  # geometry is designed on a 72-voxel-long box and scaled with it
    blobs = []
    # Stator: six-fold ring (alternating sizes, like alpha/beta) near the top, fixed.
    for i in range(6):
        a = np.pi / 3 * i
        r = 8.5 * s
        blobs.append(
            (r * np.cos(a), 20 * s, r * np.sin(a), (3.0 if i % 2 else 2.6) * s, 1.0, False)
        )
    # Peripheral stalk (fixed), off to one side, running down to the membrane.
    for y in np.linspace(-22, 14, 8):
        blobs.append((14.0 * s, y * s, 0.0, 1.3 * s, 0.5, False))
    # Rotor: c-ring of ten compact subunits at the bottom, far from the axis (so that, as in the
    # real F0 ring, a rotation of ~20 degrees already moves them off their own footprint).
    for i in range(10):
        a = 2 * np.pi / 10 * i
        for dy in (-2.5, 2.5):
            blobs.append(
                (12.0 * s * np.cos(a), (-24 + dy) * s, 12.0 * s * np.sin(a), 1.5 * s, 0.45, True)
            )
    # Axle: rises from the c-ring and bends off-axis inside the stator ring.
    for y, off in zip(np.linspace(-19, 21, 11), np.linspace(0.0, 4.0, 11), strict=True):
        blobs.append((off * s, y * s, 0.0, 1.6 * s, 0.8, True))
    # Epsilon-like arm: an eccentric lobe on the c-ring side of the axle.
    blobs.append((0.0, -15 * s, 6.0 * s, 2.2 * s, 1.6, True))
    blobs.append((0.0, -15 * s, 10.0 * s, 1.8 * s, 1.2, True))
    return np.array(blobs, dtype=float)


def rotor_density(angles, *, shape=DEFAULT_ROTOR_SHAPE, dtype=np.float32) -> np.ndarray:
    """Clean rotor maps at the given rotation angles (degrees); shape ``(len(angles), *shape)``.

    Densities are evaluated exactly (separable Gaussians, one outer product per blob), so the
    cost is ``n_blobs * prod(shape)`` per map.
    """
    shape = tuple(check_int(v, "shape", low=8) for v in shape)
    if len(shape) != 3:
        raise ValueError(f"shape: the rotor is 3-D; got {shape}")
    angles = np.atleast_1d(np.asarray(angles, dtype=float))
    blobs = rotor_blobs(shape)
    centre = (np.array(shape, dtype=float) - 1) / 2
    grids = [np.arange(n, dtype=float) - c for n, c in zip(shape, centre, strict=True)]
    out = np.empty((angles.size, *shape), dtype=dtype)
    moving = blobs[:, 5].astype(bool)
    for i, ang in enumerate(np.radians(angles)):
        z, y, x = blobs[:, 0].copy(), blobs[:, 1], blobs[:, 2].copy()
        c, s = np.cos(ang), np.sin(ang)
        z[moving], x[moving] = (
            c * blobs[moving, 0] - s * blobs[moving, 2],
            s * blobs[moving, 0] + c * blobs[moving, 2],
        )
        sig, w = blobs[:, 3], blobs[:, 4]
        ez = np.exp(-((grids[0][None, :] - z[:, None]) ** 2) / (2 * sig[:, None] ** 2))
        ey = np.exp(-((grids[1][None, :] - y[:, None]) ** 2) / (2 * sig[:, None] ** 2))
        ex = np.exp(-((grids[2][None, :] - x[:, None]) ** 2) / (2 * sig[:, None] ** 2))
        out[i] = np.einsum("b,bz,by,bx->zyx", w, ez, ey, ex, optimize=True)
    return out


def _add_noise(maps: np.ndarray, noise: float, reference_max: float, gen) -> np.ndarray:
    if noise:
        std = noise * reference_max
        maps += gen.normal(0.0, std, size=maps.shape).astype(maps.dtype)
    return maps


def make_rotor(
    n: int,
    *,
    noise: float = 0.0,
    shape=DEFAULT_ROTOR_SHAPE,
    angles=None,
    rng=None,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the rotor data set of the earthmover paper.

    Parameters
    ----------
    n : int
        Number of maps.
    noise : float, default 0
        Standard deviation of i.i.d. Gaussian noise as a fraction of the clean map's maximum
        voxel (the paper's noisy set: 0.1).
    shape : tuple of 3 ints, default (40, 72, 40)
        Grid (z, y, x); the rotation axis is y.
    angles : array_like, optional
        Rotation angles in degrees; default: ``n`` draws of :func:`sample_rotor_angles`.
    rng : int or Generator, optional
        Seed for the angles and the noise.

    Returns
    -------
    densities : ndarray, shape (n, *shape)
    angles : ndarray, shape (n,)
        Ground-truth angles in degrees.
    """
    n = check_int(n, "n", low=1)
    noise = check_positive(noise, "noise", allow_zero=True)
    gen = check_rng(rng)
    angles = sample_rotor_angles(n, rng=gen) if angles is None else np.asarray(angles, float)
    if angles.shape != (n,):
        raise ValueError(f"angles: expected shape ({n},), got {angles.shape}")
    maps = rotor_density(angles, shape=shape, dtype=dtype)
    ref_max = float(rotor_density([0.0], shape=shape).max())
    return _add_noise(maps, noise, ref_max, gen), angles


def rotate_map(
    volume,
    n: int | None = None,
    *,
    angles=None,
    axes: tuple[int, int] = (0, 2),
    noise: float = 0.0,
    order: int = 1,
    rng=None,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate a user's 3-D map by the paper's random angles (or given ones), optionally add noise.

    This is how the paper built its data set from the F0 + axle map of PDB 1QO1
    (``rotating_shaft_res6.mrc``, rotated about its long axis: array axes 0 and 2).

    Parameters
    ----------
    volume : array_like, shape (nz, ny, nx)
    n : int, optional
        Number of maps to draw (angles from :func:`sample_rotor_angles`); or pass ``angles``.
    angles : array_like, optional
        Angles in degrees.
    axes : pair of int, default (0, 2)
        Plane of rotation.
    noise : float
        Noise std as a fraction of the map's maximum voxel.
    order : int, default 1
        Spline order of the interpolation; 1 (trilinear) keeps the density non-negative,
        higher orders ring.
    rng : int or Generator, optional

    Returns
    -------
    densities : ndarray, shape (n, *volume.shape)
    angles : ndarray, shape (n,)
    """
    vol = np.asarray(volume, dtype=np.float64)
    if vol.ndim != 3:
        raise ValueError(f"volume: expected a 3-D map, got shape {vol.shape}")
    if not np.isfinite(vol).all():
        raise ValueError("volume: contains NaN or infinite values")
    noise = check_positive(noise, "noise", allow_zero=True)
    gen = check_rng(rng)
    if angles is None:
        if n is None:
            raise ValueError("n: give the number of maps to draw, or pass angles=")
        angles = sample_rotor_angles(n, rng=gen)
    angles = np.atleast_1d(np.asarray(angles, dtype=float))
    out = np.empty((angles.size, *vol.shape), dtype=dtype)
    for i, a in enumerate(angles):
        out[i] = scipy.ndimage.rotate(
            vol, a, axes=axes, reshape=False, order=order, mode="constant"
        )
    return _add_noise(out, noise, float(vol.max()), gen), angles


def make_clustered_circle(n_samples: int, *, width: float = 3.0, frac: float = 0.6,
                          noise: float = 0.0, rng=None):
    r"""Points on the unit circle, ``frac`` of them in three dwells 120 degrees apart.

    The ATP-synthase situation in two dimensions (issue 10's density test): a share ``frac``
    of the angles is :math:`2\pi k/3 + w\,\varepsilon` with :math:`k` uniform on
    {0, 1, 2} and :math:`\varepsilon \sim N(0, 1)`, the rest uniform on :math:`[0, 2\pi)`;
    isotropic Gaussian noise of standard deviation ``noise`` is added to the points.

    Parameters
    ----------
    n_samples : int
    width : float >= 0, default 3.0
        Standard deviation :math:`w` of a dwell, in degrees.
    frac : float in [0, 1], default 0.6
        Share of the points in the dwells.
    noise : float >= 0, default 0.0
    rng : int or Generator, optional

    Returns
    -------
    X : ndarray, shape (n_samples, 2)
    angles : ndarray, shape (n_samples,)
        True angles in degrees (for :func:`conformap.evaluate.circle_recovery`).
    """
    n = check_int(n_samples, "n_samples", low=1)
    width = check_positive(width, "width", allow_zero=True)
    noise = check_positive(noise, "noise", allow_zero=True)
    frac = float(frac)
    if not 0.0 <= frac <= 1.0:
        raise ValueError(f"frac: expected a share in [0, 1], got {frac}")
    gen = check_rng(rng)
    m = round(frac * n)
    th = np.r_[gen.integers(0, 3, m) * 2 * np.pi / 3 + np.radians(width) * gen.standard_normal(m),
               gen.uniform(0, 2 * np.pi, n - m)]
    X = np.c_[np.cos(th), np.sin(th)] + noise * gen.standard_normal((n, 2))
    return X, np.degrees(th)
