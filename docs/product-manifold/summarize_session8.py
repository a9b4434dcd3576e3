"""Tables of diagnosis.md section 11 (session 8) from measure_session8*.jsonl and
probe_session8_spread.jsonl.

    python docs/product-manifold/summarize_session8.py

Rewrites the blocks ``generated:session8-spread`` (every vector harmonic completion cleaned or
added under the session-7 rule on the runs the spread limit was chosen on),
``generated:session8-images`` (image runs: ``measure_session8_images.jsonl`` the chosen seeds,
``measure_session8_heldout_images.jsonl`` the held-out seeds 100-102),
``generated:session8-counts`` (runs meeting the target per variant) and
``generated:session8-synthetic`` (box, rectangle, torus). Variants: ``no_harmonics`` (the
library default), ``harmonics`` (harmonic completion with the spread limit),
``products`` (clean_products), ``products_harmonics`` (both). Per-seed values in seed order;
mean ± standard deviation over the seeds. The counts are also written to
``measure_session8_summary.json``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from summarize_unmix import replace_generated  # the script's own folder is on sys.path

HERE = Path(__file__).parent
NOTE = ("_Generated from `{src}` by `{script}`; do not edit by hand. Per-seed "
        "values in seed order; mean ± standard deviation over the seeds; scored with adjusted "
        "R² (`factor_assignment`'s default)._")
ORDER = {"no_harmonics": 0, "harmonics": 1, "products": 2, "products_harmonics": 3,
         "spread3": 4, "noclean": 5, "share50": 6, "share50_noclean": 7, "share60_noclean": 8,
         "session10": 9, "product_test": 10, "no_rejoin": 11, "rejoin": 12,
         "rejoin_triplets": 13, "unmix_bins": 14}
SCRIPT = "summarize_session8.py"
CHOSEN = ("measure_session8_images.jsonl", "chosen / regression")
HELDOUT = ("measure_session8_heldout_images.jsonl", "held out")


def _load(name):
    path = HERE / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ms(vals):
    v = [x for x in vals if x is not None]
    return f"{np.mean(v):.2f} ± {np.std(v):.2f}" if v else "–"


def _f(x):
    return "–" if x is None else f"{x:.2f}"


def spread_table(src="probe_session8_spread.jsonl", script=SCRIPT) -> str:
    """One row per vector of a spread probe; a ``share`` column when its rows have one."""
    rows = _load(src)
    share = bool(rows) and all("share" in r for r in rows)
    out = ["| run (n:SNR:seed:parts:N) | kind | bin | column | fit | window size | spread | "
           + ("share | " if share else "")
           + "library confidence | ground truth: relative score, R²_all | confident | correct |",
           "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if share else "")]
    for r in rows:
        out.append(f"| {r['run']} | {r['kind']} | {r['bin']} | φ{r['column']} | {r['fit']:.3f} | "
                   f"{r['window_size']} | {r['spread']:.2f} | "
                   + (f"{r['share']:.3f} | " if share else "")
                   + f"{r['library_confidence']:.3f} | "
                   f"{r['gt_relative']:.3f}, {r['gt_r2_all']:.3f} | "
                   f"{'yes' if r['gt_confident'] else 'no'} | {'yes' if r['correct'] else 'no'} |")
    return NOTE.format(src=src, script=script) + "\n\n" + "\n".join(out)


def _groups(sources):
    rows = defaultdict(list)
    for src, kind in sources:
        for r in _load(src):
            motions = "3 (slide)" if r.get("slide") else "2"
            rows[(kind, motions, r["n"], r["snr"], r["graph"])].append(r)
    return rows


def images_table(sources, script=SCRIPT) -> str:
    out = ["| set | motions | n | SNR | variant | seeds | factors found | accuracy per seed | "
           "confident acc. per seed | confident correct per factor | target met | "
           "confident acc. | mean library confidence, correct / wrong |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = _groups(sources)
    for (kind, motions, n, snr, graph), rs in sorted(
            rows.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], -kv[0][3],
                                          ORDER.get(kv[0][4], 9))):
        rs.sort(key=lambda r: r["seed"])
        out.append(
            f"| {kind} | {motions} | {n} | {snr:g} | {graph} | "
            f"{','.join(str(r['seed']) for r in rs)} | "
            f"{'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{' / '.join(_f(r['accuracy']) for r in rs)} | "
            f"{' / '.join(_f(r['confident_accuracy']) for r in rs)} | "
            f"{' '.join(str(r['confident_correct_per_factor']) for r in rs)} | "
            f"{sum(r['target_met'] for r in rs)}/{len(rs)} | "
            f"{_ms([r['confident_accuracy'] for r in rs])} | "
            f"{_ms([r['mean_confidence_correct'] for r in rs])} / "
            f"{_ms([r['mean_confidence_wrong'] for r in rs])} |")
    return (NOTE.format(src=", ".join(s for s, _k in sources), script=script) + "\n\n"
            + "\n".join(out))


def counts(sources) -> dict:
    """Runs meeting the target, per set, image kind and SNR, per variant."""
    tally = defaultdict(lambda: [0, 0])
    wrong = defaultdict(int)
    for (kind, motions, _n, snr, graph), rs in _groups(sources).items():
        key = f"{kind} | {motions} | SNR {snr:g} | {graph}"
        tally[key][0] += sum(r["target_met"] for r in rs)
        tally[key][1] += len(rs)
        wrong[key] += sum(1 for r in rs if r["mean_confidence_wrong"] is not None)
    return {k: {"met": v[0], "runs": v[1], "runs_with_a_wrong_assignment": wrong[k]}
            for k, v in sorted(tally.items())}


def counts_table(c: dict, sources=(CHOSEN, HELDOUT), script=SCRIPT) -> str:
    out = ["| set | motions | SNR | variant | target met | runs with a wrongly assigned "
           "eigenvector |", "|---|---|---|---|---|---|"]
    for k, v in sorted(c.items(), key=lambda kv: (kv[0].split(" | ")[:3],
                                                  ORDER.get(kv[0].split(" | ")[3], 9))):
        out.append(f"| {k} | {v['met']}/{v['runs']} | {v['runs_with_a_wrong_assignment']} |")
    return (NOTE.format(src=", ".join(s for s, _k in sources), script=script) + "\n\n"
            + "\n".join(out))


def synthetic_table(sources, script=SCRIPT) -> str:
    rows = defaultdict(list)
    for src, kind in sources:
        for r in _load(src):
            # session 13's rows also vary rejoin_unsupported (the switch REJOIN), session 14's
            # unmix_bins (UNMIX_BINS)
            mode = (r["mode"] + (" + rejoin" if r.get("rejoin") else "")
                    + (" + unmix_bins" if r.get("unmix_bins") else ""))
            rows[(kind, r["data"], r["n"], mode, r.get("harmonics", True),
                  r.get("clean_products", False))].append(r)
    out = ["| set | data | n | mode | harmonics | clean_products | seeds | factors found | "
           "accuracy per seed | confident acc. per seed | confident acc. | min confident "
           "correct per factor |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (kind, data, n, mode, harm, clean), rs in sorted(rows.items(), key=lambda kv: kv[0]):
        out.append(
            f"| {kind} | {data} | {n} | {mode} | {'yes' if harm else 'no'} | "
            f"{'yes' if clean else 'no'} | {','.join(str(r['seed']) for r in rs)} | "
            f"{'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{' / '.join(_f(r['accuracy']) for r in rs)} | "
            f"{' / '.join(_f(r['confident_accuracy']) for r in rs)} | "
            f"{_ms([r['confident_accuracy'] for r in rs])} | "
            f"{'/'.join(str(min(r['confident_correct_per_factor'])) for r in rs)} |")
    return (NOTE.format(src=", ".join(s for s, _k in sources), script=script) + "\n\n"
            + "\n".join(out))


def merge_test(run="6000:0.1:91:3:100", a=(5, 6, 7), b=(8,)) -> dict:
    """merge_bins' quantities for the two bins of an over-split run (probe_session8.json)."""
    rows = json.loads((HERE / "probe_session8.json").read_text())
    pairs = next(r for r in rows if r["run"] == run)["pairs"]["pairs"]
    cross = [q for q in pairs if (q["u"] in a and q["v"] in b) or (q["u"] in b and q["v"] in a)]
    cross = [q for q in cross if q["e_win"] is not None]
    low = sum(q["e_low"] for q in cross)
    total = low + sum(q["e_win"] for q in cross)
    return {"run": run, "bins": [list(a), list(b)], "pooled_low_share": round(low / total, 3),
            "mean_e_low": round(low / len(cross), 3)}


def write_section(tag: str, images, regression, script: str, *, spread=None) -> dict:
    """Rewrite the blocks ``generated:{tag}-images``, ``-counts`` and ``-synthetic`` (and
    ``-spread`` from the file ``spread``) of diagnosis.md; returns the counts of the image runs.

    ``images`` and ``regression`` are ``(file, set name)`` pairs (outputs of
    ``measure_session8.py`` and ``measure_unmix.py``)."""
    doc = HERE / "diagnosis.md"
    text = doc.read_text()
    c = counts(images)
    if spread is not None:
        text = replace_generated(text, f"{tag}-spread", spread_table(spread, script))
    text = replace_generated(text, f"{tag}-images", images_table(images, script))
    text = replace_generated(text, f"{tag}-counts", counts_table(c, images, script))
    text = replace_generated(text, f"{tag}-synthetic", synthetic_table(regression, script))
    doc.write_text(text)
    return c


def main() -> int:
    c = write_section("session8", [CHOSEN, HELDOUT],
                      [("measure_session8_regression.jsonl", "regression"),
                       ("measure_session8_heldout.jsonl", "held out")], SCRIPT,
                      spread="probe_session8_spread.jsonl")
    summary = {"counts": c, "merge_test": merge_test()}
    (HERE / "measure_session8_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
