"""Feedback a student can read, and a grading page an instructor can read, offline (issue 16, §6).

Why a browser: "math rendered" and "no broken image" are what a page looks like
once loaded, so headless Chromium opens a feedback page and the formgrader's
grading page with every request to another place refused, and reads them.

One scratch Day 1 course is graded once (module fixture, one autograde call): a
solved notebook whose written answer (with math) waits for hand grading, and a blank
one. The fast tests above the fixture check the pieces without grading anything.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import LABS, REAL
from course.build import release, slides
from course.checks import submissions
from course.classroom import feedback, lab
from course.classroom.feedback_view import MATH_CLASS, drop_remote_images, mark_math
from course.core import notebooks
from course.core.paths import REPO
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook, sandbox
from test_formgrader import CHROMIUM, CHROMIUM_ARGS, TOKEN, serving

LAB = LABS[0]
ANSWER = "My answer: the residual $\\mathbf{r} = y - \\hat{y}$ is small. ANSWER-MARKER-7c1"
RAW_TEX = re.compile(r"\$\\mathbf|\\mathbf\{")


def _needs_mathjax() -> None:
    """A fresh clone has no slides/node_modules yet: install it as the feedback step itself does."""
    if not shutil.which("node"):
        pytest.fail("Node.js is missing — run `make system`")
    slides.ensure_node_modules()


# ---------------------------------------------------------------- the pieces, no grading

def test_math_is_marked_outside_code_only():
    out = mark_math("<p>A $x^2$ and $$\\sum_i a_i$$ but <code>$not$</code></p><pre>$nor$ this</pre>")
    spans = re.findall(rf'<span class="{MATH_CLASS}" data-display="([01])" data-tex="([^"]*)">', out)
    assert spans == [("0", "x^2"), ("1", "\\sum_i a_i")], out
    assert "<code>$not$</code>" in out and "<pre>$nor$ this</pre>" in out


def test_marking_keeps_text_escaped_and_cannot_be_forged():
    out = mark_math("<p>$a&lt;b$ and \x00deadbeef:0\x00 &lt;script&gt;</p>")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'data-tex="a&lt;b"' in out and out.count(MATH_CLASS) == 1


def test_remote_images_and_the_colab_badge_are_dropped():
    badge = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.x/y)"
    assert drop_remote_images(f"# Day 1\n{badge}\n") == "# Day 1\n\n"
    assert drop_remote_images("see ![a plot](http://evil.example/p.png)") == "see [image: a plot]"
    embedded = "![ok](data:image/png;base64,iVBORw0KGgo=)"
    assert drop_remote_images(embedded) == embedded


def test_typeset_math_keeps_only_what_mathjax_draws():
    _needs_mathjax()
    attack = r'\mmlToken{mi}[href="javascript:alert(1)" style="position:fixed" id="notebook" class="x"]{x}'
    css, svgs = feedback.run_mathjax([(attack, False), (r"\mathbf{h} = \sigma(W_1 x)", True), (r"\nosuch", False)])
    assert "mjx-container" in css and svgs[2] is None  # a TeX error: that formula stays text
    raw = svgs[0]
    assert "javascript:" in raw and 'id="notebook"' in raw  # (MathJax itself would put them on the page)
    safe = feedback.safe_svg(raw)
    assert safe and "<svg" in safe
    for bad in ("javascript", "<a ", "position", 'id="notebook"', 'class="x', "class=\" x"):
        assert bad not in safe, bad
    assert "<svg" in feedback.safe_svg(svgs[1])


def test_the_grading_server_serves_the_kits_mathjax_and_nothing_from_a_cdn():
    args = lab.server_args(lab.Course(Path("/x")), 9999, open_browser=False)
    assert any(a.startswith("--ServerApp.extra_static_paths=") and str(lab.MATHJAX) in a for a in args)
    assert "cdnjs" not in lab.CSP and "https:" not in lab.CSP
    macro = (lab.JUPYTER_TEMPLATES / "nbconvert" / "templates" / "formgrade" / "mathjax.html.j2").read_text()
    code = re.sub(r"(?s)\{#.*?#\}", "", macro)  # the template's comment names what it replaces
    assert lab.MATHJAX_URL in code and "cdnjs" not in code and not re.search(r"src=\"(https?:)?//", code)


# ---------------------------------------------------------------- one graded course, two pages, a browser

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if sandbox.unavailable():
        pytest.skip(f"no sandbox: {sandbox.unavailable()}")
    _needs_mathjax()
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("feedback-view"))
    release.release(course, [LAB])
    solved = submissions.make(course, LAB, "solved")
    written = [c for c in solved.cells if c.cell_type == "markdown" and notebooks.meta(c).get("solution")]
    assert written, f"{LAB} has no hand-graded written answer"
    written[0].source = ANSWER
    submissions.write(course, "solved", LAB, solved)
    submissions.write(course, "blank", LAB, submissions.make(course, LAB, "blank"))
    results = autograde.autograde(course, [LAB], report=False, jobs=2)
    assert all(r.ok for r in results), [(r.student, r.reason) for r in results]
    assert feedback.generate(course, [LAB]) == []
    return course


def _page(course, student: str) -> Path:
    return course.feedback / student / LAB / f"{LAB}.html"


def _open(browser, url: str, allowed: str):
    """A page with every request outside ``allowed`` refused; the refused and failed ones are recorded."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    refused: list[str] = []
    failed: list[str] = []

    def route(r):
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()
    page.route("**/*", route)
    page.on("requestfailed", lambda r: failed.append(f"{r.failure} {r.url}"))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    response = page.goto(url, wait_until="load", timeout=60_000)
    return page, response, refused, failed


def _broken_images(page) -> list[str]:
    """Images shown on the page that did not load (an image hidden by the page's own CSS is not shown)."""
    return page.evaluate("[...document.images].filter(i => i.offsetParent !== null"
                         " && (!i.complete || i.naturalWidth === 0)).map(i => i.src)")


def test_feedback_summary_names_each_task_with_points_and_verdict(graded):
    course = graded
    release_nb = notebooks.read(course.release_notebook(LAB))
    tests = [c for c in release_nb.cells if notebooks.is_tests(c)]
    text = _page(course, "blank").read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="summary-row verdict-(\w+)">(.*?)</tr>', text, re.S)
    cells = [[re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
             for _, row in rows]
    assert len(rows) == len(tests) + 1, cells  # every test cell and the written answer
    assert cells[0][0] == "Task 1a — ReLU" and cells[1][0] == "Task 1b — The affine map", cells[:2]
    assert not any(c[0].startswith(("Test cell", "test_")) for c in cells), cells
    for status, c in zip((r[0] for r in rows), cells):
        if status == "failed":
            assert re.fullmatch(r"0 / \d+", c[1]) and c[2].startswith("failed: "), c
    assert sum(status == "failed" for status, _ in rows) == len(tests)
    assert "Test cell (Score" not in text


def test_feedback_shows_pending_for_an_answer_not_graded_yet(graded):
    course = graded
    score = gradebook.scores(course, LAB)["solved"]
    assert score.pending, "the written answer should wait for hand grading"
    text = _page(course, "solved").read_text(encoding="utf-8")
    pending = re.findall(r'<tr class="summary-row verdict-pending">(.*?)</tr>', text, re.S)
    assert len(pending) == len(score.pending)
    assert "pending" in pending[0] and "0 / " not in pending[0] and "0.0 / " not in pending[0]
    passed = re.findall(r'<tr class="summary-row verdict-passed">', text)
    assert len(passed) == len([c for c in score.cells.values() if c.auto])


def test_feedback_page_renders_math_offline_with_no_request(graded):
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing — run `make system` (installs Chromium)")
    course = graded
    path = _page(course, "solved")
    source = path.read_text(encoding="utf-8")
    assert "<script" not in source and MATH_CLASS not in source  # every formula became SVG
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page, _, refused, failed = _open(browser, path.as_uri(), path.as_uri())
            shown = page.inner_text("body")
            typeset = page.evaluate("document.querySelectorAll('mjx-container svg').length")
            answer_math = page.evaluate(
                "[...document.querySelectorAll('.text_cell_render')].filter(e => e.innerText.includes("
                "'ANSWER-MARKER-7c1')).map(e => e.querySelectorAll('mjx-container svg').length)")
            broken = _broken_images(page)
            page.screenshot(path=str(REPO / "build" / "screenshots" / "feedback.png"), full_page=False)
        finally:
            browser.close()
    assert not refused and not failed, (refused, failed)
    assert not broken, broken
    assert typeset >= 10, typeset
    assert answer_math and answer_math[0] >= 1, "the student's own math is typeset too"
    assert not RAW_TEX.search(shown), RAW_TEX.search(shown)
    assert "Task 1a — ReLU" in shown and "pending" in shown and "Open In Colab" not in shown


@pytest.fixture(scope="module")
def server(graded, tmp_path_factory):
    course = graded
    tmp = tmp_path_factory.mktemp("feedback-view-server")
    with serving(course, tmp) as port:
        yield course, port


def test_grading_page_renders_math_with_the_kits_mathjax_offline(server):
    from playwright.sync_api import sync_playwright
    from nbgrader.api import Gradebook
    course, port = server
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        submission = gb.find_submission_notebook(LAB, LAB, "solved").id
    base = f"http://{lab.HOST}:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page, response, refused, failed = _open(browser, f"{base}/formgrader/submissions/{submission}/?token={TOKEN}",
                                                    base)
            assert response is not None and response.ok
            page.wait_for_function("document.querySelectorAll('mjx-container svg').length >= 10", timeout=30_000)
            page.wait_for_timeout(500)  # MathJax typesets in chunks: let it finish
            shown = page.inner_text("#notebook")
            answer_math = page.evaluate(
                "[...document.querySelectorAll('.text_cell_render')].filter(e => e.innerText.includes("
                "'ANSWER-MARKER-7c1')).map(e => e.querySelectorAll('mjx-container').length)")
            broken = _broken_images(page)
            page.screenshot(path=str(REPO / "build" / "screenshots" / "formgrader-math.png"))
        finally:
            browser.close()
    assert not refused, f"the grading page asked another host: {refused}"
    # the instructor's Colab badge in the lab text is stopped by the server's CSP before any request is made
    assert all(f.startswith(("csp ", "net::ERR_BLOCKED_BY_CSP")) for f in failed) and not broken, (failed, broken)
    assert answer_math and answer_math[0] >= 1, "the student's math is typeset for the instructor"
    assert not RAW_TEX.search(shown), RAW_TEX.search(shown)
