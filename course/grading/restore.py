"""``python -m course restore``: list the gradebook's backups, or put one back in place.

Why a command (issue 16): the backups in ``.gradebook-backups/`` existed, but
no message and no document named them, so a deleted or damaged gradebook
looked like lost grades. Every command that finds the gradebook unusable now
names the newest backup and this command; restoring first keeps a copy of the
gradebook it replaces (even a damaged one), so a restore can itself be undone.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from course.core.errors import CourseError
from course.core.paths import Course
from course.core.text import printable
from course.grading import gradebook


def table(course: Course) -> list[str]:
    """Lines for the terminal: the current gradebook, then every backup, newest first, numbered from 1."""
    current = gradebook.inspect(course.gradebook)
    lines = [f"current: {course.gradebook.name} — {current.summary()}"]
    found = gradebook.backups(course)
    if not found:
        lines.append(f"no backups in {course.root / gradebook.BACKUPS} (autograde, feedback and lab make them)")
        return lines
    lines.append(f"backups in {course.root / gradebook.BACKUPS}, newest first:")
    lines.append(f"{'#':>3}  {'made':<19}  {'size':>9}  {'name':<50}  holds")
    for number, path in enumerate(found, 1):
        info = gradebook.inspect(path)
        size = path.stat().st_size
        holds = info.summary() if not info.problem else f"UNUSABLE: {info.problem}"
        lines.append(f"{number:>3}  {gradebook.backup_time(path):%Y-%m-%d %H:%M:%S}  {_size(size):>9}  "
                     f"{printable(path.name, 50):<50}  {holds}")
    newest = gradebook.newest_backup(course)
    if newest is not None:
        lines.append(f"restore the newest usable one with `{gradebook.command_prefix(course)} restore --latest`, "
                     f"or any one by its number or name")
    return lines


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def choose(course: Course, which: str | None, latest: bool) -> Path:
    """The backup named by its number in :func:`table` (1 = newest), its file name, or ``--latest``."""
    found = gradebook.backups(course)
    if not found:
        raise CourseError(f"there are no backups in {course.root / gradebook.BACKUPS} — nothing to restore")
    if latest:
        newest = gradebook.newest_backup(course)
        if newest is None:
            raise CourseError(f"no backup in {course.root / gradebook.BACKUPS} is a usable gradebook — "
                              f"`{gradebook.command_prefix(course)} restore` lists them with the reason")
        return newest.path
    assert which is not None
    if which.isdigit():
        number = int(which)
        if not 1 <= number <= len(found):
            raise CourseError(f"there is no backup number {number} (1–{len(found)}) — "
                              f"`{gradebook.command_prefix(course)} restore` lists them")
        return found[number - 1]
    by_name = {p.name: p for p in found}
    name = Path(which).name  # a path to the backup works too, but only a backup of this course is restored
    if name not in by_name or (os.sep in which and Path(which).resolve() != by_name[name].resolve()):
        raise CourseError(f"{printable(which, 120)} is not a backup in {course.root / gradebook.BACKUPS} — "
                          f"`{gradebook.command_prefix(course)} restore` lists them")
    return by_name[name]


def restore(course: Course, chosen: Path) -> list[str]:
    """Put ``chosen`` in place of gradebook.db, keeping the current file first; return what happened, line by line.

    Why through a temporary file and a rename: a restore interrupted half-way must
    leave either the old gradebook or the new one, never half of one. A leftover
    SQLite journal of the replaced file is moved aside with it: SQLite would
    otherwise "roll it back" into the restored database and damage it.
    """
    info = gradebook.inspect(chosen)
    if info.problem:
        raise CourseError(f"{chosen.name} {info.problem} — choose another backup "
                          f"(`{gradebook.command_prefix(course)} restore` lists them)")
    if gradebook.inspect(course.gradebook).busy:
        raise CourseError(f"{course.gradebook} is in use (the formgrader or an autograde run?) — stop it, "
                          "then restore")
    lines = []
    kept = gradebook.backup(course, tag=gradebook.RESTORE_TAG)
    if kept is not None:
        lines.append(f"kept the current gradebook as {kept} (restore it the same way to undo this)")
    for suffix in ("-journal", "-wal", "-shm"):
        stale = course.gradebook.with_name(course.gradebook.name + suffix)
        if stale.exists():
            # beside the copy it belongs to, under the name SQLite looks for; a journal without a file is kept too
            aside = kept.with_name(kept.name + suffix) if kept else chosen.with_name(f"orphan-{stale.name}")
            os.replace(stale, aside)
            lines.append(f"moved {stale.name} to {aside}")
    partial = course.gradebook.with_name(f"{course.gradebook.name}.restoring")  # git-ignored (gradebook.db.*)
    try:
        shutil.copyfile(chosen, partial)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, course.gradebook)
    finally:
        partial.unlink(missing_ok=True)
    made = gradebook.backup_time(chosen)
    lines.append(f"restored {course.gradebook} from {chosen.name} (made {made:%Y-%m-%d %H:%M}): {info.summary()}")
    lines.append("grades recorded after that backup are not in it: run autograde again for those submissions, "
                 "then feedback and export")
    return lines
