"""One way to talk to nbgrader: its Python API, configured from the course's own file.

Why the API and not the ``nbgrader`` command: one process grades a whole batch
(nbgrader and torch are imported once), and each submission's success or error
comes back as data, so one broken notebook never stops the rest.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from course.core.errors import CourseError
from course.core.paths import Course, data_root


def load_config(course: Course):
    cfg_file = course.root / "nbgrader_config.py"
    if not cfg_file.is_file():
        raise CourseError(f"{cfg_file} is missing — every course directory needs one (copy the repo's)")
    config = PyFileConfigLoader(cfg_file.name, path=str(course.root)).load_config()
    config.CourseDirectory.root = str(course.root)
    return config


def api(course: Course):
    """An NbGraderAPI for this course directory, quiet unless something fails."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _venv_on_path()
    # graded notebooks run in autograded/<student>/<lab>/, possibly far from the repo: point them at the cache
    os.environ.setdefault("COURSE_DATA", str(data_root()))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle threads sleep: grading runs side by side
    config = load_config(course)
    exchange = config.Exchange.get("root")
    if exchange:
        os.makedirs(exchange, exist_ok=True)
    coursedir = CourseDirectory(config=config)
    nb_api = NbGraderAPI(coursedir=coursedir, config=config)
    nb_api.log.setLevel(logging.WARNING)
    nb_api.log.propagate = False
    for handler in list(nb_api.log.handlers):
        nb_api.log.removeHandler(handler)
    return nb_api


def _venv_on_path() -> None:
    """nbgrader runs ``alembic`` and the kernel by name, so this interpreter's bin/ must be on PATH."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def first_error(result: dict) -> str:
    """The line of nbgrader's log or traceback that says what went wrong."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    exception = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Exit|Interrupt))\b:?")
    for line in lines:
        if exception.match(line) and not line.startswith(("NbGraderException", "nbgrader.converters")):
            return line[:300]
    for line in lines:
        if line.startswith("[ERROR]") and "Traceback" not in line and "above traceback" not in line:
            return line.replace("[ERROR] ", "")[:300]
    return lines[-1][:300] if lines else "unknown error"


@contextlib.contextmanager
def quiet_stderr():
    """Silence the kernel and library chatter that nbgrader lets through to the console."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
