"""Run student code, during autograde, inside a bubblewrap sandbox.

Why: nbgrader executes a submission in an ordinary kernel, as the instructor.
A student's cell could then read ``source/`` (the hidden tests), rewrite the
gradebook, copy a classmate's notebook or reach the network. Here each kernel
is started through a kernelspec whose launcher wraps ipykernel in bubblewrap
(``bwrap``, a small, widely packaged isolation tool), so the kernel sees only:

- the Python installation and the virtual environment, read-only;
- the datasets, read-only;
- a fresh scratch folder of its own, mounted where the notebook would run
  (its only writable place, thrown away afterwards);
- its own runtime folder, holding only its connection file and sockets (a
  folder per kernel on a size-capped tmpfs, removed when the kernel ends).

It has no network (a private network namespace; the kernel talks to the grader
over Unix sockets, not TCP), its own PID namespace (everything it started dies
with it), runs as an unprivileged user where the grader is root, and has
resource limits: per process (rlimits: address space, processes, file size,
open files) and, where the system allows it, for the whole kernel (a control
group per kernel: memory, tasks, an equal CPU weight; ``course.grading.cgroups``).
:func:`describe` says which hold. Output size is
capped on the grader's side (``nbgrader_ext.BudgetedExecute``), and wall time
by the per-cell and per-notebook budgets. The grader, not the kernel, writes
the notebook and the gradebook.

Flow: the grading process calls :func:`activate`, which writes the kernelspec
into a private folder and points Jupyter at it through environment variables;
``BudgetedExecute`` then starts kernel ``course-sandbox``, whose ``argv`` runs
``python -m course.grading.sandbox <connection file>`` (:func:`launch`).

Warm start (the default when grading as root): before its first kernel, the
grading process starts a fork server (``course.grading.forkserver``) under bwrap, with
torch, matplotlib and ipykernel imported once; :func:`launch` asks it for a
kernel, which it forks into namespaces, a scratch tmpfs and a user id of its
own. That saves 7-8 s per notebook. Cold start, used when the fork server
cannot be had (not root, or it failed), execs ``bwrap`` running a fresh
ipykernel, as before.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course.grading import cgroups, forkserver
from course.core.environ import overridden
from course.core.errors import CourseError

KERNEL_NAME = "course-sandbox"
ENV_CONFIG = "COURSE_SANDBOX"
# When the grader runs as root, each kernel gets a user id of its own from this range (no passwd entry is
# needed): process limits count per user, so one student's fork bomb cannot starve a classmate's kernel
# graded beside it, and kernels cannot signal each other.
SANDBOX_UID_BASE = 200_000

# Environment variables the kernel may see; everything else (tokens, keys, the instructor's paths) is dropped.
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "NBGRADER_EXECUTION", "COURSE_DATA", "COURSE_FAST", "COURSE_QUIET",
              "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "MPLBACKEND",
              "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES")  # not JPY_PARENT_PID: outside the PID namespace

# Run inside the sandbox before ipykernel: drop to the unprivileged user (bwrap had to start as root to mount
# the Python installation that lives in root's home), then become the kernel.
_SHIM = """\
import os, sys
uid = int(sys.argv[1])
if os.getuid() == 0 and uid:
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
os.execv(sys.executable, [sys.executable] + sys.argv[2:])
"""


@dataclass
class Limits:
    """Per-kernel resource limits. Defaults leave the labs (torch on CPU) room and stop the abuse."""

    memory_mb: int = 8192      # address space of each process: a MemoryError, not a swapping machine
    processes: int = 256       # threads and processes of the sandbox user, and of the kernel's group: a fork bomb
    file_mb: int = 1024        # largest file the kernel may write
    open_files: int = 1024
    # The whole kernel, all its processes together (its cgroup, where one can be made): rlimits count per
    # process, so four children under an 8 GiB address-space limit could hold 32 GiB between them.
    kernel_memory_mb: int = 8192
    runtime_mb: int = 16       # the kernel's runtime folder (connection file, sockets): a tmpfs of this size


@dataclass
class Config:
    base: str                                   # private folder: kernelspec, runtime dir, scratch folders
    readonly: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    warm: bool = False                          # kernels come from the fork server when it answers
    cgroup: dict | None = None                  # this process's worker group (cgroups.Worker), or None
    cgroup_note: str = ""                       # why there is none
    runtime_mb: int = 0                         # size of the runtime tmpfs, 0 if the folder is not capped


def _runtime_root(config: Config) -> str:
    return os.path.join(config.base, "runtime")


# Environment variables libraries read once, at import: the fork server imports them, so it must have the
# grading process's values; if they change, the server is restarted.
IMPORT_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "PYTHONHASHSEED",
              "CUDA_VISIBLE_DEVICES", "COURSE_DATA")
WARM_ENV = "COURSE_SANDBOX_WARM"  # set to 0 to start every kernel cold
OFF_ENV = "COURSE_NO_SANDBOX"     # set (by ``autograde --no-sandbox`` only) while grading unsandboxed on purpose


def bwrap() -> str | None:
    return shutil.which("bwrap")


def unavailable() -> str:
    """Why no sandbox can be made here, or '' if one can."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    exe = bwrap()
    if not exe:
        return "bubblewrap (bwrap) is not installed — `make system` or `sudo apt-get install bubblewrap`"
    try:
        probe = subprocess.run(_bwrap_args(exe, [], rw={}, uid=_sandbox_uid(), net=False) + ["/bin/true"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    if probe.returncode != 0:
        return f"bwrap cannot make a sandbox here: {probe.stderr.strip() or probe.returncode}"
    return ""


def one_math_thread_per_kernel() -> None:
    """In a grading process (a ``--jobs`` worker or a Dask worker): every kernel it starts uses one math thread.

    Why: N kernels share the cores; with a thread pool each, their math libraries fight (10x slower).
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def require() -> None:
    """Raise, saying why and what the alternative costs, if no sandbox can be made here."""
    reason = unavailable()
    if reason:
        raise CourseError(f"cannot sandbox student code: {reason}. Grading without a sandbox runs student "
                          "code as you, able to read the hidden tests and the gradebook; pass --no-sandbox "
                          "only if you accept that")


def _sandbox_uid() -> int:
    return SANDBOX_UID_BASE + os.getpid() % 100_000 if os.getuid() == 0 else os.getuid()


def sandbox_uids() -> range:
    """User ids sandboxed kernels run as (when the grader is root)."""
    return range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + 100_000)


def _readonly_defaults() -> list[str]:
    """The interpreter (base installation and the venv) and the datasets."""
    from course.core.paths import data_root
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    paths.add(os.path.realpath(os.path.dirname(os.path.realpath(sys.executable))))
    data = os.environ.get("COURSE_DATA") or str(data_root())
    if os.path.isdir(data):
        paths.add(os.path.realpath(data))
    return sorted(paths)


def warm_wanted(requested: bool | None = None) -> bool:
    """Whether kernels will come from the fork server: asked for (``COURSE_SANDBOX_WARM``, on unless 0) and
    possible (the server needs root's mounts)."""
    if requested is None:
        requested = os.environ.get(WARM_ENV, "1") != "0"
    return requested and os.getuid() == 0


def _passed_env() -> dict[str, str]:
    return {k: os.environ[k] for k in PASSED_ENV if k in os.environ}


def activate(under: str | None = None, readonly: list[str] | None = None, limits: Limits | None = None,
             warm: bool | None = None) -> Config:
    """Make this process's kernels start sandboxed. Raises if no sandbox can be made.

    Each grading process gets its own folder (``under`` it, if given, so the
    parent can delete all of them), and each kernel its own runtime folder in it
    (:func:`connection_file`): kernels never share a runtime folder, so one
    cannot find another's connection file or leave a file for the next. Where
    the system allows it, the process also gets a control group, under which
    each kernel gets one with its limits (``course.grading.cgroups``).
    """
    if os.environ.get(ENV_CONFIG):
        return _config_from_env()
    require()
    # a short path: Unix socket names must stay under 108 bytes
    base = Path(tempfile.mkdtemp(prefix="course-sbx-", dir=under))
    spec = base / "share" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "course.grading.sandbox", "{connection_file}"],
        "display_name": "Python 3 (course sandbox)",
        "language": "python",
        "interrupt_mode": "message",  # SIGINT may not cross the sandbox; the control channel does
    }, indent=1))
    (base / OWNER_FILE).write_text(_process_id(os.getpid()))
    os.chmod(base, 0o755)
    limits = limits or Limits()
    config = Config(base=str(base), readonly=sorted(set(_readonly_defaults()) | set(readonly or [])),
                    limits=limits, warm=warm_wanted(warm))
    runtime = Path(_runtime_root(config))
    runtime.mkdir()
    if os.getuid() == 0:  # a cap on what kernels write there; each kernel gets a folder in it
        _sweep_runtime_mounts()
        forkserver.mount_tmpfs(str(runtime), limits.runtime_mb, "0755")
        config.runtime_mb = limits.runtime_mb
    config.cgroup_note = cgroups.unavailable()
    if not config.cgroup_note:
        hierarchy, config.cgroup_note = cgroups.detect()
        if hierarchy is not None:
            cgroups.sweep_stale(hierarchy)
            try:
                config.cgroup = cgroups.create_worker(hierarchy).to_json()
            except OSError as exc:
                config.cgroup_note = f"the grading process's group could not be made: {exc}"
                print(f"course.grading.sandbox: warning: {config.cgroup_note}; only per-process rlimits hold",
                      file=sys.stderr)
    os.environ[ENV_CONFIG] = json.dumps({"base": config.base, "readonly": config.readonly,
                                         "limits": asdict(config.limits), "warm": config.warm,
                                         "cgroup": config.cgroup, "cgroup_note": config.cgroup_note,
                                         "runtime_mb": config.runtime_mb})
    os.environ["JUPYTER_PATH"] = str(base / "share") + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    # a grading worker (``under`` given) is not told when it ends: its groups and mount go when it exits
    _LIVE[config.base] = (config, under is None)
    return config


_LIVE: dict[str, tuple[Config, bool]] = {}  # activated here and not yet released: base -> (config, remove folder)


@atexit.register
def _release_all() -> None:
    for config, remove in list(_LIVE.values()):
        _release(config, remove)


OWNER_FILE = ".owner"  # in a grading process's folder: who made it (pid and start time), to sweep after a crash


def _process_id(pid: int) -> str:
    """``pid starttime``: a pid alone may be reused by another process after the first one died."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            start = fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "?"
    return f"{pid} {start}"


def _still_running(record: str) -> bool:
    parts = record.split()
    return len(parts) == 2 and parts[0].isdigit() and _process_id(int(parts[0])) == record


def _sweep_runtime_mounts() -> None:
    """Unmount the runtime tmpfs of grading processes that died without doing it (killed, out of memory)."""
    try:
        with open("/proc/self/mountinfo") as fh:
            points = [line.split()[4] for line in fh if " - tmpfs " in line]
    except OSError:
        return
    for point in points:
        point = cgroups._unescape(point)
        parent = os.path.dirname(point)
        if os.path.basename(point) != "runtime" or not os.path.basename(parent).startswith("course-sbx-"):
            continue
        try:
            owner = Path(parent, OWNER_FILE).read_text()
        except OSError:
            owner = ""
        if not _still_running(owner):
            forkserver.unmount(point)


def _release(config: Config, remove_folder: bool = True) -> None:
    """Undo :func:`activate`: fork server, kernel groups, the worker group, the runtime tmpfs (and the folder)."""
    _LIVE.pop(config.base, None)
    if _SERVER.get("base") == config.base:
        stop_forkserver()
    if config.cgroup:
        left = cgroups.destroy_worker(cgroups.Worker.from_json(config.cgroup))
        if left:
            print(f"course.grading.sandbox: warning: could not remove cgroup {', '.join(left)}", file=sys.stderr)
        config.cgroup = None
    runtime = _runtime_root(config)
    if config.runtime_mb and os.path.ismount(runtime):
        forkserver.unmount(runtime)
    if remove_folder:
        shutil.rmtree(config.base, ignore_errors=True)


@contextlib.contextmanager
def session(enabled: bool = True, **options):
    """Sandbox the kernels this process starts until the block ends; ``enabled=False`` grades unsandboxed.

    Why a block: the tests, ``autograde`` at one job and the formgrader's
    Autograde button all grade inside a long-lived process, which must be left
    as it was (environment, fork server, private folder, control groups,
    mounts). Unsandboxed grading is marked, so that ``BudgetedExecute`` can tell
    it from grading that merely forgot the sandbox. ``options`` go to :func:`activate`.
    """
    kept = {k: os.environ.get(k) for k in (ENV_CONFIG, "JUPYTER_PATH", "JUPYTER_RUNTIME_DIR", OFF_ENV)}
    with overridden(**{**kept, **({} if enabled else {OFF_ENV: "1"})}):  # activate() sets the first three
        config = activate(**options) if enabled and not active() else None
        try:
            yield
        finally:
            if config is not None:
                _release(config)


def describe(limits: Limits | None = None) -> str:
    """One line for a grading report: which limits hold for a whole kernel, and the runtime folder's cap.

    Probes this machine as a grading process would (no sandbox need be active);
    a grading process that could not make its group warns on stderr itself.
    """
    limits = limits or Limits()
    reason = cgroups.unavailable()
    if not reason:
        hierarchy, reason = cgroups.detect()
    if reason:
        text = (f"only per-process rlimits hold ({limits.memory_mb} MiB address space per process, "
                f"{limits.processes} processes per kernel user): {reason}")
    else:
        weight = "equal CPU weight" if "cpu" in hierarchy.parents else "no CPU weight (no cpu controller)"
        text = (f"per-kernel cgroup limits (cgroup v{hierarchy.version}): memory {limits.kernel_memory_mb} MiB, "
                f"{limits.processes} tasks, {weight}")
    if os.getuid() == 0:
        text += f"; each kernel's runtime folder is its own, on a {limits.runtime_mb} MiB tmpfs"
    else:
        text += "; each kernel's runtime folder is its own, not size-capped (a tmpfs needs root)"
    return text


def connection_file() -> str:
    """A new connection file in a runtime folder of the kernel's own (never the shared /tmp, never a neighbour's).

    The kernel sees only this folder (its sockets go there too). Folders of
    kernels that have ended are removed first, with their control groups, so
    nothing a kernel wrote there survives it, nor fills the runtime tmpfs.
    """
    import uuid
    root = os.environ["JUPYTER_RUNTIME_DIR"]
    if active():
        _sweep_kernels(_config_from_env())
    while True:
        folder = os.path.join(root, f"k-{uuid.uuid4().hex[:10]}")
        try:
            os.mkdir(folder, 0o755)
            break
        except FileExistsError:
            continue
    return os.path.join(folder, "kernel.json")


def _sweep_kernels(config: Config) -> None:
    """Remove the runtime folders and groups of kernels whose launcher has ended.

    A launcher records itself (``<folder>.launcher``, outside every kernel's
    sight) when it starts; until then a folder with a connection file is a
    kernel about to start, and is kept.
    """
    root = _runtime_root(config)
    worker = cgroups.Worker.from_json(config.cgroup) if config.cgroup else None
    try:
        names = [n for n in os.listdir(root) if n.startswith("k-") and os.path.isdir(os.path.join(root, n))]
    except OSError:
        return
    names = set(names) | set(cgroups.kernel_names(worker) if worker else [])
    for name in sorted(names):
        folder = os.path.join(root, name)
        record = folder + ".launcher"
        try:
            owner = Path(record).read_text()
        except OSError:
            owner = None
        if owner is not None and _still_running(owner):
            continue
        if owner is None and os.path.exists(os.path.join(folder, "kernel.json")):
            continue
        _end_kernel(config, name)


def _end_kernel(config: Config, name: str) -> None:
    """Kill what is left of kernel ``name``, remove its group, its runtime folder and its launcher record."""
    if config.cgroup:
        cgroups.remove_kernel(cgroups.Worker.from_json(config.cgroup), name)
    folder = os.path.join(_runtime_root(config), name)
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder + ".launcher")


def active() -> bool:
    return bool(os.environ.get(ENV_CONFIG))


def _config_from_env() -> Config:
    raw = json.loads(os.environ[ENV_CONFIG])
    return Config(base=raw["base"], readonly=raw["readonly"], limits=Limits(**raw["limits"]),
                  warm=raw.get("warm", False), cgroup=raw.get("cgroup"), cgroup_note=raw.get("cgroup_note", ""),
                  runtime_mb=raw.get("runtime_mb", 0))


def _bwrap_args(exe: str, readonly: list[str], rw: dict[str, str], uid: int, net: bool = False,
                chdir: str | None = None, env: dict[str, str] | None = None, cgroupns: bool = True) -> list[str]:
    """bwrap's command line: a new root holding the system's read-only folders and the given binds.

    ``cgroupns=False`` for the fork server only: under cgroup v2 a process may move
    another (its forked kernel) only between groups inside its cgroup namespace.
    """
    args = [exe, "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--die-with-parent", "--hostname", "sandbox"]
    if cgroupns:
        args.append("--unshare-cgroup-try")
    if not net:
        args.append("--unshare-net")
    if os.getuid() != 0:
        args.append("--unshare-user")
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "etc"):
        path = f"/{top}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    made: set[str] = {"/", "/usr", "/etc", "/proc", "/dev"}

    def parents(path: str) -> list[str]:
        out: list[str] = []
        for parent in reversed(Path(path).parents):
            p = str(parent)
            if p not in made:
                made.add(p)
                out += ["--perms", "0755", "--dir", p]
        return out

    binds = [("--ro-bind", p, p) for p in readonly if not p.startswith(("/usr/", "/etc/")) and p not in ("/usr", "/etc")]
    binds += [("--bind", source, target) for target, source in rw.items()]
    # outer folders first: a bind onto /tmp must not hide one made earlier under /tmp
    for kind, source, target in sorted(binds, key=lambda b: len(Path(b[2]).parts)):
        args += parents(target) + [kind, source, target]
        made.add(target)
    if chdir:
        args += ["--chdir", chdir]
    if env is not None:
        args.append("--clearenv")
        for key, value in env.items():
            args += ["--setenv", key, value]
    return args


def _set_limits(limits: Limits, uid: int) -> None:
    """The cold kernel's limits, set here and inherited through bwrap (warm kernels set theirs when forked)."""
    processes = limits.processes
    if uid == os.getuid() and uid != 0:
        # RLIMIT_NPROC counts all of the user's processes: leave the ones the instructor already runs
        processes += len([p for p in os.listdir("/proc") if p.isdigit()])
    forkserver.set_limits({**asdict(limits), "processes": processes})


def launch(argv: list[str]) -> None:
    """Kernelspec entry point: a kernel for connection file ``argv[0]``, warm from the fork server or cold.

    The kernel runs in its own runtime folder (the connection file's) and, where
    the grading process has a control group, in a group of its own made here
    before the kernel exists, so that all its processes count together.
    """
    if not argv:
        raise SystemExit("usage: python -m course.grading.sandbox CONNECTION_FILE [kernel args...]")
    config = _config_from_env()
    connection = os.path.abspath(argv[0])
    runtime = os.path.dirname(connection)
    name = os.path.basename(runtime)
    if os.path.dirname(runtime) != _runtime_root(config) or not name.startswith("k-"):
        raise SystemExit(f"course.grading.sandbox: connection file {connection} is not in a kernel's own folder "
                         f"under {_runtime_root(config)}; start kernels through course.grading.sandbox.connection_file()")
    Path(runtime + ".launcher").write_text(_process_id(os.getpid()))  # outside the kernel's sight
    uid = _sandbox_uid()
    if os.getuid() == 0:  # the kernel creates its sockets in its runtime folder
        for path in (connection, runtime):
            os.chown(path, uid, uid)
    worker = cgroups.Worker.from_json(config.cgroup) if config.cgroup else None
    group: list[str] = []
    if worker is not None:
        try:
            group = cgroups.create_kernel(worker, name, config.limits.kernel_memory_mb, config.limits.processes)
        except OSError as exc:  # fail closed: a kernel without its group would escape the whole-kernel limits
            raise SystemExit(f"course.grading.sandbox: cannot make the kernel's cgroup: {exc}") from exc
    env = _passed_env()
    env.update(TMPDIR="/tmp", MPLCONFIGDIR=os.path.join("/tmp", "mpl"), PYTHONDONTWRITEBYTECODE="1",
               COURSE_SANDBOXED="1")
    devnull = os.open(os.devnull, os.O_WRONLY)
    if config.warm:
        request = {"connection": connection, "runtime": runtime, "runtime_root": _runtime_root(config), "uid": uid,
                   "args": argv[1:], "env": {**env, "HOME": forkserver.HOME}, "limits": asdict(config.limits),
                   "scratch_mb": config.limits.file_mb, "readonly": config.readonly}
        if worker is not None:
            request["cgroup"] = {"name": name, "mounts": _cgroup_mounts(worker)}
        code = _launch_warm(config, request, devnull)
        if code is not None:
            _end_kernel(config, name)
            raise SystemExit(code)
    code = _launch_cold(config, connection, runtime, uid, env, argv[1:], devnull, group)
    _end_kernel(config, name)
    raise SystemExit(code)


def _cgroup_mounts(worker: cgroups.Worker) -> list[str]:
    """Where the fork server sees the worker group's folders (one per hierarchy)."""
    return [f"{forkserver.CGROUPS}/{i}" for i in range(len(worker.folders()))]


def _launch_warm(config: Config, request: dict, devnull: int) -> int | None:
    """Ask the fork server for the kernel and wait for it to end: its exit code, or None to start cold.

    This process stays as the kernel's stand-in for Jupyter: when Jupyter kills
    it, the connection drops and the server kills the kernel's whole namespace.
    """
    import socket
    path = forkserver_socket(config)
    if not os.path.exists(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        socket.send_fds(sock, [json.dumps(request).encode() + b"\n"], [0, devnull, 2])
        reply = sock.makefile("rb")
        first = reply.readline()
    except OSError as exc:
        print(f"course.grading.sandbox: no warm kernel ({exc}); starting a cold one", file=sys.stderr)
        return None
    if not first.startswith(b"started"):
        print(f"course.grading.sandbox: no warm kernel ({first.decode(errors='replace').strip() or 'the fork server ended'})"
              "; starting a cold one", file=sys.stderr)
        return None
    import signal

    def hang_up(*_) -> None:  # Jupyter's "terminate": the server kills the kernel; its "exit" still comes, to clean up
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    signal.signal(signal.SIGTERM, hang_up)
    last = reply.readline().decode(errors="replace").split()
    return int(last[1]) if len(last) == 2 and last[0] == "exit" and last[1].lstrip("-").isdigit() else 1


def _launch_cold(config: Config, connection: str, runtime: str, uid: int, env: dict[str, str],
                 extra: list[str], devnull: int, group: list[str]) -> int:
    """Run bwrap with a fresh ipykernel in the kernel's group, wait for it, clean up: the kernel's exit code.

    The scratch folder is mounted where nbgrader wanted the notebook to run. Why
    wait rather than become bwrap: the kernel's group, runtime and scratch
    folders can only be removed once it has ended, and nobody else knows when.
    If Jupyter kills this process, bwrap dies with it (``--die-with-parent``)
    and the grading process sweeps what is left before its next kernel.
    """
    workdir = os.getcwd()
    scratch = tempfile.mkdtemp(prefix="scratch-", dir=config.base)
    for name in ("tmp", "shm"):
        os.makedirs(os.path.join(scratch, name))
    if os.getuid() == 0:
        for path in (scratch, os.path.join(scratch, "tmp"), os.path.join(scratch, "shm")):
            os.chown(path, uid, uid)
    args = _bwrap_args(bwrap() or "bwrap", config.readonly,
                       rw={runtime: runtime, workdir: scratch, "/tmp": os.path.join(scratch, "tmp"),
                           "/dev/shm": os.path.join(scratch, "shm")},
                       uid=uid, chdir=workdir, env={**env, "HOME": workdir})
    python = sys.executable
    args += [python, "-c", _SHIM, str(uid), "-m", "ipykernel_launcher", "-f", connection, *extra]
    pid = os.fork()
    if pid == 0:
        try:
            if group:
                cgroups.join(group)  # before bwrap exists: everything it starts is counted in the group
            _set_limits(config.limits, uid)
            os.dup2(devnull, 1)  # ipykernel's banner; cell output travels over the sockets
            os.execv(args[0], args)
        except BaseException as exc:  # noqa: BLE001 — say why on the launcher's stderr
            print(f"course.grading.sandbox: cannot start the kernel: {exc}", file=sys.stderr, flush=True)
        finally:
            os._exit(127)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))  # Jupyter's "terminate": end it, clean up
    while True:
        try:
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            break
        except InterruptedError:
            continue
    shutil.rmtree(scratch, ignore_errors=True)
    return code


_SERVER: dict = {}  # this process's fork server: {"proc", "base", "env"}
# Write 0 (this process) to each cgroup.procs file given before "--", then become the command after it.
_JOIN = 'for f; do shift; [ "$f" = -- ] && break; echo 0 > "$f" || exit 125; done; exec "$@"'


def forkserver_socket(config: Config) -> str:
    return os.path.join(config.base, "forkserver", "control.sock")


def ensure_forkserver() -> None:
    """Start this grading process's fork server, unless it runs already (called before each kernel).

    Started lazily, not in :func:`activate`, because the grading process sets the
    thread variables the libraries read at import only after activating.
    """
    if not active():
        return
    config = _config_from_env()
    if not config.warm:
        return
    env = _passed_env()
    if _SERVER.get("base") != config.base:
        _SERVER.pop("failures", None)
    proc = _SERVER.get("proc")
    if proc is not None and proc.poll() is None and _SERVER["base"] == config.base and all(
            _SERVER["env"].get(k) == env.get(k) for k in IMPORT_ENV):
        return
    if proc is not None and proc.poll() is not None:
        _SERVER["failures"] = _SERVER.get("failures", 0) + 1
    if _SERVER.get("failures", 0) >= 3:  # it cannot work here (see forkserver.log): every kernel starts cold
        return
    stop_forkserver()
    folder = Path(config.base) / "forkserver"
    folder.mkdir(exist_ok=True)
    os.chmod(folder, 0o700)
    socket_path = forkserver_socket(config)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    runtime = os.environ["JUPYTER_RUNTIME_DIR"]
    server_env = {**env, "HOME": "/run/course", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/run/course/mpl",
                  "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONDONTWRITEBYTECODE": "1",
                  "COURSE_SANDBOXED": "1"}
    rw = {runtime: runtime, str(folder): str(folder)}
    worker = cgroups.Worker.from_json(config.cgroup) if config.cgroup else None
    if worker is not None:  # the server moves each forked kernel into the kernel's group (the kernel never sees it)
        rw.update(zip(_cgroup_mounts(worker), worker.folders()))
    args = _bwrap_args(bwrap() or "bwrap", config.readonly, rw=rw, uid=0, chdir="/", env=server_env, cgroupns=False)
    for folder_inside in ("/tmp", forkserver.HOME, forkserver.SCRATCH, "/run/course/mpl"):
        args += ["--dir", folder_inside]
    script = Path(forkserver.__file__).resolve()
    args += ["--ro-bind", str(script), "/run/course/forkserver.py",
             sys.executable, "/run/course/forkserver.py", socket_path]
    if worker is not None:  # join the server's group before bwrap exists (a shell, not a preexec_fn: threads)
        args = ["/bin/sh", "-c", _JOIN, "sh", *cgroups.server_procs(worker), "--", *args]
    with open(folder / "forkserver.log", "ab") as log:
        _SERVER.update(proc=subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=log, close_fds=True),
                       base=config.base, env=env)
    deadline = time.monotonic() + 10
    while not os.path.exists(socket_path) and _SERVER["proc"].poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # listening comes first, before the imports: a short wait


def stop_forkserver() -> None:
    proc = _SERVER.pop("proc", None)
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


atexit.register(stop_forkserver)


if __name__ == "__main__":
    launch(sys.argv[1:])
