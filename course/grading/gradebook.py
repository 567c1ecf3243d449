"""Read scores out of nbgrader's gradebook — the only place a grade is true.

Why not exit codes: ``nbgrader validate`` and friends exit 0 when tests fail,
so every check in the kit (tests, holes, demo, export) reads the gradebook.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from course.core import notebooks
from course.core.paths import Course


@dataclass
class CellScore:
    earned: float
    possible: float
    auto: bool  # graded by tests (True) or by hand (False)
    pending: bool = False  # a written answer still waiting for a human


@dataclass
class Score:
    student: str
    lab: str
    cells: dict[str, CellScore] = field(default_factory=dict)

    @property
    def auto_earned(self) -> float:
        return sum(c.earned for c in self.cells.values() if c.auto)

    @property
    def auto_possible(self) -> float:
        return sum(c.possible for c in self.cells.values() if c.auto)

    @property
    def earned(self) -> float:
        return sum(c.earned for c in self.cells.values())

    @property
    def possible(self) -> float:
        return sum(c.possible for c in self.cells.values())

    @property
    def pending(self) -> list[str]:
        return [gid for gid, c in self.cells.items() if c.pending]


def test_cell_ids(course: Course, lab: str) -> set[str]:
    nb = notebooks.read(course.source_notebook(lab))
    return {notebooks.grade_id(c) for c in nb.cells if notebooks.is_tests(c)}


def scores(course: Course, lab: str) -> dict[str, Score]:
    """Every graded submission of a lab, by student."""
    from nbgrader.api import Gradebook, MissingEntry

    auto_ids = test_cell_ids(course, lab)
    out: dict[str, Score] = {}
    if not course.gradebook.exists():
        return out
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        try:
            assignment = gb.find_assignment(lab)
        except MissingEntry:
            return out
        for submission in assignment.submissions:
            score = Score(submission.student.id, lab)
            for nb in submission.notebooks:
                for grade in nb.grades:
                    auto = grade.name in auto_ids
                    score.cells[grade.name] = CellScore(
                        earned=float(grade.score or 0.0), possible=float(grade.max_score or 0.0),
                        auto=auto, pending=bool(grade.needs_manual_grade) and not auto)
            out[score.student] = score
    return out


def zero(course: Course, lab: str, student: str) -> None:
    """Record 0 on every cell of a submission that could not be graded.

    Why: a crashed or malformed notebook must cost that student's points for
    that lab, visibly, not leave stale or missing grades behind.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        try:
            submission = gb.find_submission(lab, student)
        except MissingEntry:
            gb.update_or_create_student(student)
            submission = gb.add_submission(lab, student)
        for nb in submission.notebooks:
            for grade in nb.grades:
                grade.auto_score = 0.0
                grade.manual_score = None
                grade.needs_manual_grade = False
        gb.db.commit()
