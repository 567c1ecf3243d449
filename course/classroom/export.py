"""Pipeline step: the grades as CSV — one row per student, one column per lab, and a total.

Why a lab with no grade is an empty cell, never 0: a Canvas import takes a 0
as a grade and overwrites the real one, and a spreadsheet averages it in. A
blank says "not graded yet" to both. For the same reason a lab whose
hand-graded answers are still waiting is blank in the Canvas file, named in the
totals' ``pending`` column, and its waiting cells read "pending" in the
per-cell file instead of "0".

Why every student: a roster student with no submission, or one graded for
only some labs, still gets a row (blank where there is no grade), so nobody
drops out of the spreadsheet silently.

Why the penalty is applied here: the gradebook keeps raw scores; the due
dates, extensions and policy (``course.classroom.lateness``) are applied each
time the export runs, so changing them never needs a regrade. A lab with a due
date shows its raw score, the days late, the penalty and the final score.
"""
from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from course.classroom import lateness
from course.core.paths import Course
from course.core.text import printable
from course.grading import gradebook


@dataclass
class Grade:
    """One student's grade for one lab: the gradebook's raw score and what lateness makes of it."""
    score: gradebook.Score
    late: lateness.Late

    @property
    def pending(self) -> bool:
        return bool(self.score.pending)


@dataclass
class Table:
    labs: list[str]
    students: list[str]
    grades: dict[tuple[str, str], Grade]  # (student, lab) → grade; absent: no grade yet
    policy: lateness.Policy

    def dated(self, lab: str) -> bool:
        """Whether a lab has a due date (for anyone): then it gets raw, late and penalty columns."""
        return lab in self.policy.due or any(key[1] == lab for key in self.policy.extensions)


def table(course: Course, students: Iterable[str] = ()) -> Table:
    """Every graded submission, with its penalty, and every student: graded ones and ``students`` (a roster)."""
    labs = course.labs()
    policy = lateness.load(course)
    grades: dict[tuple[str, str], Grade] = {}
    for lab in labs:
        for student, score in gradebook.scores(course, lab).items():
            when = lateness.read_time(course, student, lab)
            grades[(student, lab)] = Grade(score, policy.assess(student, lab, score.earned, when))
    everyone = sorted({s for s, _ in grades} | set(students))
    return Table(labs, everyone, grades, policy)


def _num(x: float) -> str:
    return f"{round(x, 4):g}"


def to_csv(course: Course, students: Iterable[str] = ()) -> str:
    """The totals: per lab the final score (and, for a lab with a due date, raw, days late and penalty first)."""
    t = table(course, students)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["student"]
    for lab in t.labs:
        header += [f"{lab} raw", f"{lab} days late", f"{lab} penalty", lab] if t.dated(lab) else [lab]
    writer.writerow(header + ["total", "pending", "review"])
    for student in t.students:
        row, finals, pending = [student], [], []
        for lab in t.labs:
            g = t.grades.get((student, lab))
            if g is None:
                row += [""] * (4 if t.dated(lab) else 1)
                continue
            if t.dated(lab):
                days = str(g.late.days) if g.late.days else "unknown" if g.late.note == "no submission time" else "0"
                row += [_num(g.late.raw), days, _num(g.late.penalty)]
            row.append(_num(g.late.final))
            finals.append(g.late.final)
            if g.pending:
                pending.append(lab.split("_")[0])
        row += [_num(sum(finals)) if finals else "", " ".join(pending), _flagged(course, student, t.labs)]
        writer.writerow(row)
    return out.getvalue()


def _flagged(course: Course, student: str, labs: list[str]) -> str:
    """Labs whose integrity checks flagged this student (see ``autograded/<student>/<lab>/integrity.json``)."""
    from course.grading import integrity
    flagged = []
    for lab in labs:
        report = integrity.read_report(course.autograded / student / lab)
        if report.get("static") or report.get("runtime"):
            flagged.append(lab.split("_")[0])
    return " ".join(flagged)


def cells_csv(course: Course, students: Iterable[str] = ()) -> str:
    """Per-cell breakdown: one row per student, lab and graded cell; a hand-graded cell not graded yet is "pending".

    A student with no grade for a lab (a roster student who handed nothing in) gets one
    row for that lab with every figure blank.
    """
    t = table(course, students)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "lab", "cell", "earned", "possible", "graded_by", "pending"])
    for lab in t.labs:
        for student in t.students:
            g = t.grades.get((student, lab))
            if g is None:
                writer.writerow([student, lab, "", "", "", "", ""])
                continue
            for gid, cell in g.score.cells.items():
                writer.writerow([student, lab, gid, "pending" if cell.pending else _num(cell.earned),
                                 _num(cell.possible), "tests" if cell.auto else "hand", "yes" if cell.pending else ""])
    return out.getvalue()


def canvas_csv(course: Course, canvas_ids: dict[str, str], students: Iterable[str] = ()) -> str:
    """A file Canvas's gradebook import accepts: Student, ID, SIS columns, then one column per lab (final scores).

    Why a roster is needed: Canvas matches rows by its own user ID, which only
    the roster knows. Students without a Canvas id are left out and named.
    Why blanks: Canvas leaves a grade alone where the imported cell is empty, so a lab
    not graded yet, or with answers still to grade by hand, never overwrites a grade.
    """
    from course.core.errors import CourseError
    if not canvas_ids:
        raise CourseError("the roster has no canvas_id column — Canvas needs its own user ids")
    t = table(course, students)
    missing = [s for s in t.students if s not in canvas_ids]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *t.labs])
    waiting = 0
    for student in (s for s in t.students if s in canvas_ids):
        cells = []
        for lab in t.labs:
            g = t.grades.get((student, lab))
            waiting += bool(g and g.pending)
            cells.append(_num(g.late.final) if g and not g.pending else "")
        writer.writerow([student, canvas_ids[student], student, "", "", *cells])
    for student in missing:
        print(f"warning: {printable(student, 80)} has no canvas_id in the roster; left out of the Canvas file",
              file=sys.stderr)
    if waiting:
        print(f"note: {waiting} lab grade(s) left blank: answers still to grade by hand (`python -m course lab`), "
              "then export again", file=sys.stderr)
    return out.getvalue()
