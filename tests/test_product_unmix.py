"""Unmixing near-degenerate eigenvectors, checked against analytic box eigenfunctions."""

import warnings

import numpy as np
import pytest

from conformap.datasets import BOX_SIDES, make_box
from conformap.evaluate import factor_assignment
from conformap.product import (
    factorize_spectrum,
    laplacian_spectrum,
    unmix_blocks,
    unmix_eigenvectors,
)


def _box_modes(X, modes):
    """Analytic Neumann eigenfunctions of the box and their eigenvalues, sorted."""
    lam = np.array([np.pi**2 * sum((p / s) ** 2 for p, s in zip(m, BOX_SIDES, strict=True))
                    for m in modes])
    order = np.argsort(lam)
    funcs = np.ones((X.shape[0], len(modes)))
    for c, m in enumerate(modes):
        for axis, p in enumerate(m):
            if p:
                funcs[:, c] *= np.sqrt(2) * np.cos(p * np.pi * X[:, axis] / BOX_SIDES[axis])
    return funcs[:, order], lam[order], [modes[o] for o in order]


# (x, y, z) mode numbers: the box's first eigenfunctions, among them the near-degenerate
# x2 / z5 (2 % apart) and y1 z1 / x1 z4 (2 % apart), and the products of lower ones
MODES = [(0, 0, 1), (0, 0, 2), (1, 0, 0), (1, 0, 1), (0, 0, 3), (1, 0, 2), (1, 0, 3),
         (0, 0, 4), (0, 1, 0), (1, 0, 4), (0, 1, 1), (0, 0, 5), (2, 0, 0), (0, 1, 2),
         (2, 0, 1)]


def _best_match(phi, funcs):
    """|correlation| of every column of phi with its best analytic eigenfunction."""
    a = (phi - phi.mean(0)) / np.linalg.norm(phi - phi.mean(0), axis=0)
    b = (funcs - funcs.mean(0)) / np.linalg.norm(funcs - funcs.mean(0), axis=0)
    return np.abs(a.T @ b).max(axis=1)


def _rotated(funcs, lam, pairs, angle):
    phi = funcs.copy()
    c, s = np.cos(angle), np.sin(angle)
    for a, b in pairs:
        phi[:, [a, b]] = funcs[:, [a, b]] @ np.array([[c, -s], [s, c]])
    return phi


@pytest.mark.parametrize("angle", [0.4, 0.7, -0.6])
def test_unmix_recovers_mixed_box_eigenfunctions(angle):
    X, _ = make_box(8000, rng=0)
    funcs, lam, modes = _box_modes(X, MODES)
    i = {m: t for t, m in enumerate(modes)}
    # a factor-factor mixture (x2, z5: rule 2) and a product-product one (y1 z1, x1 z4: rule 1)
    pairs = [(i[(2, 0, 0)], i[(0, 0, 5)]), (i[(0, 1, 1)], i[(1, 0, 4)])]
    phi = _rotated(funcs, lam, pairs, angle)
    assert _best_match(phi, funcs).min() < 0.95  # really mixed
    res = unmix_eigenvectors(phi, lam)
    assert _best_match(res.eigenvectors, funcs).min() > 0.99
    # the span is kept (an orthogonal rotation inside each block)
    q0, q1 = np.linalg.qr(phi)[0], np.linalg.qr(res.eigenvectors)[0]
    assert np.linalg.svd(q0.T @ q1, compute_uv=False).min() > 1 - 1e-8
    # the mixed product pair is sorted out by recognising one of them as a product of two
    # lower columns (the other is then the block's orthogonal complement)
    names = {(c, a, b) for c, a, b, _ in res.aligned}
    assert ((i[(0, 1, 1)], i[(0, 0, 1)], i[(0, 1, 0)]) in names
            or (i[(1, 0, 4)], i[(1, 0, 0)], i[(0, 0, 4)]) in names)


def test_unmix_leaves_separable_eigenfunctions_alone():
    X, _ = make_box(8000, rng=1)
    funcs, lam, _ = _box_modes(X, MODES)
    res = unmix_eigenvectors(funcs, lam)
    assert _best_match(res.eigenvectors, funcs).min() > 0.99
    assert np.allclose(res.eigenvalues, lam, rtol=0.01)


def test_unmix_off_returns_input():
    X, _ = make_box(500, rng=2)
    funcs, lam, _ = _box_modes(X, MODES)
    res = unmix_eigenvectors(funcs, lam, tol=0)
    assert np.array_equal(res.eigenvectors, funcs) and np.array_equal(res.eigenvalues, lam)
    assert res.blocks == []


def test_unmix_blocks():
    lam = np.array([1.0, 1.02, 1.04, 2.0, 3.0, 3.01, 5.0])
    blocks = unmix_blocks(lam, 0.05)
    assert [b.tolist() for b in blocks] == [[0, 1, 2], [3], [4, 5], [6]]
    # a run longer than max_block is cut at its largest gap
    lam = 1.0 + 0.01 * np.array([0, 1, 2, 4, 5, 6])
    assert [b.tolist() for b in unmix_blocks(lam, 0.05, max_block=3)] == [[0, 1, 2], [3, 4, 5]]


def test_unmix_bad_shapes():
    with pytest.raises(ValueError, match="eigenvectors"):
        unmix_eigenvectors(np.ones((10, 3)), np.ones(4))


def test_unmixing_improves_the_box_graph():
    """On a real graph the unmixed eigenvectors are closer to analytic ones, and the box is
    split into its three sides (accuracy measured against the analytic eigenfunctions)."""
    X, truth = make_box(3000, rng=0)
    spec = laplacian_spectrum(X, n_eigenvectors=40, rng=0)
    funcs, _, _ = _box_modes(X, MODES)
    with warnings.catch_warnings():  # without unmixing the split stops at 2 factors here
        warnings.simplefilter("ignore")
        res0 = factorize_spectrum(spec, n_factors=3, hierarchical=True, rng=0, unmix=0)
    res1 = factorize_spectrum(spec, n_factors=3, hierarchical=True, rng=0, unmix=0.1)
    m0 = _best_match(res0.eigenvectors[:, 1:16], funcs)
    m1 = _best_match(res1.eigenvectors[:, 1:16], funcs)
    assert (m1 > 0.95).sum() > (m0 > 0.95).sum()
    ev = factor_assignment(res1.factors, res1.eigenvectors, truth)
    assert res1.n_factors == 3 and ev.confident_accuracy == 1.0


def test_unmix_keeps_circle_pairs_apart_from_their_products():
    """cos t, sin t and cos t * cos(pi s) with equal eigenvalues (a circle times an interval
    whose first mode is tiny): the fourth-moment contrast alone would mix sin t with the
    product (E[sin^2 cos^2] = 1/8); the circle pair is detected and kept out of the rotation."""
    rng = np.random.default_rng(0)
    t, s = rng.uniform(0, 2 * np.pi, 6000), rng.uniform(0, 1, 6000)
    funcs = np.column_stack([np.sqrt(2) * np.cos(t), np.sqrt(2) * np.sin(t),
                             2 * np.cos(t) * np.cos(np.pi * s)])
    lam = np.array([1.0, 1.01, 1.02])
    res = unmix_eigenvectors(funcs, lam)
    assert _best_match(res.eigenvectors, funcs).min() > 0.99


def test_pair_votes_sign_from_analytic_eigenfunctions():
    """pair_votes on analytic box eigenfunctions: -1/4 for two modes of one factor (half the
    product at the difference frequency), +1/4 for modes of two factors."""
    from conformap.product import pair_votes

    X, _ = make_box(6000, rng=2)
    funcs, lam, modes = _box_modes(X, MODES)
    phi = np.column_stack([np.ones(len(X)), funcs - funcs.mean(0)])
    lam = np.concatenate([[0.0], lam])
    i = {m: t + 1 for t, m in enumerate(modes)}
    cols = [i[(0, 0, 1)], i[(0, 0, 2)], i[(1, 0, 0)], i[(0, 1, 0)]]  # z1, z2, x1, y1
    v = pair_votes(cols, phi, lam, degeneracy=0.05)
    assert v[0, 1] == pytest.approx(-0.25, abs=0.05)  # z1, z2: one factor
    for a, b in [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]:
        assert v[a, b] == pytest.approx(0.25, abs=0.05)  # different factors
    np.testing.assert_allclose(v, v.T)


def test_unmix_keeps_a_block_holding_a_lower_product():
    """Do no harm: a block whose input column already matches a product of two lower ones
    (above UNMIX_KEEP, below rule 1's gamma) is returned as given when the fourth-moment
    rotation would spread that product (here over heavy-tailed, non-separable columns, as on
    the 200 toy blob images of the report test)."""
    from conformap.product import UNMIX_KEEP

    rng = np.random.default_rng(0)
    n = 4000
    x, y = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    a, b = np.sqrt(2) * np.cos(np.pi * x), np.sqrt(2) * np.cos(np.pi * y)

    def spiky():
        s = (rng.uniform(0, 1, n) < 0.03).astype(float)
        return (s - s.mean()) / s.std()

    u = 0.85 * a * b + np.sqrt(1 - 0.85**2) * spiky()
    phi = np.column_stack([a, b, u, spiky()])
    lam = np.array([1.0, 2.0, 3.0, 3.1])
    free = unmix_eigenvectors(phi, lam, tol=0.1, gamma=0.9, keep=None)
    prod = a * b / np.linalg.norm(a * b)
    sim = lambda m: np.abs((m / np.linalg.norm(m, axis=0)).T @ prod)[2:].max()  # noqa: E731
    assert sim(phi) > UNMIX_KEEP > sim(free.eigenvectors)  # the rotation would lose it
    kept = unmix_eigenvectors(phi, lam, tol=0.1, gamma=0.9)
    np.testing.assert_allclose(kept.eigenvectors, phi)
    assert kept.blocks == []


def test_window_links_find_a_product_spread_over_its_window():
    """Analytic rectangle eigenfunctions: the product x1 * y1 spread evenly over two
    eigenvectors of its eigenvalue window (with x3, nearly the same eigenvalue) matches
    neither above 0.75, but its window holds all of it: window_links links x1 and y1,
    never x1 and x2 (one factor: half of their product lies below the window)."""
    from conformap.product import window_links

    rng = np.random.default_rng(0)
    n = 5000
    x, y = rng.uniform(0, 3, n), rng.uniform(0, 1.3, n)
    c = lambda p, t, s: np.sqrt(2) * np.cos(p * np.pi * t / s)  # noqa: E731
    x1, x2, x3, y1 = c(1, x, 3), c(2, x, 3), c(3, x, 3), c(1, y, 1.3)
    lam_x1, lam_x2, lam_y1 = (np.pi / 3) ** 2, (2 * np.pi / 3) ** 2, (np.pi / 1.3) ** 2
    xy = x1 * y1
    mixed = [(xy + x3) / np.sqrt(2), (xy - x3) / np.sqrt(2)]
    x4 = c(4, x, 3)  # beyond the window, so that all of it is computed
    phi = np.column_stack([np.ones(n), x1, x2, y1, *mixed, x4])
    lam = np.array([0.0, lam_x1, lam_x2, lam_y1, lam_x1 + lam_y1 - 0.01, lam_x1 + lam_y1,
                    16 * lam_x1])
    assert lam[2] < lam[3] < lam[4]
    delta = np.maximum(0.5 * lam[1], 0.05 * lam)
    single = np.abs((phi[:, 4:6] / np.linalg.norm(phi[:, 4:6], axis=0)).T
                    @ (xy / np.linalg.norm(xy))).max()
    assert single < 0.75  # no single eigenvector matches the product
    links = window_links([1, 2, 3], phi, lam, delta, np.arange(1, 7), gamma=0.75, purity=0.6)
    assert links[0, 2] > 0.95  # x1, y1: linked through the window
    assert links[0, 1] == 0  # x1, x2: one factor
