"""A warm kernel factory that lives inside the sandbox: each grading kernel is forked, not started.

Why: a fresh kernel spent 7-8 s of every graded notebook before the first
student line ran: about 3 s to start Python and ipykernel under bubblewrap and
4-5 s in the setup cell importing torch, torchvision and matplotlib. For a
class of 250 notebooks that was half the grading time. This server, started
once per grading process inside the same kind of bubblewrap sandbox the
kernels used to get, imports all of that once and forks a child per kernel;
the setup cell's imports then find the modules already loaded.

Each forked kernel still gets a sandbox of its own, made here with the same
kernel calls bwrap uses:

- a new mount namespace: a fresh, size-capped tmpfs as its home (its working
  folder) and ``/tmp`` and ``/dev/shm``, so nothing one student wrote is seen
  by the next; the server's control socket is unmounted out of its sight;
- a new PID namespace, whose init is a tiny reaper: when the kernel ends, or
  the grader kills it, everything the kernel started dies with it;
- a new IPC namespace; the server's network namespace has no network at all;
- its own unprivileged user id, resource limits and a whitelisted environment;
- its own control group, made by the launcher, which the forked child joins
  before it forks anything (so every process of the kernel counts against the
  kernel's memory, task and CPU limits together), and a cgroup namespace;
- only its own runtime folder: the grading process's runtime folder, which
  holds every kernel's, is replaced by an empty one with the kernel's put back.

This file runs inside the sandbox with the standard library only (it cannot
import the ``course`` package, which is not mounted there). The grader's side
(start, request, fall back to a cold start) is in ``course.grading.sandbox``.

Protocol: one JSON line per connection, with the launcher's stdin, stdout and
stderr passed as file descriptors; the server answers ``started`` when the
kernel is forked and ``exit <code>`` when its sandbox is gone. A launcher that
disconnects early gets its kernel killed.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWCGROUP = 0x00020000, 0x20000000, 0x08000000, 0x02000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1

HOME = "/home/student"          # the kernel's working folder and $HOME (a tmpfs of its own)
SCRATCH = "/run/course/scratch"  # mount point of that tmpfs; home, tmp and shm are folders in it
CGROUPS = "/run/course/cgroup"   # the grading process's control group(s), bound here as <CGROUPS>/0, /1, ...
# What every lab's setup cell imports, and what ipykernel needs: loaded once, shared by every fork.
PRELOAD = ("numpy", "torch", "torchvision", "matplotlib", "matplotlib.pyplot", "IPython",
           "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "matplotlib_inline.backend_inline")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _bind(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)


def mount_tmpfs(target: str, size_mb: int, mode: str) -> None:
    """A size-capped tmpfs (used by the grader for the runtime folder too: one mount helper, not two)."""
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode={mode},nr_inodes=10000")


def unmount(target: str) -> None:
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _make_filesystem(request: dict) -> None:
    """In a new mount namespace: fresh scratch, the control socket hidden, what the kernel needs kept.

    Fresh tmpfs folders replace ``/tmp``, the home folder and ``/dev/shm``. Anything
    the kernel needs that lived under them (the runtime folder with its sockets;
    the virtual environment or the datasets when the course itself sits in /tmp)
    is set aside first and mounted back, read-only where it was.
    """
    uid, runtime, control = request["uid"], request["runtime"], request["control_dir"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _check(_libc.umount2(control.encode(), MNT_DETACH), f"umount {control}")
    for path in (request.get("cgroup") or {}).get("mounts", []):
        unmount(path)
    _mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={request['scratch_mb']}m,mode=0755,nr_inodes=100000")
    for name in ("home", "tmp", "shm", "hold", "runtime"):
        os.mkdir(os.path.join(SCRATCH, name), 0o755 if name == "runtime" else 0o700)
        if name not in ("hold", "runtime"):
            os.chown(os.path.join(SCRATCH, name), uid, uid)
    replaced = {HOME: "home", "/tmp": "tmp", "/dev/shm": "shm"}
    root = request.get("runtime_root")
    if root and _under(runtime, root) and runtime != root:  # every kernel's folder is in it: only its own stays
        replaced[root] = "runtime"
    keep = [(runtime, False)] + [(path, True) for path in request.get("readonly", [])]
    keep = list(dict((path, ro) for path, ro in keep if any(_under(path, top) and path != top for top in replaced)).items())
    held = []
    for i, (path, readonly) in enumerate(keep):
        hold = os.path.join(SCRATCH, "hold", str(i))
        os.mkdir(hold)
        _bind(path, hold)
        held.append((hold, path, readonly))
    for top, name in sorted(replaced.items(), key=lambda item: len(item[0].split("/"))):  # outer ones first
        os.makedirs(top, exist_ok=True)  # (the runtime root may sit in the fresh /tmp)
        _bind(os.path.join(SCRATCH, name), top)
    for hold, path, readonly in held:
        os.makedirs(path, exist_ok=True)
        _bind(hold, path)
        if readonly:
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        _check(_libc.umount2(hold.encode(), MNT_DETACH), f"umount {hold}")


def set_limits(limits: dict) -> None:
    """rlimits from ``course.grading.sandbox.Limits`` (as a dict): shared by warm and cold kernels."""
    def cap(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, limits["memory_mb"] * 2**20)
    cap(resource.RLIMIT_FSIZE, limits["file_mb"] * 2**20)
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NPROC, limits["processes"])


def _become_kernel(request: dict) -> None:
    """The forked kernel: drop to the student's user, limits, environment, then run ipykernel."""
    import random
    os.setsid()  # ipykernel interrupts its own process group
    uid = request["uid"]
    if os.getuid() == 0 and uid:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    set_limits(request["limits"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(HOME)
    random.seed()  # a fork shares its parent's random state; a fresh kernel would not
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", here)]
    sys.argv = ["ipykernel_launcher", "-f", request["connection"], *request.get("args", [])]
    from ipykernel import kernelapp
    kernelapp.launch_new_instance()


def _reaper(kernel: int) -> int:
    """PID 1 of the kernel's namespace: reap everything, end when the kernel ends (taking the rest along)."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == kernel:
            return os.waitstatus_to_exitcode(status) & 0xFF


def _join_cgroup(request: dict) -> int:
    """Join the kernel's control group (made by the launcher) before anything is forked; the flag for unshare.

    Why here: the server forks this child, and only the child can move itself
    before it has children; a group joined later would miss the ones it had.
    """
    group = request.get("cgroup")
    if not group:
        return 0
    name = group["name"]
    if "/" in name or name in ("", ".", ".."):
        raise ValueError(f"bad cgroup name {name!r}")
    for mount in group["mounts"]:
        fd = os.open(os.path.join(mount, name, "cgroup.procs"), os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    return CLONE_NEWCGROUP  # the kernel sees its own group as the root, as a cold kernel under bwrap does


def _child(request: dict, fds: list[int]) -> int:
    """The forked process: its group, namespaces and mounts, then the reaper (PID 1) and the kernel (PID 2)."""
    flags = _join_cgroup(request)
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | flags), "unshare")
    _make_filesystem(request)
    alive_r, alive_w = os.pipe()  # open in this process while it lives: the init can tell it is gone
    init = os.fork()
    if init:
        os.close(alive_r)
        return os.waitstatus_to_exitcode(os.waitpid(init, 0)[1]) & 0xFF
    os.close(alive_w)
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    os.set_blocking(alive_r, False)
    try:
        if os.read(alive_r, 1) == b"":  # killed before the line above took effect
            os._exit(1)
    except BlockingIOError:
        pass
    os.close(alive_r)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    kernel = os.fork()
    if kernel:
        os._exit(_reaper(kernel))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    try:
        _become_kernel(request)
    except BaseException:  # noqa: BLE001 — say why on the launcher's stderr, then end the kernel
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


class Server:
    def __init__(self, path: str) -> None:
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(16)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.sessions: dict[int, socket.socket] = {}  # forked pid → the launcher's connection

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    self._accept()
                else:  # a launcher went away (killed by the grader): its kernel goes too
                    self._hang_up(key.fileobj)
            self._reap()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            peer_uid = int.from_bytes(creds[4:8], sys.byteorder)
            if peer_uid != os.getuid():  # only the grader, never a kernel (they run as other users)
                raise PermissionError(f"uid {peer_uid} may not ask for kernels")
            conn.settimeout(10)
            data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
            while not data.endswith(b"\n"):
                more = conn.recv(65536)
                if not more:
                    raise ConnectionError("request cut short")
                data += more
            request = json.loads(data)
            request["control_dir"] = os.path.dirname(self.path)  # the server's own, not the caller's word
        except (OSError, ValueError) as exc:
            try:
                conn.sendall(f"error {exc}\n".encode())
            except OSError:
                pass
            conn.close()
            return
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self.selector.close()
                self.listener.close()
                for other in self.sessions.values():
                    other.close()
                conn.close()
                code = _child(request, fds)
            except BaseException:  # noqa: BLE001
                import traceback
                traceback.print_exc()
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        conn.sendall(b"started\n")
        self.sessions[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ)

    def _hang_up(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)  # no more events from it; it is closed when its kernel is reaped
        for pid, other in list(self.sessions.items()):
            if other is conn:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _reap(self) -> None:
        while self.sessions:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.sessions.pop(pid, None)
            if conn is not None:
                if conn in [key.fileobj for key in self.selector.get_map().values()]:
                    self.selector.unregister(conn)
                try:
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                except OSError:
                    pass
                conn.close()


def _self_test() -> str:
    """Why this sandbox cannot make kernel sandboxes ('' if it can): a forked child tries the same calls."""
    pid = os.fork()
    if pid == 0:
        try:
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            _mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
            init = os.fork()
            if init == 0:
                _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                os._exit(0)
            os._exit(os.waitstatus_to_exitcode(os.waitpid(init, 0)[1]))
        except BaseException as exc:  # noqa: BLE001
            print(f"forkserver: {exc}", file=sys.stderr, flush=True)
            os._exit(1)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "" if code == 0 else f"a kernel sandbox cannot be made here (exit {code})"


def main(argv: list[str]) -> None:
    started = time.monotonic()
    server = Server(argv[0])  # listening at once: launchers queue while the imports below run
    problem = _self_test()
    if problem:  # queued and later launchers find nobody listening and start their kernels cold
        print(f"forkserver: {problem}; kernels will start cold", file=sys.stderr, flush=True)
        sys.exit(3)
    failed = []
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception as exc:  # noqa: BLE001 — a module the kernel lacks is its own error later
            failed.append(f"{name}: {exc}")
    print(f"forkserver ready in {time.monotonic() - started:.1f} s"
          + (f"; not preloaded: {'; '.join(failed)}" if failed else ""), file=sys.stderr, flush=True)
    server.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
