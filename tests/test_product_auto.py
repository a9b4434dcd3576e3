"""Issue 12: the number of factors from the data, against analytic spectra and eigenfunctions."""

import warnings

import numpy as np
import pytest

from conformap.datasets import make_particles, make_rectangle
from conformap.evaluate import factor_assignment
from conformap.product import (
    FactorizationWarning,
    factorize,
    product_purity,
    product_share,
    spectral_dimension,
)


def _unit(a):
    return a / np.linalg.norm(a, axis=0)


def _circle_modes(n, m_max):
    """Exact Laplacian eigenfunctions of the unit circle on a uniform grid, sorted."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    cols, lam = [], []
    for m in range(1, m_max + 1):
        cols += [np.cos(m * t), np.sin(m * t)]
        lam += [m * m, m * m]
    return _unit(np.column_stack(cols)), np.array(lam, float)


def _torus_modes(n_side, m_max):
    """Exact eigenfunctions cos/sin(a x) cos/sin(b y) of a flat torus (2 pi x 2 pi / 1.7)."""
    x, y = np.meshgrid(np.linspace(0, 2 * np.pi, n_side, endpoint=False),
                       np.linspace(0, 2 * np.pi, n_side, endpoint=False))
    x, y = x.ravel(), y.ravel()
    fx = {0: [np.ones_like(x)]}
    fy = {0: [np.ones_like(y)]}
    for m in range(1, m_max + 1):
        fx[m] = [np.cos(m * x), np.sin(m * x)]
        fy[m] = [np.cos(m * y), np.sin(m * y)]
    cols, lam = [], []
    for a in range(m_max + 1):
        for b in range(m_max + 1):
            if a == b == 0:
                continue
            for f in fx[a]:
                for g in fy[b]:
                    cols.append(f * g)
                    lam.append(a * a + 1.7**2 * b * b)
    order = np.argsort(lam, kind="stable")
    return _unit(np.column_stack(cols)[:, order]), np.array(lam)[order]


def test_purity_separates_same_factor_from_true_products():
    phi, lam = _circle_modes(720, 8)
    # a compressed spectrum (lambda_m = m, as noise makes it), where same-factor pairs pass the
    # eigenvalue criterion: lambda_2 + lambda_3 = lambda_5
    lam = np.sqrt(lam)
    delta = np.full(lam.shape, 0.5)
    # cos(2t) cos(3t) = (cos 5t + cos t) / 2: half of it below the window -> 1/2
    i, j, k = 2, 4, 8  # cos 2t, cos 3t, cos 5t
    p = product_purity(phi, lam, delta, [np.array([[i, j]])], np.array([k]))
    assert p[0] == pytest.approx(0.5, abs=1e-6)
    # a degenerate pair of groups: the span {cos t cos 3t, sin t sin 3t} holds cos 4t and cos 2t
    p = product_purity(phi, lam, delta, [np.array([[0, 4], [1, 5]])], np.array([6]))
    assert p[0] == pytest.approx(0.5, abs=1e-6)
    # torus: cos x * cos y is itself an eigenfunction -> 1
    phi2, lam2 = _torus_modes(60, 3)
    ix = int(np.flatnonzero(lam2 == 1)[0])
    iy = int(np.flatnonzero(lam2 == 1.7**2)[0])
    prod = phi2[:, ix] * phi2[:, iy]
    kxy = int(np.argmax(np.abs(_unit(prod[:, None])[:, 0] @ phi2)))
    p = product_purity(phi2, lam2, np.full(lam2.shape, 0.2), [np.array([[ix, iy]])],
                       np.array([kxy]))
    assert p[0] == pytest.approx(1.0, abs=1e-6)


def test_product_share_flags_a_mixed_eigenvector():
    phi, lam = _torus_modes(60, 3)
    ix = int(np.flatnonzero(lam == 1)[0])
    iy = int(np.flatnonzero(lam == 1.7**2)[0])
    prod = _unit((phi[:, ix] * phi[:, iy])[:, None])[:, 0]
    kxy = int(np.argmax(np.abs(prod @ phi)))
    delta = np.full(lam.shape, 0.3)
    pure = product_share(phi, lam, [kxy - 1], delta=delta, purity=0.6)  # a factor mode
    assert product_share(phi, lam, [kxy], delta=delta, purity=0.6)[0] > 0.99  # the product
    # a factor mode mixed 60:80 with the product mode of the same eigenvalue
    mixed = phi.copy()
    f = int(np.flatnonzero(lam == 4)[0])  # cos 2x
    mixed[:, f] = 0.8 * phi[:, f] + 0.6 * prod
    lam_m = lam.copy()
    assert product_share(_unit(mixed), lam_m, [f], delta=np.full(lam.shape, 5.0),
                         purity=0.6)[0] == pytest.approx(0.6, abs=0.05)
    assert pure[0] < 0.2 or lam[kxy - 1] != 1 + 1.7**2


def test_spectral_dimension_of_analytic_spectra():
    _, lam_circle = _circle_modes(10, 50)
    assert spectral_dimension(lam_circle) == pytest.approx(1.0, abs=0.1)
    m = np.arange(0, 30)
    rect = np.sort((m[:, None] ** 2 + (1.3 * m[None, :]) ** 2).ravel())[1:200]
    assert spectral_dimension(rect) == pytest.approx(2.0, abs=0.25)
    assert np.isnan(spectral_dimension([1.0, 2.0]))


@pytest.mark.parametrize("seed", [0, 1])
def test_plain_circle_is_one_factor(seed):
    # issue 12: a circle is not a product; at n = 2000 chance triplets among its high modes
    # used to give 2 factors
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, 2000)
    X = np.c_[np.cos(t), np.sin(t)]
    res = factorize(X, rng=seed)
    assert res.n_factors == 1
    assert "Weyl" in res.message or "no eigenvector" in res.message


def test_rotor_images_are_one_factor():
    # issue 12: 300 rotor projections (a circle of images), 48 x 48, SNR 2, no options
    images, _ = make_particles(300, size=48, snr=2, rng=0)
    res = factorize(images, rng=0)
    assert res.n_factors == 1
    assert res.message.startswith("1 factor")


def test_rectangle_stays_two_factors_with_auto():
    X, truth = make_rectangle(2000, rng=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FactorizationWarning)
        res = factorize(X, rng=2)
    assert res.n_factors == 2
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    # seed 2 bins one product eigenvector (phi17, R^2 0.01 / 0.04) with y: 6 of 7 right
    assert ev.confident_accuracy >= 0.8
    assert 1 in res.factors[0] and 2 in res.factors[1]
