"""The guides: every relative link resolves, and the README reaches every lab.

Why a test: labs get renamed and files move, and a dead link in the README or a
guide is what a student or a new instructor meets first.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import LABS
from course.core import settings
from course.core.paths import REPO

README = REPO / "README.md"
GUIDES = [README, *sorted((REPO / "docs").glob("*.md"))]
SLIDES = REPO / "slides"

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target), ![alt](src), nested badges
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)  # [name]: target


def links(md: Path) -> list[str]:
    """Every link target in a markdown file, outside code blocks and code spans."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", md.read_text()))
    return _INLINE.findall(text) + _REFERENCE.findall(text)


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("//")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_\[\]()]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(md: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _FENCE.sub("", md.read_text()), re.M)}


def built_decks() -> list[Path]:
    return sorted(SLIDES.glob("*.html"))


@pytest.mark.parametrize("md", GUIDES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(md):
    found = [t for t in links(md) if is_relative(t)]
    assert found or md.name != "README.md", "no relative links found in the README: the link parser is broken"
    # Decks are built by `python -m course slides`. Until the first deck exists (a fresh clone before that
    # command has run), links to slides/<Lab>.html are skipped; once any deck is built, all must exist.
    skip_decks = not built_decks()
    dead = []
    for target in found:
        path_part, _, anchor = target.partition("#")
        path_part = path_part.split("?")[0]
        dest = (md.parent / path_part).resolve() if path_part else md
        if skip_decks and dest.parent == SLIDES and dest.suffix == ".html":
            continue
        if not dest.exists():
            dead.append(f"{target} (no {dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            dead.append(f"{target} (no heading '#{anchor}' in {dest.name})")
    assert not dead, f"dead links in {md.relative_to(REPO)}: " + "; ".join(dead)


def test_readme_links_every_lab():
    assert len(LABS) == 5, LABS
    targets = set(links(README))
    for lab in LABS:
        assert f"release/{lab}/{lab}.ipynb" in targets, f"README does not link {lab}'s student notebook"
        assert settings.colab_url(lab) in targets, f"README has no Open-in-Colab link for {lab} ({settings.colab_url(lab)})"
        assert f"slides/{lab}.html" in targets, f"README does not link {lab}'s deck slides/{lab}.html"


def test_readme_opens_with_the_two_commands_then_the_quickstart_in_order():
    text = README.read_text()
    first_block = _FENCE.search(text).group(0)
    assert first_block.index("make demo") < first_block.index("make test")
    quick = text[text.index("## Instructor quickstart"):]
    quick = _FENCE.search(quick).group(0)
    steps = ["release", "collect", "autograde", "feedback", "export", "solutions", "slides"]
    at = [quick.find(f"python -m course {s}") for s in steps]
    assert -1 not in at and at == sorted(at), dict(zip(steps, at))


# ---------------------------------------------------------------- the student guide matches the kit (issue 15)
STUDENT = REPO / "docs" / "student.md"


def _config():
    from traitlets.config import Config
    c = Config()
    path = REPO / "nbgrader_config.py"
    exec(compile(path.read_text(), str(path), "exec"), {"c": c, "get_config": lambda: c, "__file__": str(path)})
    return c


def _student_text() -> str:
    return re.sub(r"\s+", " ", STUDENT.read_text())


def test_student_guide_states_the_grading_time_limits_of_the_config():
    c = _config()
    cell_s, notebook_s = int(c.Execute.timeout), int(c.BudgetedExecute.notebook_timeout)
    said = re.search(r"each cell gets at most (\d+) seconds, and the whole notebook (\d+) minutes", _student_text())
    assert said, "docs/student.md must state the per-cell and per-notebook time limits"
    assert (int(said.group(1)), int(said.group(2)) * 60) == (cell_s, notebook_s), \
        f"docs/student.md says {said.group(0)!r}; nbgrader_config.py says {cell_s} s per cell, {notebook_s} s per notebook"


def test_student_guide_shows_the_pass_line_the_template_prints():
    import ast
    import contextlib
    import io
    template = (REPO / "course" / "templates" / "setup_cell.py").read_text()
    passed = next(n for n in ast.parse(template).body if isinstance(n, ast.FunctionDef) and n.name == "passed")
    scope: dict = {}
    exec(compile(ast.Module(body=[passed], type_ignores=[]), "setup_cell.py", "exec"), scope)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        scope["passed"]("relu")
    assert f"`{out.getvalue().strip()}`" in _student_text(), "docs/student.md must show the line a passing check prints"
    assert "prints nothing" not in _student_text()
    for lab in LABS:  # and every lab's check cells use it, once each
        from course.core import notebooks
        nb = notebooks.read(REPO / "release" / lab / f"{lab}.ipynb")
        tests = [c for c in nb.cells if notebooks.is_tests(c)]
        missing = [notebooks.grade_id(c) for c in tests if c.source.count("passed(") != 1]
        assert not missing, f"{lab}: these check cells do not end with one passed(...) call: {missing}"


def test_student_guide_says_where_the_data_is_downloaded():
    """The setup cell only defines the loaders; the first data cell downloads (the guide says so)."""
    import ast
    from course.core import notebooks
    template = ast.parse((REPO / "course" / "templates" / "setup_cell.py").read_text())
    top_calls = {n.func.id for stmt in template.body if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef))
                 for n in ast.walk(stmt) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not top_calls & {"load_dataset", "load_tensors"}, "the setup cell itself now loads data: update docs/student.md"
    assert "the first cell that loads data downloads MNIST" in _student_text()
    for lab in LABS:
        nb = notebooks.read(REPO / "release" / lab / f"{lab}.ipynb")
        loading = [c for c in nb.cells if c.cell_type == "code" and not notebooks.is_setup(c)
                   and re.search(r"\bload_(tensors|dataset)\(", c.source)]
        assert loading and all(notebooks.meta(c).get("locked") for c in loading[:1]), \
            f"{lab}: the first cell that loads data should be a given cell"


def test_student_guide_does_not_promise_what_the_visible_checks_miss():
    text = _student_text()
    assert "They catch the common mistakes" not in text
    assert re.search(r"They do not catch every mistake", text)
