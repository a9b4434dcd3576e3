"""reproduce/ functions: plain parameters, and the loop score behind the "loop" claims."""

from __future__ import annotations

import numpy as np

from conformap.reproduce.earthmover import loop_score, resolve_sizes


def test_circle_in_order_is_a_loop():
    ang = np.sort(np.random.default_rng(0).uniform(0, 360, 200))
    emb = np.c_[np.cos(np.radians(ang)), 0.5 * np.sin(np.radians(ang))]
    s = loop_score(emb, ang)
    assert s["is_loop"] and abs(s["winding"]) == 1 and s["hole"] > 0.9
    assert loop_score(emb[:, ::-1], ang)["is_loop"]  # reflected: winding -1, still a loop


def test_star_and_scrambled_circle_are_not_loops():
    ang = np.sort(np.random.default_rng(1).uniform(0, 360, 300))
    # three-armed star: each angle sector maps onto one arm, out and back through the centre
    arm = (ang // 120).astype(int)
    r = np.abs(np.sin(np.radians(ang % 120) * 1.5))
    emb = np.c_[r * np.cos(np.radians(120 * arm)), r * np.sin(np.radians(120 * arm))]
    assert not loop_score(emb, ang)["is_loop"]
    circle = np.c_[np.cos(np.radians(ang)), np.sin(np.radians(ang))]
    shuffled = circle[np.random.default_rng(2).permutation(len(ang))]
    assert not loop_score(shuffled, ang)["is_loop"]  # a circle in the wrong order


def test_resolve_sizes_defaults():
    assert resolve_sizes(False, None, None) == ((25, 50, 100, 200), 2)
    assert resolve_sizes(True, 2, None) == ((25, 50, 100, 200, 400, 800), 2)
    assert resolve_sizes(False, 1, [20, 12]) == ((12, 20), 1)
