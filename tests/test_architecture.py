"""The shape of the package: no import cycles between its parts, and no scenario's names in
generic code (DESIGN.md §2, §6). Both read the source, so they fail on the commit that breaks
them, not when a later scenario trips over it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "xr_codec_marl"
NAME = "xr_codec_marl"


def _node(module: str) -> str:
    """The part of the package a module belongs to: ``core``, ``env``, ``scenarios.xr``, or a
    top-level module such as ``errors``."""
    parts = module.split(".")[1:]
    if not parts:
        return NAME
    if parts[0] == "scenarios" and len(parts) > 1:
        return f"scenarios.{parts[1]}"
    return parts[0]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        if "proto" in path.relative_to(PKG).parts:  # generated protobuf code
            continue
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> set[str]:
    """Every project module ``module`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text())
    pkg = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(NAME)}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if base.startswith(NAME):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        src = _node(mod)
        for imp in _imports(mod, path):
            if imp in mods and _node(imp) != src:
                graph.setdefault(src, set()).add(_node(imp))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_package_parts_import_each_other_without_cycles() -> None:
    graph = _graph()
    assert "core" in graph and "scenarios.xr" in graph  # the graph is really read
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_core_depends_on_nothing_but_errors() -> None:
    assert _graph().get("core", set()) <= {"errors"}


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


#: Words that belong to one scenario; generic modules must not use them. The package and
#: command names (xr_codec_marl, xr-marl, xr-codec-marl) are the project's, not a scenario's.
SCENARIO_WORDS = re.compile(
    r"\b(ring|ring_m|rings|codec|codecs|xqi|xr_index|AR|VR|CG|aps|APS|plr|jitter_ms|"
    r"xr-codec|matrix|climbing)\b")
PROJECT_NAMES = re.compile(r"xr[_-]codec[_-]marl|xr-marl|XRMARL_\w+|xrmarl[\w-]*")


def _generic_files() -> list[Path]:
    return [p for p in PKG.rglob("*.py")
            if "scenarios" not in p.relative_to(PKG).parts
            and "proto" not in p.relative_to(PKG).parts]


@pytest.mark.parametrize("path", _generic_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_generic_modules_name_no_scenario(path: Path) -> None:
    text = PROJECT_NAMES.sub("", path.read_text())
    hits = [f"{i}: {m.group(0)}" for i, line in enumerate(text.splitlines(), 1)
            for m in SCENARIO_WORDS.finditer(line)]
    assert not hits, f"{path.relative_to(PKG)} names a scenario: {hits[:8]}"


def test_the_word_check_catches_scenario_names() -> None:
    assert SCENARIO_WORDS.search("kpis['xr_index']") and SCENARIO_WORDS.search("ring_m=400")
    assert not SCENARIO_WORDS.search(PROJECT_NAMES.sub("", "import xr_codec_marl.during"))
