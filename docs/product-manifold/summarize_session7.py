"""Tables of diagnosis.md section 10 (session 7) from measure_session7*.jsonl.

    python docs/product-manifold/summarize_session7.py

Rewrites the blocks ``generated:session7-images`` (image runs; ``measure_session7_images.jsonl``
holds the seeds the session's rules were chosen on and the regression seeds,
``measure_session7_heldout_images.jsonl`` the held-out seeds 90-92) and
``generated:session7-synthetic`` (box, rectangle, torus). Every run is scored twice against
the analytic eigenfunctions: with adjusted R^2 (``factor_assignment``'s default since
session 7) and with plain R^2 (as before, ``plain_r2``), and factorized twice: with harmonic
completion (the default since session 7) and without (``no_harmonics`` / harmonics false).
Per-seed values in seed order; mean ± standard deviation over the seeds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from summarize_unmix import replace_generated  # the script's own folder is on sys.path

HERE = Path(__file__).parent
NOTE = ("_Generated from `{src}` by `summarize_session7.py`; do not edit by hand. Per-seed "
        "values in seed order; mean ± standard deviation over the seeds. \"adj.\": scored "
        "with adjusted R², \"plain\": with plain R² (before session 7)._")


def _load(name):
    path = HERE / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ms(vals):
    v = [x for x in vals if x is not None]
    if not v:
        return "–"
    return f"{np.mean(v):.2f} ± {np.std(v):.2f}"


def _f(x):
    return "–" if x is None else f"{x:.2f}"


def images_table(sources) -> str:
    rows = defaultdict(list)
    for src, kind in sources:
        for r in _load(src):
            motions = "3 (slide)" if r.get("slide") else "2"
            graph = r["graph"].replace("session7", "")
            rows[(kind, motions, r["n"], r["snr"], graph)].append(r)
    out = ["| set | motions | n | SNR | harmonics | seeds | factors found | accuracy (adj.) per "
           "seed | confident acc. (adj.) per seed | confident correct per factor (adj.) | "
           "target met (adj.) | target met (plain) | confident acc. (adj.) | mean library "
           "confidence, correct / wrong |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (kind, motions, n, snr, graph), rs in sorted(rows.items(),
                                                     key=lambda kv: (kv[0][0], kv[0][1],
                                                                     kv[0][2], -kv[0][3],
                                                                     kv[0][4])):
        rs.sort(key=lambda r: r["seed"])
        # "default" rows were measured at commit 83224cb, where harmonics were on by default
        harm = "no" if graph == "no_harmonics" else "yes"
        out.append(
            f"| {kind} | {motions} | {n} | {snr:g} | {harm} | "
            f"{','.join(str(r['seed']) for r in rs)} | "
            f"{'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{' / '.join(_f(r['accuracy']) for r in rs)} | "
            f"{' / '.join(_f(r['confident_accuracy']) for r in rs)} | "
            f"{' '.join(str(r['confident_correct_per_factor']) for r in rs)} | "
            f"{sum(r['target_met'] for r in rs)}/{len(rs)} | "
            f"{sum(r['plain_r2']['target_met'] for r in rs)}/{len(rs)} | "
            f"{_ms([r['confident_accuracy'] for r in rs])} | "
            f"{_ms([r['mean_confidence_correct'] for r in rs])} / "
            f"{_ms([r['mean_confidence_wrong'] for r in rs])} |")
    return NOTE.format(src=", ".join(s for s, _k in sources)) + "\n\n" + "\n".join(out)


def synthetic_table(sources) -> str:
    rows = defaultdict(list)
    for src, kind in sources:
        for r in _load(src):
            rows[(kind, r["data"], r["n"], r["mode"], r.get("harmonics", True))].append(r)
    out = ["| set | data | n | mode | harmonics | seeds | factors found | accuracy (adj.) per "
           "seed | confident acc. (adj.) per seed | confident acc. (adj.) | min confident "
           "correct per factor (adj.) | (plain) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (kind, data, n, mode, harm), rs in sorted(rows.items(), key=lambda kv: kv[0]):
        out.append(
            f"| {kind} | {data} | {n} | {mode} | {'yes' if harm else 'no'} | "
            f"{','.join(str(r['seed']) for r in rs)} | "
            f"{'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{' / '.join(_f(r['accuracy']) for r in rs)} | "
            f"{' / '.join(_f(r['confident_accuracy']) for r in rs)} | "
            f"{_ms([r['confident_accuracy'] for r in rs])} | "
            f"{'/'.join(str(min(r['confident_correct_per_factor'])) for r in rs)} | "
            f"{'/'.join(str(min(r['plain_r2']['confident_correct_per_factor'])) for r in rs)} |")
    return NOTE.format(src=", ".join(s for s, _k in sources)) + "\n\n" + "\n".join(out)


def main() -> int:
    doc = HERE / "diagnosis.md"
    text = doc.read_text()
    text = replace_generated(text, "session7-images", images_table(
        [("measure_session7_images.jsonl", "chosen / regression"),
         ("measure_session7_heldout_images.jsonl", "held out")]))
    text = replace_generated(text, "session7-synthetic", synthetic_table(
        [("measure_session7.jsonl", "regression"),
         ("measure_session7_heldout.jsonl", "held out")]))
    doc.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
