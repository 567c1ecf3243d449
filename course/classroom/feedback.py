"""Pipeline step: HTML feedback for each autograded submission.

Why a step of its own: feedback is what students see, so it runs only on what
autograde produced, and it can be rerun after hand-grading without regrading.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from course.core import nbg
from course.core.ids import check_student_id
from course.core.errors import CourseError
from course.core.paths import Course
from course.core.progress import step
from course.core.text import printable
from course.grading import gradebook

STAGING = ".feedback-new-"  # prefix of the temporary folder under the course root (git-ignored)


def generate(course: Course, labs: list[str]) -> list[str]:
    """Write feedback/<student>/<lab>/ for every autograded submission of ``labs``; return the failures.

    Why through a staging folder (issue 16): nbgrader's ``force=True`` deletes a
    student's feedback folder before it writes the new one, so a failure (a lost
    gradebook, a broken autograded notebook, Ctrl-C) deleted reports students
    already had. Here nbgrader writes into a temporary folder, and each file is
    moved over the old one only when that student's feedback succeeded.
    """
    students = {lab: sorted(p.parent.name for p in course.autograded.glob(f"*/{lab}")
                            if p.is_dir() and not check_student_id(p.parent.name))  # nbgrader globs the id
                for lab in labs}
    if not any(students.values()):
        raise CourseError("no autograded submissions found — run `python -m course autograde` first")
    gradebook.check(course, [lab for lab in labs if students[lab]])  # before anything is written
    gradebook.backup(course)  # hand grades given in the formgrader since the last autograde are kept too
    for stale in course.root.glob(f"{STAGING}*"):  # left by a killed run: only copies never moved into place
        shutil.rmtree(stale, ignore_errors=True)
    api = nbg.api(course)
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=course.root))
    api.coursedir.feedback_directory = staging.name
    failures: list[str] = []
    written = 0
    try:
        for lab in step(labs, "feedback"):
            for student in students[lab]:
                gradebook.check(course, [lab])  # lost half-way: stop rather than let nbgrader recreate it
                with nbg.quiet_stderr():
                    result = api.generate_feedback(lab, student, force=True)
                name = f"{printable(student, 80)}/{printable(lab, 80)}"
                if not result["success"]:
                    failures.append(f"{name}: {printable(nbg.first_error(result))} (its earlier feedback is kept)")
                elif _move_into_place(staging / student / lab, course.feedback / student / lab):
                    written += 1
                else:
                    failures.append(f"{name}: nbgrader reported success but wrote no file")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for failure in failures:
        print(f"error: feedback for {failure}", file=sys.stderr)
    if failures and written == 0:
        raise CourseError(f"no feedback could be written ({len(failures)} failure(s), listed above)")
    print(f"feedback: {written} report(s) in {course.feedback}")
    return failures


def _move_into_place(new: Path, target: Path) -> int:
    """Move every file nbgrader wrote under ``new`` to the same place under ``target``; return how many.

    One ``os.replace`` per file: each report is swapped whole (same file system),
    and files of the earlier feedback that the new run did not write stay.
    """
    moved = 0
    for path in sorted(new.rglob("*")):
        if path.is_file() and not path.is_symlink():
            destination = target / path.relative_to(new)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
            moved += 1
    return moved
