"""``autograde --cluster``: the same scores as ``--jobs``, no shared filesystem, dead workers, refusals.

Why these checks: grading on a Dask cluster moves only nbgrader's execution step to a worker
(``course.grading.cluster``); everything a student's grade depends on must come out exactly as local grading
makes it, hostile submissions included, and a worker that dies or a scheduler that is not there must cost no
grade. Each batch is graded once per mode (2 cores: a Day 1 notebook takes 10–20 s).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from distributed import WorkerPlugin

from conftest import LABS, REAL
from course.build import release
from course.checks import submissions
from course.core.errors import CourseError
from course.core.scratch import scratch_course
from course.grading import autograde, cluster, gradebook, sandbox
from test_attacks import _attacks

LAB = LABS[0]
pytestmark = pytest.mark.skipif(bool(sandbox.unavailable()), reason=f"no sandbox: {sandbox.unavailable()}")
LIMITS = "\nc.Execute.timeout = 20\nc.BudgetedExecute.notebook_timeout = 120\n"  # as the attack suite: quick loops


def _course(where: Path):
    course = scratch_course(REAL, [LAB], where=where)
    with open(course.root / "nbgrader_config.py", "a") as fh:
        fh.write(LIMITS)
    release.release(course, [LAB])
    return course


def _first_answer(course) -> str:
    return submissions.answer_ids(submissions.make(course, LAB, "blank"))[0]


def _cells(course) -> dict[str, dict[str, tuple[float, float]]]:
    return {s: {c: (v.earned, v.possible) for c, v in score.cells.items()}
            for s, score in gradebook.scores(course, LAB).items()}


def _outcome(r: autograde.Result) -> tuple:
    return (r.ok, r.stopped, r.reason, r.earned, r.possible, sorted(r.flags))


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One batch (the cohort's kinds, the attack suite's submissions) graded with --jobs 2, then --cluster local:2."""
    course = _course(tmp_path_factory.mktemp("cluster"))
    first = _first_answer(course)
    for kind in ("solved", "blank", "half"):
        submissions.write(course, kind, LAB, submissions.make(course, LAB, kind))
    for student, code in (("crashing", "import os\nos._exit(1)\n"), ("looping", "while True:\n    pass\n")):
        submissions.write(course, student, LAB, submissions.make(course, LAB, "solved", {first: code}))
    solved = submissions.make(course, LAB, "solved")
    first_solution = next(c.source for c in solved.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                          == first)
    listener = socket.socket()  # the network attack's target: never accepted, the sandbox has no network anyway
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "victim.ipynb"
    victim.write_text("{}")
    for student, (kind, code) in _attacks(course, listener.getsockname()[1], victim, outside).items():
        base = first_solution + "\n" if kind == "solved" else ""
        submissions.write(course, student, LAB, submissions.make(course, LAB, kind, {first: base + code}))
    local = {r.student: r for r in autograde.autograde(course, [LAB], report=False, jobs=2)}
    local_cells = _cells(course)
    with _nanny_warnings() as warnings:  # the LocalCluster's nannies live in this process
        remote = {r.student: r for r in autograde.autograde(course, [LAB], report=True, cluster="local:2")}
    listener.close()
    assert not os.path.samestat(os.fstat(2), os.stat(os.devnull)), "the cluster run left stderr pointing nowhere"
    return course, local, local_cells, remote, warnings


@contextlib.contextmanager
def _nanny_warnings():
    """The warnings a nanny logs, e.g. that it had to kill its worker at close (the plugin's teardown hung)."""
    warnings: list[logging.LogRecord] = []
    catch = logging.Handler(logging.WARNING)
    catch.emit = warnings.append
    logging.getLogger("distributed.nanny").addHandler(catch)
    try:
        yield warnings
    finally:
        logging.getLogger("distributed.nanny").removeHandler(catch)


def test_cluster_scores_equal_local_scores(both):
    course, local, local_cells, remote, warnings = both
    assert sorted(remote) == sorted(local) and len(remote) == 18
    assert not [r.getMessage() for r in warnings if "still alive" in r.getMessage()], "a worker was killed at close"
    # The fork bomb's children hold its kernel's task budget, so whether the rest of that notebook runs depends on
    # when the kernel next needs a thread (the attack suite asserts only that it is flagged): it is compared on
    # its flags; every other submission on everything.
    for student in sorted(local):
        if student == "forkbomb":
            assert remote[student].flags == local[student].flags and remote[student].flags
            continue
        assert _outcome(remote[student]) == _outcome(local[student]), student
    cells = _cells(course)
    assert {s: c for s, c in cells.items() if s != "forkbomb"} == {s: c for s, c in local_cells.items()
                                                                 if s != "forkbomb"}  # every cell, as recorded
    # the batch covers what it claims: full marks, zero, failures that stop, integrity flags
    assert local["solved"].earned == local["solved"].possible > 0 and local["blank"].earned == 0
    assert remote["crashing"].stopped and remote["stubborn_loop"].stopped
    assert remote["looping"].ok and remote["looping"].earned < remote["looping"].possible  # its cell timed out
    assert remote["monkeypatch"].flags and any("changed at run time" in f for f in remote["spy"].flags)
    assert not (course.root / autograde.KEPT).exists()


def test_ctrl_c_keeps_every_grade_and_resume_grades_the_rest(both, monkeypatch):
    """Ctrl-C after the first notebook comes back: recorded grades stay, the rest keep their earlier grade."""
    course, *_ = both
    assert autograde.autograde(course, [LAB], report=False, resume=True, cluster="local:2") == []  # all current
    changed = ["blank", "half", "solved"]
    for student in changed:  # handed in again, changed
        nb = submissions.make(course, LAB, student)
        nb.cells[0].source += "\n"
        submissions.write(course, student, LAB, nb)
    before = _cells(course)
    notebook = {s: (course.autograded / s / LAB / f"{LAB}.ipynb").read_bytes() for s in changed}

    def interrupted_after_one(items, what, total=None):
        for item in items:
            yield item
            raise KeyboardInterrupt

    monkeypatch.setattr(cluster, "step", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        autograde.autograde(course, [LAB], report=False, cluster="local:2")
    monkeypatch.undo()
    current = [s for s in changed if autograde.up_to_date(course, s, LAB)]
    assert current, "the notebook that came back before Ctrl-C was recorded"
    after = _cells(course)
    for student in sorted(set(changed) - set(current)):  # in flight: earlier notebook and grade stand
        assert after[student] == before[student], student
        assert (course.autograded / student / LAB / f"{LAB}.ipynb").read_bytes() == notebook[student], student
    assert not (course.root / autograde.KEPT).exists()
    again = autograde.autograde(course, [LAB], report=False, resume=True, jobs=2)
    assert sorted(r.student for r in again) == sorted(set(changed) - set(current))
    assert all(r.ok for r in again)


def test_no_shared_filesystem(tmp_path):
    """A scheduler and a worker started as processes; the worker cannot see the course at all."""
    course = _course(tmp_path)
    for kind in ("solved", "blank"):
        submissions.write(course, kind, LAB, submissions.make(course, LAB, kind))
    empty = tmp_path / "worker-cwd"
    empty.mkdir()
    port = _free_port()
    dask = str(Path(sys.executable).parent / "dask")
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], cwd=empty, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # the worker runs in a mount namespace of its own where the course directory is an empty tmpfs
    hide = f"mount -t tmpfs none {course.root} && cd {empty} && exec \"$@\""
    worker_cmd = [dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--nworkers", "1",
                  "--no-dashboard", "--name", "isolated"]
    if os.getuid() == 0 and shutil.which("unshare"):
        worker_cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide, "sh", *worker_cmd]
    worker = subprocess.Popen(worker_cmd, cwd=empty, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        results = {r.student: r for r in autograde.autograde(course, [LAB], report=False,
                                                               cluster=f"tcp://127.0.0.1:{port}")}
    finally:
        for proc in (worker, scheduler):
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=60) for proc in (worker, scheduler)]
    assert results["solved"].ok and results["solved"].earned == results["solved"].possible > 0
    assert results["blank"].ok and results["blank"].earned == 0
    assert list(empty.iterdir()) == [], "the worker wrote into its working directory"
    assert codes == [0, 0], "the worker and the scheduler must close cleanly (the plugin stops the fork server)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Killer(WorkerPlugin):
    """Kills its worker process a few seconds into chosen tasks: mid-notebook, as an out-of-memory kill would."""

    name = "test-killer"

    def __init__(self, always: str, once: str, marker: str):
        self.always, self.once, self.marker = always, once, marker

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing":
            return
        name = str(key)
        kill = f"-{self.always}-" in name
        if f"-{self.once}-" in name:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                kill = True
            except FileExistsError:
                pass
        if kill:
            threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGKILL)).start()


def test_a_dead_worker_loses_nothing(tmp_path):
    """Killed once: retried and graded. Killed every time: named, scored 0. The others: graded."""
    import cloudpickle
    import dask
    from distributed import Client, LocalCluster
    course = _course(tmp_path)
    for student, kind in (("retried", "solved"), ("doomed", "solved"), ("blank", "blank")):
        submissions.write(course, student, LAB, submissions.make(course, LAB, kind))
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with _nanny_warnings() as warnings, dask.config.set({"distributed.scheduler.allowed-failures": 1,
                                                         "distributed.worker.daemon": False}):
        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                          memory_limit=0) as local, Client(local) as client:
            client.register_plugin(_Killer("doomed", "retried", str(tmp_path / "killed-once")))
            results = {r.student: r for r in autograde.autograde(course, [LAB], report=True,
                                                                   cluster=local.scheduler_address)}
            client.wait_for_workers(2, timeout=120)  # the last worker killed is back, so closing finds it idle
            client.run(os.getpid)
    assert not [r.getMessage() for r in warnings if "still alive" in r.getMessage()], "a worker was killed at close"
    assert (tmp_path / "killed-once").exists()
    assert results["retried"].ok and results["retried"].earned == results["retried"].possible > 0
    assert results["blank"].ok and results["blank"].earned == 0
    doomed = results["doomed"]
    assert not doomed.ok and not doomed.stopped and "died" in doomed.reason, doomed.reason
    assert gradebook.scores(course, LAB)["doomed"].auto_earned == 0


def test_unreachable_scheduler_changes_nothing(tmp_path, monkeypatch):
    course = _course(tmp_path)
    submissions.write(course, "solved", LAB, submissions.make(course, LAB, "solved"))
    (course.autograded / "solved" / LAB).mkdir(parents=True)
    (course.autograded / "solved" / LAB / "earlier.txt").write_text("an earlier run's file")
    before = hashlib.sha256(course.gradebook.read_bytes()).hexdigest()
    listing = sorted(p.relative_to(course.root) for p in course.root.rglob("*"))
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 3)
    with pytest.raises(CourseError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:"):
        autograde.autograde(course, [LAB], report=False, cluster=f"tcp://127.0.0.1:{_free_port()}")
    assert hashlib.sha256(course.gradebook.read_bytes()).hexdigest() == before
    assert sorted(p.relative_to(course.root) for p in course.root.rglob("*")) == listing  # no backup, no keep-aside


@pytest.mark.parametrize("address, insecure, refused", [
    ("tcp://10.1.2.3:8786", False, "unauthenticated"),
    ("192.168.0.7:8786", False, "unauthenticated"),
    ("ws://grader.example.org:8786", False, "unauthenticated"),
    ("tcp://10.1.2.3:8786", True, ""),
    ("tls://grader.example.org:8786", False, ""),
    ("tcp://127.0.0.1:8786", False, ""),
    ("localhost:8786", False, ""),
    ("local:2", False, ""),
    ("local:two", False, "local:N"),
    ("ucx://10.1.2.3:8786", True, "unknown scheme"),
])
def test_addresses(address, insecure, refused):
    if refused:
        with pytest.raises(CourseError, match=refused):
            cluster.parse(address, insecure)
    else:
        cluster.parse(address, insecure)


def test_cli_refuses_a_plain_remote_address_before_anything(tmp_path):
    course = _course(tmp_path)
    submissions.write(course, "solved", LAB, submissions.make(course, LAB, "solved"))
    proc = subprocess.run([sys.executable, "-m", "course", "--course-dir", str(course.root), "autograde", LAB,
                           "--cluster", "tcp://10.1.2.3:8786"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "--insecure" in proc.stderr, proc.stderr
    assert not (course.root / ".gradebook-backups").exists() and not (course.autograded / "solved").exists()
