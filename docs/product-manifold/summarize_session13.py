"""Tables of diagnosis.md section 13 (session 13) from measure_session13*.jsonl.

    python docs/product-manifold/summarize_session13.py

Rewrites the blocks ``generated:session13-images`` and ``generated:session13-counts`` (image
runs, output of ``measure_session8.py``: ``measure_session13_chosen.jsonl`` the runs of
sections 11-12 and the three the rule was built on, ``measure_session13_heldout.jsonl`` seeds
140-142, ``measure_session13_fresh.jsonl`` seeds 150-152, measured once, after the rule was
final) and ``generated:session13-synthetic`` (rectangle, torus, box;
``measure_session13_regression.jsonl``, output of ``measure_unmix.py``), with the functions of
``summarize_session8.py``; writes ``measure_session13_summary.json``.
"""

from __future__ import annotations

import json

import summarize_session8 as s8  # the script's own folder is on sys.path

SCRIPT = "summarize_session13.py"
CHOSEN = ("measure_session13_chosen.jsonl", "earlier seeds")
HELDOUT = ("measure_session13_heldout.jsonl", "held out")
FRESH = ("measure_session13_fresh.jsonl", "fresh")
REGRESSION = ("measure_session13_regression.jsonl", "regression")


def main() -> int:
    c = s8.write_section("session13", [CHOSEN, HELDOUT, FRESH], [REGRESSION], SCRIPT)
    (s8.HERE / "measure_session13_summary.json").write_text(json.dumps(c, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
