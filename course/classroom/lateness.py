"""Pipeline step: due dates, extensions and late penalties — raw score in, penalty and final score out.

Why a step of its own, applied at export and not inside nbgrader: nbgrader's
``AssignLatePenalties`` knows one due date per lab and a plugin that sees
only "seconds late", so extensions and a cutoff would need a regrade each time
a date changes. Here the gradebook keeps the raw scores, ``collect`` keeps
each submission's time (``timestamp.txt``, nbgrader's own format), and this
module turns them into the penalty whenever ``export`` runs: changing a due
date, granting an extension or fixing the policy never needs a regrade.

The settings, in ``[tool.course]`` of the course's pyproject.toml::

    timezone = "Europe/Berlin"      # for due dates and zip times written without an offset (default UTC)

    [tool.course.due]
    Day1 = "2026-12-07T23:59:00+01:00"    # a lab's name or short form → its due date

    [tool.course.late]
    per_day = 0.10          # fraction of the score lost per started day late (0: no penalty)
    cap = 0.50              # never more than this fraction (default 1: all of it)
    cutoff_days = 7         # later than this many days: 0 points (omit: no cutoff)
    grace_minutes = 5       # this late still counts as on time (default 0)
    extensions = "extensions.csv"   # per-student due dates: student id, lab, due (default: that file if present)
"""
from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from course.core import tables
from course.core.errors import CourseError
from course.core.paths import Course
from course.core.settings import course_settings
from course.core.text import printable

TIMESTAMP = "timestamp.txt"  # nbgrader's name: it reads it from submitted/<student>/<lab>/ when it grades
DAY = timedelta(days=1)
STUDENT_COLUMNS = ("student_id", "sis_user_id", "student_number", "id_number", "student", "username", "login", "id")


def format_time(when: datetime) -> str:
    """nbgrader's timestamp format (``%Y-%m-%d %H:%M:%S.%f %Z``), always in UTC."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def parse_time(text: str, zone: timezone | ZoneInfo = timezone.utc) -> datetime:
    """A time as written in a setting, a CSV or a ``timestamp.txt``; naive times are in ``zone``.

    Accepts ISO 8601 ("2026-12-07T23:59:00+01:00", "2026-12-07 23:59") and
    nbgrader's "2026-12-07 22:59:00.000000 UTC". Raises ValueError otherwise.
    """
    text = text.strip()
    if text.endswith(" UTC"):
        text, zone = text[:-4], timezone.utc
    elif text.endswith("Z"):
        text, zone = text[:-1], timezone.utc
    when = datetime.fromisoformat(text)
    if len(text) <= 10:
        raise ValueError(f"{text!r} has no time of day")
    return when if when.tzinfo else when.replace(tzinfo=zone)


def _zone(settings: dict) -> ZoneInfo | timezone:
    name = settings.get("timezone", "UTC")
    try:
        return timezone.utc if name in ("UTC", "Z") else ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CourseError(f"[tool.course] timezone = {name!r} is not a time zone — use a name such as "
                          "\"UTC\" or \"Europe/Berlin\"") from None


@dataclass
class Late:
    """One submission's lateness and what it costs."""
    raw: float
    penalty: float = 0.0
    days: int = 0  # started days late after the grace period (0: on time)
    submitted: datetime | None = None
    due: datetime | None = None
    extended: bool = False  # the due date is this student's extension
    note: str = ""  # "", "no due date", "no submission time", "after the cutoff"

    @property
    def final(self) -> float:
        return round(self.raw - self.penalty, 4)


@dataclass
class Policy:
    """The course's due dates, extensions and penalty rule (see the module docstring for the settings)."""
    due: dict[str, datetime] = field(default_factory=dict)
    extensions: dict[tuple[str, str], datetime] = field(default_factory=dict)
    per_day: float = 0.0
    cap: float = 1.0
    cutoff_days: float | None = None
    grace: timedelta = timedelta(0)
    zone: ZoneInfo | timezone = timezone.utc

    def due_for(self, student: str, lab: str) -> tuple[datetime | None, bool]:
        """(the due date for this student and lab, whether it is an extension)."""
        if (student, lab) in self.extensions:
            return self.extensions[(student, lab)], True
        return self.due.get(lab), False

    def assess(self, student: str, lab: str, raw: float, submitted: datetime | None) -> Late:
        """The penalty on ``raw`` for a submission made at ``submitted``.

        A penalty is a fraction of the points earned, so a late blank stays 0 and
        the final score is never negative: ``per_day`` per started day after the
        grace period, at most ``cap``; past ``cutoff_days`` it is everything.
        """
        due, extended = self.due_for(student, lab)
        late = Late(raw, submitted=submitted, due=due, extended=extended)
        if due is None:
            late.note = "no due date"
            return late
        if submitted is None:
            late.note = "no submission time"
            return late
        over = submitted - due
        if over <= self.grace:
            return late
        late.days = math.ceil(over / DAY)
        if self.cutoff_days is not None and over > self.cutoff_days * DAY:
            fraction, late.note = 1.0, "after the cutoff"
        else:
            fraction = min(self.cap, self.per_day * late.days)
        late.penalty = round(raw * fraction, 4)
        return late

    def describe(self) -> str:
        """The rule in one line, for reports and docs."""
        parts = []
        if self.per_day:
            parts.append(f"{self.per_day:.0%} of the score per started day late"
                         + (f", at most {self.cap:.0%}" if self.cap < 1 else ""))
        if self.cutoff_days is not None:
            parts.append(f"0 points more than {self.cutoff_days:g} day(s) late")
        if not parts:
            parts.append("no penalty for late work")
        if self.grace:
            parts.append(f"{self.grace.total_seconds() / 60:g} min grace")
        return "; ".join(parts)


def load(course: Course) -> Policy:
    """The policy of ``course`` from its settings and its extensions CSV; every mistake is a CourseError."""
    settings = course_settings(course.root)
    zone = _zone(settings)
    policy = Policy(zone=zone)
    for name, value in (settings.get("due") or {}).items():
        lab = _lab(course, name, "[tool.course.due]")
        policy.due[lab] = _when(value, zone, f"[tool.course.due] {name}")
    rule = settings.get("late") or {}
    unknown = set(rule) - {"per_day", "cap", "cutoff_days", "grace_minutes", "extensions"}
    if unknown:
        raise CourseError(f"[tool.course.late] has unknown key(s) {', '.join(sorted(unknown))} — use per_day, cap, "
                          "cutoff_days, grace_minutes, extensions")
    policy.per_day = _number(rule, "per_day", 0.0, 0.0, 1.0)
    policy.cap = _number(rule, "cap", 1.0, 0.0, 1.0)
    if "cutoff_days" in rule:
        policy.cutoff_days = _number(rule, "cutoff_days", 0.0, 0.0, 3650.0)
    policy.grace = timedelta(minutes=_number(rule, "grace_minutes", 0.0, 0.0, 10 * 24 * 60))
    named = rule.get("extensions")
    path = course.root / (named or "extensions.csv")
    if named and not path.is_file():
        raise CourseError(f"[tool.course.late] extensions = {named!r}: {path} not found — create it "
                          "(columns: student_id, lab, due) or remove the setting")
    if path.is_file():
        policy.extensions = read_extensions(course, path, zone)
    return policy


def read_extensions(course: Course, path: Path, zone) -> dict[tuple[str, str], datetime]:
    """Per-student due dates from a CSV: a student id column, a lab column and a new due date column."""
    headers, rows = tables.read(path, "extensions file")
    sid = tables.pick(headers, STUDENT_COLUMNS)
    lab_col = tables.pick(headers, ("lab", "assignment", "assignment_id"))
    due_col = tables.pick(headers, ("due", "due_date", "new_due", "new_due_date", "extended_due", "until"))
    if not (sid and lab_col and due_col):
        raise CourseError(f"extensions file {path} needs columns student_id, lab and due; found {tables.found(headers)}")
    out = {}
    for number, row in enumerate(rows, start=2):
        where = f"extensions file {path}, line {number}"
        if not row.get(sid):
            raise CourseError(f"{where}: no student id")
        lab = _lab(course, row.get(lab_col, ""), where)
        out[(row[sid], lab)] = _when(row.get(due_col, ""), zone, where)
    return out


def read_time(course: Course, student: str, lab: str) -> datetime | None:
    """When the graded copy of this submission was handed in, from its ``timestamp.txt``, or None.

    Why autograded/ first: nbgrader copies the submission folder there when it grades, so
    that copy's time belongs to the score in the gradebook even if a newer hand-in has
    since been collected into submitted/ and not yet graded.
    """
    for folder in (course.autograded, course.submitted):
        text = _read_plain(folder / student / lab / TIMESTAMP)
        if text is not None:
            try:
                return parse_time(text)
            except ValueError:
                raise CourseError(f"{printable(folder / student / lab / TIMESTAMP)} is not a time "
                                  "— collect the submission again, or delete the file") from None
    return None


def _read_plain(path: Path) -> str | None:
    """The text of a regular file reached without any link, or None (a student folder is never trusted)."""
    try:
        for parent in (path.parent.parent, path.parent):
            if not stat.S_ISDIR(os.lstat(parent).st_mode):
                return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return fh.read(200).decode("utf-8", "replace")


def _lab(course: Course, name: str, where: str) -> str:
    try:
        return course.resolve_labs([str(name)])[0]
    except CourseError as exc:
        raise CourseError(f"{where}: {exc}") from None


def _when(value, zone, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date) or not isinstance(value, str):
        raise CourseError(f"{where}: {value!r} needs a date and a time, e.g. \"2026-12-07T23:59:00+01:00\"")
    try:
        return parse_time(value, zone)
    except ValueError:
        raise CourseError(f"{where}: {printable(value, 60)!r} is not a date and time — write it as "
                          "\"2026-12-07T23:59:00+01:00\" (or without the offset, in [tool.course] timezone)") from None


def _number(table: dict, name: str, default: float, low: float, high: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise CourseError(f"[tool.course.late] {name} = {value!r} must be a number from {low:g} to {high:g}")
    return float(value)
