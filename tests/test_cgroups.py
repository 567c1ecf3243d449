"""Limits for a whole kernel, not per process, and a runtime folder of its own (issue 14, item 8).

A red team starved a neighbour's notebook with 32 busy ``setsid()`` children,
held 8.8 GiB with four children under an 8 GiB per-process limit, and planted
a file in the runtime folder the next student's kernel read. Kernels are
started here as nbgrader starts them (a KernelManager on the ``course-sandbox``
kernelspec), attacked from inside, and checked from outside. Nothing waits on
a clock: children report over pipes, and a dead child reads as end-of-file.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from course.core.environ import overridden
from course.grading import cgroups, sandbox

pytestmark = pytest.mark.skipif(bool(sandbox.unavailable()) or os.getuid() != 0,
                                reason="sandboxed kernels with a runtime tmpfs need bwrap and a grader running as root")
needs_cgroups = pytest.mark.skipif(bool(cgroups.unavailable()),
                                   reason=f"no per-kernel cgroups here: {cgroups.unavailable()}")

LIMITS = sandbox.Limits(kernel_memory_mb=1024, processes=64, runtime_mb=4)
CHUNK_MB = 400  # each of four children: 1.6 GiB together, 2.5 times the kernel's cap; each alone far under its rlimit


@contextlib.contextmanager
def _kernel():
    """A kernel started as nbgrader starts it; yields ``run(code) -> stdout`` (the cell must succeed)."""
    km = KernelManager(kernel_name=sandbox.KERNEL_NAME, transport="ipc", connection_file=sandbox.connection_file())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()

    def run(code: str) -> str:
        out: list[str] = []
        reply = kc.execute_interactive(code, timeout=120, output_hook=lambda m: out.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else ""))
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(out)

    try:
        kc.wait_for_ready(timeout=120)
        yield run
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


@pytest.fixture(params=["warm", "cold"])
def graded(request):
    """A grading process's sandbox with small limits, kernels from the fork server (warm) or bwrap (cold)."""
    with overridden(OMP_NUM_THREADS="1"), sandbox.session(limits=LIMITS, warm=request.param == "warm"):
        sandbox.ensure_forkserver()
        yield sandbox._config_from_env()


def _pids_of(uid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            line = next(ln for ln in status.read_text().splitlines() if ln.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if int(line.split()[1]) == uid:
            found.append(int(status.parent.name))
    return found


@needs_cgroups
def test_every_process_of_a_kernel_is_in_its_group_with_the_limits(graded):
    with _kernel() as run:
        uid = int(run("import os, subprocess\n"
                      "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"  # detached: still counted
                      "print(os.getuid())").split()[0])
        pids = _pids_of(uid)
        assert len(pids) >= 2, "the kernel and its detached child"
        seen = [cgroups.limits_of(pid) for pid in pids]
        groups = {json.dumps(s["groups"], sort_keys=True) for s in seen}
        assert len(groups) == 1, f"the kernel's processes are in different groups: {groups}"
        limits = seen[0]
        assert limits["memory"] == LIMITS.kernel_memory_mb * 2**20
        assert limits["pids"] == LIMITS.processes
        assert limits["cpu"] in (cgroups.CPU_SHARES_V1, cgroups.CPU_WEIGHT_V2), "an equal CPU weight"
        for path in limits["groups"].values():
            assert Path(path).name.startswith("k-") and Path(path).parent.name.startswith(f"course-{os.getpid()}-")
        mine = cgroups.limits_of(os.getpid())
        assert mine["groups"] != limits["groups"], "the grader itself must stay outside the kernel's group"
    _assert_gone(graded)
    assert not _pids_of(uid), "a process of a finished kernel outlived it"


def _assert_gone(config: sandbox.Config) -> None:
    """A finished kernel's group is removed, by its launcher or, if Jupyter had to kill that, before the next kernel."""
    sandbox._sweep_kernels(config)  # what connection_file() does first
    assert cgroups.kernel_names(cgroups.Worker.from_json(config.cgroup)) == [], "a finished kernel's group was left"


# Four children each allocate and touch CHUNK_MB, report over their own pipe ("H"; "M" is a MemoryError from a
# per-process limit; a child killed meanwhile reads as end-of-file), then hold it until released. A child killed
# for memory may have reported first, so only those that reported and then ended normally count as holding: they
# all held their chunks at once. Children are bigger than the kernel, and ask to be chosen first where they may
# (oom_score_adj; a warm kernel may not), so the kernel itself survives to print.
MEMORY = f"""
import os
CHUNK = {CHUNK_MB} * 2**20
go_r, go_w = os.pipe()
kids = []
for _ in range(4):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(go_w); os.close(r); os.setsid()
            try:
                with open('/proc/self/oom_score_adj', 'w') as fh:
                    fh.write('1000')
            except OSError:
                pass
            try:
                block = bytearray(CHUNK)
                block[::4096] = b'\\x01' * len(range(0, CHUNK, 4096))
            except MemoryError:
                os.write(w, b'M')
            else:
                os.write(w, b'H')
                os.read(go_r, 1)
        finally:
            os._exit(0)
    os.close(w)
    kids.append((pid, r))
os.close(go_r)
seen = [os.read(r, 1) for _, r in kids]  # every child has allocated (or died): nothing allocates any more
os.close(go_w)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid, _ in kids]
# a child that reported and then ended normally held its chunk when released: all of those held theirs at once
held = sum(report == b'H' and code == 0 for report, code in zip(seen, codes))
print('HELD', held, 'MEMORYERROR', seen.count(b'M'), 'KILLED', codes.count(-9))
"""


@needs_cgroups
def test_children_together_cannot_exceed_the_kernels_memory(graded):
    with _kernel() as run:
        words = run(MEMORY).split()
        held, memory_error, killed = (int(words[words.index(w) + 1]) for w in ("HELD", "MEMORYERROR", "KILLED"))
        assert memory_error == 0, "a per-process limit stopped a child: the attack did not test the kernel's cap"
        assert held * CHUNK_MB < LIMITS.kernel_memory_mb, \
            f"{held} children held {held * CHUNK_MB} MiB at once, over the kernel's {LIMITS.kernel_memory_mb} MiB"
        assert killed >= 1, "no child was killed for memory"
        assert run("print('alive')").strip() == "alive", "the kernel itself should survive its children's excess"


STORM = """
import os
release_r, release_w = os.pipe()
made, error = 0, None
try:
    while made < 1000:
        pid = os.fork()
        if pid == 0:
            os.setsid(); os.close(release_w); os.read(release_r, 1); os._exit(0)
        made += 1
except OSError as exc:
    error = exc.errno
print('STORM', made, error, os.getuid())
"""


@needs_cgroups
def test_a_fork_storm_of_detached_children_is_bounded_for_the_whole_kernel(graded):
    with _kernel() as run:
        made, error, uid = run(STORM).split("STORM")[1].split()[:3]
        assert error != "None" and int(made) < LIMITS.processes, f"the storm made {made} processes"
        group = cgroups.limits_of(_pids_of(int(uid))[0])["groups"]["pids" if graded.cgroup["version"] == 1 else "v2"]
        hierarchy, _ = cgroups.detect()
        folder = cgroups._inside(_pids_mount(hierarchy), group)
        current = int(Path(folder, "pids.current").read_text())
        assert int(made) < current <= LIMITS.processes, "every task of the kernel counts against one pids.max"
    # (the storm still holds every task, so the kernel cannot even start a thread: shutting it down ends them all)
    _assert_gone(graded)
    assert not _pids_of(int(uid)), "a detached child of the storm outlived its kernel"


def _pids_mount(hierarchy: cgroups.Hierarchy) -> tuple[str, str]:
    v1, v2 = cgroups._mounts(Path("/proc/self/mountinfo").read_text())
    return v2 if hierarchy.version == 2 else v1["pids"]


RUNTIME = """
import errno, json, os, sys
rt = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])
before = sorted(os.listdir(rt))
planted = [os.path.exists(os.path.join(p, 'planted.txt')) for p in [rt] + OTHERS]
with open(os.path.join(rt, 'planted.txt'), 'w') as fh:
    fh.write('from an earlier student')
written, error = 0, None
fd = os.open(os.path.join(rt, 'big'), os.O_WRONLY | os.O_CREAT)
try:
    while written < 64 * 2**20:
        written += os.write(fd, b'x' * 2**20)
except OSError as exc:
    error = errno.errorcode[exc.errno]
os.close(fd)
print(json.dumps({'rt': rt, 'planted': planted, 'before': before, 'written': written, 'error': error,
                  'siblings': sorted(os.listdir(os.path.dirname(rt)))}))
"""


def test_each_kernel_has_its_own_capped_runtime_folder(graded):
    seen = []
    for _ in range(2):
        with _kernel() as run:
            seen.append(json.loads(run(RUNTIME.replace("OTHERS", repr([s["rt"] for s in seen])))))
        assert not os.path.exists(seen[-1]["rt"]), "a kernel's runtime folder must go with it"
    first, second = seen
    assert first["rt"] != second["rt"], "two kernels shared a runtime folder"
    assert second["planted"] == [False, False], "a file one kernel left in its runtime folder reached the next"
    for kernel in seen:
        assert "planted.txt" not in kernel["before"] and "big" not in kernel["before"]
        assert kernel["siblings"] == [os.path.basename(kernel["rt"])], "a kernel saw other kernels' folders"
        assert kernel["error"] == "ENOSPC", "writing past the runtime folder's cap must fail"
        # the cap is the tmpfs's size, freed for each kernel: not what an earlier kernel left over
        assert LIMITS.runtime_mb * 2**20 // 2 < kernel["written"] <= LIMITS.runtime_mb * 2**20


@needs_cgroups
def test_groups_of_a_grading_process_that_died_are_swept():
    hierarchy, _ = cgroups.detect()
    dead = 2**22 + 1  # above any pid_max here: no such process
    assert not os.path.exists(f"/proc/{dead}")
    worker = cgroups.create_worker(hierarchy, name=f"course-{dead}-1")
    cgroups.create_kernel(worker, "k-left", 64, 8)
    cgroups.sweep_stale(hierarchy)
    assert not any(os.path.exists(folder) for folder in worker.folders())


def test_describe_says_which_limits_hold(monkeypatch):
    text = sandbox.describe()
    if cgroups.unavailable():
        assert text.startswith("only per-process rlimits hold")
    else:
        assert text.startswith("per-kernel cgroup limits") and "8192 MiB" in text and "256 tasks" in text
    monkeypatch.setattr(cgroups, "unavailable", lambda: "no cgroup hierarchy with the memory controller is mounted")
    assert sandbox.describe().startswith("only per-process rlimits hold")
    assert "memory controller" in sandbox.describe()


# --- finding the hierarchy, on made-up trees (no privileges needed) ------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_v2_groups_go_below_the_nearest_group_that_delegates_the_controllers(tmp_path):
    _tree(tmp_path, {"cgroup.controllers": "cpuset cpu io memory pids",
                     "cgroup.subtree_control": "cpu io memory pids",
                     "user.slice/cgroup.controllers": "cpu memory pids",
                     "user.slice/cgroup.subtree_control": "memory pids",
                     "user.slice/session-1.scope/cgroup.controllers": "memory pids",
                     "user.slice/session-1.scope/cgroup.subtree_control": ""})
    mountinfo = f"30 23 0:26 / {tmp_path} rw,nosuid - cgroup2 cgroup2 rw\n"
    found, reason = cgroups.detect(mountinfo, "0::/user.slice/session-1.scope\n")
    assert reason == "" and found.version == 2
    assert found.parents == {"memory": str(tmp_path / "user.slice"), "pids": str(tmp_path / "user.slice"),
                             "cpu": str(tmp_path / "user.slice")}
    (tmp_path / "user.slice/cgroup.subtree_control").write_text("")
    (tmp_path / "cgroup.subtree_control").write_text("cpu")
    found, reason = cgroups.detect(mountinfo, "0::/user.slice/session-1.scope\n")
    assert found is None and "enables the memory and pids" in reason


def test_v1_and_a_hybrid_system_without_v2_controllers(tmp_path):
    _tree(tmp_path, {"unified/cgroup.controllers": ""})
    mountinfo = "".join(
        f"{i} 23 0:{i} {root} {tmp_path}/{point} rw - {fs} cgroup rw,{opts}\n"
        for i, (root, point, fs, opts) in enumerate([("/", "unified", "cgroup2", "nsdelegate"),
                                                     ("/", "cpu,cpuacct", "cgroup", "cpu,cpuacct"),
                                                     ("/", "memory", "cgroup", "memory"),
                                                     ("/", "pids", "cgroup", "pids")], start=30))
    proc = "4:memory:/jobs/a\n3:pids:/\n2:cpu,cpuacct:/jobs\n0::/\n"
    found, reason = cgroups.detect(mountinfo, proc)
    assert reason == "" and found.version == 1
    assert found.parents == {"memory": f"{tmp_path}/memory/jobs/a", "pids": f"{tmp_path}/pids",
                             "cpu": f"{tmp_path}/cpu,cpuacct/jobs"}
    found, reason = cgroups.detect(mountinfo.replace("cgroup rw,pids", "cgroup rw,freezer"), proc)
    assert found is None and "pids" in reason
