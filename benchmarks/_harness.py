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
3. calls ``check(self, impl, outputs)`` if the case defines it, *after* the time and the peak
   are recorded (an oracle computed there costs neither), and stores its dict as
   ``info["self_check"]`` (it must hold ``passed`` and ``tolerance``; see ``check_result``),
4. saves ``outputs`` to an ``.npz`` file for the parent to compare.

Warm-ups run for *every* implementation, ours and the baselines alike: imports, numba
compilation, BLAS thread start and first-touch of library code are outside every timed region.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def emit_row(row: dict, fh=None) -> None:
    """Print one JSON result row and, when ``fh`` is an open file, append it there at once
    (a long measurement keeps every row it finished if it is stopped)."""
    line = json.dumps(row)
    print(line, flush=True)
    if fh:
        fh.write(line + "\n")
        fh.flush()


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
        case.warmup(spec["impl"])  # called for every impl: the case warms each side up
    rss_before = _status_kib("VmRSS")
    exact_peak = _reset_peak()
    t0 = time.perf_counter()
    outputs, phases = getattr(case, spec["impl"])(data)
    wall = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    if not exact_peak:  # without clear_refs: the process high-water mark since start
        peak = max(peak, rss_before)
    self_check = case.check(spec["impl"], outputs) if hasattr(case, "check") else None
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
    if self_check is not None:
        info["self_check"] = self_check
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


def exit_status(checks: dict) -> int:
    """A standalone benchmark's exit status from its ``{name: passed}`` checks (1 if any failed,
    named on stderr), so that a failed check fails the command as it fails the suite's row."""
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


def check_result(passed: bool, tolerance: str, **values) -> dict:
    """The check of one benchmark row: ``passed``, what was compared with which bound, values.

    Every row of the suite carries one; a row whose check fails fails the run (exit status 1).
    ``values`` are plain numbers, booleans or strings (they go into the results JSON).
    """
    out = {"passed": bool(passed), "tolerance": str(tolerance)}
    for k, v in values.items():
        out[k] = v.item() if isinstance(v, np.generic) else v
    return out


def combine_checks(*checks: dict) -> dict:
    """One check of several: passed if all passed; values prefixed by nothing (keys must differ)."""
    out: dict = {"passed": all(c["passed"] for c in checks),
                 "tolerance": "; ".join(c["tolerance"] for c in checks)}
    for c in checks:
        out.update({k: v for k, v in c.items() if k not in ("passed", "tolerance")})
    return out


def _self_checks(summary: dict) -> dict:
    return {impl: info["self_check"] for impl, info in summary.items() if "self_check" in info}


def _passed(check: dict, self_checks: dict) -> bool:
    return bool(check["passed"]) and all(c["passed"] for c in self_checks.values())


def pair_record(name: str, params: dict, summary: dict, check: dict, *, ours: str = "ours",
                baseline: str | None = None) -> dict:
    """A row comparing ``ours`` with ``baseline`` (default: the first other impl measured).

    Further impls of ``summary`` go to ``others`` (timed for context). ``passed`` is the row's
    check and every impl's self-check.
    """
    baseline = baseline or next(k for k in summary if k != ours)
    o, b = summary[ours], summary[baseline]
    self_checks = _self_checks(summary)
    return {
        "benchmark": name,
        "params": params,
        "ours": o,
        "baseline": b,
        "baseline_name": baseline,
        "others": {k: v for k, v in summary.items() if k not in (ours, baseline)},
        "speedup": b["time"] / o["time"] if o["time"] > 0 else float("inf"),
        "memory_ratio": (o["peak_extra_mib"] / b["peak_extra_mib"]
                         if b["peak_extra_mib"] > 0 else float("inf")),
        "check": check,
        "self_checks": self_checks,
        "passed": _passed(check, self_checks),
    }


def single_record(name: str, case: str, params: dict, info: dict) -> dict:
    """A row of one implementation (scaling); its check is the case's self-check (required)."""
    check = info.get("self_check") or check_result(False, "the case defines no check")
    return {"benchmark": name, "case": case, "params": params, "time": info["time"],
            "times": info.get("times", [info["time"]]), "peak_extra_mib": info["peak_extra_mib"],
            "peak_rss_mib": info["peak_rss_mib"], "check": check, "passed": bool(check["passed"])}


def measurement_record(name: str, params: dict, info: dict, check: dict) -> dict:
    """A row that measures a property (e.g. an approximation error) rather than a speed-up."""
    return {"benchmark": name, "params": params, "measurement": True, "time": info["time"],
            "check": check, "passed": bool(check["passed"])}


def validate_record(rec: dict) -> None:
    """Raise ``ValueError`` unless ``rec`` has the fields every row needs."""
    missing = [k for k in ("benchmark", "params", "check", "passed") if k not in rec]
    if missing or not {"passed", "tolerance"} <= set(rec.get("check", {})):
        raise ValueError(f"benchmark record {rec.get('benchmark')!r}: missing {missing or 'check'}"
                         " fields; build it with pair_record / single_record / measurement_record")


def machine() -> dict:
    """What the numbers were measured on, including how busy the machine was."""

    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""

    lscpu = run(["lscpu"])
    keep = ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache", "Flags",
            "Hypervisor vendor")
    cpu = {}
    for line in lscpu.splitlines():
        key, _, val = line.partition(":")
        if key.strip() in keep:
            val = val.strip()
            if key.strip() == "Flags":
                val = " ".join(f for f in val.split() if f.startswith(("avx", "fma")))
            cpu[key.strip()] = val
    import numba
    import pywt
    import scipy
    import sklearn

    try:
        import ot

        pot = ot.__version__
    except ImportError:
        pot = None
    mem = run(["free", "-g"]).split("\n")
    total = next((ln.split()[1] for ln in mem if ln.startswith("Mem:")), "?")
    return {
        "cpu": cpu,
        "memory_gib": total,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "pywavelets": pywt.__version__,
        "scikit-learn": sklearn.__version__,
        "pot": pot,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
    }


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that reproduces a result: ``python -m MODULE ARGS``."""
    return f"python -m {module} " + " ".join(argv if argv is not None else sys.argv[1:])


def write_json(path, doc: dict) -> None:
    """Write a result document (indented JSON and a final newline)."""
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded."""
    return [round(v, 2) for v in os.getloadavg()]


if __name__ == "__main__":
    child_main(sys.argv[1:])
