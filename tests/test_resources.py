"""Pre-flight memory/time estimates and the dense / kNN / stop decision (conformap.resources)."""

from __future__ import annotations

import numpy as np
import pytest

from conformap.cli import main
from conformap.io import write_mrc
from conformap.resources import (
    DENSE_NN_ARRAYS,
    ResourceError,
    available_memory,
    estimate_all_pairs,
    format_bytes,
    measure_throughput,
    parse_bytes,
    plan_all_pairs,
)

GiB = 2**30


def test_dense_estimate_counts_the_arrays():
    est = estimate_all_pairs(1000, 100_000, dtype=np.float32, method="dense",
                             throughput=1e9)
    assert est.memory["features"] == 1000 * 100_000 * 4
    assert est.memory["distances"] + est.memory["diffusion"] == DENSE_NN_ARRAYS * 8 * 1000**2
    assert est.memory["baseline"] > 0
    assert est.peak_bytes == sum(est.memory.values())
    assert est.seconds["distances"] == pytest.approx(1000 * 999 / 2 * 1e5 / 1e9)
    assert "dense path for n=1000" in est.summary()


def test_knn_memory_is_linear_in_n():
    a = estimate_all_pairs(10_000, 1000, method="knn", features_in_memory=False, baseline=0)
    b = estimate_all_pairs(20_000, 1000, method="knn", features_in_memory=False, baseline=0)
    assert 1.9 < b.peak_bytes / a.peak_bytes < 2.3
    d = estimate_all_pairs(20_000, 1000, method="dense", features_in_memory=False, baseline=0)
    assert d.peak_bytes > 50 * b.peak_bytes


def test_wavelet_transform_time_is_included():
    est = estimate_all_pairs(100, 1000, n_voxels=500, transform_throughput=1e4)
    assert est.seconds["transform"] == pytest.approx(5.0)
    assert est.memory["densities"] == 100 * 500 * 4


def test_plan_auto_prefers_dense_then_knn_then_stops():
    n, d = 5000, 10_000
    dense = estimate_all_pairs(n, d, method="dense")
    knn = estimate_all_pairs(n, d, method="knn")
    assert plan_all_pairs(n, d, memory_limit=10 * dense.peak_bytes,
                          dense_max_items=10_000).method == "dense"
    assert plan_all_pairs(n, d, memory_limit=10 * dense.peak_bytes).method == "knn"  # n > 3000
    mid = (knn.peak_bytes + dense.peak_bytes) // 2
    assert plan_all_pairs(n, d, memory_limit=mid, dense_max_items=10_000).method == "knn"
    with pytest.raises(ResourceError, match="even the k-nearest-neighbour path"):
        plan_all_pairs(n, d, memory_limit=knn.peak_bytes // 2)


def test_explicit_dense_that_does_not_fit_names_the_option():
    n, d = 5000, 10_000
    knn = estimate_all_pairs(n, d, method="knn")
    with pytest.raises(ResourceError, match=r"use method='knn' \(memory ~.*\), or raise "
                                            r"memory_limit") as info:
        plan_all_pairs(n, d, method="dense", memory_limit=knn.peak_bytes + 1)
    assert isinstance(info.value, MemoryError)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ResourceError, match=r"use --method knn .* or raise --max-memory"):
        plan_all_pairs(n, d, method="dense", memory_limit=knn.peak_bytes + 1,
                       option_names={"knn": "--method knn", "memory": "--max-memory"})


def test_features_too_large_suggest_the_cache():
    with pytest.raises(ResourceError, match=r"feature vectors alone take .*use cache_dir"):
        plan_all_pairs(200, 10**7, memory_limit=GiB)
    # Memory-mapped features (a cache) do not count against the limit.
    assert plan_all_pairs(200, 10**7, memory_limit=GiB, features_in_memory=False).method == "dense"


@pytest.mark.parametrize(("text", "value"),
                         [("1024", 1024), ("2K", 2048), ("1.5G", int(1.5 * GiB)),
                          ("500MiB", 500 * 2**20), ("3gb", 3 * GiB)])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "1Q"])
def test_parse_bytes_rejects(text):
    with pytest.raises(ValueError, match="memory size"):
        parse_bytes(text)


def test_format_and_available():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * GiB) == "3.0 GiB"
    assert available_memory() > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n: 0 is out of range"):
        estimate_all_pairs(0, 10)
    with pytest.raises(ValueError, match="method: 'sparse' is not supported"):
        plan_all_pairs(10, 10, method="sparse")


def test_measured_throughput_is_positive():
    assert measure_throughput(n_rows=8, n_features=4096) > 0


@pytest.fixture
def map_dir(tmp_path):
    d = tmp_path / "maps"
    rng = np.random.default_rng(0)
    for i in range(6):
        write_mrc(d / f"m{i}.mrc", rng.uniform(0.1, 1, (16, 16)).astype(np.float32))
    return d


def test_cli_stops_before_computing_with_the_option_to_use(map_dir, tmp_path, capsys):
    rc = main(["embed", str(map_dir), "--out", str(tmp_path / "e"), "--method", "dense",
               "--max-memory", "2K"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "conformap embed: error: the dense all-pairs path for 6 items needs" in err
    assert "--max-memory" in err
    assert not list(tmp_path.glob("e.*"))


def test_cli_prints_the_plan(map_dir, tmp_path, capsys):
    assert main(["embed", str(map_dir), "--out", str(tmp_path / "e")]) == 0
    err = capsys.readouterr().err
    assert "conformap embed: plan: dense path for n=6" in err
    assert "peak memory" in err
    with np.load(tmp_path / "e.npz") as z:
        assert "method_used" in str(z["params"])


def test_cli_auto_switches_to_knn_when_dense_does_not_fit(tmp_path, capsys):
    from conformap import wemd_size

    n, length = 300, 32  # knn (k = 30) is smaller than dense from ~200 items on
    x = np.random.default_rng(0).uniform(0.1, 1.0, (n, length)).astype(np.float32)
    x[np.arange(n), np.arange(n) % length] += 5.0  # a moving peak, so the data have structure
    np.save(tmp_path / "x.npy", x)
    d = wemd_size((length,))
    dense = estimate_all_pairs(n, d, method="dense", n_voxels=length)
    knn = estimate_all_pairs(n, d, method="knn", n_voxels=length)
    assert knn.peak_bytes < dense.peak_bytes
    limit = (knn.peak_bytes + dense.peak_bytes) // 2
    assert main(["embed", str(tmp_path / "x.npy"), "--out", str(tmp_path / "e"),
                 "--max-memory", str(limit)]) == 0
    err = capsys.readouterr().err
    assert "plan: knn path for n=300" in err
    assert "(the dense path would not fit in memory)" in err


def test_exact_emd_estimate():
    from conformap.resources import EMD_EXPONENT, EMD_PAIR_SECONDS_1024

    est = estimate_all_pairs(10, 2048, exact_emd=True, baseline=0)
    assert est.seconds["distances"] == pytest.approx(45 * EMD_PAIR_SECONDS_1024
                                                     * 2**EMD_EXPONENT)
    assert est.memory["emd_cost"] == 8 * 2048**2
    with pytest.raises(ValueError, match="exact EMD is computed for all pairs only"):
        estimate_all_pairs(10, 64, method="knn", exact_emd=True)
    with pytest.raises(ValueError, match="not available for exact EMD"):
        plan_all_pairs(10, 64, method="knn", exact_emd=True)
    with pytest.raises(ResourceError, match="use the WEMD approximation"):
        plan_all_pairs(10, 4096, exact_emd=True, memory_limit=100 * 2**20)
    assert plan_all_pairs(10, 64, exact_emd=True).method == "dense"


def test_cli_plan_for_exact_emd(tmp_path, capsys):
    x = np.random.default_rng(0).uniform(0.1, 1, (5, 6, 6))
    np.save(tmp_path / "x.npy", x)
    assert main(["embed", str(tmp_path / "x.npy"), "--metric", "emd", "--out",
                 str(tmp_path / "e"), "--n-components", "1"]) == 0
    assert "emd_cost" in capsys.readouterr().err
