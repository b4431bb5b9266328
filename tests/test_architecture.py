"""The house's layering, read from the source with ast (nothing is imported):

- flixrec/ (the core) never imports streamlit or ingest, and its modules import each other without a circle;
- ingest/ never imports streamlit;
- streamlit_app.py and pages/*.py import only the app package (pages.common, or `common` when pages/ is on
  sys.path) and flixrec, besides the standard library and third-party packages;
- no top-level app_*.py helpers remain (the app package is pages/common/).

`streamlit run` puts the entry script's folder (the repository root) on sys.path, so pages import
`pages.common`; `from common import ...` is accepted too.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Top-level names that belong to this repository (anything else is the standard library or third-party).
PROJECT_TOPS = {"flixrec", "ingest", "pages", "common", "streamlit_app", "bench", "tests", "conftest"} | {
    p.stem for p in ROOT.glob("*.py")}


@dataclass(frozen=True)
class Import:
    """One imported module name, where it was written, and whether it runs at import time."""

    module: str
    line: int
    top_level: bool


def module_name(path: Path) -> str:
    """Dotted module name of a repository file: flixrec/index/store.py -> flixrec.index.store."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(*patterns: str) -> list[Path]:
    """Repository files matching the glob patterns, caches left out."""
    found = {p for pattern in patterns for p in ROOT.glob(pattern) if "__pycache__" not in p.parts}
    return sorted(found)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(body: list[ast.stmt], top_level: bool):
    """Yield (import node, runs at import time) for the statements, descending into every block.

    Imports inside functions are lazy (not top level); imports under `if TYPE_CHECKING:` never run."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, top_level
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk(node.body, False)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            continue
        else:
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    yield from _walk(block, top_level)
            for clause in getattr(node, "handlers", []) + getattr(node, "cases", []):
                yield from _walk(clause.body, top_level)


def imports_of(path: Path, known_modules: set[str]) -> list[Import]:
    """Every module a file imports, relative imports resolved; `from pkg import sub` names pkg.sub when
    that is a module of this repository."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node, top_level in _walk(tree.body, True):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, top_level) for alias in node.names)
            continue
        if node.level:
            base_parts = package.split(".") if package else []
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known_modules]
        found.extend(Import(sub, node.lineno, top_level) for sub in subs)
        if len(subs) < len(node.names):
            found.append(Import(base, node.lineno, top_level))
    return found


def top(module: str) -> str:
    return module.split(".")[0]


CORE = python_files("flixrec/**/*.py")
INGEST = python_files("ingest/**/*.py")
PAGES = python_files("streamlit_app.py", "pages/*.py")
APP_PACKAGE = python_files("pages/**/*.py")
ALL = sorted(set(CORE + INGEST + PAGES + APP_PACKAGE))
KNOWN = {module_name(p) for p in ALL}


def test_the_layout_is_there():
    assert CORE and INGEST and PAGES, "flixrec/, ingest/, streamlit_app.py and pages/ should all have modules"


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_parses(path: Path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_core_never_imports_streamlit_or_ingest():
    bad = [f"{p.relative_to(ROOT)}:{i.line} imports {i.module}" for p in CORE for i in imports_of(p, KNOWN)
           if top(i.module) in {"streamlit", "ingest", "pages", "common"} or top(i.module).startswith("app_")]
    assert not bad, "flixrec/ is the core: " + "; ".join(bad)


def test_ingest_never_imports_streamlit_or_the_app():
    bad = [f"{p.relative_to(ROOT)}:{i.line} imports {i.module}" for p in INGEST for i in imports_of(p, KNOWN)
           if top(i.module) in {"streamlit", "pages", "common", "streamlit_app"} or top(i.module).startswith("app_")]
    assert not bad, "ingest/ is a command-line writer: " + "; ".join(bad)


def _page_import_allowed(module: str) -> bool:
    """The app package and the core, or anything outside this repository."""
    if module == "pages.common" or module.startswith("pages.common.") or top(module) == "common":
        return True
    if top(module) == "flixrec":
        return True
    return top(module) not in PROJECT_TOPS


def test_pages_import_only_the_app_package_and_the_core():
    bad = [f"{p.relative_to(ROOT)}:{i.line} imports {i.module}" for p in PAGES for i in imports_of(p, KNOWN)
           if not _page_import_allowed(i.module)]
    assert not bad, "pages go through pages/common and flixrec only: " + "; ".join(bad)


def test_the_app_package_never_imports_a_page():
    pages = {module_name(p) for p in PAGES}
    common = [p for p in APP_PACKAGE if p not in PAGES]
    bad = [f"{p.relative_to(ROOT)}:{i.line} imports {i.module}" for p in common for i in imports_of(p, KNOWN)
           if i.module in pages]
    assert not bad, "; ".join(bad)


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Import circles in a module graph (depth-first search; each as a path that returns to its start)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for name in sorted(graph):
        if name not in state:
            visit(name)
    return cycles


def core_graph(paths: list[Path], known: set[str]) -> dict[str, list[str]]:
    """flixrec module -> the flixrec modules it imports when it is imported (lazy imports left out)."""
    core = {module_name(p): p for p in paths}
    return {name: sorted({i.module for i in imports_of(path, known) if i.top_level and i.module in core
                          and i.module != name}) for name, path in core.items()}


def test_no_import_circle_in_the_core():
    cycles = find_cycles(core_graph(CORE, KNOWN))
    assert not cycles, "import circles in flixrec/: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_top_level_app_helpers_remain():
    leftovers = sorted(p.name for p in ROOT.glob("app_*.py"))
    assert not leftovers, f"move {leftovers} into pages/common/ (the app package)"


def test_the_checker_sees_a_circle_and_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The checks above would catch what they are for (a self-test of the ast reading, on a fake tree)."""
    pkg = tmp_path / "flixrec"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from flixrec import b\nimport streamlit as st\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flixrec import c\n"
                              "from . import a\n")
    (pkg / "c.py").write_text("def later():\n    from flixrec import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    known = {"flixrec", "flixrec.a", "flixrec.b", "flixrec.c"}
    a = imports_of(pkg / "a.py", known)
    b = imports_of(pkg / "b.py", known)
    c = imports_of(pkg / "c.py", known)
    assert [(i.module, i.top_level) for i in a] == [("flixrec.b", True), ("streamlit", True)]
    assert [(i.module, i.top_level) for i in b] == [("typing", True), ("flixrec.a", True)]
    assert [(i.module, i.top_level) for i in c] == [("flixrec.a", False)]
    graph = core_graph([pkg / "a.py", pkg / "b.py", pkg / "c.py"], known)
    assert graph == {"flixrec.a": ["flixrec.b"], "flixrec.b": ["flixrec.a"], "flixrec.c": []}
    assert find_cycles(graph) == [["flixrec.a", "flixrec.b", "flixrec.a"]]
