"""Small, dependency-free helpers over nbgrader's cell metadata.

Why here: every pipeline step (release, solutions, submissions, holes) asks the
same questions of a cell — is it an answer, a test, a written answer — and must
agree on the answers, so they live in one place.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from course.core.errors import CourseError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


def nbgrader_meta(grade_id: str, *, grade: bool = False, solution: bool = False,
                  locked: bool = False, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": 3, "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell: NotebookNode) -> str | None:
    return meta(cell).get("grade_id")


def is_answer(cell: NotebookNode) -> bool:
    """An autograded answer cell: the student writes code here."""
    m = meta(cell)
    return bool(m.get("solution")) and not m.get("grade") and cell.cell_type == "code"


def is_tests(cell: NotebookNode) -> bool:
    m = meta(cell)
    return bool(m.get("grade")) and not m.get("solution")


def is_manual(cell: NotebookNode) -> bool:
    m = meta(cell)
    return bool(m.get("grade")) and bool(m.get("solution"))


def is_setup(cell: NotebookNode) -> bool:
    """The injected setup cell: tagged ``setup`` and a locked nbgrader cell (restored from source at grading).

    A student can add the tag to a cell of their own, so grading trusts only the first such cell and never
    skips a cell's scan because of it (see ``grading.integrity.scan``).
    """
    return "setup" in cell.get("metadata", {}).get("tags", []) and bool(meta(cell).get("locked"))


def strip_markers(source: str) -> str:
    """The solution as a student would have typed it: nbgrader markers removed."""
    lines = [line for line in source.split("\n")
             if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)]
    return "\n".join(lines)




def strip_hidden_tests(source: str) -> str:
    """Remove hidden-test blocks, as nbgrader does on release."""
    pattern = re.compile(rf"^[ \t]*{re.escape(BEGIN_HIDDEN)}.*?^[ \t]*{re.escape(END_HIDDEN)}[ \t]*\n?",
                         re.S | re.M)
    return pattern.sub("", source).rstrip("\n")


def hidden_test_lines(source: str) -> list[str]:
    """Lines inside hidden-test blocks (used to prove feedback never leaks them)."""
    out, inside = [], False
    for line in source.split("\n"):
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        elif line.strip() == END_HIDDEN:
            inside = False
        elif inside and line.strip():
            out.append(line.strip())
    return out


def read(path: Path) -> NotebookNode:
    """Read a notebook, turning every way it can be broken into one clear error."""
    try:
        with open(path, encoding="utf-8") as fh:
            nb = nbformat.read(fh, as_version=4)
    except FileNotFoundError:
        raise CourseError(f"notebook not found: {path}") from None
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as exc:
        raise CourseError(f"{path} is not a valid notebook (not JSON: {str(exc).splitlines()[0][:120]})") from None
    except Exception as exc:  # nbformat raises several validation types
        raise CourseError(f"{path} is not a valid notebook ({type(exc).__name__}: {str(exc)[:120]})") from None
    return nb


def write(nb: NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)


def cells_by_id(nb: NotebookNode) -> dict[str, NotebookNode]:
    return {gid: cell for cell in nb.cells if (gid := grade_id(cell))}


def distinctive_hidden_lines(nb: NotebookNode, min_len: int = 20) -> set[str]:
    """Hidden-test lines that appear nowhere in the visible notebook.

    Why: to prove that hidden tests never leak (into a release, solutions or
    feedback) we look for their lines — but only the ones a student could not
    have seen anyway, like a shared ``rng = np.random.default_rng(seed)``.
    """
    visible = "\n".join(strip_hidden_tests(c.source) for c in nb.cells)
    return {ln for c in nb.cells for ln in hidden_test_lines(c.source)
            if len(ln) >= min_len and ln not in visible}
