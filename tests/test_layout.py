"""The package's folders are the pipeline's stages, and imports only point backwards (issue 13).

Why a test: a layout rule that is only written down drifts with the first hurried import. Every
``import course.…`` in the package, at module level or inside a function, is checked here.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "course"
# The pipeline, earliest first. A module may import its own stage, an earlier one, or core.
STAGES = ["core", "build", "grading", "classroom", "checks"]
TOP = {"cli", "__main__", "__init__"}  # the thin CLI sits on top of every stage


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "templates" in path.relative_to(PACKAGE).parts:
            continue  # copied into notebooks, never imported
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(("course",) + parts)] = path
    return out


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every course module this file imports (``from course.x import y`` may name module y)."""
    found = []
    modules = _modules()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("course")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("course"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.append((node.lineno, sub if sub in modules else node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: use absolute imports (course.<stage>.<module>)")
    return found


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in STAGES else parts[-1] if len(parts) == 2 else "?"


def test_every_module_lives_in_a_stage_or_is_the_cli():
    for module in _modules():
        parts = module.split(".")
        if len(parts) == 2:
            assert parts[1] in TOP, f"{module}: a top-level module that is not the CLI; move it into a stage folder"
        else:
            assert parts[1] in STAGES, f"{module}: {parts[1]}/ is not a stage ({', '.join(STAGES)})"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_point_from_later_stages_to_earlier_ones(module):
    path = _modules()[module]
    mine = module.split(".")[1] if len(module.split(".")) > 2 else None
    for line, target in _imports(path):
        if target in {"course", "course.cli"} or target.split(".")[1] in TOP:
            assert mine is None or target == "course", f"{path}:{line}: a stage imports the CLI ({target})"
            continue
        theirs = _stage(target)
        assert theirs in STAGES, f"{path}:{line}: {target} is not in a stage"
        if mine is None:
            continue  # the CLI may call any stage
        assert STAGES.index(theirs) <= STAGES.index(mine), (
            f"{path}:{line}: {module} ({mine}) imports {target} ({theirs}), a later stage; "
            f"the pipeline runs {' → '.join(STAGES)}")


def test_core_imports_no_stage():
    for module, path in _modules().items():
        if module.startswith("course.core."):
            for line, target in _imports(path):
                assert target.startswith("course.core"), f"{path}:{line}: core imports {target}"


def test_no_circular_imports_at_module_level():
    """Module-level imports form no cycle (function-level ones are allowed to break one, but there are none)."""
    modules = _modules()
    graph = {m: {t for _, t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        if state.get(m) == 2:
            return
        assert state.get(m) != 1, "import cycle: " + " → ".join(trail + [m])
        state[m] = 1
        for t in sorted(graph[m]):
            visit(t, trail + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_the_fork_server_imports_only_the_standard_library():
    """It runs inside bubblewrap, where the course package is not mounted."""
    path = PACKAGE / "grading" / "forkserver.py"
    assert not _imports(path), "forkserver.py must not import the course package"


def test_the_cli_stays_thin():
    """The CLI parses flags and calls one step per command; nothing imports it back."""
    cli = PACKAGE / "cli.py"
    tree = ast.parse(cli.read_text())
    defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert not [n for n in tree.body if isinstance(n, ast.ClassDef)], "the CLI defines no classes; put logic in a step"
    assert len(defs) <= 12, f"cli.py grew to {len(defs)} functions: move logic into the step's module"
