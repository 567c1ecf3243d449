"""Read scores out of nbgrader's gradebook — the only place a grade is true — and keep it safe.

Why not exit codes: ``nbgrader validate`` and friends exit 0 when tests fail,
so every check in the kit (tests, holes, demo, export) reads the gradebook.

Why the guard and the backups live here (issue 16): nbgrader opens
``sqlite:///gradebook.db`` with SQLAlchemy, which quietly *creates* an empty
database when the file is gone. After a deleted gradebook, ``export`` wrote a
header-only CSV over the grades, ``feedback`` deleted every report and
``autograde`` emptied ``autograded/``. So every command that needs the
gradebook calls :func:`check` first: it reads the file read-only (never
creating it) and, if it is missing or damaged, stops with one line naming the
newest backup and the command that restores it (``course.grading.restore``).
"""
from __future__ import annotations

import filecmp
import os
import re
import shlex
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from course.core import notebooks
from course.core.errors import CourseError
from course.core.paths import Course, default_course

BACKUPS = ".gradebook-backups"  # under the course root; git-ignored
KEEP = 10  # routine backups kept (copies made by `restore` are never pruned)
RESTORE_TAG = "before-restore"
SQLITE_MAGIC = b"SQLite format 3\x00"
# The tables every nbgrader gradebook has (nbgrader 0.9); a file without them is not a gradebook.
TABLES = frozenset({"assignment", "notebook", "student", "submitted_assignment", "submitted_notebook",
                    "grade", "grade_cells"})
_STAMP = re.compile(r"^gradebook-(\d{8}-\d{6})-(\d{6})(?:-([a-z-]+))?\.db$")


class GradebookError(CourseError):
    """gradebook.db is missing, damaged or lost a lab: every command that needs it stops before changing anything.

    A subclass so that ``autograde`` can tell it from one submission's failure and stop the whole batch.
    """


@dataclass
class Info:
    """What one gradebook file holds, read without changing it."""

    path: Path
    problem: str = ""  # why it is not a usable gradebook ('' if it is)
    labs: dict[str, int] = field(default_factory=dict)  # lab → submissions recorded
    grades: int = 0  # graded cells recorded
    busy: bool = False  # another process holds a write lock
    unfinished: bool = False  # a writer was killed mid-save: SQLite's journal must be rolled back first

    def summary(self) -> str:
        """'submissions: Day1 3, Day2 0; 57 cell grades' — short lab names, for one line."""
        if self.problem:
            return self.problem
        if not self.labs:
            return "no lab"
        labs = ", ".join(f"{lab.split('_')[0]} {n}" for lab, n in self.labs.items())
        return f"submissions: {labs}; {self.grades} cell grades"


def inspect(path: Path) -> Info:
    """Read a gradebook file strictly read-only: its tables, labs and number of grades, or why it is unusable.

    Why sqlite3 and not nbgrader's ``Gradebook``: that one creates the file and
    its tables when they are missing, which is exactly the damage this looks for.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return Info(path, "is missing")
    except IsADirectoryError:
        return Info(path, "is a folder, not a file")
    except OSError as exc:
        return Info(path, f"cannot be read ({exc.strerror})")
    if not head:
        return Info(path, "is empty (0 bytes)")
    if head != SQLITE_MAGIC:
        return Info(path, "is not a SQLite database")
    try:
        con = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            missing = sorted(TABLES - tables)
            if missing:
                what = "none of nbgrader's tables" if len(missing) == len(TABLES) else f"no {', '.join(missing)} table"
                return Info(path, f"is not an nbgrader gradebook ({what})")
            verdict = con.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                return Info(path, f"is damaged ({str(verdict)[:80]})")
            labs = dict(con.execute(
                "SELECT a.name, COUNT(s.id) FROM assignment a "
                "LEFT JOIN submitted_assignment s ON s.assignment_id = a.id GROUP BY a.name ORDER BY a.name"))
            grades = con.execute("SELECT COUNT(*) FROM grade").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return Info(path, "is locked by another program", busy=True)
        if any(os.path.exists(f"{path}{suffix}") for suffix in ("-journal", "-wal")):
            return Info(path, "has an unfinished write (a run was stopped while saving)", unfinished=True)
        return Info(path, f"is damaged ({exc})")
    except sqlite3.DatabaseError as exc:
        return Info(path, f"is damaged ({exc})")
    return Info(path, labs=labs, grades=int(grades))


def check(course: Course, labs: list[str] | tuple[str, ...] = ()) -> Info:
    """Stop unless gradebook.db is a whole nbgrader gradebook that holds ``labs`` (and at least one lab).

    Why "at least one lab": every gradebook the kit makes holds the released
    labs; one with tables but no lab is what nbgrader leaves when it recreated a
    deleted file in the middle of a run, and reading it would export nothing.
    """
    info = inspect(course.gradebook)
    if info.unfinished:
        info = _roll_back(course)
    if info.busy:
        raise CourseError(f"{course.gradebook} is locked by another program (an autograde run or the formgrader?) "
                          "— wait for it to finish, then run the command again")
    problem = info.problem or ("" if info.labs else "holds no lab (recreated empty?)")
    if problem:
        raise GradebookError(f"{course.gradebook} {problem} — nothing was changed; {restore_hint(course)}")
    missing = [lab for lab in labs if lab not in info.labs]
    if missing:
        raise GradebookError(f"{', '.join(missing)} is not in {course.gradebook} — run "
                             f"`{command_prefix(course)} release {' '.join(m.split('_')[0] for m in missing)}` first, "
                             f"or, if it was graded before, {restore_hint(course, missing)}")
    return info


def _roll_back(course: Course) -> Info:
    """Let SQLite undo the half-saved write a killed run left (its journal), then read the file again.

    Why this one change is allowed before the check: it is SQLite's own crash
    recovery, which nbgrader's next open would do anyway; it returns the file to
    its last saved state, and a read-only open cannot do it.
    """
    import sys
    con = sqlite3.connect(course.gradebook, timeout=30)
    try:
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        pass  # inspect() below says what is wrong
    finally:
        con.close()
    info = inspect(course.gradebook)
    if not info.problem:
        print(f"note: {course.gradebook} had a write left unfinished by a stopped run; "
              "SQLite put it back to its last saved state", file=sys.stderr)
    return info


def check_before_release(course: Course) -> None:
    """``release`` may start a gradebook, but only where there never was one: no file and no backup.

    Why: after a lost gradebook, the next day's ``release`` would otherwise make
    a new one holding only that lab, and every later command would accept it
    while the earlier grades sat forgotten in the backups.
    """
    info = inspect(course.gradebook)
    if info.busy or (info.problem == "is missing" or not (info.problem or info.labs)) and not backups(course):
        return  # a new course (nbgrader will wait for a lock itself)
    if not info.problem and info.labs:
        return
    check(course)


def command_prefix(course: Course) -> str:
    """The command prefix that reaches this course (``--course-dir`` unless it is the default one)."""
    if course.root.resolve() == default_course().root:
        return "python -m course"
    return f"python -m course --course-dir {shlex.quote(str(course.root))}"


def restore_hint(course: Course, labs: list[str] | None = None) -> str:
    """'the newest backup is …: restore it with `python -m course restore --latest`', or why there is none."""
    newest = newest_backup(course, labs)
    if newest is None:
        return (f"there is no usable backup in {course.root / BACKUPS} — if this course never graded anything, "
                f"`{command_prefix(course)} release` starts a new gradebook")
    latest = "--latest" if labs is None else shlex.quote(newest.path.name)
    return (f"the newest backup is {BACKUPS}/{newest.path.name} (made {backup_time(newest.path):%Y-%m-%d %H:%M}, "
            f"{newest.summary()}): restore it with `{command_prefix(course)} restore {latest}` "
            f"(`{command_prefix(course)} restore` lists them all)")


def backups(course: Course) -> list[Path]:
    """Every backup of this course's gradebook, newest first."""
    folder = course.root / BACKUPS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.suffix == ".db" and p.name.startswith("gradebook-")]
    return sorted(found, key=lambda p: (backup_time(p), p.name), reverse=True)


def backup_time(path: Path) -> datetime:
    """When a backup was made: from its name (``gradebook-YYYYmmdd-HHMMSS-micro….db``), else its file time."""
    match = _STAMP.match(path.name)
    if match:
        with_micro = f"{match.group(1)}-{match.group(2)}"
        try:
            return datetime.strptime(with_micro, "%Y%m%d-%H%M%S-%f")
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime)


def newest_backup(course: Course, labs: list[str] | None = None) -> Info | None:
    """The newest backup that is a usable gradebook holding some lab (all of ``labs``, if given)."""
    for path in backups(course):
        info = inspect(path)
        if not info.problem and info.labs and all(lab in info.labs for lab in labs or []):
            return info
    return None


def backup(course: Course, keep: int = KEEP, tag: str = "") -> Path | None:
    """Copy gradebook.db into ``.gradebook-backups/`` and return the copy; None if there is nothing to copy.

    Why SQLite's backup API: it copies a consistent snapshot even while the
    formgrader writes. Why skip a copy equal to the newest one: backups are taken
    before and after every autograde and when feedback or the formgrader starts,
    so an unchanged gradebook must not push older, different ones out. Only
    routine copies are pruned (the newest ``keep``); a ``tag``ged copy (made by
    ``restore``) stays until the instructor deletes it, and is a byte-for-byte
    copy of the file as it was, damaged or not; a damaged file is never a
    routine backup (it would push good ones out).
    """
    info = inspect(course.gradebook)
    if info.problem == "is missing" or (info.problem and not tag):
        return None
    folder = course.root / BACKUPS
    folder.mkdir(exist_ok=True)
    now = time.time_ns()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now // 10**9))
    target = folder / f"gradebook-{stamp}-{now // 1000 % 10**6:06d}{'-' + tag if tag else ''}.db"
    partial = target.with_name(f".{target.name}.partial")
    try:
        if tag:
            import shutil
            shutil.copyfile(course.gradebook, partial)
        else:
            source = sqlite3.connect(course.gradebook.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
        routine = [p for p in backups(course) if not _tagged(p)]
        if not tag and routine and filecmp.cmp(routine[0], partial, shallow=False):
            return routine[0]  # unchanged since the newest backup
        os.replace(partial, target)  # a backup appears whole or not at all
    finally:
        partial.unlink(missing_ok=True)
    for old in [p for p in backups(course) if not _tagged(p)][keep:]:
        old.unlink(missing_ok=True)
    return target


def _tagged(path: Path) -> bool:
    match = _STAMP.match(path.name)
    return bool(match and match.group(3))


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

    check(course)  # never let nbgrader create an empty gradebook in place of a lost one
    auto_ids = test_cell_ids(course, lab)
    out: dict[str, Score] = {}
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        try:
            assignment = gb.find_assignment(lab)
        except MissingEntry:
            return out
        for submission in assignment.submissions:
            score = _score_of(submission, lab, auto_ids)
            out[score.student] = score
    return out


def score(course: Course, lab: str, student: str) -> Score | None:
    """One student's graded submission of a lab, or None.

    Why not ``scores(...)[student]``: autograde reads back each grade it records, and reading the whole lab
    after every notebook costs O(class size) queries each time — quadratic over a large class.
    """
    from nbgrader.api import Gradebook, MissingEntry

    check(course)
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        try:
            submission = gb.find_submission(lab, student)
        except MissingEntry:
            return None
        return _score_of(submission, lab, test_cell_ids(course, lab))


def _score_of(submission, lab: str, auto_ids: set[str]) -> Score:
    score = Score(submission.student.id, lab)
    for nb in submission.notebooks:
        for grade in nb.grades:
            auto = grade.name in auto_ids
            score.cells[grade.name] = CellScore(
                earned=float(grade.score or 0.0), possible=float(grade.max_score or 0.0),
                auto=auto, pending=bool(grade.needs_manual_grade) and not auto)
    return score


def zero(course: Course, lab: str, student: str) -> None:
    """Record 0 on every cell of a submission that could not be graded.

    Why: a crashed or malformed notebook must cost that student's points for
    that lab, visibly, not leave stale or missing grades behind.
    """
    from nbgrader.api import Gradebook, MissingEntry

    check(course, [lab])
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
