"""Module boundaries: no private name (or private submodule of another package) is imported
across modules; library modules do not phrase command-line flags."""

from __future__ import annotations

import ast
from pathlib import Path

import conformap

SRC = Path(conformap.__file__).parent


def _module(path: Path) -> tuple[str, str]:
    parts = ("conformap", *path.relative_to(SRC).with_suffix("").parts)
    name = ".".join(p for p in parts if p != "__init__")
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return name, package


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def private_imports() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        _, package = _module(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = _absolute(node, package)
            if not target.startswith("conformap"):
                continue
            where = f"{path.relative_to(SRC)}:{node.lineno}"
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{where}: {target}.{alias.name}")
            segments = target.split(".")
            for i, seg in enumerate(segments):
                if seg.startswith("_"):
                    owner = ".".join(segments[:i])  # the package the private module belongs to
                    if package != owner and not package.startswith(owner + "."):
                        found.append(f"{where}: private module {target}")
                    break
    return found


def test_no_private_name_is_imported_across_modules():
    assert private_imports() == []


def test_library_modules_do_not_phrase_command_line_flags():
    """Only cli/ names flags such as --method; library messages name Python parameters."""
    import re

    flag = re.compile(r"[\"'][^\"']*--(method|max-memory|cache|negative|level|out)\b")
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("cli", "reproduce"):
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if flag.search(line):
                offenders.append(f"{rel}:{i}: {line.strip()}")
    assert offenders == []
