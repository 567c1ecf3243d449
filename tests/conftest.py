"""Shared fixtures: one scratch course per lab, graded once, read by many tests.

Why once: autograding is the slow part (a kernel per notebook), so every
submission a lab's tests need — solved, blank, each wrong answer — is written
first and graded in a single autograde run.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from course.grading import autograde, gradebook
from course.build import release
from course.checks import submissions
from course.core.paths import REPO, Course
from course.core.scratch import scratch_course

os.environ.setdefault("COURSE_DATA", str(REPO / "data"))
JOBS = int(os.environ.get("COURSE_TEST_JOBS") or os.cpu_count() or 1)
REAL = Course(REPO)
LABS = REAL.labs()
WRONG_DIR = Path(__file__).parent / "wrong_answers"


def wrong_answers(lab: str) -> list[submissions.WrongAnswer]:
    path = WRONG_DIR / f"{lab}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"wrong_{lab}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.WRONG)


def answer_ids(course: Course, lab: str) -> list[str]:
    from course.core import notebooks
    return submissions.answer_ids(notebooks.read(course.release_notebook(lab)))


def all_wrong_answers():
    """One pytest param per wrong answer."""
    return [pytest.param(lab, w, id=f"{lab.split('_')[0]}-{w.name}") for lab in LABS for w in wrong_answers(lab)]


def lab_params():
    """One pytest param per lab, with a short id."""
    return [pytest.param(lab, id=lab.split("_")[0]) for lab in LABS]


class GradedLab:
    def __init__(self, course: Course, lab: str, results: list[autograde.Result]):
        self.course, self.lab = course, lab
        self.results = {r.student: r for r in results}
        self.scores = gradebook.scores(course, lab)


_CACHE: dict[str, GradedLab] = {}


@pytest.fixture(scope="session")
def scratch_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("courses")


@pytest.fixture(scope="session")
def graded(scratch_root):
    """graded(lab) → GradedLab with students 'solved', 'blank', 'half', 'wrong-<name>' and 'alone-<answer id>'."""
    def get(lab: str) -> GradedLab:
        if lab not in _CACHE:
            course = scratch_course(REAL, [lab], where=scratch_root)
            release.release(course, [lab])
            for kind in ("solved", "blank", "half"):
                submissions.write(course, kind, lab, submissions.make(course, lab, kind))
            for w in wrong_answers(lab):
                submissions.write(course, f"wrong-{w.name}", lab, submissions.wrong(course, lab, w))
            for answer in answer_ids(course, lab):  # one task broken at a time: the independence check
                submissions.write(course, f"alone-{answer}", lab, submissions.alone(course, lab, answer))
            # one autograde run grades the whole batch, JOBS submissions at a time
            results = autograde.autograde(course, [lab], report=True, jobs=JOBS)
            _CACHE[lab] = GradedLab(course, lab, results)
        return _CACHE[lab]
    return get


@pytest.fixture
def tmp_course(tmp_path) -> Course:
    shutil.copy2(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    return Course(tmp_path)
