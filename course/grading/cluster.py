"""``autograde --cluster ADDRESS``: grade on a dask.distributed cluster, with the same sandbox and scores.

Why this split: the gradebook is SQLite (one writer), and its records must be nbgrader's own. So nbgrader's
whole autograde pipeline stays on the coordinator (``api.autograde`` per submission, as with ``--jobs``), and
only its execution step moves: :class:`RemoteExecute` takes the place of ``BudgetedExecute`` and ships the
sanitised notebook (test cells already restored from the gradebook by nbgrader) to a worker, which runs the
real ``BudgetedExecute`` in its bubblewrap sandbox with warm kernels and sends back the executed notebook, why
it stopped (``STOPS``) and the runtime integrity findings. Everything after execution (``SaveAutoGrades``,
lateness, sanitising, the integrity report) runs on the coordinator, as in local grading.

Workers share no filesystem with the coordinator: each task carries a small course bundle (the config, the
release notebook, the source notebook's code cells: its test cells and the reference solutions
``references.py`` swaps in) and one submission's folder; a worker grades in a scratch course of its own.

Concurrency on the coordinator: one thread per in-flight submission, and one lock that every thread holds
while it runs nbgrader, released only while it waits for its worker. nbgrader is not thread-safe (its API
object, working directory, environment and logger are shared state), so this keeps every gradebook write and
every nbgrader step serial, as in a single process, while N notebooks execute on N workers.
"""
from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nbgrader.preprocessors import NbGraderPreprocessor

from course.core import nbg, notebooks
from course.core.errors import CourseError
from course.core.paths import Course
from course.core.progress import step
from course.core.text import printable
from course.grading import integrity, nbgrader_ext, sandbox
from course.grading.nbgrader_ext import Interrupted

MAX_FILES_BYTES = 100 * 2**20  # a submission folder's other files, sent to the worker with the notebook
CONNECT_TIMEOUT_S = 15
WORKER_WAIT_S = 120  # how long a reachable scheduler may take to have at least one worker


# ------------------------------------------------------------------------------------------- the address

@dataclass
class Target:
    """Where to grade: ``local`` (a LocalCluster of ``workers`` processes) or a scheduler ``address``."""
    address: str = ""
    workers: int = 0

    @property
    def local(self) -> bool:
        return not self.address


def parse(spec: str, insecure: bool = False) -> Target:
    """``local:N`` or a scheduler address; refuse a plain TCP address off this machine unless ``insecure``.

    Why refuse: dask's TCP transport is unauthenticated and carries pickles, so anyone who can reach the
    scheduler can run code as the grader. Loopback (an SSH tunnel ends there) and ``tls://`` are accepted.
    """
    spec = (spec or "").strip()
    if spec.startswith("local:") or spec == "local":
        count = spec.partition(":")[2] or "0"
        if not count.isdigit():
            raise CourseError(f"--cluster {printable(spec)}: give local:N with N a number of workers (0: every core)")
        return Target(workers=int(count))  # 0: every core (autograde resolves it as it does --jobs 0)
    if "://" not in spec:
        spec = "tcp://" + spec
    parts = urlsplit(spec)
    if parts.scheme not in ("tcp", "tls", "ws", "wss"):
        raise CourseError(f"--cluster {printable(spec)}: unknown scheme {parts.scheme!r} — use tls://HOST:PORT, "
                          "tcp://127.0.0.1:PORT (an SSH tunnel) or local:N")
    if not parts.hostname or not parts.port:
        raise CourseError(f"--cluster {printable(spec)}: give the scheduler as SCHEME://HOST:PORT")
    if parts.scheme in ("tcp", "ws") and not _loopback(parts.hostname) and not insecure:
        raise CourseError(
            f"--cluster {printable(spec)}: plain {parts.scheme}:// to another machine is unauthenticated and "
            "carries pickles (anyone who reaches the scheduler runs code as you) — use tls:// with certificates "
            "or an SSH tunnel to 127.0.0.1 (see docs/instructor.md, \"Grading on a cluster\"), or pass --insecure "
            "on a network you trust")
    return Target(address=spec)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------- worker side

_STATE: dict[str, Any] = {}  # per worker process: the plugin's folder, sandbox config, scratch courses


def _quiet_dask_logs() -> None:
    """dask's INFO chatter off; a nanny that has to kill its worker at shutdown still says so."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    logging.getLogger("distributed.nanny").setLevel(logging.WARNING)


try:  # dask is optional for everything but --cluster; the plugin class needs its base class
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover — dask is a declared dependency
    _PluginBase = object  # type: ignore[assignment,misc]


class SandboxPlugin(_PluginBase):  # type: ignore[misc,valid-type]
    """Makes a dask worker a grading process: sandbox on once per worker (setup), fork server off (teardown).

    Why a plugin and not a step in each task: activating the sandbox (a private folder, a runtime tmpfs, a
    control group) and warming the fork server (torch imported once) cost seconds; a worker does it once and
    grades many notebooks. Teardown stops the fork server and the trusted checker, so a closing worker exits
    at once instead of being killed by its nanny.
    """

    name = "course-sandbox"

    def __init__(self, sandboxed: bool = True):
        self.sandboxed = sandboxed

    async def setup(self, worker=None) -> None:
        """Off the worker's event loop: making the sandbox takes seconds, and heartbeats must go on."""
        import asyncio
        await asyncio.get_running_loop().run_in_executor(None, self._setup)

    async def teardown(self, worker=None) -> None:
        import asyncio
        await asyncio.get_running_loop().run_in_executor(None, self._teardown)

    def _setup(self) -> None:
        _STATE.clear()
        base = tempfile.mkdtemp(prefix="course-worker-")
        _STATE.update(base=base, error="", config=None, courses={}, sandboxed=self.sandboxed)
        sandbox.one_math_thread_per_kernel()
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from course.core.paths import data_root
        os.environ.setdefault("COURSE_DATA", str(data_root()))
        nbg._venv_on_path()
        if not self.sandboxed:
            os.environ[sandbox.OFF_ENV] = "1"
            return
        try:
            _STATE["config"] = sandbox.activate(under=base)
        except Exception as exc:  # noqa: BLE001 — reported to the coordinator by worker_status, before grading
            _STATE["error"] = f"{type(exc).__name__}: {exc}"

    def _teardown(self) -> None:
        checker = nbgrader_ext._CHECKER.pop("checker", None)
        if checker is not None:
            with contextlib.suppress(Exception):
                checker.close()
        sandbox.stop_forkserver()
        config = _STATE.get("config")
        if config is not None:
            with contextlib.suppress(Exception):
                sandbox._release(config, remove_folder=False)
        if _STATE.get("base"):
            shutil.rmtree(_STATE["base"], ignore_errors=True)
        _STATE.clear()


def worker_status() -> dict:
    """Run on every worker before grading: can it grade (sandbox made, course package importable)?"""
    return {"ready": bool(_STATE.get("base")) and not _STATE.get("error"), "error": _STATE.get("error", ""),
            "host": socket.gethostname(), "pid": os.getpid(),
            "sandbox": sandbox.describe() if _STATE.get("config") is not None else "off"}


def _scratch(bundle: dict) -> Course:
    """This worker's scratch course for ``bundle`` (written once per worker and bundle)."""
    courses = _STATE.setdefault("courses", {})
    if bundle["digest"] in courses:
        return courses[bundle["digest"]]
    base = _STATE.get("base") or tempfile.mkdtemp(prefix="course-worker-")
    root = Path(tempfile.mkdtemp(prefix="course-", dir=base))
    for rel, data in bundle["files"].items():
        path = root / _safe_relative(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    courses[bundle["digest"]] = Course(root)
    return courses[bundle["digest"]]


def _safe_relative(rel: str) -> Path:
    path = Path(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise CourseError(f"refusing a bundle path that leaves the scratch course: {printable(rel)}")
    return path


def execute_remote(bundle: dict, info: dict, nb_json: str, files: dict[str, bytes]) -> dict:
    """Worker task: run the real ``BudgetedExecute`` on one sanitised notebook, in this worker's sandbox.

    Returns the executed notebook (JSON text), why grading stopped ('' if it did not) and the runtime
    integrity findings, exactly what ``BudgetedExecute`` leaves behind in a local grading process.
    """
    import nbformat
    if _STATE.get("error"):
        raise CourseError(f"this worker cannot sandbox student code: {_STATE['error']}")
    if not _STATE.get("base"):
        raise CourseError("this worker was not set up for grading (the course-sandbox plugin did not run)")
    course = _scratch(bundle)
    lab, student = info["assignment"], info["student"]
    folder = course.autograded / student / lab
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for rel, data in files.items():
        path = folder / _safe_relative(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    nb = nbformat.reads(nb_json, as_version=4)
    config = nbg.load_config(course)
    executor = nbgrader_ext.BudgetedExecute(config=config)
    resources = {"nbgrader": {**info, "db_url": f"sqlite:///{course.root / 'gradebook.db'}"},
                 "metadata": {"path": str(folder), "name": lab}}
    key = (lab, student)
    started = time.monotonic()
    saved = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        with nbg.quiet_stderr():
            nb, _ = executor.preprocess(nb, resources)
        stop = nbgrader_ext.STOPS.pop(key, "")
        record = folder / integrity.RUNTIME_NAME
        runtime = json.loads(record.read_text()) if record.is_file() else {"tampered": [], "notes": []}
    finally:
        if saved is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = saved
        shutil.rmtree(folder, ignore_errors=True)
    return {"notebook": nbformat.writes(nb), "stop": stop, "tampered": runtime.get("tampered", []),
            "notes": runtime.get("notes", []), "seconds": time.monotonic() - started,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


# ------------------------------------------------------------------------------------------- coordinator side

def bundle(course: Course, lab: str) -> dict:
    """What a worker needs to grade ``lab``: config, release notebook, the source's code cells, other files.

    Why the source's code cells only: the worker needs the test cells (nbgrader has restored them in the
    notebook it is sent, but the checker plans from them) and the reference solutions (``references.py``);
    the Markdown is not needed, so it is not handed out.
    """
    source = notebooks.read(course.source_notebook(lab))
    source.cells = [c for c in source.cells if c.cell_type == "code"]
    for cell in source.cells:
        cell.outputs, cell.execution_count = [], None
    import nbformat
    files = {"nbgrader_config.py": (course.root / "nbgrader_config.py").read_bytes(),
             f"source/{lab}/{lab}.ipynb": nbformat.writes(source).encode(),
             f"release/{lab}/{lab}.ipynb": course.release_notebook(lab).read_bytes()}
    for path in sorted((course.source / lab).rglob("*")):  # data files a lab ships beside its notebook
        if path.is_file() and not path.is_symlink() and path.suffix != ".ipynb":
            files[f"source/{lab}/{path.relative_to(course.source / lab).as_posix()}"] = path.read_bytes()
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return {"lab": lab, "digest": digest.hexdigest(), "files": files}


def _folder_files(folder: Path, notebook: str) -> dict[str, bytes]:
    """The other files nbgrader put in the autograded folder (the submission's and the lab's), for the kernel.

    The grader's own record names are left out: a planted one is found on the coordinator, once, as locally.
    """
    files: dict[str, bytes] = {}
    total = 0
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in (integrity.RUNTIME_NAME, integrity.REPORT_NAME) or path.is_symlink() or not path.is_file():
            continue
        if rel.as_posix() == notebook:
            continue  # the notebook itself travels as the executor's input
        total += path.stat().st_size
        if total > MAX_FILES_BYTES:
            raise CourseError(f"the submission's folder holds more than {MAX_FILES_BYTES // 2**20} MiB of other "
                              "files; it is not sent to a cluster worker — grade it with --jobs")
        files[rel.as_posix()] = path.read_bytes()
    return files


class WorkerDiedError(Exception):
    """The workers grading one submission died (twice, or as often as the scheduler allows)."""


class RemoteExecute(NbGraderPreprocessor):
    """Takes ``BudgetedExecute``'s place on the coordinator: execution happens on a cluster worker.

    What comes back is put where ``BudgetedExecute`` would have put it: the executed notebook is returned to
    nbgrader, the stop reason goes into ``nbgrader_ext.STOPS`` and the runtime findings into the folder's
    runtime record, so ``autograde._run_one`` and every later preprocessor see what local grading produces.
    """

    def preprocess(self, nb, resources):
        import nbformat
        batch = _BATCH.get("batch")
        if batch is None:
            raise CourseError("RemoteExecute runs only inside `autograde --cluster`")
        info = {k: str(v) for k, v in ((resources or {}).get("nbgrader") or {}).items()
                if k in ("assignment", "student", "notebook")}
        lab, student = info["assignment"], info["student"]
        folder = Path((resources or {}).get("metadata", {}).get("path") or ".")
        files = _folder_files(folder, f"{info.get('notebook') or lab}.ipynb")
        answer = batch.execute(lab, student, info, nbformat.writes(nb), files)
        if answer.get("stop"):
            nbgrader_ext.STOPS[(lab, student)] = answer["stop"]
        integrity.write_runtime(folder, list(answer.get("tampered") or []), list(answer.get("notes") or []))
        return nbformat.reads(answer["notebook"], as_version=4), resources


_BATCH: dict[str, "Batch"] = {}
# The last batch's figures, for ``bench --cohort --cluster``: the coordinator's serial work (nbgrader's steps
# before and after execution, the gradebook writes) bounds how many workers one coordinator can keep busy.
LAST: dict[str, float] = {}


@dataclass
class Batch:
    """One ``autograde --cluster`` run: the client, the coordinator lock and what each task needs."""
    client: Any
    course: Course
    bundles: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    queued: dict[tuple[str, str], float] = field(default_factory=dict)  # seconds waiting for a free worker
    lost: str = ""  # why the cluster itself went away mid-batch (the batch stops; no submission is zeroed)
    released: dict[tuple[str, str], float] = field(default_factory=dict)  # seconds a thread waited on a worker
    held: list[float] = field(default_factory=list)  # seconds of coordinator work (under the lock) per notebook

    def execute(self, lab: str, student: str, info: dict, nb_json: str, files: dict[str, bytes]) -> dict:
        """Run one notebook on a worker; the coordinator lock is released while it runs.

        A worker that dies mid-notebook: the scheduler reschedules the task (``allowed-failures``, 1 on a
        ``local:N`` cluster), then reports ``KilledWorker``, and the submission fails, named, scored 0.
        """
        from distributed import KilledWorker, wait
        if lab not in self.bundles:
            self.bundles[lab] = bundle(self.course, lab)
        the_bundle = self.bundles[lab]
        key = f"autograde-{lab}-{student}-{uuid.uuid4().hex[:8]}"
        self.lock.release()
        sent = time.monotonic()
        try:
            future = self.client.submit(execute_remote, the_bundle, info, nb_json, files, key=key, pure=False)
            try:
                while not self.stop.is_set() and not future.done():
                    with contextlib.suppress(TimeoutError):  # wakes up at once when the task ends
                        wait([future], timeout=0.5)
                if self.stop.is_set():
                    future.cancel()
                    raise Interrupted()
                answer = future.result()
                # a notebook's time is its own: not the wait for a free worker (the next one is sent early)
                self.queued[(lab, student)] = max(0.0, time.monotonic() - sent - float(answer.get("seconds", 0)))
                return answer
            except KilledWorker as exc:
                self.failures[(lab, student)] = (
                    f"the cluster workers grading it died ({_killed_count(exc)}; out of memory? killed?) — "
                    "grade it again alone")
                raise WorkerDiedError(self.failures[(lab, student)]) from None
            except Interrupted:
                raise
            except Exception as exc:  # noqa: BLE001 — the worker's own error, named in the report
                if self.client.status not in ("running", "connecting"):
                    # the scheduler is gone: not this student's fault, so no zero; the batch stops here
                    self.lost = self.lost or f"lost the Dask scheduler ({type(exc).__name__}: {str(exc)[:200]})"
                    self.stop.set()
                    raise Interrupted() from None
                self.failures[(lab, student)] = f"grading failed on a cluster worker ({type(exc).__name__}: " \
                                                f"{str(exc)[:300]})"
                raise
        finally:
            self.lock.acquire()
            self.released[(lab, student)] = time.monotonic() - sent
            # nbgrader set this around the execution step, and another thread's step, ending meanwhile, deleted
            # it (nbgrader.utils.setenv restores "no such variable"): set it back for the steps that follow
            os.environ["NBGRADER_EXECUTION"] = "autograde"


def _killed_count(exc: Exception) -> str:
    allowed = getattr(exc, "allowed_failures", None)
    return f"{allowed + 1} times" if isinstance(allowed, int) else "repeatedly"


@contextlib.contextmanager
def connect(target: Target, sandboxed: bool = True):
    """A dask Client for ``target`` with the sandbox plugin on every worker, or one CourseError.

    Why first, before anything in the course changes: an unreachable scheduler, a cluster with no workers or
    a worker that cannot sandbox must stop the run before backups, keep-aside folders or grades.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover — declared dependencies
        raise CourseError(f"--cluster needs dask and distributed ({exc}) — `pip install dask distributed`")
    _quiet_dask_logs()
    cluster = None
    settings = {"distributed.scheduler.allowed-failures": 1,  # one retry, then the submission fails
                "distributed.scheduler.worker-saturation": 1.0,  # a task waits on the scheduler, not a worker
                "distributed.worker.daemon": False,  # a worker runs a fork server and kernels: its children
                "distributed.admin.tick.limit": "60s"}  # grading holds the GIL in bursts; no warnings for that
    with dask.config.set(settings):
        try:
            if target.local:
                # the scheduler listens on loopback only; each worker a process with one thread
                cluster = LocalCluster(n_workers=target.workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None, memory_limit=0,
                                       silence_logs=logging.ERROR)
                client = Client(cluster, timeout=CONNECT_TIMEOUT_S)
                _quiet_dask_logs()  # again: the cluster set its own levels
            else:
                client = Client(target.address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise CourseError(f"cannot reach the Dask scheduler at {printable(target.address or 'local')}: "
                              f"{printable(str(exc), 200)} — is `dask scheduler` running there (and the SSH "
                              "tunnel or TLS certificates in place)? Nothing was graded or changed") from None
        try:
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except (OSError, TimeoutError):
                raise CourseError(f"the Dask scheduler at {printable(target.address)} has no workers after "
                                  f"{WORKER_WAIT_S} s — start `dask worker {printable(target.address)} "
                                  "--nthreads 1` on each grading machine; nothing was graded or changed") from None
            client.register_plugin(SandboxPlugin(sandboxed), name=SandboxPlugin.name)
            status = client.run(worker_status)
            broken = {w: s for w, s in status.items() if not s.get("ready")}
            if broken:
                lines = "; ".join(f"{w} ({s.get('host')}): {printable(s.get('error') or 'not set up', 300)}"
                                  for w, s in sorted(broken.items()))
                raise CourseError(f"{len(broken)} of {len(status)} Dask workers cannot grade: {lines} — every "
                                  "worker needs this venv, bubblewrap and the datasets (docs/instructor.md, "
                                  "\"Grading on a cluster\"); nothing was graded or changed")
            yield client
        finally:
            # the sandbox comes down now, while nothing hurries the workers (closing, a nanny gives its worker 4 s)
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(SandboxPlugin.name)
            with contextlib.suppress(Exception):
                client.close(timeout=30)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=60)


def slots(client) -> int:
    """Threads across the cluster's workers: how many notebooks grade at once."""
    return max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))


def _remote_api(course: Course, index: int):
    """An nbgrader API of its own for one coordinator thread, with ``RemoteExecute`` as its executor."""
    api = nbg.api(course)
    log = logging.getLogger(f"course.cluster.slot{index}")  # each thread captures its own nbgrader log
    log.setLevel(logging.WARNING)
    log.propagate = False
    api.log = log
    chain = list(api.config.Autograde.autograde_preprocessors)
    names = [p if isinstance(p, str) else f"{p.__module__}.{p.__qualname__}" for p in chain]
    found = [i for i, n in enumerate(names) if n.endswith("BudgetedExecute")]
    if not found:
        raise CourseError(f"{course.root / 'nbgrader_config.py'}: Autograde.autograde_preprocessors has no "
                          "BudgetedExecute, the step --cluster runs on the workers")
    chain[found[0]] = RemoteExecute
    api.config.Autograde.autograde_preprocessors = chain
    return api


def grade(course: Course, todo: list[tuple[str, str]], client, grade_one) -> list:
    """Grade ``todo`` on the cluster behind ``client``; results in ``todo``'s order.

    Every submission goes through ``grade_one`` (``autograde._grade_one``, passed in: this module is the later
    one) on the coordinator, as in local grading, so the pre-checks, the keep-aside of the earlier notebook,
    failures scored 0 and the results are the same code.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
    from concurrent.futures import wait as wait_threads
    batch = Batch(client=client, course=course)
    width = slots(client) + 1  # one more than the workers: the next notebook is ready when one frees up
    local = threading.local()
    apis: list = []
    done: dict[tuple[str, str], Any] = {}

    def one(student: str, lab: str):
        with batch.lock:
            if batch.stop.is_set():
                return None
            began = time.monotonic()
            if not hasattr(local, "api"):
                local.api = _remote_api(course, len(apis))
                apis.append(local.api)
            try:
                result = grade_one(course, local.api, student, lab, interrupted=batch.stop.is_set, quiet=False)
            except KeyboardInterrupt:  # Interrupted, or a Ctrl-C of its own: nbgrader was stopped
                return None  # stopped while in flight: its earlier notebook was put back, its grade stands
            if not result.ok and not result.stopped and (lab, student) in batch.failures:
                result.reason = batch.failures[(lab, student)]
            result.seconds = max(0.0, result.seconds - batch.queued.pop((lab, student), 0.0))
            batch.held.append(time.monotonic() - began - batch.released.pop((lab, student), 0.0))
            return result

    saved_cwd = os.getcwd()
    saved_env = {k: os.environ.get(k) for k in ("NBGRADER_EXECUTION",)}
    _BATCH["batch"] = batch
    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="course-cluster")
    futures: dict = {}
    quiet = warnings.catch_warnings()  # nbgrader's SQLAlchemy warnings, hidden by quiet_stderr in local grading
    quiet.__enter__()
    warnings.simplefilter("ignore")
    try:
        os.chdir(course.root)  # nbgrader changes into the course and back, per thread: all agree on this one
        futures = {pool.submit(one, s, lab): (s, lab) for s, lab in todo}
        by_key = {key: future for future, key in futures.items()}
        progress = step(_completed(futures, set(futures), wait_threads, FIRST_COMPLETED),
                        f"autograde on {width - 1} cluster workers", total=len(todo))
        for key in progress:  # (student, lab) as each finishes, named on the progress line
            result = by_key[key].result()
            if result is not None:
                done[key] = result
    except BaseException:
        batch.stop.set()
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True)  # in-flight threads return once nbgrader has put the earlier notebook back
        raise
    finally:
        pool.shutdown(wait=True)
        quiet.__exit__(None, None, None)
        _BATCH.pop("batch", None)
        os.chdir(saved_cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    LAST.clear()
    LAST.update(notebooks=len(batch.held), coordinator_s=round(sum(batch.held), 2), workers=width - 1)
    missing = [f"{s}/{lab}" for s, lab in todo if (s, lab) not in done]
    if batch.lost or missing:
        raise CourseError(f"{batch.lost or 'the cluster stopped answering'}: {len(done)} submission(s) graded and "
                          f"recorded, {len(missing)} not graded ({printable(', '.join(missing[:5]), 300)}"
                          f"{' …' if len(missing) > 5 else ''}) — run the same command with --resume to grade "
                          "the rest")
    return [done[key] for key in todo]


def _completed(futures: dict, pending: set, wait_threads, first) -> Any:
    """Yield each submission's (student, lab) as its thread finishes (the progress bar advances per submission)."""
    while pending:
        finished, _ = wait_threads(pending, timeout=0.5, return_when=first)
        for future in finished:
            pending.discard(future)
            yield futures[future]


def describe_workers(client) -> str:
    """One line for the report: how many workers on how many hosts, and their sandbox."""
    status = client.run(worker_status)
    hosts = sorted({s["host"] for s in status.values()})
    limits = sorted({s["sandbox"] for s in status.values()})
    serial = (f"; the coordinator's serial work: {LAST['coordinator_s'] / LAST['notebooks']:.2f} s per notebook"
              if LAST.get("notebooks") else "")
    return (f"graded on {len(status)} Dask worker(s) on {len(hosts)} host(s) "
            f"({', '.join(map(printable, hosts))}){serial}; worker limits: {'; '.join(limits)}")
