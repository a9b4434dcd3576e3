"""Start-up time: ``import conformap`` and ``conformap --help``, lazy imports against eager ones.

``python -m benchmarks.bench_import [--repeats 7] [--out docs/import-time.json]``; registered in
``benchmarks.__main__.EXTERNAL``, so ``python -m benchmarks`` runs it too (``SUITES``, ``run``).

Every measurement is a fresh interpreter (``python -X importtime``; the operating system's file
cache is warm after the first, discarded, run). Ours and the baseline alternate in the same run:

* ``import conformap`` (lazy, PEP 562 ``__getattr__``) against the *eager* import, i.e. every
  public name resolved at once, which is what ``import conformap`` did before (numba, scipy.stats,
  scipy.ndimage and scikit-learn loaded up front);
* ``conformap --help`` (the console script's work: build the parser, print the help) against the
  same with the eager import first.

Check of each row: both interpreters exit 0 and print the same output (the same
``conformap.__all__``; the same help text), so both sides did the same work.

Reported: median wall time of the interpreter (what a user waits), the median cumulative
``-X importtime`` of the ``conformap`` package, and the ratios eager / lazy. The machine is shared
and noisy: compare ratios, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EAGER = "import conformap; [getattr(conformap, n) for n in conformap.__all__]"
CASES = {
    "import": {
        "lazy": "import conformap; print(sorted(conformap.__all__))",
        "eager": EAGER + "; print(sorted(conformap.__all__))",
    },
    "help": {
        "lazy": "from conformap.cli import main; main(['--help'])",
        "eager": EAGER + "; from conformap.cli import main; main(['--help'])",
    },
}
#: Runs a case's code; prints its peak resident size last (``--help`` exits through SystemExit).
#: VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report
#: the parent's resident size.
WRAPPER = ("try:\n    exec({code!r})\nexcept SystemExit as e:\n"
           "    if e.code not in (0, None):\n        raise\n"
           "print('PEAK_KIB', next(ln.split()[1] for ln in open('/proc/self/status')"
           " if ln.startswith('VmHWM')))")
SUITES = {"quick": {"repeats": 3}, "full": {"repeats": 7}}
IMPORTTIME = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$")


def _one(code: str) -> dict:
    """Wall seconds of a fresh interpreter running ``code``, and the package's import time."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", WRAPPER.format(code=code)],
                          env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0,):
        raise RuntimeError(f"{code!r} failed:\n{proc.stderr[-2000:]}")
    # Sum of the top-level imports from the first conformap one on: everything the code
    # imported (interpreter start-up, site and encodings, comes before and is left out).
    cumulative, started = 0, False
    for line in proc.stderr.splitlines():
        m = IMPORTTIME.match(line)
        if not m or m.group(2):
            continue  # nested imports are inside their parent's cumulative time
        started = started or m.group(3).startswith("conformap")
        if started:
            cumulative += int(m.group(1))
    out, _, peak = proc.stdout.rstrip("\n").rpartition("\n")
    if not peak.startswith("PEAK_KIB"):
        out, peak = proc.stdout, "PEAK_KIB 0"
    return {"wall_s": wall, "import_s": cumulative / 1e6,
            "peak_rss_mib": int(peak.split()[1]) / 1024, "stdout": out}


def measure(repeats: int = 7) -> dict:
    """Median wall and import seconds per case and implementation, and eager / lazy ratios."""
    for code in (c for case in CASES.values() for c in case.values()):
        _one(code)  # warm the file cache and bytecode; discarded
    runs: dict = {case: {impl: [] for impl in impls} for case, impls in CASES.items()}
    for _ in range(repeats):
        for case, impls in CASES.items():
            for impl, code in impls.items():  # interleaved: same load for both
                runs[case][impl].append(_one(code))
    out: dict = {}
    for case, impls in runs.items():
        res = {impl: {key: statistics.median(r[key] for r in rs)
                      for key in ("wall_s", "import_s", "peak_rss_mib")}
               for impl, rs in impls.items()}
        outputs = {r["stdout"] for rs in impls.values() for r in rs}
        res["same_output"] = len(outputs) == 1
        res["ratio_wall"] = res["eager"]["wall_s"] / res["lazy"]["wall_s"]
        res["ratio_import"] = res["eager"]["import_s"] / max(res["lazy"]["import_s"], 1e-9)
        res["target_s"] = 1.0
        res["met"] = res["lazy"]["wall_s"] < 1.0
        out[case] = res
    return out


def run(cfg, log) -> list[dict]:
    """The suite's rows: lazy (ours) against eager (baseline) per case, with the check."""
    from ._harness import check_result, pair_record

    results = measure(cfg["repeats"])
    records = []
    for case, r in results.items():
        summary = {impl: {"time": r[impl]["wall_s"],
                          "phases": {"interpreter": r[impl]["wall_s"]},
                          "import_s": r[impl]["import_s"],
                          "peak_extra_mib": r[impl]["peak_rss_mib"],
                          "peak_rss_mib": r[impl]["peak_rss_mib"]} for impl in ("lazy", "eager")}
        check = check_result(r["same_output"], "both interpreters exit 0 and print the same "
                             "output (conformap.__all__ / the help text); time = median wall "
                             "time of a fresh interpreter, peak = its whole resident size",
                             same_output=r["same_output"], lazy_import_s=r["lazy"]["import_s"],
                             eager_import_s=r["eager"]["import_s"])
        log(f"    {case}: lazy {r['lazy']['wall_s']:.2f} s, eager {r['eager']['wall_s']:.2f} s")
        records.append(pair_record("import", {"case": case, "repeats": cfg["repeats"]}, summary,
                                   check, ours="lazy", baseline="eager"))
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", default=str(ROOT / "docs" / "import-time.json"),
                   help="JSON results (default docs/import-time.json)")
    args = p.parse_args(argv)
    results = measure(args.repeats)
    doc = {
        "command": f"python -m benchmarks.bench_import --repeats {args.repeats}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "note": "medians of fresh interpreters, lazy and eager interleaved; shared noisy "
                "machine: compare the ratios",
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    bad = [case for case, r in results.items() if not r["same_output"]]
    for case, r in results.items():
        print(f"{case:7s} lazy {r['lazy']['wall_s']:.2f} s (imports {r['lazy']['import_s']:.2f} s)"
              f"  eager {r['eager']['wall_s']:.2f} s (imports {r['eager']['import_s']:.2f} s)"
              f"  ratio {r['ratio_wall']:.1f}x  target < 1 s: {'met' if r['met'] else 'MISSED'}")
    print(f"wrote {out}")
    for case in bad:
        print(f"CHECK FAILED: {case}: lazy and eager printed different output")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
