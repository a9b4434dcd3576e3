"""Bookkeeping of ``conformap reproduce product-manifold`` (the experiments are stubbed)."""

import json

import pytest

from conformap.reproduce import product_manifold as pm


def test_partial_runs_replace_the_time_of_a_rerun_step(tmp_path, monkeypatch):
    def fake_table1(cfg, out, seed, extra):
        extra["table1"] = {"n": 10, "rows": []}

    monkeypatch.setattr(pm, "_table1", fake_table1)
    for _ in range(3):  # the same step three times: its time is counted once
        assert pm.run(out=tmp_path, only=["table1"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["extra"]["seconds"]) == {"table1"}
    assert data["elapsed_s"] == pytest.approx(sum(data["extra"]["seconds"].values()))
    assert "stale" not in data
    text = (tmp_path / "results.md").read_text()
    assert "## Wall time of each step" in text and "| seconds |" in text
