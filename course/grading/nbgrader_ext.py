"""nbgrader preprocessors the kit adds.

Why: nbgrader limits each cell (30 s by default) but not a whole notebook, so a
submission that is slow in every cell can hold the batch for an hour. The
budgeted executor gives every notebook a deadline; cells that would run past it
are not run and get an error output, so their tests score 0 rather than
silently passing. It also caps how much output a cell and a whole notebook may
send, error messages included (a 1 GB print or a 150 MB exception message must
not fill the grader's memory or the autograded notebook), ignores widget comm
messages, starts the sandboxed kernel when grading is sandboxed, and runs the
integrity probe (``course.grading.integrity``) after every cell.

Test cells earn credit only by the absence of an error. nbgrader reads an
``execute_result`` in a test cell as partial or full credit, even when an
``AssertionError`` follows, and a student's object can make one appear
(``sys.displayhook``, a ``pre_run_cell`` callback). So rich outputs of test
cells are dropped, and a ``clear_output`` sent while a test cell runs (which
would erase its error) is ignored.
"""
from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, OverwriteCells
from nbgrader.preprocessors.execute import UnresponsiveKernelError
from traitlets import Bool, Integer


# Why grading stopped early, by (lab, student), for ``autograde`` to read after nbgrader returns: set by
# ``BudgetedExecute`` in this process only (never read from a file the submission could have planted).
STOPS: dict[tuple[str, str], str] = {}


class Interrupted(KeyboardInterrupt):
    """Ctrl-C reached a submission in flight on a ``--cluster`` coordinator: it stops, its earlier notebook and
    grade stand. Raised by ``autograde._run_one`` and by the cluster's remote execution step.

    Why a KeyboardInterrupt: nbgrader then removes the half-written notebook, as on a Ctrl-C of its own.
    """


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message,
                        traceback=[f"{ename}: {message}"])


class BudgetedExecute(Execute):
    """nbgrader's Execute with a whole-notebook time budget."""

    notebook_timeout = Integer(
        600, help="Seconds one notebook may run in total; later cells are skipped with an error."
    ).tag(config=True)

    def create_kernel_manager(self):
        """The sandboxed kernel when this process grades under the sandbox (see ``course.grading.sandbox``)."""
        from course.grading import sandbox
        if not sandbox.active():
            return super().create_kernel_manager()
        self.kernel_name = sandbox.KERNEL_NAME
        sandbox.ensure_forkserver()  # warm kernels: torch and friends imported once per grading process
        # IPC: the kernel has no network, not even the grader's loopback
        self.km = self.kernel_manager_class(kernel_name=self.kernel_name, config=self.config, transport="ipc",
                                            connection_file=sandbox.connection_file())
        return self.km

    max_output_bytes = Integer(
        2_000_000, help="Bytes of output one cell may keep; the rest is dropped with a note."
    ).tag(config=True)
    max_notebook_output_bytes = Integer(
        10_000_000, help="Bytes of output a whole notebook may keep, error messages included."
    ).tag(config=True)
    max_error_chars = Integer(
        4_000, help="Characters kept of one error's message and of each traceback line."
    ).tag(config=True)
    integrity_probe = Bool(
        True, help="Check after every cell that the functions tests rely on were not replaced."
    ).tag(config=True)
    use_checker = Bool(
        True, help="Decide the verdict of every test cell the trusted checker can judge outside the kernel."
    ).tag(config=True)
    checker_timeout = Integer(
        60, help="Seconds the trusted checker may take over one test cell."
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.store_widget_state = False  # widget state is student data the grader never needs

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._cell_timeout = self.timeout
        self._output_bytes: dict[int, int] = {}
        self._notebook_bytes = 0
        self._test_cells: set[int] = set()
        self._setup_done = False
        self._baseline: dict | None = None
        self._tampered: list[str] = []
        self._unverified: list[str] = []
        self._notes: list[str] = []
        self._probe_ok = self.integrity_probe
        self._stopped = ""  # why grading stopped at a limit: every later cell is marked, not run
        info = (resources or {}).get("nbgrader") or {}
        self._key = (str(info.get("assignment", "")), str(info.get("student", "")))
        STOPS.pop(self._key, None)
        folder = Path((resources or {}).get("metadata", {}).get("path") or ".")
        from course.grading import sandbox
        if (os.environ.get("NBGRADER_EXECUTION") == "autograde" and not sandbox.active()
                and os.environ.get(sandbox.OFF_ENV) != "1"):
            # autograded from outside `python -m course autograde` (the formgrader's button, `nbgrader
            # autograde`): sandbox it all the same, or refuse with the reason if no sandbox can be made
            with sandbox.session():
                return self._run(nb, resources, km, folder)
        return self._run(nb, resources, km, folder)

    def _run(self, nb, resources, km, folder: Path):
        self._checker_down = ""
        self._recorder_ready = False
        self._plan = self._checker_plan(nb, resources)
        self._swaps = self._reference_swaps(resources)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            from course.grading import integrity
            integrity.write_runtime(folder, self._tampered + self._unverified, self._notes)

    # ------------------------------------------------------------ the trusted checker (course.grading.checker)

    def _checker_plan(self, nb, resources):
        """The checker's plan for this notebook's lab, from the release notebook; None when not grading."""
        from course.core import notebooks
        from course.grading import checker
        info = (resources or {}).get("nbgrader") or {}
        if not self.use_checker or not info.get("assignment") or os.environ.get("NBGRADER_EXECUTION") != "autograde":
            return None
        root = _course_root(self.config, info)
        release = root / "release" / info["assignment"] / f"{info.get('notebook') or info['assignment']}.ipynb"
        if not release.is_file():
            self._notes.append(f"no release notebook at {release}: test cells were judged in the kernel")
            return None
        tests = {notebooks.grade_id(c): c.source for c in nb.cells if notebooks.is_tests(c)}  # restored by nbgrader
        the_plan = checker.plan(notebooks.read(release), tests)
        _CHECKER.setdefault("checker", checker.Checker(timeout=self.checker_timeout))
        from course.core.paths import data_root
        try:
            _CHECKER["checker"].start_notebook(the_plan.prelude, os.environ.get("COURSE_DATA") or str(data_root()))
        except checker.CheckerError as exc:
            # fail closed: a checked test is never judged by the kernel alone, so without a checker it fails
            self._checker_down = str(exc)
            self._notes.append(f"the trusted checker did not start ({exc}); checked tests failed")
        return the_plan

    def _reference_swaps(self, resources) -> dict:
        """Per test cell, the reference solutions it runs with (``course.grading.references``); {} when not grading."""
        from course.core import notebooks
        from course.grading import references
        info = (resources or {}).get("nbgrader") or {}
        if not info.get("assignment") or os.environ.get("NBGRADER_EXECUTION") != "autograde":
            return {}
        root = _course_root(self.config, info)
        source = root / "source" / info["assignment"] / f"{info.get('notebook') or info['assignment']}.ipynb"
        if not source.is_file():
            self._notes.append(f"no source notebook at {source}: test cells ran with the student's other answers")
            return {}
        return references.swaps(notebooks.read(source))

    def _run_test_alone(self, cell, index, resources):
        """Run a test cell with the reference solutions of the student's other, already judged answers."""
        from course.core import notebooks
        from course.grading import references
        swap = self._swaps.get(notebooks.grade_id(cell))
        if swap is not None:
            reply = self._silent(references.swap_code(swap))
            if not (reply and reply.get("status") == "ok"):
                swap = None  # the student's own answers stay in place: the test still runs, less independently
        try:
            if self._plan is not None and notebooks.grade_id(cell) in self._plan.checked:
                return self._checked(cell, index, resources)
            return super().preprocess_cell(cell, resources, index)
        finally:
            if swap is not None:
                self._silent(references.RESTORE_CODE)

    def _silent(self, code: str, expressions: dict | None = None, timeout: float = 20.0) -> dict | None:
        """Run ``code`` in the kernel without output; the reply's content, or None if none came."""
        from jupyter_core.utils import run_sync
        timeout = min(timeout, max(1.0, self._deadline - time.monotonic()))
        try:
            msg_id = self.kc.execute(code, silent=True, store_history=False, user_expressions=expressions or {})
            end = time.monotonic() + timeout
            while True:
                msg = run_sync(self.kc.get_shell_msg)(timeout=max(0.1, end - time.monotonic()))
                if msg["parent_header"].get("msg_id") == msg_id:
                    return msg["content"]
        except Exception:  # noqa: BLE001 — busy, dead or stalled: the caller decides what that means
            return None

    def _checked(self, cell, index, resources):
        """Run a checked test cell: record the student's answers in the kernel, judge them in the checker."""
        from course.grading import checker
        gid = cell.metadata["nbgrader"]["grade_id"]
        students = self._plan.checked[gid]
        armed = self._recorder_ready and self._silent(f"__course_recorder__.arm({students!r})")
        cell, resources = super().preprocess_cell(cell, resources, index)
        kept = [o for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout"]
        records = None
        if armed and armed.get("status") == "ok":
            reply = self._silent("", {"records": checker.COLLECT_EXPRESSION}, timeout=60.0)
            answer = (reply or {}).get("user_expressions", {}).get("records", {})
            if answer.get("status") == "ok":
                try:
                    records = ast.literal_eval(answer["data"]["text/plain"])
                except (KeyError, ValueError, SyntaxError, MemoryError, RecursionError):
                    records = None
        if self._checker_down:
            verdict = (False, "CheckerError", f"the trusted checker is not running ({self._checker_down[:200]})")
        elif not isinstance(records, str):
            verdict = (False, "CheckerError", "the notebook's answers for this test never reached the grader "
                                              "(the kernel was busy, died, or the recorder was removed)")
        else:
            try:
                verdict = _CHECKER["checker"].check(cell.source, records, students,
                                                    timeout=self._deadline - time.monotonic())
            except checker.CheckerError as exc:
                verdict = (False, "CheckerError", f"the checker could not judge this test: {exc}")
        passed, ename, message = verdict
        cell.outputs = kept if passed else kept + [_error(ename, message or "the test failed")]
        cell.metadata.setdefault("course", {})["verdict"] = "checker"
        return cell, resources

    def preprocess_cell(self, cell, resources, index):
        from course.core import notebooks
        if cell.cell_type != "code":
            return cell, resources
        is_test = notebooks.is_tests(cell)
        if is_test:
            self._test_cells.add(index)
        if self._stopped:
            cell.outputs = [_error("GradingStopped", f"not run: {self._stopped}")]
            return cell, resources
        if is_test and self._tampered:
            cell.outputs = [_error("IntegrityError", "not run: " + "; ".join(self._tampered[:3]))]
            return cell, resources
        remaining = self._deadline - time.monotonic()
        if remaining <= 1:
            cell.outputs = [_error("NotebookTimeoutError",
                                   f"not run: the notebook used its whole {self.notebook_timeout} s budget")]
            if not STOPS.get(self._key):
                STOPS[self._key] = (f"grading stopped at cell {index}: the notebook used its whole "
                                    f"{self.notebook_timeout} s budget")
                self._notes.append(STOPS[self._key])
            return cell, resources
        first_setup = notebooks.is_setup(cell) and not self._setup_done
        if self._baseline is None and self._probe_ok and not first_setup:
            # before the first cell that is not the (restored, locked) setup cell: no student code has run yet.
            # Only the first setup cell is exempt, so a student's own cell tagged "setup" is probed like any other.
            self._baseline = self._probe()
            if self._baseline is None:
                self._probe_ok = False
            elif "error" in self._baseline:
                self._notes.append(f"no integrity baseline: {self._baseline['error']}")
                self._probe_ok = False
        self._setup_done = self._setup_done or first_setup
        self.timeout = int(max(1, min(self._cell_timeout or remaining, remaining)))
        # After a cell's reply, nbclient waits iopub_timeout (4 s) for the rest of its output, then gives up on
        # the notebook. A flood interrupted at the time limit can take longer than that to drain (it once did
        # under load, and the whole notebook was lost), so allow as long as one cell may run, within the budget.
        saved_iopub = self.iopub_timeout
        self.iopub_timeout = int(max(saved_iopub, min(self.timeout, remaining)))
        try:
            if is_test:
                cell, resources = self._run_test_alone(cell, index, resources)
            else:
                cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError, UnresponsiveKernelError) as exc:
            return self._stop(cell, resources, index, exc)
        finally:
            self.timeout, self.iopub_timeout = self._cell_timeout, saved_iopub
        if first_setup and self._plan is not None:
            from course.grading import checker
            reply = self._silent(checker.RECORDER_SOURCE)
            self._recorder_ready = bool(reply and reply.get("status") == "ok")
            if not self._recorder_ready:
                self._notes.append("the answer recorder could not be installed in the kernel")
        if is_test:
            # credit comes only from the absence of an error: no execute_result or display can earn it
            cell.outputs = [o for o in cell.outputs if o.get("output_type") in ("stream", "error")]
        if self._baseline is not None and self._probe_ok and not self._tampered:
            from course.grading import integrity
            now = self._probe()
            if now is None:
                # an unanswered probe is not a pass: it is a finding, and the probe runs again after the next cell
                # (a stalled probe used to switch itself off for good, silently)
                finding = "the integrity probe got no answer from the kernel after a cell"
                if finding not in self._unverified:
                    self._unverified.append(finding)
            else:
                self._tampered = integrity.differences(self._baseline, now)
            if self._tampered and is_test:
                cell.outputs = [_error("IntegrityError", "; ".join(self._tampered[:3]))]
        return cell, resources

    def _stop(self, cell, resources, index: int, exc: Exception):
        """Grading hit a limit it cannot go past (the kernel died or was killed, or it stopped answering):
        keep this cell's outputs so far (already cut by ``output``), add why, and mark every later cell not run.

        Why not let the exception out: nbgrader then deletes the autograded notebook and records nothing, so
        a submission that printed 1 GiB under load left the instructor with no notebook and no reason. This
        way nbgrader writes the notebook (the cells before the stop are scored as usual, every later test
        cell scores 0 by its error) and ``autograde`` reports the reason from ``STOPS``.
        """
        if isinstance(exc, DeadKernelError):
            why = "the kernel died (it exited, or was killed at a memory, process or time limit)"
        elif "IOPub" in str(exc):
            why = (f"the cell's output did not stop within {self.iopub_timeout} s of its end "
                   "(an output flood, or a kernel that ignored the interrupt at the time limit)")
        else:
            why = f"the kernel stopped answering ({type(exc).__name__})"
        self._stopped = f"grading stopped at cell {index}: {why}"
        STOPS[self._key] = self._stopped
        self._notes.append(self._stopped)
        cell.outputs = list(cell.get("outputs") or []) + [_error("GradingStopped", self._stopped)]
        return cell, resources

    def _probe(self) -> dict | None:
        """Identity facts from the kernel, returned in the execute reply (never through stdout)."""
        from course.grading import integrity
        reply = self._silent("", {"probe": integrity.probe_expression()}, timeout=20.0)
        if reply is None:  # busy (a loop that ignores interrupts), dead, or made to stall
            self._notes.append("the integrity probe got no answer from the kernel (busy or dead)")
            return None
        answer = reply.get("user_expressions", {}).get("probe", {})
        if answer.get("status") != "ok":
            return {"error": f"{answer.get('ename')}: {answer.get('evalue')}"}
        try:
            return json.loads(ast.literal_eval(answer["data"]["text/plain"]))
        except (KeyError, ValueError, SyntaxError):
            return {"error": "the probe's answer was altered"}

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``max_output_bytes`` of output per cell and ``max_notebook_output_bytes`` per notebook.

        Error messages count too, cut to ``max_error_chars`` (an exception's message can be 150 MB); the
        first error of a cell is always kept, since it is what scores the cell.
        """
        if msg.get("msg_type") == "error":
            msg = self._short_error(msg)
        used = self._output_bytes.get(cell_index, 0)
        size = _size(msg.get("content", {}))
        is_error = msg.get("msg_type") == "error"
        if is_error and not any(o.get("output_type") == "error" for o in outs):
            self._output_bytes[cell_index] = used + size
            self._notebook_bytes += size
            return super().output(outs, msg, display_id, cell_index)
        if used > self.max_output_bytes:
            return None
        over_cell = used + size > self.max_output_bytes
        over_notebook = self._notebook_bytes + size > self.max_notebook_output_bytes
        if over_cell or over_notebook:
            self._output_bytes[cell_index] = self.max_output_bytes + 1
            limit = self.max_output_bytes if over_cell else self.max_notebook_output_bytes
            where = f"cell {cell_index}" if over_cell else f"the notebook (at cell {cell_index})"
            self._notes.append(f"{where} printed more than {limit // 1000} kB; the rest was dropped")
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=f"\n[output cut by the grader: {where} printed more than "
                                          f"{limit // 1000} kB]\n"))
            return None
        self._output_bytes[cell_index] = used + size
        self._notebook_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    def _short_error(self, msg: dict) -> dict:
        content = dict(msg.get("content", {}))
        cap = self.max_error_chars

        def cut(text) -> str:
            text = str(text)
            return text if len(text) <= cap else text[:cap] + f" […{len(text) - cap} characters cut by the grader]"
        content["ename"] = cut(content.get("ename", "Error"))[:200]
        content["evalue"] = cut(content.get("evalue", ""))
        lines = [cut(line) for line in (content.get("traceback") or [])[:60]]
        content["traceback"] = lines
        return {**msg, "content": content}

    def clear_output(self, outs, msg, cell_index):
        """A test cell's outputs hold its verdict: nothing may erase an error it raised."""
        if cell_index in self._test_cells:
            return None
        return super().clear_output(outs, msg, cell_index)

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widget comm messages are ignored: their state can be huge and no test reads it."""
        return None


_CHECKER: dict = {}  # one trusted checker process per grading process, started on first use


def _course_root(config, info: dict) -> Path:
    """The course directory nbgrader is grading (from its config, else from the gradebook's URL)."""
    root = config.get("CourseDirectory", {}).get("root") if hasattr(config, "get") else None
    if isinstance(root, str) and root:
        return Path(root)
    url = str(info.get("db_url") or "")
    return Path(url.split("sqlite:///", 1)[-1]).parent if url.startswith("sqlite:///") else Path.cwd()


def _size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


class RestoreCells(OverwriteCells):
    """nbgrader's OverwriteCells, with deleted test cells put back after the nearest cell still present.

    Why: nbgrader puts a deleted test cell back after the previous cell of the source only when that cell is
    an answer or a test, and fails with a KeyError when it is a locked given cell (every given code cell is
    locked, so the tests' helpers are restored too). Here any earlier source cell still in the submission will
    do, and a cell with none before it goes first.
    """

    def add_missing_grade_cells(self, nb, resources):
        from course.core import notebooks
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = {c.name: c for c in source_nb.source_cells}
        order = [c.name for c in source_nb.source_cells]
        grades = {c.name: c for c in source_nb.grade_cells}
        solutions = {c.name for c in source_nb.solution_cells}
        for position, gid in enumerate(order):
            present = {notebooks.grade_id(c): i for i, c in enumerate(nb.cells) if notebooks.grade_id(c)}
            if gid not in grades or gid not in source_cells or gid in present:
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", gid)
            before = [present[p] for p in order[:position] if p in present]
            at = max(before) + 1 if before else 0
            nb.cells.insert(at, self.missing_cell_transform(source_cells[gid], grades[gid].max_score,
                                                            is_solution=gid in solutions))
        return nb, resources

