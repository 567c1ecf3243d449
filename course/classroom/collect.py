"""Pipeline step: what students hand in → ``submitted/<student>/<lab>/<lab>.ipynb``.

Why: real hand-ins are an LMS bulk download (Canvas or Moodle zip, the
student's id in the file name) or a folder of Colab downloads ("Copy of
Day1_….ipynb", "Day1_… (1).ipynb"). nbgrader wants one canonical path per
student and lab. This step maps one to the other, repairs notebooks that lost
nbgrader's cell metadata in Colab, and reports every file it could not place —
nothing is dropped silently and the originals are only read.
"""
from __future__ import annotations

import copy
import csv
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.core import notebooks
from course.core.errors import CourseError
from course.core.paths import Course


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

    def lines(self) -> list[str]:
        out = [f"collected {len(self.placed)} notebook(s)"]
        out += [f"late: {p.student}/{p.lab} ({p.source})" for p in self.placed if p.late]
        out += [f"repaired nbgrader metadata: {p.student}/{p.lab} ({p.source})" for p in self.placed if p.repaired]
        out += [f"duplicate, older copy not used: {d}" for d in self.duplicates]
        out += [f"could not match to a student and lab: {u}" for u in self.unmatched]
        out += [f"not a valid notebook: {i}" for i in self.invalid]
        return out


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


def _files(src: Path, scratch: Path) -> list[tuple[str, Path]]:
    if src.is_file() and zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            zf.extractall(scratch)  # a copy: the original archive is only read
        root = scratch
    elif src.is_dir():
        root = src
    else:
        raise CourseError(f"{src} is neither a zip file nor a folder")
    return [(str(p.relative_to(root)), p) for p in sorted(root.rglob("*.ipynb"))
            if "__MACOSX" not in p.parts and ".ipynb_checkpoints" not in p.parts]


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
    labs = course.labs()
    report = Report()
    chosen: dict[tuple[str, str], tuple[float, str, Path, bool]] = {}
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        for name, path in _files(src, Path(tmp)):
            student, lab = roster.find(name), lab_for(Path(name).name, labs)
            if student is None or lab is None:
                report.unmatched.append(name)
                continue
            late = bool(re.search(r"(^|[_\s])late([_\s]|$)", name, re.I))
            key = (student, lab)
            stamp = path.stat().st_mtime
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
            target = course.submission(student, lab)
            target.parent.mkdir(parents=True, exist_ok=True)
            if repaired:
                notebooks.write(nb, target)
            else:
                shutil.copyfile(path, target)
            report.placed.append(Placed(student, lab, name, late, repaired))
    return report
