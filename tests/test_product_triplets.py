"""Algorithm 1 (triplet search): brute force, analytic eigenfunctions, no mutation, errors."""

import numpy as np
import pytest

from conformap.product import find_triplets, triplet_scores


def brute_force(phi, lam, delta, gamma):
    """The paper's Algorithm 1 written as a plain triple loop."""
    n_vec = phi.shape[1]
    out = []
    for k in range(n_vec):
        max_s, best = 0.0, None
        for i in range(k):
            for j in range(i + 1, k):
                if abs(lam[i] + lam[j] - lam[k]) < delta:
                    prod = phi[:, i] * phi[:, j]
                    s = abs(phi[:, k] @ prod) / (np.linalg.norm(phi[:, k]) * np.linalg.norm(prod))
                    if s > max_s:
                        max_s, best = s, (i, j)
        if max_s > gamma:
            out.append((best[0], best[1], k, max_s))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("delta", "gamma"), [(0.5, 0.2), (2.0, 0.0), (100.0, 0.3)])
def test_matches_brute_force_on_random_inputs(seed, delta, gamma):
    rng = np.random.default_rng(seed)
    n, n_vec = 40, 14
    phi = rng.standard_normal((n, n_vec))
    lam = np.sort(rng.uniform(0, 5, n_vec))
    got = find_triplets(phi, lam, delta=delta, gamma=gamma)
    want = brute_force(phi, lam, delta, gamma)
    assert [tuple(t) for t in got.triplets.tolist()] == [w[:3] for w in want]
    np.testing.assert_allclose(got.scores, [w[3] for w in want], rtol=1e-10)


def test_matches_brute_force_on_rectangle_eigenfunctions():
    # analytic Neumann eigenfunctions of [0, a] x [0, b] sampled at random points
    rng = np.random.default_rng(3)
    a, b = 1 + np.sqrt(np.pi), 1.5
    x, y = rng.uniform(0, a, 4000), rng.uniform(0, b, 4000)
    modes = [(m, n) for m in range(6) for n in range(4) if (m, n) != (0, 0)]
    lam = np.array([np.pi**2 * (m**2 / a**2 + n**2 / b**2) for m, n in modes])
    order = np.argsort(lam)
    modes, lam = [modes[i] for i in order], lam[order]
    phi = np.column_stack([np.cos(m * np.pi * x / a) * np.cos(n * np.pi * y / b)
                           for m, n in modes])
    got = find_triplets(phi, lam, delta=0.5, gamma=0.85)
    want = brute_force(phi, lam, 0.5, 0.85)
    assert [tuple(t) for t in got.triplets.tolist()] == [w[:3] for w in want]
    # every product eigenfunction is explained by its two analytic factors
    for i, j, k in got.triplets:
        mi, mj, mk = modes[i], modes[j], modes[k]
        assert {mi, mj} == {(mk[0], 0), (0, mk[1])}
    n_products = sum(1 for m, n in modes if m and n)
    assert len(got.triplets) == n_products


def test_does_not_modify_inputs():
    rng = np.random.default_rng(0)
    phi = rng.standard_normal((30, 8))
    lam = np.sort(rng.uniform(0, 3, 8))
    phi0, lam0 = phi.copy(), lam.copy()
    find_triplets(phi, lam, delta=1.0, gamma=0.1, keep_candidates=True)
    triplet_scores(phi, lam, 5)
    np.testing.assert_array_equal(phi, phi0)
    np.testing.assert_array_equal(lam, lam0)


def test_sign_invariance_and_candidates():
    rng = np.random.default_rng(1)
    phi = rng.standard_normal((50, 10))
    lam = np.sort(rng.uniform(0, 3, 10))
    a = find_triplets(phi, lam, delta=1.0, gamma=0.0, keep_candidates=True)
    flipped = phi * np.where(np.arange(10) % 2, -1.0, 1.0)
    b = find_triplets(flipped, lam, delta=1.0, gamma=0.0, keep_candidates=True)
    np.testing.assert_array_equal(a.triplets, b.triplets)
    np.testing.assert_allclose(a.scores, b.scores)
    assert a.candidates.shape[0] == a.n_candidates.sum()
    # the full score table agrees with the pruned search on admissible pairs
    _pairs, sim, err = triplet_scores(phi, lam, 9)
    sel = err < 1.0
    assert np.isclose(sim[sel].max(), a.best_score[9])


@pytest.mark.parametrize(
    ("phi_shape", "lam", "match"),
    [((10, 2), [0.1, 0.2], "at least 3"),
     ((10, 4), [0.1, 0.2, 0.3], "shape"),
     ((10, 4), [0.4, 0.2, 0.3, 0.5], "sorted"),
     ((10,), [0.1], "matrix")],
)
def test_bad_inputs(phi_shape, lam, match):
    with pytest.raises(ValueError, match=match):
        find_triplets(np.ones(phi_shape), np.array(lam), delta=1.0, gamma=0.5)


def test_per_eigenvector_delta_matches_brute_force():
    rng = np.random.default_rng(7)
    phi = rng.standard_normal((40, 12))
    lam = np.sort(rng.uniform(0, 5, 12))
    deltas = np.maximum(0.3, 0.2 * lam)
    got = find_triplets(phi, lam, delta=deltas, gamma=0.1)
    want = []
    for k in range(12):  # brute force with a per-k window
        want += [w for w in brute_force(phi[:, : k + 1], lam[: k + 1], deltas[k], 0.1)
                 if w[2] == k]
    assert [tuple(t) for t in got.triplets.tolist()] == [w[:3] for w in want]
    with pytest.raises(ValueError, match="delta"):
        find_triplets(phi, lam, delta=-deltas, gamma=0.1)


def test_irregular_per_eigenvector_delta_and_candidates():
    """A delta that jumps up and down (non-monotone window edges) and every candidate scored."""
    rng = np.random.default_rng(11)
    n_vec = 16
    phi = rng.standard_normal((50, n_vec))
    lam = np.sort(rng.uniform(0, 6, n_vec))
    deltas = rng.choice([0.05, 1.5], size=n_vec)
    got = find_triplets(phi, lam, delta=deltas, gamma=0.05, keep_candidates=True)
    unit = phi / np.linalg.norm(phi, axis=0)
    want_cand, want_score = [], []
    for k in range(n_vec):
        for i in range(k):
            for j in range(i + 1, k):
                if abs(lam[i] + lam[j] - lam[k]) < deltas[k]:
                    prod = unit[:, i] * unit[:, j]
                    want_cand.append((i, j, k))
                    want_score.append(abs(unit[:, k] @ prod) / np.linalg.norm(prod))
    assert [tuple(c) for c in got.candidates.tolist()] == want_cand
    np.testing.assert_allclose(got.candidate_scores, want_score, rtol=1e-10)
    np.testing.assert_array_equal(got.n_candidates,
                                  np.bincount([c[2] for c in want_cand], minlength=n_vec))
    want = []
    for k in range(n_vec):
        want += [w for w in brute_force(phi[:, : k + 1], lam[: k + 1], deltas[k], 0.05)
                 if w[2] == k]
    assert [tuple(t) for t in got.triplets.tolist()] == [w[:3] for w in want]


def test_float32_screening_resolves_differences_below_float32():
    # phi_4 is an even mix of the products phi_0 phi_1 and phi_2 phi_3, the second weighted by
    # w = 1 +- 3e-8 or 1e-7: the two pairs' similarities differ by ~1e-8..5e-8, at the level of
    # float32 rounding (float32 scores alone rank 3 of these 40 cases wrongly), so the
    # screening must hand the decision to float64.
    lam = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 9.0])
    for seed in range(10):
        rng = np.random.default_rng(seed)
        phi = rng.standard_normal((4000, 6))
        p01 = phi[:, 0] * phi[:, 1]
        p23 = phi[:, 2] * phi[:, 3]
        p23 -= p01 * (p01 @ p23) / (p01 @ p01)  # orthogonal products: the mix is even
        phi[:, 3] = p23 / phi[:, 2]
        for w in (1 + 3e-8, 1 - 3e-8, 1 + 1e-7, 1 - 1e-7):
            phi[:, 4] = p01 / np.linalg.norm(p01) + w * p23 / np.linalg.norm(p23)
            fast = find_triplets(phi, lam, delta=0.5, gamma=0.5)
            full = find_triplets(phi, lam, delta=0.5, gamma=0.5, keep_candidates=True)
            expected = [2, 3] if w > 1 else [0, 1]
            assert fast.best_pair[4].tolist() == expected
            assert full.best_pair[4].tolist() == expected
            assert fast.best_score[4] == pytest.approx(full.best_score[4], abs=1e-14)


def test_near_ties_go_to_the_first_pair():
    # two identical products: a tie up to rounding, won by the lexicographically first pair
    rng = np.random.default_rng(12)
    phi = rng.standard_normal((500, 5))
    phi[:, 2] = phi[:, 0] * 3.0  # phi_1 phi_2 = 3 phi_0 phi_1 exactly up to rounding
    phi[:, 3] = phi[:, 0] * phi[:, 1]
    lam = np.array([1.0, 1.0, 1.0, 2.0, 9.0])
    res = find_triplets(phi, lam, delta=0.5, gamma=0.5)
    assert res.best_pair[3].tolist() == [0, 1]


def test_degenerate_groups():
    from conformap.product import degenerate_groups

    lam = np.array([1.0, 1.01, 2.0, 3.0, 3.05, 3.1, 5.0])
    np.testing.assert_array_equal(degenerate_groups(lam, 0.05), [0, 0, 1, 2, 2, 2, 3])
    np.testing.assert_array_equal(degenerate_groups(lam, 0.0), np.arange(7))
    # a crowded run longer than max_size is not a degeneracy
    np.testing.assert_array_equal(degenerate_groups(lam, 0.05, max_size=2),
                                  [0, 0, 1, 2, 3, 4, 5])


def test_degenerate_pair_rotated_inside_its_eigenspace():
    # torus eigenfunctions: (cos t1, sin t1) a degenerate pair, cos t2, and their products; the
    # pair and the products are rotated by angles that differ by pi/4, as a finite sample may
    rng = np.random.default_rng(0)
    t1, t2 = rng.uniform(0, 2 * np.pi, (2, 4000))

    def rot(a, b, ang):
        return np.cos(ang) * a + np.sin(ang) * b, -np.sin(ang) * a + np.cos(ang) * b

    u1, u2 = rot(np.cos(t1), np.sin(t1), 0.3)
    p1, p2 = rot(np.cos(t1) * np.cos(t2), np.sin(t1) * np.cos(t2), 0.3 + np.pi / 4)
    phi = np.column_stack([u1, u2, np.cos(t2), p1, p2])
    lam = np.array([1.0, 1.01, 2.2, 3.2, 3.21])
    paper = find_triplets(phi, lam, delta=0.5, gamma=0.75)
    assert paper.triplets.shape[0] == 0  # each single product explains only cos(pi/4)
    np.testing.assert_allclose(paper.best_score[3:], np.sqrt(0.5), atol=0.03)
    got = find_triplets(phi, lam, delta=0.5, gamma=0.75, degeneracy=0.05)
    assert got.triplets[:, 2].tolist() == [3, 4]
    assert got.best_score[3:].min() > 0.99
    for k in (3, 4):  # both members of the pair are linked to cos t2
        assert sorted(map(tuple, got.best_members[k].tolist())) == [(0, 2), (1, 2)]
