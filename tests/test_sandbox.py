"""No sandbox, no grading — unless the instructor says --no-sandbox, and then they are warned."""
from __future__ import annotations

import pytest

from conftest import LABS, REAL
from course.grading import autograde, gradebook, sandbox
from course import cli
from course.build import release
from course.checks import submissions
from course.core.errors import CourseError
from course.core.scratch import scratch_course

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


def _direct(course, student: str):
    """Grade as the formgrader's Autograde button does: nbgrader's API, not `python -m course autograde`."""
    from course.core import nbg, notebooks
    nb = submissions.make(course, LAB, "blank")
    first = submissions.answer_ids(nb)[0]
    submissions.write(course, student, LAB, submissions.make(course, LAB, "blank", {
        first: "import os\nprint('SANDBOXED', os.environ.get('COURSE_SANDBOXED'), os.getuid())\n"}))
    with nbg.quiet_stderr():
        outcome = nbg.api(course).autograde(LAB, student, force=True, create=True)
    path = course.autograded / student / LAB / f"{LAB}.ipynb"
    text = "".join(str(c.get("outputs", "")) for c in notebooks.read(path).cells) if path.exists() else ""
    return outcome, text


@pytest.mark.skipif(bool(sandbox.unavailable()), reason="no sandbox here")
def test_grading_outside_the_cli_is_sandboxed_too(course):
    outcome, text = _direct(course, "direct")
    assert outcome["success"], outcome.get("error")
    assert "SANDBOXED 1" in text, "a kernel started by nbgrader directly ran outside the sandbox"
    assert not sandbox.active(), "the sandbox must be switched off again afterwards"


def test_grading_outside_the_cli_refuses_without_a_sandbox(course, monkeypatch):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed")
    outcome, text = _direct(course, "direct_nosandbox")
    assert not outcome["success"] and "SANDBOXED" not in text
    assert "cannot sandbox student code" in (outcome.get("log") or "") + (outcome.get("error") or "")
