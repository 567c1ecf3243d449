"""Warm ``python3`` kernels for grading many notebooks locally with otter: forked from a process that imported torch.

Why: every ``otter run`` starts a fresh kernel, and the setup cell then spends about 5 s importing torch,
torchvision and matplotlib; the test suite grades ~250 fixture notebooks through otter, so that import alone was
a large part of its time on 2 cores. ``course.grading.forkserver`` solves the same problem for ``autograde``
inside the sandbox; this is its unsandboxed little sibling for otter, which starts kernels by the kernelspec name
``python3``. A server imports the modules once; a kernelspec named ``python3`` (found first through
``JUPYTER_PATH``) runs this file as the kernel's launcher, which hands the server its connection file, environment,
working folder and standard streams; the server forks a child that becomes the ipykernel. The child is a fresh
process image of an unused interpreter: the only difference from a cold kernel is that the modules are already
imported (nothing of torch has run in the server). Gradescope itself always starts cold kernels; ``bench`` times
a cold ``otter run``.

Stand-alone (standard library only): the launcher runs as a plain script, without importing the kit.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import tempfile
from pathlib import Path

SOCKET_ENV = "COURSE_WARM_KERNEL_SOCKET"
# the kit's own list of what every lab's setup cell imports (course/grading/forkserver.py); read, not copied
PRELOAD_SOURCE = Path(__file__).resolve().parent.parent / "grading" / "forkserver.py"


def preload_names() -> tuple[str, ...]:
    import ast
    tree = ast.parse(PRELOAD_SOURCE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PRELOAD" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError(f"no PRELOAD in {PRELOAD_SOURCE}")


def kernelspec_dir(where: Path) -> Path:
    """A JUPYTER_PATH folder whose ``kernels/python3`` launches through the warm server."""
    spec = where / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(Path(__file__).resolve()), "launch", "{connection_file}"],
        "display_name": "Python 3 (warm, course kit)", "language": "python",
        "interrupt_mode": "message", "metadata": {"debugger": False}}))
    return where


# ------------------------------------------------------------------------------------------ the server

def _child(request: dict, fds: list[int], inherited: list[int]) -> None:
    """In the forked child: become the kernel the launcher asked for (nothing of the server's kept open)."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds:
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["ipykernel_launcher", "-f", request["connection"], *request.get("args", [])]
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    from ipykernel.kernelapp import launch_new_instance
    try:
        launch_new_instance()
    finally:
        os._exit(0)


def serve(path: str) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    for name in preload_names():
        __import__(name)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sessions: dict[int, socket.socket] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel.register(wake_r, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                request = json.loads(data.decode())
                pid = os.fork()
                if pid == 0:
                    _child(request, fds, [listener.fileno(), wake_r, wake_w, conn.fileno(),
                                          *(c.fileno() for c in sessions.values())])
                for fd in fds:
                    os.close(fd)
                sessions[pid] = conn
                sel.register(conn, selectors.EVENT_READ, pid)
            elif key.fileobj == wake_r:
                os.read(wake_r, 4096)
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    conn = sessions.pop(pid, None)
                    if conn is not None:
                        sel.unregister(conn)
                        try:
                            conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                        except OSError:
                            pass
                        conn.close()
            else:  # the launcher hung up (killed by the kernel manager): the kernel goes too
                conn, pid = key.fileobj, key.data
                if not conn.recv(1):
                    sel.unregister(conn)
                    conn.close()
                    sessions.pop(pid, None)
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


def launch(connection: str, args: list[str]) -> int:
    """The kernelspec's argv: ask the server for a kernel, then live exactly as long as it does."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ[SOCKET_ENV])
    request = {"connection": os.path.abspath(connection), "cwd": os.getcwd(), "env": dict(os.environ),
               "args": args}  # what the kernel manager added (nbclient: an in-memory history)
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = conn.recv(64)
        if not chunk:
            return 1
        answer += chunk
    return int(answer.split()[1])


class WarmKernels:
    """Context manager: a warm server and the environment (JUPYTER_PATH, socket) that makes otter use it."""

    def __enter__(self) -> dict[str, str]:
        import subprocess
        self.folder = Path(tempfile.mkdtemp(prefix="warm-kernels-"))
        self.socket = str(self.folder / "server.sock")
        env = dict(os.environ)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "serve", self.socket],
                                       stdout=subprocess.PIPE, env=env, text=True)
        if self.server.stdout.readline().strip() != "ready":
            self.server.kill()
            raise RuntimeError("the warm kernel server did not start")
        jupyter = kernelspec_dir(self.folder / "jupyter")
        return {"JUPYTER_PATH": os.pathsep.join(filter(None, [str(jupyter), os.environ.get("JUPYTER_PATH", "")])),
                SOCKET_ENV: self.socket}

    def __exit__(self, *exc) -> None:
        import shutil
        self.server.kill()
        self.server.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "launch":
        sys.exit(launch(sys.argv[2], sys.argv[3:]))
