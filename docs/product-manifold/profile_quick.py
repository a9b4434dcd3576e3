"""Where the time of ``conformap reproduce product-manifold`` goes (issue 12, item 6).

    python docs/product-manifold/profile_quick.py --run /tmp/pm-quick --prof /tmp/pm.prof \\
        --json docs/product-manifold/profile_quick.jsonl --label "main aed3ae5"

runs the quick reproduction into ``--run`` under cProfile and appends one JSON record to
``--json``: the wall time of the run, the cumulative seconds of its costliest functions and of
each reproduction step. ``--from-prof FILE`` (instead of ``--run``) only summarises an existing
cProfile dump.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path

#: Functions reported (substring of "file:line(name)"), besides the steps.
WATCH = ("_fig2", "_fig3", "_fig4", "_fig5", "_fig6", "_fig7", "_table1", "pca_standardize",
         "pca_denoise", "factor_assignment", "_joint_r2", "factor_r2", "laplacian_spectrum",
         "find_triplets", "factorize_spectrum", "save_figure", "linalg.py:964(qr)",
         "linalg.py:1514(eigh)")


def summarise(stats: pstats.Stats) -> dict:
    out = {}
    for (path, line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        key = f"{Path(path).name}:{line}({name})"
        for w in WATCH:
            if w in key and not (w.startswith("_fig") and name != w) and ct > out.get(w, 0):
                out[w] = round(ct, 1)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="output folder of a quick reproduction run under cProfile")
    p.add_argument("--from-prof", help="summarise this cProfile dump instead of running")
    p.add_argument("--prof", help="where to write the dump of --run")
    p.add_argument("--label", default="")
    p.add_argument("--load", default="", help="machine load average at the start (uptime)")
    p.add_argument("--json", required=True)
    a = p.parse_args(argv)
    if a.from_prof:
        stats = pstats.Stats(a.from_prof)
        wall = None
    else:
        from conformap.reproduce import product_manifold

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        product_manifold.run(out=a.run)
        prof.disable()
        wall = round(time.perf_counter() - t0, 1)
        if a.prof:
            prof.dump_stats(a.prof)
        stats = pstats.Stats(prof)
    record = {"label": a.label, "load": a.load, "wall_s": wall,
              "total_s": round(stats.total_tt, 1), "cumulative_s": summarise(stats)}
    with open(a.json, "a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
