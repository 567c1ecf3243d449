"""What a student's feedback shows: their own outputs, one verdict line per test, nothing else.

Why: hidden tests run in the same kernel as the student's code, so anything the
kernel printed while they were loaded can carry them out — IPython's input
history (``In``, ``_ih``, ``history_manager``), a test's source read through the
caller's frame, an exception message, even the execution counter — and an
encoded copy (base64, zlib, hex …) passes any scrub that looks for test lines.
So feedback never shows what the grading kernel printed. It shows:

- for every cell that is not a test: the outputs the *submitted* notebook held
  when it was handed in (``submitted/<student>/<lab>/<lab>.ipynb``), i.e. what
  the student ran themselves, e.g. in Colab, before any hidden test existed in
  their kernel. With no submitted copy the outputs are dropped, and a note at
  the top says so;
- for every test cell: its visible part only, and one line: the verdict and a
  message. The message is shown only when it cannot carry stolen data (see
  :func:`reason`); otherwise the line says only that the test failed.

Every line of a hidden test that still appears verbatim anywhere is replaced,
as a last line of defence (an instructor who pastes a test into a comment, a
student who had last year's tests).

Feedback is a classroom step, so this lives in ``classroom/``; nbgrader loads it
through ``c.GenerateFeedback.preprocessors`` in ``nbgrader_config.py``, after
``GetGrades`` (which puts each cell's score in its metadata).
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from course.core import notebooks
from course.core.errors import CourseError
from course.core.paths import Course

# What an f-string field in an assert message may expand to when the message is shown: short, ASCII, and
# what numbers, shapes and tuples print as. A longer or stranger value could be a channel, not a shape.
FIELD = r"[\w\s.,:()\[\]-]{0,60}"
SHOWN_NOTE_MAX = 200  # the grader's own notes (timeouts, integrity) are cut here
SHOWN_ASSERT_MAX = 500  # an instructor's assert message is shown whole up to here
DEFAULT_STUB_MESSAGE = "not written yet"
SCRUBBED = "[a line of a hidden test was removed]"
NO_SUBMISSION_NOTE = ("*Feedback note: the notebook you handed in was not found, so no outputs are shown; "
                      "each test's result is.*")
OUTPUTS_NOTE = ("*Feedback note: the outputs shown are the ones your notebook held when you handed it in; "
                "each test cell shows its result.*")
_TIMEOUT_NOTE = re.compile(r"not run: the notebook used its whole \d{1,7} s budget", re.ASCII)
_CHECKER_RAISED = re.compile(r"([A-Za-z_]\w{0,59}) raised ([A-Za-z_]\w*): (.*)", re.ASCII | re.S)
_STUB = re.compile(r"NotImplementedError\(\s*(['\"])(.*?)\1\s*\)")


def assert_patterns(source: str) -> list[re.Pattern[str]]:
    """The messages an ``assert`` (or ``raise AssertionError(...)``) in a test cell can produce.

    A plain string is matched exactly; an f-string becomes a pattern in which
    each ``{...}`` field may stand for at most ``FIELD``. A message built any
    other way (``+``, ``%``, a variable) gives no pattern, so it is not shown.
    """
    tree = _parse(source)
    if tree is None:
        return []
    messages: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            messages.append(node.msg)
        elif (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
              and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "AssertionError"
              and len(node.exc.args) == 1):
            messages.append(node.exc.args[0])
    patterns = _explain_patterns(tree)
    for msg in messages:
        if isinstance(msg, ast.Constant) and isinstance(msg.value, str):
            patterns.append(re.compile(re.escape(msg.value), re.ASCII))
        elif isinstance(msg, ast.JoinedStr):
            parts = []
            for part in msg.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    parts.append(re.escape(part.value))
                else:  # ast.FormattedValue
                    parts.append(FIELD)
            patterns.append(re.compile("".join(parts), re.ASCII))
    return patterns


def _literal_pattern(node: ast.expr) -> str | None:
    """A plain string as itself; an f-string with each field standing for at most ``FIELD``; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(re.escape(part.value) if isinstance(part, ast.Constant) and isinstance(part.value, str)
                       else FIELD for part in node.values)
    return None


def _explain_patterns(tree: ast.Module) -> list[re.Pattern[str]]:
    """The failures ``explain(call, hint=...)`` (the setup template's check helper) can produce in this cell.

    Its message is ``"<call> raised <Type>: <the error's own text> (<hint>)"``. The call and the hint are
    written in the test cell; the error's text is the student's to choose, so :func:`reason` shows the call,
    the exception's type name and the hint, and drops that text.
    """
    patterns = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "explain"
                and node.args):
            continue
        call = _literal_pattern(node.args[0])
        hint_node = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "hint"), None)
        hint = _literal_pattern(hint_node) if hint_node is not None else ""
        if call is None or hint is None:
            continue
        tail = rf"(?P<hint> \({hint}\))?" if hint else ""
        patterns.append(re.compile(rf"(?P<call>{call}) raised (?P<type>[A-Za-z_]\w{{0,39}}): (?s:.*?){tail}",
                                   re.ASCII))
    return patterns


def _parse(source: str) -> ast.Module | None:
    """The cell as Python; IPython's ``%magic`` and ``!shell`` lines become ``pass``."""
    for text in (source, re.sub(r"(?m)^([ \t]*)[%!].*$", r"\1pass", source)):
        try:
            return ast.parse(text)
        except SyntaxError:
            continue
    return None


def reason(ename: str, evalue: str, patterns: list[re.Pattern[str]],
           stub_message: str = DEFAULT_STUB_MESSAGE, names: frozenset[str] | set[str] = frozenset()) -> str | None:
    """Why a test failed, in words that cannot carry stolen data; None when no safe reason exists.

    Everything the kernel sends is the student's to choose (their code runs in
    it and can raise, or send, any error), so only what has a fixed shape is
    shown: an assert message written in the test cell itself, the stub's own
    ``NotImplementedError``, and the grader's notes in the exact form the
    grader writes them. Any other exception shows its type name only.
    ``names`` are the identifiers of the test cell's source: the trusted
    checker reports a student function's exception as ``"<function> raised
    <Type>: <message>"``, and only a function the test calls may stand there.
    """
    ename, evalue = str(ename or ""), str(evalue or "")
    if ename == "AssertionError" and evalue:
        for pattern in patterns:
            match = pattern.fullmatch(evalue)
            if match and "type" in pattern.groupindex:  # explain(...): the error's own text is not shown
                hint = match.group("hint") if "hint" in pattern.groupindex else ""
                shown = f"{match.group('call')} raised {match.group('type')}{hint or ''}"
                return f"AssertionError: {_cut(shown, SHOWN_ASSERT_MAX)}"
            if match:
                return f"AssertionError: {_cut(evalue, SHOWN_ASSERT_MAX)}"
    raised = _CHECKER_RAISED.fullmatch(evalue)
    if raised and raised.group(1) in names:  # the checker's replay of a student function's exception
        inner, message = raised.group(2), raised.group(3)
        if inner == "NotImplementedError" and message == stub_message:
            return f"NotImplementedError: {stub_message}"
        return f"{inner} raised in your code" if len(inner) <= 40 else None
    if ename == "AssertionError":
        return None
    if ename == "CheckFailed":  # the checker's own words name records the student's kernel produced
        return "CheckFailed: your answers could not be checked (the grader could not replay them)"
    if ename == "CheckerError":
        return "CheckerError: the grader's checker could not judge this test; your instructor will look at it"
    if ename == "NotebookTimeoutError" and _TIMEOUT_NOTE.fullmatch(evalue):
        return f"{ename}: {_cut(evalue, SHOWN_NOTE_MAX)}"
    if ename == "IntegrityError":
        note = _integrity_note(evalue)
        return f"{ename}: {_cut(note, SHOWN_NOTE_MAX)}" if note else None
    if ename == "CellTimeoutError":  # nbgrader's own, with an empty message
        return "CellTimeoutError: the cell ran past the grader's time limit"
    if ename == "NotImplementedError" and evalue == stub_message:
        return f"NotImplementedError: {stub_message}"
    if ename.isascii() and ename.isidentifier() and len(ename) <= 40:
        return f"{ename} raised in your code"
    return None


def _integrity_note(evalue: str) -> str | None:
    """The grader's IntegrityError text, if every part of it is a sentence ``integrity.differences`` writes."""
    from course.grading import integrity
    names = set(integrity.WATCHED) | {f"{m}.{a}" for m, attrs in integrity.WATCHED.items() for a in attrs}
    fixed = {"a trace or profile hook was installed (sys.settrace, sys.setprofile)",
             "IPython's execution machinery was changed (input/AST transformers, events or run_cell)",
             "the kernel's execute handlers were changed"}
    prefix = "not run: " if evalue.startswith("not run: ") else ""
    shown = []
    for part in evalue[len(prefix):].split("; "):
        module = re.fullmatch(r"sys\.modules\['([\w.]+)'\] was replaced", part, re.ASCII)
        attr = re.fullmatch(r"([\w.]+?)(\.__code__)? was replaced", part, re.ASCII)
        if part in fixed:
            shown.append(part)
        elif module and module.group(1) in names:
            shown.append(part)
        elif attr and not module and attr.group(1) in names:
            shown.append(part)
        elif part.startswith("the integrity probe failed"):
            shown.append("the integrity probe failed")  # its detail is the kernel's to choose
        else:
            return None
    return prefix + "; ".join(shown) if shown else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line(text: str, name: str = "stdout") -> NotebookNode:
    return NotebookNode(output_type="stream", name=name, text=text + "\n")


class StudentFeedback(NbGraderPreprocessor):
    """Feedback preprocessor: the student's own outputs and one verdict line per test (see the module doc)."""

    def preprocess(self, nb, resources):
        self._hidden = {ln.strip() for cell in nb.cells if notebooks.is_tests(cell)
                        for ln in notebooks.hidden_test_lines(cell.source) if len(ln.strip()) >= 8}
        self._stub_message = self._stub()
        submitted = self._submitted(resources)
        self._index = _Index(submitted) if submitted is not None else None
        self._seen_sources: dict[str, int] = defaultdict(int)
        nb, resources = super().preprocess(nb, resources)
        note = OUTPUTS_NOTE if submitted is not None else NO_SUBMISSION_NOTE
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(note))
        return nb, resources

    def _stub(self) -> str:
        """The message of the code stub's NotImplementedError, as nbgrader_config.py sets it."""
        try:
            stub = self.config.ClearSolutions.code_stub
            match = _STUB.search(stub.get("python", "") if hasattr(stub, "get") else "")
        except (AttributeError, TypeError):
            match = None
        return match.group(2) if match else DEFAULT_STUB_MESSAGE

    def _submitted(self, resources) -> NotebookNode | None:
        """The notebook as handed in: submitted/<student>/<lab>/<notebook>.ipynb of this course."""
        info = (resources or {}).get("nbgrader", {})
        student, lab, name = info.get("student"), info.get("assignment"), info.get("notebook")
        root = self._course_root(resources)
        if not (student and lab and name and root):
            self.log.warning("feedback: cannot tell which submitted notebook this is; outputs are dropped")
            return None
        path = Course(root).submitted / student / lab / f"{name}.ipynb"
        if not path.is_file():
            self.log.warning("feedback: %s not found; outputs are dropped", path)
            return None
        try:
            return notebooks.read(path)
        except CourseError as exc:
            self.log.warning("feedback: %s; outputs are dropped", exc)
            return None

    def _course_root(self, resources) -> Path | None:
        root = self.config.get("CourseDirectory", {}).get("root")
        if root:
            return Path(root)
        folder = (resources or {}).get("metadata", {}).get("path")  # <root>/autograded/<student>/<lab>
        if folder and Path(folder).resolve().parents[1].name == "autograded":
            return Path(folder).resolve().parents[2]
        return None

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            cell.source = self._scrub(cell.source)
            return cell, resources
        cell.get("metadata", {}).pop("execution", None)  # the kernel's timings: a channel too
        if notebooks.is_tests(cell):
            cell.source = self._scrub(notebooks.strip_hidden_tests(cell.source))
            cell.outputs = [self._verdict(cell)]
            cell.execution_count = None
            return cell, resources
        own = self._index.find(cell, self._seen_sources) if self._index is not None else None
        self._seen_sources[cell.source] += 1
        cell.outputs = [self._scrub_output(o) for o in own.get("outputs", [])] if own is not None else []
        cell.execution_count = own.get("execution_count") if own is not None else None
        cell.source = self._scrub(cell.source)
        return cell, resources

    def _verdict(self, cell: NotebookNode) -> NotebookNode:
        """One line: passed, or failed and the one reason that is safe to show."""
        meta = notebooks.meta(cell)
        score, points = meta.get("score"), meta.get("points")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        wrote_stderr = any(o.get("output_type") == "stream" and o.get("name") == "stderr"
                           for o in cell.get("outputs", []))
        if score is not None and points is not None and float(score) >= float(points):
            return _line("passed")
        if score is None and not errors and not wrote_stderr:
            return _line("not graded")
        why = None
        if errors:
            last = errors[-1]
            why = reason(last.get("ename", ""), last.get("evalue", ""), assert_patterns(cell.source),
                         self._stub_message, set(re.findall(r"[A-Za-z_]\w*", cell.source)))
        elif wrote_stderr:
            why = "the test wrote to stderr"
        partly = (f"partly passed ({float(score):g} of {float(points):g} points)"
                  if score and points and 0 < float(score) < float(points) else None)
        if why is None:
            return _line(partly or "the test failed", "stderr")
        return _line(self._scrub(f"{partly or 'failed'}: {why}"), "stderr")

    def _scrub(self, text: str) -> str:
        if not self._hidden or not isinstance(text, str) or not any(h in text for h in self._hidden):
            return text
        return "\n".join(SCRUBBED if any(h in ln for h in self._hidden) else ln for ln in text.split("\n"))

    def _scrub_output(self, out: NotebookNode) -> NotebookNode:
        if "text" in out:
            out["text"] = self._scrub(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
        if out.get("output_type") == "error":
            out["evalue"] = self._scrub(out.get("evalue", ""))
            out["traceback"] = [self._scrub(t) for t in out.get("traceback", [])]
        for mime, value in (out.get("data") or {}).items():
            if isinstance(value, str) and (mime.startswith("text/") or mime.endswith(("json", "javascript"))):
                out["data"][mime] = self._scrub(value)
        return out


class _Index:
    """The submitted notebook's code cells, found by grade_id, then cell id, then n-th cell with that source."""

    def __init__(self, nb: NotebookNode):
        code = [c for c in nb.cells if c.get("cell_type") == "code"]
        self.by_grade_id = {gid: c for c in code if (gid := notebooks.grade_id(c))}
        self.by_cell_id = {c["id"]: c for c in code if c.get("id")}
        self.by_source: dict[str, list[NotebookNode]] = defaultdict(list)
        for c in code:
            self.by_source[c.get("source", "")].append(c)

    def find(self, cell: NotebookNode, seen_sources: dict[str, int]) -> NotebookNode | None:
        gid = notebooks.grade_id(cell)
        if gid and gid in self.by_grade_id:
            return self.by_grade_id[gid]
        if cell.get("id") and cell["id"] in self.by_cell_id:
            return self.by_cell_id[cell["id"]]
        same = self.by_source.get(cell.source, [])
        position = seen_sources.get(cell.source, 0)
        return same[position] if position < len(same) else None
