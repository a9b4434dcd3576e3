r"""The localisation guard of the adaptive kernel: when ``bandwidth="auto"`` gives it up.

Why. With local scales :math:`\rho_i` the diffusion core solves :math:`(D - W) f = \lambda M f`
with the mass :math:`M_i = D_i \rho_i^2` (:mod:`conformap.diffusion`). A vector on one item,
:math:`f = e_i`, has the Rayleigh quotient

.. math:: r_i = \frac{D_i - W_{ii}}{M_i} = \frac{1 - W_{ii}/D_i}{\rho_i^2} \le \rho_i^{-2},

so the item of largest scale offers a mode of eigenvalue about :math:`\rho_{\max}^{-2}`.
The smooth eigenfunctions the embedding wants are resolved only while they vary slowly over
every item's kernel, :math:`\lambda_1 \rho_i^2 \ll 1`. When :math:`\lambda_1` comes close to
:math:`\min_i r_i`, modes concentrated on a few items of large :math:`\rho` compete with the
smooth one and the first diffusion coordinates localise on them. A fixed kernel has the same
bound at one scale, :math:`\lambda \sigma^2 \le 1` (Markov eigenvalue :math:`\mu \ge 0`), and its
first eigenvectors are the smooth ones; the variable scales move the bound down to the
largest :math:`\rho`.

The guard (:func:`localised_coordinates`), after the solve: a coordinate :math:`j` (of the first
:data:`GUARDED_COORDINATES`) is localised when its eigenvalue is close to that floor,
:math:`\kappa_j = \lambda_j / \min_i r_i >` :data:`ADAPTIVE_MAX_LOCALISATION`
(:func:`localisation_ratio`), *and* it lives on few items, participation ratio below
:data:`LOCALISED_PARTICIPATION` (:func:`participation_ratio`). The first condition alone is
met by some noisy data that embed well (the real rotor maps with noise 0.1 come close), the
second alone by a legitimate coordinate on a sparse arm. Where both hold,
``bandwidth="auto"`` replaces the adaptive kernel by the fixed kernel at its median scale
(:func:`fixed_at_median_scale`; at least the connectivity scale): about the same width, no
variation of :math:`\rho`, hence no cheap modes on single items; the graph line says so. An
explicit ``bandwidth="adaptive"`` is kept whatever the guard finds (the ratio
:math:`\kappa_1` is reported in the result's ``graph["localisation_ratio"]`` either way).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

__all__ = [
    "ADAPTIVE_MAX_LOCALISATION",
    "GUARDED_COORDINATES",
    "LOCALISED_PARTICIPATION",
    "fixed_at_median_scale",
    "localisation_ratio",
    "localised_coordinates",
    "participation_ratio",
]

#: A coordinate ``j`` counts as localised when its eigenvalue is more than this fraction of
#: the lowest Rayleigh quotient of a vector on one item (:func:`localisation_ratio`) ...
#: Measured (first coordinate; docs/large-n/SMALL_N.md section 6, NOISY_IMAGES.md section 6):
#: planar clustered circles, the rotor mixture and the saddle curves at n = 700-1,000 (dense,
#: seeds 0-2) 0.0136-0.0552, the clean real rotor maps 0.0245-0.0409, the real maps with noise
#: 0.1 (WEMD, m = 16-18) 0.4186-0.4577, clustered circles on the kNN path at n = 5,000-10,000
#: at most 0.0018, noisy 47 x 47 rotor images (denoised) 0.0286-0.0771: all embed without
#: localising. Projected blob images (700 of 32 x 32): noise 0.3 0.21-0.26 (embed), noise 0.5
#: 0.79-0.96 (seeds 0-3; localised on seeds 1 and 2, at 0.90 and 0.96).
ADAPTIVE_MAX_LOCALISATION = 0.5
#: ... and its participation ratio :math:`(\sum v^2)^2 / (n \sum v^4)` (of the centred
#: coordinate; 2/3 for a cosine on a uniform circle, 1/n on one item) is below this: it lives
#: on fewer than about a tenth of the items. Measured: 0.5818 or more on every small-n cell
#: above, 0.618 or more on the blobs at noise 0.3; the localised blob coordinates 0.0057 and
#: 0.0787 (chosen on, seeds 0-3), 0.0018-0.0645 held out (seeds 4-7, noise 0.4-0.6, radius 5
#: and 7: every such run was caught). Not caught: partly localised runs, 0.163-0.419, where the
#: adaptive kernel still loses to ``denoise="off"``.
LOCALISED_PARTICIPATION = 0.1
#: The guard looks at the first this many coordinates (the embedding's circle or plane).
GUARDED_COORDINATES = 2


def participation_ratio(v) -> float:
    r""":math:`(\sum_i \bar v_i^2)^2 / (n \sum_i \bar v_i^4)` of ``v`` (n,) centred by its mean."""
    v = np.asarray(v, dtype=np.float64)
    v = v - v.mean()
    s4 = float((v**4).sum())
    return float((v**2).sum() ** 2 / (v.size * s4)) if s4 > 0 else 1.0


def localisation_ratio(lam, deg, u, mass):
    r""":math:`\kappa = \lambda / \min_i (D_i - W_{ii}) / M_i`.

    Parameters
    ----------
    lam : float or ndarray
        Generalized eigenvalue(s) :math:`\lambda_j` of :math:`(D - W) f = \lambda M f`.
    deg, u, mass : ndarray, shape (n,)
        :math:`D_i`, the weights :math:`u_i` (so :math:`W_{ii} = u_i^2 K_{ii} = u_i^2`) and
        :math:`M_i` (:func:`conformap.diffusion.normalized_operator`).

    Returns
    -------
    float or ndarray
        Same shape as ``lam``; 0 where every item's row is its diagonal alone.
    """
    deg, u, mass = (np.asarray(a, dtype=np.float64) for a in (deg, u, mass))
    floor = float(((deg - u * u) / mass).min())
    out = np.asarray(lam, dtype=np.float64) / floor if floor > 0 else np.zeros(np.shape(lam))
    return float(out) if np.ndim(out) == 0 else out


def localised_coordinates(lam, psi, deg, u, mass) -> list[tuple[int, float, float]]:
    """``(j, kappa_j, participation_j)`` of the first :data:`GUARDED_COORDINATES` coordinates
    that are localised (both bounds of :data:`ADAPTIVE_MAX_LOCALISATION` and
    :data:`LOCALISED_PARTICIPATION` crossed); empty when none is.

    ``lam`` (k + 1,) and ``psi`` (n, k + 1): the eigenpairs of
    :func:`conformap.diffusion.diffusion_eigenpairs`, trivial first.
    """
    out = []
    for j in range(1, min(GUARDED_COORDINATES, len(lam) - 1) + 1):
        kappa = localisation_ratio(lam[j], deg, u, mass)
        if kappa > ADAPTIVE_MAX_LOCALISATION:
            pr = participation_ratio(psi[:, j])
            if pr < LOCALISED_PARTICIPATION:
                out.append((j, kappa, pr))
    return out


def fixed_at_median_scale(graph, distances, localised):
    r"""The fixed-kernel graph of ``distances`` at the adaptive ``graph``'s median scale.

    :math:`\sigma = \max(\operatorname{median}_i \rho_i, s_{\mathrm{mst}})`, the median scale
    but never below the connectivity scale (rule "mst" of :func:`conformap.select_bandwidth`:
    on clustered data the median scale is the dense clusters' and would cut the graph apart).
    ``distances``: what ``graph`` was built from (dense (n, n), or the sparse kNN distances
    with their bridges). A kNN result has ``dropped_mass`` None (not re-measured for this
    kernel). ``localised``: :func:`localised_coordinates`, for the graph's ``note``.
    """
    from .bandwidth import select_bandwidth
    from .graph import graph_from_distances

    sigma = max(float(np.median(graph.scales)), select_bandwidth(distances, rule="mst"))
    fixed = graph_from_distances(distances, bandwidth=sigma, validate=False)
    j, kappa, pr = localised[0]
    n = graph.kernel.shape[0]
    note = (f"the adaptive kernel's coordinate {j} localised on about {max(1, round(pr * n))} "
            f"items (participation ratio {pr:.3g} < {LOCALISED_PARTICIPATION}; its eigenvalue "
            f"{kappa:.2f} of the lowest of a mode on one item, > {ADAPTIVE_MAX_LOCALISATION}), "
            "so 'auto' uses the fixed kernel at its median scale")
    return replace(fixed, note=note, averaging_steps=graph.averaging_steps)
