"""Run one measurement per fresh subprocess: time and peak memory that no other run pollutes.

A *case* is a module-level class with ``setup(self, **params)`` (builds the inputs, untimed) and
one method per implementation (``ours``, ``baseline``, ...) returning ``(outputs, phases)``:
``outputs`` a dict of arrays kept for the correctness check, ``phases`` a dict of named wall
times in seconds (their sum is the reported time). The child process

1. runs ``setup`` and a small warm-up call if the case defines ``warmup`` (numba compilation
   and BLAS thread start are not timed),
2. resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), so the reported peak is the
   high-water mark *during the timed call*; the resident size right before it (inputs,
   interpreter, libraries) is reported separately,
3. saves ``outputs`` to an ``.npz`` file for the parent to compare.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child_main(argv: list[str]) -> None:
    """Entry point of the subprocess: ``python -m benchmarks._harness SPEC OUT``."""
    spec = json.loads(argv[0])
    out_path = Path(argv[1])
    module = importlib.import_module(spec["module"])
    case = getattr(module, spec["case"])()
    data = case.setup(**spec["params"])
    if hasattr(case, "warmup"):
        case.warmup(spec["impl"])
    rss_before = _status_kib("VmRSS")
    exact_peak = _reset_peak()
    t0 = time.perf_counter()
    outputs, phases = getattr(case, spec["impl"])(data)
    wall = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    if not exact_peak:  # without clear_refs: the process high-water mark since start
        peak = max(peak, rss_before)
    np.savez(out_path.with_suffix(".npz"), **{k: np.asarray(v) for k, v in outputs.items()})
    info = {
        "phases": {k: float(v) for k, v in phases.items()},
        "time": float(sum(phases.values())) if phases else wall,
        "wall": wall,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": peak / 1024,
        "peak_extra_mib": max(0.0, (peak - rss_before) / 1024),
        "peak_is_exact": exact_peak,
    }
    out_path.with_suffix(".json").write_text(json.dumps(info))


def run_child(module: str, case: str, impl: str, params: dict, *, timeout: float = 3600):
    """Run ``case.impl`` in a fresh interpreter; returns (info dict, outputs dict)."""
    with tempfile.TemporaryDirectory(prefix="conformap-bench-") as tmp:
        out = Path(tmp) / "result"
        spec = json.dumps({"module": module, "case": case, "impl": impl, "params": params})
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._harness", spec, str(out)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{module}.{case}.{impl}({params}) failed:\n{proc.stderr[-3000:]}"
            )
        info = json.loads(out.with_suffix(".json").read_text())
        with np.load(out.with_suffix(".npz")) as z:
            outputs = {k: z[k] for k in z.files}
    return info, outputs


def measure(module: str, case: str, impls: list[str], params: dict, *, repeats: int = 1,
            log=print) -> tuple[dict, dict]:
    """Interleaved runs (A B A B ...): per impl the best time, its phases and the peak memory.

    Returns ``(summary, outputs)`` with ``summary[impl] = info`` of the fastest repeat (plus
    ``times``: every repeat) and ``outputs[impl]`` of the last one.
    """
    summary: dict = {}
    outputs: dict = {}
    for rep in range(repeats):
        for impl in impls:
            info, out = run_child(module, case, impl, params)
            log(f"    {case}.{impl} {params} rep {rep}: {info['time']:.3f} s, "
                f"peak +{info['peak_extra_mib']:.0f} MiB")
            prev = summary.get(impl)
            times = ([] if prev is None else prev["times"]) + [info["time"]]
            if prev is None or info["time"] < prev["time"]:
                summary[impl] = info
            summary[impl]["times"] = times
            outputs[impl] = out
    return summary, outputs


if __name__ == "__main__":
    child_main(sys.argv[1:])
