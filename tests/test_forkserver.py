"""Warm kernels from the fork server: preloaded, yet each one as isolated as a cold one.

Kernels are started the way nbgrader starts them (a KernelManager on the
``course-sandbox`` kernelspec) and questioned from inside; what one kernel
leaves behind must be gone for the next.
"""
from __future__ import annotations

import json
import os
import socket
import time

import pytest
from jupyter_client.manager import KernelManager

from course.grading import sandbox
from course.core.environ import overridden

pytestmark = pytest.mark.skipif(bool(sandbox.unavailable()) or os.getuid() != 0,
                                reason="warm kernels need bwrap and a grader running as root")

LOOK = """
import json, os, socket, sys
def _connect(path):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); s.close(); return 'CONNECTED'
    except OSError as exc:
        return type(exc).__name__
print(json.dumps({
    "preloaded": "torch" in sys.modules and "matplotlib.pyplot" in sys.modules,
    "cwd": os.getcwd(), "home": os.environ.get("HOME"), "uid": os.getuid(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "left": sorted(os.listdir(".")) + sorted(os.listdir("/tmp")) + sorted(os.listdir("/dev/shm")),
    "control": _connect(CONTROL),
    "shared": open(os.path.join(SHARED, "marker.txt")).read(),
    "shared_writable": os.access(SHARED, os.W_OK),
    "env": sorted(os.environ),
}))
open("mine.txt", "w").write("x"); open("/tmp/mine.txt", "w").write("x"); open("/dev/shm/mine", "w").write("x")
import subprocess; subprocess.Popen(["sleep", "300"])  # must not outlive the kernel
"""


def _run(code: str, timeout: float = 60) -> tuple[dict, float]:
    started = time.monotonic()
    km = KernelManager(kernel_name=sandbox.KERNEL_NAME, transport="ipc", connection_file=sandbox.connection_file())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    out: list[str] = []
    try:
        kc.wait_for_ready(timeout=timeout)
        ready = time.monotonic() - started
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else ""))
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return json.loads("".join(out).strip().splitlines()[0]), ready


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    # a read-only folder under /tmp, as the venv and the datasets are when the course itself lives in /tmp:
    # the kernel's fresh /tmp must not hide it
    shared = tmp_path_factory.mktemp("shared")
    (shared / "marker.txt").write_text("shared")
    shared.chmod(0o777)
    with overridden(OMP_NUM_THREADS="1"), sandbox.session(readonly=[str(shared)]):  # as a grading worker has it
        config = sandbox._config_from_env()
        assert config.warm
        sandbox.ensure_forkserver()
        yield config, (LOOK.replace("CONTROL", repr(sandbox.forkserver_socket(config)))
                       .replace("SHARED", repr(str(shared))))


def test_kernels_are_preloaded_and_isolated_from_each_other(warm):
    config, code = warm
    first, _ = _run(code)
    second, _ = _run(code)
    for seen in (first, second):
        assert seen["preloaded"], "the kernel did not come from the fork server"
        assert seen["shared"] == "shared" and not seen["shared_writable"], "a read-only folder under /tmp"
        assert seen["cwd"] == seen["home"] == "/home/student"
        assert seen["uid"] in sandbox.sandbox_uids()
        assert seen["pids"][:2] == [1, 2] and len(seen["pids"]) <= 4, f"sees other processes: {seen['pids']}"
        assert seen["control"] != "CONNECTED", "a kernel reached the fork server's control socket"
        assert set(seen["env"]) <= set(sandbox.PASSED_ENV) | {"HOME", "TMPDIR", "MPLCONFIGDIR", "MPLBACKEND",
                                                             "PYTHONDONTWRITEBYTECODE", "COURSE_SANDBOXED",
                                                             "JPY_SESSION_NAME", "PYDEVD_USE_FRAME_EVAL",
                                                             # set by ipykernel itself
                                                             "TERM", "CLICOLOR", "CLICOLOR_FORCE", "PAGER",
                                                             "GIT_PAGER", "FORCE_COLOR"}
    assert "mine.txt" not in second["left"] and "mine" not in second["left"], "files leaked between kernels"
    assert first["uid"] != second["uid"]
    time.sleep(0.5)
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _is_sleep_of(p, {first["uid"], second["uid"]})], \
        "a process a kernel started outlived it"


def _is_sleep_of(pid: str, uids: set[int]) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            uid = int(next(ln for ln in fh if ln.startswith("Uid:")).split()[1])
        return uid in uids
    except (OSError, StopIteration, ValueError):
        return False


def test_only_the_grader_may_ask_for_kernels(warm):
    config, _ = warm
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sandbox.forkserver_socket(config))
    sock.sendall(b"not json\n")
    assert sock.makefile("rb").readline().startswith(b"error"), "a malformed request must be refused"
    sock.close()
    path = sandbox.forkserver_socket(config)
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == oct(0o700)


def test_a_dead_fork_server_means_a_cold_kernel_not_a_failure(warm):
    config, code = warm
    sandbox.stop_forkserver()
    try:
        seen, _ = _run(code)
        assert not seen["preloaded"] and seen["uid"] in sandbox.sandbox_uids()
    finally:
        sandbox.ensure_forkserver()


def test_a_server_that_hangs_up_means_a_cold_kernel(warm):
    """What launchers see when the fork server cannot make sandboxes here and exits after its self-test."""
    import threading
    config, code = warm
    sandbox.stop_forkserver()
    path = sandbox.forkserver_socket(config)
    os.unlink(path)
    fake = socket.socket(socket.AF_UNIX)
    fake.bind(path)
    fake.listen(4)
    fake.settimeout(60)
    thread = threading.Thread(target=lambda: fake.accept()[0].close(), daemon=True)
    thread.start()
    try:
        seen, _ = _run(code)
        assert not seen["preloaded"] and seen["uid"] in sandbox.sandbox_uids()
        thread.join(5)
        assert not thread.is_alive(), "the launcher never asked the server"
    finally:
        fake.close()
        sandbox.ensure_forkserver()
