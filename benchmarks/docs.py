"""Every generated markdown file in ``docs/``: rendered by code from committed results JSON.

``python -m benchmarks.docs`` re-renders them all from the committed JSON (seconds);
``--check`` only compares and exits 1 on a difference (what ``tests/test_docs.py`` asserts).
``make docs`` first re-runs the experiments that write the JSON, then calls this.

Registering a generated document is one line in ``GENERATED``: the markdown path, the results
JSON it is rendered from (one or more, passed to the renderer in that order as parsed JSON),
and the renderer as ``"module:function"``. A renderer is a pure function of the parsed JSON
that returns the markdown text; a run writes its JSON and calls the same renderer, so the
committed markdown and the committed JSON cannot drift apart without the test noticing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class GeneratedDoc:
    markdown: str
    sources: tuple[str, ...]
    renderer: str

    def render(self, root: Path = ROOT) -> str:
        module, func = self.renderer.split(":")
        fn = getattr(importlib.import_module(module), func)
        data = [json.loads((root / s).read_text()) for s in self.sources]
        return fn(*data)


_EM = "conformap.reproduce.earthmover_report"
EARTHMOVER_RUNS = ("procedural", "real-map", "real-map-full")

GENERATED = [
    # docs/benchmarks.md: the full suite; the quick run of the same day is kept as results.*
    GeneratedDoc("docs/benchmarks.md", ("docs/benchmarks/full.json",),
                 "benchmarks.report:render_doc"),
    GeneratedDoc("docs/benchmarks/full.md", ("docs/benchmarks/full.json",),
                 "benchmarks.report:to_markdown"),
    GeneratedDoc("docs/benchmarks/results.md", ("docs/benchmarks/results.json",),
                 "benchmarks.report:to_markdown"),
    *[GeneratedDoc(f"docs/earthmover/{r}/tables.md", (f"docs/earthmover/{r}/results.json",),
                   f"{_EM}:render_tables") for r in EARTHMOVER_RUNS],
    GeneratedDoc("docs/earthmover/README.md",
                 tuple(f"docs/earthmover/{r}/results.json" for r in EARTHMOVER_RUNS),
                 f"{_EM}:render_readme"),
    GeneratedDoc("docs/large-n/README.md", ("docs/large-n/density.json",),
                 "benchmarks.bench_density:render_readme"),
    # helper C (issue 12), once product_manifold has a renderer of its parsed results.json:
    # GeneratedDoc("docs/product-manifold/results.md", ("docs/product-manifold/results.json",),
    #              "conformap.reproduce.product_manifold:render_results"),
]


#: Hand-written markdown whose decimal numbers must each be found in its results JSON (as a
#: value rounded to the number of decimals written): (markdown, (json, ...)). For prose that is
#: not (yet) rendered; a generated document belongs in GENERATED instead.
HAND_WRITTEN: list[tuple[str, tuple[str, ...]]] = []

_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")


def _json_numbers(obj, out: list) -> list:
    if isinstance(obj, dict):
        for v in obj.values():
            _json_numbers(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _json_numbers(v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out.append(float(obj))
    return out


def numbers_missing(markdown: str, sources) -> list[str]:
    """Decimal numbers of ``markdown`` that no number in the parsed JSON ``sources`` rounds to.

    A quoted ``6.28`` matches a stored 6.2817; code blocks are skipped.
    """
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    values = []
    for src in sources:
        _json_numbers(src, values)
    arr = sorted(values)
    missing = []
    for tok in _NUMBER.findall(text):
        digits = len(tok.split(".")[1])
        x = float(tok)
        if not any(round(v, digits) == x or round(abs(v), digits) == abs(x) for v in arr):
            missing.append(tok)
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a diff")
    parser.add_argument("--only", nargs="+", help="only these markdown paths")
    args = parser.parse_args(argv)
    stale = []
    for doc in GENERATED:
        if args.only and doc.markdown not in args.only:
            continue
        text = doc.render()
        path = ROOT / doc.markdown
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(doc.markdown)
        else:
            path.write_text(text)
            print(f"rendered {doc.markdown} from {', '.join(doc.sources)}")
    for s in stale:
        print(f"stale: {s} differs from its rendering; run `python -m benchmarks.docs`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
