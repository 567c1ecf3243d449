"""The attack suite: malicious submissions are graded correctly or flagged, and the sandbox holds.

Each attack is a Day 1 submission with hostile code added to (or in place of)
an answer cell. All are graded in one sandboxed autograde run. The checks are
made from outside: files hashed before and after, a loopback listener counting
connections, the process table, the gradebook and the integrity report.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from conftest import LABS, REAL
from course.grading import autograde, gradebook, integrity, sandbox
from course.core import notebooks
from course.build import release
from course.checks import submissions
from course.core.scratch import scratch_course

LAB = LABS[0]
pytestmark = pytest.mark.skipif(bool(sandbox.unavailable()), reason=f"no sandbox: {sandbox.unavailable()}")


def _attacks(course, port: int, victim: Path, marker_dir: Path) -> dict[str, tuple[str, str]]:
    """student → (kind of base notebook, code appended to the first answer cell)."""
    secrets = [course.source_notebook(LAB), course.gradebook, victim, REAL.source_notebook(LAB),
               Path.home() / ".bashrc", course.root / "nbgrader_config.py"]
    targets = [course.source_notebook(LAB), course.gradebook, victim, marker_dir / "planted.txt",
               Path.home() / "course-attack-marker.txt", REAL.source / "planted.txt"]
    read = f"""
for path in {[str(p) for p in secrets]!r} + ['../../../source/{LAB}/{LAB}.ipynb', '../../../gradebook.db']:
    try:
        with open(path, 'rb') as fh:
            print('LEAK', path, len(fh.read()))
    except OSError as exc:
        print('DENIED', type(exc).__name__)
"""
    write = f"""
for path in {[str(p) for p in targets]!r} + ['../../../gradebook.db']:
    try:
        with open(path, 'ab') as fh:
            fh.write(b'owned')
        print('WROTE', path)
    except OSError as exc:
        print('DENIED', type(exc).__name__)
"""
    network = f"""
import socket
for address in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:
    try:
        socket.create_connection(address, timeout=3).close()
        print('CONNECTED', address)
    except OSError as exc:
        print('DENIED', type(exc).__name__)
"""
    forkbomb = """
import os, time
children = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    children += 1
print('FORK LIMIT after', children, 'children', 'UID', os.getuid())
"""
    memory = """
blocks = []
try:
    while True:
        blocks.append(bytearray(512 * 2**20))
except MemoryError:
    print('MEMORY LIMIT at', len(blocks) * 512, 'MB')
del blocks
"""
    lazy_patch = "def relu(z):\n    import numpy\n    numpy.allclose = lambda *a, **k: True\n    return z\n"
    spy = ("ip = get_ipython()\n"
           "ip.events.register('pre_run_cell', lambda info: print('SPY', info.raw_cell))\n")
    return {
        "reader": ("solved", read),
        "writer": ("solved", write),
        "network": ("solved", network),
        "forkbomb": ("solved", forkbomb),
        "memory": ("solved", memory),
        "bigprint": ("solved", "for _ in range(2**14):\n    print('x' * 2**16)\n"),  # 1 GiB of output
        "stubborn_loop": ("solved", "while True:\n    try:\n        while True:\n            pass\n"
                                    "    except KeyboardInterrupt:\n        pass\n"),
        "exits": ("solved", "import os\nos._exit(0)\n"),
        "monkeypatch": ("blank", "import numpy as np, torch\nnp.allclose = lambda *a, **k: True\n"
                                 "torch.testing.assert_close = lambda *a, **k: None\n"),
        "obfuscated_patch": ("blank", "m = __import__('num' + 'py')\nvars(m)['all' + 'close'] = lambda *a, **k: True\n"),
        "lazy_patch": ("blank", lazy_patch),
        "transformer": ("blank", "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"),
        "spy": ("solved", spy),
    }


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("attacks"))
    with open(course.root / "nbgrader_config.py", "a") as fh:  # short limits keep the loop cases quick
        fh.write("\nc.Execute.timeout = 20\nc.BudgetedExecute.notebook_timeout = 120\n")
    release.release(course, [LAB])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    connections: list = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(listener.accept())
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    marker_dir = tmp_path_factory.mktemp("outside")
    submissions.write(course, "victim", LAB, submissions.make(course, LAB, "solved"))
    victim = course.submission("victim", LAB)
    solved = submissions.make(course, LAB, "solved")
    first = submissions.answer_ids(solved)[0]
    first_solution = next(c.source for c in solved.cells if notebooks.grade_id(c) == first)
    attacks = _attacks(course, listener.getsockname()[1], victim, marker_dir)
    for student, (kind, code) in attacks.items():
        base = first_solution + "\n" if kind == "solved" else ""
        submissions.write(course, student, LAB, submissions.make(course, LAB, kind, {first: base + code}))
    # reads the test's source through the caller's frame while the test runs, prints it from a later cell
    second = submissions.answer_ids(solved)[1]
    second_solution = next(c.source for c in solved.cells if notebooks.grade_id(c) == second)
    # (every caller up the stack: the grader's recorder may sit between the test and the function)
    steal = ("import sys, linecache\nSTOLEN = []\n_relu = relu\n"
             "def relu(z):\n    frame = sys._getframe(1)\n    while frame is not None:\n"
             "        if 'ipykernel' in frame.f_code.co_filename and 'site-packages' not in frame.f_code.co_filename:\n"
             "            STOLEN.extend(linecache.getlines(frame.f_code.co_filename))\n"
             "        frame = frame.f_back\n"
             "    return _relu(z)\n")
    submissions.write(course, "exfiltrate", LAB, submissions.make(course, LAB, "solved", {
        first: first_solution + "\n" + steal, second: second_solution + "\nprint(''.join(STOLEN))\n"}))
    # test cells deleted (blank answers) and locked cells edited: nbgrader must restore them
    nb = submissions.make(course, LAB, "blank")
    nb.cells = [c for c in nb.cells if not notebooks.is_tests(c)]
    submissions.write(course, "deletes_tests", LAB, nb)
    nb = submissions.make(course, LAB, "blank")
    for cell in nb.cells:
        if notebooks.is_tests(cell):
            cell.source = "pass"
        elif notebooks.is_setup(cell):
            cell.source += "\nimport numpy\nnumpy.allclose = lambda *a, **k: True\n"
    submissions.write(course, "edits_locked", LAB, nb)
    protected = [course.source_notebook(LAB), course.gradebook, victim, REAL.source_notebook(LAB),
                 course.root / "nbgrader_config.py"]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in protected}
    results = {r.student: r for r in autograde.autograde(course, [LAB], report=True, jobs=2)}
    stop.set()
    thread.join()
    listener.close()
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in protected if p != course.gradebook}
    return course, results, before, after, connections, marker_dir


def _outputs(course, student: str) -> str:
    nb = nbformat.read(course.autograded / student / LAB / f"{LAB}.ipynb", as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def _score(course, student: str, results=None):
    scores = gradebook.scores(course, LAB)
    assert student in scores, f"no grade for {student}: {results.get(student) if results else 'no result'}"
    return scores[student]


def test_every_attack_gets_a_result(attacked):
    course, results, *_ = attacked
    assert "victim" in results and len(results) == 17


def test_files_outside_the_sandbox_are_neither_read_nor_written(attacked):
    course, results, before, after, _, marker_dir = attacked
    text = _outputs(course, "reader") + _outputs(course, "writer")
    assert "LEAK" not in text and "WROTE" not in text, text[:2000]
    assert text.count("DENIED") >= 14
    for path, digest in after.items():
        assert before[path] == digest, f"{path} was changed"
    assert not (marker_dir / "planted.txt").exists()
    assert not (Path.home() / "course-attack-marker.txt").exists()
    assert not (REAL.source / "planted.txt").exists()
    assert not course.gradebook.read_bytes().endswith(b"owned")
    src = notebooks.read(course.source_notebook(LAB))
    # (the exfiltrate attack does capture a hidden test into its own outputs: only its feedback must be clean)
    everything = "".join(_outputs(course, s) for s in results
                         if s != "exfiltrate" and (course.autograded / s / LAB).is_dir())
    assert not [ln for ln in notebooks.distinctive_hidden_lines(src) if ln in everything.replace("\\n", "\n")]
    for student in ("reader", "writer"):
        score = _score(course, student, results)
        assert score.auto_earned == score.auto_possible, f"{student}: attacks that fail must not cost points"


def test_no_network(attacked):
    course, *_, connections, _ = attacked
    assert connections == [], "the sandboxed kernel reached the grader's loopback"
    text = _outputs(course, "network")
    assert "CONNECTED" not in text and text.count("DENIED") == 2


def test_fork_bomb_hits_the_process_limit_and_leaves_nothing_behind(attacked):
    course, results, *_ = attacked
    text = _outputs(course, "forkbomb")
    assert "FORK LIMIT after" in text
    count = int(text.split("FORK LIMIT after")[1].split()[0])
    assert count < sandbox.Limits().processes
    # the bomb's children hold the process budget, so the rest of *this* notebook may fail; it is flagged
    assert results["forkbomb"].ok and results["forkbomb"].flags
    uid = int(re.search(r"UID (\d+)", text).group(1))
    if os.getuid() == 0:  # (as an ordinary user the kernel shares the instructor's uid; its PID namespace still dies)
        assert uid in sandbox.sandbox_uids(), "as root, the kernel must run as a user of its own"
        assert _processes_of(uid) == [], "the fork bomb's processes outlived their kernel"


def _processes_of(user: int) -> list[str]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = int(next(ln for ln in status.read_text().splitlines() if ln.startswith("Uid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        if uid == user:
            found.append(status.parent.name)
    return found


def test_memory_exhaustion_is_a_memory_error(attacked):
    course, results, *_ = attacked
    assert "MEMORY LIMIT at" in _outputs(course, "memory")
    score = _score(course, "memory", results)
    assert score.auto_earned == score.auto_possible


def test_huge_print_is_cut_and_the_notebook_stays_small(attacked):
    course, results, *_ = attacked
    path = course.autograded / "bigprint" / LAB / f"{LAB}.ipynb"
    assert path.stat().st_size < 10 * 2**20
    assert "output cut by the grader" in _outputs(course, "bigprint")
    score = _score(course, "bigprint", results)
    assert score.auto_earned == score.auto_possible


def test_loops_and_exits_cost_only_their_own_points(attacked):
    course, results, *_ = attacked
    loop = _score(course, "stubborn_loop", results)
    assert loop.auto_earned < loop.auto_possible
    assert not results["exits"].ok and "died" in results["exits"].reason.lower()
    assert _score(course, "exits").earned == 0
    victim = _score(course, "victim", results)
    assert victim.auto_earned == victim.auto_possible


@pytest.mark.parametrize("student", ["monkeypatch", "obfuscated_patch", "lazy_patch", "transformer"])
def test_tampering_scores_zero_and_is_flagged(attacked, student):
    course, results, *_ = attacked
    assert _score(course, student).auto_earned == 0
    assert results[student].flags, f"{student} was not flagged"
    report = integrity.read_report(course.autograded / student / LAB)
    assert report["runtime"], report


def test_spying_on_test_cells_is_flagged(attacked):
    course, results, *_ = attacked
    assert results["spy"].flags
    assert integrity.read_report(course.autograded / "spy" / LAB)["runtime"]


@pytest.mark.parametrize("student", ["deletes_tests", "edits_locked"])
def test_deleted_or_edited_test_cells_are_restored(attacked, student):
    course, results, *_ = attacked
    score = _score(course, student, results)
    assert results[student].ok and score.auto_possible > 0 and score.auto_earned == 0


def test_honest_submission_is_not_flagged(attacked):
    course, results, *_ = attacked
    assert results["victim"].ok and not results["victim"].flags
    assert not (course.autograded / "victim" / LAB / integrity.REPORT_NAME).exists()


def test_export_names_the_submissions_to_review(attacked):
    import csv
    import io

    from course.classroom import export
    course, results, *_ = attacked
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(export.to_csv(course)))}
    assert rows["monkeypatch"]["review"] == LAB.split("_")[0]
    assert rows["victim"]["review"] == ""


def test_stolen_test_source_never_reaches_the_feedback(attacked):
    from course.core import nbg
    course, results, *_ = attacked
    assert results["exfiltrate"].flags, "reading the caller's frame is flagged"
    hidden = notebooks.distinctive_hidden_lines(notebooks.read(course.source_notebook(LAB)))
    graded = _outputs(course, "exfiltrate").replace("\\n", "\n")
    assert any(line.strip() in graded for line in hidden), "the attack should have captured a hidden test"
    with nbg.quiet_stderr():
        assert nbg.api(course).generate_feedback(LAB, "exfiltrate", force=True)["success"]
    html = "\n".join(p.read_text() for p in (course.feedback / "exfiltrate" / LAB).glob("*.html"))
    import html as html_lib
    text = html_lib.unescape(html)
    leaked = [line for line in hidden if line.strip() in text]
    assert not leaked, leaked[:3]
