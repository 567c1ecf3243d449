"""Bad submissions cost only their own points: the batch is graded and each failure is named."""
from __future__ import annotations

import shutil

import pytest

from conftest import LABS, REAL
from course.grading import autograde, gradebook
from course.build import release
from course.checks import submissions
from course.core.scratch import scratch_course

LAB = LABS[0]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("robust"))
    with open(course.root / "nbgrader_config.py", "a") as fh:  # short limits keep the looping case quick
        fh.write("\nc.Execute.timeout = 15\nc.BudgetedExecute.notebook_timeout = 120\n")
    release.release(course, [LAB])
    first = submissions.answer_ids(submissions.make(course, LAB, "blank"))[0]
    submissions.write(course, "good", LAB, submissions.make(course, LAB, "solved"))
    submissions.write(course, "loops", LAB, submissions.make(course, LAB, "solved",
                                                            {first: "while True:\n    pass\n"}))
    submissions.write(course, "crashes", LAB, submissions.make(course, LAB, "solved",
                                                              {first: "import os\nos._exit(3)\n"}))
    bad = course.submission("malformed", LAB)
    bad.parent.mkdir(parents=True)
    bad.write_text('{"cells": [ this is not json')
    renamed = course.submission("renamed", LAB)
    renamed.parent.mkdir(parents=True)
    shutil.copy(REAL.release_notebook(LAB), renamed.with_name(f"Copy of {LAB}.ipynb"))
    original = bad.read_bytes()
    results = {r.student: r for r in autograde.autograde(course, [LAB], report=False)}
    return course, results, original


def test_every_submission_gets_a_result(batch):
    _, results, _ = batch
    assert set(results) == {"good", "loops", "crashes", "malformed", "renamed"}


def test_good_submission_is_unaffected(batch):
    course, results, _ = batch
    assert results["good"].ok
    score = gradebook.scores(course, LAB)["good"]
    assert score.auto_earned == score.auto_possible


def test_loop_is_stopped_and_costs_points(batch):
    course, results, _ = batch
    score = gradebook.scores(course, LAB)["loops"]
    assert 0 < score.auto_earned < score.auto_possible


@pytest.mark.parametrize("student,reason", [("crashes", "died"), ("malformed", "not a valid notebook"),
                                            ("renamed", "Copy of")])
def test_broken_submission_scores_zero_with_a_reason(batch, student, reason):
    course, results, _ = batch
    result = results[student]
    assert not result.ok and reason.lower() in result.reason.lower(), result.reason
    score = gradebook.scores(course, LAB)[student]
    assert score.earned == 0


def test_student_files_are_never_modified(batch):
    course, _, original = batch
    assert course.submission("malformed", LAB).read_bytes() == original


def test_parallel_grading_matches_serial_and_is_idempotent(batch):
    course, serial, _ = batch
    before = {s: sc.cells for s, sc in gradebook.scores(course, LAB).items()}
    again = {r.student: r for r in autograde.autograde(course, [LAB], ["good", "malformed", "renamed"],
                                                       report=False, jobs=2)}
    after = gradebook.scores(course, LAB)
    for student in again:
        assert again[student].earned == serial[student].earned
        assert {k: v.earned for k, v in after[student].cells.items()} == {k: v.earned for k, v in before[student].items()}
    assert list((course.root / ".gradebook-backups").glob("gradebook-*.db")), "the gradebook is backed up first"
