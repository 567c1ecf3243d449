"""CSV files an instructor brings from a spreadsheet or an LMS: rosters and extension lists.

Why a helper of its own: such files come with `,`, `;` (a spreadsheet in a
comma-decimal locale) or tab separators, a byte-order mark, and header names
spelt as each LMS likes ("Student ID", "SIS User ID", "student_id"). Every
reader in the kit finds its columns the same way, and when it cannot, says
which columns it did find.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from course.core.errors import CourseError
from course.core.text import printable


def key(header: str) -> str:
    """A header reduced to compare: "SIS User ID" → "sis_user_id", " Student-ID " → "student_id"."""
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")


def read(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """(the headers as written, the rows keyed by ``key(header)``) of a CSV file.

    The separator is whichever of ``,``, ``;`` and tab splits the header line into
    the most columns; values are stripped. ``what`` names the file in errors.
    """
    if not path.is_file():
        raise CourseError(f"{what} {path} not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1252")  # Excel on Windows saves "CSV" in the local code page
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CourseError(f"{what} {path} is empty — it needs a header line")
    sep = max([",", ";", "\t"], key=lambda s: lines[0].count(s))
    reader = csv.reader(lines, delimiter=sep)
    headers = [h.strip() for h in next(reader)]
    keys = [key(h) for h in headers]
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        rows.append({k: (values[i].strip() if i < len(values) else "") for i, k in enumerate(keys) if k})
    return headers, rows


def pick(headers: list[str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` (already ``key``-form) that is a column of the file, as its key."""
    have = {key(h) for h in headers}
    return next((n for n in names if n in have), None)


def found(headers: list[str]) -> str:
    """The file's columns, for an error message that says what was there."""
    return ", ".join(repr(printable(h, 60)) for h in headers) or "none"
