r"""Product-manifold data sets with analytic ground truth (Zhang, Moscovich & Singer 2021).

Every generator returns ``(X, truth)``: the observations and a dict of the latent coordinates
(one entry per factor) from which the analytic Laplacian eigenfunctions are known:

* rectangle :math:`[0, a] \times [0, b]`: :math:`\cos(m\pi x/a)\cos(n\pi y/b)`,
  :math:`\lambda = \pi^2 (m^2/a^2 + n^2/b^2)` (Neumann);
* torus :math:`S^1_{r_1} \times S^1_{r_2}`: :math:`e^{i m \theta_1} e^{i n \theta_2}`,
  :math:`\lambda = m^2/r_1^2 + n^2/r_2^2`;
* box :math:`[0,a]\times[0,b]\times[0,c]`: products of three cosines.

:func:`factor_spec` of each data set describes the factors for
:func:`conformap.evaluate.factor_assignment`.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_int, check_positive, check_rng

__all__ = [
    "BOX_SIDES",
    "RECTANGLE_SIDES",
    "TORUS_RADII",
    "make_box",
    "make_product_cryoem",
    "make_rectangle",
    "make_torus",
    "pca_standardize",
]

#: The paper's rectangle :math:`[0, 1+\sqrt\pi] \times [0, 1.5]` (Sec. 4.1) and box (Sec. 5).
RECTANGLE_SIDES = (1.0 + math.sqrt(math.pi), 1.5)
BOX_SIDES = (1.0 + math.sqrt(math.pi), 1.5, 7.0)
TORUS_RADII = (2.0, 1.0 + math.sqrt(math.pi))


def make_rectangle(n_samples: int = 10_000, *, sides=RECTANGLE_SIDES, noise: float = 0.05,
                   rng=None):
    r"""Uniform points on a rectangle in :math:`\mathbb{R}^3` with Gaussian noise along z.

    Parameters
    ----------
    n_samples : int
        Number of points.
    sides : (float, float), default ``(1 + sqrt(pi), 1.5)``
        Side lengths :math:`a, b` (the paper's Sec. 4.1).
    noise : float >= 0, default 0.05
        Standard deviation of the z-coordinate (the paper does not state its value).
    rng : int or Generator, optional

    Returns
    -------
    X : ndarray, shape (n_samples, 3)
    truth : dict
        ``{"x": (n,), "y": (n,), "z": (n,)}`` and ``"spec"``: the factor description for
        :func:`conformap.evaluate.factor_assignment` (two intervals).
    """
    n = check_int(n_samples, "n_samples", low=3)
    a, b = (check_positive(s, "sides") for s in sides)
    noise = check_positive(noise, "noise", allow_zero=True)
    gen = check_rng(rng)
    x = gen.uniform(0, a, n)
    y = gen.uniform(0, b, n)
    z = gen.normal(0, noise, n) if noise else np.zeros(n)
    spec = [
        {"name": "x", "kind": "interval", "coordinate": "x", "range": (0.0, a)},
        {"name": "y", "kind": "interval", "coordinate": "y", "range": (0.0, b)},
    ]
    return np.column_stack([x, y, z]), {"x": x, "y": y, "z": z, "spec": spec}


def make_torus(n_samples: int = 10_000, *, radii=TORUS_RADII, rng=None):
    r"""Uniform points on the flat torus :math:`S^1_{r_1} \times S^1_{r_2} \subset \mathbb{R}^4`.

    :math:`(r_1\cos\theta_1, r_1\sin\theta_1, r_2\cos\theta_2, r_2\sin\theta_2)`, an isometric
    embedding, with :math:`\theta_1, \theta_2` uniform (the paper's Fig. 6 uses radii 2 and
    :math:`1+\sqrt\pi`).

    Returns
    -------
    X : ndarray, shape (n_samples, 4)
    truth : dict
        ``{"theta1": (n,), "theta2": (n,)}`` in radians, and ``"spec"`` (two circles).
    """
    n = check_int(n_samples, "n_samples", low=3)
    r1, r2 = (check_positive(r, "radii") for r in radii)
    gen = check_rng(rng)
    t1 = gen.uniform(0, 2 * np.pi, n)
    t2 = gen.uniform(0, 2 * np.pi, n)
    X = np.column_stack([r1 * np.cos(t1), r1 * np.sin(t1), r2 * np.cos(t2), r2 * np.sin(t2)])
    spec = [
        {"name": "theta1", "kind": "circle", "coordinate": "theta1", "range": (0.0, 2 * np.pi)},
        {"name": "theta2", "kind": "circle", "coordinate": "theta2", "range": (0.0, 2 * np.pi)},
    ]
    return X, {"theta1": t1, "theta2": t2, "spec": spec}


def make_box(n_samples: int = 10_000, *, sides=BOX_SIDES, rng=None):
    r"""Uniform points in the box :math:`[0,a]\times[0,b]\times[0,c]` (Sec. 5, hierarchical).

    Returns
    -------
    X : ndarray, shape (n_samples, 3)
    truth : dict
        ``{"x", "y", "z"}`` coordinates and ``"spec"`` (three intervals).
    """
    n = check_int(n_samples, "n_samples", low=3)
    sides = [check_positive(s, "sides") for s in sides]
    if len(sides) != 3:
        raise ValueError(f"sides: expected three side lengths, got {len(sides)}")
    gen = check_rng(rng)
    X = gen.uniform(0, 1, (n, 3)) * np.asarray(sides)
    names = ("x", "y", "z")
    spec = [{"name": nm, "kind": "interval", "coordinate": nm, "range": (0.0, s)}
            for nm, s in zip(names, sides, strict=True)]
    truth = {nm: X[:, i].copy() for i, nm in enumerate(names)}
    truth["spec"] = spec
    return X, truth


# --------------------------------------------------------------------------- cryo-EM images

# A two-subunit synthetic molecule made of 3-D Gaussian blobs (pixels of a 64-pixel image,
# centred at the origin): a fixed core, a subunit that rotates about its own z axis and an arm
# along x whose length changes (the "stretch").
_CORE = np.array([[0.0, 0.0, 0.0, 1.0, 6.0], [8.0, -6.0, 2.0, 0.8, 5.0],
                  [-8.0, -6.0, -2.0, 0.8, 5.0]])  # x, y, z, amplitude, width
# rotating subunit (offsets from its centre): asymmetric so that every angle gives a new image
_ROTOR_CENTRE = np.array([0.0, 12.0, 4.0])
_ROTOR = np.array([[10.0, 0.0, 0.0, 1.0, 3.5], [-1.7, 9.8, 0.0, 0.6, 3.0],
                   [-7.7, -6.4, 0.0, 0.3, 2.5]])  # at 0, 100 and 220 degrees: no symmetry
_ARM_Y = -16.0
_ARM_LENGTH = 24.0
_ARM_T = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
# sliding subunit (slide=True): a rigid bar of three blobs left of the rotor and above the arm,
# moving along y as a whole. Its blobs stay >= 10 pixels from every other moving blob for
# slides up to _SLIDE_MAX, so the parts do not overlap and the pixel metric is a product.
_SLIDE_CENTRE = np.array([-26.0, 5.0, 0.0])
_SLIDE = np.array([[0.0, -4.0, 0.0, 0.8, 2.8], [0.0, 0.0, 0.0, 0.6, 2.8],
                   [0.0, 4.0, 0.0, 0.9, 2.8]])  # offsets along y, amplitudes differ: no symmetry
_SLIDE_MAX = 7.0


def _molecule_blobs(angle: np.ndarray, stretch_x: np.ndarray, stretch_y: np.ndarray,
                    slide=None):
    """Blob centres (n, n_blobs, 3), amplitudes (n_blobs,), widths (n_blobs,)."""
    n = angle.size
    c, s = np.cos(angle), np.sin(angle)
    rot = np.empty((n, _ROTOR.shape[0], 3))
    ox, oy = _ROTOR[None, :, 0], _ROTOR[None, :, 1]
    rot[..., 0] = _ROTOR_CENTRE[0] + c[:, None] * ox - s[:, None] * oy
    rot[..., 1] = _ROTOR_CENTRE[1] + s[:, None] * ox + c[:, None] * oy
    rot[..., 2] = _ROTOR_CENTRE[2]
    # arm: blobs evenly spread over a segment of length 24 + stretch_x (and tilted by stretch_y)
    arm = np.empty((n, _ARM_T.size, 3))
    arm[..., 0] = _ARM_T[None, :] * (_ARM_LENGTH + stretch_x[:, None]) / 2
    arm[..., 1] = _ARM_Y + _ARM_T[None, :] * stretch_y[:, None] / 2
    arm[..., 2] = 0.0
    core = np.broadcast_to(_CORE[None, :, :3], (n, _CORE.shape[0], 3))
    centres = np.concatenate([core, rot, arm], axis=1)
    amps = np.concatenate([_CORE[:, 3], _ROTOR[:, 3], np.full(_ARM_T.size, 0.8)])
    widths = np.concatenate([_CORE[:, 4], _ROTOR[:, 4], np.full(_ARM_T.size, 3.0)])
    if slide is not None:
        bar = np.broadcast_to(_SLIDE_CENTRE + _SLIDE[:, :3], (n, _SLIDE.shape[0], 3)).copy()
        bar[..., 1] += slide[:, None]
        centres = np.concatenate([centres, bar], axis=1)
        amps = np.concatenate([amps, _SLIDE[:, 3]])
        widths = np.concatenate([widths, _SLIDE[:, 4]])
    return centres, amps, widths


def _view_matrix(view) -> np.ndarray:
    """Rotation taking molecule coordinates to the microscope frame (project along its z)."""
    tilt, psi = (math.radians(float(v)) for v in view)
    ct, st, cp, sp_ = math.cos(tilt), math.sin(tilt), math.cos(psi), math.sin(psi)
    rx = np.array([[1, 0, 0], [0, ct, -st], [0, st, ct]])
    rz = np.array([[cp, -sp_, 0], [sp_, cp, 0], [0, 0, 1]])
    return rz @ rx


def make_product_cryoem(
    n_samples: int = 10_000,
    *,
    image_size: int = 64,
    stretch_range: float = 20.0,
    stretch_y: bool = False,
    slide: bool = False,
    slide_range: float = _SLIDE_MAX,
    snr: float | None = 1.0,
    view=(30.0, 0.0),
    pca_components: int | None = None,
    rng=None,
):
    r"""Synthetic cryo-EM projections of a molecule with two independent motions (Sec. 4.3).

    A core of Gaussian blobs carries (1) a subunit rotating about the molecule's z axis by an
    angle drawn uniformly from [0, 360) degrees and (2) an arm of blobs along x whose length
    (24 pixels at rest) changes by an amount uniform in ``[-stretch_range, stretch_range]``
    pixels. Two optional third motions:

    * ``slide=True``: a third, separate subunit (a bar of three blobs left of the rotor)
      slides along the molecule's y axis by an amount uniform in
      ``[-slide_range, slide_range]`` pixels. It never comes within 10 pixels of another
      moving part, so the three parts' pixels do not overlap, the squared pixel distance is
      a sum of one term per part and the images form a product of three manifolds (circle x
      interval x interval): three *independent* motions, as on a real molecule whose motions
      are on different parts.
    * ``stretch_y=True``: the *same* arm also tilts, its ends moving apart along y by an
      amount uniform in ``[-stretch_range, stretch_range]``. The latent variables are
      independent but both motions move the same blobs (a blob's displacement is
      :math:`(t\,s_x, t\,s_y)/2`), so the pixel metric couples them and is not a product
      metric: a *coupled* third motion, kept for comparison.

    Every conformation is projected along
    one fixed viewing direction (``view`` = tilt about x, then in-plane rotation, in degrees); a 3-D
    Gaussian blob projects exactly to a 2-D Gaussian, so the images are computed analytically.
    White Gaussian noise is added at the requested signal-to-noise ratio

    .. math:: \mathrm{SNR} = \frac{\operatorname{mean}_i \operatorname{Var}_{\text{pixels}}(I_i)}
              {\sigma_{\text{noise}}^2}.

    This stands in for the potassium-channel model of the paper, which is not distributed.

    Parameters
    ----------
    n_samples : int
    image_size : int, default 64
        Images are ``image_size x image_size`` pixels.
    stretch_range : float, default 20
        Stretch bound in pixels (the paper's [-20, 20]).
    stretch_y : bool, default False
        Also tilt the arm along y (independent uniform, same range): three latent factors
        whose image metric is coupled (see above).
    slide : bool, default False
        Add the sliding subunit: a third independent motion on its own part.
    slide_range : float, default 7
        Slide bound in pixels, at most 7 (beyond it the bar would approach the arm).
    snr : float or None, default 1.0
        Signal-to-noise ratio; ``None`` for clean images.
    view : (float, float), default (30, 0)
        Viewing direction (tilt, in-plane angle) in degrees, the same for every image.
    pca_components : int or None
        If given, return the paper's preprocessing instead of the images: the first
        ``pca_components`` principal-component scores, each standardised to zero mean and
        unit variance (the paper uses 4).
    rng : int or Generator, optional

    Returns
    -------
    X : ndarray, shape (n_samples, image_size, image_size) or (n_samples, pca_components)
        float32 images, or float64 PCA scores.
    truth : dict
        ``"angle_deg"`` (n,), ``"stretch_x"`` (n,), ``"stretch_y"`` (n,) (zeros unless
        ``stretch_y``), ``"slide"`` (n,) (zeros unless ``slide``), ``"noise_sigma"`` and
        ``"spec"`` (circle x interval [x interval for stretch_y] [x interval for slide]).
        Arguments other than ``slide`` give the same images as before it existed (its value
        is drawn after the others).
    """
    n = check_int(n_samples, "n_samples", low=3)
    size = check_int(image_size, "image_size", low=16)
    srange = check_positive(stretch_range, "stretch_range", allow_zero=True)
    if srange >= _ARM_LENGTH:
        raise ValueError(
            f"stretch_range: {srange} would fold the arm (length {_ARM_LENGTH:g} pixels) onto "
            f"itself; use a value below {_ARM_LENGTH:g}"
        )
    slide_r = check_positive(slide_range, "slide_range")
    if slide_r > _SLIDE_MAX:
        raise ValueError(f"slide_range: {slide_r} would bring the sliding bar within 10 pixels "
                         f"of the arm; use a value up to {_SLIDE_MAX:g}")
    if snr is not None:
        snr = check_positive(snr, "snr")
    if pca_components is not None:
        pca_components = check_int(pca_components, "pca_components", low=1, high=size * size)
    if len(view) != 2:
        raise ValueError(f"view: expected (tilt, psi) in degrees, got {view!r}")
    gen = check_rng(rng)
    angle = gen.uniform(0.0, 360.0, n)
    sx = gen.uniform(-srange, srange, n)
    sy = gen.uniform(-srange, srange, n) if stretch_y else np.zeros(n)
    sl = gen.uniform(-slide_r, slide_r, n) if slide else None

    rmat = _view_matrix(view)
    scale = size / 64.0  # the molecule is designed for 64-pixel images
    grid = (np.arange(size) - (size - 1) / 2.0).astype(np.float64)
    images = np.empty((n, size, size), dtype=np.float32)
    chunk = 512
    for i0 in range(0, n, chunk):
        i1 = min(n, i0 + chunk)
        centres, amps, widths = _molecule_blobs(np.radians(angle[i0:i1]), sx[i0:i1], sy[i0:i1],
                                                None if sl is None else sl[i0:i1])
        proj = (centres @ rmat.T)[..., :2] * scale  # (m, b, 2)
        w = widths * scale
        gy = np.exp(-((grid[None, None, :] - proj[..., 1:2]) ** 2) / (2 * w[None, :, None] ** 2))
        gx = np.exp(-((grid[None, None, :] - proj[..., 0:1]) ** 2) / (2 * w[None, :, None] ** 2))
        images[i0:i1] = np.einsum("mby,mbx,b->myx", gy, gx, amps, optimize=True)
    noise_sigma = 0.0
    if snr is not None:
        signal_power = float(images.reshape(n, -1).var(axis=1).mean())
        noise_sigma = math.sqrt(signal_power / snr)
        for i0 in range(0, n, chunk):
            i1 = min(n, i0 + chunk)
            images[i0:i1] += gen.normal(0.0, noise_sigma, (i1 - i0, size, size)).astype(np.float32)
    spec = [
        {"name": "angle", "kind": "circle", "coordinate": "angle_deg", "range": (0.0, 360.0)},
        {"name": "stretch_x", "kind": "interval", "coordinate": "stretch_x",
         "range": (-srange, srange)},
    ]
    if stretch_y:
        spec.append({"name": "stretch_y", "kind": "interval", "coordinate": "stretch_y",
                     "range": (-srange, srange)})
    if slide:
        spec.append({"name": "slide", "kind": "interval", "coordinate": "slide",
                     "range": (-slide_r, slide_r)})
    truth = {"angle_deg": angle, "stretch_x": sx, "stretch_y": sy,
             "slide": sl if slide else np.zeros(n), "noise_sigma": noise_sigma, "spec": spec}
    if pca_components is None:
        return images, truth
    return pca_standardize(images, pca_components), truth


def pca_standardize(X, n_components: int) -> np.ndarray:
    """Principal-component scores of the rows of ``X``, each standardised to unit variance.

    Parameters
    ----------
    X : array_like, shape (n, ...)
    n_components : int

    Returns
    -------
    ndarray, shape (n, n_components)
    """
    flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    k = check_int(n_components, "n_components", low=1, high=min(flat.shape))
    flat = flat - flat.mean(axis=0)
    if k < min(flat.shape) - 1:
        # the k leading singular triplets by Lanczos (ARPACK, fixed start vector): a full
        # eigendecomposition of the 4096 x 4096 covariance of 64 x 64 images took 37 s of the
        # quick reproduction (n = 3000); this takes well under a second for k = 4
        from scipy.sparse.linalg import svds

        v0 = np.ones(min(flat.shape)) / np.sqrt(min(flat.shape))
        u, s, _ = svds(flat, k=k, v0=v0, solver="arpack")
        order = np.argsort(s)[::-1]
        scores = u[:, order] * s[order]
    elif flat.shape[1] <= flat.shape[0]:
        w, v = np.linalg.eigh(flat.T @ flat)
        scores = flat @ v[:, ::-1][:, :k]
    else:
        w, v = np.linalg.eigh(flat @ flat.T)
        scores = v[:, ::-1][:, :k] * np.sqrt(np.maximum(w[::-1][:k], 0))
    # deterministic signs: largest-magnitude score positive
    idx = np.argmax(np.abs(scores), axis=0)
    signs = np.sign(scores[idx, np.arange(k)])
    signs[signs == 0] = 1
    scores = scores * signs
    std = scores.std(axis=0)
    std[std == 0] = 1.0
    return (scores - scores.mean(axis=0)) / std

