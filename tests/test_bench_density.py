"""benchmarks.bench_density: the pure parts (scoring at large n, combining parallel parts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_density as B


def test_score_at_large_n_uses_a_subset_and_fits_rotation_and_reflection(monkeypatch):
    # circle_recovery's all-pairs term would need 37 GiB at 1e5; the subset keeps the fit fair:
    # a reflected, rotated exact embedding scores ~0 whatever n (subset size lowered: speed)
    monkeypatch.setattr(B, "SCORE_MAX_ITEMS", 400)
    n = 1000
    th = np.random.default_rng(0).uniform(0, 360, n)
    emb = np.c_[np.cos(np.radians(-th + 40)), np.sin(np.radians(-th + 40))]
    s = B.score(emb, th)
    assert s["median"] < 0.3 and s["p90"] < 0.6
    shuffled = B.score(emb[::-1], th)  # wrong pairing: large error, not hidden by the subset
    assert shuffled["median"] > 30


def test_combine_merges_parts_and_orders_robustness_rows():
    def row(data, n, seed):
        return {"data": data, "n": n, "seed": seed, "conformap": {}}

    a = {"command": "a", "load_average_start": [1.0], "small_n": [1],
         "robustness": [row(B.SETS[1][0], 1000, 0)]}
    b = {"command": "b", "load_average_start": [3.0], "truncation": {"n": 1},
         "robustness": [row(B.SETS[0][0], 3000, 1), row(B.SETS[0][0], 1000, 0)]}
    res = B.combine([a, b])
    assert res["small_n"] == [1] and res["truncation"] == {"n": 1}
    assert res["load_average_start"] == [3.0]
    assert [(r["data"], r["n"]) for r in res["robustness"]] == [
        (B.SETS[0][0], 1000), (B.SETS[0][0], 3000), (B.SETS[1][0], 1000)]


def test_combine_lets_a_later_part_replace_rows_and_sections():
    def row(data, n, seed, med):
        return {"data": data, "n": n, "seed": seed, "conformap": {"median": med}}

    old = {"command": "--combine", "commands": ["x", "--combine x"], "machine": "m0",
           "small_n": [1], "truncation": {"n": 1}, "notes": ["old note"],
           "robustness": [row("a", 1000, 0, 1.0), row("a", 3000, 0, 2.0)]}
    part = {"command": "p", "machine": "m1", "truncation": {"n": 2},
            "robustness": [row("a", 3000, 0, 0.5), row("a", 10000, 0, 0.7)]}
    res = B.combine([old, part], names=["density.json", "part.json"])
    got = {(r["n"], r["seed"]): r["conformap"]["median"] for r in res["robustness"]}
    assert got == {(1000, 0): 1.0, (3000, 0): 0.5, (10000, 0): 0.7}
    assert res["truncation"] == {"n": 2} and res["small_n"] == [1]
    assert res["machine"] == "m0" and res["commands"] == ["x", "--combine x"]
    assert res["notes"][0] == "old note"
    assert any("1 robustness rows" in x and "part.json" in x for x in res["notes"])
    assert any("truncation section of density.json" in x for x in res["notes"])


def test_combine_on_the_committed_density_json_replaces_only_the_rerun_cells(tmp_path):
    import json

    path = Path(B.__file__).resolve().parents[1] / "docs" / "large-n" / "density.json"
    if not path.exists():
        pytest.skip("docs/large-n/density.json absent")
    old = json.loads(path.read_text())
    key = (B.SETS[4][0], 3000, 0)
    new_row = {"data": key[0], "n": key[1], "seed": key[2],
               "conformap": {"median": 0.123, "p90": 0.456, "seconds": 1.0, "graph": "g"},
               "pydiffmap": {"status": B.NOT_RUN_PEERS}, "datafold": {"status": B.NOT_RUN_PEERS}}
    part = tmp_path / "part.json"
    part.write_text(json.dumps({"command": "-m benchmarks.bench_density --full --sections "
                                "robustness --ns 3000 --seeds 0 --peers none",
                                "machine": "x", "load_average_start": [0.0],
                                "load_average_end": [0.0], "robustness": [new_row]}))
    out = tmp_path / "density.json"
    assert B.main(["--combine", str(path), str(part), "--carry-peers", str(path),
                   "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    before = {B._row_key(r): r for r in old["robustness"]}
    after = {B._row_key(r): r for r in res["robustness"]}
    assert set(after) == set(before)
    for k, r in after.items():
        if k == key:
            assert r["conformap"] == new_row["conformap"]
            for p in B.PEERS:  # peers filled from the old row, marked as carried
                assert {x: y for x, y in r[p].items() if x != "carried"} == {
                    x: y for x, y in before[k][p].items() if x != "carried"}
        else:
            assert r == before[k]
    for section in ("small_n", "dimension", "truncation", "dense_speed", "noise_floor"):
        assert res.get(section) == old.get(section)
    assert res["commands"][:len(old["commands"])] == old["commands"]
    md = (tmp_path / "README.md").read_text()
    assert "0.12 / 0.46" in md


def test_carry_peers_fills_only_cells_not_run_by_data_n_and_seed():
    def new(data, n, seed, st=B.NOT_RUN_PEERS):
        return {"data": data, "n": n, "seed": seed, "conformap": {"median": 0.5, "p90": 1.0},
                "pydiffmap": {"status": st}, "datafold": {"status": st}}

    old = {"robustness": [
        {"data": "a", "n": 1000, "seed": 0, "conformap": {"median": 9.0, "p90": 9.0},
         "pydiffmap": {"median": 3.0, "p90": 4.0, "seconds": 2.0},
         "datafold": {"status": "timeout (150 s)"}},
        {"data": "a", "n": 1000, "seed": 1, "conformap": {},
         "pydiffmap": {"median": 7.0, "p90": 8.0}, "datafold": {"median": 7.0, "p90": 8.0}}]}
    res = {"robustness": [new("a", 1000, 0), new("a", 3000, 0),
                          new("a", 100000, 0, st="not run (n > 30000)")]}
    copied, missing = B.carry_peers(res, old, "old.json at abc123")
    assert (copied, missing) == (2, 2)  # seed 1 is not in res; n = 3000 is not in old
    r0, r1, r2 = res["robustness"]
    assert r0["conformap"]["median"] == 0.5  # conformap's own cell is never replaced
    assert r0["pydiffmap"] == {"median": 3.0, "p90": 4.0, "seconds": 2.0,
                               "carried": "old.json at abc123"}
    assert r0["datafold"]["status"] == "timeout (150 s)"
    assert r1["pydiffmap"]["status"] == B.NOT_RUN_PEERS
    assert r2["pydiffmap"] == {"status": "not run (n > 30000)"}
    assert B._cell(r0["pydiffmap"]).endswith(B.CARRIED_MARK)
    assert B._cell(r0["datafold"]) == "timeout (150 s) " + B.CARRIED_MARK


def test_carry_section_takes_a_missing_section_and_notes_it():
    res = {"truncation": {"n": 1}}
    old = {"dense_speed": [{"n": 1000}], "truncation": {"n": 2},
           "load_average_start": [1.0, 2.0, 3.0]}
    B.carry_section(res, old, "dense_speed", "x.json at abc")
    assert res["dense_speed"] == [{"n": 1000}]
    assert "dense_speed" in res["notes"][0] and "x.json at abc" in res["notes"][0]
    for bad, why in (("truncation", "a part has that section already"),
                     ("bogus", "unknown section"), ("noise_floor", "has no such section")):
        with pytest.raises(ValueError, match=why):
            B.carry_section(res, old, bad, "x.json at abc")


def test_load_carry_reads_a_file_or_a_commit(tmp_path):
    f = tmp_path / "old.json"
    f.write_text('{"robustness": []}')
    res, label = B.load_carry(str(f))
    assert res == {"robustness": []} and label.endswith("(uncommitted)")
    import shutil
    import subprocess

    root = Path(B.__file__).resolve().parents[1]
    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", str(root), "cat-file", "-e", "HEAD:docs/large-n/density.json"],
            capture_output=True).returncode != 0:
        pytest.skip("not a git checkout with docs/large-n/density.json committed")
    res, label = B.load_carry("HEAD:docs/large-n/density.json")
    assert "robustness" in res and label.startswith("docs/large-n/density.json at ")
    with pytest.raises(ValueError, match="git cannot show"):
        B.load_carry("HEAD:no/such/file.json")


def test_main_rejects_unknown_peers_and_carry_without_combine(tmp_path):
    with pytest.raises(SystemExit):
        B.main(["--peers", "bogus", "--sections", "truncation", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit):
        B.main(["--carry-peers", "x.json"])


def test_carry_peers_keeps_the_size_limit_status_of_a_part_that_did_not_run_peers():
    old = {"robustness": [{"data": "a", "n": 30000, "seed": 0, "conformap": {},
                           "pydiffmap": {"median": 1.0, "p90": 2.0},
                           "datafold": {"status": "not run (n > 10000)"}}]}
    res = {"robustness": [{"data": "a", "n": 30000, "seed": 0, "conformap": {},
                           "pydiffmap": {"status": B.NOT_RUN_PEERS},
                           "datafold": {"status": B.NOT_RUN_PEERS}}]}
    assert B.carry_peers(res, old, "src") == (1, 0)
    assert res["robustness"][0]["datafold"] == {"status": f"not run (n > {B.PEER_MAX['datafold']})"}
    assert res["robustness"][0]["pydiffmap"]["carried"] == "src"


def test_dimension_rules_refits_with_the_older_rules_and_restores_them(monkeypatch):
    import conformap.graph as G
    from conformap import pairwise_distances
    from conformap.scales import dense_neighbors, intrinsic_dimension

    monkeypatch.setattr(B, "SETS", [("noisy", 1.0, 0.01)])
    # the section is about the kNN path's rounded m; n = ADAPTIVE_MIN_ITEMS (the adaptive
    # kernel's first n on dense distances) runs dense (fast), rounded too
    monkeypatch.setattr(G, "UNROUNDED_DIMENSION", False)
    saved = G.DIMENSION_REFERENCE_ITEMS, G.DIMENSION_SPARSEST
    n = G.ADAPTIVE_MIN_ITEMS
    rows = B.dimension_rules(ns=(n,), seed=0)
    assert saved == (G.DIMENSION_REFERENCE_ITEMS, G.DIMENSION_SPARSEST)
    assert [r["rule"] for r in rows] == list(B.OLDER_DIMENSION_RULES)
    X, _ = B.clustered_circle(n, width=1.0, noise=0.01, seed=n)
    k = G.default_n_neighbors(n)
    _, nn = dense_neighbors(pairwise_distances(X, metric="l2"), k)
    assert rows[0]["m"] == max(1, round(intrinsic_dimension(nn)))  # pooled: every row
    assert rows[1]["m"] == G.normalization_dimension(nn)  # the sparsest quarter
