"""Where things live in a course directory, and which labs exist.

Why: nbgrader, the tests and the CLI must agree on one layout, and adding a lab
must mean adding a folder to ``source/`` and nothing else.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from course.core.errors import CourseError

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@dataclass(frozen=True)
class Course:
    """An nbgrader course directory (the repo itself, or a scratch copy in tests)."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    def source_notebook(self, lab: str) -> Path:
        return self.source / lab / f"{lab}.ipynb"

    def release_notebook(self, lab: str) -> Path:
        return self.release / lab / f"{lab}.ipynb"

    def submission(self, student: str, lab: str) -> Path:
        return self.submitted / student / lab / f"{lab}.ipynb"

    def labs(self) -> list[str]:
        """Every folder in source/ that holds a notebook of its own name."""
        if not self.source.is_dir():
            return []
        return sorted(p.name for p in self.source.iterdir() if (p / f"{p.name}.ipynb").is_file())

    def resolve_labs(self, names: list[str] | None) -> list[str]:
        """Accept full names or short forms ('Day1', '1'); fail clearly on anything else."""
        labs = self.labs()
        if not labs:
            raise CourseError(f"no labs found in {self.source} — each lab is source/<Lab>/<Lab>.ipynb")
        if not names:
            return labs
        chosen: list[str] = []
        for name in names:
            key = name.rstrip("/").split("/")[-1]
            matches = [lab for lab in labs if lab == key or lab.split("_")[0].lower() in (key.lower(), f"day{key}")]
            if len(matches) != 1:
                raise CourseError(f"unknown lab '{name}' — choose from: {', '.join(labs)}")
            chosen.append(matches[0])
        return chosen


def data_root() -> Path:
    """The dataset cache: $COURSE_DATA, else data/ in the repo (same rule as the notebooks)."""
    return Path(os.environ.get("COURSE_DATA") or REPO / "data").resolve()


def default_course() -> Course:
    return Course(Path(os.environ.get("COURSE_ROOT") or REPO).resolve())
