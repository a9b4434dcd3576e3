"""Where the localisation guard of the adaptive kernel acts (``conformap.localisation``).

For each data set, n and seed: ``DiffusionMap(metric="euclidean", random_state=0)`` at its
defaults (dense up to ``DENSE_MAX_ITEMS``, kNN above), its error against the true angles
(``bench_density.score``: median / p90 degrees), the adaptive kernel's localisation ratio
``kappa`` (``conformap.localisation.localisation_ratio``) and whether "auto" replaced the
adaptive kernel by the fixed one (``guard``). Where ``guard`` is false the embedding is the
adaptive kernel's, as before the guard. Data: the clustered circles of
``bench_density.SETS`` (seed ``1000 * seed + n``, as its robustness section), the rotor angle
mixture and the saddle curve of ``bench_small_n``::

    python -m benchmarks.localisation_check --ns 700,1000 --seeds 0,1,2 --out F.jsonl
    python -m benchmarks.localisation_check --ns 5000,10000 --seeds 0,1 --sets "dwell" --out F.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from benchmarks.bench_density import SETS, clustered_circle, score


def data_sets():
    from benchmarks.bench_small_n import planar, saddle

    out = [(name, (lambda n, s, w=w, z=z: clustered_circle(n, width=w, noise=z,
                                                            seed=1000 * s + n)))
           for name, w, z in SETS]
    out += [("rotor angles", lambda n, s: planar("rotor angles", n, s)),
            ("saddle 3 deg, clean", lambda n, s: saddle(n, s))]
    return out


def main(argv=None):
    from conformap import DiffusionMap

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", default="700,1000")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sets", default=None, help="substring filter on the data set names")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    rows = []
    for name, make in data_sets():
        if a.sets and a.sets not in name:
            continue
        for n in (int(x) for x in a.ns.split(",")):
            for seed in (int(x) for x in a.seeds.split(",")):
                X, deg = make(n, seed)
                t = time.perf_counter()
                dm = DiffusionMap(metric="euclidean", random_state=0).fit(X)
                kappa = dm.result_.graph.get("localisation_ratio")
                row = {"data": name, "n": n, "seed": seed, **score(dm.embedding_, deg),
                       "kappa": None if kappa is None else round(kappa, 4),
                       "guard": "its median scale" in dm.graph_summary_,
                       "seconds": round(time.perf_counter() - t, 1),
                       "graph": dm.graph_summary_}
                print(json.dumps(row), flush=True)
                rows.append(row)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
