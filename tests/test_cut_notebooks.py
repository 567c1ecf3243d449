"""Grading that stops at a limit still writes the autograded notebook, cut, with the reason (issue 16 §2).

Under load the 1 GiB-print attack once hit a limit and nbgrader deleted the autograded notebook: the
instructor got no notebook and no reason. Here two submissions stop at a limit for reasons that do not
depend on the machine's load: one sleeps past a short whole-notebook budget, one kills its own kernel.
Both stop in their second answer cell, so the test cell before it must keep its points, every later test
cell must score 0, and the notebook must say why. All are graded in one batched autograde run.
"""
from __future__ import annotations

import pytest

from conftest import LABS, REAL
from course.build import release
from course.checks import submissions
from course.core import notebooks
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook, integrity, nbgrader_ext, sandbox

LAB = LABS[0]
BUDGET = 45  # s for a whole notebook: the setup cell and one short answer fit many times over, a sleep does not
pytestmark = pytest.mark.skipif(bool(sandbox.unavailable()), reason=f"no sandbox: {sandbox.unavailable()}")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("cut"))
    with open(course.root / "nbgrader_config.py", "a") as fh:
        # the per-cell limit as long as the budget, so the sleep is stopped by the budget alone
        fh.write(f"\nc.Execute.timeout = {BUDGET}\nc.BudgetedExecute.notebook_timeout = {BUDGET}\n")
    release.release(course, [LAB])
    solved = submissions.make(course, LAB, "solved")
    second = submissions.answer_ids(solved)[1]
    solution = next(c.source for c in solved.cells if notebooks.grade_id(c) == second)
    stops = {
        "sleeper": "import time\ntime.sleep(10**6)\n",
        # SIGKILL to itself; were it ignored (a namespace's init), _exit ends the kernel all the same
        "killer": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\nos._exit(137)\n",
    }
    for student, code in stops.items():
        submissions.write(course, student, LAB, submissions.make(course, LAB, "solved", {second: solution + "\n" + code}))
    results = {r.student: r for r in autograde.autograde(course, [LAB], report=False, jobs=2)}
    return course, results, second


def _order(course, stop_answer: str) -> tuple[list[str], list[str]]:
    """(test cells before the answer cell that stops, test cells after it), in notebook order."""
    before, after, seen = [], [], False
    for cell in notebooks.read(course.release_notebook(LAB)).cells:
        seen = seen or notebooks.grade_id(cell) == stop_answer
        if notebooks.is_tests(cell):
            (after if seen else before).append(notebooks.grade_id(cell))
    return before, after


@pytest.mark.parametrize("student,why", [("sleeper", f"whole {BUDGET} s budget"), ("killer", "kernel died")])
def test_a_stopped_notebook_is_written_cut_with_the_reason(graded, student, why):
    course, results, stop_answer = graded
    result = results[student]
    assert not result.ok and result.stopped and why in result.reason, result.reason
    path = course.autograded / student / LAB / f"{LAB}.ipynb"
    assert path.is_file(), "the autograded notebook must be written when grading stops at a limit"
    text = path.read_text()
    assert why in text and "not run" in text, "the notebook itself says why its later cells did not run"
    assert any(why in note for note in integrity.read_report(path.parent)["notes"])


@pytest.mark.parametrize("student", ["sleeper", "killer"])
def test_cells_before_the_stop_keep_their_points_and_later_ones_score_zero(graded, student):
    course, _, stop_answer = graded
    before, after = _order(course, stop_answer)
    assert before and after
    cells = gradebook.scores(course, LAB)[student].cells
    for gid in before:
        assert cells[gid].earned == cells[gid].possible > 0, (gid, cells[gid])
    for gid in after:
        assert cells[gid].earned == 0, (gid, cells[gid])


def test_the_report_says_stopped_and_where(graded, capsys):
    _, results, _ = graded
    autograde.print_report([results["killer"]])
    out, err = capsys.readouterr()
    assert "STOPPED" in out and "FAILED" not in out
    assert "grading stopped at cell" in err and "scored 0; the rest" not in err


def test_an_output_flood_that_outlasts_the_cell_stops_grading_with_its_reason():
    """nbclient's 'Timeout waiting for IOPub output' (what the 1 GiB print raised under load) becomes a stop."""
    from nbclient.exceptions import CellTimeoutError
    from nbformat.v4 import new_code_cell
    executor = nbgrader_ext.BudgetedExecute()
    executor._key, executor._notes, executor._stopped = (LAB, "flood"), [], ""
    cell = new_code_cell("print('x' * 2**16)")
    cell.outputs = [{"output_type": "stream", "name": "stdout", "text": "x" * 10}]
    cell, _ = executor._stop(cell, {}, 7, CellTimeoutError("Timeout waiting for IOPub output"))
    assert cell.outputs[0]["text"] == "x" * 10, "what the cell printed before the stop is kept"
    assert cell.outputs[-1]["ename"] == "GradingStopped" and "output did not stop" in cell.outputs[-1]["evalue"]
    assert nbgrader_ext.STOPS.pop((LAB, "flood")).startswith("grading stopped at cell 7")
    later, _ = executor.preprocess_cell(new_code_cell("x = 1"), {}, 8)
    assert later.outputs[0]["evalue"].startswith("not run: grading stopped at cell 7")
