"""Build step 2: student notebooks in ``release/`` from ``source/``.

Why through nbgrader: generate_assignment also records each graded cell in the
gradebook, which is what lets autograde restore deleted or edited test cells.
"""
from __future__ import annotations

import nbformat

from course.build import inject
from course.core import nbg, notebooks, settings
from course.core.errors import CourseError
from course.core.paths import Course
from course.core.progress import step


def release(course: Course, labs: list[str]) -> None:
    api = nbg.api(course)
    for lab in step(labs, "release"):
        inject.inject_lab(course, lab)
        _check_source(course, lab)
        result = api.generate_assignment(lab, force=True, create=True)
        if not result["success"]:
            raise CourseError(f"release of {lab} failed: {nbg.first_error(result)}")
        normalise(course.release_notebook(lab), lab)


BADGE_ID = "colab-badge"


def set_badge(nb, lab: str) -> None:
    """Open the notebook with one Open-in-Colab badge for ``lab`` in the public student repository.

    Why the student repository (``settings.student_repository``): Colab opens only public repositories,
    and this one stays private. ``publish`` calls it too, so what it writes always opens from where it is.
    """
    nb.cells = [c for c in nb.cells if c.get("id") != BADGE_ID]
    badge = nbformat.v4.new_markdown_cell(settings.colab_badge(lab))
    badge["id"] = BADGE_ID
    nb.cells.insert(0, badge)


def normalise(path, lab: str) -> None:
    """Make the release reproducible (a test proves it is current) and open it with a Colab badge."""
    nb = notebooks.read(path)
    set_badge(nb, lab)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebooks.write(nb, path)


def _check_source(course: Course, lab: str) -> None:
    nb = notebooks.read(course.source_notebook(lab))
    ids = [notebooks.grade_id(c) for c in nb.cells if notebooks.grade_id(c)]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CourseError(f"{lab}: duplicate grade ids {', '.join(dupes)} — each graded cell needs its own id")
    for cell in nb.cells:
        if notebooks.is_answer(cell) and notebooks.BEGIN_SOLUTION not in cell.source:
            raise CourseError(f"{lab}: answer cell '{notebooks.grade_id(cell)}' has no ### BEGIN SOLUTION block")
