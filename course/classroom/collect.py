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
"""
from __future__ import annotations

import copy
import csv
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.core import notebooks
from course.core.errors import CourseError
from course.core.ids import check_student_id
from course.core.paths import Course
from course.core.text import printable


@dataclass
class Roster:
    """Student ids and the LMS ids that point to them."""
    aliases: dict[str, str]  # any id (nbgrader, canvas, moodle, email) → nbgrader id
    canvas: dict[str, str] = field(default_factory=dict)  # nbgrader id → canvas id

    @classmethod
    def read(cls, path: Path) -> "Roster":
        if not path.is_file():
            raise CourseError(f"roster {path} not found — a CSV with a 'student_id' column (and optionally canvas_id, moodle_id, email)")
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or "student_id" not in rows[0]:
            raise CourseError(f"roster {path} needs a 'student_id' column")
        aliases, canvas = {}, {}
        for row in rows:
            sid = row["student_id"].strip()
            for key in ("student_id", "canvas_id", "moodle_id", "email"):
                value = (row.get(key) or "").strip()
                if value:
                    aliases[value.lower()] = sid
            if (row.get("canvas_id") or "").strip():
                canvas[sid] = row["canvas_id"].strip()
        return cls(aliases, canvas)

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
    late: bool = False
    repaired: bool = False


@dataclass
class Report:
    placed: list[Placed] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<file>: <why>": links, escaping names, bad ids
    replaced_links: list[str] = field(default_factory=list)  # targets that were links: replaced, not followed

    def lines(self) -> list[str]:
        """The report, one line each; every name in it is student text, so it is printed escaped."""
        out = [f"collected {len(self.placed)} notebook(s)"]
        out += [f"late: {p.student}/{p.lab} ({p.source})" for p in self.placed if p.late]
        out += [f"repaired nbgrader metadata: {p.student}/{p.lab} ({p.source})" for p in self.placed if p.repaired]
        out += [f"duplicate, older copy not used: {d}" for d in self.duplicates]
        out += [f"could not match to a student and lab: {u}" for u in self.unmatched]
        out += [f"not a valid notebook: {i}" for i in self.invalid]
        out += [f"refused: {r}" for r in self.refused]
        out += [f"replaced a symbolic link at {t} (never written through)" for t in self.replaced_links]
        return [printable(line, 1000) for line in out]


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


def _files(src: Path, scratch: Path, report: Report) -> list[tuple[str, Path, float]]:
    """(name as handed in, a private copy in ``scratch``, its time stamp) for every notebook in ``src``.

    Why copies: from here on only the kit's own files are read, so nothing a
    student controls can change or redirect between the checks and the reads.
    """
    if src.is_file() and zipfile.is_zipfile(src):
        found = _from_zip(src, scratch, report)
    elif src.is_dir():
        found = _from_folder(src, scratch, report)
    else:
        raise CourseError(f"{src} is neither a zip file nor a folder")
    return sorted(found, key=lambda t: t[0])


def _from_folder(src: Path, scratch: Path, report: Report) -> list[tuple[str, Path, float]]:
    """Walk ``src`` (the instructor's folder, which may itself be a link) without following any link in it."""
    found = []
    pending = [src]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                name = os.path.relpath(entry.path, src)
                if entry.name in SKIPPED:
                    continue
                if entry.is_symlink():
                    report.refused.append(f"{name}: {LINK}")
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.name.endswith(".ipynb"):
                    copy_ = scratch / f"{len(found)}.ipynb"
                    stamp, why = _copy_in(Path(entry.path), copy_)
                    if why:
                        report.refused.append(f"{name}: {why}")
                    else:
                        found.append((name, copy_, stamp))
    return found


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


def _from_zip(src: Path, scratch: Path, report: Report) -> list[tuple[str, Path, float]]:
    """The archive's notebooks, each copied out under a name of the kit's choosing (the original is only read)."""
    found = []
    with zipfile.ZipFile(src) as zf:
        for info in zf.infolist():
            name = info.filename
            if any(part in SKIPPED for part in re.split(r"[/\\]", name)):
                continue
            why = _zip_refusal(info)
            if why:
                report.refused.append(f"{name}: {why}")
                continue
            if info.is_dir() or not name.endswith(".ipynb"):
                continue
            copy_ = scratch / f"{len(found)}.ipynb"
            with zf.open(info) as fh, open(copy_, "xb") as out:
                shutil.copyfileobj(fh, out)
            found.append((name, copy_, time.mktime(info.date_time + (0, 0, -1))))
    return found


def _write(course: Course, student: str, lab: str, data: bytes) -> tuple[str, bool]:
    """Write ``submitted/<student>/<lab>/<lab>.ipynb``: ('', whether a link stood there) or (why not, False).

    Why folder descriptors: each folder below ``submitted/`` is opened with
    O_NOFOLLOW, so a link planted at the student or lab folder is refused, not
    written through, and the notebook goes to a fresh temporary file renamed over
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
        final = f"{lab}.ipynb"
        try:
            was_link = stat.S_ISLNK(os.stat(final, dir_fd=fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            was_link = False
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


def collect(course: Course, src: Path, roster: Roster) -> Report:
    """File every notebook in ``src`` (a zip or a folder) at ``submitted/<student>/<lab>/<lab>.ipynb``.

    The newest copy per student and lab wins; everything that was not filed is in
    the report with the reason.
    """
    labs = course.labs()
    report = Report()
    chosen: dict[tuple[str, str], tuple[float, str, Path, bool]] = {}
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        for name, path, stamp in _files(src, Path(tmp), report):
            student, lab = roster.find(name), lab_for(Path(name).name, labs)
            if student is None or lab is None:
                report.unmatched.append(name)
                continue
            bad_id = check_student_id(student)
            if bad_id:
                report.refused.append(f"{name}: {bad_id} (fix the roster)")
                continue
            late = bool(re.search(r"(^|[_\s])late([_\s]|$)", name, re.I))
            key = (student, lab)
            if key in chosen:
                older, newer = sorted([chosen[key], (stamp, name, path, late)], key=lambda t: t[0])
                report.duplicates.append(older[1])
                chosen[key] = newer
            else:
                chosen[key] = (stamp, name, path, late)
        for (student, lab), (_, name, path, late) in sorted(chosen.items()):
            try:
                nb = notebooks.read(path)
            except CourseError:
                report.invalid.append(name)
                continue
            repaired = False
            if course.release_notebook(lab).exists():
                repaired = repair_metadata(nb, notebooks.read(course.release_notebook(lab)))
            if repaired:
                text = nbformat.writes(nb)
                data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
            else:
                data = path.read_bytes()
            why, was_link = _write(course, student, lab, data)
            if why:
                report.refused.append(f"{name}: {why}")
                continue
            if was_link:
                report.replaced_links.append(str(course.submission(student, lab).relative_to(course.root)))
            report.placed.append(Placed(student, lab, name, late, repaired))
    return report
