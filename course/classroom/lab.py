"""``python -m course lab``: JupyterLab with nbgrader's formgrader, for grading written answers by hand.

Why a command of its own: the formgrader only finds the course when the server
is rooted at the course directory *and* started from it (nbgrader reads
``nbgrader_config.py`` from the working directory), the extension must be on
whatever the user's own Jupyter config says, and the server must listen on
loopback only, because it can run code and read every student's submission.

Hardening (issue 14: a ``<script>`` in a student's Markdown answer ran in the
formgrader with the instructor's token). The cure is
``course.grading.sanitise``, which makes autograded notebooks inert before the
formgrader renders them; this server also limits what a script that still got
in could do:

- no terminals (``terminals_enabled=False``): a terminal is a root shell one
  WebSocket away;
- a contents API that cannot write the course (``GradingContentsManager``):
  the formgrader itself never writes through the contents API (manual grades go
  through its own handlers into ``gradebook.db``; its autograde, feedback and
  release buttons call nbgrader's Python API in this process), so every save,
  rename, delete and checkpoint restore is refused except under ``build/`` (the
  ignored scratch folder, for an instructor's own notebooks). Being root makes
  chmod useless, so the check is in the server, and on the real path (``..``
  and symlinks resolved) so ``build/../source`` is refused too;
- nbconvert's ``sanitize_html`` for the formgrader's exporter (rich outputs
  go through bleach, JavaScript outputs and widget state are not written);
- a Content-Security-Policy (``CSP``) that keeps the page's requests on this
  server: no fetch, image or form to another host, so nothing read can leave
  the machine, and no framing. It must allow inline scripts (the formgrader's
  templates are full of them), so it is a limit on exfiltration, not a cure
  for script injection.

Math (issue 16: offline, the grading page showed raw LaTeX, because nbgrader's
template loads MathJax from cdnjs): this server serves the kit's own MathJax
(``slides/node_modules/mathjax-full``, the one the slides are typeset with) under
``/static/es5/``, and puts ``course/templates/jupyter`` on ``JUPYTER_PATH``, whose
``formgrade/mathjax.html.j2`` replaces nbconvert's macro for the formgrader's
template only (see that file). So no page of this server needs another host.

Not closed here: a script with the token can still start a kernel through
``/api/kernels``, and kernels of this server run as the instructor.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import socket

from pathlib import Path

from course.build import slides
from course.core import nbg
from course.core.errors import CourseError
from course.core.paths import Course, data_root
from course.grading import gradebook

HOST = "127.0.0.1"
DEFAULT_PORT = 8888
FORMGRADER = "nbgrader.server_extensions.formgrader"
FORMGRADER_PATH = "/formgrader"
CONTENTS_MANAGER = "course.classroom.lab.GradingContentsManager"
WRITABLE = ("build",)  # the only folders of the course the Lab's contents API may write
JUPYTER_TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "jupyter"  # formgrade/mathjax.html.j2
MATHJAX = slides.NODE_MODULES / "mathjax-full"  # served under /static/: es5/tex-svg.js and its components
MATHJAX_URL = "/static/es5/tex-svg.js"  # what the macro in JUPYTER_TEMPLATES loads
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",  # JupyterLab and the formgrader's inline scripts
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self' data:",
    "img-src 'self' data: blob:",
    "connect-src 'self'",  # the REST API and kernel WebSockets of this server, nothing else
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])


def server_args(course: Course, port: int, open_browser: bool = True, token: str = "") -> list[str]:
    """The JupyterLab command-line arguments (without the program): a pure function, so it is testable.

    The formgrader is switched on here, on the command line, because command-line
    settings win over the user's config files: a stray ``jupyter server extension
    disable`` in someone's home cannot silently remove the grading UI. The
    ``token`` is set the same way, so the address printed by :func:`serve` logs in
    whatever a config file says; these arguments are parsed in this process and
    never appear in ``ps``.
    """
    args = [
        f"--ServerApp.root_dir={course.root}",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        # The port asked for, or a clear error: never a different port the instructor does not know about.
        "--ServerApp.port_retries=0",
        f"--ServerApp.open_browser={open_browser}",
        f"--ServerApp.jpserver_extensions={FORMGRADER}=True",
        # Defence in depth against a script in a student's answer (see the module docstring).
        "--ServerApp.terminals_enabled=False",
        f"--ServerApp.contents_manager_class={CONTENTS_MANAGER}",
        "--ServerApp.tornado_settings=" + json.dumps({"headers": {"Content-Security-Policy": CSP}}),
        "--HTMLExporter.sanitize_html=True",
        # The kit's MathJax for the grading page (see the module docstring and serve()).
        "--ServerApp.extra_static_paths=" + json.dumps([str(MATHJAX)]),
    ]
    if token:
        args.append(f"--IdentityProvider.token={token}")
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
    gradebook.check(course)  # the formgrader would quietly create an empty gradebook in place of a lost one
    kept = gradebook.backup(course)
    exchange = config.Exchange.get("root")
    if exchange:  # otherwise the formgrader logs "Unwritable directory" on every page
        os.makedirs(exchange, exist_ok=True)
    # The gradebook shells out to `alembic`, and notebooks opened in the Lab look for the data cache:
    # both must work when the venv is not activated (`.venv/bin/python -m course lab`).
    nbg._venv_on_path()
    os.environ.setdefault("COURSE_DATA", str(data_root()))
    use_kit_mathjax()
    # The address that logs in: a token of our own (or the one in $JUPYTER_TOKEN), not Jupyter's login page.
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)
    if kept is not None:
        print(f"gradebook backed up to {kept}", flush=True)
    print(f"formgrader: {formgrader_url(port, token)}\n"
          "  (or in JupyterLab: Nbgrader → Formgrader); stop with Ctrl-C", flush=True)
    os.chdir(course.root)  # nbgrader reads nbgrader_config.py from the working directory
    from jupyterlab.labapp import LabApp
    try:
        LabApp.launch_instance(argv=server_args(course, port, open_browser, token))
    finally:
        gradebook.backup(course)  # hand grades given in this session are in the newest backup


def use_kit_mathjax() -> None:
    """Make the formgrader's template load the kit's MathJax from this server (see the module docstring).

    ``JUPYTER_PATH`` is read by nbconvert each time it looks for a template, and only
    the "formgrade" template's folders hold the replacement macro, so JupyterLab's own
    "export as HTML" is unchanged. Without ``npm ci --prefix slides`` the math stays TeX.
    """
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if str(JUPYTER_TEMPLATES) not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(JUPYTER_TEMPLATES), *paths])
    try:
        slides.ensure_node_modules()  # the pinned MathJax, installed on first use as the slides do (npm ci)
    except CourseError as exc:
        print(f"warning: the grading page will show math as TeX: {exc}", flush=True)


def formgrader_url(port: int, token: str = "") -> str:
    """Where the formgrader's assignment list is served (with a login token, if any)."""
    return f"http://{HOST}:{port}{FORMGRADER_PATH}" + (f"?token={token}" if token else "")


def _grading_contents_manager() -> type:
    """Build ``GradingContentsManager`` (on first use, so importing this module does not import Jupyter)."""
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

    class GradingContentsManager(AsyncLargeFileManager):
        """JupyterLab's usual file manager, except that it writes only under ``WRITABLE`` folders of the course.

        Why: the grading server must not be able to change ``nbgrader_config.py``
        (it is Python that every nbgrader run executes), ``source/`` (solutions and
        hidden tests) or anything else of the course, whatever a page asks of it.
        Reading stays allowed: the formgrader links to source and submitted
        notebooks for viewing.
        """

        def _refuse_outside_writable(self, path: str) -> None:
            from tornado import web
            real = Path(os.path.realpath(self._get_os_path(path.strip("/"))))
            root = Path(os.path.realpath(self.root_dir))
            if any(real == root / d or root / d in real.parents for d in WRITABLE):
                return
            raise web.HTTPError(403, f"the grading server does not write {path!r}: it writes only under "
                                     f"{', '.join(d + '/' for d in WRITABLE)} (see course/classroom/lab.py)")

        async def save(self, model, path=""):
            self._refuse_outside_writable(path)
            return await super().save(model, path)

        async def delete_file(self, path):
            self._refuse_outside_writable(path)
            return await super().delete_file(path)

        async def rename_file(self, old_path, new_path):
            self._refuse_outside_writable(old_path)
            self._refuse_outside_writable(new_path)
            return await super().rename_file(old_path, new_path)

        async def restore_checkpoint(self, checkpoint_id, path):
            self._refuse_outside_writable(path)
            return await super().restore_checkpoint(checkpoint_id, path)

        async def create_checkpoint(self, path):
            self._refuse_outside_writable(path)
            return await super().create_checkpoint(path)

        async def delete_checkpoint(self, checkpoint_id, path):
            self._refuse_outside_writable(path)
            return await super().delete_checkpoint(checkpoint_id, path)

    GradingContentsManager.__module__ = __name__
    GradingContentsManager.__qualname__ = "GradingContentsManager"
    return GradingContentsManager


def __getattr__(name: str):
    """``course.classroom.lab.GradingContentsManager``, the name Jupyter imports (``CONTENTS_MANAGER``)."""
    if name == "GradingContentsManager":
        cls = globals()["GradingContentsManager"] = _grading_contents_manager()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
