"""Pipeline step: the public student repository, ``python -m course publish [LAB…] --to DIR [--solutions LAB…]``.

Why a second repository: Colab opens a notebook only from a public GitHub repository, and this one holds
``source/`` (every solution and every hidden test), each lab's solutions before their day, the instructor's
docs and a class's grading state. So this repository stays private, and students get their own, holding only
what they may see: the release notebooks, a README (the lab table, Colab badges, the student guide) and each
lab's executed solutions once they are released (``--solutions LAB``, or a date per lab in
``[tool.course.solutions_release]``). Released solutions stay released: a later publish keeps them.

Why git, with one commit per publish (none when nothing changed): DIR is what gets pushed, and every file a
publish replaces or removes is then in that repository's history first. So publish writes only into a folder
it made itself (a committed ``.course-publish.json`` says so) that has no uncommitted changes, or into a new or
empty folder. Git runs with a fixed identity and without the user's git configuration, so it works on a machine
where git was never set up; the dates come from the environment (``GIT_AUTHOR_DATE``, ``GIT_COMMITTER_DATE``, or
``SOURCE_DATE_EPOCH``), else now.

Why a leak guard before anything is written: what a public repository showed cannot be taken back (forks,
clones, caches). Publish builds the whole tree it is about to commit in memory and scans every file of it for
hidden-test lines, solution lines of labs whose solutions are not out, nbgrader's markers and ``source/``
paths; if it finds one it stops, and DIR is left as it was.

Why in classroom/ and not build/: it builds nothing from ``source/``. It hands out to a class what build/ made
(``release/``, ``solutions/``), on the class's schedule, as ``collect`` takes the hand-ins back in.
"""
from __future__ import annotations

import html as htmllib
import json
import os
import posixpath
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nbformat

from course.build import release
from course.build.solutions import fingerprint
from course.classroom.lateness import parse_time
from course.core import notebooks, settings
from course.core.errors import CourseError
from course.core.paths import REPO, Course
from course.core.text import printable

MANIFEST = ".course-publish.json"
MADE_BY = "python -m course publish"
# Who commits: fixed, so a machine without any git configuration can publish, and the public history never
# carries an address from the instructor's own git setup. GIT_AUTHOR_NAME etc. in the environment win.
IDENTITY = {"GIT_AUTHOR_NAME": "Course kit", "GIT_AUTHOR_EMAIL": "course-kit@publish.invalid",
            "GIT_COMMITTER_NAME": "Course kit", "GIT_COMMITTER_EMAIL": "course-kit@publish.invalid"}
SHORTEST_SECRET = 12       # shorter lines (`pass`, `return x`, `else:`) say nothing about an answer
SOURCE_PATH = re.compile(r"(?<![\w.-])source/")
MARKERS = (notebooks.BEGIN_SOLUTION, notebooks.BEGIN_HIDDEN, notebooks.END_HIDDEN)
STUDENT_GUIDE = REPO / "docs" / "student.md"


@dataclass
class Published:
    """What one publish did, for the report."""
    to: Path
    labs: list[str]                 # every lab in the student repository now
    written: list[str]              # labs whose notebooks this publish wrote
    solutions: list[str]            # labs whose solutions are in it
    waiting: dict[str, datetime]    # labs whose solutions go out on a date still to come
    commit: str | None              # the new commit; None when nothing changed
    created: bool                   # the repository was made by this publish
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        where = printable(self.to)
        out = [f"publish: {where} — notebooks of {len(self.labs)} lab(s); "
               f"this publish wrote {', '.join(self.written) or 'no notebook'}"]
        out.append(f"  solutions released: {', '.join(self.solutions) or 'none'}")
        for lab, when in self.waiting.items():
            out.append(f"  {lab}: solutions go out with the first publish after {when.isoformat()}")
        out += [f"  note: {n}" for n in self.notes]
        if self.commit is None:
            out.append("  nothing changed: no new commit")
            return out
        out.append(f"  committed {self.commit[:12]}")
        repo = settings.student_repository()
        if self.created:
            out.append(f"  first push: create the PUBLIC repository {repo} on GitHub, empty, then "
                       f"git -C {where} remote add origin https://github.com/{repo}.git && "
                       f"git -C {where} push -u origin {settings.STUDENT_BRANCH}")
        else:
            out.append(f"  push it: git -C {where} push")
        return out


def publish(course: Course, labs: list[str] | None, to: Path, solutions: list[str] | tuple[str, ...] = (), *,
            now: datetime | None = None) -> Published:
    """Write ``labs`` (default: all) and every released solution into the student repository ``to``, and commit."""
    order = course.resolve_labs(None)
    chosen = set(course.resolve_labs(list(labs))) if labs else set(order)
    asked = {course.resolve_labs([name])[0] for name in solutions}
    to = Path(to).expanduser().absolute()
    _check_place(course, to)
    previous = _previous(to)
    now = now or datetime.now(timezone.utc)
    dates = release_dates(course)
    before = set(previous.get("labs", [])) if previous else set()
    out = asked | {lab for lab, when in dates.items() if when <= now}
    out |= set(previous.get("solutions", [])) if previous else set()

    written = [lab for lab in order if lab in chosen or (lab in out and lab not in before)]
    refreshed = [lab for lab in order if lab in out]
    tree = _read_tree(to) if previous else {}
    for rel in list(tree):
        parts = rel.split("/")
        if (rel in ("README.md", MANIFEST) or parts[0] == "release" and parts[1:2] and parts[1] in written
                or parts[0] == "solutions" and parts[1:2] and parts[1] in refreshed):
            del tree[rel]
    notes: list[str] = []
    for lab in written:
        tree.update(_release_files(course, lab))
    for lab in refreshed:
        tree.update(_solution_files(course, lab, notes))
    all_labs = [lab for lab in order if lab in before or lab in written]
    all_labs += sorted(before - set(order))            # a lab since removed from source/ stays published
    # released: what this publish refreshed, and what an earlier one released of a lab since removed. A
    # solutions/ folder put there by hand is not "released": the guard below treats its lines as secret.
    with_solutions = refreshed + sorted(set(previous.get("solutions", []) if previous else []) - set(order))
    waiting = {lab: when for lab, when in sorted(dates.items()) if lab in all_labs and lab not in with_solutions}
    tree["README.md"] = student_readme(tree, all_labs, with_solutions, waiting).encode()
    tree[MANIFEST] = (json.dumps({"made_by": MADE_BY, "labs": all_labs, "solutions": with_solutions},
                                 indent=1) + "\n").encode()

    found = leaks(tree, secrets(course, set(with_solutions)))
    if found:
        rel, what, line = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise CourseError(f"publish stopped, nothing was written: {rel} would show {what}: "
                          f"{printable(line, 100)!r}{more} — rebuild it (`python -m course release` or `solutions`), "
                          "or take that line out of the lab's visible text")

    created = previous is None
    _write(to, tree, created)
    newly = [lab for lab in with_solutions if lab not in (previous or {}).get("solutions", [])]
    commit = _commit(to, written, newly, created)
    return Published(to, all_labs, written, with_solutions, waiting, commit, created, notes)


# ---------------------------------------------------------------------------------------- the schedule

def release_dates(course: Course) -> dict[str, datetime]:
    """``[tool.course.solutions_release]``: each lab's (name or short form) date on which its solutions go out.

    A time without an offset is in ``[tool.course] timezone`` (default UTC), as for due dates.
    """
    table = settings.course_settings(course.root)
    dates = table.get("solutions_release") or {}
    if not isinstance(dates, dict):
        raise CourseError("[tool.course] solutions_release must be a table: [tool.course.solutions_release] "
                          "with lines such as Day1 = \"2026-12-08T00:00:00+01:00\"")
    zone = _zone(table.get("timezone", "UTC"))
    out = {}
    for name, value in dates.items():
        where = f"[tool.course.solutions_release] {printable(name, 60)}"
        try:
            lab = course.resolve_labs([str(name)])[0]
        except CourseError as exc:
            raise CourseError(f"{where}: {exc}") from None
        if isinstance(value, datetime):
            out[lab] = value if value.tzinfo else value.replace(tzinfo=zone)
            continue
        try:
            out[lab] = parse_time(value, zone) if isinstance(value, str) else None
        except ValueError:
            out[lab] = None
        if out[lab] is None:
            raise CourseError(f"{where}: {printable(value, 60)!r} is not a date and time — write it as "
                              "\"2026-12-08T00:00:00+01:00\" (or without the offset, in [tool.course] timezone)")
    return out


def _zone(name: object):
    try:
        return timezone.utc if name in ("UTC", "Z") else ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CourseError(f"[tool.course] timezone = {name!r} is not a time zone — use a name such as "
                          "\"UTC\" or \"Europe/Berlin\"") from None


# ---------------------------------------------------------------------------------------- what goes out

def _release_files(course: Course, lab: str) -> dict[str, bytes]:
    """release/<lab>/: the student notebook (its Colab badge set for the student repository) and any other file."""
    folder = course.release / lab
    if not course.release_notebook(lab).is_file():
        raise CourseError(f"{course.release_notebook(lab)} not found — run `python -m course release {lab}` first")
    files = {}
    for rel, data in _read_tree(folder).items():
        if rel == f"{lab}.ipynb":
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            release.set_badge(nb, lab)
            data = (nbformat.writes(nb) + "\n").encode()
        files[f"release/{lab}/{rel}"] = data
    return files


def _solution_files(course: Course, lab: str, notes: list[str]) -> dict[str, bytes]:
    """solutions/<lab>/<lab>.ipynb and .html, as ``python -m course solutions`` wrote them."""
    files = {}
    for suffix in (".ipynb", ".html"):
        path = course.solutions / lab / f"{lab}{suffix}"
        if not path.is_file() or path.is_symlink():
            raise CourseError(f"{path} not found — run `python -m course solutions {lab}` before releasing them")
        files[f"solutions/{lab}/{lab}{suffix}"] = path.read_bytes()
    built = json.loads(files[f"solutions/{lab}/{lab}.ipynb"]).get("metadata", {}).get("course", {})
    if built.get("source_fingerprint") != fingerprint(notebooks.read(course.source_notebook(lab))):
        notes.append(f"solutions/{lab} was built from an older source/{lab} — run `python -m course solutions "
                     f"{lab}` and publish again to show the current one")
    return files


def student_readme(tree: dict[str, bytes], labs: list[str], with_solutions: list[str],
                   waiting: dict[str, datetime]) -> str:
    """The student repository's README: what it is, the lab table with Colab badges, then the student guide."""
    rows = []
    for lab in labs:
        day = re.match(r"\D*(\d+)", lab)
        link = f"release/{lab}/{lab}.ipynb"
        if lab in with_solutions:
            solution = f"[notebook](solutions/{lab}/{lab}.ipynb) · [HTML](solutions/{lab}/{lab}.html)"
        elif lab in waiting:
            solution = f"after {waiting[lab].strftime('%Y-%m-%d %H:%M %Z').strip()}"
        else:
            solution = "after the deadline"
        rows.append(f"| {day.group(1) if day else ''} | [{_title(tree.get(link), lab)}]({link}) | "
                    f"{settings.colab_badge(lab)} | {solution} |")
    guide = _guide(STUDENT_GUIDE.read_text(encoding="utf-8"), tree)
    return "\n".join([
        f"# {_course_title()}: the labs",
        "",
        "One lab a day: a Jupyter notebook that you open in Google Colab (click its badge), work through, download",
        "and upload to the course's LMS. The guide below says how, step by step. Each lab's executed solution",
        "appears in the table after its deadline.",
        "",
        "## The labs",
        "",
        "| day | lab (notebook) | Colab | solution |",
        "|---|---|---|---|",
        *rows,
        "",
        guide.rstrip(),
        "",
        "---",
        f"*This repository is written by `{MADE_BY}` from the course's own (private) repository; "
        "edits made here are replaced by the next publish.*",
        "",
    ])


def _title(data: bytes | None, lab: str) -> str:
    """The notebook's first heading ("Day 1 — Linear algebra and parametric models"), or the lab's name."""
    if data:
        for cell in json.loads(data).get("cells", []):
            text = "".join(cell.get("source", "")) if cell.get("cell_type") == "markdown" else ""
            head = re.search(r"^#\s+(.+?)\s*$", text, re.M)
            if head:
                return head.group(1).replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")
    return lab


def _course_title() -> str:
    readme = REPO / "README.md"
    head = re.match(r"#\s+(.+?)(?:\s+—\s+course kit)?\s*$", readme.read_text(encoding="utf-8").split("\n", 1)[0]) \
        if readme.is_file() else None
    return head.group(1) if head else "Course"


def _guide(text: str, tree: dict[str, bytes]) -> str:
    """docs/student.md inside the README: headings one level down, links made right for the student repository.

    A link to the course README's lab table becomes a link to this README's; a link to a file the student
    repository holds stays; any other relative link (the private repository's docs) keeps its text only.
    """
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        lines.append("#" + line if not fenced and re.match(r"#{1,5}\s", line) else line)

    def fix(match: re.Match) -> str:
        bang, label, target = match.group(1), match.group(2), match.group(3)
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//|^#", target, re.I):
            return match.group(0)
        path, _, anchor = target.partition("#")
        where = posixpath.normpath(posixpath.join("docs", path))
        if where == "README.md":
            return f"{bang}[{label}](#{anchor or 'the-labs'})"
        if where in tree:
            return f"{bang}[{label}]({where}{'#' + anchor if anchor else ''})"
        return "" if bang else label
    return re.sub(r"(!?)\[([^\]]*)\]\(\s*<?([^)\s>]+)>?\s*\)", fix, "\n".join(lines))


# ---------------------------------------------------------------------------------------- the leak guard

def secrets(course: Course, released: set[str]) -> dict[str, str]:
    """Lines that must never be in the student repository → what each one is, for the message.

    Every hidden-test line of every lab, and every solution line (inside BEGIN/END SOLUTION, and the model
    answer of a written task) of each lab whose solutions are not released; nbgrader's markers too. Left
    out: lines under 12 characters (`pass`, `return x`), and lines a student sees anyway because they stand
    in the visible part of some lab (given code, visible tests, the text, a released solution).
    """
    visible: set[str] = set()
    hidden: dict[str, str] = {}
    answers: dict[str, str] = {}
    for lab in course.labs():
        for cell in notebooks.read(course.source_notebook(lab)).cells:
            shown, hid, sol = split_cell(cell)
            visible |= shown
            hidden.update((line, f"a hidden test of {lab}") for line in hid)
            if lab in released:
                visible |= sol
            else:
                answers.update((line, f"a solution of {lab}, not yet released") for line in sol)
    seen = "\n".join(sorted(visible))    # inside a longer line too: `d_a = d_out @ W` quoted in the text
    found = {line: what for line, what in {**answers, **hidden}.items()
             if len(line) >= SHORTEST_SECRET and line not in seen}
    found.update((marker, "an nbgrader marker") for marker in MARKERS)
    return found


def split_cell(cell) -> tuple[set[str], set[str], set[str]]:
    """A source cell's stripped lines: (visible to a student, in a hidden-test block, in a solution)."""
    shown, hidden, solution = set(), set(), set()
    if cell.cell_type == "markdown" and notebooks.meta(cell).get("solution"):
        lines = [line.strip() for line in cell.source.split("\n")]   # a written task's model answer
        return shown, hidden, {line for line in lines if line}
    into = shown
    for line in cell.source.split("\n"):
        mark = line.strip()
        if mark in (notebooks.BEGIN_HIDDEN, notebooks.BEGIN_SOLUTION):
            into = hidden if mark == notebooks.BEGIN_HIDDEN else solution
        elif mark in (notebooks.END_HIDDEN, notebooks.END_SOLUTION):
            into = shown
        elif mark:
            into.add(mark)
    return shown, hidden, solution


def leaks(tree: dict[str, bytes], secret: dict[str, str]) -> list[tuple[str, str, str]]:
    """(file, what, line) for every secret line or ``source/`` path in any file of ``tree``."""
    found = []
    for rel, data in sorted(tree.items()):
        text = readable(rel, data)
        hit = SOURCE_PATH.search(text)
        if hit:
            found.append((rel, "a path into the private source/ folder",
                          text[max(0, hit.start() - 40):hit.end() + 40].strip()))
        found += [(rel, what, line) for line, what in secret.items() if line in text]
    return found


def readable(rel: str, data: bytes) -> str:
    """A file's text as a reader would meet it: a notebook's every string (sources, outputs, metadata), an HTML
    page with its tags dropped and entities decoded, or the file itself; embedded images left out."""
    text = data.decode("utf-8", "replace")
    if rel.endswith(".ipynb"):
        try:
            strings = list(_strings(json.loads(text)))
        except ValueError:
            strings = [text]
        text = "\n".join(strings)
        return text + "\n" + _html_text(text)
    if rel.endswith((".html", ".htm", ".svg")):
        return _html_text(text)
    return text


def _strings(node, key: str = ""):
    if isinstance(node, str):
        if not key.startswith(("image/", "application/pdf")):
            yield node
    elif isinstance(node, list):
        # a notebook splits a cell's text into lines; join them back, so a line is found whole
        if all(isinstance(item, str) for item in node) and not key.startswith("image/"):
            yield "".join(node)
        else:
            for item in node:
                yield from _strings(item, key)
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, str(k))


def _html_text(text: str) -> str:
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", text)
    return htmllib.unescape(re.sub(r"<[^>]*>", "", text))


# ---------------------------------------------------------------------------------------- the folder and git

def _check_place(course: Course, to: Path) -> None:
    """DIR must lie outside every private course folder (build/, the ignored scratch folder, is allowed)."""
    target = to.resolve()
    for root in {course.root.resolve(), REPO.resolve()}:
        if target == root or root.is_relative_to(target):
            raise CourseError(f"--to {printable(to)} is the course directory or holds it — give a folder outside "
                              "it, e.g. --to ../course-kit-student")
        if target.is_relative_to(root) and not target.is_relative_to(root / "build"):
            raise CourseError(f"--to {printable(to)} lies inside the private course directory {printable(root)} — "
                              "give a folder outside it, e.g. --to ../course-kit-student")
    if to.exists() and not to.is_dir():
        raise CourseError(f"--to {printable(to)} is a file, not a folder — give a new or empty folder, or the "
                          "student repository an earlier publish made")


def _previous(to: Path) -> dict | None:
    """The manifest of the student repository in ``to``; None for a new or empty folder. Refuses anything else."""
    if not to.exists() or not any(to.iterdir()):
        return None
    not_ours = (f"{printable(to)} is not a student repository made by `{MADE_BY}` (no committed {MANIFEST}) — "
                "give --to a new or empty folder; publish never writes into a folder it did not make")
    if not (to / ".git").is_dir() or not (to / MANIFEST).is_file():
        raise CourseError(not_ours)
    top = _git(to, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != to.resolve():
        raise CourseError(not_ours)
    if _git(to, "ls-files", "--error-unmatch", MANIFEST, check=False).returncode != 0:
        raise CourseError(not_ours)
    try:
        manifest = json.loads((to / MANIFEST).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("made_by") != MADE_BY:
        raise CourseError(not_ours)
    dirty = _git(to, "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
    if dirty:
        shown = ", ".join(printable(line[3:], 80) for line in dirty[:3]) + (" …" if len(dirty) > 3 else "")
        raise CourseError(f"{printable(to)} has changes that are not committed ({shown}) — commit them there "
                          f"(git -C {printable(to)} add -A && git -C {printable(to)} commit -m …) or discard them "
                          "(git checkout / git clean), then publish again; publish only replaces committed files")
    branch = _git(to, "symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
    if branch != settings.STUDENT_BRANCH:
        raise CourseError(f"{printable(to)} is on branch {printable(branch or 'none')!r}, but every Colab link opens "
                          f"{settings.STUDENT_BRANCH!r} — git -C {printable(to)} switch {settings.STUDENT_BRANCH}, "
                          "then publish again")
    return manifest


def _read_tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (``.git`` left out) by its relative POSIX path; a link anywhere is refused."""
    out = {}
    for here, dirs, files in os.walk(folder):
        base = Path(here)
        dirs[:] = sorted(d for d in dirs if not (base == folder and d == ".git"))
        for name in sorted(dirs + files):
            path = base / name
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise CourseError(f"{printable(path)} is a link or a special file — publish copies only plain files "
                                  "and folders; remove it, then publish again")
            if stat.S_ISREG(mode):
                out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return out


def _write(to: Path, tree: dict[str, bytes], created: bool) -> None:
    """Make DIR hold exactly ``tree`` (plus .git). Safe: DIR had no uncommitted change, so its history has it all."""
    try:
        if created:
            to.mkdir(parents=True, exist_ok=True)
            _git(to, "init", "-q", "-b", settings.STUDENT_BRANCH)
        for rel in _read_tree(to):
            if rel not in tree:
                (to / rel).unlink()
        for here, dirs, _ in os.walk(to, topdown=False):
            for name in dirs:
                path = Path(here) / name
                if path != to / ".git" and not path.is_relative_to(to / ".git") and not any(path.iterdir()):
                    path.rmdir()
        for rel, data in tree.items():
            path = to / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_bytes() != data:
                path.write_bytes(data)
    except OSError as exc:
        raise CourseError(f"writing {printable(to)} failed ({exc}) — its last commit is intact: "
                          f"git -C {printable(to)} reset --hard && git -C {printable(to)} clean -fd puts it back, "
                          "then publish again") from None


def _commit(to: Path, written: list[str], newly: list[str], created: bool) -> str | None:
    """One commit for this publish, or None when the tree is what the last commit holds."""
    _git(to, "add", "-A")
    if not created and _git(to, "diff", "--cached", "--quiet", check=False).returncode == 0:
        return None
    subject = f"Publish {', '.join(written) or 'the README'}" + (
        f"; release the solutions of {', '.join(newly)}" if newly else "")
    _git(to, "commit", "-q", "--allow-empty", "-m", subject, "-m", f"Written by `{MADE_BY}`.")
    return _git(to, "rev-parse", "HEAD").stdout.strip()


def _git(to: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run git in ``to`` with the fixed identity, no user or system configuration, and dates from the environment."""
    if shutil.which("git") is None:
        raise CourseError("publish needs git — install it (e.g. `apt-get install git`), then publish again")
    env = dict(os.environ)
    for key, value in IDENTITY.items():
        env.setdefault(key, value)
    epoch = env.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        env.setdefault("GIT_AUTHOR_DATE", f"@{epoch} +0000")
        env.setdefault("GIT_COMMITTER_DATE", f"@{epoch} +0000")
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", "-C", str(to), *args],
                          env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        said = printable(((proc.stderr or proc.stdout).strip().splitlines() or ["no message"])[-1], 200)
        raise CourseError(f"git {args[0]} failed in {printable(to)}: {said} — fix that, then publish again")
    return proc
