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
from summarize_unmix import replace_generated

SCRIPT = "summarize_session13.py"
CHOSEN = ("measure_session13_chosen.jsonl", "earlier seeds")
HELDOUT = ("measure_session13_heldout.jsonl", "held out")
FRESH = ("measure_session13_fresh.jsonl", "fresh")
REGRESSION = ("measure_session13_regression.jsonl", "regression")


def main() -> int:
    doc = s8.HERE / "diagnosis.md"
    text = doc.read_text()
    sources = (CHOSEN, HELDOUT, FRESH)
    c = s8.counts(sources)
    text = replace_generated(text, "session13-images", s8.images_table(sources, SCRIPT))
    text = replace_generated(text, "session13-counts", s8.counts_table(c, sources, SCRIPT))
    text = replace_generated(text, "session13-synthetic", s8.synthetic_table([REGRESSION], SCRIPT))
    doc.write_text(text)
    (s8.HERE / "measure_session13_summary.json").write_text(json.dumps(c, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
