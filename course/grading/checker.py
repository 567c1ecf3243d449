"""The trusted checker: each checked test cell's verdict is decided outside the student's process.

Why: the tests used to run only in the student's kernel, where anything they rely on can be replaced
(``np.allclose``, IPython's machinery, the integrity probe itself) and answers can be objects that agree
with every comparison. Every in-kernel check can be lied to. So the verdict moves out:

1. **Record, in the kernel.** Before a checked test cell runs, the grader arms a recorder in the kernel
   (``kernel_recorder.py``): every outermost call of a student-defined function records its result, and any
   argument the call changed, as plain data (numbers, strings, numeric arrays and tensors, lists, tuples and
   dicts of those). The test cell then runs as usual; after it, the grader collects the records through the
   execute reply (``user_expressions``), never through the cell's output.
2. **Replay, in the checker.** A separate process, started by the grader and never reached by student code,
   runs the trusted part of the notebook (the setup cell, and the imports, functions and classes of the given
   cells, all from the release notebook) and then the test cell's full source, visible and hidden parts, with
   each student function replaced by a replay of its records in order. References, comparisons and asserts
   all run here, on the checker's own inputs. A record that is not plain data, a call the notebook never made,
   or a call of another function in its place fails the test.
3. **Verdict.** The test cell's outputs in the autograded notebook are replaced by the checker's verdict: no
   error when it passed, one error with the checker's message when it failed. nbgrader scores that.

This is the "remote calls" design (as CS50's check50 does) done by record and replay, so the test text
authors write stays the one source of truth: the same cell runs in Colab as a plain visible check, and here.
Arguments changed in place are written back into the checker's own arguments, so a test can still assert
that an input was left unmodified.

Which test cells are checked is decided statically from trusted text (:func:`plan`): a cell is checked when
every name it uses is its own, a builtin, defined by the trusted prelude, or a student function that it only
calls. Other cells (those that read a trained model or a variable a given cell computed) are scored as
before, by the absence of an error in the kernel, and ``plan`` lists them so the gap is visible.
"""
from __future__ import annotations

import ast
import builtins
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from course.core import notebooks

RECORDER_SOURCE = (Path(__file__).with_name("kernel_recorder.py")).read_text()
COLLECT_EXPRESSION = "__course_recorder__.collect()"
OPT_OUT = "checker"  # test cell metadata {"course": {"checker": false}}: score it in the kernel only
MAX_RECORD_CHARS = 80_000_000


@dataclass
class Plan:
    """What the checker needs for one lab, built from the release notebook (trusted text only)."""

    prelude: str
    students: list[str]
    checked: dict[str, list[str]] = field(default_factory=dict)  # grade_id → student functions it calls
    unchecked: dict[str, str] = field(default_factory=dict)      # grade_id → why the kernel's verdict is kept


def _bound_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _definitions(source: str) -> tuple[str, set[str]]:
    """The imports, functions and classes of a given cell (never its statements that compute something)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "", set()
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or (isinstance(n, ast.Assign) and _literal(n.value)
                and all(isinstance(target, ast.Name) for target in n.targets))]
    names = {n.name for n in keep if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {target.id for n in keep if isinstance(n, ast.Assign) for target in n.targets}
    names |= {(a.asname or a.name).split(".")[0] for n in keep if isinstance(n, (ast.Import, ast.ImportFrom))
              for a in n.names}
    return ast.unparse(ast.Module(body=keep, type_ignores=[])), names


def _literal(node: ast.AST) -> bool:
    """A constant written out in full (``FAMILIES = ["MLP", "CNN"]``): safe to copy, computes nothing."""
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


def plan(release: NotebookNode, tests: dict[str, str] | None = None) -> Plan:
    """Decide, from trusted text, what the checker runs and which test cells it judges.

    ``release`` is the release notebook (setup, given cells, answer stubs, visible tests and their metadata);
    ``tests`` maps grade ids to the full test source (visible and hidden), as restored from the gradebook.
    """
    prelude_parts: list[str] = []
    prelude_names: set[str] = set()
    students: list[str] = []
    test_cells: dict[str, NotebookNode] = {}
    for cell in release.cells:
        if cell.cell_type != "code":
            continue
        if notebooks.is_setup(cell):
            prelude_parts.append(cell.source)
            try:
                prelude_names |= _bound_names(ast.parse(cell.source))
            except SyntaxError:
                pass
        elif notebooks.is_answer(cell):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            students += [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        elif notebooks.is_tests(cell):
            test_cells[notebooks.grade_id(cell)] = cell
        elif notebooks.meta(cell).get("locked"):
            source, names = _definitions(cell.source)
            if source:
                prelude_parts.append(source)
                prelude_names |= names
    result = Plan(prelude="\n\n".join(prelude_parts), students=students)
    student_set = set(students)
    known = prelude_names | set(dir(builtins)) | {"__name__", "__file__"}
    for gid, cell in test_cells.items():
        source = (tests or {}).get(gid, cell.source)
        mark = cell.get("metadata", {}).get("course", {})
        if mark.get(OPT_OUT) is False:
            result.unchecked[gid] = f"marked for the kernel only: {mark.get('why') or 'no reason given'}"
            continue
        why = _uncheckable(source, known, student_set)
        if why:
            result.unchecked[gid] = why
        else:
            result.checked[gid] = sorted(_called_students(source, student_set))
    return result


def _called_students(source: str, students: set[str]) -> set[str]:
    tree = ast.parse(source)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in students}


def _uncheckable(source: str, known: set[str], students: set[str]) -> str:
    """Why a test cell cannot be judged by the checker alone ('' when it can)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"its source does not parse ({exc.msg})"
    own = _bound_names(tree)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        if node.id in students and node.id not in own:
            if id(node) not in called:
                return f"it uses the student's {node.id} other than by calling it"
        elif node.id not in own and node.id not in known:
            return f"it reads {node.id}, which the notebook computes (not a definition the checker has)"
    return ""


# ------------------------------------------------------------------ the grader's side

class CheckerError(Exception):
    """The checker process could not give a verdict (it died, hung or answered nonsense)."""


class Checker:
    """One checker process per grading process, reused for every notebook it grades."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self._prelude_pending = False
        self._prelude: dict | None = None  # the current notebook's prelude request, sent again after a restart
        self.broken = ""  # why this notebook's prelude failed: every check of it fails with that reason

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("JPY_", "JUPYTER_")) and k != "COURSE_METRICS_FILE"}
            env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", COURSE_QUIET="1",
                       MPLBACKEND="Agg", NBGRADER_EXECUTION="autograde", PYTHONUNBUFFERED="1")
            self.proc = subprocess.Popen([sys.executable, "-m", "course.grading.checker"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
                                         preexec_fn=_checker_limits)
            if self._prelude is not None:  # a restart (after a hung test): the notebook's prelude again
                self.proc.stdin.write(json.dumps(self._prelude) + "\n")
                self.proc.stdin.flush()
                self._prelude_pending = True
        return self.proc

    def _send(self, request: dict) -> None:
        proc = self._start()
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except OSError as exc:
            self.close()
            raise CheckerError(f"the checker process ended ({exc})") from None

    def _receive(self, timeout: float) -> dict:
        import select
        proc = self.proc
        try:
            if proc is None:
                raise CheckerError("the checker process is not running")
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                raise CheckerError(f"the checker took more than {timeout:.0f} s")
            line = proc.stdout.readline()
            if not line:
                raise CheckerError("the checker process ended")
            return json.loads(line)
        except (OSError, ValueError, CheckerError) as exc:
            self.close()
            raise CheckerError(str(exc) or type(exc).__name__) from None

    def _ask(self, request: dict, timeout: float) -> dict:
        self._start()
        self._settle()
        self._send(request)
        return self._receive(timeout)

    def start_notebook(self, prelude: str, data_root: str | None = None) -> None:
        """Send the trusted prelude without waiting: the checker imports and runs it while the kernel starts."""
        self._settle_quietly()
        self.broken = ""
        self._prelude = None
        request = {"op": "prelude", "source": prelude, "data": data_root}
        self._send(request)
        self._prelude, self._prelude_pending = request, True

    def _settle_quietly(self) -> None:
        try:
            self._settle()
        except CheckerError:
            pass  # that notebook's checks already failed with the reason

    def _settle(self) -> None:
        """Read the prelude's answer, if one is still owed, before anything else is asked."""
        if getattr(self, "_prelude_pending", False):
            self._prelude_pending = False
            answer = self._receive(max(self.timeout, 120.0))
            if not answer.get("ok"):
                self.broken = f"the trusted prelude failed in the checker: {answer.get('message', '')[:300]}"
        if self.broken:
            raise CheckerError(self.broken)

    def check(self, source: str, records_json: str, students: list[str],
              timeout: float | None = None) -> tuple[bool, str, str]:
        """(passed, exception name, message) for one test cell, replaying the kernel's records.

        ``timeout`` (at most the checker's own) is what is left of the notebook's budget: a submission whose
        answers make the trusted test slow spends its own time, not its classmates'.
        """
        if len(records_json) > MAX_RECORD_CHARS:
            return False, "CheckerError", "the notebook's answers were too large to check"
        limit = self.timeout if timeout is None else max(1.0, min(self.timeout, timeout))
        answer = self._ask({"op": "check", "source": source, "records": records_json, "students": students}, limit)
        return bool(answer.get("ok")), str(answer.get("ename", "Error"))[:60], str(answer.get("message", ""))[:500]

    def close(self) -> None:
        self._prelude_pending = False
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                pass
            self.proc = None


def _checker_limits() -> None:
    import resource
    gib = 2**30
    for which, value in ((resource.RLIMIT_AS, 16 * gib), (resource.RLIMIT_FSIZE, gib)):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass


# ------------------------------------------------------------------ the checker process

class CheckFailed(AssertionError):
    """The replay could not go on: the notebook's records do not match what the test asks."""


class _Opaque:
    """A student's answer that is not plain data: any use of it fails the test, with the reason."""

    def __init__(self, name: str, what: str):
        object.__setattr__(self, "_why", f"{name} returned {what}, which the grader cannot check as data")

    def _fail(self, *args, **kwargs):
        raise CheckFailed(object.__getattribute__(self, "_why"))

    __getattr__ = __call__ = __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __lt__ = __gt__ = _fail
    __getitem__ = __array__ = __float__ = __int__ = __index__ = __add__ = __mul__ = __sub__ = _fail
    __hash__ = None  # type: ignore[assignment]


def _decode(obj, name: str):
    """Plain data from the kernel's JSON, validated; never unpickled."""
    import base64
    import io

    import numpy as np
    if not isinstance(obj, dict) or len(obj) < 1:
        raise CheckFailed(f"{name}: a malformed record")
    if "v" in obj:
        value = obj["v"]
        if value is None or type(value) in (bool, int, float, str):
            return value
        raise CheckFailed(f"{name}: a malformed value")
    if "nd" in obj or "t" in obj:
        raw = obj.get("nd") if "nd" in obj else obj.get("t")
        if not isinstance(raw, str) or not raw:
            raise CheckFailed(f"{name}: an array that was too large or malformed")
        array = np.load(io.BytesIO(base64.b64decode(raw, validate=True)), allow_pickle=False)
        if array.dtype.kind not in "biuf":
            raise CheckFailed(f"{name}: an array of dtype {array.dtype}")
        if "nd" in obj:
            return array[()] if obj.get("scalar") and array.ndim == 0 else array
        import torch
        tensor = torch.from_numpy(array.copy())
        if obj.get("rg") and tensor.is_floating_point():
            tensor.requires_grad_(True)
            if obj.get("grad") is not None:
                grad = _decode(obj["grad"], name)
                if isinstance(grad, torch.Tensor) and grad.shape == tensor.shape:
                    tensor.grad = grad.detach().to(tensor.dtype)
        return tensor
    if "list" in obj or "tuple" in obj:
        items = obj.get("list") if "list" in obj else obj.get("tuple")
        if not isinstance(items, list):
            raise CheckFailed(f"{name}: a malformed sequence")
        values = [_decode(v, name) for v in items]
        return values if "list" in obj else tuple(values)
    if "dict" in obj:
        pairs = obj["dict"]
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                                  for p in pairs):
            raise CheckFailed(f"{name}: a malformed dict")
        return {k: _decode(v, name) for k, v in pairs}
    if "opaque" in obj:
        return _Opaque(name, str(obj["opaque"])[:60])
    raise CheckFailed(f"{name}: a malformed record")


def _write_back(target, changed, name: str) -> None:
    """An argument the student's call changed in place: change the checker's own argument the same way."""
    import numpy as np
    import torch
    if isinstance(target, np.ndarray) and isinstance(changed, np.ndarray):
        if target.shape != changed.shape:
            raise CheckFailed(f"{name} changed the shape of its argument in place")
        np.copyto(target, changed, casting="unsafe")
    elif isinstance(target, torch.Tensor) and isinstance(changed, torch.Tensor):
        if target.shape != changed.shape:
            raise CheckFailed(f"{name} changed the shape of its argument in place")
        with torch.no_grad():
            target.copy_(changed.to(target.dtype))
    elif isinstance(target, dict) and isinstance(changed, dict):
        for key in list(target):
            if key not in changed:
                del target[key]
        for key, value in changed.items():
            if key in target and isinstance(target[key], (np.ndarray, torch.Tensor, dict, list)):
                try:
                    _write_back(target[key], value, name)
                    continue
                except CheckFailed:
                    pass
            target[key] = value
    elif isinstance(target, list) and isinstance(changed, (list, tuple)):
        target[:] = list(changed)


_BUILTIN_ERRORS = {n: getattr(builtins, n) for n in dir(builtins)
                   if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), Exception)}


class _Replay:
    def __init__(self, records: list):
        self.records = records
        self.position = 0

    def proxy(self, name: str):
        def call(*args, **kwargs):
            if self.position >= len(self.records):
                raise CheckFailed(f"the notebook gave no answer for this call of {name}; its run of the test "
                                  "stopped earlier (see the error it raised)")
            record = self.records[self.position]
            self.position += 1
            if not isinstance(record, dict) or record.get("name") != name:
                got = record.get("name") if isinstance(record, dict) else "?"
                raise CheckFailed(f"the test calls {name} here, but the notebook's run called {str(got)[:40]}")
            if "raised" in record:
                kind = _BUILTIN_ERRORS.get(str(record.get("raised")), RuntimeError)
                raise kind(f"{name} raised {str(record.get('raised'))[:40]}: {str(record.get('message', ''))[:200]}")
            changed = record.get("args") or []
            if not isinstance(changed, list):
                raise CheckFailed(f"{name}: a malformed record")
            for target, after in zip(args, changed):
                if after is not None:
                    _write_back(target, _decode(after, name), name)
            for key, after in (record.get("kwargs") or {}).items():
                if key in kwargs and after is not None:
                    _write_back(kwargs[key], _decode(after, name), name)
            return _decode(record.get("result"), name)
        call.__name__ = name
        return call


def _serve() -> None:
    """The checker's loop: one JSON request per line on stdin, one JSON answer per line on stdout."""
    import contextlib
    import io
    import warnings
    out = sys.stdout
    sys.stdout = io.StringIO()  # nothing the tests print may corrupt the protocol
    warnings.simplefilter("ignore")
    prelude_ns: dict = {}
    for line in sys.stdin:
        try:
            request = json.loads(line)
            if request.get("op") == "prelude":
                if request.get("data"):
                    os.environ["COURSE_DATA"] = request["data"]
                prelude_ns = {"__name__": "__main__"}
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(request["source"], "<prelude>", "exec"), prelude_ns)  # noqa: S102 — trusted text
                answer = {"ok": True}
            elif request.get("op") == "check":
                payload = json.loads(request["records"])
                if "error" in payload:
                    raise CheckFailed(str(payload["error"])[:200])
                records = payload.get("records")
                if not isinstance(records, list):
                    raise CheckFailed("the notebook's answers could not be read")
                replay = _Replay(records)
                # the proxies go into the prelude's own namespace, so a given function that calls a student
                # function replays it too; test cells share it, as they share the kernel's namespace
                prelude_ns.update({name: replay.proxy(name) for name in request.get("students", [])})
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(request["source"], "<test>", "exec"), prelude_ns)  # noqa: S102 — trusted text
                answer = {"ok": True}
            else:
                answer = {"ok": False, "ename": "CheckerError", "message": "unknown request"}
        except BaseException as exc:  # noqa: BLE001 — the verdict is the exception
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            answer = {"ok": False, "ename": type(exc).__name__, "message": str(exc)[:500]}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
