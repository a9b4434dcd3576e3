"""complete_harmonics: a factor's later eigenvectors as polynomials of its leading one."""

from __future__ import annotations

import numpy as np

from conformap.product import (
    HARMONIC_FIT,
    complete_harmonics,
    harmonic_basis,
    leading_count,
    unmix_bins,
)


def _columns(n=3000, mix=(0.8, 0.6), seed=0):
    # Oracle: analytic eigenfunctions of two intervals. Column 3 / 4 are a rotation of the
    # x factor's second mode cos(2 pi x) with the product cos(pi x) cos(pi y), at nearly the
    # same eigenvalue, as the graph returns near-degenerate eigenvectors.
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(size=n), rng.uniform(size=n)
    unit = lambda v: (v - v.mean()) / np.linalg.norm(v - v.mean())  # noqa: E731
    x1, y1 = unit(np.cos(np.pi * x)), unit(np.cos(np.pi * y))
    x2, p11 = unit(np.cos(2 * np.pi * x)), unit(np.cos(np.pi * x) * np.cos(np.pi * y))
    p11 = unit(p11 - (p11 @ x2) * x2)
    a, b = mix
    phi = np.column_stack([np.full(n, n**-0.5), x1, y1, a * x2 + b * p11, -b * x2 + a * p11])
    lam = np.array([0.0, 1.0, 1.5, 2.45, 2.5])
    return phi, lam, x2, p11


def test_harmonic_basis_spans_polynomials_of_the_leading_eigenvector():
    phi, _, x2, _ = _columns()
    q = harmonic_basis(phi[:, [1]])
    assert q.shape[1] == 3  # HARMONIC_DEGREE
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-10)
    assert harmonic_basis(phi[:, [1, 2]]).shape[1] == 9
    assert np.linalg.norm(q.T @ x2) ** 2 > 0.99  # cos 2x = 2 cos^2 x - 1 (1 % clipped)


def test_rotated_second_mode_is_separated_and_added_to_its_factor():
    phi, lam, x2, p11 = _columns()
    new_phi, new_lam, bins, steps = complete_harmonics([np.array([1]), np.array([2])], phi,
                                                       lam, np.array([3, 4]))
    assert [s["kind"] for s in steps] == ["add"] and steps[0]["bin"] == 0
    assert steps[0]["fit"] >= HARMONIC_FIT
    c = steps[0]["column"]
    assert bins[0].tolist() == sorted([1, c]) and bins[1].tolist() == [2]
    other = 7 - c  # the window's other column: the product, separated
    u = lambda v: v / np.linalg.norm(v)  # noqa: E731
    assert (u(new_phi[:, c]) @ x2) ** 2 > 0.99
    assert (u(new_phi[:, other]) @ p11) ** 2 > 0.99
    # Rayleigh quotients of the rotation, in increasing order over the window's columns
    assert 2.45 <= new_lam[3] <= new_lam[4] <= 2.5
    np.testing.assert_array_equal(new_phi[:, :3], phi[:, :3])  # nothing else is touched
    np.testing.assert_array_equal(phi, _columns()[0])  # the input is not modified


def test_a_binned_mixed_second_mode_is_cleaned_in_place():
    phi, lam, x2, _ = _columns(mix=(0.9, 0.436))
    new_phi, _, bins, steps = complete_harmonics([np.array([1, 3]), np.array([2])], phi, lam,
                                                 np.array([4]), clean=True)
    assert [(s["kind"], s["column"]) for s in steps] == [("clean", 3)]
    assert bins[0].tolist() == [1, 3]
    assert (new_phi[:, 3] / np.linalg.norm(new_phi[:, 3]) @ x2) ** 2 > 0.99


def test_a_product_alone_is_never_added():
    phi, lam, _, _ = _columns(mix=(0.0, 1.0))  # column 3: the product only
    _, _, bins, steps = complete_harmonics([np.array([1]), np.array([2])], phi[:, :4],
                                           lam[:4], np.array([3]))
    assert steps == [] and [b.tolist() for b in bins] == [[1], [2]]


def test_factorize_with_harmonics_readds_the_box_z2_that_the_hierarchy_left_out():
    # Oracle: the box's analytic eigenfunctions (conformap.evaluate). The hierarchical
    # sub-split of {1, 4, 5} leaves z2 (phi_4) out; as a polynomial of z1 it is re-added.
    from conformap.datasets import make_box
    from conformap.evaluate import factor_assignment
    from conformap.product import factorize

    X, truth = make_box(1500, sides=(1.0, 1.6, 2.5), rng=0)
    res = factorize(X, n_eigenvectors=30, n_factors=3, hierarchical=True, harmonics=True, rng=0)
    steps = [st for lv in res.levels if lv["split"] == "harmonics" for st in lv["steps"]]
    assert [(st["kind"], st["column"]) for st in steps] == [("add", 4)]
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    row = {int(c): r for r, c in enumerate(ev.columns)}[4]
    assert ev.correct[row] and ev.confident[row] and ev.confident_accuracy == 1.0
    b = next(i for i, f in enumerate(res.factors) if 4 in f.tolist())
    conf = res.confidence[b][res.factors[b].tolist().index(4)]
    assert 0 < conf <= steps[0]["fit"]  # fit x the bin's leading confidence


def test_a_vector_gathered_from_many_window_eigenvectors_is_not_taken():
    # Oracle: the analytic x2 = cos(2 pi x), spread evenly over a window of 6 eigenvectors
    # (each 1/6 of it, the rest products cos(pi x) cos(k pi y) and noise): the polynomials of
    # x1 still find x2 in the window's span (fit > 0.99), but a vector made of six
    # eigenvectors is what a noisy lead's polynomials gather from a crowded window
    # (HARMONIC_MAX_SPREAD), so it is not added; spread over two it is.
    from conformap.product import HARMONIC_MAX_SPREAD, participation

    n = 3000
    rng = np.random.default_rng(1)
    x, y = rng.uniform(size=n), rng.uniform(size=n)
    unit = lambda v: (v - v.mean()) / np.linalg.norm(v - v.mean())  # noqa: E731
    x1, y1 = unit(np.cos(np.pi * x)), unit(np.cos(np.pi * y))
    others = [unit(np.cos(np.pi * x) * np.cos(k * np.pi * y)) for k in (1, 2, 3)]
    others += [unit(rng.standard_normal(n)) for _ in range(2)]
    block = np.linalg.qr(np.column_stack([unit(np.cos(2 * np.pi * x)), *others]))[0]
    # an orthogonal M whose row 0 (x2's coefficients on the mixed columns) is 6^-1/2 each
    rot = np.linalg.qr(np.column_stack([np.ones(6), rng.standard_normal((6, 5))]))[0].T
    mixed = block @ rot
    assert participation(rot[0]) > HARMONIC_MAX_SPREAD
    phi = np.column_stack([np.full(n, n**-0.5), x1, y1, mixed])
    lam = np.array([0.0, 1.0, 1.5, 2.45, 2.46, 2.47, 2.48, 2.49, 2.5])
    _, _, bins, steps = complete_harmonics([np.array([1]), np.array([2])], phi, lam,
                                           np.arange(3, 9))
    assert steps == [] and [b.tolist() for b in bins] == [[1], [2]]
    # without the spread rule the polynomial fit alone takes it
    _, _, _, loose = complete_harmonics([np.array([1]), np.array([2])], phi, lam,
                                        np.arange(3, 9), max_spread=np.inf, min_share=0.0)
    assert [s["kind"] for s in loose] == ["add"] and loose[0]["fit"] > 0.99
    # the same harmonic in two columns (a 0.8 / 0.6 rotation with a product) is added
    phi2, lam2, _, _ = _columns()
    _, _, bins2, steps2 = complete_harmonics([np.array([1]), np.array([2])], phi2, lam2,
                                             np.array([3, 4]))
    assert [s["kind"] for s in steps2] == ["add"] and steps2[0]["spread"] <= HARMONIC_MAX_SPREAD


def test_clean_products_rotates_another_bins_product_out_of_a_binned_eigenvector():
    # Oracle: column 3 = 0.9 cos(2 pi x) + 0.436 cos(pi x) cos(pi y), binned with x; the
    # product of the bins' own x1 and y1 lies in its window (column 4): taken out, column 3
    # is the analytic x2 again, and the product goes to column 4.
    from conformap.product import clean_products

    phi, lam, x2, p11 = _columns(mix=(0.9, 0.436))
    new_phi, new_lam, steps = clean_products([np.array([1, 3]), np.array([2])], phi, lam,
                                             np.array([4]))
    assert [(s["column"], s["products"]) for s in steps] == [(3, [[1, 2]])]
    assert abs(steps[0]["removed"] - 0.436**2) < 0.02
    u = lambda v: v / np.linalg.norm(v)  # noqa: E731
    assert (u(new_phi[:, 3]) @ x2) ** 2 > 0.99
    assert (u(new_phi[:, 4]) @ p11) ** 2 > 0.99
    np.testing.assert_array_equal(new_phi[:, :3], phi[:, :3])
    # a clean factor eigenvector is left as it is
    clean, _, _, _ = _columns(mix=(1.0, 0.0))
    _, _, none = clean_products([np.array([1, 3]), np.array([2])], clean, lam, np.array([4]))
    assert none == []


def test_factorize_clean_products_on_the_rectangle_keeps_every_assignment_right(monkeypatch):
    # Oracle: the rectangle's analytic eigenfunctions (conformap.evaluate). Same spectrum with
    # and without clean_products: the bins are the same, every confidently identified binned
    # eigenvector stays right, and no factor loses a confident eigenvector (on this seed the
    # x factor gains one, diagnosis.md section 11). unmix_bins, which gains the same one, is
    # off here so that clean_products is measured alone.
    import conformap.product._harmonics as harmonics_module
    from conformap.datasets import make_rectangle
    from conformap.evaluate import factor_assignment
    from conformap.product import factorize_spectrum, laplacian_spectrum

    monkeypatch.setattr(harmonics_module, "UNMIX_BINS", False)
    X, truth = make_rectangle(1500, rng=4)
    spec = laplacian_spectrum(X, n_eigenvectors=100, rng=0)
    per, bins = {}, {}
    for clean in (False, True):
        res = factorize_spectrum(spec, rng=0, clean_products=clean)
        bins[clean] = sorted(sorted(f.tolist()) for f in res.factors)
        ev = factor_assignment(res.factors, res.eigenvectors, truth)
        ok = ev.confident & (ev.predicted >= 0)
        assert ev.confident_accuracy == 1.0
        per[clean] = [int((ok & ev.correct & (ev.true_label == f)).sum()) for f in range(2)]
        steps = [st for lv in res.levels if lv["split"] == "products" for st in lv["steps"]]
        assert bool(steps) == clean
    assert bins[True] == bins[False]
    assert all(a >= b for a, b in zip(per[True], per[False], strict=True))
    assert per[True] != per[False]


def test_a_vector_that_no_window_eigenvector_holds_half_of_is_not_taken_with_min_share():
    # Oracle: the analytic x2 spread over three window eigenvectors with squared coefficients
    # 0.38 / 0.38 / 0.23 (spread 2.87, under HARMONIC_MAX_SPREAD): the spread rule takes it;
    # the share bound HARMONIC_MIN_SHARE = 0.5 (diagnosis.md section 12) does not, and the
    # 0.8 / 0.6 rotation (shares 0.64 / 0.36) passes both.
    from conformap.product import HARMONIC_MAX_SPREAD, HARMONIC_MIN_SHARE, participation

    n = 3000
    rng = np.random.default_rng(2)
    x, y = rng.uniform(size=n), rng.uniform(size=n)
    unit = lambda v: (v - v.mean()) / np.linalg.norm(v - v.mean())  # noqa: E731
    x1, y1 = unit(np.cos(np.pi * x)), unit(np.cos(np.pi * y))
    others = [unit(np.cos(np.pi * x) * np.cos(k * np.pi * y)) for k in (1, 2)]
    block = np.linalg.qr(np.column_stack([unit(np.cos(2 * np.pi * x)), *others]))[0]
    row0 = np.array([0.62, 0.62, 0.48]) / np.linalg.norm([0.62, 0.62, 0.48])
    rot = np.linalg.qr(np.column_stack([row0, rng.standard_normal((3, 2))]))[0].T
    rot[0] = row0 * np.sign(rot[0] @ row0)
    assert participation(rot[0]) <= HARMONIC_MAX_SPREAD and np.max(rot[0] ** 2) < 0.5
    phi = np.column_stack([np.full(n, n**-0.5), x1, y1, block @ rot])
    lam = np.array([0.0, 1.0, 1.5, 2.45, 2.47, 2.5])
    args = ([np.array([1]), np.array([2])], phi, lam, np.arange(3, 6))
    loose = complete_harmonics(*args, min_share=0.0)[3]
    assert [s["kind"] for s in loose] == ["add"] and loose[0]["share"] < 0.5
    assert HARMONIC_MIN_SHARE == 0.5 and complete_harmonics(*args)[3] == []
    phi2, lam2, _, _ = _columns()
    steps2 = complete_harmonics([np.array([1]), np.array([2])], phi2, lam2, np.array([3, 4]))[3]
    assert [s["kind"] for s in steps2] == ["add"] and steps2[0]["share"] >= 0.5


def test_clean_false_leaves_the_bins_own_members_alone():
    # HARMONIC_CLEAN (off): the binned mixed second mode of the test above stays as it is
    from conformap.product import HARMONIC_CLEAN

    phi, lam, _, _ = _columns(mix=(0.9, 0.436))
    for kw in ({"clean": False}, {} if not HARMONIC_CLEAN else {"clean": False}):
        new_phi, _, bins, steps = complete_harmonics([np.array([1, 3]), np.array([2])], phi,
                                                     lam, np.array([4]), **kw)
        assert all(s["kind"] == "add" for s in steps) and bins[0].tolist()[:2] == [1, 3]
        np.testing.assert_array_equal(new_phi[:, 3], phi[:, 3])


def test_cross_product_share_names_the_product_of_two_bins():
    # Oracle: cos(pi x) cos(pi y) is the product of the two bins' leads; cos(2 pi x), a
    # function of x alone, is orthogonal to it by independence (chance overlap ~ 1 / n).
    from conformap.product import cross_product_share

    phi, _, x2, p11 = _columns()
    share, pair = cross_product_share(p11, phi, [np.array([1]), np.array([2])])
    assert pair == (1, 2) and share > 0.99
    share, _ = cross_product_share(x2, phi, [np.array([1]), np.array([2])])
    assert share < 0.01
    assert cross_product_share(x2, phi, [np.array([1, 2]), np.array([], dtype=int)]) == (0.0,
                                                                                       None)


def test_an_addition_that_is_a_product_of_two_bins_is_refused():
    # A product that the bin's polynomials would take (min_fit lowered so that the fit
    # alone lets it in: the three-part images' phi_3 of diagnosis.md section 13 fitted at
    # 0.983) is refused by the product test, and taken without it.
    phi, lam, _, p11 = _columns(mix=(0.0, 1.0))
    kw = {"min_fit": -1.0, "max_spread": 10.0, "min_share": 0.0}
    _, _, bins, steps = complete_harmonics([np.array([1]), np.array([2])], phi[:, :4],
                                           lam[:4], np.array([3]), **kw)
    assert steps == [] and [b.tolist() for b in bins] == [[1], [2]]
    _, _, bins, steps = complete_harmonics([np.array([1]), np.array([2])], phi[:, :4],
                                           lam[:4], np.array([3]), max_product=1.01, **kw)
    assert [(s["kind"], s["column"]) for s in steps] == [("add", 3)]
    assert steps[0]["product"] > 0.99
    # a right addition is taken with the test on, and records its (small) product share
    _, _, bins, steps = complete_harmonics([np.array([1]), np.array([2])], *_columns()[:2],
                                           np.array([3, 4]))
    assert [s["kind"] for s in steps] == ["add"] and steps[0]["product"] < 0.01


def _mixed_second_modes(n=3000, angle=0.5, seed=1):
    # Oracle: two intervals' analytic eigenfunctions; each factor's second mode cos(2 pi x),
    # cos(2 pi y) returned rotated by `angle` with the other's, at nearly equal eigenvalues
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(size=n), rng.uniform(size=n)
    unit = lambda v: (v - v.mean()) / np.linalg.norm(v - v.mean())  # noqa: E731
    x1, y1, x2, y2 = (unit(np.cos(k * np.pi * t)) for k, t in ((1, x), (1, y), (2, x), (2, y)))
    y2 = unit(y2 - (y2 @ x2) * x2)
    c, s = np.cos(angle), np.sin(angle)
    phi = np.column_stack([np.full(n, n**-0.5), x1, y1, c * x2 + s * y2, -s * x2 + c * y2])
    lam = np.array([0.0, 1.0, 1.1, 4.0, 4.2])
    return phi, lam, x2, y2


def test_unmix_bins_rotates_two_bins_mixed_modes_back_to_their_factors():
    phi, lam, x2, y2 = _mixed_second_modes()
    bins = [np.array([1, 3]), np.array([2, 4])]
    new_phi, new_lam, steps = unmix_bins(bins, phi, lam)
    u = lambda v: v / np.linalg.norm(v)  # noqa: E731
    assert (u(new_phi[:, 3]) @ x2) ** 2 > 0.99 and (u(new_phi[:, 4]) @ y2) ** 2 > 0.99
    assert u(new_phi[:, 3]) @ phi[:, 3] > 0 and u(new_phi[:, 4]) @ phi[:, 4] > 0  # signs kept
    (st,) = steps
    assert st["columns"] == [3, 4] and st["bins"] == [0, 1]
    assert min(st["fit_after"]) > 0.99 > max(st["fit_before"])
    np.testing.assert_allclose(st["kept"], np.cos(0.5) ** 2, atol=0.01)
    # an orthogonal rotation: the leads untouched, the pair orthonormal, the trace kept
    np.testing.assert_array_equal(new_phi[:, :3], phi[:, :3])
    np.testing.assert_allclose(new_phi[:, 3:].T @ new_phi[:, 3:], np.eye(2), atol=1e-10)
    np.testing.assert_allclose(new_lam[3:].sum(), lam[3:].sum())
    np.testing.assert_allclose(new_lam[3:], [4.0 + 0.2 * np.sin(0.5) ** 2,
                                             4.2 - 0.2 * np.sin(0.5) ** 2], atol=5e-3)


def test_unmix_bins_leaves_unmixed_far_or_same_bin_columns_alone():
    phi, lam, _, _ = _mixed_second_modes(angle=0.0)
    bins = [np.array([1, 3]), np.array([2, 4])]
    assert unmix_bins(bins, phi, lam)[2] == []  # already separated
    mixed, lam_m, _, _ = _mixed_second_modes()
    far = lam_m.copy()
    far[4] = 5.0  # beyond the 10 % window of 4.0: not near-degenerate, not rotated
    assert unmix_bins(bins, mixed, far)[2] == []
    # both in one bin: the sum of their fits does not depend on the rotation
    one = [np.array([1, 3, 4]), np.array([2])]
    new_phi, _, steps = unmix_bins(one, mixed, lam_m)
    assert steps == [] and np.array_equal(new_phi, mixed)


def test_leading_count_is_two_for_a_degenerate_pair_only():
    lam = np.array([0.0, 1.0, 1.05, 4.0])
    assert leading_count([1, 2], lam) == 2  # a circle's cos / sin
    assert leading_count([1, 3], lam) == 1  # an interval's first and second mode
    assert leading_count([1], lam) == 1


def test_factorize_unmix_bins_on_the_rectangle_gains_a_confident_eigenvector(monkeypatch):
    # Oracle: the rectangle's analytic eigenfunctions. Same spectrum with and without the
    # step: same bins, every confidently identified eigenvector right, none lost, and the
    # y factor's phi17, rotated with the x factor's phi19 (eigenvalues within 10 %), becomes
    # one (diagnosis.md section 14)
    import conformap.product._harmonics as harmonics_module
    from conformap.datasets import make_rectangle
    from conformap.evaluate import factor_assignment
    from conformap.product import factorize_spectrum, laplacian_spectrum

    X, truth = make_rectangle(1500, rng=4)
    spec = laplacian_spectrum(X, n_eigenvectors=100, rng=0)
    per, bins, steps = {}, {}, {}
    for on in (False, True):
        monkeypatch.setattr(harmonics_module, "UNMIX_BINS", on)
        res = factorize_spectrum(spec, rng=0)
        bins[on] = [f.tolist() for f in res.factors]
        ev = factor_assignment(res.factors, res.eigenvectors, truth)
        ok = ev.confident & (ev.predicted >= 0)
        assert ev.confident_accuracy == 1.0
        per[on] = [int((ok & ev.correct & (ev.true_label == f)).sum()) for f in range(2)]
        steps[on] = [st for lv in res.levels if lv["split"] == "unmix_bins"
                     for st in lv["steps"]]
    assert bins[True] == bins[False] and steps[False] == []
    assert [st["columns"] for st in steps[True]] == [[17, 19]]
    assert all(a >= b for a, b in zip(per[True], per[False], strict=True))
    assert sum(per[True]) == sum(per[False]) + 1


def test_unmix_bins_three_bins_eigenvalues_are_rayleigh_quotients_and_signs_kept():
    # Oracle: three intervals' analytic second modes, rotated by a 3 x 3 rotation near the
    # identity and returned with distinct eigenvalues; every column comes back, its overlap
    # with the column it replaces positive, its eigenvalue sum_i (v_i . v'_c)^2 lambda_i
    from scipy.linalg import expm

    rng = np.random.default_rng(3)
    n = 4000
    t = rng.uniform(size=(3, n))
    unit = lambda v: (v - v.mean()) / np.linalg.norm(v - v.mean())  # noqa: E731
    leads = [unit(np.cos(np.pi * x)) for x in t]
    modes = np.linalg.qr(np.column_stack([unit(np.cos(2 * np.pi * x)) for x in t]))[0]
    a = np.array([[0.0, 0.3, -0.2], [-0.3, 0.0, 0.25], [0.2, -0.25, 0.0]])
    mixed = modes @ expm(a)  # a rotation: the exponential of a skew-symmetric matrix
    phi = np.column_stack([np.full(n, n**-0.5), *leads, mixed])
    lam = np.array([0.0, 1.0, 1.1, 1.2, 4.0, 4.1, 4.3])
    bins = [np.array([1, 4]), np.array([2, 5]), np.array([3, 6])]
    new_phi, new_lam, steps = unmix_bins(bins, phi, lam)
    assert [st["columns"] for st in steps] == [[4, 5, 6]]
    u = new_phi[:, 4:] / np.linalg.norm(new_phi[:, 4:], axis=0)
    np.testing.assert_array_less(0.99, (u * modes).sum(axis=0) ** 2)
    assert ((u * phi[:, 4:]).sum(axis=0) > 0).all()
    np.testing.assert_allclose(new_lam[4:], ((phi[:, 4:].T @ u) ** 2).T @ lam[4:], atol=1e-9)


def test_unmix_bins_does_not_swap_two_columns():
    # mixed by more than 45 degrees the best rotation swaps the columns' contents: left alone
    phi, lam, _, _ = _mixed_second_modes(angle=1.2)
    new_phi, _, steps = unmix_bins([np.array([1, 3]), np.array([2, 4])], phi, lam)
    assert steps == [] and np.array_equal(new_phi, phi)
