"""Pipeline step: the grades as CSV — one row per student, one column per lab, and a total.

Why from the gradebook and every lab: a student with no submission, or one that
could not be graded, still gets a row with 0 for that lab, so nobody drops out
of the spreadsheet silently.
"""
from __future__ import annotations

import csv
import sys
import io

from course.grading import gradebook
from course.core.paths import Course


def table(course: Course) -> tuple[list[str], dict[str, dict[str, float]]]:
    labs = course.labs()
    rows: dict[str, dict[str, float]] = {}
    for lab in labs:
        for student, score in gradebook.scores(course, lab).items():
            rows.setdefault(student, {})[lab] = score.earned
    return labs, rows


def to_csv(course: Course) -> str:
    labs, rows = table(course)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *labs, "total", "review"])
    for student in sorted(rows):
        points = [rows[student].get(lab, 0.0) for lab in labs]
        writer.writerow([student, *(f"{p:g}" for p in points), f"{sum(points):g}", _flagged(course, student, labs)])
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


def cells_csv(course: Course) -> str:
    """Per-cell breakdown: one row per student, lab and graded cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "lab", "cell", "earned", "possible", "graded_by", "pending"])
    for lab in course.labs():
        for student, score in sorted(gradebook.scores(course, lab).items()):
            for gid, cell in score.cells.items():
                writer.writerow([student, lab, gid, f"{cell.earned:g}", f"{cell.possible:g}",
                                 "tests" if cell.auto else "hand", "yes" if cell.pending else ""])
    return out.getvalue()


def canvas_csv(course: Course, canvas_ids: dict[str, str]) -> str:
    """A file Canvas's gradebook import accepts: Student, ID, SIS columns, then one column per lab.

    Why a roster is needed: Canvas matches rows by its own user ID, which only
    the roster knows. Students without a Canvas id are left out and named.
    """
    from course.core.errors import CourseError
    labs, rows = table(course)
    missing = sorted(s for s in rows if s not in canvas_ids)
    if not canvas_ids:
        raise CourseError("the roster has no canvas_id column — Canvas needs its own user ids")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *labs])
    for student in sorted(s for s in rows if s in canvas_ids):
        writer.writerow([student, canvas_ids[student], student, "", "",
                         *(f"{rows[student].get(lab, 0.0):g}" for lab in labs)])
    for student in missing:
        print(f"warning: {student} has no canvas_id in the roster; left out of the Canvas file", file=sys.stderr)
    return out.getvalue()
