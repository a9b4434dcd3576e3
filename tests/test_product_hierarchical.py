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


def _votes_case():
    phi, lam, modes, _ = _box_modes()
    col = {m: i for i, m in enumerate(modes)}
    return phi, lam, col


def _sep(n, links):
    sep = np.zeros((n, n))
    for a, b in links:
        sep[a, b] = sep[b, a] = 0.9
    return sep


def test_refine_bins_moves_a_tied_eigenvector_to_its_own_factor():
    """x2 is linked to y1 alone, so the cut weight is the same in x's bin and in z's; the
    hierarchy had put it with z (two factors on one side of the top cut). The pair votes of
    the analytic eigenfunctions (x1 x2 splits into two frequencies, x2 z1 is one mode at the
    sum) move it to x."""
    from conformap.product import refine_bins

    phi, lam, c = _votes_case()
    x1, x2, y1, z1 = c[(1, 0, 0)], c[(2, 0, 0)], c[(0, 1, 0)], c[(0, 0, 1)]
    sep = _sep(phi.shape[1], [(x1, y1), (x1, z1), (y1, z1), (x2, y1)])
    bins = [np.array([x1]), np.array([y1]), np.array(sorted([z1, x2]))]
    out, steps = refine_bins(bins, sep, phi, lam, degeneracy=0.05, max_parts=3,
                             min_fraction=0.9, grow=False)
    got = sorted(sorted(b.tolist()) for b in out)
    assert got == sorted([sorted([x1, x2]), [y1], [z1]])
    assert len(steps) == 1 and steps[0]["split"] == "refine"


def test_refine_bins_splits_a_bin_that_holds_a_link():
    """Two bins, {x} and {y, z}, with the link y1-z1 left inside the second: one more part
    cuts it (all weight), and the pair vote of y1 z1 (one mode at the sum) supports it."""
    from conformap.product import refine_bins

    phi, lam, c = _votes_case()
    x1, x2, y1, z1 = c[(1, 0, 0)], c[(2, 0, 0)], c[(0, 1, 0)], c[(0, 0, 1)]
    sep = _sep(phi.shape[1], [(x1, y1), (x1, z1), (x2, y1), (x2, z1), (y1, z1)])
    bins = [np.array(sorted([x1, x2])), np.array(sorted([y1, z1]))]
    out, steps = refine_bins(bins, sep, phi, lam, degeneracy=0.05, max_parts=6,
                             min_fraction=0.9)
    assert sorted(sorted(b.tolist()) for b in out) == sorted([sorted([x1, x2]), [y1], [z1]])
    assert steps[-1]["cut_fraction"] == pytest.approx(1.0)


def test_refine_bins_does_not_split_a_factor_on_a_same_factor_link():
    """A chance link between two eigenfunctions of one factor (y1, y2: their product puts
    half below, pair vote -1/4) is not evidence of another factor: the bins stay."""
    from conformap.product import refine_bins

    phi, lam, c = _votes_case()
    x1, y1, y2 = c[(1, 0, 0)], c[(0, 1, 0)], c[(0, 2, 0)]
    sep = _sep(phi.shape[1], [(x1, y1), (x1, y2), (y1, y2)])
    bins = [np.array([x1]), np.array(sorted([y1, y2]))]
    out, steps = refine_bins(bins, sep, phi, lam, degeneracy=0.05, max_parts=6,
                             min_fraction=0.5)
    assert sorted(b.tolist() for b in out) == sorted(b.tolist() for b in bins)
    assert steps == []


def test_product_share_finds_a_product_whose_partner_is_spread_over_eigenvectors():
    """phi_v = a1 * b1 where b1 is spread evenly over six near-degenerate eigenvectors (a
    rotation of b1..b6): every single pair matches phi_v at 1/sqrt(6), below the mixed-mode
    threshold of factorize (MIXED_SHARE = 0.2 ** 0.5), the span of a1 times the six matches
    it exactly; factor eigenvectors score 0."""
    from conformap.product import product_share

    mixed_share = 0.2**0.5

    g = (np.arange(48) + 0.5) / 48
    u, w = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
    a1 = np.cos(np.pi * u)
    b = np.column_stack([np.cos(k * np.pi * w) for k in range(1, 7)])
    q = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0]
    q[:, 0] = 1 / np.sqrt(6)  # b1's coefficient on every mixed column
    q = np.linalg.qr(q)[0]
    mixed = b @ q.T  # column t = sum_k q[t, k] b_k: b1 share 1/6 on every column
    assert np.allclose(np.abs(q[:, 0]), 1 / np.sqrt(6))
    phi = np.column_stack([a1, mixed, a1 * b[:, 0]])
    lam = np.array([1.0, 5.0, 5.02, 5.04, 5.06, 5.08, 5.1, 6.05])
    delta = np.full(lam.shape, 0.5)
    share = product_share(phi, lam, [7, 0, 3], delta=delta, purity=0.6)
    assert share[0] == pytest.approx(1.0, abs=1e-9)
    assert share[1] == 0.0 and share[2] == pytest.approx(0.0, abs=1e-9)
    # each single pair alone: 1/sqrt(6), below the mixed-mode threshold
    unit = phi / np.linalg.norm(phi, axis=0)
    single = [abs(unit[:, 7] @ (p := unit[:, 0] * unit[:, t]) / np.linalg.norm(p))
              for t in range(1, 7)]
    assert max(single) == pytest.approx(1 / np.sqrt(6)) and max(single) < mixed_share


def test_merge_bins_joins_two_bins_of_one_factor_that_no_link_separates():
    """The hierarchy put x1 and x2 in bins of their own, and no triplet links them: their
    product cos(pi x) cos(2 pi x) = (cos(pi x) + cos(3 pi x)) / 2 lies half below its window
    and half above it (in no window), so they are one factor; y and z stay apart (linked)."""
    from conformap.product import merge_bins

    phi, lam, modes, _ = _box_modes(n_modes=80)
    c = {m: i for i, m in enumerate(modes)}
    x1, x2, y1, y2, z1 = c[(1, 0, 0)], c[(2, 0, 0)], c[(0, 1, 0)], c[(0, 2, 0)], c[(0, 0, 1)]
    sep = _sep(phi.shape[1], [(x1, y1), (x1, z1), (x2, y1), (x2, z1), (y1, z1), (y2, z1)])
    bins = [np.array([x1]), np.array([x2]), np.array(sorted([y1, y2])), np.array([z1])]
    delta = np.maximum(0.5 * lam[1], 0.05 * lam)
    out, steps = merge_bins(bins, sep, phi, lam, delta, np.arange(1, lam.size), purity=0.6)
    assert sorted(sorted(b.tolist()) for b in out) == sorted(
        [sorted([x1, x2]), sorted([y1, y2]), [z1]])
    assert len(steps) == 1 and steps[0]["split"] == "merge"
    assert steps[0]["low_share"] > 0.9  # analytic: all of the resolved product is below


def test_merge_bins_keeps_two_unlinked_bins_of_different_factors():
    """y and z share no link (their products were 'not found'), but y1 z1 is one
    eigenfunction at the sum of their eigenvalues, inside its window: not one factor. Among
    the unlinked pairs only x1, x2 (one factor) is merged."""
    from conformap.product import merge_bins, window_energy

    phi, lam, modes, _ = _box_modes(n_modes=80)
    c = {m: i for i, m in enumerate(modes)}
    x1, x2, y1, z1 = c[(1, 0, 0)], c[(2, 0, 0)], c[(0, 1, 0)], c[(0, 0, 1)]
    sep = _sep(phi.shape[1], [(x1, y1), (x1, z1), (x2, y1), (x2, z1)])
    bins = [np.array([x1]), np.array([x2]), np.array([y1]), np.array([z1])]
    delta = np.maximum(0.5 * lam[1], 0.05 * lam)
    cols = np.arange(1, lam.size)
    unit = phi / np.linalg.norm(phi, axis=0)
    e_win, e_low = window_energy(y1, z1, unit, lam, delta, cols)
    assert e_win == pytest.approx(1.0) and e_low == pytest.approx(0.0, abs=1e-12)
    out, _ = merge_bins(bins, sep, phi, lam, delta, cols, purity=0.6)
    assert sorted(sorted(b.tolist()) for b in out) == sorted([sorted([x1, x2]), [y1], [z1]])
    # never below two bins, and nothing to merge when every pair of bins is linked
    out, steps = merge_bins([np.array([x1]), np.array([y1]), np.array([z1])],
                            _sep(phi.shape[1], [(x1, y1), (x1, z1), (y1, z1)]), phi, lam,
                            delta, cols, purity=0.6)
    assert len(out) == 3 and steps == []


def test_rejoin_unsupported_joins_two_parts_of_one_factor_that_no_triplet_separates():
    """x1 and x2 were cut apart inside one earlier bin (as the rotor's halves of three-part
    images, n = 10,000, SNR 0.1, diagnosis.md section 13): no triplet joins them and their pair
    vote is that of one factor (-1/4), so they are one bin again; then x and y stay apart on
    their two triplets (y's vote with x alone would not), and z, which never shared a bin with
    them, is not judged."""
    from conformap.product import rejoin_candidates, rejoin_unsupported

    phi, lam, c = _votes_case()
    x1, x2, y1, z1 = c[(1, 0, 0)], c[(2, 0, 0)], c[(0, 1, 0)], c[(0, 0, 1)]
    top = [np.array(sorted([x1, x2, y1])), np.array([z1])]
    bins = [np.array([x1]), np.array([x2]), np.array([y1]), np.array([z1])]
    trip = np.array([[x1, y1, c[(1, 1, 0)]], [x2, y1, phi.shape[1] - 1]])
    sep = _sep(phi.shape[1], [(x1, y1), (x2, y1), (x1, x2)])
    # the candidates: the three pairs of the first earlier bin, never z
    cand = rejoin_candidates(bins, [top], trip, phi, lam, degeneracy=0.05)
    by_pair = {tuple(sorted(int(bins[t][0]) for t in c["bins"])): c for c in cand}
    assert set(by_pair) == {tuple(sorted(p)) for p in [(x1, x2), (x1, y1), (x2, y1)]}
    assert by_pair[tuple(sorted([x1, x2]))]["triplets"] == 0
    assert by_pair[tuple(sorted([x1, x2]))]["vote"] == pytest.approx(-0.25, abs=1e-6)
    assert by_pair[tuple(sorted([x1, y1]))]["triplets"] == 1
    assert by_pair[tuple(sorted([x1, y1]))]["vote"] == pytest.approx(0.25, abs=1e-6)
    out, steps = rejoin_unsupported(bins, [top], trip, sep, phi, lam, degeneracy=0.05)
    assert sorted(b.tolist() for b in out) == sorted([sorted([x1, x2]), [y1], [z1]])
    assert len(steps) == 1 and steps[0]["split"] == "rejoin"
    assert steps[0]["triplets"] == 0 and steps[0]["vote"] == pytest.approx(-0.25, abs=1e-6)
    assert 0 < steps[0]["cut_fraction"] <= 1


def test_rejoin_unsupported_keeps_two_factors_whose_votes_separate_them():
    """y and z shared an earlier bin and no triplet joins them, but each cross pair's product
    is one eigenfunction at the sum of the eigenvalues (vote +1/4 a pair): they stay apart.
    Never below two bins."""
    from conformap.product import REJOIN_MIN_TRIPLETS, rejoin_unsupported

    phi, lam, c = _votes_case()
    x1, y1, y2, z1, z2 = (c[(1, 0, 0)], c[(0, 1, 0)], c[(0, 2, 0)], c[(0, 0, 1)],
                          c[(0, 0, 2)])
    top = [np.array([x1]), np.array(sorted([y1, y2, z1, z2]))]
    bins = [np.array([x1]), np.array(sorted([y1, y2])), np.array(sorted([z1, z2]))]
    none = np.zeros((0, 3), dtype=np.int64)
    sep = _sep(phi.shape[1], [(y1, z1)])
    assert REJOIN_MIN_TRIPLETS == 1
    out, steps = rejoin_unsupported(bins, [top], none, sep, phi, lam, degeneracy=0.05)
    assert sorted(b.tolist() for b in out) == sorted(b.tolist() for b in bins) and steps == []
    out, steps = rejoin_unsupported(bins[1:], [top], none, sep, phi, lam, degeneracy=0.05)
    assert len(out) == 2 and steps == []


def test_rejoin_unsupported_counts_distinct_triplets_in_one_shared_earlier_bin():
    """The triplet count and the shared earlier bin decide, not the vote alone: x1 and x2
    (one factor, vote -1/4) stay apart when a triplet joins them (REJOIN_MIN_TRIPLETS = 1) or
    when no earlier bin held both; the same triplet found at two levels counts once; merges
    stop at two bins."""
    from conformap.product import rejoin_unsupported

    phi, lam, c = _votes_case()
    x1, x2, y1 = c[(1, 0, 0)], c[(2, 0, 0)], c[(0, 1, 0)]
    last = phi.shape[1] - 1
    top = [np.array(sorted([x1, x2])), np.array([y1])]
    bins = [np.array([x1]), np.array([x2]), np.array([y1])]
    sep = _sep(phi.shape[1], [(x1, y1), (x2, y1)])

    def run(trip, partitions=(top,), b=bins, **kw):
        out, steps = rejoin_unsupported(b, list(partitions), np.array(trip).reshape(-1, 3),
                                        sep, phi, lam, degeneracy=0.05, **kw)
        return sorted(m.tolist() for m in out), steps

    two = [[x1, x2, last], [x1, x2, last - 1]]
    assert run(two) == (sorted([[x1], [x2], [y1]]), [])
    assert run(two[:1]) == (sorted([[x1], [x2], [y1]]), [])  # one triplet is enough
    assert run([]) == (sorted([sorted([x1, x2]), [y1]]), run([])[1])  # none: joined
    # the same triplet twice (top search and a sub-search) is one: joined when two are needed
    out, steps = run([two[0], two[0]], min_triplets=2)
    assert out == sorted([sorted([x1, x2]), [y1]]) and steps[0]["triplets"] == 1
    # never in one earlier bin: not judged
    apart = [np.array([x1]), np.array(sorted([x2, y1]))]
    assert run([], partitions=(apart,)) == (sorted([[x1], [x2], [y1]]), [])
    # every vote abstaining (degeneracy 1) and no triplet, three bins of one earlier bin:
    # one merge, then it stops at two bins
    out, steps = rejoin_unsupported(bins, [[np.array(sorted([x1, x2, y1]))]],
                                    np.zeros((0, 3), dtype=np.int64), sep, phi, lam,
                                    degeneracy=1.0)
    assert len(out) == 2 and len(steps) == 1


def test_factorize_rejoins_a_factor_cut_in_two_on_images():
    """End to end (diagnosis.md section 13): two-factor images at SNR 0.1 whose rotor the
    hierarchy cut in two with no triplet between the halves (n = 2000, seed 140). The default
    rejoins them and finds the two factors; with the step off it finds three."""
    from unittest import mock

    import conformap.product._factorize as factorize_module
    from conformap.datasets import make_product_cryoem
    from conformap.product import factorize

    images, truth = make_product_cryoem(2000, snr=0.1, slide=False, rng=140)
    res = factorize(images, n_eigenvectors=50, rng=140)
    assert res.n_factors == 2
    assert [lv for lv in res.levels if lv["split"] == "rejoin"]
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    assert ev.confident_accuracy >= 0.9
    with mock.patch.object(factorize_module, "REJOIN", False):
        off = factorize(images, n_eigenvectors=50, rng=140)
    assert off.n_factors == 3
    assert not [lv for lv in off.levels if lv["split"] == "rejoin"]
