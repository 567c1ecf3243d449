"""nbgrader preprocessors the kit adds.

Why: nbgrader limits each cell (30 s by default) but not a whole notebook, so a
submission that is slow in every cell can hold the batch for an hour. The
budgeted executor gives every notebook a deadline; cells that would run past it
are not run and get an error output, so their tests score 0 rather than
silently passing.
"""
from __future__ import annotations

import time

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message,
                        traceback=[f"{ename}: {message}"])


class BudgetedExecute(Execute):
    """nbgrader's Execute with a whole-notebook time budget."""

    notebook_timeout = Integer(
        600, help="Seconds one notebook may run in total; later cells are skipped with an error."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._cell_timeout = self.timeout
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        remaining = self._deadline - time.monotonic()
        if remaining <= 1:
            cell.outputs = [_error("NotebookTimeoutError",
                                   f"not run: the notebook used its whole {self.notebook_timeout} s budget")]
            return cell, resources
        self.timeout = int(max(1, min(self._cell_timeout or remaining, remaining)))
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            self.timeout = self._cell_timeout


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback preprocessor: students see their score and the reason, never the hidden tests.

    Why: nbgrader's feedback shows the autograded notebook, in which the hidden
    tests were restored, and a failed assert's traceback quotes the test line.
    Test cells keep only their visible part, and an error keeps only its one-line
    message (the assert's text, or the student's own exception).
    """

    def preprocess_cell(self, cell, resources, index):
        from course import notebooks
        if notebooks.is_tests(cell):
            cell.source = notebooks.strip_hidden_tests(cell.source)
            kept = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    message = out.get("evalue") or "a hidden check failed"
                    kept.append(_error(out.get("ename", "Error"), message))
            cell.outputs = kept
        return cell, resources
