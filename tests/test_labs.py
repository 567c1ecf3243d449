"""Every lab in source/: the solution earns full marks, the blank release earns 0,
and every wrong answer loses points where it should. Scores come from the gradebook."""
from __future__ import annotations

import pytest

from conftest import all_wrong_answers, lab_params, wrong_answers


@pytest.mark.parametrize("lab", lab_params())
def test_solution_scores_full_marks(graded, lab):
    g = graded(lab)
    result = g.results["solved"]
    assert result.ok, result.reason
    score = g.scores["solved"]
    lost = {gid: c for gid, c in score.cells.items() if c.auto and c.earned < c.possible}
    assert not lost, f"the solution loses points on {sorted(lost)}"
    assert score.auto_possible > 0
    assert not result.flags, f"the integrity checks flag the solution: {result.flags}"


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
    assert len(wrong_answers(lab)) >= 3, f"{lab} needs a set of realistic wrong answers in tests/wrong_answers/"


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
    assert score.auto_earned < g.scores["solved"].auto_earned
