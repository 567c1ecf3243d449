"""Pipeline step: Gradescope through otter-grader, ``python -m course gradescope [LAB…]`` → ``gradescope/<Lab>/``.

Why: many instructors grade on Gradescope, where students get their scores on upload and the LMS takes the
grades. The same ``source/`` notebook must serve nbgrader and Gradescope with no second copy of any lab, so
everything otter needs is GENERATED here from the nbgrader source:

* each graded test cell (points > 0) becomes one otter question (``tests/<grade_id>.py``, exception-based, all or
  nothing as nbgrader scores a cell); its visible part is a public case, its hidden part a hidden case;
* hand-graded written answers become manual questions of the otter master notebook (graded by a person on
  Gradescope, as in nbgrader's formgrader);
* students keep handing in the unchanged Colab release notebook: the zip's plugin
  (``templates/gradescope/course_otter_plugin.py``) runs each test IN PLACE, as nbgrader does, with the reference
  swaps of ``grading/references.py``, and otter's test files only read the verdicts it recorded. Otter alone would
  test the final globals, so a later cell rebinding a name, or one broken early answer, would make the graders
  disagree;
* ``setup.sh`` (otter's, then the kit's steps) installs CPU-only torch and torchvision at the kit's pins (read from
  ``pyproject.toml``), the rest of the labs' packages, and fetches the datasets with the same code and checksums
  as ``python -m course data`` (a stand-alone copy generated from ``course/core/data.py``);
* the zip runs the kit's static integrity scan (a stand-alone copy generated from ``grading/integrity.py``) and
  flags a suspicious submission in the Gradescope output: otter itself has no integrity protection.

The zip holds no file from ``source/``: only the test cells (hidden parts included, as any autograder must), the
release text of locked cells, and the reference solutions the swaps need.

Why in classroom/: it needs grading/ (references, integrity); it hands grading to another platform.
"""
from __future__ import annotations

import concurrent.futures
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from course.core import notebooks
from course.core.errors import CourseError
from course.core.paths import REPO, Course
from course.grading import references

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "gradescope"
PLUGIN_FILE = "course_otter_plugin.py"
PLUGIN = "course_otter_plugin.CoursePlugin"
MANIFEST = "course_gradescope.json"
DATA_SCRIPT = "course_data.py"
SCAN_SCRIPT = "course_integrity.py"
AUTOGRADER_DIR = "/autograder"
DATA_DIR = f"{AUTOGRADER_DIR}/data"
# otter's own default for a Gradescope autograder; a notebook that needs longer is cut off there
GRADESCOPE_DEFAULT_LIMIT_S = 600
ID_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
# kernel packages the labs import, besides torch and torchvision (installed first, CPU wheels)
KERNEL_PACKAGES = ("numpy", "scipy", "matplotlib", "scikit-learn", "tqdm", "ipykernel")


@dataclass
class Question:
    """One graded nbgrader test cell as one otter question."""

    id: str
    points: float
    source: str                                  # the full test: visible and hidden parts
    hidden: list[tuple[int, int]] = field(default_factory=list)  # 1-based line ranges of hidden blocks
    swap: str = ""                               # kernel code binding the reference solutions (references.py)

    @property
    def has_hidden(self) -> bool:
        return bool(self.hidden)


@dataclass
class Conversion:
    """What one lab becomes: autograded questions, manual questions, and the release text of locked cells."""

    lab: str
    questions: list[Question]
    manual: dict[str, float]                     # written answers: grade_id → points
    locked: dict[str, str]                       # locked given cells of the release notebook: grade_id → source
    order: list[str]                             # every nbgrader grade_id of the source, in order
    trusted: list[str]                           # the release notebook's code cells (the scan skips exact copies)

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)


def _where(lab: str, index: int, cell: NotebookNode) -> str:
    gid = notebooks.grade_id(cell)
    return f"{lab}: source cell {index}" + (f" ({gid})" if gid else "")


def _marked_blocks(where: str, source: str, begin: str, end: str, lookalike: tuple[str, ...],
                   why: str) -> list[tuple[int, int]]:
    """The (first, last) line numbers of each ``begin`` … ``end`` block; refuse nesting, an unbalanced marker, or
    a line that looks like a marker but is not one alone on its line (``lookalike``), saying ``why``.

    Why refuse instead of guessing: otter's markers can express only whole-line, balanced, unnested blocks, and a
    marker misread here would put a solution or a hidden test where students see it.
    """
    blocks, start = [], None
    for number, line in enumerate(source.split("\n"), 1):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise CourseError(f"{where}: nested {begin} (line {number}); close the first block")
            start = number
        elif text == end:
            if start is None:
                raise CourseError(f"{where}: {end} without a BEGIN (line {number})")
            blocks.append((start, number))
            start = None
        elif any(word in text for word in lookalike):
            raise CourseError(f"{where}: line {number} {why} ({text[:60]!r}); write {begin!r} or {end!r} alone "
                              "on its line")
    if start is not None:
        raise CourseError(f"{where}: {begin} (line {start}) is never closed")
    return blocks


def _hidden_ranges(where: str, source: str) -> list[tuple[int, int]]:
    return _marked_blocks(where, source, notebooks.BEGIN_HIDDEN, notebooks.END_HIDDEN, ("HIDDEN TESTS",),
                          "looks like a hidden-test marker but is not one")


def _check_solution_markers(where: str, source: str) -> None:
    """nbgrader's markers, balanced and alone on their lines: what otter's ``# BEGIN SOLUTION`` can express."""
    _marked_blocks(where, source, notebooks.BEGIN_SOLUTION, notebooks.END_SOLUTION,
                   ("BEGIN SOLUTION", "END SOLUTION"), "has a solution marker that cannot be converted")


def convert(source_nb: NotebookNode, release_nb: NotebookNode, lab: str) -> Conversion:
    """Map a lab's nbgrader source onto otter's questions, or refuse with the cell that cannot be mapped."""
    seen: dict[str, int] = {}
    questions: list[Question] = []
    manual: dict[str, float] = {}
    order: list[str] = []
    for index, cell in enumerate(source_nb.cells):
        meta = notebooks.meta(cell)
        where = _where(lab, index, cell)
        source = cell.source if isinstance(cell.get("source"), str) else ""
        if not meta:
            if notebooks.BEGIN_HIDDEN in source or notebooks.BEGIN_SOLUTION in source:
                raise CourseError(f"{where}: solution or hidden-test markers in a cell nbgrader does not manage; "
                                  "give the cell nbgrader metadata (an answer or a test cell)")
            continue
        gid = notebooks.grade_id(cell)
        if not gid:
            raise CourseError(f"{where}: an nbgrader cell without a grade_id")
        if gid in seen:
            raise CourseError(f"{where}: duplicate grade_id {gid!r} (also source cell {seen[gid]})")
        if not ID_OK.match(gid):
            raise CourseError(f"{where}: grade_id {gid[:60]!r} cannot name an otter test file "
                              "(letters, digits, _ . - only)")
        seen[gid] = index
        order.append(gid)
        if notebooks.is_tests(cell):
            if cell.cell_type != "code":
                raise CourseError(f"{where}: a graded Markdown cell that is not a written answer (no solution flag); "
                                  "otter cannot grade it")
            points = meta.get("points")
            if not isinstance(points, (int, float)) or points <= 0:
                raise CourseError(f"{where}: test cell {gid!r} has no points ({points!r}); give it points > 0 "
                                  "(otter needs a point value per question)")
            if notebooks.BEGIN_SOLUTION in source or notebooks.END_SOLUTION in source:
                raise CourseError(f"{where}: solution markers inside test cell {gid!r} cannot be converted")
            questions.append(Question(gid, float(points), source, _hidden_ranges(where, source)))
        elif notebooks.is_manual(cell):
            points = meta.get("points")
            if not isinstance(points, (int, float)) or points <= 0:
                raise CourseError(f"{where}: written answer {gid!r} has no points ({points!r})")
            manual[gid] = float(points)
        else:
            if notebooks.BEGIN_HIDDEN in source:
                raise CourseError(f"{where}: hidden tests in cell {gid!r}, which is not a test cell")
            if notebooks.is_answer(cell):
                _check_solution_markers(where, source)
    if not questions:
        raise CourseError(f"{lab}: the source notebook has no graded test cell; nothing for otter to grade")
    swaps = references.swaps(source_nb)
    for q in questions:
        if q.id in swaps:
            q.swap = references.swap_code(swaps[q.id])
    released = {notebooks.grade_id(c) for c in release_nb.cells}
    missing = [q.id for q in questions if q.id not in released]
    if missing:
        raise CourseError(f"{lab}: test cell(s) {', '.join(missing)} are not in release/; run "
                          f"`python -m course release {lab}` first")
    locked = {notebooks.grade_id(c): c.source for c in release_nb.cells
              if c.cell_type == "code" and notebooks.meta(c).get("locked") and notebooks.grade_id(c)
              and not notebooks.is_tests(c) and not notebooks.is_answer(c)}
    trusted = sorted({c.source for c in release_nb.cells if c.cell_type == "code"})
    return Conversion(lab, questions, manual, locked, order, trusted)


# ------------------------------------------------------------------------------------------ the zip's files

def ignore_pattern(course: Course) -> str:
    """nbgrader's ``IgnorePattern`` (stderr that is only warnings does not zero a test), from the course config."""
    from course.core import nbg
    config = nbg.load_config(course)
    if not config.IgnorePattern.get("enabled", False):
        return r"(?!)"  # matches nothing: any stderr fails the test, as nbgrader without the pattern
    return str(config.IgnorePattern.get("pattern", r"(?!)"))


def manifest(conv: Conversion, ignore: str) -> dict:
    return {
        "lab": conv.lab,
        "questions": [{"id": q.id, "points": q.points, "source": q.source, "hidden": q.hidden, "swap": q.swap}
                      for q in conv.questions],
        "restore": references.RESTORE_CODE,
        "ignore": ignore,
        "locked": conv.locked,
        "order": conv.order,
        "trusted": conv.trusted,
    }


def test_file(q: Question) -> str:
    """otter's exception-based test file for one question: it only reads the verdict the plugin recorded."""
    cases = [("visible_checks", False, "public")] + ([("hidden_tests", True, "hidden")] if q.has_hidden else [])
    body = "\n\n".join(
        f"@test_case(hidden={hidden})\ndef {name}(env):\n    _verdict(env, {part!r})\n" for name, hidden, part in cases)
    return (
        f'"""Test cell {q.id} of the nbgrader source, worth {q.points:g} point(s), all or nothing.\n\n'
        "Generated by `python -m course gradescope`; do not edit. The test itself ran in place, in the notebook\n"
        '(course_otter_plugin.py); this file reads its verdict."""\n'
        "from otter.test_files import test_case\n\n"
        "OK_FORMAT = False  # exception-based: otter calls the functions below\n"
        f"name = {q.id!r}\n"
        f"points = {q.points!r}\n"
        "all_or_nothing = True\n\n\n"
        "def _verdict(env, part):\n"
        f"    verdict = (env.get('__course_verdicts__') or {{}}).get({q.id!r})\n"
        "    if verdict is None:\n"
        "        raise AssertionError('this test cell never ran: the notebook stopped before it')\n"
        "    if verdict.get(part):\n"
        "        raise AssertionError(verdict[part])\n\n\n"
        f"{body}"
    )


def pins(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """The kit's dependency lines by package name (``torch`` → ``torch==2.15.0``), from pyproject.toml."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    out = {}
    for line in deps:
        name = re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].strip().lower()
        out[name] = line.strip()
    return out


def requirements(pinned: dict[str, str]) -> tuple[str, str, list[str]]:
    """(torch pin, torchvision pin, the rest): torch and torchvision must be exact pins (``==``)."""
    for name in ("torch", "torchvision", *KERNEL_PACKAGES[:-1]):
        if name not in pinned:
            raise CourseError(f"pyproject.toml declares no {name}; the Gradescope image needs it")
    for name in ("torch", "torchvision"):
        if "==" not in pinned[name]:
            raise CourseError(f"pyproject.toml: {pinned[name]!r} is not an exact pin (==); Gradescope must install "
                              "the version the labs were written for")
    rest = [pinned.get(n, n) for n in KERNEL_PACKAGES]
    return pinned["torch"], pinned["torchvision"], rest


def setup_script(torch_pin: str, vision_pin: str) -> str:
    """otter's own setup.sh (Miniforge, the otter-env from environment.yml), then the kit's steps."""
    from otter.generate import JINJA_ENV, MINIFORGE_VERSION, OTTER_ENV_NAME, OTTR_VERSION
    context = {"autograder_dir": AUTOGRADER_DIR, "otter_env_name": OTTER_ENV_NAME, "ottr_version": OTTR_VERSION,
               "channel_priority_strict": True, "has_r_requirements": False, "miniforge_version": MINIFORGE_VERSION,
               "other_environment": None}
    otter_part = JINJA_ENV.get_template("python/setup.sh").render(**context)
    ours = (TEMPLATES / "setup_course.sh").read_text(encoding="utf-8")
    for key, value in {"TORCH": torch_pin, "TORCHVISION": vision_pin, "ENV": OTTER_ENV_NAME,
                       "SOURCE": f"{AUTOGRADER_DIR}/source", "DATA": DATA_DIR}.items():
        ours = ours.replace("{{" + key + "}}", value)
    return otter_part.rstrip("\n") + "\n\n" + ours


def otter_templates() -> dict[str, str]:
    """otter's run_autograder (plus COURSE_DATA, so the setup cell finds the datasets) and run_otter.py."""
    from otter.generate import JINJA_ENV, OTTER_ENV_NAME
    context = {"autograder_dir": AUTOGRADER_DIR, "otter_env_name": OTTER_ENV_NAME}
    run = JINJA_ENV.get_template("common/run_autograder").render(**context)
    lines = run.split("\n")
    lines.insert(1, f"export COURSE_DATA={DATA_DIR}  # the datasets setup.sh fetched (python -m course data's code)")
    return {"run_autograder": "\n".join(lines),
            "run_otter.py": JINJA_ENV.get_template("common/run_otter.py").render(**context)}


def environment_yml() -> str:
    """otter's environment (the kit's Python, otter-grader): the labs' packages come after torch, in setup.sh."""
    from otter.generate import CondaEnvironment
    python = f"{sys.version_info.major}.{sys.version_info.minor}"  # the kit's interpreter
    return CondaEnvironment(python, False, [], False, None).to_str()


def standalone(module_file: Path, replacements: dict[str, str], main: str = "") -> str:
    """A module's own text with its kit imports replaced, to run where the kit is not installed.

    Generated, never a hand copy: a line to replace that is no longer there is an error, so a change to the
    module shows up here instead of in a broken Gradescope image.
    """
    text = module_file.read_text(encoding="utf-8")
    for old, new in replacements.items():
        if old not in text:
            raise CourseError(f"{module_file}: expected the line {old!r} to make a stand-alone copy; "
                              "update course/classroom/gradescope.py")
        text = text.replace(old, new)
    header = f"# Generated by `python -m course gradescope` from {module_file.relative_to(REPO)}; do not edit.\n"
    return header + text + main


def data_script() -> str:
    return standalone(
        REPO / "course" / "core" / "data.py",
        {"from course.core.errors import CourseError\n": "class CourseError(Exception):\n    pass\n\n\n",
         "from course.core.paths import data_root\n":
             "def data_root() -> Path:\n    return Path(os.environ.get('COURSE_DATA') or 'data')\n"},
        main="\n\nif __name__ == '__main__':\n    import sys\n"
             "    fetch_all(Path(sys.argv[1]) if len(sys.argv) > 1 else None)\n")


def scan_script() -> str:
    """grading/integrity.py stand-alone, with core/notebooks.py inside it (the scan's only kit import)."""
    helpers = standalone(REPO / "course" / "core" / "notebooks.py",
                         {"from course.core.errors import CourseError\n":
                              "class CourseError(Exception):\n    pass\n"})
    helpers = helpers.replace("from __future__ import annotations\n", "")
    return standalone(
        REPO / "course" / "grading" / "integrity.py",
        {"from __future__ import annotations\n": "from __future__ import annotations\nimport sys as _sys\n"
                                                 "import types as _types\n",
         "from course.core import notebooks\n":
             "notebooks = _types.ModuleType('course_notebooks')\n"
             "_sys.modules['course_notebooks'] = notebooks\n"
             f"exec(compile({helpers!r}, 'course/core/notebooks.py', 'exec'), notebooks.__dict__)\n"})


def otter_config() -> dict:
    return {
        "lang": "python",
        "plugins": [PLUGIN],
        # the hidden cases' results (scores and messages) are shown once the instructor publishes the grades
        "show_hidden": True,
        "pdf": False,
        "print_summary": True,
    }


def master_notebook(source_nb: NotebookNode, conv: Conversion) -> NotebookNode:
    """The otter master notebook of the lab, generated: otter's markers around nbgrader's cells.

    For instructors who know otter (and for ``otter assign`` if they want otter's student notebook, which the
    kit does not use: students keep the Colab release). Each autograded question holds its solution cells and
    one test cell per case, which reads the in-place verdict; written answers are manual questions.
    """
    from course.core.notebooks import BEGIN_SOLUTION, END_SOLUTION
    nb = nbformat.v4.new_notebook(metadata=source_nb.get("metadata", {}))
    config = ("# ASSIGNMENT CONFIG\ngenerate:\n"
              f"  plugins:\n    - {PLUGIN}\n  show_hidden: true\n  pdf: false\n"
              "tests:\n  ok_format: false\nsolutions_pdf: false\nexport_cell: false\ninit_cell: false\n"
              "check_all_cell: false\nrun_tests: false\n")
    nb.cells.append(nbformat.v4.new_raw_cell(config))
    questions = {q.id: q for q in conv.questions}
    owner = {}  # answer cell → the first question that judges it
    judged = references.tasks(source_nb)
    for q in conv.questions:
        for answer in sorted(judged.get(q.id, ())):
            owner.setdefault(answer, q.id)
    opened: str | None = None

    def close():
        nonlocal opened
        if opened:
            nb.cells.append(nbformat.v4.new_raw_cell("# END QUESTION"))
        opened = None

    for cell in source_nb.cells:
        gid = notebooks.grade_id(cell)
        if gid in conv.manual:
            close()
            nb.cells.append(nbformat.v4.new_raw_cell(
                f"# BEGIN QUESTION\nname: {gid}\npoints: {conv.manual[gid]:g}\nmanual: true"))
            nb.cells.append(nbformat.v4.new_markdown_cell("_Type your answer here._"))
            nb.cells.append(nbformat.v4.new_raw_cell("# BEGIN SOLUTION"))
            nb.cells.append(nbformat.v4.new_markdown_cell(notebooks.strip_markers(cell.source)))
            nb.cells.append(nbformat.v4.new_raw_cell("# END SOLUTION"))
            nb.cells.append(nbformat.v4.new_raw_cell("# END QUESTION"))
            continue
        if cell.cell_type == "code" and notebooks.is_answer(cell):
            first = owner.get(gid)
            if first and first != opened:
                close()
                q = questions[first]
                nb.cells.append(nbformat.v4.new_raw_cell(
                    f"# BEGIN QUESTION\nname: {q.id}\npoints: {q.points:g}\nall_or_nothing: true"))
                nb.cells.append(nbformat.v4.new_raw_cell("# BEGIN SOLUTION"))
                opened = first
            source = "\n".join(line.replace(BEGIN_SOLUTION, "# BEGIN SOLUTION").replace(END_SOLUTION, "# END SOLUTION")
                               for line in cell.source.split("\n"))
            nb.cells.append(nbformat.v4.new_code_cell(source))
            continue
        if gid in questions:
            q = questions[gid]
            if opened != gid:
                close()
                nb.cells.append(nbformat.v4.new_raw_cell(
                    f"# BEGIN QUESTION\nname: {q.id}\npoints: {q.points:g}\nall_or_nothing: true"))
                opened = gid
            else:
                nb.cells.append(nbformat.v4.new_raw_cell("# END SOLUTION"))
            nb.cells.append(nbformat.v4.new_raw_cell("# BEGIN TESTS"))
            nb.cells.append(nbformat.v4.new_code_cell(
                "# The full nbgrader test (it runs in place, as nbgrader runs it):\n"
                + "\n".join("# " + line for line in q.source.split("\n"))
                + f"\ndef test_visible(env):\n    assert not (env['__course_verdicts__'][{gid!r}]['public'])"))
            if q.has_hidden:
                nb.cells.append(nbformat.v4.new_code_cell(
                    "\"\"\" # BEGIN TEST CONFIG\nhidden: true\n\"\"\" # END TEST CONFIG\n"
                    f"def test_hidden(env):\n    assert not (env['__course_verdicts__'][{gid!r}]['hidden'])"))
            nb.cells.append(nbformat.v4.new_raw_cell("# END TESTS"))
            close()
            continue
        if opened and cell.cell_type == "code":
            nb.cells.append(nbformat.v4.new_raw_cell("# END SOLUTION"))
            close()
        nb.cells.append(nbformat.NotebookNode(dict(cell)))
    close()
    return nb


# ------------------------------------------------------------------------------------------ building

@dataclass
class Built:
    lab: str
    folder: Path
    zip: Path
    master: Path
    questions: int
    points: float
    manual: int


def zip_entries(conv: Conversion, ignore: str) -> dict[str, str]:
    """Every file of a lab's autograder zip, by name (deterministic: same source, same zip)."""
    torch_pin, vision_pin, rest = requirements(pins())
    files = {
        "setup.sh": setup_script(torch_pin, vision_pin),
        **otter_templates(),
        "environment.yml": environment_yml(),
        "requirements.txt": "\n".join(rest) + "\n",
        "otter_config.json": json.dumps(otter_config(), indent=2),
        PLUGIN_FILE: (TEMPLATES / PLUGIN_FILE).read_text(encoding="utf-8"),
        MANIFEST: json.dumps(manifest(conv, ignore), indent=1, sort_keys=True),
        DATA_SCRIPT: data_script(),
        SCAN_SCRIPT: scan_script(),
    }
    for q in conv.questions:
        files[f"tests/{q.id}.py"] = test_file(q)
    return files


def write_zip(path: Path, files: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    tmp.replace(path)


def build_lab(course: Course, lab: str, out: Path | None = None) -> Built:
    source_nb = notebooks.read(course.source_notebook(lab))
    release_path = course.release_notebook(lab)
    if not release_path.is_file():
        raise CourseError(f"{release_path} is missing; run `python -m course release {lab}` first")
    conv = convert(source_nb, notebooks.read(release_path), lab)
    folder = (out or course.root / "gradescope") / lab
    folder.mkdir(parents=True, exist_ok=True)
    zip_path = folder / "autograder.zip"
    write_zip(zip_path, zip_entries(conv, ignore_pattern(course)))
    master = folder / f"{lab}-otter-master.ipynb"
    notebooks.write(master_notebook(source_nb, conv), master)
    return Built(lab, folder, zip_path, master, len(conv.questions), conv.points, len(conv.manual))


def build(course: Course, labs: list[str] | None = None, out: Path | None = None) -> list[Built]:
    from course.core import progress
    return [build_lab(course, lab, out) for lab in progress.step(course.resolve_labs(labs), "gradescope")]


# ------------------------------------------------------------------------------------------ grading locally

def plugin_path(zip_path: Path, where: Path) -> Path:
    """Unpack the zip's plugin and manifest into ``where`` (for ``otter run``, which runs no setup.sh)."""
    where.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as zf:
        for name in (PLUGIN_FILE, MANIFEST, SCAN_SCRIPT):
            (where / name).write_bytes(zf.read(name))
    return where


def otter_run_command(zip_path: Path, submission: Path, out_dir: Path) -> list[str]:
    """``otter run`` as a command (the interpreter's own otter)."""
    return [sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", str(out_dir), "--no-logo",
            str(submission)]


@dataclass
class OtterResult:
    submission: Path
    scores: dict[str, float]       # question → points earned
    output: str                    # the submission-wide output (the integrity flag)
    seconds: float
    error: str = ""


def read_results(path: Path) -> tuple[dict[str, float], str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    scores = {t["name"]: float(t["score"]) for t in data.get("tests", []) if "score" in t}
    return scores, str(data.get("output") or "")


def otter_run(zip_path: Path, submissions: list[Path], jobs: int = 2, env: dict | None = None) -> list[OtterResult]:
    """Grade each submission with ``otter run`` (one process each, ``jobs`` at a time), as Gradescope would.

    otter imports the zip's plugin by name, as run_otter.py does on Gradescope from ``/autograder/source``:
    here the plugin is unpacked next to the zip and put on PYTHONPATH.
    """
    import os
    from course.core import progress
    work = Path(tempfile.mkdtemp(prefix="otter-run-"))
    try:
        plugin_dir = plugin_path(zip_path, work / "plugin")
        environ = dict(os.environ if env is None else env)
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_dir), environ.get("PYTHONPATH", "")]))
        environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

        def one(item: tuple[int, Path]) -> OtterResult:
            index, submission = item
            out = work / f"out{index}"
            out.mkdir()
            start = time.monotonic()
            proc = subprocess.run(otter_run_command(zip_path, submission, out), capture_output=True, text=True,
                                  env=environ, timeout=1200)
            seconds = time.monotonic() - start
            results = out / "results.json"
            if proc.returncode != 0 or not results.is_file():
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                return OtterResult(submission, {}, "", seconds, f"otter run failed ({proc.returncode}): {tail}")
            scores, output = read_results(results)
            return OtterResult(submission, scores, output, seconds)

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(progress.step(pool.map(one, enumerate(submissions)), "otter run",
                                         total=len(submissions)))
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def otter_batch(zip_path: Path, submissions: list[Path], jobs: int = 2, warm: bool = True) -> list[OtterResult]:
    """Grade many submissions of ONE lab with otter's own ``otter run`` code, ``jobs`` processes in all.

    Why: each ``otter run`` command spends seconds importing otter, pandas and nbconvert before it grades; here
    each process imports them once and calls ``otter.run.main`` (what the command calls) per submission, each
    with a fresh kernel, the zip unpacked anew and results.json read back, as Gradescope does per submission.
    ``warm``: each kernel is forked from a process that imported torch already (``warm_kernels``), which saves
    the setup cell's imports; Gradescope starts cold kernels (``bench`` times one cold ``otter run``).
    """
    import contextlib
    from course.classroom.warm_kernels import WarmKernels
    work = Path(tempfile.mkdtemp(prefix="otter-batch-"))
    with contextlib.ExitStack() as stack:
        warm_env = stack.enter_context(WarmKernels()) if warm else {}
        return _otter_batch(zip_path, submissions, jobs, work, warm_env)


def _otter_batch(zip_path: Path, submissions: list[Path], jobs: int, work: Path, warm_env: dict) -> list[OtterResult]:
    import os
    try:
        plugin_dir = plugin_path(zip_path, work / "plugin")
        environ = dict(os.environ)
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_dir), environ.get("PYTHONPATH", "")]))
        environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        environ.update(warm_env)
        shards = [submissions[i::max(1, jobs)] for i in range(max(1, jobs))]
        procs = []
        for i, shard in enumerate(s for s in shards if s):
            listing = work / f"shard{i}.json"
            listing.write_text(json.dumps([str(p) for p in shard]))
            out = work / f"shard{i}-results.json"
            cmd = [sys.executable, "-m", "course.classroom.gradescope", str(zip_path), str(listing), str(out)]
            procs.append((subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True), out))
        results: dict[str, OtterResult] = {}
        for proc, out in procs:
            log, _ = proc.communicate(timeout=3600)
            if proc.returncode != 0 or not out.is_file():
                raise CourseError(f"otter batch failed ({proc.returncode}): {log.strip().splitlines()[-10:]}")
            for item in json.loads(out.read_text()):
                results[item["submission"]] = OtterResult(Path(item["submission"]), item["scores"], item["output"],
                                                          item["seconds"], item["error"])
        return [results[str(p)] for p in submissions]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _batch_main(zip_path: str, listing: str, out: str) -> None:
    """One otter_batch process: ``otter.run.main`` per submission, results as JSON."""
    import contextlib
    from otter.run import main as otter_run_main
    results = []
    for submission in json.loads(Path(listing).read_text()):
        with tempfile.TemporaryDirectory(prefix="otter-one-") as where:
            start = time.monotonic()
            error, scores, output = "", {}, ""
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    otter_run_main(submission, autograder=zip_path, output_dir=where, no_logo=True)
                scores, output = read_results(Path(where) / "results.json")
            except Exception as exc:  # noqa: BLE001 -- reported per submission, as the batch goes on
                error = f"{type(exc).__name__}: {exc}"
            results.append({"submission": submission, "scores": scores, "output": output,
                            "seconds": time.monotonic() - start, "error": error})
            print(f"otter batch: {Path(submission).parent.name}: {time.monotonic() - start:.1f} s", flush=True)
    Path(out).write_text(json.dumps(results))


def report(built: list[Built]) -> str:
    lines = []
    for b in built:
        lines.append(f"gradescope: {b.lab}: {b.questions} autograded question(s), {b.points:g} points"
                     + (f", {b.manual} written answer(s) to grade by hand" if b.manual else "")
                     + f" → {b.zip}")
    lines.append("Upload each autograder.zip as a Gradescope programming assignment's autograder "
                 "(docs/instructor.md, \"Grading on Gradescope\"). gradescope/ holds hidden tests: never commit it.")
    return "\n".join(lines)


if __name__ == "__main__":  # the worker of otter_batch
    _batch_main(*sys.argv[1:4])
