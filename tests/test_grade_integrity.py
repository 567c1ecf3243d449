"""Grades that hold against hostile submissions (issue 14, items 2, 6, 7, 8 and 3 in part).

Each hostile Day 1 submission below earned points, stopped the batch or bloated the grader before this
change. All are graded in one sandboxed autograde run, beside an honest one that must keep full marks.
What is checked:
- credit comes only from the absence of an error: an ``execute_result`` forced into a test cell (through
  ``sys.displayhook``) earns nothing, and a ``clear_output`` sent while a test cell runs cannot erase its error;
- a student's own cell tagged ``setup`` is probed and scanned like any other;
- a cell the scan cannot parse (thousands of nested terms) and a folder named like the integrity report cost
  only that submission, never the batch;
- output is capped per notebook, error messages included; widget state is not stored;
- the report printed on the instructor's terminal shows control characters as escapes.
"""
from __future__ import annotations

import json

import nbformat
import pytest

from conftest import LABS, REAL
from course.build import release
from course.checks import submissions
from course.core import notebooks
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook, integrity, sandbox

LAB = LABS[0]
pytestmark = pytest.mark.skipif(bool(sandbox.unavailable()), reason=f"no sandbox: {sandbox.unavailable()}")

# An answer whose result, touched by a test, prints a value through the display hook: nbgrader used to read
# that execute_result as full credit, even with the AssertionError that follows.
DISPLAYHOOK = """
import sys
class Answer:
    def __array__(self, *args, **kwargs):
        sys.displayhook(1.0)
        raise AssertionError("no")
    def __eq__(self, other):
        sys.displayhook(1.0)
        return False
def relu(z):
    return Answer()
"""
# After every cell, erase its outputs (the error included); the callback claims to be IPython's own.
CLEARS_ERRORS = """
def relu(z):
    return z  # wrong: keeps the negatives
from IPython.display import clear_output
def _clear(*args, **kwargs):
    clear_output()
_clear.__module__ = "IPython.core.events"
get_ipython().events.register("post_run_cell", _clear)
"""
DEEP = "x = " + " + ".join(["1"] * 3000) + "\n"
WRONG_RELU = "def relu(z):\n    return z  # wrong: keeps the negatives\n"
# The red team's bypasses of every in-kernel check, each with a wrong relu: the trusted checker judges
# test_relu outside the kernel, so none of them may earn its point.
BYPASSES = {
    # answers that agree with every comparison
    "agrees_eq": "class Agree:\n    shape = (7, 5, 3)\n    def __eq__(self, other):\n        return True\n"
                 "    def __ne__(self, other):\n        return False\n    def __array__(self, *a, **k):\n"
                 "        import numpy\n        return numpy.zeros(self.shape)\n"
                 "def relu(z):\n    return Agree()\n",
    "array_function": "class Fn:\n    def __array_function__(self, func, types, args, kwargs):\n        return True\n"
                      "    def __array_ufunc__(self, *a, **k):\n        return True\n"
                      "def relu(z):\n    return Fn()\n",
    "tensor_subclass": "import torch\nclass T(torch.Tensor):\n    @classmethod\n"
                       "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n        return True\n"
                       "def relu(z):\n    return torch.zeros(1).as_subclass(T)\n",
    # the notebook's globals rebound to proxies
    "rebinds_np": "import numpy\nclass NP:\n    def __getattr__(self, name):\n"
                  "        if name in ('allclose', 'array_equal', 'isclose'):\n            return lambda *a, **k: True\n"
                  "        return getattr(numpy, name)\nnp = NP()\n" + WRONG_RELU,
    # a function's internals swapped while its identity stays
    "swaps_code": "import numpy\ntarget = getattr(numpy.array_equal, '_implementation', numpy.array_equal)\n"
                  "target.__code__ = (lambda a1, a2, equal_nan=False: True).__code__\n" + WRONG_RELU,
    # an input transformer replaced in place: the probe only counted them
    "transformer_in_place": "ip = get_ipython()\ncleanup = ip.input_transformer_manager.cleanup_transforms\n"
                            "cleanup[0] = lambda lines: ['pass\\n'] if any('assert' in l for l in lines) else lines\n"
                            + WRONG_RELU,
    # an execute_result forced into every test cell by a callback that claims to be IPython's own
    "displayhook_every_cell": "import sys\ndef _credit(*args, **kwargs):\n    sys.displayhook(1.0)\n"
                              "_credit.__module__ = 'IPython.core.events'\n"
                              "get_ipython().events.register('pre_run_cell', _credit)\n" + WRONG_RELU,
    # the probe's own json made to lie
    "spoofs_json": "import sys, types\nfake = types.ModuleType('json')\nfake.__dict__.update(sys.modules['json'].__dict__)\n"
                   "fake.dumps = lambda *a, **k: '{}'\nsys.modules['json'] = fake\n" + WRONG_RELU,
}


def _with_cell(nb, index: int, source: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = tags
    nb.cells.insert(index, cell)
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("integrity"))
    with open(course.root / "nbgrader_config.py", "a") as fh:
        fh.write("\nc.BudgetedExecute.max_notebook_output_bytes = 3_000_000\n")
    release.release(course, [LAB])
    solved = submissions.make(course, LAB, "solved")
    first = submissions.answer_ids(solved)[0]
    setup_at = next(i for i, c in enumerate(solved.cells) if notebooks.is_setup(c)) + 1

    submissions.write(course, "honest", LAB, submissions.make(course, LAB, "solved"))
    submissions.write(course, "displayhook", LAB, submissions.make(course, LAB, "blank", {first: DISPLAYHOOK}))
    submissions.write(course, "clears_errors", LAB, submissions.make(course, LAB, "solved", {first: CLEARS_ERRORS}))
    # a wrong relu, and a cell of the student's own tagged "setup" that makes array_equal always agree
    nb = submissions.make(course, LAB, "solved", {first: "def relu(z):\n    return z\n"})
    submissions.write(course, "fake_setup", LAB, _with_cell(
        nb, setup_at, "import numpy as np\nnp.array_equal = lambda *a, **k: True\n", tags=["setup"]))
    nb = submissions.make(course, LAB, "solved")
    submissions.write(course, "deep", LAB, _with_cell(nb, setup_at, DEEP))
    # prints in many cells (each under the per-cell cap), then a 50 MB exception message, then widget state
    nb = submissions.make(course, LAB, "solved")
    flood = ("print('x' * 1_500_000)\n", "raise ValueError('y' * 50_000_000)\n",
             "from ipykernel.comm import Comm\nComm(target_name='jupyter.widget', "
             "data={'state': {'_model_name': 'X', 'blob': 'z' * 5_000_000}, 'buffer_paths': []})\n")
    for k, code in enumerate(flood * 1 + ("print('x' * 1_500_000)\n",) * 3):
        _with_cell(nb, setup_at + k, code)
    submissions.write(course, "flood", LAB, nb)
    nb = submissions.make(course, LAB, "solved")
    submissions.write(course, "planted_report", LAB, nb)
    for name in (integrity.REPORT_NAME, integrity.RUNTIME_NAME):  # folders (nbgrader copies them along)
        planted = course.submitted / "planted_report" / LAB / name
        planted.mkdir()
        (planted / "x.txt").write_text("x")

    for student, code in BYPASSES.items():
        submissions.write(course, student, LAB, submissions.make(course, LAB, "solved", {first: code}))
    # a reference the tests use (sklearn's PCA) replaced, with a wrong answer
    pca = next(gid for gid, src in submissions.solutions_by_id(course, LAB).items() if "def pca_project" in src)
    submissions.write(course, "replaces_sklearn", LAB, submissions.make(course, LAB, "solved", {pca: (
        "import numpy\nimport sklearn.decomposition\nclass FakePCA:\n    def __init__(self, k):\n        self.k = k\n"
        "    def fit_transform(self, H):\n        return numpy.zeros((len(H), self.k))\n"
        "sklearn.decomposition.PCA = FakePCA\n"
        "def pca_project(H, k):\n    return numpy.zeros((len(H), k))\n")}))
    # a given cell the tests use: edited in place (restored at grading), or redefined in an answer cell
    nb = submissions.make(course, LAB, "solved")
    for cell in nb.cells:
        if "def init_params" in cell.source and not notebooks.is_answer(cell):
            cell.source = cell.source.replace("def init_params", "def _unused") + \
                "\ndef init_params(d, m, k, seed=0):\n    return {n: numpy.zeros(1) for n in ('W1', 'b1', 'W2', 'b2')}\n"
    submissions.write(course, "edits_given", LAB, nb)
    redefine = ("import numpy\ndef init_params(d, m, k, seed=0):\n    return {'W1': numpy.zeros((m, d)), "
                "'b1': numpy.zeros(m), 'W2': numpy.zeros((k, m)), 'b2': numpy.zeros(k)}\n")
    nb = submissions.make(course, LAB, "solved")  # a cell of the student's own, right after the given one
    given_at = next(i for i, c in enumerate(nb.cells) if "def init_params" in c.source and not notebooks.is_answer(c))
    submissions.write(course, "redefines_given", LAB, _with_cell(nb, given_at + 1, redefine))

    results = {r.student: r for r in autograde.autograde(course, [LAB], report=True, jobs=2)}
    return course, results


def _score(course, student):
    return gradebook.scores(course, LAB)[student]


def _cells(course, student):
    return nbformat.read(course.autograded / student / LAB / f"{LAB}.ipynb", as_version=4).cells


def test_every_submission_gets_a_result(graded):
    course, results = graded
    assert set(results) == {"honest", "displayhook", "clears_errors", "fake_setup", "deep", "flood",
                            "planted_report", "replaces_sklearn", "edits_given", "redefines_given", *BYPASSES}


def test_the_honest_submission_keeps_full_marks_unflagged(graded):
    course, results = graded
    score = _score(course, "honest")
    assert results["honest"].ok and score.auto_earned == score.auto_possible > 0
    assert not results["honest"].flags


def test_an_execute_result_in_a_test_cell_earns_nothing(graded):
    course, results = graded
    assert _score(course, "displayhook").auto_earned == 0
    for cell in _cells(course, "displayhook"):
        if notebooks.is_tests(cell):
            assert not [o for o in cell.outputs if o.output_type in ("execute_result", "display_data")]


def test_clear_output_cannot_erase_a_failed_test(graded):
    course, results = graded
    score = _score(course, "clears_errors")
    honest = _score(course, "honest")
    assert score.cells["test_relu"].earned == 0, "the wrong relu's failure was erased"
    assert score.auto_earned < honest.auto_earned
    assert results["clears_errors"].flags, "get_ipython() is a static finding"


def test_a_students_cell_tagged_setup_is_probed_and_scanned(graded):
    course, results = graded
    score = _score(course, "fake_setup")
    assert score.cells["test_relu"].earned == 0
    assert any("array_equal" in f for f in results["fake_setup"].flags), results["fake_setup"].flags
    assert integrity.read_report(course.autograded / "fake_setup" / LAB)["runtime"]


def test_an_unscannable_cell_costs_only_its_own_submission_and_is_flagged(graded):
    course, results = graded
    # the kernel itself chokes on it (IPython's compile recurses too): that costs this student, nobody else
    assert any("could not be scanned" in f for f in results["deep"].flags), results["deep"].flags
    assert _score(course, "deep").auto_earned <= _score(course, "honest").auto_earned
    assert results["honest"].ok and results["flood"].ok


def test_output_is_capped_per_notebook_error_messages_included(graded):
    course, results = graded
    path = course.autograded / "flood" / LAB / f"{LAB}.ipynb"
    assert path.stat().st_size < 6 * 2**20, f"{path.stat().st_size} bytes"
    text = path.read_text()
    assert "characters cut by the grader" in text and "output cut by the grader" in text
    nb = json.loads(text)
    assert "widgets" not in nb.get("metadata", {})
    score = _score(course, "flood")
    assert score.auto_earned == score.auto_possible, "the tests still ran and passed"


def test_a_folder_named_like_the_report_is_its_own_finding(graded):
    course, results = graded
    r = results["planted_report"]
    assert r.ok and any("not a file" in f or "replaced" in f for f in r.flags), (r.reason, r.flags)
    assert (course.autograded / "planted_report" / LAB / integrity.REPORT_NAME).is_file()


def test_the_report_escapes_control_characters(capsys):
    bad = "\x1b[2J\x1b[Hnothing to review\r"
    autograde.print_report([autograde.Result(bad, LAB, ok=False, reason=bad, flags=[bad])])
    out = capsys.readouterr()
    assert "\x1b" not in out.out + out.err and "\r" not in out.out + out.err
    assert "\\x1b[2J" in out.out and "\\x1b[2J" in out.err


def test_one_exception_while_grading_is_that_submissions_failure(monkeypatch, tmp_path):
    """Whatever raises inside the grading of one notebook is reported for it; the next is still graded."""
    calls = []

    def boom(course, api, student, lab, *rest):
        calls.append(student)
        if student == "a":
            raise RecursionError("maximum recursion depth exceeded")
        return "", []

    class Score:
        auto_earned, auto_possible = 1.0, 1.0

    monkeypatch.setattr(autograde, "_run_one", boom)
    monkeypatch.setattr(gradebook, "zero", lambda *a, **k: None)
    monkeypatch.setattr(gradebook, "score", lambda course, lab, student: Score() if student == "b" else None)
    first = autograde._grade_one(None, None, "a", LAB)
    second = autograde._grade_one(None, None, "b", LAB)
    assert not first.ok and "RecursionError" in first.reason
    assert second.ok and second.earned == 1.0 and calls == ["a", "b"]


@pytest.mark.parametrize("student", sorted(BYPASSES))
def test_bypassing_the_in_kernel_checks_earns_nothing(graded, student):
    """The verdict of test_relu comes from the trusted checker, whatever the kernel was made to believe."""
    course, results = graded
    score, honest = _score(course, student), _score(course, "honest")
    assert score.cells["test_relu"].earned == 0, f"{student} earned test_relu with a wrong relu"
    assert score.auto_earned < honest.auto_earned
    if student in ("rebinds_np", "swaps_code", "transformer_in_place", "spoofs_json"):
        # the second layer sees these too, for the few test cells judged in the kernel
        runtime = integrity.read_report(course.autograded / student / LAB)["runtime"]
        assert runtime, f"the runtime probe missed {student}"


def test_a_replaced_reference_library_does_not_reach_the_checker(graded):
    course, results = graded
    score = _score(course, "replaces_sklearn")
    assert score.cells["test_pca"].earned == 0
    assert score.auto_earned < _score(course, "honest").auto_earned


def test_given_cells_are_restored_and_redefining_them_does_not_help(graded):
    course, results = graded
    edited, honest = _score(course, "edits_given"), _score(course, "honest")
    assert edited.auto_earned == honest.auto_earned, "an edited given cell is restored from the source"
    redefined = _score(course, "redefines_given")
    assert redefined.cells["test_forward_single"].earned == 0 and redefined.cells["test_forward_batch"].earned == 0, \
        "the checker builds its inputs with the source's init_params, not the notebook's"


def test_every_given_code_cell_is_locked():
    """Tests rely on given cells (init_params…): each is a locked nbgrader cell, restored at grading."""
    for lab in REAL.labs():
        for cell in notebooks.read(REAL.source_notebook(lab)).cells:
            if cell.cell_type == "code":
                meta = notebooks.meta(cell)
                assert meta.get("locked") or meta.get("solution"), \
                    f"{lab}: a code cell without nbgrader metadata ({cell.source[:60]!r}): lock it (author: readonly)"


def test_the_checker_judges_most_test_cells_and_names_the_rest():
    """Which test cells the checker judges is decided from trusted text; the rest say why."""
    from course.grading import checker
    checked = unchecked = 0
    for lab in REAL.labs():
        source = notebooks.read(REAL.source_notebook(lab))
        tests = {notebooks.grade_id(c): c.source for c in source.cells if notebooks.is_tests(c)}
        plan = checker.plan(notebooks.read(REAL.release_notebook(lab)), tests)
        assert set(plan.checked) | set(plan.unchecked) == set(tests)
        assert all(plan.unchecked.values())
        checked, unchecked = checked + len(plan.checked), unchecked + len(plan.unchecked)
    assert checked >= 40 and checked > 3 * unchecked, (checked, unchecked)


# ---------------------------------------------------------------- the checker on its own (no kernel)

def _records(*records) -> str:
    return json.dumps({"records": list(records)})


@pytest.fixture
def c():
    """A trusted checker process of its own, closed after the test."""
    from course.grading import checker
    process = checker.Checker(timeout=20)
    yield process
    process.close()


def test_the_checker_replays_answers_and_decides_verdicts(c):
    c.start_notebook("import numpy as np\ndef double(x):\n    return 2 * x\n")
    answer = {"name": "f", "result": {"v": 4}, "args": [None], "kwargs": {}}
    assert c.check("assert f(2) == double(2), 'f(2) should be 4'", _records(answer), ["f"])[0]
    wrong = {**answer, "result": {"v": 5}}
    assert c.check("assert f(2) == double(2), 'f(2) should be 4'", _records(wrong), ["f"]) == \
        (False, "AssertionError", "f(2) should be 4")
    # a call the notebook never made, or another function in its place, fails
    assert not c.check("f(1); f(2)", _records(answer), ["f"])[0]
    assert not c.check("g(1)", _records(answer), ["f", "g"])[0]
    # a student's exception is raised again in the test
    raised = {"name": "f", "raised": "NotImplementedError", "message": "not written yet"}
    ok, ename, message = c.check("f(1)", _records(raised), ["f"])
    assert not ok and ename == "NotImplementedError" and "not written yet" in message


def test_answers_that_are_not_plain_data_fail_and_nothing_is_unpickled(c):
    import base64
    import io
    import pickle

    import numpy as np

    c.start_notebook("import numpy as np")
    opaque = {"name": "f", "result": {"opaque": "Agree"}, "args": [], "kwargs": {}}
    assert not c.check("assert np.array_equal(f(), [1, 2])", _records(opaque), ["f"])[0]
    ok, _, message = c.check("assert f() == [1, 2]", _records(opaque), ["f"])
    assert not ok and "cannot check" in message
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    pickled = {"name": "f", "result": {"nd": base64.b64encode(buffer.getvalue()).decode()}, "args": []}
    assert not c.check("f()", _records(pickled), ["f"])[0]
    raw = {"name": "f", "result": {"nd": base64.b64encode(pickle.dumps([1])).decode()}, "args": []}
    assert not c.check("f()", _records(raw), ["f"])[0]
    assert not c.check("f()", "{not json", ["f"])[0]


def test_an_argument_changed_in_place_is_changed_in_the_checker_too(c):
    import base64
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array([0.0, 0.0]), allow_pickle=False)
    after = {"nd": base64.b64encode(buffer.getvalue()).decode()}
    record = {"name": "f", "result": {"v": None}, "args": [after], "kwargs": {}}
    test = "x = np.array([1.0, -1.0])\nx0 = x.copy()\nf(x)\nassert np.array_equal(x, x0), 'f must not change x'"
    c.start_notebook("import numpy as np")
    assert c.check(test, _records(record), ["f"]) == (False, "AssertionError", "f must not change x")
    assert c.check(test, _records({**record, "args": [None]}), ["f"])[0]


def test_a_hung_check_fails_that_test_and_the_checker_restarts_with_the_prelude(c):
    from course.grading import checker
    c.start_notebook("LIMIT = 3")
    with pytest.raises(checker.CheckerError):
        c.check("while True:\n    pass", _records(), [], timeout=2)
    assert c.check("assert LIMIT == 3", _records(), [])[0], "the restarted checker has the prelude again"
    c.start_notebook("raise ValueError('no data')")
    for _ in range(2):
        with pytest.raises(checker.CheckerError, match="prelude failed"):
            c.check("pass", _records(), [])
