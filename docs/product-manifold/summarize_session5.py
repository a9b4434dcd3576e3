"""Tables of diagnosis.md section 8 (session 5 and 5b) from measure_session5*.jsonl.

    python docs/product-manifold/summarize_session5.py

Rewrites the blocks ``generated:session5-unmix`` and ``generated:session5-images`` of
diagnosis.md (from ``measure_session5*.jsonl``) and ``generated:session5b-unmix`` /
``generated:session5b-images`` (from ``measure_session5b*.jsonl``, when present).
Per-seed values in seed order; mean ± standard deviation over the seeds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from summarize_unmix import replace_generated  # the script's own folder is on sys.path

HERE = Path(__file__).parent
NOTE = ("_Generated from `{src}` by `summarize_session5.py`; do not edit by hand. Per-seed "
        "values in seed order; mean ± standard deviation over the seeds._")


def _load(name):
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


#: every derived number (mean, standard deviation) the tables show, written to SUMMARY so that
#: the docs check (benchmarks/docs.py) finds each decimal of diagnosis.md in a committed file
_DERIVED: list[dict] = []
SUMMARY = HERE / "measure_session5_summary.json"


def _ms(v, what=""):
    v = np.asarray([np.nan if x is None else x for x in v], dtype=float)
    m, sd = round(float(np.nanmean(v)), 2), round(float(np.nanstd(v)), 2)
    _DERIVED.append({"what": what, "mean": m, "std": sd, "n": int(v.size)})
    return f"{m:.2f} ± {sd:.2f}"


def _fmt(v):
    return " / ".join("n/a" if x is None else f"{x:.2f}" for x in v)


def unmix_table(src: str = "measure_session5.jsonl", note: str = NOTE) -> str:
    rows = defaultdict(list)
    for r in _load(src):
        rows[(r["data"], r["n"], r["mode"], r["unmix"])].append(r)
    out = ["| data | n | mode | unmix | seeds | accuracy per seed | accuracy | confident acc. "
           "per seed | confident acc. | factors found | min confident correct per factor |",
           "|" + "---|" * 11]
    for (data, n, mode, unmix), rs in sorted(rows.items()):
        acc = [r["accuracy"] for r in rs]
        cacc = [r["confident_accuracy"] for r in rs]
        out.append(
            f"| {data} | {n} | {mode} | {unmix:g} | {','.join(str(r['seed']) for r in rs)} | "
            f"{_fmt(acc)} | {_ms(acc, f'{data} {n} {mode} {unmix:g} accuracy')} | "
            f"{_fmt(cacc)} | {_ms(cacc, f'{data} {n} {mode} {unmix:g} confident')} | "
            f"{'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{'/'.join(str(min(r['confident_correct_per_factor'])) for r in rs)} |")
    return note.format(src=src) + "\n\n" + "\n".join(out)


def _motions(r):
    if r.get("slide"):
        return "3 (slide)"
    return "3 (coupled stretch_y)" if r["stretch_y"] else "2"


def images_table(src: str = "measure_session5_images.jsonl", note: str = NOTE) -> str:
    rows = defaultdict(list)
    for r in _load(src):
        graph = "unmix 0" if r["graph"].startswith("no_unmix") else "default (unmix 0.1)"
        rows[(_motions(r), r["n"], r["N"], r["snr"], graph)].append(r)
    out = ["| motions | n | N | SNR | graph | seeds | factors found | accuracy per seed | "
           "confident acc. per seed | confident acc. | confident correct per factor | "
           "product recall | target met (≥ 0.9, ≥ 2 per factor) | confident acc. ≥ 0.9 with "
           "all factors | s per run |", "|" + "---|" * 15]
    for (mot, n, nv, snr, graph), rs in sorted(rows.items(),
                                               key=lambda t: (t[0][0], t[0][1], -t[0][3],
                                                              t[0][4])):
        nf = len(rs[0]["confident_correct_per_factor"])
        ok = sum(1 for r in rs if r["n_factors_found"] == nf and r["confident_accuracy"]
                 is not None and r["confident_accuracy"] >= 0.9)
        out.append(
            f"| {mot} | {n} | {nv} | {snr:g} | {graph} | {','.join(str(r['seed']) for r in rs)} "
            f"| {'/'.join(str(r['n_factors_found']) for r in rs)} | "
            f"{_fmt([r['accuracy'] for r in rs])} | "
            f"{_fmt([r['confident_accuracy'] for r in rs])} | "
            f"{_ms([r['confident_accuracy'] for r in rs], f'{mot} {n} {snr:g} {graph}')} | "
            f"{' '.join(str(r['confident_correct_per_factor']) for r in rs)} | "
            f"{_fmt([r['product_recall'] for r in rs])} | "
            f"{sum(bool(r['target_met']) for r in rs)}/{len(rs)} | {ok}/{len(rs)} | "
            f"{round(float(np.mean([r['seconds'] for r in rs]))):d} |")
    return note.format(src=src) + "\n\n" + "\n".join(out)


def main() -> int:
    doc = HERE / "diagnosis.md"
    text = doc.read_text()
    tables = [("session5-unmix", unmix_table()), ("session5-images", images_table())]
    if (HERE / "measure_session5b.jsonl").exists():
        tables.append(("session5b-unmix", unmix_table("measure_session5b.jsonl")))
    if (HERE / "measure_session5b_images.jsonl").exists():
        tables.append(("session5b-images", images_table("measure_session5b_images.jsonl")))
    for tag, table in tables:
        text = replace_generated(text, tag, table)
    doc.write_text(text)
    SUMMARY.write_text(json.dumps({"derived": _DERIVED}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
