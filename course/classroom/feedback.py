"""Pipeline step: HTML feedback for each autograded submission.

Why a step of its own: feedback is what students see, so it runs only on what
autograde produced, and it can be rerun after hand-grading without regrading.

The page is the kit's own (``course/templates/nbconvert/feedback/``, filled in by
``feedback_view.StudentFeedback``): a summary table named by task, and no script or
external request. Its math is typeset here, after nbgrader wrote the pages: every
formula of a lab's pages goes through one Node process running the MathJax that the
slides use (``slides/node_modules``, ``course/templates/feedback_typeset.cjs``), and
each SVG is cut down to what MathJax itself draws (:func:`safe_svg`), because much of
that TeX is a student's. Without Node or MathJax the pages are still written, with
the TeX as text, and a warning says how to get the math.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course.build import slides
from course.core import nbg
from course.core.ids import check_student_id
from course.core.errors import CourseError
from course.core.paths import Course
from course.core.progress import step
from course.core.text import printable
from course.grading import gradebook

STAGING = ".feedback-new-"  # prefix of the temporary folder under the course root (git-ignored)
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_BASEDIR = TEMPLATES / "nbconvert"  # holds feedback/ (nbgrader's API insists on that template name)
TYPESET = TEMPLATES / "feedback_typeset.cjs"
MATH_FILTER = "course.classroom.feedback_view.mark_math"
CSS_MARK = "<!--course-math-css-->"  # where the template wants MathJax's CSS
_SPAN = re.compile(r'<span class="course-math" data-display="([01])" data-tex="([^"]*)">(.*?)</span>', re.S)
TYPESET_TIMEOUT = 600  # seconds for one lab's formulas (a class of 250 takes a few seconds)


def generate(course: Course, labs: list[str]) -> list[str]:
    """Write feedback/<student>/<lab>/ for every autograded submission of ``labs``; return the failures.

    Why through a staging folder (issue 16): nbgrader's ``force=True`` deletes a
    student's feedback folder before it writes the new one, so a failure (a lost
    gradebook, a broken autograded notebook, Ctrl-C) deleted reports students
    already had. Here nbgrader writes into a temporary folder, and each file is
    moved over the old one only when that student's feedback succeeded.
    """
    students = {lab: sorted(p.parent.name for p in course.autograded.glob(f"*/{lab}")
                            if p.is_dir() and not check_student_id(p.parent.name))  # nbgrader globs the id
                for lab in labs}
    if not any(students.values()):
        raise CourseError("no autograded submissions found — run `python -m course autograde` first")
    gradebook.check(course, [lab for lab in labs if students[lab]])  # before anything is written
    gradebook.backup(course)  # hand grades given in the formgrader since the last autograde are kept too
    for stale in course.root.glob(f"{STAGING}*"):  # left by a killed run: only copies never moved into place
        shutil.rmtree(stale, ignore_errors=True)
    api = nbg.api(course)
    _use_kit_template(api)
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=course.root))
    api.coursedir.feedback_directory = staging.name
    failures: list[str] = []
    warnings: set[str] = set()
    written = 0
    try:
        for lab in step(labs, "feedback"):
            made: list[str] = []
            for student in students[lab]:
                gradebook.check(course, [lab])  # lost half-way: stop rather than let nbgrader recreate it
                with nbg.quiet_stderr():
                    result = api.generate_feedback(lab, student, force=True)
                name = f"{printable(student, 80)}/{printable(lab, 80)}"
                if not result["success"]:
                    failures.append(f"{name}: {printable(nbg.first_error(result))} (its earlier feedback is kept)")
                else:
                    made.append(student)
            warning = typeset_pages(sorted(p for student in made for p in (staging / student / lab).rglob("*.html")))
            if warning:
                warnings.add(warning)
            for student in made:
                if _move_into_place(staging / student / lab, course.feedback / student / lab):
                    written += 1
                else:
                    failures.append(f"{printable(student, 80)}/{printable(lab, 80)}: "
                                    "nbgrader reported success but wrote no file")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for warning in sorted(warnings):
        print(f"warning: {warning}", file=sys.stderr)
    for failure in failures:
        print(f"error: feedback for {failure}", file=sys.stderr)
    if failures and written == 0:
        raise CourseError(f"no feedback could be written ({len(failures)} failure(s), listed above)")
    print(f"feedback: {written} report(s) in {course.feedback}")
    return failures


def _use_kit_template(api) -> None:
    """Point nbgrader's feedback exporter at the kit's template and its ``mark_math`` filter.

    nbgrader's API sets ``template_name = "feedback"`` itself, and its converter adds
    its own template folder only when none is configured, so setting the folder here
    is enough: the kit's ``feedback/`` is found and nbgrader's stock page is not.
    """
    from traitlets.config import Config

    extra = Config()
    extra.HTMLExporter.extra_template_basedirs = [str(TEMPLATE_BASEDIR)]
    extra.HTMLExporter.filters = {"mark_math": MATH_FILTER}
    extra.HTMLExporter.exclude_input_prompt = True
    extra.HTMLExporter.exclude_output_prompt = True
    api.update_config(extra)


def typeset_pages(pages: list[Path]) -> str | None:
    """Replace every marked formula in ``pages`` by MathJax's SVG, in place; a warning when math stays TeX.

    One Node process for all pages of a lab: the lab's own text repeats on every
    page, so each distinct formula is typeset once. A formula MathJax rejects (a
    student's TeX error) stays as its text.
    """
    contents = {page: page.read_text(encoding="utf-8") for page in pages}
    formulas: dict[tuple[str, bool], str | None] = {}
    for text in contents.values():
        for match in _SPAN.finditer(text):
            formulas.setdefault((html.unescape(match.group(2)), match.group(1) == "1"), None)
    css, warning = "", None
    if formulas:
        try:
            css, svgs = run_mathjax(list(formulas))
            formulas.update((key, safe_svg(svg) if svg else None) for key, svg in zip(list(formulas), svgs))
        except CourseError as exc:
            warning = str(exc)
    style = f'<style type="text/css">\n{css}\n</style>' if css else ""
    for page, text in contents.items():
        new = _SPAN.sub(lambda m: formulas.get((html.unescape(m.group(2)), m.group(1) == "1")) or m.group(0), text)
        new = new.replace(CSS_MARK, style, 1)
        if new != text:
            temporary = page.with_name(page.name + ".typeset")
            temporary.write_text(new, encoding="utf-8")
            os.replace(temporary, page)
    return warning


def run_mathjax(items: list[tuple[str, bool]]) -> tuple[str, list[str | None]]:
    """TeX → SVG with the slides' MathJax: (the SVGs' CSS, one SVG per item, None where the TeX is wrong)."""
    if not shutil.which("node"):
        raise CourseError("feedback math is shown as TeX: Node.js is missing — install it (`make system`), "
                          "then rerun `python -m course feedback`")
    try:
        slides.ensure_node_modules()  # the pinned MathJax, installed on first use as the slides do (npm ci)
    except CourseError as exc:
        raise CourseError(f"feedback math is shown as TeX: {exc}") from None
    env = dict(os.environ, NODE_PATH=str(slides.NODE_MODULES))
    try:
        proc = subprocess.run(["node", str(TYPESET)], input=json.dumps([{"tex": t, "display": d} for t, d in items]),
                              capture_output=True, text=True, env=env, timeout=TYPESET_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CourseError(f"feedback math is shown as TeX: MathJax took over {TYPESET_TIMEOUT} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise CourseError(f"feedback math is shown as TeX: MathJax failed ({printable(last, 200)}) — "
                          "run `npm ci --prefix slides`")
    result = json.loads(proc.stdout)
    return result["css"], [item.get("svg") for item in result["items"]]


# What MathJax's SVG output is made of. Anything else came from TeX such as \mmlToken{mi}[href=...]{x}, which
# MathJax turns into a link, a style or an id on the page: links are unwrapped, other elements and attributes go.
SVG_TAGS = {"mjx-container", "svg", "g", "path", "use", "defs", "rect", "text", "title", "line", "polyline"}
SVG_ATTRS = {"jax", "display", "width", "height", "role", "focusable", "viewbox", "xmlns", "xmlns:xlink", "d",
             "id", "transform", "stroke", "fill", "stroke-width", "data-mml-node", "data-c", "data-hitbox",
             "pointer-events", "x", "y", "x1", "x2", "y1", "y2", "points", "xlink:href", "font-family",
             "font-size", "font-style", "font-weight", "style", "class", "data-variant", "data-frame",
             "stroke-dasharray", "stroke-linecap", "stroke-linejoin", "data-line", "data-semantic-type"}
_SVG_STYLE = re.compile(r"^(\s*(vertical-align|min-width|max-width|margin-(left|right)|width)\s*:\s*"
                        r"-?[\d.]+(ex|em|px|%)?\s*;?)+\s*$")
_SVG_VALUE = re.compile(r"^[\w#.,()%\s-]*$")
_XMLNS = {"xmlns": "http://www.w3.org/2000/svg", "xmlns:xlink": "http://www.w3.org/1999/xlink"}


def safe_svg(svg: str) -> str | None:
    """MathJax's SVG for one formula with only what MathJax draws kept (None if nothing sensible is left)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(svg, "html.parser")
    for tag in list(soup.find_all(True)):
        if tag.name == "a":
            tag.unwrap()
            continue
        if tag.name not in SVG_TAGS:
            tag.decompose()
            continue
        for name, value in list(tag.attrs.items()):
            value = " ".join(value) if isinstance(value, list) else str(value)
            keep = name in SVG_ATTRS and _SVG_VALUE.match(value) is not None and "url" not in value.lower()
            if name in _XMLNS:
                keep = value == _XMLNS[name]
            elif name in ("xlink:href", "href", "id"):
                keep = re.fullmatch(r"#?MJX-[\w-]+", value) is not None and (name == "id") != value.startswith("#")
            elif name == "style":
                keep = tag.name == "svg" and _SVG_STYLE.match(value) is not None
            elif name == "class":
                keep = tag.name == "mjx-container" and value == "MathJax"
            if not keep:
                del tag.attrs[name]
    container = soup.find("mjx-container")
    return str(container) if container is not None and container.find("svg") is not None else None


def _move_into_place(new: Path, target: Path) -> int:
    """Move every file nbgrader wrote under ``new`` to the same place under ``target``; return how many.

    One ``os.replace`` per file: each report is swapped whole (same file system),
    and files of the earlier feedback that the new run did not write stay.
    """
    moved = 0
    for path in sorted(new.rglob("*")):
        if path.is_file() and not path.is_symlink():
            destination = target / path.relative_to(new)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
            moved += 1
    return moved
