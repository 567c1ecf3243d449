"""Due dates, extensions and late penalties (issue 16 §3), and exports that never turn "no grade" into 0 (§5).

Why one graded class: the figures must come out of the export an instructor uploads, from
submissions that went through collect (which writes each ``timestamp.txt`` from the LMS zip)
and were graded for real. Four solved Day 1 notebooks — on time, late, late but within an
extension, and past the cutoff — are collected from one zip and graded in ONE autograde run
(jobs=2); a fifth roster student hands in nothing. Day 2 is in the course but nobody is graded
in it, so its column must stay blank. The policy rules themselves are checked without grading.
"""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone

import nbformat
import pytest

from conftest import LABS, REAL
from course.build import release
from course.checks import submissions
from course.classroom import collect, export, lateness
from course.core.errors import CourseError
from course.core.paths import Course, REPO
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook

LAB, OTHER = LABS[0], LABS[1]
DAY1, DAY2 = LAB.split("_")[0], OTHER.split("_")[0]
SETTINGS = f"""
[tool.course]
timezone = "UTC"

[tool.course.due]
{DAY1} = "2026-12-07T23:59:00+00:00"

[tool.course.late]
per_day = 0.10
cap = 0.30
cutoff_days = 7
grace_minutes = 5
"""
# student → (canvas id, the LMS time of the hand-in)
CLASS = {
    "ontime": ("11", (2026, 12, 7, 23, 2, 0)),
    "late": ("12", (2026, 12, 9, 12, 0, 0)),  # 1 day 12 h late: 2 started days, 20 %
    "extended": ("13", (2026, 12, 9, 12, 0, 0)),  # the same time, but due 10 Dec for this student
    "beyond": ("14", (2026, 12, 15, 12, 0, 0)),  # 7 days 12 h late: past the 7-day cutoff, 0 points
}
ABSENT = ("absent", "15")
HAND_GRADED = ("ontime", "late", "beyond")  # the reflection is graded by hand for these; "extended" waits


@pytest.fixture(scope="module")
def semester(tmp_path_factory):
    where = tmp_path_factory.mktemp("late")
    course = scratch_course(REAL, [LAB, OTHER], where=where)
    (course.root / "pyproject.toml").write_text(SETTINGS)
    (course.root / "extensions.csv").write_text(f"Student ID;Lab;Due\nextended;{DAY1};2026-12-10T23:59:00Z\n")
    release.release(course, [LAB])
    roster_path = where / "roster.csv"
    roster_path.write_text("student_id,canvas_id\n" + "".join(f"{s},{c}\n" for s, (c, _) in CLASS.items())
                           + f"{ABSENT[0]},{ABSENT[1]}\n")
    roster = collect.Roster.read(roster_path)
    solved = nbformat.writes(submissions.make(course, LAB, "solved"))
    archive = where / "bulk.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student, (canvas_id, when) in CLASS.items():
            zf.writestr(zipfile.ZipInfo(f"{student}_{canvas_id}_9{canvas_id}_{LAB}.ipynb", when), solved)
    report = collect.collect(course, archive, roster)
    results = autograde.autograde(course, [LAB], jobs=2, report=False)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:  # the instructor grades three reflections by hand
        for student in HAND_GRADED:
            for grade in gb.find_submission_notebook(LAB, LAB, student).grades:
                if grade.needs_manual_grade:
                    grade.manual_score, grade.needs_manual_grade = grade.max_score, False
        gb.db.commit()
    return course, roster_path, roster, report, {r.student: r for r in results}


def _rows(text: str) -> dict[str, dict[str, str]]:
    return {r.get("student") or r["SIS User ID"]: r for r in csv.DictReader(io.StringIO(text))}


def test_collect_writes_each_hand_in_time_and_names_the_late_ones(semester):
    course, _, _, report, _ = semester
    for student, (_, when) in CLASS.items():
        stamp = (course.submission(student, LAB).parent / "timestamp.txt").read_text().strip()
        assert stamp == datetime(*when).strftime("%Y-%m-%d %H:%M:%S.000000 UTC")
        assert (course.autograded / student / LAB / "timestamp.txt").exists(), "nbgrader keeps it with the grade"
    lines = report.lines()
    assert any(line.startswith(f"late: late/{LAB}") and "2 day(s) after its due date" in line for line in lines)
    assert any(line.startswith(f"late: beyond/{LAB}") and "8 day(s)" in line for line in lines)
    assert not any(line.startswith(("late: ontime", "late: extended")) for line in lines), lines
    assert f"no submission of {LAB} from 1 roster student(s): absent" in lines


def test_the_export_shows_raw_penalty_and_final(semester):
    course, _, roster, _, results = semester
    assert all(r.ok for r in results.values()), {s: r.reason for s, r in results.items()}
    rows = _rows(export.to_csv(course, roster.students))
    full = gradebook.scores(course, LAB)["ontime"].possible
    auto = results["extended"].possible
    raw = lambda s: float(rows[s][f"{LAB} raw"])
    final = lambda s: float(rows[s][LAB])
    assert raw("ontime") == final("ontime") == full and rows["ontime"][f"{LAB} penalty"] == "0"
    assert rows["ontime"][f"{LAB} days late"] == "0", "23:59 + 3 min is within the 5-minute grace"
    assert raw("late") == full and rows["late"][f"{LAB} days late"] == "2"
    assert float(rows["late"][f"{LAB} penalty"]) == pytest.approx(0.2 * full)
    assert final("late") == pytest.approx(0.8 * full)
    assert raw("extended") == final("extended") == auto and rows["extended"][f"{LAB} penalty"] == "0"
    assert rows["extended"]["pending"] == DAY1, "its reflection still waits for hand grading"
    assert raw("beyond") == full and float(rows["beyond"][f"{LAB} penalty"]) == full and final("beyond") == 0
    assert float(rows["late"]["total"]) == pytest.approx(0.8 * full)


def test_no_grade_is_a_blank_never_a_zero(semester):
    course, _, roster, _, _ = semester
    rows = _rows(export.to_csv(course, roster.students))
    assert set(rows) == set(CLASS) | {ABSENT[0]}, "every roster student has a row"
    assert all(rows[s][OTHER] == "" for s in rows), "nobody was graded in Day 2: blank, not 0"
    absent = rows[ABSENT[0]]
    assert [absent[k] for k in (f"{LAB} raw", f"{LAB} days late", f"{LAB} penalty", LAB, "total")] == [""] * 5
    cells = list(csv.DictReader(io.StringIO(export.cells_csv(course, roster.students))))
    assert [r for r in cells if r["student"] == ABSENT[0] and r["lab"] == LAB][0]["earned"] == ""
    waiting = [r for r in cells if r["student"] == "extended" and r["graded_by"] == "hand"]
    assert waiting and all(r["earned"] == "pending" and r["pending"] == "yes" for r in waiting)
    graded = [r for r in cells if r["student"] == "ontime" and r["graded_by"] == "hand"]
    assert graded and all(r["earned"] == r["possible"] for r in graded)


def test_canvas_file_has_final_scores_and_blanks(semester):
    course, roster_path, _, _, _ = semester
    proc = subprocess.run([sys.executable, "-m", "course", "--course-dir", str(course.root), "export",
                           "--format", "canvas", "--roster", str(roster_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    full = gradebook.scores(course, LAB)["ontime"].possible
    assert float(rows["ontime"][LAB]) == full and float(rows["late"][LAB]) == pytest.approx(0.8 * full)
    assert rows["beyond"][LAB] == "0", "past the cutoff is a real 0"
    assert rows["extended"][LAB] == "", "a lab still waiting for hand grading is not uploaded"
    assert rows[ABSENT[0]][LAB] == "" and rows[ABSENT[0]]["ID"] == ABSENT[1]
    assert all(r[OTHER] == "" for r in rows.values()), "Day 2 would overwrite real grades with zeros"
    assert "1 lab grade(s) left blank" in proc.stderr


def test_changing_a_due_date_needs_no_regrade(semester):
    course, _, roster, _, _ = semester
    settings = course.root / "pyproject.toml"
    try:
        settings.write_text(SETTINGS.replace("2026-12-07T23:59", "2026-12-20T23:59"))
        rows = _rows(export.to_csv(course, roster.students))
        assert all(rows[s][f"{LAB} penalty"] == "0" for s in CLASS)
    finally:
        settings.write_text(SETTINGS)


# ---------------------------------------------------------------- the policy, without grading

def _policy(**rule) -> lateness.Policy:
    due = datetime(2026, 12, 7, 23, 59, tzinfo=timezone.utc)
    return lateness.Policy(due={"L": due}, **rule)


@pytest.mark.parametrize("rule, hours_late, fraction", [
    ({}, 30, 0.0),  # none: late work costs nothing
    ({"per_day": 0.1}, 0.5, 0.1),  # a started day counts
    ({"per_day": 0.1}, 49, 0.3),
    ({"per_day": 0.1, "cap": 0.25}, 24 * 5, 0.25),  # capped
    ({"cutoff_days": 2.0}, 47, 0.0),  # only the cutoff: full marks until it…
    ({"cutoff_days": 2.0}, 49, 1.0),  # …then nothing
    ({"per_day": 0.1, "grace": timedelta(minutes=10)}, 9 / 60, 0.0),
    ({"per_day": 0.1, "grace": timedelta(minutes=10)}, 11 / 60, 0.1),
])
def test_policy_rules(rule, hours_late, fraction):
    policy = _policy(**rule)
    late = policy.assess("s", "L", 20.0, policy.due["L"] + timedelta(hours=hours_late))
    assert late.penalty == pytest.approx(20.0 * fraction) and late.final == pytest.approx(20.0 * (1 - fraction))


def test_no_time_or_no_due_date_is_never_a_penalty():
    policy = _policy(per_day=0.5)
    assert policy.assess("s", "L", 10.0, None).penalty == 0 and policy.assess("s", "L", 10.0, None).note
    assert policy.assess("s", "Other", 10.0, datetime(2030, 1, 1, tzinfo=timezone.utc)).penalty == 0


def _course_with(tmp_path, text: str, extensions: str | None = None) -> Course:
    course = scratch_course(REAL, [LAB], where=tmp_path)
    (course.root / "pyproject.toml").write_text(text)
    if extensions is not None:
        (course.root / "extensions.csv").write_text(extensions)
    return course


@pytest.mark.parametrize("text, message", [
    (f'[tool.course.due]\n{DAY1} = "7 Dec"\n', "is not a date and time"),
    (f"[tool.course.due]\n{DAY1} = 2026-12-07\n", "needs a date and a time"),
    ('[tool.course.due]\nDay9 = "2026-12-07T23:59:00Z"\n', "unknown lab 'Day9'"),
    ("[tool.course.late]\nper_day = 10\n", "per_day = 10 must be a number from 0 to 1"),
    ("[tool.course.late]\npenalty = 0.1\n", "unknown key(s) penalty"),
    ('[tool.course]\ntimezone = "Mars/Olympus"\n', "is not a time zone"),
    ('[tool.course.late]\nextensions = "ext.csv"\n', "ext.csv not found"),
])
def test_settings_mistakes_are_one_clear_error(tmp_path, text, message):
    with pytest.raises(CourseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lateness.load(_course_with(tmp_path, text))


def test_extensions_and_naive_times_use_the_course_time_zone(tmp_path):
    course = _course_with(tmp_path, f'[tool.course]\ntimezone = "Europe/Berlin"\n[tool.course.due]\n'
                                    f'{DAY1} = 2026-12-07T23:59:00\n',
                          extensions=f"SIS User ID,Assignment,New due date\ns1,1,2026-12-09 12:00\n")
    policy = lateness.load(course)
    assert policy.due[LAB] == datetime(2026, 12, 7, 22, 59, tzinfo=timezone.utc)
    assert policy.due_for("s1", LAB) == (datetime(2026, 12, 9, 11, 0, tzinfo=timezone.utc), True)
    assert policy.due_for("s2", LAB) == (policy.due[LAB], False)
    bad = _course_with(tmp_path, "[tool.course]\n", extensions="who,what\na,b\n")
    with pytest.raises(CourseError, match="needs columns student_id, lab and due; found 'who', 'what'"):
        lateness.load(bad)


def test_timestamp_round_trip_through_nbgrader():
    from nbgrader.utils import parse_utc
    when = datetime(2026, 12, 7, 23, 59, 1, 250000, tzinfo=timezone.utc)
    text = lateness.format_time(when)
    assert lateness.parse_time(text) == when
    assert parse_utc(text) == when.replace(tzinfo=None)


def test_the_guide_examples_load_as_written(tmp_path):
    """The TOML and CSV in docs/instructor.md's "Due dates and late penalties" are what the kit reads."""
    import re
    guide = (REPO / "docs" / "instructor.md").read_text()
    section = guide[guide.index("## Due dates and late penalties"):]
    section = section[:section.index("\n## ", 5)]
    toml_text = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    csv_text = re.search(r"```csv\n(.*?)```", section, re.S).group(1)
    course = scratch_course(REAL, [LAB, OTHER], where=tmp_path)
    (course.root / "pyproject.toml").write_text(toml_text)
    (course.root / "extensions.csv").write_text(csv_text)
    policy = lateness.load(course)
    berlin = timezone(timedelta(hours=1))  # December: CET
    assert policy.due == {LAB: datetime(2026, 12, 7, 23, 59, tzinfo=berlin),
                          OTHER: datetime(2026, 12, 8, 23, 59, tzinfo=berlin)}
    assert policy.due_for("s1017", OTHER) == (datetime(2026, 12, 12, 12, 0, tzinfo=berlin), True)
    assert (policy.per_day, policy.cap, policy.cutoff_days, policy.grace) == (0.1, 0.3, 7, timedelta(minutes=5))
    late = policy.assess("s9", LAB, 10.0, policy.due[LAB] + timedelta(days=1, hours=12))
    assert "1 day 12 h late has started 2 days: 20 % off" in " ".join(section.split()) and late.penalty == 2.0
