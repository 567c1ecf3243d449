"""Otter plugin shipped in every Gradescope autograder zip that ``python -m course gradescope`` builds.

Why a plugin: students hand in the unchanged Colab release notebook (nbgrader metadata, no otter metadata), and
nbgrader runs each test cell IN PLACE, with the full (visible + hidden) test restored from the source and the
reference solutions of earlier, already judged answers bound while it runs (``course/grading/references.py``).
Otter, left alone, would run its tests once at the end against the notebook's final globals, so a later cell that
rebinds a name, or one broken early answer, would make the two graders disagree. Before otter executes the
notebook, this plugin:

* puts back the release text of every locked given cell (as nbgrader's ``OverwriteCells`` does; this includes the
  setup cell, which switches the labs to their fast grading mode when otter grades);
* replaces each graded test cell (found by its nbgrader ``grade_id``; a deleted one is put back in its place) with a
  call that runs the full test there, with the reference swaps, and records its verdict in the kernel;
* after otter's tests ran (they only read those verdicts: ``tests/<grade_id>.py``), adds the kit's static
  integrity scan to the Gradescope output when ``course_integrity.py`` ships in the zip.

It reads ``course_gradescope.json`` (written by ``course/classroom/gradescope.py``) from its own folder:
``/autograder/source`` on Gradescope, which is on ``sys.path`` because otter's ``run_otter.py`` lives there.
Stand-alone (no import of the kit): the Gradescope image has otter, not the course package.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from otter.plugins import AbstractOtterPlugin

HERE = Path(__file__).resolve().parent
MANIFEST = "course_gradescope.json"

# Runs in the kernel, first: defines the one function every rewritten test cell calls.
RUNTIME = r'''
def __course_runtime__(space):
    import contextlib, io, re, sys, traceback
    from IPython.core.inputtransformer2 import TransformerManager

    def run(gid, source, hidden, swap, restore, ignore):
        """Run the full test of ``gid`` here, as nbgrader would, and record its verdict for otter's test file."""
        verdicts = space.setdefault("__course_verdicts__", {})
        verdict = {"public": None, "hidden": None}
        swapped = False
        if swap:
            try:
                exec(compile(swap, "<reference solutions>", "exec"), space)
                swapped = True
            except Exception:  # as the kit's grader: the student's own answers stay in place
                swapped = False
        err = io.StringIO()
        filename = f"<test {gid}>"
        try:
            code = compile(TransformerManager().transform_cell(source), filename, "exec")
            with contextlib.redirect_stderr(err):
                exec(code, space)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- any error in a test cell costs its points, as in nbgrader
            line = None
            for frame, lineno in traceback.walk_tb(exc.__traceback__):
                if frame.f_code.co_filename == filename:
                    line = lineno
            in_hidden = line is not None and any(a <= line <= b for a, b in hidden)
            if in_hidden:
                verdict["hidden"] = "a hidden test failed"
            else:
                text = f"{type(exc).__name__}: {exc}".strip()
                verdict["public"] = text[:500]
                verdict["hidden"] = "not run: the visible checks failed first"
            print(verdict["hidden"] if in_hidden else verdict["public"])
        finally:
            if swapped:
                try:
                    exec(compile(restore, "<restore answers>", "exec"), space)
                except Exception:
                    pass
        text = err.getvalue()
        if text and not re.match(ignore, text):
            # nbgrader zeroes a test cell that writes to stderr (other than warnings only): so does this
            verdict["public"] = verdict["public"] or "the test cell wrote to stderr (an error message, not only a warning)"
        verdicts[gid] = verdict
        if verdict["public"] is None and verdict["hidden"] is None:
            print(f"graded test {gid}: passed")
        else:
            print(f"graded test {gid}: failed")

    return run

__course_test__ = __course_runtime__(globals())
del __course_runtime__
'''


def load_manifest(folder: Path = HERE) -> dict:
    with open(folder / MANIFEST, encoding="utf-8") as fh:
        return json.load(fh)


def nbgrader_id(cell) -> str | None:
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")


def test_call(question: dict, manifest: dict) -> str:
    """The source of a rewritten test cell: one call, every argument a literal."""
    args = ", ".join(repr(a) for a in (question["id"], question["source"], question["hidden"],
                                       question.get("swap") or "", manifest["restore"], manifest["ignore"]))
    return f"__course_test__({args})"


def rewrite(nb, manifest: dict):
    """The submission as the kit's grader would run it (see the module docstring); a new notebook."""
    questions = {q["id"]: q for q in manifest["questions"]}
    locked = manifest["locked"]
    order = manifest["order"]  # every nbgrader cell id of the release notebook, in order
    seen: set[str] = set()
    cells = []
    for cell in nb.cells:
        gid = nbgrader_id(cell)
        if gid in seen:
            continue  # a duplicated graded or locked cell: nbgrader keeps the first (DeduplicateIds)
        if gid:
            seen.add(gid)
        if gid in questions:
            cell = nbformat.v4.new_code_cell(test_call(questions[gid], manifest), metadata=cell.get("metadata", {}))
        elif gid in locked and cell.get("cell_type") == "code":
            cell = nbformat.v4.new_code_cell(locked[gid], metadata=cell.get("metadata", {}))
        cells.append(cell)
    # a deleted test cell comes back right after the nearest earlier nbgrader cell still there (OverwriteCells)
    for gid in order:
        if gid in questions and gid not in seen:
            earlier = order[: order.index(gid)]
            at = 0
            for i, cell in enumerate(cells):
                if nbgrader_id(cell) in earlier:
                    at = i + 1
            restored = nbformat.v4.new_code_cell(test_call(questions[gid], manifest))
            restored.metadata["nbgrader"] = {"grade_id": gid}
            cells.insert(at, restored)
            seen.add(gid)
    out = nbformat.v4.new_notebook(metadata=nb.get("metadata", {}))
    out.cells = [nbformat.v4.new_code_cell(RUNTIME)] + cells
    return out


class CoursePlugin(AbstractOtterPlugin):
    """Grades the kit's release notebooks under otter as nbgrader does (see the module docstring)."""

    def __init__(self, submission_path, submission_metadata, plugin_config):
        super().__init__(submission_path, submission_metadata, plugin_config)
        self.findings: list[str] = []
        self.scanned = False

    def before_execution(self, submission):
        manifest = load_manifest()
        scanner = HERE / "course_integrity.py"
        if scanner.is_file():
            import importlib.util
            import sys
            try:
                spec = importlib.util.spec_from_file_location("course_integrity", scanner)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module  # dataclasses look their module up there
                spec.loader.exec_module(module)
                trusted = set(manifest.get("trusted") or [])
                self.findings = [str(f) for f in module.scan(submission, trusted)]
            except Exception as exc:  # noqa: BLE001 -- never silent: the output says the scan did not run
                self.findings = [f"the integrity scan could not run ({type(exc).__name__}: {str(exc)[:200]})"]
            self.scanned = True
        return rewrite(submission, manifest)

    def after_grading(self, results):
        if self.findings:
            shown = "\n".join(f"- {f}" for f in self.findings[:20])
            results.set_output(
                "FLAGGED by the course's integrity scan: this notebook contains code that can change how it is "
                "graded. The instructor will regrade it in the course's sandbox.\n" + shown)

    def generate_report(self):
        if not self.scanned:
            return ""
        if not self.findings:
            return "course integrity scan: nothing flagged"
        return "course integrity scan: FLAGGED\n" + "\n".join(f"- {f}" for f in self.findings)
