"""Make submissions from the release notebook: solved, blank, half done, or wrong.

Why: the demo, the grading-hole report, the benchmark and the test suite all
need notebooks that look exactly like what a student hands in — the release
notebook with some answer cells typed in — so they are built one way, here.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from nbformat.notebooknode import NotebookNode

from course.core import notebooks
from course.core.errors import CourseError
from course.core.paths import Course


@dataclass(frozen=True)
class WrongAnswer:
    """A realistic student mistake that the tests must punish.

    ``cell`` is the grade_id of the answer cell to replace, ``code`` the full
    replacement source, ``loses`` the test cells that must score below full.
    ``extra`` replaces further answer cells (for a mistake that spans two).
    ``visible``: the mistake passes the visible checks of the cells it loses (they print their pass line), so
    only the hidden tests catch it — the kind of mistake that reaches the grader. Older fixtures that the
    visible checks already catch say ``visible=False``.
    """

    name: str
    cell: str
    code: str
    loses: list[str]
    extra: dict[str, str] = field(default_factory=dict)
    visible: bool = True


def solutions_by_id(course: Course, lab: str) -> dict[str, str]:
    """What a student who got everything right would have typed, per answer cell.

    Written answers get the model answer, so a solved demo notebook shows what
    hand grading looks like.
    """
    src = notebooks.read(course.source_notebook(lab))
    return {notebooks.grade_id(c): notebooks.strip_markers(c.source)
            for c in src.cells if notebooks.is_answer(c) or notebooks.is_manual(c)}


def answer_ids(nb: NotebookNode) -> list[str]:
    return [notebooks.grade_id(c) for c in nb.cells if notebooks.is_answer(c)]


def make(course: Course, lab: str, kind: str = "solved",
         overrides: dict[str, str] | None = None) -> NotebookNode:
    """A submission built from ``release/``.

    kind: ``solved`` (every answer typed in), ``blank`` (the release as is) or
    ``half`` (the first half of the answers typed in). ``overrides`` then
    replaces chosen answer cells, which is how wrong answers are made.
    """
    release = notebooks.read(course.release_notebook(lab))
    nb = copy.deepcopy(release)
    answers = solutions_by_id(course, lab)
    ids = answer_ids(nb)
    if kind == "solved":
        fill = set(answers)
    elif kind == "blank":
        fill = set()
    elif kind == "half":
        fill = set(ids[: len(ids) // 2])
    else:
        raise ValueError(f"unknown submission kind {kind!r}")
    overrides = overrides or {}
    unknown = set(overrides) - set(ids)
    if unknown:
        raise CourseError(f"{lab}: no answer cell with id {', '.join(sorted(unknown))} — ids are {', '.join(ids)}")
    for cell in nb.cells:
        gid = notebooks.grade_id(cell)
        if gid in overrides:
            cell.source = overrides[gid]
        elif gid in fill:
            cell.source = answers[gid]
    return nb


def alone(course: Course, lab: str, answer_id: str) -> NotebookNode:
    """The solved notebook with one answer cell left as released (its stub): only that task is broken.

    Why: each test cell must judge its own task, so this submission may lose points only on the test cells
    that judge ``answer_id`` (``course.grading.references.tasks``), and must lose them there.
    """
    release = notebooks.read(course.release_notebook(lab))
    stub = {notebooks.grade_id(c): c.source for c in release.cells if notebooks.is_answer(c)}
    if answer_id not in stub:
        raise CourseError(f"{lab}: no answer cell with id {answer_id}")
    return make(course, lab, "solved", {answer_id: stub[answer_id]})


def wrong(course: Course, lab: str, answer: WrongAnswer) -> NotebookNode:
    return make(course, lab, "solved", {answer.cell: answer.code, **answer.extra})


def write(course: Course, student: str, lab: str, nb: NotebookNode) -> None:
    notebooks.write(nb, course.submission(student, lab))
