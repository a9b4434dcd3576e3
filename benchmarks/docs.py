"""Every markdown file in ``docs/`` is traceable to committed results JSON.

``python -m benchmarks.docs`` re-renders the generated documents from the committed JSON
(seconds); ``--check`` only compares and exits 1 on a difference; ``--lint`` also lists every
decimal number of a hand-written document that no source accounts for. ``tests/test_docs.py``
asserts all of it, and that no ``docs/**/*.md`` (nor ``README.md``) escapes these rules.
``make docs`` first re-runs the experiments that write the JSON, then calls this.

The rules
---------
1. **Generated** (``GENERATED``, one line per document): the markdown path, the results JSON it
   is rendered from (one or more, passed to the renderer in that order as parsed JSON), and
   the renderer as ``"module:function"``, a pure function of the parsed JSON returning the
   markdown text. A run writes its JSON and calls the same renderer, so the committed markdown
   and the committed JSON cannot drift apart without the test noticing.
2. **Hand-written** (``HAND_WRITTEN``: ``(markdown, (json, ...))``): prose that is not
   rendered. Each decimal number in it (digits, a point, digits; outside code) must equal a
   number of its JSON sources rounded to the decimals written (``6.28`` matches a stored
   ``6.2817``); the decimals inside a results file's strings (a run's messages) count as
   its numbers. A document without measurements is registered with no sources: then it may
   hold no decimal.
3. **Numbers that are not this repository's measurements** are listed, per document, in
   ``docs/quoted-figures.json`` (``QUOTED_PATH``), each with the exact token as written and why it
   may stand there, one of two kinds:

   * ``{"value": "17.1", "kind": "quote", "source": "issue #10", "context": "..."}``: a figure
     quoted from elsewhere; ``source`` must name where, matching ``QUOTE_SOURCE``: an issue
     (``issue #10``), a paper in ``/work/shared/papers`` with its section (``paper
     earthmover-manifold-learning.md section 4.2``), or a commit (``commit 6055888``). A quote
     is a claim of the source, not a measurement of the code; the prose must say so.
   * ``{"value": "3.1", "kind": "setting", "what": "RELION STAR file version"}``: a version,
     a parameter value or a constant of the code written in prose.

   Every entry must occur in its document (stale entries fail), and an entry exempts only that
   token in that document. Everything else (a derived ratio, a timing from a run whose JSON
   was not kept) has to come from a results file.
4. **Code is not prose**: numbers in fenced code blocks and in ``inline code`` are commands
   and parameters, and are not checked; a measurement must not be written as code.
5. **README.md** is held to rule 2 with no sources: it quotes no measurement (it links the
   docs instead); its versions and parameters in prose are ``setting`` entries of rule 3.
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
        return fn(*[load_source(root / s) for s in self.sources])


def load_source(path: Path):
    """A results file parsed: ``.json`` as one document, ``.jsonl`` as the list of its lines."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


_EM = "conformap.reproduce.earthmover_report"
EARTHMOVER_RUNS = ("procedural", "real-map", "real-map-full")

GENERATED = [
    # docs/benchmarks.md: the full suite; the quick run of the same day is kept as results.*
    GeneratedDoc("docs/benchmarks.md", ("docs/benchmarks/full.json",
                                        "docs/distributed-results.json"),
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
    GeneratedDoc("docs/cryo-em/README.md", ("docs/cryo-em/results.json",),
                 "benchmarks.bench_particles:render_readme"),
    GeneratedDoc("docs/large-n/NEIGHBORS.md", ("docs/large-n/neighbors.json",),
                 "benchmarks.bench_neighbors:render"),
    GeneratedDoc("docs/large-n/LARGE_N.md", ("docs/large-n/largen-100000.json",
                                             "docs/large-n/largen-100000-before-unrounded-"
                                             "dimension.json",
                                             "docs/large-n/largen-100000-before-denoising.json",
                                             "docs/large-n/largen-100000-before-reference-"
                                             "dimension.json",
                                             "docs/large-n/largen-50000.json",
                                             "docs/large-n/largen-dimension.json",
                                             "docs/large-n/largen-sweep-20000.json",
                                             "docs/large-n/largen-sweep-20000-dimension.json",
                                             "docs/large-n/largen-sweep-100000-reference.json",
                                             "docs/large-n/denoise-small.json",
                                             "docs/large-n/kernel-diagnosis.json"),
                 "benchmarks.bench_largen:render"),
    GeneratedDoc("docs/distributed.md", ("docs/distributed-results.json",),
                 "benchmarks.distributed_doc:render_doc"),
    *[GeneratedDoc(f"docs/product-manifold/{d}results.md",
                   (f"docs/product-manifold/{d}results.json",),
                   "conformap.reproduce.product_manifold:render_results") for d in ("", "full/")],
    GeneratedDoc("docs/large-n/README.md", ("docs/large-n/density.json",),
                 "benchmarks.bench_density:render_readme"),
    GeneratedDoc("docs/large-n/DIMENSION.md", ("docs/large-n/dimension.json",),
                 "benchmarks.bench_dimension:render"),
]


#: Hand-written markdown whose decimal numbers must each be found in its results JSON (as a
#: value rounded to the number of decimals written): (markdown, (json, ...)). For prose that is
#: not (yet) rendered; a generated document belongs in GENERATED instead.
_PM = "docs/product-manifold"
_LN = "docs/large-n"
HAND_WRITTEN: list[tuple[str, tuple[str, ...]]] = [
    (f"{_LN}/NOISY_IMAGES.md", (*(f"{_LN}/noisy/{x}.jsonl" for x in (
                                    "after", "compare", "diag", "euclidean", "heldout",
                                    "heldout2", "heldout3", "map", "n300", "ratio", "regions",
                                    "snr01")),
                                f"{_LN}/mid-n/rotor.jsonl", f"{_LN}/largen-100000.json",
                                f"{_LN}/denoise-small.json",
                                f"{_LN}/largen-sweep-20000-dimension.json",
                                f"{_LN}/noisy/blobs-700.jsonl",
                                f"{_LN}/noisy/blobs-before-merge.jsonl",
                                f"{_LN}/noisy/blobs-700-guard.jsonl",
                                f"{_LN}/noisy/blobs-700-guard-heldout.jsonl",
                                f"{_LN}/noisy/blobs-700-merged.jsonl",
                                f"{_LN}/noisy/localised-items.jsonl",
                                f"{_LN}/noisy/guard.jsonl",
                                f"{_LN}/parts/adaptive_floor_choose.jsonl",
                                f"{_LN}/parts/localisation_largen_images_20000.json",
                                f"{_LN}/noisy/session10-two-pass.jsonl",
                                f"{_LN}/noisy/session10-two-pass-heldout.jsonl",
                                f"{_LN}/noisy/session10-two-pass-clean.jsonl",
                                f"{_LN}/noisy/session11-averaging-scale.jsonl",
                                f"{_LN}/largen-100000-two-pass.json")),
    (f"{_LN}/SIMULATED_PARTICLES.md", tuple(f"{_LN}/simulated/{x}.jsonl"
                                            for x in ("n2000", "n5000", "cli", "dwell"))),
    (f"{_LN}/TRUNCATION.md", (f"{_LN}/truncation/k-sweep.jsonl", f"{_LN}/largen-100000.json",
                              f"{_LN}/truncation/noisy-kernel.jsonl",
                              f"{_LN}/truncation/dense-knn.jsonl",
                              f"{_LN}/truncation/after.jsonl",
                              f"{_LN}/density.json", f"{_LN}/parts/robustness-large.json")),
    ("docs/large-n/SMALL_N.md", ("docs/large-n/parts/small_n_summary.json",
                                 "docs/large-n/parts/small_n.json",
                                 "docs/large-n/parts/small_n_notes.json",
                                 "docs/large-n/parts/small_n_before.json",
                                 "docs/large-n/parts/small_n_real_smallest_choose.json",
                                 "docs/large-n/parts/small_n_real_smallest_heldout.json",
                                 "docs/large-n/parts/small_n_rules_choose.json",
                                 "docs/large-n/parts/small_n_rules_choose_saddle.json",
                                 "docs/large-n/parts/small_n_rules_heldout.json",
                                 "docs/large-n/parts/small_n_transition_choose.json",
                                 "docs/large-n/parts/small_n_transition_choose_775.json",
                                 "docs/large-n/parts/small_n_transition_choose_noisy.json",
                                 "docs/large-n/parts/small_n_transition_heldout.json",
                                 "docs/large-n/parts/small_n_transition_heldout_noisy.json",
                                 "docs/large-n/density.json",
                                 "docs/large-n/parts/adaptive_floor_choose.jsonl",
                                 "docs/large-n/parts/adaptive_floor_choose_summary.json",
                                 "docs/large-n/parts/adaptive_smooth_choose.jsonl",
                                 "docs/large-n/parts/localisation_largen.jsonl",
                                 "docs/large-n/parts/kernel_floor.jsonl")),
    (f"{_LN}/MID_N.md", (f"{_LN}/mid-n/diagnosis.jsonl", f"{_LN}/mid-n/candidates.jsonl",
                         f"{_LN}/mid-n/rotor.jsonl", f"{_LN}/mid-n/summary.json",
                         f"{_LN}/parts/robustness-small.json", f"{_LN}/density.json",
                         f"{_LN}/dimension.json", f"{_LN}/mid-n/knn.jsonl",
                         f"{_LN}/mid-n/images-20000-before.json",
                         f"{_LN}/mid-n/images-20000-after.json", f"{_LN}/largen-100000.json",
                         f"{_LN}/largen-100000-before-unrounded-dimension.json",
                         f"{_LN}/largen-dimension.json")),
    (f"{_PM}/README.md", (f"{_PM}/results.json", f"{_PM}/full/results.json",
                          f"{_PM}/measure_images.jsonl", f"{_PM}/measure_scaling.jsonl")),
    (f"{_PM}/diagnosis.md", (f"{_PM}/results.json", f"{_PM}/measure_images.jsonl",
                             f"{_PM}/measure_scaling.jsonl", f"{_PM}/measure_factors.jsonl",
                             f"{_PM}/measure_session3.jsonl", f"{_PM}/profile_quick.jsonl",
                             f"{_PM}/full/results.json", f"{_PM}/measure_unmix.jsonl",
                             f"{_PM}/measure_unmix_images.jsonl",
                             f"{_PM}/measure_unmix_images10k.jsonl",
                             f"{_PM}/measure_unmix_summary.json",
                             f"{_PM}/measure_session5.jsonl",
                             f"{_PM}/measure_session5_images.jsonl",
                             f"{_PM}/measure_session5_summary.json",
                             f"{_PM}/probe_session5.json",
                             f"{_PM}/measure_session5_10k_time.json",
                             f"{_PM}/measure_session5b.jsonl",
                             f"{_PM}/measure_session5b_images.jsonl",
                             f"{_PM}/probe_session5b.json",
                             f"{_PM}/measure_session6.jsonl",
                             f"{_PM}/measure_session6_images.jsonl",
                             f"{_PM}/measure_session6_regression.jsonl",
                             f"{_PM}/measure_session6_regression_images.jsonl",
                             f"{_PM}/measure_session6_probe.jsonl",
                             f"{_PM}/measure_session6_extra_images.jsonl",
                             f"{_PM}/measure_session6_summary.json",
                             f"{_PM}/probe_session6.json",
                             f"{_PM}/probe_session6_resolved.json",
                             f"{_PM}/probe_session6_resolved_81.json",
                             f"{_PM}/probe_session6_seed81.json",
                             f"{_PM}/cli_session6.json",
                             f"{_PM}/probe_session8.json",
                             f"{_PM}/probe_session8_seed90_clean.json",
                             f"{_PM}/probe_session8_circle.json",
                             f"{_PM}/probe_session8_spread.jsonl",
                             f"{_PM}/measure_session8_images.jsonl",
                             f"{_PM}/measure_session8_heldout_images.jsonl",
                             f"{_PM}/measure_session8_regression.jsonl",
                             f"{_PM}/measure_session8_heldout.jsonl",
                             f"{_PM}/measure_session8_summary.json",
                             f"{_PM}/measure_session8_10k_time.json",
                             f"{_PM}/probe_session8_seed102.json",
                             f"{_PM}/probe_session8_seed102_h1.json",
                             f"{_PM}/measure_session10_spread.jsonl",
                             f"{_PM}/measure_session10_chosen.jsonl",
                             f"{_PM}/measure_session10_heldout.jsonl",
                             f"{_PM}/measure_session10_regression.jsonl",
                             f"{_PM}/measure_session10_summary.json",
                             f"{_PM}/measure_session10_times.json",
                             f"{_PM}/probe_products_session12.jsonl",
                             f"{_PM}/measure_products_session12.jsonl",
                             f"{_PM}/probe_session13_rejoin.json",
                             f"{_PM}/measure_session13_chosen.jsonl",
                             f"{_PM}/measure_session13_heldout.jsonl",
                             f"{_PM}/measure_session13_fresh.jsonl",
                             f"{_PM}/measure_session13_regression.jsonl",
                             f"{_PM}/measure_session13_window.jsonl",
                             f"{_PM}/measure_session13_summary.json",
                             f"{_PM}/probe_session14_window.json",
                             f"{_PM}/measure_session14_chosen.jsonl",
                             f"{_PM}/measure_session14_heldout.jsonl",
                             f"{_PM}/measure_session14_fresh.jsonl",
                             f"{_PM}/measure_session14_regression.jsonl",
                             f"{_PM}/measure_session14_summary.json",
                             f"{_PM}/measure_session14_clean.jsonl",
                             f"{_PM}/measure_session14_products.jsonl",
                             f"{_PM}/cli_session14.json",
                             f"{_PM}/cli_session14_fresh.json",
                             f"{_PM}/probe_session14_cli_rejoin.json",
                             f"{_PM}/measure_session14_rejoin.jsonl",
                             f"{_PM}/measure_session14_leads.jsonl",
                             f"{_PM}/measure_session14_regression_leads.jsonl")),
]

_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)

#: Quoted figures and prose settings, per document (rule 3).
QUOTED_PATH = "docs/quoted-figures.json"
#: A quote names its source: an issue, a paper of /work/shared/papers with its section, a commit.
QUOTE_SOURCE = re.compile(
    r"issue #\d+|paper [\w.-]+\.md,? (section|§) ?[\w.]+|commit [0-9a-f]{7,40}")


def quoted(root: Path = ROOT) -> dict[str, list[dict]]:
    """``docs/quoted-figures.json`` (rule 3): document -> entries; {} when absent."""
    path = root / QUOTED_PATH
    if not path.is_file():
        return {}
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


def quote_problems(doc: str, entries: list[dict], text: str) -> list[str]:
    """Entries of ``doc`` that break rule 3 (no source / what, or not in the document)."""
    bad = []
    tokens = set(_NUMBER.findall(_CODE.sub("", text)))
    for e in entries:
        v = e.get("value")
        if e.get("kind") == "quote":
            if not QUOTE_SOURCE.search(str(e.get("source", ""))):
                bad.append(f"{doc}: quote {v!r} names no source matching {QUOTE_SOURCE.pattern}")
        elif e.get("kind") == "setting":
            if not str(e.get("what", "")).strip():
                bad.append(f"{doc}: setting {v!r} does not say what it is ('what')")
        else:
            bad.append(f"{doc}: entry {v!r} has kind {e.get('kind')!r}; use 'quote' or 'setting'")
        if v not in tokens:
            bad.append(f"{doc}: entry {v!r} does not occur in the document's prose (stale?)")
    return bad


def _json_numbers(obj, out: list) -> list:
    if isinstance(obj, dict):
        for v in obj.values():
            _json_numbers(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _json_numbers(v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out.append(float(obj))
    elif isinstance(obj, str):
        # a run's own message ("the spectrum has dimension 1.08") is part of its record
        out.extend(float(t) for t in _NUMBER.findall(obj))
    return out


def numbers_missing(markdown: str, sources, allowed=()) -> list[str]:
    """Decimal numbers of ``markdown`` that no number in the parsed JSON ``sources`` rounds to.

    A written ``6.28`` matches a stored 6.2817; code (fenced and inline) is skipped; tokens in
    ``allowed`` (the document's entries of ``docs/quoted-figures.json``) are exempt.
    """
    text = _CODE.sub("", markdown)
    allowed = set(allowed)
    values = []
    for src in sources:
        _json_numbers(src, values)
    arr = sorted(values)
    missing = []
    for tok in _NUMBER.findall(text):
        if tok in allowed:
            continue
        digits = len(tok.split(".")[1])
        x = float(tok)
        if not any(round(v, digits) == x or round(abs(v), digits) == abs(x) for v in arr):
            missing.append(tok)
    return missing


def registered() -> set[str]:
    """Every document under a rule: generated or hand-written."""
    return {d.markdown for d in GENERATED} | {m for m, _ in HAND_WRITTEN}


def lint(root: Path = ROOT) -> list[str]:
    """Problems of the hand-written documents and README.md under rules 2, 3 and 5."""
    q = quoted(root)
    problems = []
    for markdown, sources in [*HAND_WRITTEN, ("README.md", ())]:
        text = (root / markdown).read_text()
        data = [load_source(root / s) for s in sources]
        entries = q.get(markdown, [])
        problems += quote_problems(markdown, entries, text)
        missing = numbers_missing(text, data, [e.get("value") for e in entries])
        if missing:
            problems.append(f"{markdown}: numbers in no source {list(sources)} and not in "
                            f"{QUOTED_PATH}: {missing}")
    for doc in sorted(set(q) - registered() - {"README.md"}):
        problems.append(f"{QUOTED_PATH}: {doc} is not a registered document")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a diff")
    parser.add_argument("--only", nargs="+", help="only these markdown paths")
    parser.add_argument("--lint", action="store_true", help="also check the hand-written "
                        "documents' numbers (rules 2, 3, 5); exit 1 on a problem")
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
    problems = lint() if args.lint else []
    for p in problems:
        print(f"untraceable: {p}")
    return 1 if stale or problems else 0


if __name__ == "__main__":
    sys.exit(main())
