"""Pipeline step: executed solutions in ``solutions/`` — notebook and HTML, every figure drawn.

Why hidden tests are removed: solutions are shown in class and posted, and the
same hidden tests must keep working for the next cohort.
"""
from __future__ import annotations

import copy
import hashlib
import json

from nbformat.notebooknode import NotebookNode

from course.core import execute, notebooks
from course.build import figure_text, inject
from course.core.paths import Course
from course.core.progress import step


def fingerprint(nb: NotebookNode) -> str:
    """A hash of what the cells say (not outputs or ids), to tell whether solutions are stale."""
    payload = [(c.cell_type, c.source) for c in nb.cells]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def expected(course: Course, lab: str) -> NotebookNode:
    """The solution notebook before execution: source with hidden tests and nbgrader markers removed."""
    nb = copy.deepcopy(notebooks.read(course.source_notebook(lab)))
    source_hash = fingerprint(nb)
    for cell in nb.cells:
        if notebooks.is_tests(cell):
            cell.source = notebooks.strip_hidden_tests(cell.source)
        elif notebooks.is_answer(cell):
            cell.source = notebooks.strip_markers(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["course"] = {"lab": lab, "source_fingerprint": source_hash}
    return nb


def build(course: Course, labs: list[str]) -> None:
    for lab in step(labs, "solutions"):
        inject.inject_lab(course, lab)
        nb = expected(course, lab)
        # every figure notes its smallest text, which the slides' browser test checks at projector size
        nb, seconds, metrics = execute.run(nb, label=f"the {lab} solution", reproducible=True,
                                           startup=figure_text.HOOK)
        # what the lab achieved, not how long it took: a committed file must not change when nothing changed
        nb.metadata["course"]["metrics"] = {k: round(v, 4) for k, v in metrics.items() if not k.endswith("_s")}
        out = course.solutions / lab / f"{lab}.ipynb"
        notebooks.write(nb, out)
        write_html(nb, out.with_suffix(".html"))
        print(f"solutions: {lab} ran in {seconds:.0f} s → {out.parent}")


def write_html(nb: NotebookNode, path) -> None:
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")
