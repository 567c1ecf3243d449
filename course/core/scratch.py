"""A throwaway course directory that shares the real labs but not the real gradebook.

Why: the grading-hole report, the benchmark and the tests must grade notebooks
without touching the instructor's gradebook or students' files.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from course.core.paths import Course


def scratch_course(base: Course, labs: list[str], where: Path | None = None) -> Course:
    root = Path(tempfile.mkdtemp(prefix="course-", dir=where))
    shutil.copy2(base.root / "nbgrader_config.py", root / "nbgrader_config.py")
    for lab in labs:
        shutil.copytree(base.source / lab, root / "source" / lab)
    return Course(root)
