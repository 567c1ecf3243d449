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


# ---------------------------------------------------------------- issue 16: intake that keeps the right file

def _entry(name: str, when: tuple[int, ...]) -> zipfile.ZipInfo:
    """A zip entry with the time an LMS gives it (the time of the hand-in)."""
    return zipfile.ZipInfo(name, when)


def _accounted(report) -> int:
    """Files the report accounts for: filed, or named with a reason (a nested zip is opened, not filed)."""
    return (len(report.placed) + len(report.duplicates) + len(report.kept_existing) + len(report.unmatched)
            + len(report.invalid) + len(report.refused) + len(report.skipped) + len(report.ignored)
            + len(report.opened))


def test_newest_copy_wins_by_its_time_not_its_place_in_the_zip(tmp_path, roster):
    """The blank draft of 28 Nov comes after the solved copy of 29 Nov in the zip; the solved one is filed."""
    import nbformat
    solved, blank = nbformat_text(_solved()), nbformat_text(submissions.make(REAL, LAB, "blank"))
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(_entry(f"smithalice_101_555_{LAB}.ipynb", (2026, 11, 29, 14, 3, 22)), solved)
        zf.writestr(_entry(f"smithalice_101_556_Copy of {LAB}.ipynb", (2026, 11, 28, 9, 0, 0)), blank)
    course = _course(tmp_path)
    report = collect.collect(course, archive, roster)
    assert course.submission("alice", LAB).read_text() == solved
    assert report.duplicates == [f"smithalice_101_556_Copy of {LAB}.ipynb"]
    line = next(x for x in report.lines() if x.startswith("duplicate"))
    assert "556_Copy of" in line and "2026-11-28 09:00 UTC" in line and "kept smithalice_101_555" in line, line
    stamp = (course.submission("alice", LAB).parent / "timestamp.txt").read_text().strip()
    assert stamp == "2026-11-29 14:03:22.000000 UTC"
    from nbgrader.utils import parse_utc  # nbgrader itself must read it back to the same time
    import datetime as dt
    assert parse_utc(stamp) == dt.datetime(2026, 11, 29, 14, 3, 22)


def test_every_file_is_filed_or_named_and_nested_zips_are_opened(tmp_path):
    import io
    roster_path = tmp_path / "roster.csv"
    roster_path.write_text("student_id,canvas_id\nalice,101\nbob,202\ndave,404\nerin,505\n")
    roster = collect.Roster.read(roster_path)
    solved = nbformat_text(_solved())
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr(_entry("my work/Day1.ipynb", (2020, 1, 1, 0, 0, 0)), solved)  # the student's own (untrusted) time
        z.writestr("my work/notes.txt", "my notes")
    when = (2026, 11, 30, 9, 15, 0)
    others = {"jonesbob_202_556_report.pdf": "a PDF", "jonesbob_202_557_plot.png": "a picture",
              "jonesbob_202_558_answers.docx": "a Word document", "jonesbob_202_559_readme.txt": "a text file"}
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(_entry(f"smithalice_101_555_{LAB}.ipynb", when), solved)
        for name in others:
            zf.writestr(_entry(name, when), b"not a notebook")
        zf.writestr(_entry("doedave_404_560_Day1.zip", when), inner.getvalue())
        zf.writestr(_entry("__MACOSX/._smithalice_101_555.ipynb", when), b"")
    course = _course(tmp_path)
    report = collect.collect(course, archive, roster)
    lines = report.lines()
    assert sorted(p.student for p in report.placed) == ["alice", "dave"], lines
    assert report.files == 9 == _accounted(report), (report.files, lines)  # 7 entries + 2 inside the nested zip
    for name, kind in others.items():
        assert any(name in line and kind in line and "not a notebook" in line for line in lines), (name, lines)
    assert any("doedave_404_560_Day1.zip/my work/notes.txt" in line and "a text file" in line for line in lines)
    assert any("__MACOSX/._smithalice_101_555.ipynb" in line and "macOS" in line for line in lines)
    # the notebook in dave's own zip has the time of the LMS entry, never the time he set inside it
    assert (course.submission("dave", LAB).parent / "timestamp.txt").read_text().startswith("2026-11-30 09:15:00")
    assert f"no submission of {LAB} from 2 roster student(s): bob, erin" in lines, lines
    assert not report.ok, "files that were not collected make the exit status say so"


def test_rosters_with_lms_column_names_and_semicolons(tmp_path):
    canvas = tmp_path / "canvas.csv"  # Canvas's gradebook export, saved by a spreadsheet with ';'
    canvas.write_text("\ufeffStudent;ID;SIS User ID;SIS Login ID;Section\n    Points Possible;;;;\n"
                      "\"Smith, Alice\";101;s1001;alice;A\n\"Jones, Bob\";202;s1002;bob;A\n")
    r = collect.Roster.read(canvas)
    assert r.students == ["s1001", "s1002"] and r.canvas == {"s1001": "101", "s1002": "202"}
    assert r.find("smithalice_101_555_Day1.ipynb") == "s1001"
    plain = tmp_path / "plain.csv"
    plain.write_text("Name,Student ID,E-mail\nAlice,s1001,alice@uni.edu\n")
    r = collect.Roster.read(plain)
    assert r.students == ["s1001"] and r.find("alice@uni.edu_Day1.ipynb") == "s1001"
    no_sis = tmp_path / "no_sis.csv"  # a Canvas without a student information system: "SIS User ID" is empty
    no_sis.write_text("Student,ID,SIS User ID,SIS Login ID\nAlice,101,,alice\n")
    assert collect.Roster.read(no_sis).students == ["alice"]
    only_id = tmp_path / "only_id.csv"
    only_id.write_text("ID\tName\n7\tAlice\n")
    assert collect.Roster.read(only_id).students == ["7"]
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Name;Matrikel\nAlice;1\n")
    from course.core.errors import CourseError
    with pytest.raises(CourseError, match=r"no student id column; found 'Name', 'Matrikel'"):
        collect.Roster.read(wrong)


def test_collect_a_missing_zip_says_it_does_not_exist(tmp_path, roster):
    import subprocess
    import sys
    from course.core.errors import CourseError
    course = _course(tmp_path)
    with pytest.raises(CourseError, match="does not exist"):
        collect.collect(course, tmp_path / "nope.zip", roster)
    (tmp_path / "roster.csv").write_text("student_id\nalice\n")
    proc = subprocess.run([sys.executable, "-m", "course", "--course-dir", str(course.root), "collect",
                           str(tmp_path / "nope.zip"), "--roster", str(tmp_path / "roster.csv")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and "nope.zip does not exist" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_an_older_copy_never_replaces_a_newer_one_already_collected(tmp_path, roster):
    import nbformat
    solved, blank = nbformat_text(_solved()), nbformat_text(submissions.make(REAL, LAB, "blank"))
    course = _course(tmp_path)
    first, second = tmp_path / "late_batch.zip", tmp_path / "old_export.zip"
    with zipfile.ZipFile(first, "w") as zf:
        zf.writestr(_entry(f"smithalice_101_555_{LAB}.ipynb", (2026, 12, 1, 8, 0, 0)), solved)
    with zipfile.ZipFile(second, "w") as zf:
        zf.writestr(_entry(f"smithalice_101_540_{LAB}.ipynb", (2026, 11, 20, 8, 0, 0)), blank)
    collect.collect(course, first, roster)
    report = collect.collect(course, second, roster)
    assert report.placed == [] and course.submission("alice", LAB).read_text() == solved
    assert any("kept the newer copy already in submitted/" in line and "alice" in line for line in report.lines())


def test_a_folder_gives_no_hand_in_time_unless_the_lms_wrote_one_in_the_name(tmp_path, roster):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / f"alice_{LAB}.ipynb").write_text(nbformat_text(_solved()))  # its mtime is the download time
    (folder / f"{LAB}_bob_attempt_2026-12-08-10-30-00_{LAB}.ipynb").write_text(nbformat_text(_solved()))
    with zipfile.ZipFile(folder / "carol_Day1.zip", "w") as zf:  # a student's own zip: its times are hers
        zf.writestr(_entry(f"{LAB}.ipynb", (2020, 1, 1, 0, 0, 0)), nbformat_text(_solved()))
    course = _course(tmp_path)
    report = collect.collect(course, folder, roster)
    assert sorted(p.student for p in report.placed) == ["alice", "bob", "carol"], report.lines()
    for student in ("alice", "carol"):
        assert not (course.submission(student, LAB).parent / "timestamp.txt").exists()
    assert any("no hand-in time for alice" in line for line in report.lines()), report.lines()
    assert (course.submission("bob", LAB).parent / "timestamp.txt").read_text().strip() == "2026-12-08 10:30:00.000000 UTC"
    assert [p.time_from for p in report.placed if p.student == "bob"] == ["file name"]


def test_zip_time_prefers_the_exact_utc_field():
    import struct
    from datetime import datetime, timezone
    info = zipfile.ZipInfo("x.ipynb", (2026, 12, 7, 12, 0, 0))
    assert collect.zip_time(info, timezone.utc) == datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    exact = datetime(2026, 12, 7, 22, 59, 58, tzinfo=timezone.utc)
    info.extra = struct.pack("<HHBi", 0x5455, 5, 1, int(exact.timestamp()))
    assert collect.zip_time(info, timezone.utc) == exact
