"""Feedback never hands the hidden tests back, not even encoded (issue 14, item 5).

Why: hidden tests run in the student's kernel, so a submission can read them —
IPython's input history (``In``, ``_ih``, the history manager) holds every test
cell run so far, and a graded function can read its caller's source through
``sys._getframe`` and ``linecache`` — and send them out encoded in anything the
kernel prints: a later cell's output, an exception message, an assert message.
A red team decoded all 74 distinctive hidden-test lines of a lab from their own
feedback this way. Feedback now shows the outputs of the notebook as handed in,
and per test one verdict line whose message has a fixed shape
(``course.classroom.feedback_view``).

Day 1 submissions are graded in one sandboxed autograde run, feedback is written
by the pipeline step, and every base64 or hex run in each feedback page is
decoded (raw, zlib, gzip, bz2, lzma, two levels deep) and searched for hidden
test lines. Each attack is first shown to capture hidden tests in what the
kernel printed (the autograded notebook), so the search can fail.
"""
from __future__ import annotations

import base64
import binascii
import bz2
import copy
import html as html_lib
import json
import lzma
import re
import zlib

import nbformat
import pytest

from conftest import LABS, REAL
from course.build import release
from course.checks import submissions
from course.classroom import feedback
from course.classroom.feedback_view import (NO_SUBMISSION_NOTE, StudentFeedback, assert_patterns,
                                            reason)
from course.core import notebooks
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook, integrity, sandbox

LAB = LABS[0]

# Every attack defines _history(): the kernel's input history, which holds each test cell run so far.
HISTORY = """
import base64, zlib
def _history():
    parts = list(In) + list(_ih)
    try:
        parts += [src for _, _, src in get_ipython().history_manager.get_range(output=False)]
    except Exception:
        pass
    parts = list(dict.fromkeys(p for p in parts if 'assert' in p))  # the test cells only, once each: compact
    return base64.b64encode(zlib.compress('\\n'.join(parts).encode())).decode()
"""


WRONG_RELU = "def relu(z):\n    return np.abs(z)\n"
BARE = re.compile(r"the test failed|failed: [A-Za-z_]\w{0,39} raised in your code")
EXPLAINED = re.compile(r"failed: AssertionError: (?P<call>.+?) raised [A-Za-z_]\w{0,39}(?: \((?P<hint>.+)\))?")


def _raising(function: str, raise_line: str) -> str:
    """Replace the graded function with one that raises the history from inside the test that calls it."""
    return HISTORY + f"def {function}(*args, **kwargs):\n    {raise_line}\n"


def _hidden_lines() -> set[str]:
    """Hidden-test lines of at least 8 characters that appear nowhere in the visible notebook."""
    return notebooks.distinctive_hidden_lines(notebooks.read(REAL.source_notebook(LAB)), min_len=8)


def _unpack(blob: bytes, depth: int = 0) -> list[str]:
    """Every text a blob may hold: as is, or decompressed by any stdlib codec; encoded runs inside are opened too."""
    found = [blob]
    # streaming decompressors: a leak cut short by an output cap still leaks its beginning
    for make in (zlib.decompressobj, lambda: zlib.decompressobj(-15), lambda: zlib.decompressobj(31),
                 bz2.BZ2Decompressor, lzma.LZMADecompressor):
        try:
            found.append(make().decompress(blob))
        except Exception:  # noqa: BLE001 — most runs are not compressed; that is the point of trying
            pass
    texts = [b.decode("utf-8", "replace") for b in found]
    if depth < 1:
        texts += [t for text in texts[1:] for t in _decoded(text, depth + 1)]
    return texts


def _decoded(text: str, depth: int = 0) -> list[str]:
    """Every base64 (standard or URL-safe, any alignment) and hex run of 40+ characters, decoded and unpacked."""
    out: list[str] = []
    for run in set(re.findall(r"[A-Za-z0-9+/=_-]{40,}", text)):
        for shift in range(4):
            body = run[shift:].rstrip("=")
            body = body[: len(body) - len(body) % 4 if len(body) % 4 == 1 else len(body)]
            padded = body + "=" * (-len(body) % 4)
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    out += _unpack(decode(padded), depth)
                except (binascii.Error, ValueError):
                    pass
    for run in set(re.findall(r"[0-9a-fA-F]{40,}", text)):
        out += _unpack(bytes.fromhex(run[: len(run) // 2 * 2]), depth)
    return out


def _leaked(text: str, hidden: set[str]) -> list[str]:
    plain = html_lib.unescape(text)
    untagged = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
    haystack = [plain, untagged] + _decoded(plain)
    return sorted(line for line in hidden if any(line in h for h in haystack))


@pytest.fixture(scope="module")
def fed_back(tmp_path_factory):
    """One scratch Day 1 course: attacks, an honest solved and a blank submission, graded once, feedback written."""
    if sandbox.unavailable():
        pytest.skip(f"no sandbox: {sandbox.unavailable()}")
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("feedback-leaks"))
    release.release(course, [LAB])
    solved = submissions.make(course, LAB, "solved")
    ids = submissions.answer_ids(solved)
    first, last = ids[0], ids[-1]
    source = {notebooks.grade_id(c): c.source for c in solved.cells}
    function = re.search(r"^def (\w+)\(", source[last], re.M).group(1)  # the graded function of the last answer
    # every notebook cell on the stack (the test cell that called relu, wherever it sits), read from linecache
    steal = ("import sys, linecache\nSTOLEN = {}\n_relu = relu\n"
             "def relu(z):\n    frame = sys._getframe(1)\n    while frame is not None:\n"
             "        name = frame.f_code.co_filename\n"
             "        if 'ipykernel' in name or name.startswith('<'):\n"
             "            STOLEN[name] = ''.join(linecache.getlines(name))\n"
             "        frame = frame.f_back\n    return _relu(z)\n")
    attacks = {
        # (a) the history, compressed and base64-encoded, printed by the last answer cell
        "history_print": {last: source[last] + HISTORY + "print(_history())\n"},
        # (b) a graded function raises the history as its exception's message
        "history_exception": {last: _raising(function, "raise RuntimeError(_history())")},
        # (c) ... as an AssertionError's message, where the tests' own messages are shown
        "history_assert": {last: _raising(function, "raise AssertionError(_history())")},
        # ... dressed as the stub's error, and as the grader's own timeout note
        "history_stub": {last: _raising(function, "raise NotImplementedError(_history())")},
        "history_note": {last: "class NotebookTimeoutError(Exception):\n    pass\n"
                               + _raising(function, "raise NotebookTimeoutError('not run: ' + _history())")},
        # (d) the test's source read through the caller's frame, printed later as hex of zlib
        "frame_steal": {first: source[first] + "\n" + steal,
                        last: source[last] + "\nimport zlib\nprint(zlib.compress('\\n'.join(STOLEN.values()).encode()).hex())\n"},
    }
    for student, overrides in attacks.items():
        submissions.write(course, student, LAB, submissions.make(course, LAB, "solved", overrides))
    # (e) an honest student who ran their notebook (in Colab) before handing it in, and a blank one
    honest = submissions.make(course, LAB, "solved", {first: source[first] + '\nprint("GRADER-RUN", 6 * 7 * 1000 + 1)\n'})
    for cell in honest.cells:
        if notebooks.grade_id(cell) == first:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="COLAB-ONLY OUTPUT 7f3a\n")]
            cell.execution_count = 3
    submissions.write(course, "solved", LAB, honest)
    submissions.write(course, "blank", LAB, submissions.make(course, LAB, "blank"))
    # an honest mistake: the test's own assert message must still reach the student
    submissions.write(course, "wrong", LAB, submissions.make(course, LAB, "solved", {first: WRONG_RELU}))
    results = {r.student: r for r in autograde.autograde(course, [LAB], report=True, jobs=2)}
    failures = feedback.generate(course, [LAB])
    return course, results, failures, list(attacks), function


def _feedback_html(course, student: str) -> str:
    return (course.feedback / student / LAB / f"{LAB}.html").read_text(encoding="utf-8")


def _graded_outputs(course, student: str) -> str:
    nb = nbformat.read(course.autograded / student / LAB / f"{LAB}.ipynb", as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells]).replace("\\n", "\n")


def test_every_submission_is_graded_and_fed_back(fed_back):
    course, results, failures, attacks, _ = fed_back
    assert failures == []
    assert set(results) == set(attacks) | {"solved", "blank", "wrong"}
    for student in results:
        assert (course.feedback / student / LAB / f"{LAB}.html").is_file(), student


@pytest.mark.parametrize("student", ["history_print", "history_exception", "history_assert", "history_stub",
                                     "history_note", "frame_steal"])
def test_no_hidden_test_line_reaches_feedback_even_encoded(fed_back, student):
    course, *_ = fed_back
    hidden = _hidden_lines()
    assert len(hidden) >= 40, "too few distinctive hidden lines for this check to mean anything"
    captured = _leaked(_graded_outputs(course, student), hidden)
    assert len(captured) >= 5, f"{student}: the attack should have captured hidden tests while graded"
    leaked = _leaked(_feedback_html(course, student), hidden)
    assert not leaked, f"{student}'s feedback carries {len(leaked)} hidden test lines, e.g. {leaked[:3]}"


def test_no_feedback_page_carries_hidden_tests(fed_back):
    course, results, *_ = fed_back
    hidden = _hidden_lines()
    for student in ("solved", "blank"):
        assert not _leaked(_feedback_html(course, student), hidden), student


def _verdicts(page: str) -> list[str]:
    """The text outputs on the page, in order: only the tests' verdict lines, for a notebook handed in unrun."""
    found = re.findall(r'output_stream output_std(?:out|err) output_text">\s*<pre>(.*?)</pre>', page, re.S)
    return [html_lib.unescape(v).strip() for v in found if not v.startswith("COLAB-ONLY")]


def _test_cells(course, student: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(course.autograded / student / LAB / f"{LAB}.ipynb", as_version=4)
    return [c for c in nb.cells if notebooks.is_tests(c)]


def test_solved_feedback_shows_full_marks_and_the_students_own_outputs(fed_back):
    course, *_ = fed_back
    score = gradebook.scores(course, LAB)["solved"]
    assert score.auto_possible > 0 and score.auto_earned == score.auto_possible
    page = _feedback_html(course, "solved")
    shown = re.search(r"Score: ([\d.]+) / ([\d.]+)", page)
    # (the written answer waits for hand grading, so the page's total is every autograded point)
    assert shown and (float(shown.group(1)), float(shown.group(2))) == (score.earned, score.possible)
    assert score.earned == score.auto_earned
    assert "COLAB-ONLY OUTPUT 7f3a" in page, "the outputs of the notebook as handed in are shown"
    assert "GRADER-RUN 42001" not in page, "nothing the grading kernel printed is shown"
    assert "GRADER-RUN 42001" in _graded_outputs(course, "solved")  # (it did print it while graded)
    verdicts = _verdicts(page)
    assert verdicts.count("passed") == len(_test_cells(course, "solved")), verdicts


def _stub_failure(cell: nbformat.NotebookNode) -> bool:
    """The test failed on the stub, as the kernel or the trusted checker reported it."""
    return any(o.get("ename") == "NotImplementedError"
               and re.fullmatch(r"(\w+ raised NotImplementedError: )?not written yet", o.get("evalue", ""))
               for o in cell.outputs)


def test_blank_feedback_shows_why_each_test_failed(fed_back):
    course, *_ = fed_back
    score = gradebook.scores(course, LAB)["blank"]
    assert score.auto_earned == 0
    verdicts = _verdicts(_feedback_html(course, "blank"))
    tests = _test_cells(course, "blank")
    assert len(verdicts) == len(tests), verdicts
    stub = [c for c in tests if _stub_failure(c)]
    assert len(stub) >= len(tests) // 2, "the blank notebook's tests should fail on the stub"
    assert verdicts.count("failed: NotImplementedError: not written yet") == len(stub), verdicts
    assert all(v.startswith("failed: ") for v in verdicts), verdicts


def test_an_honest_mistake_shows_the_tests_assert_message(fed_back):
    course, *_ = fed_back
    verdicts = _verdicts(_feedback_html(course, "wrong"))
    shown = [v for v in verdicts if v.startswith("failed: AssertionError: expected [0.0, 0.0, 0.0, 0.5, 2.0], got ")]
    assert shown and shown[0].endswith("(negatives become 0, not |z| or 0.01 z)"), verdicts


@pytest.mark.parametrize("student", ["history_exception", "history_assert", "history_stub", "history_note"])
def test_an_exception_carrying_data_shows_only_a_type_name(fed_back, student):
    course, *_, function = fed_back
    verdicts = _verdicts(_feedback_html(course, student))
    tests = _test_cells(course, student)
    assert len(verdicts) == len(tests), verdicts
    calling = [v for cell, v in zip(tests, verdicts) if re.search(rf"\b{function}\(", cell.source)]
    assert calling, f"no test calls {function}"
    for cell, verdict in [(c, v) for c, v in zip(tests, verdicts) if re.search(rf"\b{function}\(", c.source)]:
        explained = EXPLAINED.fullmatch(verdict)  # explain(call, hint=...): only the cell's own words and a type
        assert BARE.fullmatch(verdict) or (explained and f'"{explained.group("call")}"' in cell.source), verdict
    assert not any(re.search(r"[A-Za-z0-9+/]{24,}", v) for v in verdicts), verdicts


def test_without_a_submitted_copy_outputs_are_dropped_and_the_page_says_so(fed_back):
    course, *_ = fed_back
    nb = nbformat.read(course.autograded / "solved" / LAB / f"{LAB}.ipynb", as_version=4)
    pre = StudentFeedback()
    pre.config.CourseDirectory.root = str(course.root)
    out, _ = pre.preprocess(copy.deepcopy(nb), {"nbgrader": {"student": "nobody", "assignment": LAB,
                                                             "notebook": LAB}})
    assert out.cells[0].source == NO_SUBMISSION_NOTE
    assert all(c.outputs == [] for c in out.cells if c.cell_type == "code" and not notebooks.is_tests(c))
    assert all(len(c.outputs) == 1 for c in out.cells if notebooks.is_tests(c))


# ------------------------------------------------------------- the message rules, without a kernel

TEST_CELL = '''
assert f(1) == 2, "f(1) should be 2"
assert g(x).shape == (3,), f"g should give shape (3,), got {g(x).shape}"
### BEGIN HIDDEN TESTS
for n in range(3):
    assert h(n) == n, f"h({n}) differs from the reference for n = {n}"
if bad:
    raise AssertionError("a raised message")
### END HIDDEN TESTS
'''


def test_assert_messages_are_shown_only_as_the_test_cell_wrote_them():
    patterns = assert_patterns(TEST_CELL)
    assert len(patterns) == 4
    shown = [("AssertionError", "f(1) should be 2"), ("AssertionError", "g should give shape (3,), got (4, 2)"),
             ("AssertionError", "h(2) differs from the reference for n = 2"), ("AssertionError", "a raised message")]
    for ename, evalue in shown:
        assert reason(ename, evalue, patterns) == f"{ename}: {evalue}"
    payload = base64.b64encode(zlib.compress(TEST_CELL.encode())).decode()
    hidden = [f"g should give shape (3,), got {payload}",  # a field too long and outside the alphabet
              f"g should give shape (3,), got {'A' * 61}",  # a field too long
              "g should give shape (3,), got (é,)",  # not ASCII
              "f(1) should be 2 " + payload, payload, ""]
    for evalue in hidden:
        assert reason("AssertionError", evalue, patterns) is None, evalue


def test_other_errors_show_their_type_name_or_a_grader_note_in_its_exact_form():
    assert reason("NotImplementedError", "not written yet", []) == "NotImplementedError: not written yet"
    assert reason("NotImplementedError", "c2VjcmV0", []) == "NotImplementedError raised in your code"
    assert reason("ValueError", "c2VjcmV0 " * 20, []) == "ValueError raised in your code"
    assert reason("Stolen_" + "x" * 40, "", []) is None  # a type name may carry data too: 40 characters at most
    assert reason("c2Vj cmV0", "", []) is None
    genuine = "not run: the notebook used its whole 180 s budget"
    assert reason("NotebookTimeoutError", genuine, []) == f"NotebookTimeoutError: {genuine}"
    assert reason("NotebookTimeoutError", "not run: c2VjcmV0", []) == "NotebookTimeoutError raised in your code"
    baseline = {"modules": {"numpy": 1}, "attrs": {"numpy.allclose": [1, 2], "torch.equal": [3, 4]},
                "trace": [True, True], "shell": [], "kernel": []}
    now = {"modules": {"numpy": 9}, "attrs": {"numpy.allclose": [7, 2], "torch.equal": [3, 8]},
           "trace": [False, True], "shell": [1], "kernel": []}
    tampered = integrity.differences(baseline, now)
    assert len(tampered) == 5
    for note in ("; ".join(tampered[:3]), "not run: " + "; ".join(tampered[3:])):
        assert reason("IntegrityError", note, []) == f"IntegrityError: {note}"
    probe = integrity.differences(baseline, {"error": "KeyError: c2VjcmV0"})[0]
    assert reason("IntegrityError", probe, []) == "IntegrityError: the integrity probe failed"
    assert reason("IntegrityError", "not run: numpy.allclose was replaced; c2VjcmV0", []) is None
    assert reason("IntegrityError", "c2VjcmV0.was replaced", []) is None
    assert reason("CellTimeoutError", "", []) == "CellTimeoutError: the cell ran past the grader's time limit"


def test_the_checkers_report_of_a_student_exception_keeps_only_its_type():
    """The trusted checker replays a student function's exception as "<function> raised <Type>: <message>"."""
    names = {"relu", "np"}
    stub = "relu raised NotImplementedError: not written yet"
    assert reason("NotImplementedError", stub, [], names=names) == "NotImplementedError: not written yet"
    assert reason("RuntimeError", "relu raised MyError: c2VjcmV0", [], names=names) == "MyError raised in your code"
    assert reason("AssertionError", "relu raised AssertionError: c2VjcmV0", [], names=names) == \
        "AssertionError raised in your code"
    # a "function" the test does not call is the student's text, not the checker's
    assert reason("RuntimeError", "c2VjcmV0 raised MyError: x", [], names=names) == "RuntimeError raised in your code"
    assert reason("CheckFailed", "relu: c2VjcmV0", [], names=names).startswith("CheckFailed: ")
    assert "c2Vj" not in reason("CheckerError", "c2VjcmV0", [], names=names)


def test_an_explained_failure_shows_the_call_type_and_hint_but_not_the_students_error_text():
    """explain(call, hint=...) (the setup template's check helper) wraps the student's exception: the call and
    the hint are the test cell's own words and are shown; the exception's text is the student's and is not."""
    cell = ('with explain("affine(x, W, b) with x of shape (3,)", hint="W is (k, d)"):\n'
            '    y = affine(x, W, b)\n')
    patterns = assert_patterns(cell)
    secret = "c2VjcmV0IGhpZGRlbiB0ZXN0 " * 30
    shown = reason("AssertionError", f"affine(x, W, b) with x of shape (3,) raised ValueError: {secret} (W is (k, d))",
                   patterns)
    assert shown == "AssertionError: affine(x, W, b) with x of shape (3,) raised ValueError (W is (k, d))"
    assert reason("AssertionError", f"affine(y) raised ValueError: {secret}", patterns) is None
    assert reason("AssertionError", f"affine(x, W, b) with x of shape (3,) raised {secret}: x", patterns) is None


def test_the_graders_stop_note_is_shown_and_a_forged_one_is_not():
    note = ("grading stopped at cell 7: the kernel died (it exited, or was killed at a memory, process or "
            "time limit)")
    assert reason("GradingStopped", note, []) == f"GradingStopped: {note}"
    assert reason("GradingStopped", f"not run: {note}", []) == f"GradingStopped: not run: {note}"
    assert reason("GradingStopped", "grading stopped at cell 7: c2VjcmV0IGhpZGRlbg", []) == \
        "GradingStopped raised in your code"
