"""Round-trip a lab notebook to a plain-text "percent" script and back.

Why: a notebook's JSON is hard to review and to edit by hand, so labs are
authored as text (``python -m course author export LAB`` → edit →
``author import``). The ``.ipynb`` in ``source/`` stays the one source of
truth; the text file is a working copy under ``build/author/`` (ignored by git).

Cell headers carry the nbgrader role, so nothing is lost on the round trip::

    # %% [markdown]                      plain markdown
    # %%                                 plain code
    # %% setup                           the injected setup cell (see course.inject)
    # %% solution id=relu                autograded answer (code)
    # %% tests id=test_relu points=2     autograded tests (locked)
    # %% [markdown] manual id=reflect points=2   written answer, graded by hand
    # %% [markdown] readonly id=intro    locked markdown
    # %% readonly id=given_code          locked code
    # %% tests id=t points=1 course={"checker": false, "why": "..."}   the kit's own cell metadata, as JSON

Markdown bodies are written as ``# ``-prefixed comment lines.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from course.core.notebooks import nbgrader_meta

HEADER = re.compile(r"^# %%(?P<rest>.*)$")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def _parse_header(rest: str) -> tuple[str, dict[str, str], set[str]]:
    rest = rest.strip()
    course_meta = ""
    if " course=" in f" {rest}":  # the kit's metadata (``metadata.course``) is JSON and ends the header
        rest, course_meta = f" {rest}".split(" course=", 1)
        rest = rest.strip()
    kind = "code"
    if rest.startswith("[markdown]"):
        kind = "markdown"
        rest = rest[len("[markdown]"):].strip()
    elif rest.startswith("[code]"):
        rest = rest[len("[code]"):].strip()
    opts: dict[str, str] = {}
    flags: set[str] = set()
    for token in rest.split():
        if "=" in token:
            key, value = token.split("=", 1)
            opts[key] = value
        else:
            flags.add(token)
    if course_meta:
        opts["course"] = course_meta
    return kind, opts, flags


def _make_cell(kind: str, opts: dict[str, str], flags: set[str], body: str) -> NotebookNode:
    if kind == "markdown":
        lines = body.split("\n")
        body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)
        cell = nbformat.v4.new_markdown_cell(body)
    else:
        cell = nbformat.v4.new_code_cell(body)
    grade_id = opts.get("id")
    points = float(opts["points"]) if "points" in opts else None
    if "setup" in flags:
        cell.metadata["tags"] = ["setup"]
        cell.metadata["nbgrader"] = nbgrader_meta(grade_id or "setup", locked=True)
    elif "solution" in flags:
        cell.metadata["nbgrader"] = nbgrader_meta(_need(grade_id, "solution"), solution=True)
    elif "tests" in flags:
        cell.metadata["nbgrader"] = nbgrader_meta(_need(grade_id, "tests"), grade=True, locked=True,
                                                  points=_need(points, "tests"))
    elif "manual" in flags:
        cell.metadata["nbgrader"] = nbgrader_meta(_need(grade_id, "manual"), grade=True, solution=True,
                                                  points=_need(points, "manual"))
    elif "readonly" in flags:
        cell.metadata["nbgrader"] = nbgrader_meta(_need(grade_id, "readonly"), locked=True)
    if "course" in opts:
        try:
            cell.metadata["course"] = json.loads(opts["course"])
        except ValueError as exc:
            raise ValueError(f"cell {grade_id}: course=… must be JSON ({exc})") from None
    return cell


def _need(value, role: str):
    if value is None:
        raise ValueError(f"a '{role}' cell needs id=… (and points=… for graded cells)")
    return value


def script_to_notebook(text: str) -> NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    current: tuple[str, dict, set] | None = None
    body: list[str] = []

    def flush() -> None:
        if current is not None:
            nb.cells.append(_make_cell(*current, "\n".join(body).strip("\n")))

    for line in text.split("\n"):
        match = HEADER.match(line)
        if match:
            flush()
            current = _parse_header(match.group("rest"))
            body = []
        elif current is not None:
            body.append(line)
    flush()
    for i, cell in enumerate(nb.cells):
        cell["id"] = _cell_id(cell, i)
    return nb


def _cell_id(cell: NotebookNode, index: int) -> str:
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade_id"):
        return re.sub(r"[^A-Za-z0-9_-]", "-", meta["grade_id"])[:64]
    return f"cell-{index:03d}"


def notebook_to_script(nb: NotebookNode) -> str:
    out: list[str] = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        header = "# %%"
        if cell.cell_type == "markdown":
            header += " [markdown]"
        gid = meta.get("grade_id")
        if "setup" in cell.metadata.get("tags", []):
            header += " setup"
        elif meta.get("solution") and meta.get("grade"):
            header += f" manual id={gid} points={_fmt(meta['points'])}"
        elif meta.get("solution"):
            header += f" solution id={gid}"
        elif meta.get("grade"):
            header += f" tests id={gid} points={_fmt(meta['points'])}"
        elif meta.get("locked"):
            header += f" readonly id={gid}"
        if cell.metadata.get("course"):
            header += " course=" + json.dumps(cell.metadata["course"], ensure_ascii=False)
        out.append(header)
        if cell.cell_type == "markdown":
            out.extend(("# " + line).rstrip() for line in cell.source.split("\n"))
        else:
            out.append(cell.source)
        out.append("")
    return "\n".join(out)


def _fmt(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else str(points)


def export_lab(notebook: Path, script: Path) -> None:
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(notebook_to_script(nbformat.read(notebook, as_version=4)))


def import_lab(script: Path, notebook: Path) -> None:
    nb = script_to_notebook(script.read_text())
    notebook.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, notebook)
