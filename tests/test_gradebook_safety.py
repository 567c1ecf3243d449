"""Grades are never lost or overwritten (issue 16 §5).

A missing or damaged gradebook stops every command that needs it before anything changes, with one line naming
the newest backup and the command that restores it; ``restore`` brings the grades back; ``feedback`` and
``autograde`` keep what they had when they fail or are interrupted. Every check compares checksums of the
files that must survive: feedback/, autograded/, submitted/, the grades CSVs and the backups.

Why one graded class, copied per test: grading is the slow part (a kernel per notebook), so a small class is
graded once, in one autograde call; each test breaks its own copy.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import LABS, REAL
from course import cli
from course.build import release
from course.checks import submissions
from course.classroom import feedback
from course.core import nbg
from course.core.errors import CourseError
from course.core.paths import REPO, Course
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook

LAB = LABS[0]
STUDENTS = ("solved", "half", "blank")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> Course:
    """A scratch course with three Day 1 submissions graded in one autograde call, feedback and two grade CSVs."""
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("safety"))
    release.release(course, [LAB])
    for kind in STUDENTS:
        submissions.write(course, kind, LAB, submissions.make(course, LAB, kind))
    results = autograde.autograde(course, [LAB], report=False, jobs=2)
    assert all(r.ok for r in results), [(r.student, r.reason) for r in results]
    assert cli.main(["--course-dir", str(course.root), "feedback", LAB]) == 0
    for name, fmt in (("grades.csv", "totals"), ("grades-cells.csv", "cells")):
        assert cli.main(["--course-dir", str(course.root), "export", "--format", fmt,
                         "--output", str(course.root / name)]) == 0
    return course


@pytest.fixture
def cls(graded_class, tmp_path) -> Course:
    """This test's own copy of the graded class."""
    root = tmp_path / "class"
    shutil.copytree(graded_class.root, root, symlinks=True)
    return Course(root)


def _files(course: Course) -> dict[str, str]:
    """sha256 of every file that must survive a failed command (the gradebook too, damaged or not)."""
    out = {}
    paths = [course.root / name for name in ("grades.csv", "grades-cells.csv", "gradebook.db")]
    for folder in (course.feedback, course.autograded, course.submitted, course.release,
                   course.root / gradebook.BACKUPS):
        paths += sorted(folder.rglob("*"))
    for path in paths:
        if path.is_file():
            out[str(path.relative_to(course.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _scores(course: Course) -> dict[str, dict[str, float]]:
    return {s: {gid: c.earned for gid, c in score.cells.items()} for s, score in gradebook.scores(course, LAB).items()}


def _damage(course: Course, kind: str) -> None:
    db = course.gradebook
    data = db.read_bytes()
    db.unlink()
    if kind == "missing":
        return
    if kind == "garbage":
        db.write_bytes(os.urandom(8192))
    elif kind == "empty":
        db.write_bytes(b"")
    elif kind == "truncated":
        db.write_bytes(data[: len(data) // 2])
    elif kind == "other-sqlite":
        import sqlite3
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE notes (text)")
        con.commit()
        con.close()
    elif kind == "recreated-empty":  # what nbgrader leaves when it recreates a deleted file
        from nbgrader.api import Gradebook
        nbg._venv_on_path()  # it runs `alembic`
        with Gradebook(f"sqlite:///{db}"):
            pass
    else:
        raise AssertionError(kind)


DAMAGES = ["missing", "garbage", "empty", "truncated", "other-sqlite", "recreated-empty"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_server(monkeypatch):
    """`lab` must stop before Jupyter starts; should it not, record the start instead of serving forever."""
    started = []
    from jupyterlab.labapp import LabApp
    monkeypatch.setattr(LabApp, "launch_instance", classmethod(lambda cls_, argv=None, **kw: started.append(argv)))
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    monkeypatch.setenv("COURSE_DATA", os.environ.get("COURSE_DATA", str(REPO / "data")))
    monkeypatch.chdir(REPO)
    return started


@pytest.mark.parametrize("damage", DAMAGES)
def test_every_command_stops_before_changing_anything(cls, damage, capsys, no_server):
    newest = gradebook.backups(cls)[0]
    _damage(cls, damage)
    commands = [["feedback", LAB], ["export", "--output", str(cls.root / "grades.csv")],
                ["export", "--format", "cells"], ["autograde", LAB, "--jobs", "2"],
                ["lab", "--no-browser", "--port", str(_free_port())], ["release", LAB]]
    for command in commands:
        before = _files(cls)
        capsys.readouterr()
        code = cli.main(["--course-dir", str(cls.root), *command])
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert code == 1, (command, out, err)
        assert len(lines) == 1 and lines[0].startswith("error:"), (command, err)
        assert "nothing was changed" in lines[0] and newest.name in lines[0], (command, lines[0])
        assert f"--course-dir {cls.root} restore --latest" in lines[0], (command, lines[0])
        assert out == "", (command, out)
        assert _files(cls) == before, f"{command[0]} changed files with the gradebook {damage}"
        assert (damage == "missing") == (not cls.gradebook.exists()), "a missing gradebook was recreated"
    assert not no_server, "the formgrader started on a lost gradebook"
    assert not list(cls.root.glob(f"{feedback.STAGING}*")) and not (cls.root / autograde.KEPT).exists()


def test_the_module_entry_exits_non_zero_with_one_line(cls):
    _damage(cls, "missing")
    before = _files(cls)
    proc = subprocess.run([sys.executable, "-m", "course", "--course-dir", str(cls.root), "export"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 1 and proc.stdout == "", proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "gradebook.db is missing" in lines[0] and "restore --latest" in lines[0], lines
    assert _files(cls) == before and not cls.gradebook.exists()


def test_restore_lists_the_backups_newest_first(cls, capsys):
    found = gradebook.backups(cls)
    assert len(found) >= 2, "autograde backs up before and after a run"
    assert cli.main(["--course-dir", str(cls.root), "restore"]) == 0
    out = capsys.readouterr().out
    day = LAB.split("_")[0]
    assert out.startswith(f"current: gradebook.db — submissions: {day} {len(STUDENTS)};"), out
    rows = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(found) + 1)]
    assert [next(w for w in r if w.startswith("gradebook-")) for r in rows] == [p.name for p in found]
    assert f"{day} {len(STUDENTS)};" in " ".join(rows[0]), "the newest backup holds this run's grades"
    assert f"{day} 0; 0 cell grades" in " ".join(rows[-1]), "the oldest was taken before grading"
    assert "restore --latest" in out


@pytest.mark.parametrize("damage", ["missing", "garbage", "recreated-empty"])
def test_restore_latest_brings_the_grades_back(cls, damage, capsys):
    before = _scores(cls)
    assert set(before) == set(STUDENTS) and any(any(v > 0 for v in cells.values()) for cells in before.values())
    _damage(cls, damage)
    damaged = cls.gradebook.read_bytes() if cls.gradebook.exists() else None
    backups_before = _files(cls)
    assert cli.main(["--course-dir", str(cls.root), "restore", "--latest"]) == 0
    out = capsys.readouterr().out
    assert _scores(cls) == before
    assert "restored" in out
    kept = [p for p in gradebook.backups(cls) if p.name.endswith(f"-{gradebook.RESTORE_TAG}.db")]
    if damaged is None:
        assert not kept and "kept the current" not in out
    else:
        assert len(kept) == 1 and kept[0].read_bytes() == damaged and str(kept[0]) in out
    after = _files(cls)
    assert {k: v for k, v in after.items() if k in backups_before and k != "gradebook.db"} == \
        {k: v for k, v in backups_before.items() if k != "gradebook.db"}, "a restore changed another file"


def test_restore_by_number_or_name_and_undo(cls, capsys):
    before = _scores(cls)
    oldest = gradebook.backups(cls)[-1]
    assert cli.main(["--course-dir", str(cls.root), "restore", str(len(gradebook.backups(cls)))]) == 0
    assert _scores(cls) == {}, "the oldest backup was taken before grading"
    kept = next(p for p in gradebook.backups(cls) if p.name.endswith(f"-{gradebook.RESTORE_TAG}.db"))
    assert str(kept) in capsys.readouterr().out
    assert cli.main(["--course-dir", str(cls.root), "restore", kept.name]) == 0, "a restore is undone the same way"
    assert _scores(cls) == before
    assert oldest.exists(), "restoring never deletes a backup"


@pytest.mark.parametrize("which", ["99", "0", "nope.db", "../gradebook.db", "/etc/passwd"])
def test_restore_refuses_what_is_not_a_backup(cls, which, capsys):
    before = _files(cls)
    assert cli.main(["--course-dir", str(cls.root), "restore", which]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "restore` lists them" in err[0], err
    assert _files(cls) == before


def test_feedback_keeps_earlier_reports_when_it_fails(cls, capsys):
    broken = cls.autograded / "half" / LAB / f"{LAB}.ipynb"
    broken.write_text('{"cells": [ not a notebook')
    stale = cls.feedback / "solved" / LAB / f"{LAB}.html"
    stale.write_text("stale report")
    before = _files(cls)
    code = cli.main(["--course-dir", str(cls.root), "feedback", LAB])
    err = capsys.readouterr().err
    assert code == 2 and "half/" in err and "earlier feedback is kept" in err, err
    after = _files(cls)
    half = f"feedback/half/{LAB}/{LAB}.html"
    assert after[half] == before[half], "a failed feedback run changed the student's earlier report"
    assert "<html" in stale.read_text().lower(), "a successful report replaced the earlier one"
    assert {k for k in after if k.startswith("feedback/")} == {k for k in before if k.startswith("feedback/")}
    assert not list(cls.root.glob(f"{feedback.STAGING}*"))


def test_feedback_interrupted_changes_nothing(cls, monkeypatch):
    from nbgrader.apps.api import NbGraderAPI

    def interrupted(self, lab, student=None, force=True):
        out = Path(self.coursedir.format_path(self.coursedir.feedback_directory, student, lab))
        out.mkdir(parents=True)
        (out / f"{lab}.html").write_text("half-written")
        raise KeyboardInterrupt

    monkeypatch.setattr(NbGraderAPI, "generate_feedback", interrupted)
    before = _files(cls)
    with pytest.raises(KeyboardInterrupt):
        feedback.generate(cls, [LAB])
    assert _files(cls) == before
    assert not list(cls.root.glob(f"{feedback.STAGING}*"))


class FakeGrader:
    """Stands in for nbgrader's autograde: fails, is interrupted, loses the gradebook, or writes a notebook."""

    def __init__(self, course: Course, how: str):
        self.course, self.how, self.calls = course, how, []

    def autograde(self, lab, student, force=True, create=True):
        self.calls.append(student)
        folder = self.course.autograded / student / lab
        assert not folder.exists(), "the earlier autograded folder was not kept aside"
        folder.mkdir(parents=True)
        (folder / "partial.txt").write_text("what a failed run leaves")
        if self.how == "interrupt":
            raise KeyboardInterrupt
        if self.how == "lose-gradebook":  # deleted by someone; nbgrader then recreates it empty
            from nbgrader.api import Gradebook
            nbg._venv_on_path()
            self.course.gradebook.unlink()
            with Gradebook(f"sqlite:///{self.course.gradebook}"):
                pass
        if self.how == "write":
            shutil.copy(self.course.submission(student, lab), folder / f"{lab}.ipynb")
            return {"success": True}
        return {"success": False, "error": "RuntimeError: grading broke"}


@pytest.fixture
def fake_grader(cls, monkeypatch):
    def make(how: str) -> FakeGrader:
        grader = FakeGrader(cls, how)
        monkeypatch.setattr(nbg, "api", lambda course: grader)
        return grader
    return make


def _autograded(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if k.startswith("autograded/")}


def test_autograde_keeps_the_earlier_notebook_when_grading_fails(cls, fake_grader):
    grader = fake_grader("fail")
    before = _files(cls)
    results = autograde.autograde(cls, [LAB], report=False, jobs=1, sandboxed=False)
    assert grader.calls == sorted(STUDENTS) and not any(r.ok for r in results)
    assert _autograded(_files(cls)) == _autograded(before)
    assert not (cls.root / autograde.KEPT).exists()


def test_autograde_interrupted_keeps_the_earlier_notebook(cls, fake_grader):
    fake_grader("interrupt")
    before = _files(cls)
    with pytest.raises(KeyboardInterrupt):
        autograde.autograde(cls, [LAB], report=False, jobs=1, sandboxed=False)
    assert _autograded(_files(cls)) == _autograded(before)
    assert not (cls.root / autograde.KEPT).exists()


def test_gradebook_lost_during_autograde_stops_the_batch(cls, fake_grader, capsys):
    grader = fake_grader("lose-gradebook")
    before = _files(cls)
    code = cli.main(["--course-dir", str(cls.root), "autograde", LAB, "--jobs", "1", "--no-sandbox"])
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln.startswith("error:")]
    assert code == 1 and len(grader.calls) == 1, grader.calls
    assert len(err) == 1 and "holds no lab" in err[0] and "restore --latest" in err[0], err
    assert _autograded(_files(cls)) == _autograded(before)
    for path, digest in before.items():
        if path.startswith((gradebook.BACKUPS, "feedback/", "grades")):
            assert _files(cls)[path] == digest, f"{path} changed"


def test_autograde_replaces_the_earlier_notebook_once_the_new_one_is_written(cls, fake_grader):
    fake_grader("write")
    autograde.autograde(cls, [LAB], ["half"], report=False, jobs=1, sandboxed=False)
    folder = cls.autograded / "half" / LAB
    assert (folder / f"{LAB}.ipynb").read_bytes() == cls.submission("half", LAB).read_bytes()
    assert (folder / "partial.txt").exists() and not (cls.root / autograde.KEPT).exists()


def test_a_real_regrade_replaces_the_notebook_and_keeps_nothing_aside(cls):
    notebook = cls.autograded / "blank" / LAB / f"{LAB}.ipynb"
    marked = notebook.read_text() + "\n"  # the earlier copy, marked
    notebook.write_text(marked)
    [result] = autograde.autograde(cls, [LAB], ["blank"], report=False, jobs=1)
    assert result.ok, result.reason
    assert notebook.read_text() != marked and not (cls.root / autograde.KEPT).exists()
    assert gradebook.scores(cls, LAB)["blank"].auto_earned == 0


def test_a_damaged_backup_is_listed_and_skipped(cls, capsys):
    good = gradebook.backups(cls)[0]
    bad = good.with_name("gradebook-29991231-235959-000000.db")  # the newest by its name
    bad.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    assert gradebook.backups(cls)[0] == bad and gradebook.newest_backup(cls).path == good
    assert cli.main(["--course-dir", str(cls.root), "restore"]) == 0
    assert "UNUSABLE" in next(ln for ln in capsys.readouterr().out.splitlines() if bad.name in ln)
    assert cli.main(["--course-dir", str(cls.root), "restore", "1"]) == 1
    assert bad.name in capsys.readouterr().err
    _damage(cls, "missing")
    with pytest.raises(gradebook.GradebookError, match=good.name):
        gradebook.check(cls)
    assert cli.main(["--course-dir", str(cls.root), "restore", "--latest"]) == 0
    assert good.name in capsys.readouterr().out and set(_scores(cls)) == set(STUDENTS)


def test_a_killed_run_is_settled_at_the_next_start(cls, capsys):
    before = _files(cls)
    kept = cls.root / autograde.KEPT / "half" / LAB
    kept.parent.mkdir(parents=True)
    os.rename(cls.autograded / "half" / LAB, kept)  # as a run killed with -9 mid-regrade leaves it
    (cls.autograded / "half" / LAB).mkdir()
    (cls.autograded / "half" / LAB / "partial.txt").write_text("no notebook")
    assert autograde.recover_kept(cls) == [cls.autograded / "half" / LAB]
    assert "put back autograded/half/" in capsys.readouterr().err
    assert _files(cls) == before and not (cls.root / autograde.KEPT).exists()


def test_backups_skip_unchanged_copies_and_prune_only_routine_ones(cls):
    import sqlite3
    gradebook.backup(cls)
    found = gradebook.backups(cls)
    assert gradebook.backup(cls) == found[0] and gradebook.backups(cls) == found, "an unchanged gradebook is copied"
    tagged = gradebook.backup(cls, tag=gradebook.RESTORE_TAG)
    for i in range(3):
        con = sqlite3.connect(cls.gradebook)  # a change, as a hand grade would make
        con.execute("UPDATE grade SET manual_score = ? WHERE id = (SELECT MIN(id) FROM grade)", (i + 0.5,))
        con.commit()
        con.close()
        gradebook.backup(cls, keep=2)
    routine = [p for p in gradebook.backups(cls) if not p.name.endswith(f"-{gradebook.RESTORE_TAG}.db")]
    assert len(routine) == 2 and tagged.exists()
    assert all(not gradebook.inspect(p).problem for p in gradebook.backups(cls))


def test_a_write_killed_half_way_is_rolled_back_not_called_damaged(cls, capsys):
    before = _scores(cls)
    killed = ("import os, sqlite3, sys\n"
              "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "con.execute('PRAGMA cache_size=1')\n"
              "con.execute('BEGIN')\n"
              "con.execute('UPDATE grade SET manual_score = 99')\n"
              "con.execute('DELETE FROM grade_cells')\n"
              "os._exit(9)\n")
    subprocess.run([sys.executable, "-c", killed, str(cls.gradebook)], check=False, timeout=60)
    assert Path(f"{cls.gradebook}-journal").exists(), "the killed writer left its journal"
    assert gradebook.inspect(cls.gradebook).unfinished
    gradebook.check(cls, [LAB])
    assert "last saved state" in capsys.readouterr().err
    assert _scores(cls) == before


def test_check_reads_without_creating(tmp_path):
    course = Course(tmp_path)
    with pytest.raises(gradebook.GradebookError, match="is missing .*no usable backup"):
        gradebook.check(course)
    assert not course.gradebook.exists()
    with pytest.raises(CourseError):
        gradebook.scores(course, LAB)
    gradebook.check_before_release(course)  # a new course: release may start its gradebook
    assert not course.gradebook.exists()
