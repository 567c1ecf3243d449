"""Pipeline step: what students hand in → ``submitted/<student>/<lab>/<lab>.ipynb``.

Why: real hand-ins are an LMS bulk download (Canvas or Moodle zip, the
student's id in the file name) or a folder of Colab downloads ("Copy of
Day1_….ipynb", "Day1_… (1).ipynb"). nbgrader wants one canonical path per
student and lab. This step maps one to the other, repairs notebooks that lost
nbgrader's cell metadata in Colab, and reports every file it could not place —
nothing is dropped silently and the originals are only read.

Why it trusts no name and follows no link: file names, zip entries and even the
roster's ids come from students or an LMS. A link among the downloads (or a link
entry in a zip) would file ``source/`` as a student's notebook, an entry named
``../x`` or ``/x`` would land outside the folder, an id such as ``*`` or ``..``
is a glob or a path to nbgrader, and a link planted at ``submitted/<student>``
would make this step write wherever it points. Each of these is refused and
named in the report; the notebook is written to a temporary file beside its
target and renamed into place, through folders opened without following links.

Why every file is accounted for (issue 16): a PDF, a picture, a Word file or a
zip of the notebook used to vanish without a word, and a blank draft beat the
solved copy because it came later in the zip. Now nested zips are opened, each
file in the input is either filed or named in the report with the reason, the
newest copy per student and lab wins by its hand-in time (the discarded one is
named), and the roster students with nothing handed in are listed.

Why a ``timestamp.txt``: it is nbgrader's record of when a submission was
handed in, and ``course.classroom.lateness`` turns it into a late penalty at
export. The time is the LMS's: an ``attempt_<date-time>`` the LMS wrote in the
file name, else the time of the entry in the LMS zip (a notebook inside a
student's own zip gets the time of that zip's entry — the student set the
inner times). A folder's files carry only their download time, so from a folder
no time is recorded unless the name has one, and the report says so.
"""
from __future__ import annotations

import copy
import os
import re
import secrets
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from course.classroom import lateness
from course.core import notebooks, tables
from course.core.errors import CourseError
from course.core.ids import check_student_id
from course.core.paths import Course
from course.core.text import printable


# Roster columns, as ``tables.key`` spells them, best first. Canvas's gradebook export names the student
# number "SIS User ID" and its own user id "ID"; Moodle's has "ID number"; a plain sheet says "Student ID".
ID_COLUMNS = ("student_id", "sis_user_id", "student_number", "id_number", "matriculation_number",
              "sis_login_id", "login_id", "username", "id")
CANVAS_COLUMNS = ("canvas_id", "canvas_user_id")
MOODLE_COLUMNS = ("moodle_id", "moodle_user_id")
EMAIL_COLUMNS = ("email", "email_address", "e_mail", "mail")


@dataclass
class Roster:
    """Student ids and the LMS ids that point to them."""
    aliases: dict[str, str]  # any id (nbgrader, canvas, moodle, email) → nbgrader id
    canvas: dict[str, str] = field(default_factory=dict)  # nbgrader id → canvas id
    students: list[str] = field(default_factory=list)  # every student, in the roster's order

    @classmethod
    def read(cls, path: Path) -> "Roster":
        """Read a roster CSV (`,` `;` or tab separated) whose student id column has any common name.

        Why so lenient: the roster is whatever the LMS or the registrar exports; a file
        that works must not need hand editing, and one that does not says which columns it has.
        """
        headers, rows = tables.read(path, "roster")
        # the first id column with any value: a Canvas without a student information system leaves "SIS User ID" empty
        have = [c for c in ID_COLUMNS if tables.pick(headers, (c,))]
        sid = next((c for c in have if any(row.get(c) for row in rows)), have[0] if have else None)
        if sid is None:
            raise CourseError(f"roster {path} has no student id column; found {tables.found(headers)} — name one "
                              "'student_id' (also read: 'Student ID', 'SIS User ID', 'ID number', 'ID')")
        # Canvas's export: "ID" is Canvas's own user id when the student number is another column
        canvas_col = tables.pick(headers, CANVAS_COLUMNS) or (tables.pick(headers, ("id",)) if sid != "id" else None)
        moodle_col, email_col = tables.pick(headers, MOODLE_COLUMNS), tables.pick(headers, EMAIL_COLUMNS)
        aliases: dict[str, str] = {}
        canvas: dict[str, str] = {}
        students: list[str] = []
        for row in rows:
            student = row.get(sid, "")
            if not student:
                continue  # Canvas's "Points Possible" line, a blank or a test student
            if student not in students:
                students.append(student)
            for col in (sid, canvas_col, moodle_col, email_col):
                value = row.get(col or "", "")
                if value:
                    aliases[value.lower()] = student
            if canvas_col and row.get(canvas_col):
                canvas[student] = row[canvas_col]
        if not students:
            raise CourseError(f"roster {path} lists no student (its '{sid}' column is empty)")
        return cls(aliases, canvas, students)

    def find(self, text: str) -> str | None:
        """The student whose id appears as a token of ``text`` (a file or folder name)."""
        tokens = re.split(r"[_\s/\\()-]+", text.lower())
        hits = {self.aliases[t] for t in tokens if t in self.aliases}
        return hits.pop() if len(hits) == 1 else None


@dataclass
class Placed:
    student: str
    lab: str
    source: str
    late: bool = False  # after its due date (or marked late by the LMS when the lab has no due date)
    repaired: bool = False
    submitted: datetime | None = None  # the hand-in time written to timestamp.txt (None: unknown)
    time_from: str = ""  # where that time came from: "file name", "zip entry"
    lms_late: bool = False  # the LMS wrote LATE in the file name (Canvas)
    assessed: lateness.Late | None = None


@dataclass
class Report:
    placed: list[Placed] = field(default_factory=list)
    files: int = 0  # files found in the input, nested zips' contents included
    unmatched: list[str] = field(default_factory=list)
    unmatched_why: dict[str, str] = field(default_factory=dict)  # name → what was missing from it
    duplicates: list[str] = field(default_factory=list)  # copies not used because a newer one was
    duplicate_notes: list[str] = field(default_factory=list)  # "<kept>: <time>; not used: <name>: <time>"
    kept_existing: list[str] = field(default_factory=list)  # older than the copy already in submitted/
    invalid: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<file>: <why>": links, escaping names, bad ids
    skipped: list[str] = field(default_factory=list)  # "<file>: <why>": not a notebook (PDF, picture, …)
    ignored: list[str] = field(default_factory=list)  # "<file>: <why>": macOS forks, Jupyter autosaves
    opened: list[str] = field(default_factory=list)  # nested zips whose files are counted above
    replaced_links: list[str] = field(default_factory=list)  # targets that were links: replaced, not followed
    missing: dict[str, list[str]] = field(default_factory=dict)  # lab → roster students with nothing filed

    @property
    def ok(self) -> bool:
        """Whether every file was filed or is harmless noise (an exit status for scripts)."""
        return not (self.unmatched or self.invalid or self.refused or self.skipped)

    def lines(self) -> list[str]:
        """The report, one line each; every name in it is student text, so it is printed escaped."""
        out = [f"collected {len(self.placed)} notebook(s) from {self.files} file(s)"]
        for p in self.placed:
            late = p.assessed
            if late is not None and late.days:
                by = "its extension" if late.extended else "its due date"
                out.append(f"late: {p.student}/{p.lab} ({p.source}) — {late.days} day(s) after {by} "
                           f"{_show(late.due)}, handed in {_show(p.submitted)} ({p.time_from} time)")
            elif p.lms_late and (late is None or late.note == "no due date"):
                out.append(f"late (marked LATE by the LMS; no due date set): {p.student}/{p.lab} ({p.source})")
            elif p.lms_late and late is not None and late.note == "":
                out.append(f"marked LATE by the LMS but handed in {_show(p.submitted)}, before {_show(late.due)}: "
                           f"{p.student}/{p.lab} ({p.source}) — check [tool.course] timezone and the due date")
        out += [f"repaired nbgrader metadata: {p.student}/{p.lab} ({p.source})" for p in self.placed if p.repaired]
        untimed = [p for p in self.placed if p.submitted is None]
        out += [f"no hand-in time for {p.student}/{p.lab} ({p.source}): no timestamp.txt written, lateness not "
                "assessed — a folder holds only download times; give collect the LMS zip itself" for p in untimed]
        out += [f"duplicate, older copy not used: {d}" for d in self.duplicate_notes]
        out += [f"kept the newer copy already in submitted/: {k}" for k in self.kept_existing]
        out += [f"could not match to a student and lab: {u}"
                + (f" ({self.unmatched_why[u]})" if u in self.unmatched_why else "") for u in self.unmatched]
        out += [f"not a valid notebook: {i}" for i in self.invalid]
        out += [f"not collected: {s}" for s in self.skipped]
        out += [f"refused: {r}" for r in self.refused]
        out += [f"ignored: {i}" for i in self.ignored]
        out += [f"opened nested zip: {o}" for o in self.opened]
        out += [f"replaced a symbolic link at {t} (never written through)" for t in self.replaced_links]
        for lab, students in self.missing.items():
            out.append(f"no submission of {lab} from {len(students)} roster student(s): {', '.join(students)}")
        return [printable(line, 4000) for line in out]


def _show(when: datetime | None) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if when else "an unknown time"


COLAB_NOISE = re.compile(r"^(copy of\s+)+|\s*\(\d+\)$|\s*-\s*copy$", re.I)


def lab_for(name: str, labs: list[str]) -> str | None:
    """The lab a file name refers to: exact name, Colab's "Copy of …"/" (1)" variants, or just "DayN"."""
    stem = COLAB_NOISE.sub("", Path(name).stem.strip()).strip()
    stem = COLAB_NOISE.sub("", stem).strip()
    for lab in labs:
        if stem.lower().endswith(lab.lower()) or lab.lower() in stem.lower():
            return lab
    day = re.search(r"day\s*_?(\d)", stem, re.I)
    matches = [lab for lab in labs if day and lab.lower().startswith(f"day{day.group(1)}")]
    return matches[0] if len(matches) == 1 else None


SKIPPED = ("__MACOSX", ".ipynb_checkpoints")  # macOS resource forks and Jupyter autosaves, never hand-ins
LINK = "a symbolic link, not followed — students hand in files, not links"
NESTING = 3  # zips inside zips opened this deep; deeper is refused (a zip bomb nests forever)
LARGEST = 200 * 2**20  # no hand-in is larger; a larger entry is refused, not unpacked (a zip bomb)
KINDS = {  # why a file that is not a notebook is not collected, by its ending
    ".pdf": "a PDF", ".png": "a picture", ".jpg": "a picture", ".jpeg": "a picture", ".gif": "a picture",
    ".heic": "a picture", ".docx": "a Word document", ".doc": "a Word document", ".odt": "a text document",
    ".txt": "a text file", ".md": "a text file", ".html": "an HTML page", ".htm": "an HTML page",
    ".py": "a Python script", ".csv": "a data file", ".rar": "a RAR archive", ".7z": "a 7-Zip archive",
    ".tar": "a tar archive", ".gz": "a compressed file",
}
# An LMS that writes the attempt's time into the name (Blackboard: "<lab>_<user>_attempt_2026-11-29-14-03-22_<file>").
# Only this form counts: a time anywhere else in a name is the student's own text.
NAME_TIME = re.compile(r"attempt_(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})(?!\d)", re.I)


@dataclass
class Found:
    """One notebook in the input, copied to a private file."""
    name: str  # as handed in: a path in the folder or the zip ("outer.zip/inner.ipynb" for a nested zip)
    path: Path  # the private copy
    when: datetime | None  # the hand-in time, if the LMS gave one (file name or zip entry)
    time_from: str  # "file name", "zip entry" or ""
    order: float  # what ranks two copies: the hand-in time, else the file's modification time
    nb: object = None  # the notebook, once read

    @property
    def shown(self) -> str:
        return f"{self.name} ({_show(self.when)}{', ' + self.time_from + ' time' if self.when else ''})"


def why_not_a_notebook(name: str) -> str:
    """The reason a file that is not ``*.ipynb`` is not collected, said so the instructor can act."""
    base = re.split(r"[/\\]", name)[-1]
    if base.startswith("._") or base in (".DS_Store", "Thumbs.db", "desktop.ini"):
        return ""  # the operating system's own file: ignored, but still named
    kind = KINDS.get(os.path.splitext(base)[1].lower(), "not a notebook")
    return f"{kind}, not a notebook (.ipynb) — ask the student to hand in the notebook"


def name_time(name: str, zone) -> datetime | None:
    """The time an LMS wrote into a file name (see NAME_TIME), in ``zone``, or None."""
    m = NAME_TIME.search(name)
    if not m:
        return None
    try:
        return datetime(*map(int, m.groups()), tzinfo=zone)
    except ValueError:
        return None


def zip_time(info: zipfile.ZipInfo, zone) -> datetime:
    """A zip entry's time: its UTC "extended timestamp" field if it has one, else its DOS time read in ``zone``.

    Why both: DOS times carry no zone (they are the zipping machine's local time); Info-ZIP
    and most servers add the exact UTC time in extra field 0x5455.
    """
    extra = info.extra
    while len(extra) >= 4:
        tag, size = int.from_bytes(extra[:2], "little"), int.from_bytes(extra[2:4], "little")
        body = extra[4:4 + size]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            return datetime.fromtimestamp(int.from_bytes(body[1:5], "little", signed=True), timezone.utc)
        extra = extra[4 + size:]
    try:
        return datetime(*info.date_time, tzinfo=zone)
    except ValueError:
        return datetime(1980, 1, 1, tzinfo=zone)


class _Walk:
    """Everything in the input, each file either found (a notebook), opened (a zip) or named in the report."""

    def __init__(self, scratch: Path, report: Report, zone):
        self.scratch, self.report, self.zone, self.found = scratch, report, zone, []
        self.count = 0

    def private(self, suffix: str) -> Path:
        self.count += 1
        return self.scratch / f"{self.count}{suffix}"

    def other(self, name: str, when: datetime | None, path: Path, depth: int) -> None:
        """A file that is not a notebook: a zip is opened, anything else is named with the reason.

        ``when``: its hand-in time from the LMS, which the files inside a zip inherit (None: unknown).
        """
        if name.lower().endswith(".zip"):
            if depth >= NESTING:
                self.report.refused.append(f"{name}: a zip nested more than {NESTING} deep, not opened")
            elif not zipfile.is_zipfile(path):
                self.report.skipped.append(f"{name}: a damaged zip, not opened — ask the student to hand it in again")
            else:
                self.report.opened.append(name)
                self.zip(path, f"{name}/", when, depth + 1, lms=False)
            return
        why = why_not_a_notebook(name)
        if why:
            self.report.skipped.append(f"{name}: {why}")
        else:
            self.report.ignored.append(f"{name}: the operating system's own file, never a hand-in")

    def folder(self, src: Path) -> None:
        """Walk ``src`` (the instructor's folder, which may itself be a link) without following any link in it."""
        pending = [src]
        while pending:
            folder = pending.pop()
            with os.scandir(folder) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    name = os.path.relpath(entry.path, src)
                    if entry.name in SKIPPED:
                        self._skipped_folder(Path(entry.path), name)
                        continue
                    if entry.is_symlink():
                        self.report.files += 1
                        self.report.refused.append(f"{name}: {LINK}")
                    elif entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    else:
                        self.report.files += 1
                        suffix = ".ipynb" if entry.name.endswith(".ipynb") else ".file"
                        copy_ = self.private(suffix)
                        mtime, why = _copy_in(Path(entry.path), copy_)
                        if why:
                            self.report.refused.append(f"{name}: {why}")
                            continue
                        when = name_time(name, self.zone)
                        if suffix == ".ipynb":
                            self.found.append(Found(name, copy_, when, "file name" if when else "",
                                                    when.timestamp() if when else mtime))
                        else:
                            self.other(name, when, copy_, 0)

    def _skipped_folder(self, folder: Path, name: str) -> None:
        """A macOS fork folder or a Jupyter autosave folder: each file in it is named, none is read."""
        if folder.is_symlink():
            self.report.files += 1
            self.report.ignored.append(f"{name}: a link in place of a macOS or autosave folder, not followed")
            return
        for root, dirs, files in os.walk(folder):  # os.walk never descends into a linked folder
            for f in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
                self.report.files += 1
                inner = os.path.relpath(os.path.join(root, f), folder)
                self.report.ignored.append(f"{os.path.join(name, inner)}: a macOS resource fork or a Jupyter "
                                           "autosave, never a hand-in")

    def zip(self, src: Path, prefix: str, outer: datetime | None, depth: int, lms: bool) -> None:
        """The archive's files, each copied out under a name of the kit's choosing (the original is only read).

        ``lms``: this is the LMS's own zip, so its entry times are hand-in times. Inside any
        other zip (a student's, or one found in a folder) the entry times are not, so the
        files keep ``outer``, the LMS time of the entry the zip came in (None: unknown),
        and their own entry times only rank two copies.
        """
        try:
            with zipfile.ZipFile(src) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    name = prefix + info.filename
                    self.report.files += 1
                    if any(part in SKIPPED for part in re.split(r"[/\\]", info.filename)):
                        self.report.ignored.append(f"{name}: a macOS resource fork or a Jupyter autosave, "
                                                   "never a hand-in")
                        continue
                    why = _zip_refusal(info) or (f"larger than {LARGEST // 2**20} MB, not extracted"
                                                 if info.file_size > LARGEST else "")
                    if why:
                        self.report.refused.append(f"{name}: {why}")
                        continue
                    named = None if outer else name_time(info.filename, self.zone)
                    entry = zip_time(info, self.zone)
                    when = outer or named or (entry if lms else None)
                    time_from = "file name" if named else "zip entry" if when else ""
                    is_notebook = info.filename.endswith(".ipynb")
                    copy_ = self.private(".ipynb" if is_notebook else ".file")
                    try:
                        with zf.open(info) as fh, open(copy_, "xb") as out:
                            shutil.copyfileobj(fh, out)
                    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                        self.report.refused.append(f"{name}: cannot be unpacked ({type(exc).__name__}) — "
                                                   "ask the student to hand it in again")
                        continue
                    if is_notebook:
                        self.found.append(Found(name, copy_, when, time_from, (when or entry).timestamp()))
                    else:
                        self.other(name, when, copy_, depth)
        except zipfile.BadZipFile as exc:
            self.report.refused.append(f"{prefix or src.name}: a damaged zip ({exc}), not opened")


def _files(src: Path, scratch: Path, report: Report, zone) -> list[Found]:
    """Every notebook in ``src`` (a zip or a folder), copied to ``scratch``; every other file goes to the report.

    Why copies: from here on only the kit's own files are read, so nothing a
    student controls can change or redirect between the checks and the reads.
    """
    walk = _Walk(scratch, report, zone)
    if not os.path.lexists(src):
        raise CourseError(f"{src} does not exist — give the LMS bulk-download zip or a folder of notebooks")
    if src.is_file() and zipfile.is_zipfile(src):
        walk.zip(src, "", None, 0, lms=True)
    elif src.is_dir():
        walk.folder(src)
    else:
        raise CourseError(f"{src} is neither a zip file nor a folder — give the LMS bulk-download zip "
                          "or a folder of notebooks")
    return sorted(walk.found, key=lambda f: f.name)


def _copy_in(path: Path, dest: Path) -> tuple[float, str]:
    """Copy a regular file to ``dest``: (its mtime, '') or (0, why not) for a link, pipe or device.

    O_NOFOLLOW refuses a link even if one replaced the file since the folder was
    listed; O_NONBLOCK keeps a named pipe from blocking the open.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return 0.0, LINK if os.path.islink(path) else f"cannot be read ({exc.strerror})"
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return 0.0, "not a regular file (a pipe, socket or device)"
        with open(dest, "xb") as out:
            shutil.copyfileobj(fh, out)
    return info.st_mtime, ""


def _zip_refusal(info: zipfile.ZipInfo) -> str:
    """Why a zip entry is not extracted, or ''.

    Why check what zipfile already tolerates: ``extractall`` quietly renames
    ``../x`` and ``/x``, so they would be graded as if they were ordinary hand-ins,
    and ``unzip`` (or the next tool) would make a link entry a real link.
    """
    name = info.filename
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "a symbolic link entry, not extracted — students hand in files, not links"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "not a regular file entry (a pipe, socket or device), not extracted"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path, not extracted — it would land outside the folder"
    if ".." in re.split(r"[/\\]", name):
        return "a name with '..', not extracted — it would land outside the folder"
    return ""


def _write(course: Course, student: str, lab: str, files: dict[str, bytes | None]) -> tuple[str, bool]:
    """Write ``files`` into ``submitted/<student>/<lab>/`` (None: remove that file): ('', whether a link stood
    at the notebook) or (why not, False).

    Why folder descriptors: each folder below ``submitted/`` is opened with
    O_NOFOLLOW, so a link planted at the student or lab folder is refused, not
    written through, and each file goes to a fresh temporary file renamed over
    the target — a rename replaces a link at the target instead of following it,
    and a reader never sees half a notebook.
    """
    course.submitted.mkdir(parents=True, exist_ok=True)  # submitted/ itself is the instructor's (it may be a link)
    fd = os.open(course.submitted, os.O_RDONLY | os.O_DIRECTORY)
    relative = Path(course.submitted.name)
    try:
        for part in (student, lab):
            relative /= part
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    return f"{relative} is a symbolic link; not written through it — remove it", False
                return f"{relative} is not a folder; not written — remove it", False
            os.close(fd)
            fd = inner
        notebook = f"{lab}.ipynb"
        try:
            was_link = stat.S_ISLNK(os.stat(notebook, dir_fd=fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            was_link = False
        for final, data in files.items():
            if data is None:
                try:
                    os.unlink(final, dir_fd=fd)  # unlink removes a link itself, never its target
                except FileNotFoundError:
                    pass
                continue
            part_name = f".{final}.{secrets.token_hex(6)}.part"  # hidden, and not *.ipynb: nbgrader never sees it
            out = os.open(part_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
            try:
                with os.fdopen(out, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(part_name, final, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                os.unlink(part_name, dir_fd=fd)
                raise
        return "", was_link
    finally:
        os.close(fd)


def repair_metadata(nb, release) -> bool:
    """Give cells back the nbgrader metadata Colab dropped, by matching them to the release.

    Locked and test cells are matched by their exact text; an answer cell is the
    cell between the same neighbours as in the release. Returns whether anything changed.
    """
    wanted = [c for c in release.cells if notebooks.meta(c)]
    have = {notebooks.grade_id(c) for c in nb.cells if notebooks.meta(c)}
    if all(notebooks.grade_id(c) in have for c in wanted):
        return False
    by_text = {c.source.strip(): c for c in release.cells if notebooks.meta(c) and not notebooks.meta(c).get("solution")}
    changed = False
    for cell in nb.cells:
        ref = by_text.get(cell.source.strip())
        if ref is not None and not notebooks.meta(cell):
            cell.metadata["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
            changed = True
    # an answer is the cell of its type just before the next release cell that is not an answer
    # (a test, a locked cell, or the text that follows), found by its unchanged text
    texts = {}
    for k, cell in enumerate(nb.cells):
        texts.setdefault(cell.source.strip(), k)
    for i, ref in enumerate(release.cells):
        m = notebooks.meta(ref)
        if not m.get("solution"):
            continue
        anchor = next((texts[c.source.strip()] for c in release.cells[i + 1:]
                       if not notebooks.meta(c).get("solution") and c.source.strip() in texts), len(nb.cells))
        cand = next((nb.cells[j] for j in range(anchor - 1, -1, -1) if nb.cells[j].cell_type == ref.cell_type), None)
        if cand is not None and not notebooks.meta(cand):
            cand.metadata["nbgrader"] = copy.deepcopy(m)
            changed = True
    return changed


def _lab_of(name: str, labs: list[str]) -> str | None:
    """The lab of a file, from its own name, else from the folder or zip it came in (innermost first)."""
    for part in reversed(re.split(r"[/\\]", name)):
        lab = lab_for(part, labs) if part else None
        if lab:
            return lab
    return None


def _existing_time(course: Course, student: str, lab: str) -> datetime | None:
    """The hand-in time of the copy already in submitted/ (None: none, or unknown)."""
    text = lateness._read_plain(course.submitted / student / lab / lateness.TIMESTAMP)
    try:
        return lateness.parse_time(text) if text else None
    except ValueError:
        return None


def collect(course: Course, src: Path, roster: Roster) -> Report:
    """File every notebook in ``src`` (a zip or a folder) at ``submitted/<student>/<lab>/<lab>.ipynb``.

    The newest valid copy per student and lab wins, by its hand-in time, and it is
    filed with a ``timestamp.txt`` when that time came from the LMS. A copy older
    than the one already in submitted/ does not replace it. Everything that was
    not filed is in the report with the reason, and so is every roster student
    who handed in nothing for a lab found in ``src``.
    """
    labs = course.labs()
    policy = lateness.load(course)
    report = Report()
    copies: dict[tuple[str, str], list[Found]] = {}
    seen_labs: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        for item in _files(src, Path(tmp), report, policy.zone):
            student, lab = roster.find(item.name), _lab_of(item.name, labs)
            if lab:
                seen_labs.add(lab)
            if student is None or lab is None:
                why = ("no roster student's id in its name" if student is None and lab is not None
                       else "no lab in its name" if student is not None else "neither a roster id nor a lab in its name")
                report.unmatched.append(item.name)
                report.unmatched_why[item.name] = why
                continue
            bad_id = check_student_id(student)
            if bad_id:
                report.refused.append(f"{item.name}: {bad_id} (fix the roster)")
                continue
            try:
                item.nb = notebooks.read(item.path)
            except CourseError:
                report.invalid.append(item.name)
                continue
            copies.setdefault((student, lab), []).append(item)
        for (student, lab), items in sorted(copies.items()):
            items.sort(key=lambda f: f.order)  # stable: equal times keep the name order, the last one wins
            item = items[-1]
            for older in items[:-1]:
                report.duplicates.append(older.name)
                same = " (the same time: the later name was kept — check both)" if older.order == item.order else ""
                report.duplicate_notes.append(f"{older.shown}; kept {item.shown}{same}")
            before = _existing_time(course, student, lab)
            if before is not None and item.when is not None and before > item.when:
                report.kept_existing.append(f"{student}/{lab} ({_show(before)}) over {item.shown}")
                continue
            _place(course, report, policy, student, lab, item)
    for lab in sorted(seen_labs):
        placed = {p.student for p in report.placed if p.lab == lab}
        missing = [s for s in roster.students if s not in placed and not os.path.lexists(course.submission(s, lab))]
        if missing:
            report.missing[lab] = missing
    return report


def _place(course: Course, report: Report, policy: lateness.Policy, student: str, lab: str, item: Found) -> None:
    """Write one chosen copy, with its timestamp.txt, and record it in the report."""
    nb = item.nb
    repaired = False
    if course.release_notebook(lab).exists():
        repaired = repair_metadata(nb, notebooks.read(course.release_notebook(lab)))
    if repaired:
        text = nbformat.writes(nb)
        data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    else:
        data = item.path.read_bytes()
    stamp = (lateness.format_time(item.when) + "\n").encode() if item.when else None  # None: remove a stale one
    why, was_link = _write(course, student, lab, {f"{lab}.ipynb": data, lateness.TIMESTAMP: stamp})
    if why:
        report.refused.append(f"{item.name}: {why}")
        return
    if was_link:
        report.replaced_links.append(str(course.submission(student, lab).relative_to(course.root)))
    lms_late = bool(re.search(r"(^|[_\s/])late([_\s]|$)", item.name, re.I))
    assessed = policy.assess(student, lab, 0.0, item.when)
    late = bool(assessed.days) or (lms_late and assessed.note == "no due date")
    report.placed.append(Placed(student, lab, item.name, late, repaired, item.when, item.time_from, lms_late, assessed))
