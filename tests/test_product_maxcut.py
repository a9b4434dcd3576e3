"""MAX-CUT / MAX-k-CUT SDP + rounding against exhaustive search."""

import itertools

import numpy as np
import pytest

from conformap.product import cut_weight, max_cut


def exhaustive(w, k):
    m = w.shape[0]
    best = 0.0
    for labels in itertools.product(range(k), repeat=m - 1):
        best = max(best, cut_weight(w, (0, *labels)))
    return best


def random_graph(m, seed, density=0.6):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.0, (m, m)) * (rng.uniform(size=(m, m)) < density)
    w = np.triu(w, 1)
    return w + w.T


@pytest.mark.parametrize("seed", range(6))
def test_max_cut_matches_exhaustive(seed):
    w = random_graph(9, seed)
    res = max_cut(w, rng=0)
    assert res.weight == pytest.approx(exhaustive(w, 2))
    assert res.sdp_bound >= res.weight - 1e-6
    assert res.labels[0] == 0


@pytest.mark.parametrize("seed", range(3))
def test_max_3_cut_matches_exhaustive(seed):
    w = random_graph(7, 10 + seed)
    res = max_cut(w, 3, rng=0)
    assert res.weight == pytest.approx(exhaustive(w, 3))
    assert set(res.labels.tolist()) <= {0, 1, 2}


def test_rounding_without_local_search_reaches_gw_bound():
    w = random_graph(10, 7)
    res = max_cut(w, local_search=False, rng=0)
    assert res.weight >= 0.878 * res.sdp_bound


def test_bipartite_graph_split_exactly():
    # a complete bipartite graph between {0,1,2} and {3,4}: the optimum separates them
    w = np.zeros((5, 5))
    w[np.ix_([0, 1, 2], [3, 4])] = 1.0
    w = w + w.T
    res = max_cut(w, rng=1)
    assert res.labels.tolist() == [0, 0, 0, 1, 1]


def test_deterministic_for_a_seed():
    w = random_graph(12, 3)
    a, b = max_cut(w, rng=5), max_cut(w, rng=5)
    np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.parametrize(
    ("w", "match"),
    [(np.ones((2, 3)), "square"), (-np.ones((3, 3)), "non-negative"),
     (np.triu(np.ones((3, 3))), "symmetric")],
)
def test_bad_weights(w, match):
    with pytest.raises(ValueError, match=match):
        max_cut(w)


def test_tiebreak_decides_between_equal_cuts():
    """Path a - b - c: {a, c} | {b} and, for k = 3, {a} | {b} | {c} or {a, c} | {b} | {}
    cut everything; with 3 parts a 4th vertex d linked only to b may join a's or c's part.
    The secondary weights (a repulsion between d and a) pick the partition with d with c,
    whatever the rounding's seed, and the cut weight is the maximum either way."""
    w = np.zeros((4, 4))
    for i, j in [(0, 1), (1, 2), (0, 2), (1, 3)]:
        w[i, j] = w[j, i] = 1.0
    t = np.zeros((4, 4))
    t[0, 3] = t[3, 0] = 0.25   # d and a: different factors
    t[2, 3] = t[3, 2] = -0.25  # d and c: one factor
    for seed in range(6):
        res = max_cut(w, 3, rng=seed, tiebreak=t)
        assert res.weight == pytest.approx(4.0)
        assert res.labels[3] == res.labels[2] != res.labels[0]
        plain = max_cut(w, 3, rng=seed)
        assert plain.weight == pytest.approx(4.0)  # equal weight: only the tie-break differs
    with pytest.raises(ValueError, match="tiebreak"):
        max_cut(w, 3, tiebreak=np.zeros((3, 3)))


def test_tiebreak_never_lowers_the_cut():
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 1, (9, 9))
    w = np.triu(w, 1) + np.triu(w, 1).T
    t = rng.normal(0, 10, (9, 9))
    for k in (2, 3):
        a = max_cut(w, k, rng=1)
        b = max_cut(w, k, rng=1, tiebreak=t)
        assert b.weight >= a.weight - 1e-9


def test_improve_cut_opens_a_part_for_links_left_inside_a_bin():
    """A complete 3-partite graph cut in two (two parts merged) leaves their links uncut; one
    more part and single-vertex moves reach the exhaustive MAX-3-CUT (all weight)."""
    from conformap.product import improve_cut

    parts = np.array([0, 0, 1, 1, 2, 2, 2])
    rng = np.random.default_rng(3)
    w = rng.uniform(0.5, 1.0, (7, 7)) * (parts[:, None] != parts[None, :])
    w = np.triu(w, 1)
    w = w + w.T
    merged = np.minimum(parts, 1)  # parts 1 and 2 in one bin
    out = improve_cut(w, merged, 3)
    assert cut_weight(w, out) == pytest.approx(exhaustive(w, 3))
    assert cut_weight(w, out) == pytest.approx(np.triu(w, 1).sum())
    assert np.unique(out).size == 3


@pytest.mark.parametrize("seed", range(4))
def test_improve_cut_ties_only_keeps_the_weight_and_never_empties_a_part(seed):
    from conformap.product import improve_cut

    w = random_graph(8, 20 + seed)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, 8)
    labels[:3] = [0, 1, 2]
    tb = rng.normal(size=(8, 8))
    tied = improve_cut(w, labels, 3, tiebreak=tb, ties_only=True)
    assert cut_weight(w, tied) == pytest.approx(cut_weight(w, labels))
    better = improve_cut(w, labels, 3, tiebreak=tb)
    assert cut_weight(w, better) >= cut_weight(w, labels) - 1e-12
    for lab in (tied, better):
        assert np.unique(lab).size == 3


def test_improve_cut_ties_follow_the_secondary_weights():
    """Vertex 3 is linked to vertex 1 only: parts 0 and 2 are equal for the cut, and the
    secondary weights (keep 3 with 0) decide."""
    from conformap.product import improve_cut

    w = np.zeros((4, 4))
    for a, b in [(0, 1), (0, 2), (1, 2), (1, 3)]:
        w[a, b] = w[b, a] = 1.0
    tb = np.zeros((4, 4))
    tb[0, 3] = tb[3, 0] = -0.2  # same factor
    tb[2, 3] = tb[3, 2] = 0.2
    out = improve_cut(w, np.array([0, 1, 2, 2]), 3, tiebreak=tb, ties_only=True)
    assert out.tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="labels"):
        improve_cut(w, np.array([0, 1, 5, 2]), 3)
