"""Grade integrity: catch submissions that tamper with what the tests rely on.

Why: nbgrader runs the student's cells and the tests in one kernel, so a cell
such as ``np.allclose = lambda *a, **k: True`` would make every later test
pass. Two independent layers look for this; neither is a proof on its own,
together they make a silent cheat hard:

- **Static scan** of the cells a student may edit, before grading: assigning
  to attributes of imported modules or builtins, ``setattr`` on them,
  ``sys.modules``, tracing hooks, IPython's input and AST transformers,
  ``exec``/``eval``/``__import__``, ``ctypes`` … Findings flag the submission
  for manual review; they do not change the score (a false alarm costs a look,
  not points).
- **Runtime probe**, during grading (``nbgrader_ext.BudgetedExecute``): before
  the first cell and after every cell, the grader asks the kernel for the
  identity of the functions tests call (``np.allclose``, ``torch.testing``,
  builtins, …), of ``sys.modules`` entries and of IPython's execution
  machinery. The answer comes back in the execute reply (``user_expressions``),
  not through stdout. From the first change on, every test cell scores zero
  with an ``IntegrityError`` and the reason is reported.
"""
from __future__ import annotations

import ast
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from course.core import notebooks

REPORT_NAME = "integrity.json"
RUNTIME_NAME = ".integrity-runtime.json"

# (module, attributes) whose identity the tests rely on.
WATCHED: dict[str, tuple[str, ...]] = {
    "builtins": ("abs", "all", "any", "bool", "callable", "dict", "eval", "exec", "float", "getattr", "hasattr",
                 "id", "int", "isinstance", "issubclass", "len", "list", "max", "min", "print", "range", "repr",
                 "round", "set", "sorted", "str", "sum", "tuple", "type", "zip", "__import__", "AssertionError",
                 "Exception"),
    "math": ("isclose", "isfinite", "sqrt", "log", "exp"),
    "numpy": ("allclose", "isclose", "array_equal", "all", "any", "abs", "asarray", "array", "ndarray", "isfinite",
              "linalg", "testing"),
    "numpy.testing": ("assert_allclose", "assert_array_equal", "assert_equal", "assert_array_almost_equal"),
    "torch": ("allclose", "isclose", "equal", "all", "any", "abs", "tensor", "as_tensor", "Tensor", "testing",
              "isfinite", "no_grad", "manual_seed"),
    "torch.testing": ("assert_close",),
    "torch.nn": ("Module", "Linear"),
}
# Names the setup cell binds in the notebook: a cell that rebinds one (np = a proxy) changes what tests call.
GLOBALS = ("np", "torch", "torchvision", "plt")
# IPython/ipykernel methods that decide what a cell runs and whether it failed.
SHELL_METHODS = ("run_cell", "run_cell_async", "run_code", "run_ast_nodes", "transform_cell", "showtraceback",
                 "_showtraceback", "user_expressions", "ex", "ev")
KERNEL_METHODS = ("do_execute", "execute_request", "send_response")
# Libraries that register IPython event callbacks on their own (the inline backend does on the first plot).
TRUSTED_HOOK_MODULES = ("IPython", "ipykernel", "matplotlib", "matplotlib_inline", "tqdm", "ipywidgets", "traitlets")


def probe_expression() -> str:
    """One Python expression, evaluated in the kernel, returning a JSON string of identity facts."""
    spec = json.dumps(WATCHED)
    return (
        "(lambda json, sys, importlib: json.dumps((lambda ip, watched: {"
        "'modules': {m: id(sys.modules.get(m) or importlib.import_module(m)) for m in watched},"
        "'attrs': {m + '.' + a: (lambda o: [id(o), id(getattr(o, '__code__', None)), "
        "id(getattr(o, '__defaults__', None)), id(getattr(o, '__kwdefaults__', None)), "
        "id(getattr(getattr(o, '_implementation', None), '__code__', None)), "
        "id(getattr(getattr(o, '_implementation', None), '__defaults__', None))])"
        "(getattr(sys.modules[m], a, None)) for m in watched for a in watched[m]},"
        f"'globals': {{n: id(vars(sys.modules['__main__']).get(n)) for n in {GLOBALS!r} "
        "if n in vars(sys.modules['__main__'])},"
        "'trace': [sys.gettrace() is None, sys.getprofile() is None],"
        f"'shell': [type(ip).__name__, sorted(n for n in {SHELL_METHODS!r} if n in vars(ip)), "
        f"[id(getattr(type(ip), n, None)) for n in {SHELL_METHODS!r}], "
        "[id(f) for f in ip.input_transformers_post], "
        "[id(f) for f in ip.input_transformer_manager.cleanup_transforms], "
        "[id(f) for f in ip.input_transformer_manager.line_transforms], [id(f) for f in ip.ast_transformers], "
        "[id(ip.input_transformers_post), id(ip.input_transformer_manager), id(ip.ast_transformers)], "
        "sorted(e + ':' + str(getattr(f, '__module__', None)) for e, fs in ip.events.callbacks.items() for f in fs "
        f"if not str(getattr(f, '__module__', None)).startswith({TRUSTED_HOOK_MODULES!r}))] "
        "if ip is not None else None,"
        f"'kernel': [sorted(n for n in {KERNEL_METHODS!r} if n in vars(ip.kernel)), "
        f"[id(getattr(type(ip.kernel), n, None)) for n in {KERNEL_METHODS!r}]] "
        "if ip is not None and getattr(ip, 'kernel', None) is not None else None,"
        "})(getattr(sys.modules.get('IPython'), 'get_ipython', lambda: None)(), "
        f"json.loads({spec!r})), sort_keys=True))"
        "(__import__('json'), __import__('sys'), __import__('importlib'))"
    )


def differences(baseline: dict, now: dict) -> list[str]:
    """What changed since the baseline, in words an instructor can act on."""
    if "error" in now:
        return [f"the integrity probe failed ({now['error']})"]
    out: list[str] = []
    for name, ident in baseline.get("modules", {}).items():
        if now.get("modules", {}).get(name) != ident:
            out.append(f"sys.modules['{name}'] was replaced")
    for name, ident in baseline.get("attrs", {}).items():
        current = now.get("attrs", {}).get(name)
        if current is None or current[0] != ident[0]:
            out.append(f"{name} was replaced")
        elif current[1] != ident[1] or current[4:] != ident[4:]:
            out.append(f"{name}.__code__ was replaced")
        elif current[2:4] != ident[2:4]:
            out.append(f"{name}'s default arguments were replaced")
    for name, ident in baseline.get("globals", {}).items():
        if now.get("globals", {}).get(name) != ident:
            out.append(f"the notebook's global {name} was rebound")
    if baseline.get("trace") != now.get("trace"):
        out.append("a trace or profile hook was installed (sys.settrace, sys.setprofile)")
    if baseline.get("shell") != now.get("shell"):
        out.append("IPython's execution machinery was changed (input/AST transformers, events or run_cell)")
    if baseline.get("kernel") != now.get("kernel"):
        out.append("the kernel's execute handlers were changed")
    return out


# ---------------------------------------------------------------- static scan

@dataclass
class Finding:
    cell: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.cell}, line {self.line}: {self.reason}"


_ALWAYS_SUSPECT_CALLS = {
    "exec": "exec() runs code the scan cannot see",
    "eval": "eval() runs code the scan cannot see",
    "compile": "compile() builds code the scan cannot see",
    "__import__": "__import__() imports by computed name",
    "get_ipython": "get_ipython() reaches the grader's kernel machinery",
    "globals": "globals() manipulation",
    "setattr": None,  # judged by its first argument
    "delattr": None,
    "vars": None,
}
_SUSPECT_MODULES = {"builtins": "the builtins module", "ctypes": "ctypes (raw memory access)",
                    "importlib": "importlib (replacing modules)", "gc": "gc (reaching objects by reference)",
                    "inspect": "inspect (reaching the caller's frames)", "IPython": "IPython internals",
                    "ipykernel": "ipykernel internals", "socket": "network access", "subprocess": "running programs",
                    "multiprocessing": "starting processes", "signal": "signal handlers",
                    "linecache": "linecache (reading the source of running cells)",
                    "traceback": "traceback (reading the caller's source)"}
_SUSPECT_ATTRS = {"settrace": "sys.settrace", "setprofile": "sys.setprofile", "meta_path": "sys.meta_path",
                  "modules": "sys.modules", "input_transformers_post": "IPython input transformers",
                  "input_transformers_cleanup": "IPython input transformers", "ast_transformers":
                  "IPython AST transformers", "__builtins__": "__builtins__", "__code__": "replacing a function's code",
                  "__globals__": "a function's globals", "f_back": "the caller's frame", "f_globals": "frame globals",
                  "_getframe": "the caller's frame", "__subclasses__": "walking the class hierarchy",
                  "tb_frame": "a traceback's frames", "__traceback__": "a traceback's frames",
                  "co_code": "compiled code of another function"}
_HARMLESS_ROOTS = {"plt", "matplotlib", "mpl"}  # rcParams and styles are meant to be set
_ALLOWED_SETTINGS = ("torch.backends.", "np.random.seed", "os.environ")


def trusted_sources(release_notebook: Path) -> set[str]:
    """The code cells handed out verbatim: the only cells the scan may skip.

    Why not trust metadata: a student can tag a cell ``setup`` or mark it locked. A cell is skipped only if
    its text is exactly a cell of the release notebook (setup, given code, the visible part of a test).
    """
    try:
        return {c.source for c in notebooks.read(release_notebook).cells if c.cell_type == "code"}
    except Exception:  # noqa: BLE001 — no release copy: scan everything
        return set()


def scan(nb: NotebookNode, trusted: set[str] | None = None) -> list[Finding]:
    """Suspicious constructs in every code cell that is not a verbatim copy of a ``trusted`` cell.

    Without ``trusted`` (no release notebook at hand), cells are judged by their metadata as before.
    Never raises: a cell that cannot be parsed or walked (3000 nested terms exhaust the recursion limit)
    is itself a finding, since it hides its content from the scan.
    """
    trees = {}  # every code cell parsed once: imports are collected from all, findings from the editable ones
    findings: list[Finding] = []

    def name_of(cell: NotebookNode) -> str:
        return str(notebooks.grade_id(cell) or cell.get("id") or "a cell of the student's")[:80]

    def editable(cell: NotebookNode) -> bool:
        if trusted is not None:
            return cell.source not in trusted
        if notebooks.is_tests(cell) or notebooks.is_setup(cell):
            return False
        return not (notebooks.meta(cell).get("locked") and not notebooks.meta(cell).get("solution"))

    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str):
            continue
        try:
            trees[index] = ast.parse(_python_source(cell.source))
        except SyntaxError:
            pass  # it will fail when run; nothing to hide
        except (RecursionError, MemoryError, ValueError) as exc:
            if editable(cell):
                findings.append(Finding(name_of(cell), 0, f"the cell could not be scanned ({type(exc).__name__})"))
    try:
        module_names = _imported_module_names(trees.values())
    except RecursionError:
        module_names = _imported_module_names([])
    for index, tree in trees.items():
        cell = nb.cells[index]
        if not editable(cell):
            continue
        try:
            found = _Visitor(module_names).run(tree)
        except (RecursionError, MemoryError) as exc:
            found = [(0, f"the cell could not be scanned ({type(exc).__name__})")]
        findings += [Finding(name_of(cell), line, reason) for line, reason in found]
    return findings


def _python_source(source: str) -> str:
    """IPython syntax (%magics, !shell) as the Python it becomes, so it is scanned too."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 — without IPython, scan the plain text
        return source


def _imported_module_names(trees) -> set[str]:
    names = {"np", "numpy", "torch", "nn", "F", "math", "sys", "os", "builtins", "scipy", "sklearn", "torchvision"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {(a.asname or a.name.split(".")[0]) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {a.asname or a.name for a in node.names if a.name[:1].islower() and "." not in a.name
                          and a.name in {"testing", "linalg", "nn", "functional", "random"}}
    return names - _HARMLESS_ROOTS


class _Visitor(ast.NodeVisitor):
    def __init__(self, modules: set[str]):
        self.modules = modules
        self.found: list[tuple[int, str]] = []

    def run(self, tree: ast.AST) -> list[tuple[int, str]]:
        self.visit(tree)
        seen, out = set(), []
        for item in self.found:
            if item not in seen:
                seen.add(item)
                out.append(item)
        return out

    def _root(self, node: ast.AST) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def _flag(self, node: ast.AST, reason: str) -> None:
        self.found.append((getattr(node, "lineno", 0), reason))

    def _check_target(self, target: ast.AST, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._check_target(elt, verb)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            root = self._root(target)
            text = ast.unparse(target)
            if root in self.modules and not text.startswith(_ALLOWED_SETTINGS):
                self._flag(target, f"{verb} {text} changes a library the tests use")
        elif isinstance(target, ast.Name) and target.id in ("__builtins__",):
            self._flag(target, "rebinding __builtins__")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target, "assigning")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target, "assigning")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_target(node.target, "assigning")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target, "deleting")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in _SUSPECT_MODULES:
                self._flag(node, f"imports {_SUSPECT_MODULES[top]}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        top = (node.module or "").split(".")[0]
        if top in _SUSPECT_MODULES:
            self._flag(node, f"imports {_SUSPECT_MODULES[top]}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in _SUSPECT_ATTRS:
            self._flag(node, f"uses {_SUSPECT_ATTRS[node.attr]}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self._flag(node, "uses __builtins__")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        if name in _ALWAYS_SUSPECT_CALLS and _ALWAYS_SUSPECT_CALLS[name]:
            self._flag(node, _ALWAYS_SUSPECT_CALLS[name])
        elif name in ("setattr", "delattr", "vars") and node.args:
            root = self._root(node.args[0])
            if root in self.modules or root == "__builtins__":
                self._flag(node, f"{name}() on {ast.unparse(node.args[0])} changes a library the tests use")
        elif isinstance(func, ast.Attribute) and func.attr in ("system", "run_line_magic", "run_cell_magic",
                                                                "getoutput"):
            self._flag(node, f"shell or magic command ({func.attr})")
        elif isinstance(func, ast.Attribute) and self._root(func) in ("os", "posix") and (
                func.attr in ("fork", "forkpty", "kill", "killpg", "popen", "_exit", "setuid", "chroot")
                or func.attr.startswith(("exec", "spawn"))):
            self._flag(node, f"os.{func.attr}() starts, replaces or ends processes")
        self.generic_visit(node)


def _remove_if_planted(path: Path) -> bool:
    """Remove ``path`` if it is anything but a plain file (a folder or link the submission put there).

    Why: nbgrader copies a submission's folder into ``autograded/``, so a student can leave a folder or a link
    named like the grader's records; writing through it would fail, or land elsewhere.
    """
    if not (path.is_symlink() or (path.exists() and not path.is_file())):
        return False
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    return True


def write_runtime(folder: Path, tampered: list[str], notes: list[str]) -> None:
    """Written by the grader's executor after the run (the sandboxed kernel cannot reach this folder)."""
    if folder.is_dir():
        path = folder / RUNTIME_NAME
        if _remove_if_planted(path):
            tampered = tampered + ["the grader's runtime record was replaced by the submission"]
        path.write_text(json.dumps({"tampered": tampered, "notes": notes}, indent=1))


def write_report(folder: Path, static: list[Finding]) -> dict:
    """Merge the static scan with the executor's findings into ``integrity.json`` beside the notebook."""
    runtime_file = folder / RUNTIME_NAME
    runtime = {"tampered": [], "notes": []}
    if _remove_if_planted(runtime_file):
        runtime = {"tampered": ["the grader's runtime record was replaced by the submission"], "notes": []}
    elif runtime_file.exists():
        try:
            runtime = json.loads(runtime_file.read_text())
        except ValueError:
            runtime = {"tampered": ["the grader's runtime record could not be read"], "notes": []}
        runtime_file.unlink()
    report = {"static": [str(f) for f in static], "runtime": runtime.get("tampered", []),
              "notes": runtime.get("notes", [])}
    path = folder / REPORT_NAME
    if _remove_if_planted(path):
        # the student's folder held something named like the report (copied here by nbgrader): it is not ours
        report["runtime"] = report["runtime"] + [f"the submission contained a {REPORT_NAME} that is not a file"]
    if any(report.values()):
        path.write_text(json.dumps(report, indent=1))
    elif path.exists():
        path.unlink()
    return report


def read_report(folder: Path) -> dict:
    path = folder / REPORT_NAME
    if not path.exists():
        return {"static": [], "runtime": [], "notes": []}
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {"static": [], "runtime": ["the integrity report could not be read"], "notes": []}
