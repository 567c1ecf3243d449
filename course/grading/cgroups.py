"""Per-kernel resource limits for the whole kernel, not per process: one control group per kernel.

Why: rlimits count per process (or per user), so a kernel that starts many
processes escapes them. A red team's notebook held 8.8 GiB with four children
under an 8 GiB address-space rlimit, and 32 busy ``setsid()`` children starved
the notebook graded beside it until it timed out. A control group counts every
process a kernel starts, however it detaches: memory (``memory.max``), tasks
(``pids.max``) and an equal CPU weight, so a kernel with 32 busy processes gets
the same CPU share as its neighbour with one.

Layout, under the grading process's own group (cgroup v1: in each controller's
hierarchy; v2: the nearest ancestor that already delegates the controllers)::

    course-<grader pid>-<n>/          one per grading process (its "worker" group), no limits
        server/                       the fork server (trusted; no limits)
        k-<id>/                       one per kernel: memory, tasks, CPU weight

The kernel's launcher (``course.grading.sandbox.launch``) creates ``k-<id>``
before the kernel exists. A cold kernel's launcher joins it and then becomes
bwrap; a warm kernel joins it from inside the fork server, right after the
fork, before it forks anything. Either way nothing escapes it: a process's
children start in its group. The fork server writes into the worker group
through a bind mount; the kernel never sees it.

Both cgroup versions are supported; which one is found at run time. Where
neither can be used (no controllers, not writable, v2 without delegation), the
reason is given by :func:`unavailable` and only the per-process rlimits hold.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import time
from dataclasses import asdict, dataclass

WANTED = ("memory", "pids", "cpu")   # cpu is optional: without it there is no CPU weight
REQUIRED = ("memory", "pids")
CPU_SHARES_V1 = 1024                 # the kernel's default: every kernel gets the same share
CPU_WEIGHT_V2 = 100
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_WORKER = re.compile(r"^course-(\d+)-\d+$")
_counter = [0]


@dataclass
class Hierarchy:
    """Where course groups may be made: the cgroup version and, per controller, the parent folder."""

    version: int
    parents: dict[str, str]          # controller -> folder under which worker groups go

    def folders(self) -> list[str]:
        """The distinct hierarchies (v1 may mount several controllers together; v2 has one)."""
        return sorted(set(self.parents.values()))


@dataclass
class Worker:
    """One grading process's group, as the launcher and the fork server need it (JSON-able)."""

    version: int
    groups: dict[str, str]           # controller -> the worker group's folder

    def folders(self) -> list[str]:
        return sorted(set(self.groups.values()))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> "Worker":
        return cls(version=int(raw["version"]), groups=dict(raw["groups"]))


# --- finding the hierarchy ---------------------------------------------------------------------------------------

def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _write(path: str, value: str) -> None:
    """Write one value to a cgroup file (one write call: cgroup files do not accept partial writes)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts(mountinfo: str) -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """v1 mounts per controller and the v2 mount, each as (mount root inside the hierarchy, mount point)."""
    v1: dict[str, tuple[str, str]] = {}
    v2: tuple[str, str] | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point, fstype, options = _unescape(fields[3]), _unescape(fields[4]), tail[0], tail[2]
        if fstype == "cgroup2" and v2 is None:
            v2 = (root, point)
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in WANTED and option not in v1:
                    v1[option] = (root, point)
    return v1, v2


def _memberships(proc_cgroup: str) -> tuple[dict[str, str], str | None]:
    """This process's group per v1 controller, and its v2 group."""
    v1: dict[str, str] = {}
    v2 = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        for controller in controllers.split(","):
            if controller in WANTED:
                v1[controller] = path
    return v1, v2


def _inside(mount: tuple[str, str], path: str) -> str | None:
    """The folder of group ``path`` under a mount whose root is ``mount[0]``, or None if the mount hides it."""
    root, point = mount
    root = root.rstrip("/")
    if path != root and not path.startswith(root + "/") and root:
        return None
    return os.path.normpath(point + "/" + path[len(root):])


def _controllers(folder: str, name: str) -> set[str]:
    try:
        return set(_read(os.path.join(folder, name)).split())
    except OSError:
        return set()


def detect(mountinfo: str | None = None, proc_cgroup: str | None = None) -> tuple[Hierarchy | None, str]:
    """The hierarchy to make groups in, or (None, why not). Reads this process's mounts and groups by default.

    cgroup v2 is used when its root offers the memory and pids controllers (a pure v2 or a
    hybrid system with them moved there); otherwise the v1 hierarchies of those controllers.
    Under v2 groups go below the nearest ancestor (this process's group first) whose
    ``cgroup.subtree_control`` already enables them: a group that holds processes, as this
    process's own usually does, cannot enable controllers for groups below it.
    """
    mountinfo = _read("/proc/self/mountinfo") if mountinfo is None else mountinfo
    proc_cgroup = _read("/proc/self/cgroup") if proc_cgroup is None else proc_cgroup
    v1_mounts, v2_mount = _mounts(mountinfo)
    v1_groups, v2_group = _memberships(proc_cgroup)
    if v2_mount is not None and v2_group is not None:
        mine = _inside(v2_mount, v2_group)
        offered = _controllers(v2_mount[1], "cgroup.controllers")
        if set(REQUIRED) <= offered and mine is not None:
            folder = mine
            while True:
                if set(REQUIRED) <= _controllers(folder, "cgroup.subtree_control"):
                    wanted = set(WANTED) & _controllers(folder, "cgroup.controllers")
                    return Hierarchy(2, {c: folder for c in sorted(wanted)}), ""
                if os.path.normpath(folder) == os.path.normpath(v2_mount[1]):
                    break
                folder = os.path.dirname(folder)
            return None, (f"cgroup v2: no group from {mine} up to {v2_mount[1]} enables the memory and pids "
                          "controllers for groups below it (run the grader in a group with them delegated)")
    missing = [c for c in REQUIRED if c not in v1_mounts or c not in v1_groups]
    if missing:
        if v2_mount is not None:
            return None, f"cgroup v2 at {v2_mount[1]} does not offer the {' and '.join(REQUIRED)} controllers"
        return None, f"no cgroup hierarchy with the {', '.join(missing)} controller is mounted"
    parents: dict[str, str] = {}
    for controller in WANTED:
        if controller in v1_mounts and controller in v1_groups:
            folder = _inside(v1_mounts[controller], v1_groups[controller])
            if folder is not None:
                parents[controller] = folder
    missing = [c for c in REQUIRED if c not in parents]
    if missing:
        return None, f"this process's {', '.join(missing)} group is outside the mounted hierarchy"
    return Hierarchy(1, parents), ""


_PROBED: dict[str, str] = {}


def unavailable() -> str:
    """Why per-kernel groups cannot be made here ('' if they can): detection, then a trial group made and removed."""
    if "reason" in _PROBED:
        return _PROBED["reason"]
    try:
        found, reason = detect()
    except OSError as exc:
        found, reason = None, f"cannot read this process's cgroups: {exc}"
    if found is not None:
        try:
            worker = create_worker(found, name=f"course-{os.getpid()}-probe")
            destroy_worker(worker)
        except OSError as exc:
            reason = f"cgroup v{found.version} groups cannot be made under {found.folders()[0]}: {exc.strerror or exc}"
    _PROBED["reason"] = reason
    return reason


# --- groups -------------------------------------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(hierarchy: Hierarchy) -> None:
    """Remove the worker groups of grading processes that died without cleaning up (killed, out of memory)."""
    for folder in hierarchy.folders():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            match = _WORKER.match(name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                _remove_tree(os.path.join(folder, name))


def create_worker(hierarchy: Hierarchy, name: str | None = None) -> Worker:
    """This grading process's group, with ``server/`` for the fork server; kernel groups are made per kernel."""
    if name is None:
        _counter[0] += 1
        name = f"course-{os.getpid()}-{_counter[0]}"
    groups = {c: os.path.join(parent, name) for c, parent in hierarchy.parents.items()}
    worker = Worker(hierarchy.version, groups)
    made: list[str] = []
    try:
        for folder in worker.folders():
            os.mkdir(folder, 0o755)
            made.append(folder)
            if hierarchy.version == 2:  # the kernel groups below get the controllers
                _write(os.path.join(folder, "cgroup.subtree_control"),
                       " ".join(f"+{c}" for c in sorted(hierarchy.parents)))
            os.mkdir(os.path.join(folder, "server"), 0o755)
    except OSError:
        for folder in made:
            _remove_tree(folder)
        raise
    return worker


def destroy_worker(worker: Worker) -> list[str]:
    """Kill whatever is left in the worker group and remove it; returns the folders that could not be removed."""
    left = []
    for folder in worker.folders():
        if not _remove_tree(folder):
            left.append(folder)
    return left


def server_procs(worker: Worker) -> list[str]:
    """The ``cgroup.procs`` files a process writes ``0`` to in order to join the fork server's group."""
    return [os.path.join(folder, "server", "cgroup.procs") for folder in worker.folders()]


def kernel_folders(worker: Worker, name: str) -> list[str]:
    if not _NAME.match(name):
        raise ValueError(f"bad cgroup name {name!r}")
    return [os.path.join(folder, name) for folder in worker.folders()]


def create_kernel(worker: Worker, name: str, memory_mb: int, processes: int) -> list[str]:
    """A kernel's group with its limits: memory (no swap beyond it), tasks, an equal CPU weight."""
    folders = kernel_folders(worker, name)
    try:
        for folder in folders:
            os.mkdir(folder, 0o755)
        memory, pids, cpu = (os.path.join(worker.groups[c], name) if c in worker.groups else None
                             for c in ("memory", "pids", "cpu"))
        limit = str(memory_mb * 2**20)
        if worker.version == 2:
            _write(os.path.join(memory, "memory.max"), limit)
            if os.path.exists(os.path.join(memory, "memory.swap.max")):
                _write(os.path.join(memory, "memory.swap.max"), "0")
            _write(os.path.join(pids, "pids.max"), str(processes))
            if cpu:
                _write(os.path.join(cpu, "cpu.weight"), str(CPU_WEIGHT_V2))
        else:
            _write(os.path.join(memory, "memory.limit_in_bytes"), limit)
            if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):  # swap counted too
                _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), limit)
            _write(os.path.join(pids, "pids.max"), str(processes))
            if cpu:
                _write(os.path.join(cpu, "cpu.shares"), str(CPU_SHARES_V1))
    except OSError:
        remove_kernel(worker, name)
        raise
    return folders


def join(folders: list[str]) -> None:
    """Move the calling process into the given groups (before it starts anything: its children follow it)."""
    for folder in folders:
        _write(os.path.join(folder, "cgroup.procs"), "0")


def remove_kernel(worker: Worker, name: str) -> bool:
    """Kill what is left of a kernel and remove its group; False if some of it could not be removed."""
    return all([_remove_tree(folder) for folder in kernel_folders(worker, name)])


def kernel_names(worker: Worker) -> list[str]:
    names: set[str] = set()
    for folder in worker.folders():
        try:
            names |= {n for n in os.listdir(folder) if n.startswith("k-") and os.path.isdir(os.path.join(folder, n))}
        except OSError:
            pass
    return sorted(names)


def _procs(folder: str) -> list[int]:
    try:
        return [int(p) for p in _read(os.path.join(folder, "cgroup.procs")).split()]
    except (OSError, ValueError):
        return []


def _remove_tree(folder: str, wait: float = 10.0) -> bool:
    """Kill every process in a group and its subgroups, then remove them, innermost first.

    Why kill: a group with processes cannot be removed, and a leftover process of a
    finished kernel must not keep its memory or CPU. ``cgroup.kill`` (v2, Linux 5.14)
    kills atomically; otherwise each listed process is killed until none is left
    (a process forked meanwhile appears in the next listing).
    """
    if not os.path.isdir(folder):
        return True
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(entry.path, wait)
    deadline = time.monotonic() + wait
    while True:
        if os.path.exists(os.path.join(folder, "cgroup.kill")):
            try:
                _write(os.path.join(folder, "cgroup.kill"), "1")
            except OSError:
                pass
        for pid in _procs(folder):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.rmdir(folder)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                return False
        time.sleep(0.02)  # killed processes are still exiting


# --- reading a process's limits (reports and tests) ---------------------------------------------------------------

def limits_of(pid: int | str = "self") -> dict:
    """The group limits that hold for process ``pid``, read on this side: memory (bytes), tasks, CPU weight.

    Values are None where no limit or no controller applies; ``groups`` names the groups.
    """
    found, _ = detect()
    out: dict = {"memory": None, "pids": None, "cpu": None, "groups": {}}
    v1_mounts, v2_mount = _mounts(_read("/proc/self/mountinfo"))
    v1_groups, v2_group = _memberships(_read(f"/proc/{pid}/cgroup"))

    def number(path: str) -> int | None:
        try:
            text = _read(path).strip()
        except OSError:
            return None
        return None if text == "max" or not text.lstrip("-").isdigit() else int(text)

    if found is not None and found.version == 2 and v2_mount and v2_group is not None:
        folder = _inside(v2_mount, v2_group)
        if folder:
            out["groups"] = {"v2": v2_group}
            out["memory"] = number(os.path.join(folder, "memory.max"))
            out["pids"] = number(os.path.join(folder, "pids.max"))
            out["cpu"] = number(os.path.join(folder, "cpu.weight"))
        return out
    for controller, name in (("memory", "memory.limit_in_bytes"), ("pids", "pids.max"), ("cpu", "cpu.shares")):
        if controller in v1_mounts and controller in v1_groups:
            folder = _inside(v1_mounts[controller], v1_groups[controller])
            if folder:
                out["groups"][controller] = v1_groups[controller]
                value = number(os.path.join(folder, name))
                out[controller] = None if controller == "memory" and value and value >= 2**62 else value
    return out
