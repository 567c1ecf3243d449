"""nbgrader preprocessors the kit adds.

Why: nbgrader limits each cell (30 s by default) but not a whole notebook, so a
submission that is slow in every cell can hold the batch for an hour. The
budgeted executor gives every notebook a deadline; cells that would run past it
are not run and get an error output, so their tests score 0 rather than
silently passing. It also caps how much output a cell may send (a 1 GB print
must not fill the grader's memory or the autograded notebook), starts the
sandboxed kernel when grading is sandboxed, and runs the integrity probe
(``course.grading.integrity``) after every cell.
"""
from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer


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
    integrity_probe = Bool(
        True, help="Check after every cell that the functions tests rely on were not replaced."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._cell_timeout = self.timeout
        self._output_bytes: dict[int, int] = {}
        self._baseline: dict | None = None
        self._tampered: list[str] = []
        self._notes: list[str] = []
        self._probe_ok = self.integrity_probe
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
        try:
            return super().preprocess(nb, resources, km)
        finally:
            from course.grading import integrity
            integrity.write_runtime(folder, self._tampered, self._notes)

    def preprocess_cell(self, cell, resources, index):
        from course.core import notebooks
        if cell.cell_type != "code":
            return cell, resources
        is_test = notebooks.is_tests(cell)
        if is_test and self._tampered:
            cell.outputs = [_error("IntegrityError", "not run: " + "; ".join(self._tampered[:3]))]
            return cell, resources
        remaining = self._deadline - time.monotonic()
        if remaining <= 1:
            cell.outputs = [_error("NotebookTimeoutError",
                                   f"not run: the notebook used its whole {self.notebook_timeout} s budget")]
            return cell, resources
        if self._baseline is None and self._probe_ok and not notebooks.is_setup(cell):
            self._baseline = self._probe()  # after the (restored, locked) setup cell: imports done, no student code
            if self._baseline is not None and "error" in self._baseline:
                self._notes.append(f"no integrity baseline: {self._baseline['error']}")
                self._probe_ok = False
        self.timeout = int(max(1, min(self._cell_timeout or remaining, remaining)))
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            self.timeout = self._cell_timeout
        if self._baseline is not None and self._probe_ok and not self._tampered:
            from course.grading import integrity
            now = self._probe()
            if now is not None:
                self._tampered = integrity.differences(self._baseline, now)
                if self._tampered and is_test:
                    cell.outputs = [_error("IntegrityError", "; ".join(self._tampered[:3]))]
        return cell, resources

    def _probe(self) -> dict | None:
        """Identity facts from the kernel, returned in the execute reply (never through stdout)."""
        from jupyter_core.utils import run_sync

        from course.grading import integrity
        timeout = min(20.0, max(1.0, self._deadline - time.monotonic()))
        try:
            msg_id = self.kc.execute("", silent=True, store_history=False,
                                     user_expressions={"probe": integrity.probe_expression()})
            end = time.monotonic() + timeout
            while True:
                msg = run_sync(self.kc.get_shell_msg)(timeout=max(0.1, end - time.monotonic()))
                if msg["parent_header"].get("msg_id") == msg_id:
                    break
        except Exception:  # noqa: BLE001 — busy (a loop that ignores interrupts) or dead: the cells fail anyway
            self._probe_ok = False
            self._notes.append("the integrity probe got no answer from the kernel (busy or dead)")
            return None
        answer = msg["content"].get("user_expressions", {}).get("probe", {})
        if answer.get("status") != "ok":
            return {"error": f"{answer.get('ename')}: {answer.get('evalue')}"}
        try:
            return json.loads(ast.literal_eval(answer["data"]["text/plain"]))
        except (KeyError, ValueError, SyntaxError):
            return {"error": "the probe's answer was altered"}

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``max_output_bytes`` of output per cell; say so once when cutting."""
        used = self._output_bytes.get(cell_index, 0)
        if used > self.max_output_bytes:
            return None
        size = _size(msg.get("content", {}))
        if used + size > self.max_output_bytes and msg.get("msg_type") != "error":
            self._output_bytes[cell_index] = self.max_output_bytes + 1
            self._notes.append(f"cell {cell_index} printed more than {self.max_output_bytes // 1000} kB; "
                               "the rest was dropped")
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=f"\n[output cut by the grader: more than "
                                          f"{self.max_output_bytes // 1000} kB]\n"))
            return None
        self._output_bytes[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


def _size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback preprocessor: students see their score and the reason, never the hidden tests.

    Why: nbgrader's feedback shows the autograded notebook, in which the hidden
    tests were restored, and a failed assert's traceback quotes the test line.
    Test cells keep only their visible part, and an error keeps only its one-line
    message (the assert's text, or the student's own exception). A submission
    may also have read a test's source while it ran (its function sees the
    caller's frame) and printed it later: any output line that quotes a hidden
    test line, in any cell, is replaced.
    """

    def preprocess(self, nb, resources):
        from course.core import notebooks
        self._hidden = {ln.strip() for cell in nb.cells if notebooks.is_tests(cell)
                        for ln in notebooks.hidden_test_lines(cell.source) if len(ln.strip()) >= 8}
        return super().preprocess(nb, resources)

    def _scrub(self, text: str) -> str:
        if not self._hidden or not any(h in text for h in self._hidden):
            return text
        return "\n".join("[a line of a hidden test was removed]" if any(h in ln for h in self._hidden) else ln
                         for ln in text.split("\n"))

    def preprocess_cell(self, cell, resources, index):
        from course.core import notebooks
        if notebooks.is_tests(cell):
            cell.source = notebooks.strip_hidden_tests(cell.source)
            kept = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    message = out.get("evalue") or "a hidden check failed"
                    kept.append(_error(out.get("ename", "Error"), message))
            cell.outputs = kept
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = self._scrub(out["text"])
            if out.get("output_type") == "error":
                out["evalue"] = self._scrub(out.get("evalue", ""))
                out["traceback"] = [self._scrub(t) for t in out.get("traceback", [])]
            for mime, value in (out.get("data") or {}).items():
                if isinstance(value, str) and mime.startswith("text/"):
                    out["data"][mime] = self._scrub(value)
        return cell, resources
