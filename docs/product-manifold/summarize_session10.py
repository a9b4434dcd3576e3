"""Tables of diagnosis.md section 12 (session 10) from measure_session10*.jsonl.

    python docs/product-manifold/summarize_session10.py

Rewrites the blocks ``generated:session10-spread`` (every vector harmonic completion cleaned or
added with no spread or share limit, ``measure_session10_spread.jsonl``, the output of
``probe_session8_spread.py``), ``generated:session10-images`` and
``generated:session10-counts`` (image runs: ``measure_session10_chosen.jsonl`` the runs the
rule was chosen on, ``measure_session10_heldout.jsonl`` seeds 130-132; output of
``measure_session8.py``) and ``generated:session10-synthetic`` (rectangle, torus, box;
``measure_session10_regression.jsonl``, output of ``measure_unmix.py``), with the functions of
``summarize_session8.py``.
"""

from __future__ import annotations

import json

import summarize_session8 as s8  # the script's own folder is on sys.path

SCRIPT = "summarize_session10.py"
CHOSEN = ("measure_session10_chosen.jsonl", "chosen")
HELDOUT = ("measure_session10_heldout.jsonl", "held out")
REGRESSION = ("measure_session10_regression.jsonl", "regression")


def main() -> int:
    c = s8.write_section("session10", [CHOSEN, HELDOUT], [REGRESSION], SCRIPT,
                         spread="measure_session10_spread.jsonl")
    (s8.HERE / "measure_session10_summary.json").write_text(json.dumps(c, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
