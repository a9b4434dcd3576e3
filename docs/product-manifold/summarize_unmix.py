"""Tables of diagnosis.md section 7 from measure_unmix*.jsonl (rewrites the generated blocks).

    python docs/product-manifold/summarize_unmix.py
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
NOTE = ("_Generated from `{src}` by `summarize_unmix.py`; do not edit by hand. Per-seed values "
        "in seed order; mean ± standard deviation over the seeds._")


def _load(name):
    path = HERE / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


#: every derived number the tables show (mean, standard deviation), written to SUMMARY so the
#: docs check finds each decimal of diagnosis.md in a committed file
_DERIVED: list[dict] = []
SUMMARY = HERE / "measure_unmix_summary.json"


def _ms(v, what=""):
    v = np.asarray(v, dtype=float)
    m, sd = round(float(v.mean()), 2), round(float(v.std()), 2)
    _DERIVED.append({"what": what, "mean": m, "std": sd, "n": int(v.size)})
    return f"{m:.2f} ± {sd:.2f}"


def _fmt(v):
    return " / ".join("n/a" if x is None else f"{x:.2f}" for x in v)


def unmix_table() -> str:
    rows = defaultdict(list)
    for r in _load("measure_unmix.jsonl"):
        rows[(r["data"], r["n"], r["mode"], r["unmix"])].append(r)
    out = ["| data | n | mode | unmix | seeds | accuracy per seed | accuracy | confident acc. "
           "per seed | factors found | min confident correct per factor | pure eigenvectors "
           "(first 40, ≥ 0.9) |", "|" + "---|" * 11]
    for (data, n, mode, unmix), rs in sorted(rows.items(),
                                             key=lambda t: (t[0][0], t[0][1], t[0][2], t[0][3])):
        seeds = ",".join(str(r["seed"]) for r in rs)
        acc = [r["accuracy"] for r in rs]
        out.append(
            f"| {data} | {n} | {mode} | {unmix:g} | {seeds} | {_fmt(acc)} | {_ms(acc)} | "
            f"{_fmt([r['confident_accuracy'] for r in rs])} | "
            f"{'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{'/'.join(str(min(r['confident_correct_per_factor'])) for r in rs)} | "
            f"{_ms([r['pure40'] for r in rs], f'{data} {n} {mode} {unmix:g} pure40')} |")
    return NOTE.format(src="measure_unmix.jsonl") + "\n\n" + "\n".join(out)


def images_table() -> str:
    rows = defaultdict(list)
    for name in ("measure_unmix_images.jsonl", "measure_unmix_images10k.jsonl"):
        for r in _load(name):
            graph = "unmix 0.1" if r["graph"].startswith("default") else "unmix 0"
            rows[(r["n"], r["stretch_y"], r["snr"], graph)].append(r)
    out = ["| n | motions | SNR | graph | seeds | factors found | accuracy per seed | confident "
           "acc. per seed | confident correct per factor | product recall | target met | "
           "s per run |", "|" + "---|" * 12]
    for (n, sy, snr, graph), rs in sorted(rows.items(),
                                          key=lambda t: (t[0][1], t[0][0], -t[0][2], t[0][3])):
        out.append(
            f"| {n} | {3 if sy else 2} | {snr:g} | {graph} | "
            f"{','.join(str(r['seed']) for r in rs)} | "
            f"{'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{_fmt([r['accuracy'] for r in rs])} | "
            f"{_fmt([r['confident_accuracy'] for r in rs])} | "
            f"{' '.join(str(r['confident_correct_per_factor']) for r in rs)} | "
            f"{_fmt([r['product_recall'] for r in rs])} | "
            f"{sum(bool(r['target_met']) for r in rs)}/{len(rs)} | "
            f"{round(float(np.mean([r['seconds'] for r in rs]))):d} |")
    return (NOTE.format(src="measure_unmix_images.jsonl, measure_unmix_images10k.jsonl")
            + "\n\n" + "\n".join(out))


def replace_generated(text: str, tag: str, table: str) -> str:
    """``text`` with its ``<!-- generated:TAG -->`` block replaced by ``table`` (it must exist)."""
    pat = re.compile(rf"<!-- generated:{tag} -->.*?<!-- /generated:{tag} -->", re.S)
    block = f"<!-- generated:{tag} -->\n{table}\n<!-- /generated:{tag} -->"
    if not pat.search(text):
        raise SystemExit(f"diagnosis.md has no generated:{tag} block")
    return pat.sub(lambda _m: block, text)


def main() -> int:
    doc = HERE / "diagnosis.md"
    text = doc.read_text()
    for tag, table in (("unmix", unmix_table()), ("unmix-images", images_table())):
        text = replace_generated(text, tag, table)
    doc.write_text(text)
    SUMMARY.write_text(json.dumps({"derived": _DERIVED}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
