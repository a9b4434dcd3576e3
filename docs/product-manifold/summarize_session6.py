"""Tables of diagnosis.md section 9 (session 6) from measure_session6*.jsonl.

    python docs/product-manifold/summarize_session6.py

Rewrites the blocks ``generated:session6-heldout-images`` / ``generated:session6-heldout``
(seeds 70-72, never used before), ``generated:session6-extra-images`` (three-part images,
seeds 80-84, n = 3000 and 4000: how often bins are over- or under-split) and ``generated:session6-regression-images`` /
``generated:session6-regression`` (the session-5b regression sets), with the table layout of
``summarize_session5.py``, and ``generated:session6-changes``: every regression run whose
result differs from its session-5b row, and ``generated:session6b-changes``: every run of
``measure_session6b*.jsonl`` (merge_bins' windows over all computed columns) whose result
differs from its session-6 row. Per-seed values in seed order; mean ± standard
deviation over the seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import summarize_session5 as s5  # the script's own folder is on sys.path
from summarize_unmix import replace_generated

HERE = Path(__file__).parent
NOTE = ("_Generated from `{src}` by `summarize_session6.py`; do not edit by hand. Per-seed "
        "values in seed order; mean ± standard deviation over the seeds._")
SUMMARY = HERE / "measure_session6_summary.json"
FIELDS = ("n_factors_found", "accuracy", "confident_accuracy", "confident_correct_per_factor")


def _key(r):
    if "data" in r:
        return (r["data"], r["n"], r["mode"], r["seed"])
    return (s5._motions(r), r["n"], r["N"], r["snr"], r["seed"])


def changes_table(pairs, old_name: str = "session 5b", new_name: str = "session 6",
                  what: str = "regression runs") -> str:
    """Rows of the new files whose FIELDS differ from the old file's row of the same run."""
    out = [f"| run | {old_name} | {new_name} |", "|---|---|---|"]
    n_same = n_all = 0
    for old_src, new_src in pairs:
        old = {_key(r): r for r in s5._load(old_src) if r.get("unmix", 0.1) == 0.1}
        for r in s5._load(new_src):
            before = old.get(_key(r))
            if before is None:
                continue
            n_all += 1
            a = {f: before[f] for f in FIELDS}
            b = {f: r[f] for f in FIELDS}
            if a == b:
                n_same += 1
                continue
            out.append(f"| {' '.join(str(x) for x in _key(r))} | "
                       f"{json.dumps(a)} | {json.dumps(b)} |")
    head = (NOTE.format(src=", ".join(n for _o, n in pairs)).replace(
        " Per-seed values in seed order; mean ± standard deviation over the seeds.", "")
        + f"\n\n{n_same} of {n_all} {what} give the same factors found, accuracy, "
        f"confident accuracy and confident correct eigenvectors per factor as {old_name}; "
        "the others:")
    return head + "\n\n" + "\n".join(out)


def main() -> int:
    doc = HERE / "diagnosis.md"
    text = doc.read_text()
    tables = [
        ("session6-heldout-images", s5.images_table("measure_session6_images.jsonl", NOTE)),
        ("session6-heldout", s5.unmix_table("measure_session6.jsonl", NOTE)),
        ("session6-extra-images",
         s5.images_table("measure_session6_extra_images.jsonl", NOTE)),
        ("session6-regression-images",
         s5.images_table("measure_session6_regression_images.jsonl", NOTE)),
        ("session6-regression", s5.unmix_table("measure_session6_regression.jsonl", NOTE)),
        ("session6-changes", changes_table([
            ("measure_session5b_images.jsonl", "measure_session6_regression_images.jsonl"),
            ("measure_session5b.jsonl", "measure_session6_regression.jsonl")])),
    ]
    # session 6b: merge_bins' windows over every computed column, against session 6
    pairs_6b = [(f"measure_session6{k}.jsonl", f"measure_session6b{k}.jsonl")
                for k in ("_regression_images", "_regression", "_images", "", "_extra_images")]
    pairs_6b = [(o, n) for o, n in pairs_6b if (HERE / n).exists()]
    if pairs_6b:
        tables.append(("session6b-changes", changes_table(
            pairs_6b, "session 6", "session 6b", "re-run regression and held-out runs")))
    for tag, table in tables:
        text = replace_generated(text, tag, table)
    doc.write_text(text)
    SUMMARY.write_text(json.dumps({"derived": s5._DERIVED}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
