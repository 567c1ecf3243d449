"""No sandbox, no grading — unless the instructor says --no-sandbox, and then they are warned."""
from __future__ import annotations

import pytest

from conftest import LABS, REAL
from course import autograde, cli, gradebook, release, sandbox, submissions
from course.errors import CourseError
from course.scratch import scratch_course

LAB = LABS[0]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("nosandbox"))
    release.release(course, [LAB])
    submissions.write(course, "blank", LAB, submissions.make(course, LAB, "blank"))
    return course


def test_refuses_without_a_sandbox(course, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(CourseError, match="--no-sandbox"):
        autograde.autograde(course, [LAB], report=False)
    assert not (course.autograded / "blank").exists(), "nothing may be graded"
    assert cli.main(["--course-dir", str(course.root), "autograde", LAB]) == 1
    assert "cannot sandbox student code" in capsys.readouterr().err


def test_no_sandbox_grades_and_warns(course, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed")
    [result] = autograde.autograde(course, [LAB], report=False, sandboxed=False)
    assert "WITHOUT a sandbox" in capsys.readouterr().err
    assert result.ok and gradebook.scores(course, LAB)["blank"].auto_earned == 0


def test_limits_are_set_for_every_kernel():
    limits = sandbox.Limits()
    assert limits.memory_mb >= 4096 and 32 <= limits.processes <= 1024 and limits.file_mb >= 64
