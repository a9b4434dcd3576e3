"""Every number in a generated doc is traceable: the committed markdown equals its rendering
from the committed results JSON (``benchmarks/docs.py`` lists them), and the renderers
themselves react to the numbers they are given."""

from __future__ import annotations

import copy
import json
import re

import pytest

from benchmarks.docs import GENERATED, HAND_WRITTEN, ROOT, numbers_missing


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


_NONE = pytest.param(None, None, marks=pytest.mark.skip(reason="no hand-written docs registered"))


@pytest.mark.parametrize("markdown, sources", HAND_WRITTEN or [_NONE])
def test_hand_written_numbers_are_in_their_results(markdown, sources):
    data = [json.loads((ROOT / s).read_text()) for s in sources]
    missing = numbers_missing((ROOT / markdown).read_text(), data)
    assert not missing, f"{markdown}: numbers not in {sources}: {missing}"


def test_numbers_missing_finds_untraceable_numbers():
    assert numbers_missing("took 6.28 s, 0.18 of the memory", [{"t": 6.2817, "m": [0.1799]}]) == []
    assert numbers_missing("took 7.5x", [{"t": 6.2817}]) == []  # '7.5x' is not a bare number
    assert numbers_missing("took 7.50 s", [{"t": 6.2817}]) == ["7.50"]
