"""Each test cell judges its own task: the student's other answers are replaced by the reference solutions.

Why: a lab builds step by step (``mlp_forward`` uses the student's ``relu`` and ``affine``), so a test of one
step used to run through the student's earlier steps, and one broken ``relu`` cost the points of every later
task that used it, with messages that blamed those tasks. While grading, each test cell now runs with the
reference solution (from ``source/``) of every earlier answer whose own test cells have all run, except the
answers the test cell names itself. In Colab nothing changes: the student's own functions are used.

Only answers whose tests are over are replaced, so a student's code that keeps a reference function it sees
during one test gains nothing in a later test of that same function: those tests ran before it was ever
handed over. What it could still do is rebind its own name for later given cells; that affects only test cells
that read state a given cell computed, which declare what they judge (``judges``) and are listed by ``holes``.

The same analysis says which answer cells each test cell judges (:func:`tasks`): the answer cells whose names it
uses, plus the ones its metadata declares (``{"course": {"judges": [answer ids], "why": ...}}``). The test
suite breaks one answer at a time and checks that only those test cells lose points.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from nbformat.notebooknode import NotebookNode

from course.core import notebooks

JUDGES = "judges"  # test cell metadata {"course": {"judges": [...]}}: further answer cells the test judges


@dataclass
class Swap:
    """What the grader does around one test cell: define ``source`` aside and bind ``names`` from it."""

    source: str
    names: list[str] = field(default_factory=list)


def _tree(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def answer_names(cell: NotebookNode) -> set[str]:
    """The top-level names an answer cell defines: functions, classes and assigned variables."""
    tree = _tree(notebooks.strip_markers(cell.source))
    names: set[str] = set()
    for node in tree.body if tree else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _definitions(cell: NotebookNode) -> tuple[str, set[str]]:
    """An answer cell's imports, functions and classes (never its statements that compute something)."""
    tree = _tree(notebooks.strip_markers(cell.source))
    if tree is None:
        return "", set()
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
    names = {n.name for n in keep if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return ast.unparse(ast.Module(body=keep, type_ignores=[])), names


def used_names(source: str) -> set[str]:
    tree = _tree(source)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} if tree else set()


def tasks(source_nb: NotebookNode) -> dict[str, set[str]]:
    """Test grade_id → the answer grade_ids it judges (names it uses, plus its declared ``judges``)."""
    owner: dict[str, str] = {}
    for cell in source_nb.cells:
        if cell.cell_type == "code" and notebooks.is_answer(cell):
            for name in answer_names(cell):
                owner.setdefault(name, notebooks.grade_id(cell))
    result: dict[str, set[str]] = {}
    for cell in source_nb.cells:
        if cell.cell_type == "code" and notebooks.is_tests(cell):
            judged = {owner[n] for n in used_names(cell.source) if n in owner}
            judged |= set(cell.get("metadata", {}).get("course", {}).get(JUDGES) or [])
            result[notebooks.grade_id(cell)] = judged
    return result


def swaps(source_nb: NotebookNode) -> dict[str, Swap]:
    """Test grade_id → the reference definitions to put in place while it runs (see the module docstring)."""
    cells = [c for c in source_nb.cells if c.cell_type == "code"]
    judged = tasks(source_nb)
    position = {notebooks.grade_id(c): i for i, c in enumerate(cells) if notebooks.grade_id(c)}
    last_test: dict[str, int] = {}
    for test, answers in judged.items():
        for answer in answers:
            last_test[answer] = max(last_test.get(answer, -1), position[test])
    result: dict[str, Swap] = {}
    for index, cell in enumerate(cells):
        if not notebooks.is_tests(cell):
            continue
        gid = notebooks.grade_id(cell)
        sources, names = [], []
        for earlier in cells[:index]:
            if not notebooks.is_answer(earlier):
                continue
            source, defined = _definitions(earlier)
            if not source:
                continue
            sources.append(source)  # every earlier reference, so references call references
            answer = notebooks.grade_id(earlier)
            if answer not in judged[gid] and last_test.get(answer, -1) < index:
                names += sorted(defined)
        if names:
            result[gid] = Swap("\n\n".join(sources), names)
    return result


def swap_code(swap: Swap) -> str:
    """Kernel code: define the references in a copy of the notebook's namespace and bind the chosen names."""
    return (
        "def __course_swap__(source, names, space=globals()):\n"
        "    scope = dict(space)\n"
        "    exec(compile(source, '<reference solutions>', 'exec'), scope)\n"
        "    saved = {n: space[n] for n in names if n in space}\n"
        "    space.update({n: scope[n] for n in names})\n"
        "    return saved, list(names)\n"
        f"__course_saved__ = __course_swap__({swap.source!r}, {swap.names!r})\n"
        "del __course_swap__\n"
    )


RESTORE_CODE = (
    "def __course_restore__(space=globals()):\n"
    "    saved, names = space.pop('__course_saved__', ({}, []))\n"
    "    for n in names:\n"
    "        if n in saved:\n"
    "            space[n] = saved[n]\n"
    "        else:\n"
    "            space.pop(n, None)\n"
    "__course_restore__()\n"
    "del __course_restore__\n"
)
