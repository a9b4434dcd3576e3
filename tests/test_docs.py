"""Every number in docs/ is traceable (the rules are in ``benchmarks/docs.py``'s docstring):
a generated doc equals its rendering from the committed results JSON, a hand-written doc's
decimals are all in its JSON or in ``docs/quoted-figures.json`` with a named source, every
``docs/**/*.md`` is under one of the rules, and the renderers react to the numbers they get."""

from __future__ import annotations

import copy
import json
import re

import pytest

from benchmarks.docs import (
    GENERATED,
    QUOTE_SOURCE,
    ROOT,
    lint,
    numbers_missing,
    quote_problems,
    quoted,
    registered,
)

#: Documents not yet under a rule, each with the helper whose branch registers it. NOT an
#: exemption to keep: the lead removes an entry when that branch merges (a registered document
#: left here fails ``test_pending_docs_are_still_unregistered``). Until then these documents
#: are NOT traceable; ``python -m benchmarks.docs --lint`` does not cover them either.
PENDING = {
}


def _all_docs() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")}


def test_every_doc_is_generated_or_hand_written():
    unregistered = _all_docs() - registered()
    unknown = sorted(unregistered - set(PENDING))
    assert not unknown, (
        f"{unknown}: not traceable; register each in benchmarks/docs.py (GENERATED: rendered "
        "from committed JSON, or HAND_WRITTEN: every decimal in its JSON)")


def test_pending_docs_are_still_unregistered():
    done = sorted(set(PENDING) & registered())
    gone = sorted(set(PENDING) - _all_docs())
    assert not done, f"{done} are registered now: remove them from PENDING in tests/test_docs.py"
    assert not gone, f"{gone} no longer exist: remove them from PENDING in tests/test_docs.py"


def test_registered_docs_exist():
    missing = sorted(d for d in registered() if not (ROOT / d).is_file())
    assert not missing, f"registered in benchmarks/docs.py but not committed: {missing}"


def test_hand_written_docs_and_readme_are_traceable():
    """Rules 2, 3 and 5: every decimal in its JSON or a named quote / setting; README none."""
    problems = lint()
    assert not problems, "\n".join(problems)


def test_quote_rule_is_strict():
    text = "The issue measured 17.1 deg; we measure 0.42."
    ok = [{"value": "17.1", "kind": "quote", "source": "issue #10, on main 6055888"}]
    assert quote_problems("d.md", ok, text) == []
    assert numbers_missing(text, [{"x": 0.4213}], ["17.1"]) == []
    assert numbers_missing(text, [{"x": 0.4213}]) == ["17.1"]  # an unlisted quote is missing
    no_source = [{"value": "17.1", "kind": "quote", "source": "a previous run"}]
    assert quote_problems("d.md", no_source, text)
    assert quote_problems("d.md", [{"value": "17.1", "kind": "setting"}], text)  # no 'what'
    assert quote_problems("d.md", [{"value": "17.1", "kind": "measured", "source": "issue #1"}],
                          text)
    stale = [{"value": "9.9", "kind": "quote", "source": "issue #10"}]
    assert quote_problems("d.md", stale, text)
    for src in ("issue #15", "paper earthmover-manifold-learning.md section 4.2",
                "commit 6055888"):
        assert QUOTE_SOURCE.search(src), src
    for src in ("the issue", "paper, section 4", "main"):
        assert not QUOTE_SOURCE.search(src), src


def test_quoted_figures_name_registered_docs():
    assert set(quoted()) - registered() <= {"README.md"}


@pytest.mark.parametrize("doc", GENERATED, ids=[d.markdown for d in GENERATED])
def test_committed_markdown_is_its_rendering(doc):
    path = ROOT / doc.markdown
    assert path.is_file(), f"{doc.markdown} is missing; run `python -m benchmarks.docs`"
    for s in doc.sources:
        assert (ROOT / s).is_file(), f"{s} (source of {doc.markdown}) is not committed"
    assert path.read_text() == doc.render(), (
        f"{doc.markdown} does not match its results; run `python -m benchmarks.docs`")


def _numbers(text: str) -> list[str]:
    return re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", text)


def test_benchmark_doc_numbers_come_from_the_json():
    """Changing a measured time in the JSON changes the page (no number is typed in)."""
    from benchmarks.report import render_doc

    report = json.loads((ROOT / "docs/benchmarks/full.json").read_text())
    before = render_doc(report)
    changed = copy.deepcopy(report)
    rec = next(r for r in changed["records"] if "ours" in r and "baseline" in r)
    rec["ours"]["time"] *= 1.37
    rec["speedup"] = rec["baseline"]["time"] / rec["ours"]["time"]
    assert render_doc(changed) != before


def test_failed_check_is_rendered_as_failure():
    from benchmarks.report import render_doc

    report = json.loads((ROOT / "docs/benchmarks/full.json").read_text())
    rec = report["records"][0]
    rec["passed"] = False
    text = render_doc(report)
    assert "**FAIL**" in text or "**NO**" in text


def test_earthmover_readme_numbers_are_in_the_tables():
    """Each decimal in the README's prose appears in one of the three rendered tables."""
    tables = "".join((ROOT / f"docs/earthmover/{r}/tables.md").read_text()
                     for r in ("procedural", "real-map", "real-map-full"))
    readme = (ROOT / "docs/earthmover/README.md").read_text()
    missing = [x for x in _numbers(readme) if x not in tables]
    assert not missing, f"README numbers not in any tables.md: {missing}"


def test_numbers_missing_finds_untraceable_numbers():
    assert numbers_missing("took 6.28 s, 0.18 of the memory", [{"t": 6.2817, "m": [0.1799]}]) == []
    assert numbers_missing("took 7.5x", [{"t": 6.2817}]) == []  # '7.5x' is not a bare number
    assert numbers_missing("took 7.50 s", [{"t": 6.2817}]) == ["7.50"]
    assert numbers_missing("run `--noise 0.1` and\n```\nx = 2.5\n```\n", []) == []  # code


def test_cryo_em_page_numbers_come_from_the_json():
    from benchmarks.bench_particles import render_readme

    results = json.loads((ROOT / "docs/cryo-em/results.json").read_text())
    before = render_readme(results)
    changed = copy.deepcopy(results)
    rec = next(r for r in changed["records"] if r["benchmark"] == "particles_read")
    rec["speedup"] *= 1.37
    rec["passed"] = False
    after = render_readme(changed)
    assert after != before and "**NO**" in after


def test_benchmarks_page_has_the_workers_table_and_survives_new_fields():
    from benchmarks.report import render_doc

    report = json.loads((ROOT / "docs/benchmarks/full.json").read_text())
    dist = {"runs": [{"command": "python -m benchmarks.bench_distributed --full"}],
            "transform_workers": {"n": 20000, "in-process": {"s": 18.0},
                                  "local:1": {"s": 27.0, "cluster_start_s": 6.0},
                                  "local:2": {"s": 13.5, "new_field": 3, "nested": {"a": 1}}},
            "other": [1, 2]}
    text = render_doc(report, dist)
    assert "## 1 vs 2 Dask workers" in text
    assert "| local:2 | 13.5 s | 2.00x | new_field=3 |" in text
    dist["transform_workers"]["local:2"]["s"] = 27.0
    assert "| local:2 | 27 s | 1.00x |" in render_doc(report, dist)
    assert "(no `docs/distributed-results.json`)" in render_doc(report)
