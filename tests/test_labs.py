"""Every lab in source/: the solution earns full marks, the blank release earns 0, every wrong answer loses
points where it should, and each test cell judges only its own task. Scores come from the gradebook."""
from __future__ import annotations

import re

import pytest

from conftest import REAL, all_wrong_answers, answer_ids, lab_params, wrong_answers
from course.core import notebooks
from course.grading import references

PASS_LINE = re.compile(r"^✓ .+: visible checks passed$", re.M)  # printed by `passed()` in the setup template


def _lost(score) -> set[str]:
    return {gid for gid, c in score.cells.items() if c.auto and c.earned < c.possible}


def _stdout(g, student: str, test_id: str) -> str:
    nb = notebooks.read(g.course.autograded / student / g.lab / f"{g.lab}.ipynb")
    cell = next(c for c in nb.cells if notebooks.grade_id(c) == test_id)
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


@pytest.mark.parametrize("lab", lab_params())
def test_solution_scores_full_marks(graded, lab):
    g = graded(lab)
    result = g.results["solved"]
    assert result.ok, result.reason
    score = g.scores["solved"]
    lost = _lost(score)
    assert not lost, f"the solution loses points on {sorted(lost)}"
    assert score.auto_possible > 0
    assert not result.flags, f"the integrity checks flag the solution: {result.flags}"


@pytest.mark.parametrize("lab", lab_params())
def test_every_visible_check_prints_one_pass_line(graded, lab):
    """The same way in every lab: a check cell whose visible part passes says so in one line."""
    g = graded(lab)
    tests = [notebooks.grade_id(c) for c in notebooks.read(g.course.release_notebook(lab)).cells
             if notebooks.is_tests(c)]
    silent = [t for t in tests if len(PASS_LINE.findall(_stdout(g, "solved", t))) != 1]
    assert not silent, f"these check cells do not print exactly one '✓ …: visible checks passed' line: {silent}"


@pytest.mark.parametrize("lab", lab_params())
def test_blank_release_has_no_grading_holes(graded, lab):
    score = graded(lab).scores["blank"]
    holes = {gid: c.earned for gid, c in score.cells.items() if c.auto and c.earned > 0}
    assert not holes, f"the blank release earns points on {holes}"
    assert all(c.earned == 0 for c in score.cells.values()), "written answers must not score unanswered"


@pytest.mark.parametrize("lab", lab_params())
def test_half_done_scores_in_between(graded, lab):
    g = graded(lab)
    half = g.scores["half"].auto_earned
    assert 0 < half < g.scores["solved"].auto_earned


@pytest.mark.parametrize("lab", lab_params())
def test_lab_has_wrong_answer_fixtures(lab):
    fixtures = wrong_answers(lab)
    assert len(fixtures) >= 3, f"{lab} needs a set of realistic wrong answers in tests/wrong_answers/"
    assert len({w.name for w in fixtures}) == len(fixtures), "wrong-answer names must be unique"
    assert sum(w.visible for w in fixtures) >= 8, \
        f"{lab} needs at least 8 wrong answers that pass the visible checks (only hidden tests can catch them)"


@pytest.mark.parametrize("lab,wrong", all_wrong_answers())
def test_wrong_answer_loses_points(graded, lab, wrong):
    g = graded(lab)
    student = f"wrong-{wrong.name}"
    assert g.results[student].ok, g.results[student].reason
    score = g.scores[student]
    for gid in wrong.loses:
        assert gid in score.cells, f"no graded cell {gid} in {lab}"
        cell = score.cells[gid]
        assert cell.earned < cell.possible, f"wrong answer '{wrong.name}' still earns full marks on {gid}"
        if wrong.visible:
            assert PASS_LINE.search(_stdout(g, student, gid)), \
                f"wrong answer '{wrong.name}' is meant to pass the visible check of {gid}, but it did not " \
                "(set visible=False if the visible check is meant to catch it)"
    assert score.auto_earned < g.scores["solved"].auto_earned


@pytest.mark.parametrize("lab", lab_params())
def test_each_test_cell_names_one_task(lab):
    """A test cell uses the names of one answer cell; more only when its metadata says which, and why."""
    source = notebooks.read(REAL.source_notebook(lab))
    judged = references.tasks(source)
    declared = {notebooks.grade_id(c): c.get("metadata", {}).get("course", {}) for c in source.cells
                if notebooks.is_tests(c)}
    wrong = {t: sorted(a) for t, a in judged.items()
             if len(a) != 1 and not (declared[t].get(references.JUDGES) and declared[t].get("why"))}
    assert not wrong, f"these test cells judge other than one answer cell (declare `judges` and `why`): {wrong}"


@pytest.mark.parametrize("lab", lab_params())
def test_each_test_cell_judges_only_its_own_task(graded, lab):
    """Break one answer at a time in the solved notebook: exactly the test cells that judge it lose points."""
    g = graded(lab)
    judged = references.tasks(notebooks.read(g.course.source_notebook(lab)))
    problems = []
    for answer in answer_ids(g.course, lab):
        student = f"alone-{answer}"
        assert g.results[student].ok, g.results[student].reason
        should = {t for t, answers in judged.items() if answer in answers}
        lost = _lost(g.scores[student])
        if lost - should:
            problems.append(f"breaking only '{answer}' cost points on {sorted(lost - should)}, "
                            "which do not judge it")
        if should - lost:
            problems.append(f"breaking '{answer}' cost nothing on {sorted(should - lost)}, which judge it")
    assert not problems, "\n".join(problems)
