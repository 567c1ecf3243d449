"""Trusted names and files (issue 14, item 9): hostile student ids and symbolic links never reach nbgrader.

Why: nbgrader globs student ids (``submitted/{student_id}/{assignment_id}``), so a folder named ``*``
graded the whole class inside one job; a notebook that was a link to ``source/`` earned full marks; and
``collect`` followed links and filed the source notebook as a student's. Every attack below is built
for real and must be refused with a reason, while an honest student in the same batch is graded normally.
Grading is ONE batched autograde run (one notebook reaches nbgrader); the rest is fast intake checks.
"""
from __future__ import annotations

import csv
import os
import stat
import zipfile

import pytest

from conftest import LABS, REAL
from course.build import release
from course.checks import submissions
from course.classroom import collect
from course.core import nbg
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook

LAB = LABS[0]
BAD_IDS = ["*", "a/b", "..", "-rf", "x y", "a\x1b[2J"]
# ids that can be folder names under submitted/ ("a/b" and ".." cannot: they are checked by precheck alone)
BAD_FOLDER_IDS = ["*", "-rf", "x y", "a\x1b[2J"]
LINKED = ["linknb", "linklab", "linkstudent", "linkinside"]


def shown(text: str) -> str:
    """How a report shows an untrusted name: control characters escaped (all test ids are ASCII)."""
    return ascii(text)[1:-1]


def _tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _course(tmp_path):
    """A scratch course with the lab's release notebook (collect repairs metadata against it)."""
    import shutil
    course = scratch_course(REAL, [LAB], where=tmp_path)
    (course.release / LAB).mkdir(parents=True)
    shutil.copy(REAL.release_notebook(LAB), course.release_notebook(LAB))
    return course


def _solved_text() -> str:
    import nbformat
    return nbformat.writes(submissions.make(REAL, LAB, "solved"))


def _roster(tmp_path, rows: list[tuple[str, str]]) -> collect.Roster:
    path = tmp_path / "roster.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "canvas_id"])
        writer.writerows(rows)
    return collect.Roster.read(path)


# ---------------------------------------------------------------- the one rule

@pytest.mark.parametrize("name", BAD_IDS + ["", ".hidden", "a?", "[ab]", "{a,b}", "a\\b", "tab\there", "new\nline",
                                            "bidi\u202eevil"])
def test_bad_student_ids_are_refused_with_a_reason(name):
    from course.core.ids import check_student_id
    reason = check_student_id(name)
    assert reason and "\x1b" not in reason and "\n" not in reason, repr(reason)


@pytest.mark.parametrize("name", ["alice", "j.smith", "bob-2", "o_neil", "Zoë", "s123456"])
def test_ordinary_student_ids_pass(name):
    from course.core.ids import check_student_id
    assert check_student_id(name) == ""


# ---------------------------------------------------------------- collect

def test_collect_refuses_bad_ids_and_reports_each(tmp_path):
    roster = _roster(tmp_path, [("alice", "101")] + [(sid, str(900 + i)) for i, sid in enumerate(BAD_IDS)])
    archive = tmp_path / "canvas.zip"
    text = _solved_text()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"smithalice_101_555_{LAB}.ipynb", text)
        for i in range(len(BAD_IDS)):
            zf.writestr(f"mallory_{900 + i}_556_{LAB}.ipynb", text)
    course = _course(tmp_path)
    before = _tree(course.root)
    report = collect.collect(course, archive, roster)
    lines = report.lines()
    assert [(p.student, p.lab) for p in report.placed] == [("alice", LAB)]
    assert _tree(course.root) - before == {"submitted", "submitted/alice", f"submitted/alice/{LAB}",
                                           f"submitted/alice/{LAB}/{LAB}.ipynb",
                                           f"submitted/alice/{LAB}/timestamp.txt"}, "nothing filed for a bad id"
    for sid in BAD_IDS:
        assert any(shown(sid) in line and "student id" in line for line in lines), (sid, lines)
    assert not any("\x1b" in line for line in lines), "an id's escape sequence must not reach the terminal"


def test_collect_folder_skips_and_reports_links(tmp_path):
    roster = _roster(tmp_path, [("alice", "101"), ("bob", "202"), ("carol", "303")])
    course = _course(tmp_path)
    folder = tmp_path / "downloads"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / f"{LAB}.ipynb").write_text(_solved_text())
    (folder / "bob").mkdir()
    (folder / "bob" / f"{LAB}.ipynb").symlink_to(course.source_notebook(LAB))  # a link to the answers
    (folder / "carol").symlink_to(course.source / LAB, target_is_directory=True)  # a linked folder
    report = collect.collect(course, folder, roster)
    lines = report.lines()
    assert [p.student for p in report.placed] == ["alice"]
    assert not (course.submitted / "bob").exists() and not (course.submitted / "carol").exists()
    for name in (f"bob/{LAB}.ipynb", "carol"):
        assert any(name in line and "symbolic link" in line for line in lines), (name, lines)


def test_collect_zip_rejects_link_entries_and_escaping_names(tmp_path):
    roster = _roster(tmp_path, [("alice", "101"), ("bob", "202"), ("carol", "303"), ("dave", "404")])
    course = _course(tmp_path)
    archive = tmp_path / "sub" / "canvas.zip"
    archive.parent.mkdir()
    text = _solved_text()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"smithalice_101_555_{LAB}.ipynb", text)
        link = zipfile.ZipInfo(f"jonesbob_202_556_{LAB}.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16  # unzip would make this a symbolic link
        zf.writestr(link, str(course.source_notebook(LAB)))
        zf.writestr(f"../carol_303_557_{LAB}.ipynb", text)
        zf.writestr(f"/tmp/dave_404_558_{LAB}.ipynb", text)
    before = _tree(tmp_path)
    report = collect.collect(course, archive, roster)
    lines = report.lines()
    assert [p.student for p in report.placed] == ["alice"]
    new = _tree(tmp_path) - before
    assert all(p.startswith(str(course.submitted.relative_to(tmp_path) / "alice")) or
               p == str(course.submitted.relative_to(tmp_path)) for p in new), new
    for name, why in ((f"jonesbob_202_556_{LAB}.ipynb", "symbolic link"), (f"../carol_303_557_{LAB}.ipynb", ".."),
                      (f"/tmp/dave_404_558_{LAB}.ipynb", "absolute")):
        assert any(name in line and why in line for line in lines), (name, lines)


def test_collect_never_writes_through_a_link_at_the_target(tmp_path):
    roster = _roster(tmp_path, [("alice", "101"), ("bob", "202")])
    course = _course(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.ipynb"
    precious.write_text("precious")
    course.submitted.mkdir()
    (course.submitted / "alice").symlink_to(outside, target_is_directory=True)  # a linked student folder
    target = course.submission("bob", LAB)
    target.parent.mkdir(parents=True)
    target.symlink_to(precious)  # a linked notebook: replaced, never written through
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / f"alice_{LAB}.ipynb").write_text(_solved_text())
    (folder / f"bob_{LAB}.ipynb").write_text(_solved_text())
    report = collect.collect(course, folder, roster)
    assert precious.read_text() == "precious" and sorted(os.listdir(outside)) == ["precious.ipynb"]
    assert [p.student for p in report.placed] == ["bob"]
    assert not target.is_symlink() and target.read_text() == _solved_text()
    assert any("submitted/alice" in line and "symbolic link" in line for line in report.lines()), report.lines()
    assert not [p for p in target.parent.iterdir() if p.name != target.name], "no temporary file left behind"


def test_collect_skips_a_fifo(tmp_path):
    """A named pipe would block the reader forever; it is reported, never opened for a blocking read."""
    roster = _roster(tmp_path, [("alice", "101")])
    course = _course(tmp_path)
    folder = tmp_path / "downloads"
    folder.mkdir()
    os.mkfifo(folder / f"alice_{LAB}.ipynb")
    report = collect.collect(course, folder, roster)
    assert report.placed == []
    assert any(f"alice_{LAB}.ipynb" in line and "not a regular file" in line for line in report.lines())


# ---------------------------------------------------------------- autograde: one batch

@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("intake"))
    release.release(course, [LAB])
    solved = submissions.make(course, LAB, "solved")
    submissions.write(course, "honest", LAB, solved)
    for sid in BAD_FOLDER_IDS:
        submissions.write(course, sid, LAB, solved)
    linked = course.submission("linknb", LAB)
    linked.parent.mkdir(parents=True)
    linked.symlink_to(course.source_notebook(LAB))
    (course.submitted / "linklab").mkdir()
    (course.submitted / "linklab" / LAB).symlink_to(course.source / LAB, target_is_directory=True)
    (course.submitted / "linkstudent").symlink_to(course.source, target_is_directory=True)
    submissions.write(course, "linkinside", LAB, solved)
    (course.submission("linkinside", LAB).parent / "data").symlink_to(course.source, target_is_directory=True)
    calls: list[str] = []
    real_api = nbg.api

    def spy_api(c):
        api = real_api(c)
        grade = api.autograde

        def spy(lab, student, *args, **kwargs):
            calls.append(student)
            return grade(lab, student, *args, **kwargs)
        api.autograde = spy
        return api

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nbg, "api", spy_api)
        results = {r.student: r for r in autograde.autograde(course, [LAB], report=False, jobs=1)}
    return course, results, calls


def test_only_the_honest_student_reaches_nbgrader(batch):
    course, _, calls = batch
    assert calls == ["honest"]
    assert sorted(os.listdir(course.autograded)) == ["honest"], "a '*' job must not regrade the class"


def test_honest_student_gets_full_marks(batch):
    course, results, _ = batch
    score = gradebook.scores(course, LAB)["honest"]
    assert results["honest"].ok and 0 < score.auto_earned == score.auto_possible


def _zero(course, student) -> bool:
    score = gradebook.scores(course, LAB).get(student)
    return score is None or score.earned == 0


@pytest.mark.parametrize("student", BAD_FOLDER_IDS)
def test_bad_id_is_that_submissions_failure(batch, student):
    course, results, _ = batch
    result = results[student]
    assert not result.ok and "student id" in result.reason, result.reason
    assert "\x1b" not in result.reason
    assert _zero(course, student)


@pytest.mark.parametrize("student", LINKED)
def test_linked_submission_is_refused(batch, student):
    course, results, _ = batch
    result = results[student]
    assert not result.ok and "symbolic link" in result.reason, result.reason
    assert _zero(course, student)


@pytest.mark.parametrize("student", ["..", "a/b"])
def test_precheck_refuses_ids_that_are_paths(tmp_path, student):
    course = scratch_course(REAL, [LAB], where=tmp_path)
    submissions.write(course, "x", LAB, submissions.make(REAL, LAB, "solved"))
    reason = autograde.precheck(course, student, LAB)
    assert "student id" in reason, reason


def test_precheck_refuses_a_fifo(tmp_path):
    course = scratch_course(REAL, [LAB], where=tmp_path)
    fifo = course.submission("piped", LAB)
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    assert "not a regular file" in autograde.precheck(course, "piped", LAB)


def test_students_for_names_the_rule_for_a_bad_only_id(tmp_path):
    course = scratch_course(REAL, [LAB], where=tmp_path)
    submissions.write(course, "x", LAB, submissions.make(REAL, LAB, "solved"))
    from course.core.errors import CourseError
    with pytest.raises(CourseError, match="student id"):
        autograde.students_for(course, LAB, ["*"])
