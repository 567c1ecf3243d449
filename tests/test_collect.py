"""Intake: LMS zips and Colab downloads land at nbgrader's canonical paths; nothing is dropped silently."""
from __future__ import annotations

import copy
import zipfile

import pytest

from conftest import LABS, REAL
from course.classroom import collect
from course.core import notebooks
from course.checks import submissions

LAB = LABS[0]


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("student_id,canvas_id,email\nalice,101,alice@uni.edu\nbob,202,bob@uni.edu\ncarol,303,\n")
    return collect.Roster.read(path)


def _solved():
    return submissions.make(REAL, LAB, "solved")


def test_canvas_zip(tmp_path, roster):
    archive = tmp_path / "submissions.zip"
    nb = nbformat_text(_solved())
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"smithalice_101_555_{LAB}.ipynb", nb)
        zf.writestr(f"jonesbob_LATE_202_556_Copy of {LAB} (1).ipynb", nb)
        zf.writestr("stranger_999_557_Day1.ipynb", nb)
    before = archive.read_bytes()
    course = _course(tmp_path)
    report = collect.collect(course, archive, roster)
    assert {(p.student, p.lab) for p in report.placed} == {("alice", LAB), ("bob", LAB)}
    assert [p.late for p in report.placed if p.student == "bob"] == [True]
    assert report.unmatched == ["stranger_999_557_Day1.ipynb"]
    assert course.submission("alice", LAB).exists() and course.submission("bob", LAB).exists()
    assert archive.read_bytes() == before, "the original archive must not change"


def test_colab_folder_duplicates_and_bad_files(tmp_path, roster):
    folder = tmp_path / "downloads"
    (folder / "carol").mkdir(parents=True)
    older, newer = folder / "carol" / f"Copy of {LAB}.ipynb", folder / "carol" / f"{LAB} (1).ipynb"
    older.write_text(nbformat_text(_solved()))
    newer.write_text(nbformat_text(_solved()))
    import os
    os.utime(older, (1, 1))
    (folder / "alice").mkdir()
    (folder / "alice" / "Day1 notes.ipynb").write_text("{not json")
    course = _course(tmp_path)
    report = collect.collect(course, folder, roster)
    assert [(p.student, p.source) for p in report.placed] == [("carol", f"carol/{LAB} (1).ipynb")]
    assert report.duplicates == [f"carol/Copy of {LAB}.ipynb"]
    assert report.invalid == ["alice/Day1 notes.ipynb"]
    assert any("not a valid notebook" in line for line in report.lines())


def test_notebook_that_lost_its_nbgrader_metadata_is_repaired(tmp_path, roster):
    stripped = copy.deepcopy(_solved())
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
        cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
    stripped.metadata["colab"] = {"provenance": []}
    folder = tmp_path / "colab" / "alice"
    folder.mkdir(parents=True)
    (folder / f"Copy of {LAB}.ipynb").write_text(nbformat_text(stripped))
    course = _course(tmp_path)
    report = collect.collect(course, folder.parent, roster)
    assert report.placed[0].repaired
    got = notebooks.read(course.submission("alice", LAB))
    want = notebooks.read(REAL.release_notebook(LAB))
    ids = lambda nb: [notebooks.grade_id(c) for c in nb.cells if notebooks.meta(c)]
    assert ids(got) == ids(want)
    answers = {notebooks.grade_id(c): c.source for c in got.cells if notebooks.is_answer(c)}
    assert answers == {k: v for k, v in submissions.solutions_by_id(REAL, LAB).items() if k in answers}


def nbformat_text(nb) -> str:
    import nbformat
    return nbformat.writes(nb)


def _course(tmp_path):
    from course.core.scratch import scratch_course
    import shutil
    course = scratch_course(REAL, [LAB], where=tmp_path)
    (course.release / LAB).mkdir(parents=True)
    shutil.copy(REAL.release_notebook(LAB), course.release_notebook(LAB))
    return course
