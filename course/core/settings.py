"""Project settings kept in pyproject.toml's [tool.course] table.

Why there: the public student repository's GitHub location (``student_repository``)
is one setting, read by the release step (Colab badges), the slides and the student
README that ``python -m course publish`` writes: every link a student follows opens
that repository, never this private one (which holds ``source/``). A class's
due dates, late policy and time zone sit in the same table (``[tool.course.due]``,
``[tool.course.late]``, read through ``course_settings`` by
``course.classroom.lateness``), so one file says how a semester is graded.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from course.core.errors import CourseError
from course.core.paths import REPO


@lru_cache(maxsize=1)
def settings() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text()).get("tool", {}).get("course", {})


def course_settings(root: Path) -> dict:
    """``[tool.course]`` of the course directory ``root``: its own pyproject.toml if it has that table, else the kit's.

    Why per course: due dates, the late policy and extensions belong to one class. A class
    kept in its own folder (``--course-dir``, ``COURSE_ROOT``) or a scratch course in a test
    carries its own, while the kit's repository (the usual course directory) uses this file's.
    Read afresh each time (no cache): an instructor edits a due date and runs ``export`` again.
    """
    path = Path(root) / "pyproject.toml"
    if path.resolve() != (REPO / "pyproject.toml").resolve() and path.is_file():
        try:
            table = tomllib.loads(path.read_text()).get("tool", {}).get("course")
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{path} is not valid TOML ({exc}) — fix it") from None
        if table is not None:
            return table
    try:
        return tomllib.loads((REPO / "pyproject.toml").read_text()).get("tool", {}).get("course", {})
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{REPO / 'pyproject.toml'} is not valid TOML ({exc}) — fix it") from None


# The branch ``publish`` commits to in the student repository, and the one every link opens.
STUDENT_BRANCH = "main"


def student_repository() -> str:
    """``owner/name`` of the public student repository on GitHub (``[tool.course] student_repository``).

    Why no fallback to the course repository: that one must stay private, so a link to it is a
    link no student can open — and making it public to fix the links would publish every answer.
    """
    name = settings().get("student_repository")
    if not isinstance(name, str) or name.count("/") != 1 or not all(name.split("/")):
        raise CourseError(f"[tool.course] student_repository = {name!r} in {REPO / 'pyproject.toml'} must be "
                          "\"owner/name\" of the public student repository on GitHub — set it (docs/instructor.md, "
                          "\"First semester\")")
    return name


def colab_url(lab: str) -> str:
    """The lab's student notebook opened in Colab, from the public student repository."""
    return (f"https://colab.research.google.com/github/{student_repository()}/blob/"
            f"{STUDENT_BRANCH}/release/{lab}/{lab}.ipynb")


def github_url(lab: str) -> str:
    """The lab's student notebook on GitHub, in the public student repository (the page the Colab link opens)."""
    return f"https://github.com/{student_repository()}/blob/{STUDENT_BRANCH}/release/{lab}/{lab}.ipynb"


def colab_badge(lab: str) -> str:
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(lab)})")
