"""Pipeline step: HTML feedback for each autograded submission.

Why a step of its own: feedback is what students see, so it runs only on what
autograde produced, and it can be rerun after hand-grading without regrading.
"""
from __future__ import annotations

import sys

from course.core import nbg
from course.core.ids import check_student_id
from course.core.errors import CourseError
from course.core.paths import Course
from course.core.progress import step


def generate(course: Course, labs: list[str]) -> list[str]:
    api = nbg.api(course)
    failures: list[str] = []
    written = 0
    for lab in step(labs, "feedback"):
        students = sorted(p.parent.name for p in course.autograded.glob(f"*/{lab}")
                          if p.is_dir() and not check_student_id(p.parent.name))  # nbgrader globs the id
        for student in students:
            with nbg.quiet_stderr():
                result = api.generate_feedback(lab, student, force=True)
            if result["success"]:
                written += 1
            else:
                failures.append(f"{student}/{lab}: {nbg.first_error(result)}")
    for failure in failures:
        print(f"error: feedback for {failure}", file=sys.stderr)
    if written == 0 and not failures:
        raise CourseError("no autograded submissions found — run `python -m course autograde` first")
    if failures and written == 0:
        raise CourseError(f"no feedback could be written ({len(failures)} failure(s), listed above)")
    print(f"feedback: {written} report(s) in {course.feedback}")
    return failures
