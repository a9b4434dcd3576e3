"""The benchmark suite's contract: every row has a check, and a failed check fails the run."""

from __future__ import annotations

import json

import numpy as np
import pytest

import benchmarks.__main__ as suite
from benchmarks._harness import check_result, pair_record, single_record, validate_record
from benchmarks.bench_product import diffusion_check, triplet_check
from benchmarks.bench_wemd import emd_agreement, wemd_pair_check


def _info(t):
    return {"time": t, "phases": {"total": t}, "peak_extra_mib": 1.0, "peak_rss_mib": 2.0}


def _fake_runner(passed):
    def run(cfg, log):
        check = check_result(passed, "equal within 0", diff=0.0 if passed else 1.0)
        return [pair_record("fake", {"n": 1}, {"ours": _info(1.0), "baseline": _info(2.0)}, check)]
    return run


@pytest.mark.parametrize(("passed", "code"), [(True, 0), (False, 1)])
def test_failed_check_fails_the_run(tmp_path, monkeypatch, capsys, passed, code):
    monkeypatch.setattr(suite, "RUNNERS", {"fake": _fake_runner(passed)})
    monkeypatch.setattr(suite, "EXTERNAL", {})
    monkeypatch.setattr(suite, "SUITES", {"quick": {"fake": {}}, "full": {"fake": {}}})
    assert suite.main(["--quick", "--out", str(tmp_path)]) == code
    report = json.loads((tmp_path / "quick.json").read_text())
    assert report["records"][0]["passed"] is passed
    assert bool(report["failed_checks"]) is (not passed)
    md = (tmp_path / "quick.md").read_text()
    assert ("**FAIL**" in md) is (not passed)


def test_runner_exception_fails_the_run(tmp_path, monkeypatch, capsys):
    def boom(cfg, log):
        raise RuntimeError("broken")

    monkeypatch.setattr(suite, "RUNNERS", {"boom": boom})
    monkeypatch.setattr(suite, "EXTERNAL", {})
    monkeypatch.setattr(suite, "SUITES", {"quick": {"boom": {}}})
    assert suite.main(["--out", str(tmp_path)]) == 1


def test_records_without_check_are_rejected():
    with pytest.raises(ValueError, match="check"):
        validate_record({"benchmark": "x", "params": {}, "passed": True, "check": {}})
    rec = single_record("scaling", "Case", {"n": 1}, _info(1.0))  # no self-check: fails
    assert rec["passed"] is False


def test_self_check_failure_fails_the_pair_row():
    ok = check_result(True, "t")
    bad = {**_info(2.0), "self_check": check_result(False, "oracle")}
    rec = pair_record("x", {}, {"ours": _info(1.0), "baseline": bad}, ok)
    assert rec["passed"] is False


def test_checks_can_fail():
    mu = np.linspace(1, 0.5, 20)
    assert diffusion_check(mu, mu + 1e-6)["passed"]
    assert not diffusion_check(mu, mu + 0.05)["passed"]  # e.g. a different operator
    t = {"triplets": np.array([[1, 2, 3]]), "best_score": np.array([0.9])}
    assert triplet_check(t, t)["passed"]
    assert not triplet_check(t, {"triplets": np.array([[1, 2, 4]]),
                                 "best_score": np.array([0.9])})["passed"]
    d = np.array([1.0, 2.0, 3.0])
    norms = np.array([1.0, 1.0, 1.0])
    assert wemd_pair_check(d, d, norms, 5)["passed"]
    assert not wemd_pair_check(d * 1.01, d, norms, 5)["passed"]
    assert emd_agreement(d * 2, d)["passed"]
    assert not emd_agreement(np.array([1.0, 10.0, 1.0]), d)["passed"]


def test_external_modules_register_in_one_line(tmp_path, monkeypatch, capsys):
    import sys
    import types

    mod = types.ModuleType("fake_bench")
    mod.SUITES = {"quick": {"k": 1}, "full": {"k": 2}}
    mod.run = _fake_runner(True)
    monkeypatch.setitem(sys.modules, "fake_bench", mod)
    monkeypatch.setattr(suite, "RUNNERS", {})
    monkeypatch.setattr(suite, "EXTERNAL", {"fake": "fake_bench"})
    assert suite.main(["--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "quick.json").read_text())["records"][0]["benchmark"] == "fake"


def test_external_failures_fail_the_run(tmp_path, monkeypatch, capsys):
    import sys
    import types

    mod = types.ModuleType("fake_bench_bad")
    mod.SUITES = {"quick": {}, "full": {}}
    mod.run = _fake_runner(False)
    monkeypatch.setitem(sys.modules, "fake_bench_bad", mod)
    monkeypatch.setattr(suite, "RUNNERS", {"ok": _fake_runner(True)})
    monkeypatch.setattr(suite, "SUITES", {"quick": {"ok": {}}})
    monkeypatch.setattr(suite, "EXTERNAL", {"bad": "fake_bench_bad",
                                            "gone": "benchmarks.no_such_module"})
    assert suite.main(["--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "quick.json").read_text())
    assert [f["benchmark"] for f in report["failed_checks"]] == ["fake"]
    assert [f["benchmark"] for f in report["failures"]] == ["gone"]
    assert suite.main(["--out", str(tmp_path), "--skip", "bad", "gone"]) == 0
    assert suite.main(["--out", str(tmp_path), "--only", "ok"]) == 0
    with pytest.raises(SystemExit):
        suite.main(["--out", str(tmp_path), "--only", "nope"])


@pytest.mark.parametrize("bandwidth", ["connect", "auto"])
def test_complete_kernel_oracle_equals_the_graph_when_nothing_is_dropped(bandwidth):
    """With every pair stored, the kNN problem is the complete kernel's: the approximation row
    then reports no dropped mass and the same eigenvalues (dense eigh vs the library's solver)."""
    from benchmarks.bench_product import (
        DiffusionApproximation,
        approximation_check,
        rectangle_graph,
    )

    case = DiffusionApproximation()
    case.n_top = 6
    case.X, case.graph, _ = rectangle_graph(120, bandwidth, n_neighbors=119)
    out, _ = case.measure(case.graph)
    check = approximation_check({k: np.asarray(v) for k, v in out.items()})
    assert check["passed"]
    assert check["dropped_mass_max"] < 1e-12
    assert check["max_abs_eigenvalue_diff_top"] < 1e-8
    # and a truncated graph drops mass and moves the eigenvalues
    case.X, case.graph, _ = rectangle_graph(400, bandwidth, n_neighbors=8)
    out, _ = case.measure(case.graph)
    check = approximation_check({k: np.asarray(v) for k, v in out.items()})
    assert check["dropped_mass_mean"] > 0.01 and check["max_abs_eigenvalue_diff_top"] > 1e-6
    out["max_unstored_affinity"] = np.float64(out["graph_max_dropped_affinity"] * 1.01)
    assert not approximation_check(out)["passed"]  # the graph's stated bound broken
