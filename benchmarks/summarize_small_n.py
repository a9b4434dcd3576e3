"""Markdown tables of ``bench_small_n`` results: per data group and n, for each candidate, the
cells within the target (median <= 2, p90 <= 5 degrees) and median / p90 (medians over seeds).

Usage::

    python -m benchmarks.summarize_small_n [--candidates=a,b] [--split=1] [--json=OUT] \
        docs/large-n/parts/X.json ...

(``.jsonl`` files, one row per line as ``benchmarks/adaptive_floor.py`` writes them, too.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

TARGET = (2.0, 5.0)


#: ``--split=1``: the planar sets in three groups (clean dwells, noisy dwells, rotor angles).
SPLIT = False


def group(name: str) -> str:
    if name.startswith(("real", "saddle", "trefoil")):
        return name
    if SPLIT:
        if name.startswith("rotor"):
            return name
        return "planar dwells, " + ("clean" if name.endswith("clean") else "noisy") + " (3 sets)"
    return "planar circles (7 sets)"


def ok(c) -> bool:
    return "median" in c and c["median"] <= TARGET[0] and c["p90"] <= TARGET[1]


#: Every cell of the printed tables (what docs/large-n/SMALL_N.md quotes): ``--json PATH``.
CELLS: list[dict] = []


def table(rows, cands) -> str:
    cells = {}
    for r in rows:
        cells.setdefault((group(r["data"]), r["n"]), []).append(r)
    out = ["| data | n | " + " | ".join(cands) + " |", "|---|---|" + "---|" * len(cands)]
    for (g, n), rs in cells.items():
        line = f"| {g} | {n} |"
        for c in cands:
            v = [r[c] for r in rs if c in r]
            med = np.median([x.get("median", np.nan) for x in v])
            p90 = np.median([x.get("p90", np.nan) for x in v])
            line += f" {sum(map(ok, v))}/{len(v)}: {med:.2f} / {p90:.2f} |"
            CELLS.append({"data": g, "n": n, "candidate": c, "within": sum(map(ok, v)),
                          "cells": len(v), "median": round(float(med), 2),
                          "p90": round(float(p90), 2)})
        out.append(line)
    return "\n".join(out)


def main(argv=None):
    global SPLIT
    args = list(argv or sys.argv[1:])
    only, out = None, None
    while args and args[0].startswith("--"):
        key, val = args.pop(0)[2:].split("=", 1)
        if key == "candidates":
            only = val.split(",")
        elif key == "split":
            SPLIT = val not in ("", "0")
        else:
            out = val
    for path in args:
        if path.endswith(".jsonl"):  # one row per line (benchmarks/adaptive_floor.py)
            rows = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
            res = {"command": "see the doc", "seconds": "-"}
        else:
            res = json.loads(Path(path).read_text())
            rows = res["rows"]
        cands = [k for k in rows[0] if k not in ("data", "n", "seed")
                 and (only is None or k in only)]
        print(f"### `{path}`\n\nCommand: `{res['command']}` ({res['seconds']} s)\n")
        print(table(rows, cands) + "\n")
    if out:
        with open(out, "w") as f:
            f.write("[\n" + ",\n".join(json.dumps(c) for c in CELLS) + "\n]\n")


if __name__ == "__main__":
    main()
