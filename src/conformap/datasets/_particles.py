r"""Many 2-D particle images of a rotating molecule, with ground-truth angles (no downloads).

A cryo-EM particle image is, to first order, a line integral (projection) of the 3-D Coulomb
potential along the viewing direction, plus noise. :func:`make_particles` takes a 3-D map (the
procedural rotor of :func:`make_rotor`, or a user's map), turns its rotor by angles drawn from
the earthmover paper's non-uniform mixture, projects it along a fixed viewing direction and adds
white Gaussian noise at a chosen signal-to-noise ratio.

Physics and speed:

* **Procedural rotor.** The map is a sum of isotropic Gaussian blobs, and the line integral of
  :math:`w \exp(-|r - c|^2 / 2\sigma^2)` along an axis is the 2-D Gaussian
  :math:`w \sqrt{2\pi}\,\sigma \exp(-|r_\perp - c_\perp|^2 / 2\sigma^2)`. Each image is
  evaluated exactly from the rotated blob centres (one small matrix product per image), so no
  3-D map is ever built: 1e5 64 x 64 images take seconds.
* **A user's map** (rotating about its array axis 1, as :func:`rotate_map` does). With
  ``view="axial"`` the viewing direction is the rotation axis, and a rotation about the
  projection direction commutes with the projection: the image at angle :math:`\theta` is the
  projection at angle 0 rotated in the image plane by :math:`\theta`. With ``view="side"``
  (perpendicular to the axis) the 3-D map is rotated and projected. Either way the projections
  are computed once on a fine grid of angles (``angle_step``) and each particle interpolates
  linearly between its two neighbouring grid angles, so the cost per particle is two image
  additions.

Noise: ``SNR = var(signal) / var(noise)``, where var(signal) is the pixel variance of the clean
images (over the whole box), averaged over the images, and the noise is i.i.d.
:math:`N(0, \text{var(noise)})` per pixel. Cryo-EM data sets have SNR around 0.01-0.1; there is
no CTF or envelope here.
"""

from __future__ import annotations

import math
import os

import numpy as np
import scipy.ndimage

from .._validation import check_choice, check_int, check_positive, check_rng
from ._rotor import rotate_map, rotor_blobs, sample_rotor_angles

__all__ = ["make_particles"]

_CHUNK = 2048  # images per batch of the analytic projection (its temporaries ~ 10-40 MB)


def make_particles(
    n: int,
    *,
    size: int = 64,
    snr: float | None = None,
    map=None,
    angles="mixture",
    view: str = "axial",
    angle_step: float | None = None,
    rng=None,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Simulate ``n`` projection images of a rotating rotor, with ground-truth angles.

    Parameters
    ----------
    n : int
        Number of images.
    size : int, default 64
        Images are ``size x size`` pixels. The procedural rotor is scaled to fill the box; a
        user's map is resampled (linear interpolation) so that its projected extent fits.
    snr : float, optional
        Signal-to-noise ratio ``var(signal) / var(noise)`` (see the module docstring); None:
        clean images. The same ``rng`` with ``snr=None`` gives the clean counterparts (same
        angles: the angles are drawn before the noise).
    map : array_like of shape (nz, ny, nx), str or path, optional
        A 3-D density (or an .mrc file) whose whole content rotates about its array axis 1,
        like the earthmover paper's ``rotating_shaft_res6.mrc``. Default: the procedural rotor
        (fixed stator, rotating c-ring, axle and arm).
    angles : {"mixture", "uniform"} or array_like of shape (n,), default "mixture"
        Rotation angles in degrees. "mixture": the paper's
        :math:`\tfrac25 U[0, 360] + \tfrac15 \sum_{m=0}^2 N(120 m, 1)` (see
        :func:`sample_rotor_angles`); "uniform": :math:`U[0, 360)`.
    view : {"axial", "side"}, default "axial"
        Viewing direction: along the rotation axis ("axial", the motion is an in-plane
        rotation of the rotor's projection) or perpendicular to it ("side", along array axis 0;
        the rotor's projection changes shape, and angles ``theta`` and ``180 - theta`` of a
        mirror-symmetric part look alike).
    angle_step : float, optional
        Grid spacing (degrees) of the precomputed projections of a user's map; default 0.1 for
        "axial" (2-D rotations) and 0.5 for "side" (3-D rotations). Unused for the procedural
        rotor, whose images are exact.
    rng : int or numpy Generator, optional
        Seeds the angles and the noise; the same seed gives the same images.
    dtype : numpy dtype, default float32

    Returns
    -------
    images : ndarray, shape (n, size, size)
    angles : ndarray of float64, shape (n,)
        Ground-truth rotation angles in degrees, in [0, 360).

    Examples
    --------
    >>> from conformap.datasets import make_particles
    >>> images, angles = make_particles(100, size=32, snr=0.5, rng=0)
    >>> images.shape, angles.shape
    ((100, 32, 32), (100,))
    """
    n = check_int(n, "n", low=1)
    size = check_int(size, "size", low=8, high=4096)
    view = check_choice(view, "view", ["axial", "side"])
    if snr is not None:
        snr = check_positive(snr, "snr")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: {dtype} is not supported; use numpy.float32 or numpy.float64")
    gen = check_rng(rng)
    theta = _draw_angles(n, angles, gen)
    if map is None:
        images = _rotor_images(theta, size, view, dtype)
    else:
        if angle_step is None:
            angle_step = 0.1 if view == "axial" else 0.5
        step = check_positive(angle_step, "angle_step")
        if step > 10:
            raise ValueError(f"angle_step: {step} degrees is too coarse to interpolate; use <= 10")
        grid = _map_grid(_load_map(map), size, view, step)
        images = _interpolate(grid, theta, 360.0 / grid.shape[0], dtype)
    if snr is not None:
        _add_noise(images, snr, gen)
    return images, theta


def _draw_angles(n: int, angles, gen) -> np.ndarray:
    if isinstance(angles, str):
        kind = check_choice(angles, "angles", ["mixture", "uniform"])
        if kind == "mixture":
            return sample_rotor_angles(n, rng=gen)
        return gen.uniform(0.0, 360.0, size=n)
    theta = np.asarray(angles, dtype=float)
    if theta.shape != (n,):
        raise ValueError(f"angles: expected 'mixture', 'uniform' or shape ({n},), got "
                         f"shape {theta.shape}")
    if not np.isfinite(theta).all():
        raise ValueError("angles: contains NaN or infinite values")
    return np.mod(theta, 360.0)


def _add_noise(images: np.ndarray, snr: float, gen) -> None:
    """In place: white Gaussian noise with var = mean per-image pixel variance / snr."""
    n = images.shape[0]
    flat = images.reshape(n, -1)
    var = 0.0
    for i0 in range(0, n, _CHUNK):
        var += float(flat[i0 : i0 + _CHUNK].var(axis=1, dtype=np.float64).sum())
    std = math.sqrt(var / n / snr)
    for i0 in range(0, n, _CHUNK):
        blk = flat[i0 : i0 + _CHUNK]
        blk += std * gen.standard_normal(blk.shape, dtype=np.float32)


def _plane_axes(view: str) -> tuple[int, int]:
    """Array axes (of z, y, x) that span the image: axial drops y (axis 1), side drops z."""
    return (0, 2) if view == "axial" else (1, 2)


def _rotor_images(theta: np.ndarray, size: int, view: str, dtype) -> np.ndarray:
    """Exact projections of the procedural rotor (2-D Gaussians from the rotated blobs)."""
    blobs = rotor_blobs((1, 72, 1))  # geometry at scale 1
    cz, cy, cx, sig, w, moving = blobs.T
    moving = moving.astype(bool)
    radius = np.where(moving, np.hypot(cz, cx), 0.0)
    ua, va = _plane_axes(view)
    cent = np.c_[cz, cy, cx]
    # half-extent of the projected molecule over all angles, 2.5 sigma out
    ext_u = np.where(moving & (ua != 1), radius, np.abs(cent[:, ua])) + 2.5 * sig
    ext_v = np.where(moving, radius, np.abs(cent[:, va])) + 2.5 * sig
    scale = (size / 2 - 1) / max(ext_u.max(), ext_v.max())
    blobs = rotor_blobs((1, 72 * scale, 1))
    cz, cy, cx, sig, w, _ = blobs.T
    amp = w * np.sqrt(2 * np.pi) * sig  # line integral of a 3-D Gaussian
    grid = np.arange(size, dtype=float) - (size - 1) / 2
    fixed = _gaussians(*(c[~moving][None] for c in _project(cz, cy, cx, view)),
                       sig[~moving], amp[~moving], grid)[0]
    out = np.empty((theta.size, size, size), dtype=dtype)
    rad = np.radians(theta)
    for i0 in range(0, theta.size, _CHUNK):
        c, s = np.cos(rad[i0 : i0 + _CHUNK, None]), np.sin(rad[i0 : i0 + _CHUNK, None])
        z0, x0 = cz[moving][None], cx[moving][None]
        z, x = c * z0 - s * x0, s * z0 + c * x0  # as rotor_density
        y = np.broadcast_to(cy[moving][None], z.shape)
        u, v = _project(z, y, x, view)
        out[i0 : i0 + _CHUNK] = _gaussians(u, v, sig[moving], amp[moving], grid) + fixed
    return out


def _project(z, y, x, view: str):
    """Image-plane coordinates (row, column) of 3-D points for a view."""
    return (z, x) if view == "axial" else (y, x)


def _gaussians(u, v, sig, amp, grid) -> np.ndarray:
    """sum_b amp_b exp(-((r - u_b)^2 + (c - v_b)^2) / 2 sig_b^2); u, v (m, B) -> (m, S, S)."""
    inv = 1.0 / (2 * sig**2)
    eu = np.exp(-((grid[None, None, :] - u[..., None]) ** 2) * inv[None, :, None])
    ev = np.exp(-((grid[None, None, :] - v[..., None]) ** 2) * inv[None, :, None])
    return np.matmul((eu * amp[None, :, None]).transpose(0, 2, 1), ev)


def _load_map(volume) -> np.ndarray:
    if isinstance(volume, str | os.PathLike):
        from ..io import read_stack

        volume = read_stack([volume]).data[0]
    vol = np.asarray(volume, dtype=np.float64)
    if vol.ndim != 3:
        raise ValueError(f"map: expected a 3-D density, got shape {vol.shape}")
    if not np.isfinite(vol).all():
        raise ValueError("map: contains NaN or infinite values")
    if vol.sum() <= 0:
        raise ValueError("map: has no positive mass")
    return vol


def _fit_box(img: np.ndarray, size: int, factor: float) -> np.ndarray:
    """Resample a projection by ``factor`` (linear) and centre it in a size x size box."""
    img = scipy.ndimage.zoom(img, factor, order=1, grid_mode=True, mode="grid-constant")
    out = np.zeros((size, size))
    h, w = min(size, img.shape[0]), min(size, img.shape[1])
    r0, c0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    R0, C0 = (size - h) // 2, (size - w) // 2
    out[R0 : R0 + h, C0 : C0 + w] = img[r0 : r0 + h, c0 : c0 + w]
    return out


def _map_grid(vol: np.ndarray, size: int, view: str, step: float) -> np.ndarray:
    """Projections of a user's map on angles 0, d, 2d, ... < 360 (d = 360 / G), (G, S, S)."""
    g = max(1, round(360.0 / step))
    grid_angles = np.arange(g) * (360.0 / g)
    ua, va = _plane_axes(view)
    factor = size / max(vol.shape[ua], vol.shape[va])
    if view == "axial":  # rotation about the viewing direction: rotate the projection
        base = _fit_box(vol.sum(axis=1), size, factor)
        return np.stack([
            scipy.ndimage.rotate(base, a, axes=(0, 1), reshape=False, order=1, mode="constant")
            for a in grid_angles
        ])
    out = np.empty((g, size, size))
    for i, a in enumerate(grid_angles):
        rotated, _ = rotate_map(vol, angles=[a], dtype=np.float64)
        out[i] = _fit_box(rotated[0].sum(axis=0), size, factor)
    return out


def _interpolate(grid: np.ndarray, theta: np.ndarray, step: float, dtype) -> np.ndarray:
    """Linear interpolation between the two grid projections that bracket each angle."""
    g = grid.shape[0]
    pos = theta / step
    lo = np.floor(pos).astype(np.int64) % g
    hi = (lo + 1) % g
    frac = (pos - np.floor(pos))[:, None, None]
    out = np.empty((theta.size, *grid.shape[1:]), dtype=dtype)
    for i0 in range(0, theta.size, _CHUNK):
        sl = slice(i0, i0 + _CHUNK)
        out[sl] = (1 - frac[sl]) * grid[lo[sl]] + frac[sl] * grid[hi[sl]]
    return out

