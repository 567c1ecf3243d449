"""``make demo``: the whole pipeline once, on demo submissions, ending in a score table.

Why: it is the first thing a new instructor runs, so it exercises every step a
semester uses (data → release → solutions → submissions → autograde →
feedback → export) and shows what a solved, a blank and a half-done
notebook earn.

Why in a scratch copy under ``demo/`` (git-ignored) and never in the course
itself (issue 16): the demo used to release into ``release/``, re-execute the
committed ``solutions/`` (new timings and images) and grade into the course's
own gradebook, so ``make demo && make test`` failed on a fresh clone (stale
slides) and ``git status`` was no longer clean. Now every file it writes is
under ``demo/<run>/``, a course of its own (``course.core.scratch``): the
committed solutions are copied there (re-executed only with
``rebuild_solutions``), and the instructor's ``gradebook.db`` is never opened,
so the gradebook guards (``gradebook.check``, the release guard) see a fresh
course with nothing to protect, and a lost instructor gradebook can neither
block the demo nor be replaced by one the demo made.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from course.build import release, solutions
from course.checks import submissions
from course.classroom import export, feedback
from course.core import data
from course.core.paths import Course
from course.core.scratch import scratch_course
from course.grading import autograde

KINDS = {"demo-solved": "solved", "demo-blank": "blank", "demo-half": "half"}
DEMO = "demo"  # under the course root; git-ignored (/demo/ in .gitignore)


def run(course: Course, labs: list[str] | None = None, skip_solutions: bool = False,
        rebuild_solutions: bool = False, jobs: int = 0) -> Course:
    """Release, grade and export the demo submissions of ``labs`` in a new scratch course under ``demo/``.

    Returns the demo course. ``rebuild_solutions`` executes the solutions again (into the demo course, never
    into the committed ``solutions/``); ``skip_solutions`` leaves them out of the demo course altogether.
    """
    labs = labs or course.resolve_labs(None)
    data.fetch_all()
    where = course.root / DEMO
    where.mkdir(exist_ok=True)
    demo = scratch_course(course, labs, where=where)
    print(f"demo: a scratch course in {_shown(demo.root)} (your release/, solutions/ and gradebook are not touched)")
    release.release(demo, labs)
    if rebuild_solutions:
        solutions.build(demo, labs)
    elif not skip_solutions:
        _copy_solutions(course, demo, labs)
    for lab in labs:
        for student, kind in KINDS.items():
            submissions.write(demo, student, lab, submissions.make(demo, lab, kind))
    results = autograde.autograde(demo, labs, list(KINDS), report=False, jobs=jobs)
    feedback.generate(demo, labs)
    csv_path = demo.root / "grades.csv"
    csv_path.write_text(export.to_csv(demo))
    print()
    print(score_table(results))
    print()
    print("\n".join(where_things_are(demo)))
    return demo


def _copy_solutions(course: Course, demo: Course, labs: list[str]) -> None:
    """The committed executed solutions, copied; a lab with none is executed in the demo course instead."""
    missing = []
    for lab in labs:
        if (course.solutions / lab / f"{lab}.ipynb").is_file():
            shutil.copytree(course.solutions / lab, demo.solutions / lab)
        else:
            missing.append(lab)
    if missing:
        print(f"demo: no committed solutions for {', '.join(missing)}: executing them in the demo course")
        solutions.build(demo, missing)


def where_things_are(demo: Course) -> list[str]:
    """One line per output, so the instructor can open each (paths relative to where they ran the demo)."""
    return [
        f"demo course:  {_shown(demo.root)}/   (release/, solutions/, submitted/; delete it when done)",
        f"gradebook:    {_shown(demo.gradebook)}",
        f"autograded:   {_shown(demo.autograded)}/<student>/<lab>/<lab>.ipynb",
        f"feedback:     {_shown(demo.feedback)}/<student>/<lab>/<lab>.html",
        f"grades CSV:   {_shown(demo.root / 'grades.csv')}",
        f"formgrader:   python -m course --course-dir {_shown(demo.root)} lab",
    ]


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (shorter), else absolute."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:
        return str(path)


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
