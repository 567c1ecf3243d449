"""Run a notebook the way a student would: fresh kernel, its own folder, the data cache.

Why one function: solutions, the benchmark and the stand-alone test all need
exactly this, and must agree on the environment (data root, quiet progress
bars, FAST or full mode).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from course.core.environ import overridden
from course.core.errors import CourseError
from course.core.nbg import quiet_stderr
from course.core.paths import data_root


def run(nb: NotebookNode, *, fast: bool = False, workdir: Path | None = None,
        timeout: int = 900, label: str = "notebook", reproducible: bool = False,
        startup: str = "") -> tuple[NotebookNode, float, dict]:
    """Execute ``nb`` in place; return it, the wall time in seconds, and what it record()ed.

    ``reproducible``: the notebook prints no clock times (``took()`` in the setup cell), for outputs that are
    committed and must come out byte for byte the same on a rebuild.
    ``startup``: Python the kernel runs before the first cell (the build's own instruments, never the student's).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    with tempfile.TemporaryDirectory(prefix="course-run-") as tmp:
        folder = Path(workdir or tmp)
        metrics_file = Path(tmp) / "metrics.json"
        extra = []
        if startup:
            hook = Path(tmp) / "startup.py"
            hook.write_text(startup)
            extra = [f"--IPKernelApp.exec_files={hook}"]
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=not reproducible,
                                resources={"metadata": {"path": str(folder)}}, extra_arguments=extra)
        started = time.monotonic()
        with overridden(COURSE_DATA=str(data_root()), COURSE_QUIET="1", COURSE_FAST="1" if fast else None,
                  COURSE_METRICS_FILE=str(metrics_file), NBGRADER_EXECUTION=None, PYTHONWARNINGS="ignore",
                        COURSE_REPRODUCIBLE="1" if reproducible else None):
            try:
                with quiet_stderr():  # the kernel's own start-up chatter
                    client.execute()
            except CellExecutionError as exc:
                first = str(exc).strip().splitlines()
                raise CourseError(f"{label} failed while running: {first[-1] if first else exc}") from None
        seconds = time.monotonic() - started
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return nb, seconds, metrics


def errors(nb: NotebookNode) -> list[str]:
    """Error outputs left in an executed notebook (one line each)."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}")
    return out
