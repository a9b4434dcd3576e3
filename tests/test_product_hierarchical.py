"""Issue 12: hierarchical factorization of three factors, on analytic box eigenfunctions."""

import numpy as np
import pytest

from conformap.evaluate import factor_assignment
from conformap.product import LaplacianSpectrum, factorize_spectrum
from conformap.product._placement import place_left as _place_left

SIDES = (1.0, 1.6, 2.5)


def _box_modes(shape=(10, 12, 14), n_modes=30, drop=()):
    """Neumann eigenfunctions prod_d cos(m_d pi u_d) of a box on a midpoint grid (exactly
    orthogonal there), the constant first, sorted by lambda = pi^2 sum m_d^2 / L_d^2.
    ``drop``: modes (m_x, m_y, m_z) left out (as if mixed away by sampling)."""
    axes = [(np.arange(s) + 0.5) / s for s in shape]
    grid = np.meshgrid(*axes, indexing="ij")
    u = [g.ravel() for g in grid]
    modes = [(a, b, c) for a in range(6) for b in range(6) for c in range(6)]
    lam = {m: np.pi**2 * sum(k * k / L**2 for k, L in zip(m, SIDES, strict=True))
           for m in modes}
    modes = [m for m in sorted(modes, key=lambda m: (lam[m], m)) if m not in drop]
    modes = modes[: n_modes + 1]
    phi = np.column_stack([np.prod([np.cos(k * np.pi * x) for k, x in zip(m, u, strict=True)],
                                   axis=0) for m in modes])
    phi /= np.linalg.norm(phi, axis=0) / np.sqrt(phi.shape[0])
    truth = {"x": u[0] * SIDES[0], "y": u[1] * SIDES[1], "z": u[2] * SIDES[2],
             "spec": [{"name": n, "kind": "interval", "coordinate": n, "range": (0.0, L)}
                      for n, L in zip("xyz", SIDES, strict=True)]}
    return phi, np.array([lam[m] for m in modes]), modes, truth


def _spectrum(phi, lam, sigma=0.05):
    mu = np.exp(-0.5 * sigma**2 * lam)
    return LaplacianSpectrum(eigenvectors=phi, eigenvalues=lam, markov_eigenvalues=mu,
                             bandwidth=sigma, graph="analytic", noise_floor=0.0)


def test_an_unlinked_eigenvector_of_a_split_bin_joins_its_own_factor():
    phi, lam, modes, _ = _box_modes()
    col = {m: i for i, m in enumerate(modes)}
    x1, x2, y1, y2 = col[(1, 0, 0)], col[(2, 0, 0)], col[(0, 1, 0)], col[(0, 2, 0)]
    delta = np.maximum(0.5 * lam[1], 0.05 * lam)
    # x1 shares no sub-triplet: its products with y1 are single eigenfunctions (purity 1),
    # with x2 they split into cos(x) and cos(3x) (purity 1/2) -> it goes with x2
    bins, placed = _place_left([np.array([y1]), np.array([x2])], np.array([x1]), phi, lam,
                               delta)
    assert placed.tolist() == [x1]
    assert sorted(bins[1].tolist()) == sorted([x1, x2]) and bins[0].tolist() == [y1]
    bins, placed = _place_left([np.array([x1, x2]), np.array([y1])], np.array([y2]), phi,
                               lam, delta)
    assert placed.tolist() == [y2] and sorted(bins[1].tolist()) == sorted([y1, y2])


@pytest.mark.parametrize("drop", [(), ((1, 1, 0),)])
def test_hierarchical_box_from_analytic_eigenfunctions(drop):
    """Three factors, every factor eigenvector in its own bin; with the x1*y1 product mode
    missing (mixed away, as at n = 10,000) x1 is still placed by the purity vote."""
    phi, lam, modes, truth = _box_modes(drop=drop)
    res = factorize_spectrum(_spectrum(phi, lam), n_factors=3, hierarchical=True, rng=0)
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    assert res.n_factors == 3
    assert ev.accuracy == 1.0
    binned = set(np.concatenate(res.factors).tolist())
    col = {m: i for i, m in enumerate(modes)}
    assert {col[(1, 0, 0)], col[(0, 1, 0)], col[(0, 0, 1)]} <= binned
