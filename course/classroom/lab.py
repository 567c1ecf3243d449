"""``python -m course lab``: JupyterLab with nbgrader's formgrader, for grading written answers by hand.

Why a command of its own: the formgrader only finds the course when the server
is rooted at the course directory *and* started from it (nbgrader reads
``nbgrader_config.py`` from the working directory), the extension must be on
whatever the user's own Jupyter config says, and the server must listen on
loopback only, because it can run code and read every student's submission.
"""
from __future__ import annotations

import errno
import os
import socket

from course.core import nbg
from course.core.errors import CourseError
from course.core.paths import Course, data_root

HOST = "127.0.0.1"
DEFAULT_PORT = 8888
FORMGRADER = "nbgrader.server_extensions.formgrader"
FORMGRADER_PATH = "/formgrader"


def server_args(course: Course, port: int, open_browser: bool = True) -> list[str]:
    """The JupyterLab command-line arguments (without the program): a pure function, so it is testable.

    The formgrader is switched on here, on the command line, because command-line
    settings win over the user's config files: a stray ``jupyter server extension
    disable`` in someone's home cannot silently remove the grading UI.
    """
    args = [
        f"--ServerApp.root_dir={course.root}",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        # The port asked for, or a clear error: never a different port the instructor does not know about.
        "--ServerApp.port_retries=0",
        f"--ServerApp.open_browser={open_browser}",
        f"--ServerApp.jpserver_extensions={FORMGRADER}=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and course VMs often run as root; Jupyter would refuse and exit. It listens on
        # loopback only and asks for a token, so root adds no exposure beyond the machine itself.
        args.append("--ServerApp.allow_root=True")
    return args


def check(course: Course, port: int) -> None:
    """Fail with what to do, before Jupyter starts and buries the reason in its log."""
    if not 1 <= port <= 65535:
        raise CourseError(f"--port {port} is not a TCP port — choose one between 1024 and 65535")
    try:
        import jupyterlab  # noqa: F401
        import nbgrader.server_extensions.formgrader  # noqa: F401
    except ImportError as exc:
        raise CourseError(f"JupyterLab or nbgrader is missing ({exc.name}) — run `make install`") from exc
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CourseError(f"port {port} on {HOST} is in use (another Jupyter?) — "
                                  f"stop it or choose another with --port") from exc
            raise CourseError(f"cannot listen on {HOST}:{port} ({exc.strerror}) — choose another --port") from exc


def serve(course: Course, port: int = DEFAULT_PORT, open_browser: bool = True) -> None:
    """Run JupyterLab in this process until it is stopped (Ctrl-C twice, or File → Shut Down).

    In-process rather than a child process: Jupyter's own Ctrl-C handling then
    works as usual and there is no second process to clean up.
    """
    config = nbg.load_config(course)  # a CourseError if this is no course directory
    check(course, port)
    exchange = config.Exchange.get("root")
    if exchange:  # otherwise the formgrader logs "Unwritable directory" on every page
        os.makedirs(exchange, exist_ok=True)
    # The gradebook shells out to `alembic`, and notebooks opened in the Lab look for the data cache:
    # both must work when the venv is not activated (`.venv/bin/python -m course lab`).
    nbg._venv_on_path()
    os.environ.setdefault("COURSE_DATA", str(data_root()))
    print(f"formgrader: http://{HOST}:{port}{FORMGRADER_PATH} "
          "(or in JupyterLab: Nbgrader → Formgrader); stop with Ctrl-C", flush=True)
    os.chdir(course.root)  # nbgrader reads nbgrader_config.py from the working directory
    from jupyterlab.labapp import LabApp
    LabApp.launch_instance(argv=server_args(course, port, open_browser))


def formgrader_url(port: int, token: str = "") -> str:
    """Where the formgrader's assignment list is served (with a login token, if any)."""
    return f"http://{HOST}:{port}{FORMGRADER_PATH}" + (f"?token={token}" if token else "")

