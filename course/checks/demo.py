"""``make demo``: the whole pipeline once, on demo submissions, ending in a score table.

Why: it is the first thing a new instructor runs, so it exercises every step a
semester uses (data → release → solutions → submissions → autograde →
feedback → export) and shows what a solved, a blank and a half-done
notebook earn.
"""
from __future__ import annotations

from course.grading import autograde
from course.core import data
from course.classroom import export, feedback
from course.build import release, solutions
from course.checks import submissions
from course.core.paths import Course

KINDS = {"demo-solved": "solved", "demo-blank": "blank", "demo-half": "half"}


def run(course: Course, labs: list[str] | None = None, skip_solutions: bool = False) -> None:
    labs = labs or course.resolve_labs(None)
    data.fetch_all()
    release.release(course, labs)
    if not skip_solutions:
        solutions.build(course, labs)
    for lab in labs:
        for student, kind in KINDS.items():
            submissions.write(course, student, lab, submissions.make(course, lab, kind))
    results = autograde.autograde(course, labs, list(KINDS), report=False)
    feedback.generate(course, labs)
    csv_path = course.root / "grades.csv"
    csv_path.write_text(export.to_csv(course))
    print()
    print(score_table(results))
    print(f"\ngrades: {csv_path}   feedback: {course.feedback}/<student>/<lab>/   "
          f"autograded: {course.autograded}/")


def score_table(results: list[autograde.Result]) -> str:
    labs = sorted({r.lab for r in results})
    by = {(r.student, r.lab): r for r in results}
    head = f"{'autograded points':<20}" + "".join(f"{lab.split('_')[0]:>14}" for lab in labs)
    lines = [head]
    for student in KINDS:
        cells = []
        for lab in labs:
            r = by.get((student, lab))
            cells.append(f"{r.earned:g}/{r.possible:g}{'' if r.ok else '!'}" if r else "-")
        lines.append(f"{student:<20}" + "".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)
