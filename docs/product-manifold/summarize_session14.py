"""Tables of diagnosis.md section 14 (session 14) from measure_session14*.jsonl.

    python docs/product-manifold/summarize_session14.py

Rewrites the blocks ``generated:session14-images``, ``-counts`` and ``-synthetic`` (the same
117 image runs as section 13, variants ``rejoin``, the defaults before, and ``unmix_bins``,
the defaults now; rectangle, torus and box from ``measure_session14_regression.jsonl``) with
the functions of ``summarize_session8.py``, and ``generated:session14-changes``: every run
whose bins, accuracy or confident count per factor differ between the two, with the groups
``unmix_bins`` rotated. Writes ``measure_session14_summary.json``.
"""

from __future__ import annotations

import json
from collections import defaultdict

import summarize_session8 as s8  # the script's own folder is on sys.path
from summarize_unmix import replace_generated

SCRIPT = "summarize_session14.py"
CHOSEN = ("measure_session14_chosen.jsonl", "earlier seeds")
HELDOUT = ("measure_session14_heldout.jsonl", "held out")
FRESH = ("measure_session14_fresh.jsonl", "fresh")
REGRESSION = ("measure_session14_regression.jsonl", "regression")
BEFORE, AFTER = "rejoin", "unmix_bins"
SCORED = ("factors", "accuracy", "confident_accuracy", "confident_correct_per_factor",
          "target_met")


def changes(sources=(CHOSEN, HELDOUT, FRESH)) -> list:
    """The runs whose scored fields differ between BEFORE and AFTER, in set and run order."""
    out = []
    for src, kind in sources:
        runs = defaultdict(dict)
        for r in s8._load(src):
            runs[(r["n"], r["snr"], r["seed"], r["slide"])][r["graph"]] = r
        for (n, snr, seed, slide), v in runs.items():
            a, b = v[BEFORE], v[AFTER]
            if any(a[k] != b[k] for k in SCORED):
                out.append({"set": kind, "motions": "3 (slide)" if slide else "2", "n": n,
                            "snr": snr, "seed": seed, **{k: [a[k], b[k]] for k in SCORED},
                            "groups": b["unmix_steps"]})
    return out


def changes_table(rows: list) -> str:
    out = ["| set | motions | n | SNR | seed | factors found | confident correct per factor "
           "(before → now) | confident acc. | accuracy | target met | groups rotated "
           "(columns: kept share) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        groups = "; ".join(", ".join(f"φ{c}: {k:.3f}" for c, k in
                                     zip(g["columns"], g["kept"], strict=True))
                           for g in r["groups"])
        out.append(
            f"| {r['set']} | {r['motions']} | {r['n']} | {r['snr']:g} | {r['seed']} | "
            f"{len(r['factors'][0])} → {len(r['factors'][1])} | "
            f"{r['confident_correct_per_factor'][0]} → {r['confident_correct_per_factor'][1]} | "
            f"{s8._f(r['confident_accuracy'][0])} → {s8._f(r['confident_accuracy'][1])} | "
            f"{s8._f(r['accuracy'][0])} → {s8._f(r['accuracy'][1])} | "
            f"{'yes' if r['target_met'][0] else 'no'} → {'yes' if r['target_met'][1] else 'no'}"
            f" | {groups} |")
    note = ("_Generated from `measure_session14_chosen.jsonl, measure_session14_heldout.jsonl, "
            f"measure_session14_fresh.jsonl` by `{SCRIPT}`; do not edit by hand. Every run whose "
            f"bins, accuracy or confident counts differ between `{BEFORE}` and `{AFTER}`._")
    return note + "\n\n" + "\n".join(out)


def main() -> int:
    c = s8.write_section("session14", [CHOSEN, HELDOUT, FRESH], [REGRESSION], SCRIPT)
    rows = changes()
    doc = s8.HERE / "diagnosis.md"
    doc.write_text(replace_generated(doc.read_text(), "session14-changes", changes_table(rows)))
    summary = {"counts": c, "changes": rows}
    (s8.HERE / "measure_session14_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
