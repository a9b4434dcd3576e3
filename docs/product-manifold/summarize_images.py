"""Tables of ``measure_images.jsonl`` (mean and spread over seeds), written into diagnosis.md.

    python docs/product-manifold/summarize_images.py

replaces the block between ``<!-- generated:images -->`` markers of ``diagnosis.md``; every
number there comes from the JSON lines (one per run) that ``measure_images.py`` wrote.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ORDER = ["default", "paper_alg1", "pca4", "pca16", "pca32", "wemd", "raw"]


def _ms(values, digits=2):
    vals = [v for v in values if v is not None]
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{np.mean(vals):.{digits}f} ± {np.std(vals):.{digits}f}"


def _range(values):
    vals = [v for v in values if v is not None]
    return "n/a" if not vals else (f"{min(vals)}" if min(vals) == max(vals)
                                   else f"{min(vals)}-{max(vals)}")


def table(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["n"], r["snr"], r["graph"], r.get("stretch_y", False))].append(r)

    def key(k):
        n, snr, graph, sy = k
        return (sy, n, -snr if snr > 0 else -1e9, ORDER.index(graph) if graph in ORDER else 99)

    out = ["| n | SNR | graph | seeds | eigenvectors: median R²_all (first 20) | clean "
           "products (first 20) | product recall | same-factor triplets | factors found | "
           "confident accuracy | confident correct per factor (min) | target met | mean "
           "confidence right / wrong | s per run |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in sorted(groups, key=key):
        g = groups[k]
        n, snr, graph, sy = k
        per = [min(r["confident_correct_per_factor"]) for r in g]
        out.append(
            f"| {n} | {'clean' if snr == 0 else f'{snr:g}'}{' (3 factors)' if sy else ''} | "
            f"{graph} | {','.join(str(r['seed']) for r in g)} | "
            f"{_ms([r['eig_median_r2_all_first20'] for r in g])} | "
            f"{_range([r['eig_clean_product_first20'] for r in g])} | "
            f"{_ms([r['product_recall'] for r in g])} | "
            f"{_range([r['same_factor_triplets'] for r in g])} | "
            f"{_range([r['n_factors_found'] for r in g])} | "
            f"{_ms([r['confident_accuracy'] for r in g])} | {_range(per)} | "
            f"{sum(r['target_met'] for r in g)}/{len(g)} | "
            f"{_ms([r['mean_confidence_correct'] for r in g])} / "
            f"{_ms([r['mean_confidence_wrong'] for r in g])} | "
            f"{np.mean([r['seconds'] for r in g]):.0f} |")
    return out


def factors_table(rows):
    """Factors found per data set and n, one entry per seed (measure_factors.jsonl)."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["data"], r["n"])].append(r)
    out = ["| data | expected factors | n | seeds | factors found (per seed) | right |",
           "|---|---|---|---|---|---|"]
    for (name, n), g in groups.items():
        g = sorted(g, key=lambda r: r["seed"])
        right = sum(r["n_factors"] == r["expected"] for r in g)
        out.append(f"| {name} | {g[0]['expected']} | {n} | "
                   f"{','.join(str(r['seed']) for r in g)} | "
                   f"{', '.join(str(r['n_factors']) for r in g)} | {right}/{len(g)} |")
    return out


def _replace(text, name, body):
    begin, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    if begin not in text:
        return text
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + "\n".join(body) + "\n" + end + tail


def _lines(name):
    path = HERE / name
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main():
    md = HERE / "diagnosis.md"
    text = md.read_text()
    note = ("hand. Mean ± standard deviation over the seeds listed; ranges as min-max._")
    text = _replace(text, "images", [
        "_Generated from `measure_images.jsonl` by `summarize_images.py`; do not edit by "
        + note, "", *table(_lines("measure_images.jsonl"))])
    text = _replace(text, "scaling", [
        "_Generated from `measure_scaling.jsonl` by `summarize_images.py`; do not edit by "
        + note, "", *table(_lines("measure_scaling.jsonl"))])
    text = _replace(text, "factors", [
        "_Generated from `measure_factors.jsonl` by `summarize_images.py`; do not edit by "
        "hand._", "", *factors_table(_lines("measure_factors.jsonl"))])
    md.write_text(text)


if __name__ == "__main__":
    main()
