"""Build step 1: put the shared setup code into every source notebook.

Why: all five labs need the same data loader, device choice and progress bars,
but a release notebook must run alone in Colab, so the code cannot be imported
from this package. It is written once, in ``course/templates/setup_cell.py``,
and copied into each notebook's ``setup`` cell here. A test checks that the
copies are current.
"""
from __future__ import annotations

from pathlib import Path

from nbformat.notebooknode import NotebookNode

from course.core import notebooks
from course.core.paths import TEMPLATES, Course


def setup_source() -> str:
    return (TEMPLATES / "setup_cell.py").read_text().rstrip("\n")


def inject(nb: NotebookNode) -> bool:
    """Refresh the setup cell(s) in place; return whether anything changed."""
    changed = False
    text = setup_source()
    for cell in nb.cells:
        if notebooks.is_setup(cell) and cell.source != text:
            cell.source = text
            changed = True
    return changed


def inject_lab(course: Course, lab: str) -> bool:
    path: Path = course.source_notebook(lab)
    nb = notebooks.read(path)
    if not any(notebooks.is_setup(c) for c in nb.cells):
        from course.core.errors import CourseError
        raise CourseError(f"{path} has no cell tagged 'setup' — add one (see docs/lab-anatomy.md)")
    if inject(nb):
        notebooks.write(nb, path)
        return True
    return False
