"""Gradescope through otter-grader (issue 17): the generated autograder zip scores like nbgrader.

Cost: each lab's fixtures (solved, blank, half, one wrong answer per answer cell; every wrong answer with
COURSE_OTTER_ALL=1: ~230 notebooks) are graded by otter once, in
one batch per lab (``gradescope.otter_batch``: otter's own ``otter run`` code per notebook, a fresh kernel each,
two processes at a time), and compared with the nbgrader grades the session fixture ``graded(lab)`` already has.
Everything else here only builds zips or reads files.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import JOBS, LABS, REAL, lab_params, wrong_answers
from course.checks import submissions
from course.classroom import gradescope
from course.core import data, notebooks
from course.core.errors import CourseError
from course.core.paths import REPO

DAY4 = next(lab for lab in LABS if lab.startswith("Day4"))
# a blank notebook whose last cell makes otter pass every test (otter has no integrity protection of its own)
TAMPER = ("import otter.test_files.exception_test as _t\n"
          "_t.test_case.call_func = lambda self, env: None\n")
TIMES: dict[str, float] = {}


# Every wrong answer through otter costs about 10 minutes of CI on 2 cores; `make test` grades one wrong answer per
# answer cell (each test cell's failure path, preferring one that passes the visible check) and COURSE_OTTER_ALL=1
# grades every one (run before a release; the closing note of issue 17 records the full run).
OTTER_ALL = os.environ.get("COURSE_OTTER_ALL") == "1"


def fixture_students(lab: str) -> list[str]:
    wrong = wrong_answers(lab)
    if not OTTER_ALL:
        first: dict[str, object] = {}
        for w in sorted(wrong, key=lambda w: not w.visible):   # visible-passing ones first, list order kept
            first.setdefault(w.cell, w)
        wrong = [w for w in wrong if first[w.cell] is w]
    return ["solved", "blank", "half"] + [f"wrong-{w.name}" for w in wrong]


def references_names(course, lab: str) -> set[str]:
    """Every name the lab's answer cells define (what a later cell could rebind)."""
    from course.grading import references
    source = notebooks.read(course.source_notebook(lab))
    return {n for c in source.cells if notebooks.is_answer(c) for n in references.answer_names(c)}


@pytest.fixture(scope="module")
def built_day4(tmp_path_factory) -> gradescope.Built:
    return gradescope.build_lab(REAL, DAY4, tmp_path_factory.mktemp("gradescope"))


@pytest.mark.parametrize("lab", lab_params())
def test_otter_scores_equal_nbgrader(lab, graded, tmp_path):
    """Per test cell, otter's score (results.json) equals nbgrader's (the gradebook), for every fixture."""
    g = graded(lab)
    built = gradescope.build_lab(g.course, lab, tmp_path / "gradescope")
    students = fixture_students(lab)
    paths = [g.course.submission(s, lab) for s in students]
    start = time.monotonic()
    results = gradescope.otter_batch(built.zip, paths, jobs=JOBS)
    TIMES[lab] = time.monotonic() - start
    print(f"\n{lab}: otter graded {len(results)} notebooks in {TIMES[lab]:.0f} s ({JOBS} at a time)")
    questions = [q["id"] for q in json.loads(zipfile.ZipFile(built.zip).read(gradescope.MANIFEST))["questions"]]
    problems = []
    for student, result in zip(students, results):
        if result.error:
            problems.append(f"{student}: {result.error}")
            continue
        nbg = g.scores[student].cells
        for q in questions:
            if result.scores.get(q) != nbg[q].earned:
                problems.append(f"{student}: {q}: otter {result.scores.get(q)} ≠ nbgrader {nbg[q].earned}")
        if result.output:
            problems.append(f"{student}: flagged by the integrity scan: {result.output[:200]}")
    assert not problems, f"{lab}: otter and nbgrader disagree:\n" + "\n".join(problems)
    solved = results[0].scores
    assert solved and all(solved[q] > 0 for q in questions), "the solved notebook must earn every question"
    assert sum(results[1].scores.values()) == 0, "the blank notebook must earn nothing"


def test_otter_grades_in_place_restores_tests_and_flags_tampering(built_day4, tmp_path):
    """What the fixtures do not show, on the cheapest lab (5 notebooks through otter).

    nbgrader runs each test in place, so a name rebound after its tests ran changes nothing; it restores a deleted
    or edited test cell from the source; otter has no integrity of its own (a patch of its test runner scores full
    marks) but the zip's scan flags it.
    """
    solved = submissions.make(REAL, DAY4, "solved")
    tests = [c for c in solved.cells if notebooks.is_tests(c)]
    variants = {name: copy.deepcopy(solved) for name in ("solved", "rebound", "deleted-test", "edited-test")}
    variants["tampered"] = notebooks.read(REAL.release_notebook(DAY4))
    variants["tampered"].cells.append(nbformat.v4.new_code_cell(TAMPER))
    names = sorted(references_names(REAL, DAY4))
    variants["rebound"].cells.append(nbformat.v4.new_code_cell("\n".join(f"{n} = None" for n in names)))
    variants["deleted-test"].cells = [c for c in solved.cells
                                      if notebooks.grade_id(c) != notebooks.grade_id(tests[-1])]
    for cell in variants["edited-test"].cells:
        if notebooks.is_tests(cell):
            cell.source = "pass"
    paths = {}
    for name, nb in variants.items():
        paths[name] = tmp_path / name / f"{DAY4}.ipynb"
        notebooks.write(nb, paths[name])
    results = dict(zip(paths, gradescope.otter_batch(built_day4.zip, list(paths.values()), jobs=JOBS)))
    assert not any(r.error for r in results.values()), {k: r.error for k, r in results.items()}
    full = results["solved"].scores
    assert full and sum(full.values()) == built_day4.points and not results["solved"].output
    assert "FLAGGED" in results["tampered"].output, "the integrity scan did not flag a monkeypatch of otter"
    assert results["tampered"].scores == full, "otter has no integrity of its own: the patch scores full marks"
    for name in ("rebound", "deleted-test", "edited-test"):
        assert results[name].scores == full, f"{name}: {results[name].scores} ≠ the solved notebook's {full}"
        assert not results[name].output or name == "rebound", results[name].output


def solution_lines_outside_swaps(files: dict[str, str]) -> tuple[list[str], int]:
    """Lines of Day 4's model answers found in the zip outside the reference swaps (and how many were looked for)."""
    manifest = json.loads(files[gradescope.MANIFEST])
    swaps = [q["swap"] for q in manifest["questions"] if q["swap"]]
    tests = "\n".join(q["source"] for q in manifest["questions"])
    release_text = "\n".join(c.source for c in notebooks.read(REAL.release_notebook(DAY4)).cells)
    outside = "\n".join(files.values())
    for swap in swaps:
        outside = outside.replace(json.dumps(swap)[1:-1], "")  # as it is written in the manifest
    leaked, checked = [], 0
    for cell in notebooks.read(REAL.source_notebook(DAY4)).cells:
        if not (notebooks.is_answer(cell) or notebooks.is_manual(cell)):
            continue
        for line in notebooks.strip_markers(cell.source).split("\n"):
            line = line.strip()
            if len(line) < 16 or line.startswith("#") or line in release_text or line in tests:
                continue
            checked += 1
            if line in outside or json.dumps(line)[1:-1] in outside:
                leaked.append(line)
    return leaked, checked


def test_zip_holds_no_source_file_and_no_extra_solution(built_day4):
    """No file of source/, no notebook; model-answer lines appear only inside the reference swaps."""
    zf = zipfile.ZipFile(built_day4.zip)
    names = zf.namelist()
    assert {"setup.sh", "run_autograder", "run_otter.py", "otter_config.json", "environment.yml",
            gradescope.PLUGIN_FILE, gradescope.MANIFEST} <= set(names)
    assert not [n for n in names if n.endswith(".ipynb")]
    source_files = {p.read_bytes() for p in (REPO / "source").rglob("*") if p.is_file()}
    assert not [n for n in names if zf.read(n) in source_files]
    files = {n: zf.read(n).decode() for n in names}
    leaked, checked = solution_lines_outside_swaps(files)
    assert checked > 10, "the check must look at real solution lines"
    assert not leaked, f"solution lines outside the reference swaps: {leaked[:5]}"
    # the check can fail: a model-answer line planted in a test file is found
    source = notebooks.read(REAL.source_notebook(DAY4))
    answer = next(c for c in source.cells if notebooks.is_answer(c))
    body = [ln.strip() for ln in notebooks.strip_markers(answer.source).split("\n") if len(ln.strip()) >= 16
            and not ln.strip().startswith("#")]
    planted = dict(files, **{"tests/extra.py": f"# {body[-1]}\n"})
    assert solution_lines_outside_swaps(planted)[0]


def test_setup_installs_cpu_torch_at_the_kits_pins_and_verified_data(built_day4, tmp_path):
    zf = zipfile.ZipFile(built_day4.zip)
    setup = zf.read("setup.sh").decode()
    pins = gradescope.pins()
    assert f'"{pins["torch"]}" "{pins["torchvision"]}" --index-url https://download.pytorch.org/whl/cpu' in setup
    assert setup.index("--index-url") < setup.index("requirements.txt") < setup.index(gradescope.DATA_SCRIPT)
    assert "torch" not in zf.read("environment.yml").decode() and "torch" not in zf.read("requirements.txt").decode()
    assert f"export COURSE_DATA={gradescope.DATA_DIR}" in zf.read("run_autograder").decode()
    config = json.loads(zf.read("otter_config.json"))
    assert "name" not in config and "assignment_name" not in config  # a release notebook has no otter name
    # the stand-alone data script is the kit's data.py: same checksums, and it accepts the verified cache
    script = tmp_path / gradescope.DATA_SCRIPT
    script.write_bytes(zf.read(gradescope.DATA_SCRIPT))
    spec = importlib.util.spec_from_file_location("course_data_copy", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.MNIST.sha256 == data.MNIST.sha256 and module.FASHION.sha256 == data.FASHION.sha256
    assert module.NPM_PACKAGE == data.NPM_PACKAGE and module.DEB_PACKAGE == data.DEB_PACKAGE
    cache = Path(__import__("os").environ["COURSE_DATA"])
    assert module.bad_files(module.MNIST, cache) == [] and module.bad_files(module.FASHION, cache) == []


def _source_day4():
    return notebooks.read(REAL.source_notebook(DAY4)), notebooks.read(REAL.release_notebook(DAY4))


def _first(nb, predicate):
    return next(c for c in nb.cells if predicate(c))


@pytest.mark.parametrize("break_it, expected", [
    (lambda nb: notebooks.meta(_first(nb, notebooks.is_tests)).pop("points"), "has no points"),
    (lambda nb: notebooks.meta(_first(nb, notebooks.is_tests)).__setitem__("points", 0), "has no points"),
    (lambda nb: notebooks.meta(_first(nb, notebooks.is_answer)).__setitem__(
        "grade_id", notebooks.grade_id(_first(nb, notebooks.is_tests))), "duplicate grade_id"),
    (lambda nb: setattr(_first(nb, notebooks.is_answer), "source",
                        _first(nb, notebooks.is_answer).source.replace("### END SOLUTION", "")), "never closed"),
    (lambda nb: setattr(_first(nb, notebooks.is_answer), "source",
                        _first(nb, notebooks.is_answer).source.replace("### BEGIN SOLUTION", "## BEGIN SOLUTION")),
     "cannot be converted"),
    (lambda nb: setattr(_first(nb, notebooks.is_tests), "source",
                        _first(nb, notebooks.is_tests).source + "\n### BEGIN HIDDEN TESTS\nassert True"),
     "never closed"),
], ids=["no-points", "zero-points", "duplicate-id", "unclosed-solution", "odd-marker", "unclosed-hidden"])
def test_converter_refuses_what_it_cannot_map(break_it, expected):
    source, release = _source_day4()
    gradescope.convert(copy.deepcopy(source), release, DAY4)  # the real source converts
    broken = copy.deepcopy(source)
    break_it(broken)
    with pytest.raises(CourseError, match=expected) as info:
        gradescope.convert(broken, release, DAY4)
    assert "source cell" in str(info.value) and DAY4 in str(info.value)  # it names the lab and the cell


def test_conversion_maps_every_graded_cell(built_day4):
    source, release = _source_day4()
    conv = gradescope.convert(source, release, DAY4)
    tests = {notebooks.grade_id(c): notebooks.meta(c)["points"] for c in source.cells if notebooks.is_tests(c)}
    assert {q.id: q.points for q in conv.questions} == tests
    assert set(conv.manual) == {notebooks.grade_id(c) for c in source.cells if notebooks.is_manual(c)}
    names = zipfile.ZipFile(built_day4.zip).namelist()
    assert sorted(n for n in names if n.startswith("tests/")) == sorted(f"tests/{q}.py" for q in tests)
    master = notebooks.read(built_day4.master)
    raw = "\n".join(c.source for c in master.cells if c.cell_type == "raw")
    assert raw.count("# BEGIN QUESTION") == len(tests) + len(conv.manual)
    assert raw.count("# BEGIN QUESTION") == raw.count("# END QUESTION")
    assert raw.count("manual: true") == len(conv.manual)
    assert "### BEGIN SOLUTION" not in "\n".join(c.source for c in master.cells)


def test_cli_writes_gradescope_folder(tmp_path):
    from course.core.scratch import scratch_course
    course = scratch_course(REAL, [DAY4], where=tmp_path)
    shutil.copytree(REAL.release / DAY4, course.release / DAY4, dirs_exist_ok=True)  # as `release` would write it
    proc = subprocess.run([sys.executable, "-m", "course", "--course-dir", str(course.root), "gradescope", "Day4"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert (course.root / "gradescope" / DAY4 / "autograder.zip").is_file()
    assert "autograded question(s)" in proc.stdout
    ignored = subprocess.run(["git", "check-ignore", "-q", "gradescope/x/autograder.zip"], cwd=REPO)
    assert ignored.returncode == 0, "gradescope/ must be git-ignored: it holds hidden tests"


def test_master_notebook_passes_otter_assign(built_day4, tmp_path):
    """The generated master notebook is valid otter: `otter assign` makes the same questions, worth the same."""
    work = tmp_path / "assign"
    work.mkdir()
    shutil.copy(built_day4.master, work / "master.ipynb")
    plugin = gradescope.plugin_path(built_day4.zip, tmp_path / "plugin")  # otter generate imports the plugin
    env = dict(__import__("os").environ, PYTHONPATH=str(plugin))
    proc = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-pdfs", "master.ipynb", "dist"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    made = next((work / "dist" / "autograder").glob("*.zip"))
    ours = zipfile.ZipFile(built_day4.zip)
    theirs = zipfile.ZipFile(made)
    assert sorted(n for n in theirs.namelist() if n.startswith("tests/")) == \
        sorted(n for n in ours.namelist() if n.startswith("tests/"))
    for name in (n for n in ours.namelist() if n.startswith("tests/")):
        points = [ln for ln in theirs.read(name).decode().split("\n") if ln.startswith("points = ")]
        ours_points = [ln for ln in ours.read(name).decode().split("\n") if ln.startswith("points = ")]
        assert float(points[0].split("=")[1]) == float(ours_points[0].split("=")[1]), name
    student = (work / "dist" / "student" / "master.ipynb").read_text()
    assert "BEGIN SOLUTION" not in student


def _runtime():
    """The plugin's in-kernel runtime, run here in a plain namespace (it needs only IPython's transformer)."""
    spec = importlib.util.spec_from_file_location("course_otter_plugin_copy", gradescope.TEMPLATES / gradescope.PLUGIN_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    space: dict = {}
    exec(module.RUNTIME, space)
    return space, module


VERDICTS_SCRIPT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("plugin", sys.argv[1])
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)
space = {}
exec(plugin.RUNTIME, space)
run, ignore = space["__course_test__"], sys.argv[2]
hidden = "assert x == 1\\n### BEGIN HIDDEN TESTS\\nassert x == 2, 'secret hidden message'\\n### END HIDDEN TESTS"
space["x"] = 1
run("t_hidden", hidden, [(2, 4)], "", "", ignore)
run("t_warn", "import warnings\\nwarnings.warn('harmless')", [], "", "", ignore)
run("t_warn_strict", "import warnings\\nwarnings.warn('another')", [], "", "", "(?!)")
run("t_stderr", "import sys\\nprint('Error: boom', file=sys.stderr)", [], "", "", ignore)
space["x"] = 3
run("t_visible", hidden, [(2, 4)], "", "", ignore)
space["x"] = 2
run("t_ok", hidden.replace("x == 1", "x > 0"), [(2, 4)], "", "", ignore)
print(json.dumps(space["__course_verdicts__"]))
"""


def test_runtime_verdicts_mirror_nbgrader():
    """Visible failure → public case; hidden failure → hidden case only, without its text; stderr as nbgrader.

    In a fresh interpreter, as in a kernel: warnings go to stderr there (pytest would record them instead).
    """
    proc = subprocess.run([sys.executable, "-c", VERDICTS_SCRIPT, str(gradescope.TEMPLATES / gradescope.PLUGIN_FILE),
                           gradescope.ignore_pattern(REAL)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    v = json.loads(proc.stdout.strip().splitlines()[-1])
    assert v["t_hidden"] == {"public": None, "hidden": "a hidden test failed"}
    assert v["t_warn"] == {"public": None, "hidden": None}, "a warning alone must not zero a test (IgnorePattern)"
    assert v["t_warn_strict"]["public"], "without the pattern a warning zeroes the test, as in nbgrader"
    assert v["t_stderr"]["public"] and v["t_stderr"]["hidden"] is None
    assert v["t_visible"]["public"].startswith("AssertionError") and v["t_visible"]["hidden"]
    assert v["t_ok"] == {"public": None, "hidden": None}
    assert "secret hidden message" not in proc.stdout + proc.stderr


def test_runtime_binds_reference_solutions_only_while_the_test_runs():
    from course.grading import references
    space, _ = _runtime()
    space["f"] = lambda: "student"
    swap = references.swap_code(references.Swap("def f():\n    return 'reference'", ["f"]))
    space["__course_test__"]("t", "assert f() == 'reference'", [], swap, references.RESTORE_CODE, "(?!)")
    assert space["__course_verdicts__"]["t"] == {"public": None, "hidden": None}
    assert space["f"]() == "student", "the student's own answer must be back after the test"
