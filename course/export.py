"""Pipeline step: the grades as CSV — one row per student, one column per lab, and a total.

Why from the gradebook and every lab: a student with no submission, or one that
could not be graded, still gets a row with 0 for that lab, so nobody drops out
of the spreadsheet silently.
"""
from __future__ import annotations

import csv
import io

from course import gradebook
from course.paths import Course


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
    writer.writerow(["student", *labs, "total"])
    for student in sorted(rows):
        points = [rows[student].get(lab, 0.0) for lab in labs]
        writer.writerow([student, *(f"{p:g}" for p in points), f"{sum(points):g}"])
    return out.getvalue()
