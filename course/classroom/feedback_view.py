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

What the page looks like (issue 16: nbgrader's stock page listed "Test cell (Score:
0.0 / 1.0)" eighteen times, showed raw LaTeX and a broken Colab badge): the
preprocessor also builds ``resources["course_feedback"]``, which the kit's template
(``course/templates/nbconvert/feedback/``) shows as a summary table: one row per
graded cell, named by the nearest heading above it in the *release* notebook (the
student cannot rename a task), with its points and the verdict line below; a
hand-graded answer not graded yet reads "pending", never "0 / 2"; a late penalty
(``lateness``) is shown when there is one. Images fetched from the network (the
Colab badge, a student's ``![](http://…)``) are dropped: the page makes no request.
Math is marked here (:func:`mark_math`, a template filter) and typeset to SVG by
``feedback.py``.
"""
from __future__ import annotations

import ast
import html
import re
import secrets
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
# the grader's note when grading stopped at a limit (course.grading.nbgrader_ext.BudgetedExecute._stop)
_STOPPED_NOTE = re.compile(
    r"(not run: )?grading stopped at cell \d{1,5}: (the kernel died \(it exited, or was killed at a memory, "
    r"process or time limit\)|the cell's output did not stop within \d{1,7}(\.\d{1,3})? s of its end \(an output "
    r"flood, or a kernel that ignored the interrupt at the time limit\)|the kernel stopped answering "
    r"\([A-Za-z_]\w{0,39}\)|the notebook used its whole \d{1,7} s budget)", re.ASCII)
_CHECKER_RAISED = re.compile(r"([A-Za-z_]\w{0,59}) raised ([A-Za-z_]\w*): (.*)", re.ASCII | re.S)
_STUB = re.compile(r"NotImplementedError\(\s*(['\"])(.*?)\1\s*\)")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
# A Markdown image whose URL is not embedded (the Colab badge, a student's tracking pixel), with the link around it.
_REMOTE_IMAGE = re.compile(r"\[!\[([^\]]*)\]\(\s*<?(?!data:)[A-Za-z][\w+.-]*:[^)]*\)\]\([^)]*\)"
                           r"|!\[([^\]]*)\]\(\s*<?(?!data:)[A-Za-z][\w+.-]*:[^)]*\)")
_BADGE = re.compile(r"open in colab", re.I)
# Math as MathJax finds it in rendered Markdown text ($$…$$ and \[…\] and environments shown as blocks).
_MATH = re.compile(r"(?s)(?<!\\)\$\$(?P<d1>.+?)(?<!\\)\$\$|\\\[(?P<d2>.+?)\\\]"
                   r"|(?P<env>\\begin\{(?P<name>[A-Za-z]+\*?)\}.+?\\end\{(?P=name)\})"
                   r"|\\\((?P<i2>.+?)\\\)|(?<![\\$])\$(?P<i1>[^$]+?)(?<!\\)\$")
MATH_CLASS = "course-math"  # feedback.py replaces each such span by MathJax's SVG


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
        pattern = _literal_pattern(msg)
        if pattern is not None:
            patterns.append(re.compile(pattern, re.ASCII))
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
    if ename == "GradingStopped" and _STOPPED_NOTE.fullmatch(evalue):
        return f"{ename}: {_cut(evalue, SHOWN_NOTE_MAX)}"
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


def drop_remote_images(source: str) -> str:
    """Markdown without images fetched from the network: a badge goes, any other image leaves its alt text.

    Why: feedback is opened offline and must make no request (the Colab badge was a
    broken image), and a student's remote image would tell its host who opened the page.
    """
    def replace(match: re.Match) -> str:
        alt = match.group(1) if match.group(1) is not None else match.group(2) or ""
        return "" if _BADGE.search(alt) else (f"[image: {alt}]" if alt else "[image]")
    return _REMOTE_IMAGE.sub(replace, source)


def _plain_heading(text: str) -> str:
    """A heading's text without Markdown emphasis or code marks (math is kept for ``mark_math``)."""
    return re.sub(r"(?<!\\)[*_`]{1,3}", "", text).strip()


def mark_math(fragment: str) -> str:
    """Template filter: wrap each formula in rendered HTML in ``<span class="course-math">`` for typesetting.

    Why a filter on the rendered HTML: this is the text MathJax would scan in a
    browser (Markdown has already kept math apart from emphasis), and code is
    easy to skip here (``code``, ``pre``). The span keeps the original text, so a
    page whose math could not be typeset still reads as TeX; ``data-tex`` holds
    the formula for ``feedback.typeset_pages``.
    """
    if "$" not in fragment and "\\" not in fragment:
        return fragment
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(fragment, "html.parser")
    spans: list[str] = []
    nonce = secrets.token_hex(8)  # placeholders no student text can forge
    for text in list(soup.find_all(string=True)):
        if not isinstance(text, NavigableString) or type(text) is not NavigableString:
            continue  # comments, doctype …
        if any(parent.name in ("code", "pre", "script", "style", "textarea") for parent in text.parents):
            continue
        value = str(text)
        if not _MATH.search(value):
            continue
        pieces, pos = [], 0
        for match in _MATH.finditer(value):
            pieces.append(value[pos:match.start()])
            display = match.group("i1") is None and match.group("i2") is None
            tex = next(g for g in (match.group("d1"), match.group("d2"), match.group("env"),
                                   match.group("i1"), match.group("i2")) if g is not None)
            spans.append(f'<span class="{MATH_CLASS}" data-display="{int(display)}" '
                         f'data-tex="{html.escape(tex.strip(), quote=True)}">{html.escape(match.group(0))}</span>')
            pieces.append(f"\x00{nonce}:{len(spans) - 1}\x00")
            pos = match.end()
        pieces.append(value[pos:])
        text.replace_with(NavigableString("".join(pieces)))
    out = str(soup)
    return re.sub(rf"\x00{nonce}:(\d+)\x00", lambda m: spans[int(m.group(1))], out)


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
        self._verdicts: dict[str, str] = {}
        names = self._task_names(nb, resources)  # before any cell changes
        nb, resources = super().preprocess(nb, resources)
        note = OUTPUTS_NOTE if submitted is not None else NO_SUBMISSION_NOTE
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(note))
        resources["course_feedback"] = self._summary(nb, resources, names)
        return nb, resources

    def _task_names(self, nb: NotebookNode, resources) -> dict[str, str]:
        """grade_id → the nearest heading above that cell, read from the release notebook.

        Why the release notebook: a student can add or edit Markdown cells, and a
        heading of theirs must not rename a task in the summary. A cell the release
        notebook lacks is named from this notebook (its grade_id if nothing is above).
        """
        info = (resources or {}).get("nbgrader", {})
        root, lab = self._course_root(resources), info.get("assignment")
        names: dict[str, str] = {}
        sources = [nb]
        if root and lab:
            path = Course(root).release_notebook(lab)
            try:
                sources.insert(0, notebooks.read(path))
            except (CourseError, OSError, ValueError) as exc:
                self.log.warning("feedback: task names from the submission, not %s (%s)", path, exc)
        for source in sources:
            heading = ""
            for cell in source.cells:
                if cell.get("cell_type") == "markdown":
                    found = _HEADING.findall(cell.get("source", ""))
                    heading = _plain_heading(found[-1]) if found else heading
                gid = notebooks.grade_id(cell)
                if gid and gid not in names and (notebooks.meta(cell).get("grade") or notebooks.meta(cell).get("task")):
                    names[gid] = heading or gid
        return names

    def _summary(self, nb: NotebookNode, resources, names: dict[str, str]) -> dict:
        """What the template's summary table shows (see the module docstring)."""
        info = (resources or {}).get("nbgrader", {})
        state = self._hand_state(info)
        graded = [c for c in nb.cells if notebooks.grade_id(c) and (notebooks.meta(c).get("grade")
                                                                    or notebooks.meta(c).get("task"))]
        seen = defaultdict(int)
        for cell in graded:
            seen[names.get(notebooks.grade_id(cell), "")] += 1
        rows, hand, anchors, count = [], {}, {}, defaultdict(int)
        pending_points = 0.0
        for cell in graded:
            gid, meta = notebooks.grade_id(cell), notebooks.meta(cell)
            name = names.get(gid) or gid
            count[name] += 1
            if seen[name] > 1:
                name = f"{name} ({count[name]} of {seen[name]})"
            anchors[gid] = f"grade-{len(anchors) + 1}"
            points = float(meta.get("points") or 0)
            score = meta.get("score")
            if notebooks.is_tests(cell):
                verdict = self._verdicts.get(gid, "not graded")
                status = ("passed" if verdict == "passed" else "pending" if verdict == "not graded"
                          else "partly" if verdict.startswith("partly") else "failed")
                shown = f"{float(score or 0):g} / {points:g}" if score is not None else f"– / {points:g}"
            elif state.get(gid) == "pending":
                status, verdict, shown = "pending", "pending: graded by hand, not graded yet", f"pending ({points:g} point(s))"
                pending_points += points
            else:
                status = "graded"
                verdict = "not answered" if state.get(gid) == "auto" else "graded by hand"
                shown = f"{float(score or 0):g} / {points:g}"
            if not notebooks.is_tests(cell):
                hand[gid] = {"pending": state.get(gid) == "pending", "points": shown,
                             "comment": str(meta.get("comment") or "")}
            rows.append({"anchor": anchors[gid], "name": name, "points": shown, "verdict": verdict,
                         "status": status})
        earned = float(info.get("score") or 0) + float(info.get("late_penalty") or 0)
        return {"rows": rows, "hand": hand, "anchors": anchors, "earned": earned,
                "possible": float(info.get("max_score") or 0), "pending_points": pending_points,
                "late": self._late(resources, earned)}

    def _hand_state(self, info: dict) -> dict[str, str]:
        """grade_id → "pending" (waits for a human: export's rule), "graded" (by a human) or "auto" (nbgrader
        gave 0 to an answer left as released), for the cells the gradebook has."""
        try:
            from nbgrader.api import Gradebook
            with Gradebook(info["db_url"]) as gb:
                nb = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
                return {g.name: "pending" if g.needs_manual_grade else "graded" if g.manual_score is not None
                        else "auto" for g in nb.grades}
        except Exception as exc:  # noqa: BLE001 — a summary without "pending" beats no feedback at all
            self.log.warning("feedback: cannot tell which answers await hand grading (%s)", exc)
            return {}

    def _late(self, resources, raw: float) -> str:
        """One line about a late penalty, or "" when there is none (or the course has no due dates)."""
        info = (resources or {}).get("nbgrader", {})
        root, student, lab = self._course_root(resources), info.get("student"), info.get("assignment")
        if not (root and student and lab):
            return ""
        from course.classroom import lateness
        try:
            course = Course(root)
            late = lateness.load(course).assess(student, lab, raw, lateness.read_time(course, student, lab))
        except CourseError as exc:
            self.log.warning("feedback: no late penalty shown (%s)", exc)
            return ""
        if late.days <= 0:
            return ""
        due = f"due {lateness.format_time(late.due)}" + (", your extension" if late.extended else "") if late.due else ""
        cutoff = ", after the cutoff" if late.note == "after the cutoff" else ""
        return (f"Handed in {late.days} day(s) late ({due}{cutoff}): late penalty -{late.penalty:g} point(s); "
                f"score after the penalty {late.final:g}")

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
            cell.source = self._scrub(drop_remote_images(cell.source) if cell.cell_type == "markdown"
                                      else cell.source)
            return cell, resources
        cell.get("metadata", {}).pop("execution", None)  # the kernel's timings: a channel too
        if notebooks.is_tests(cell):
            cell.source = self._scrub(notebooks.strip_hidden_tests(cell.source))
            verdict = self._verdict(cell)
            self._verdicts[notebooks.grade_id(cell)] = verdict.text.strip()
            cell.outputs = [verdict]
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
