"""Stored XSS through the formgrader (issue 14): nothing a student writes may run in the instructor's browser.

A red team hid a ``<script>`` in a hand-graded Markdown answer; the formgrader
rendered it as HTML and it ran with the instructor's token. Here:

- unit tests of ``course.grading.sanitise`` (Markdown and outputs);
- one sandboxed autograde run of two Day 1 submissions (an honest solved one, which
  must still earn full marks, and a hostile one: script, ``onerror`` image and
  ``javascript:`` link in the reflection answer and in a cell of its own, HTML and
  JavaScript outputs), then its grading page opened in the formgrader and its
  feedback page, both in headless Chromium with the network refused: nothing ran,
  the student's words are shown as text;
- the grading server cannot write ``nbgrader_config.py`` or ``source/`` through
  the contents API, and has no terminals.

Negative control: ``COURSE_XSS_CONTROL=1`` grades the same submissions with the
sanitiser taken out of the scratch course's ``nbgrader_config.py``; the browser
tests must then fail (they did: see the issue 14 report).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from conftest import JOBS, LABS, REAL
from course.build import release
from course.checks import submissions
from course.classroom import feedback, lab
from course.core import notebooks
from course.core.paths import REPO
from course.core.scratch import scratch_course
from course.grading import autograde, gradebook, sandbox
from course.grading import sanitise as s
from test_formgrader import CHROMIUM, CHROMIUM_ARGS, TOKEN, serving

LAB = LABS[0]
CONTROL = os.environ.get("COURSE_XSS_CONTROL") == "1"
MARKER = "MARKER-REFLECTION-TEXT"
SCRIPT = "<script>window.__pwned = 1; document.title = 'PWNED';</script>"
IMG = "<img src=x onerror=\"window.__pwned = 2; alert('img')\">"
LINK = "[click me](javascript:window.__pwned=3)"
REFLECTION = (f"The residual is $\\mathbf{{r}} = y - \\hat{{y}}$, so a < b here. {MARKER}\n\n"
              f"{SCRIPT}\n{IMG}\n{LINK}\n")
ADDED_CELL = f"Extra notes {MARKER}-ADDED\n\n<ScRiPt>window.__pwned = 4</sCrIpT>\n<svg onload=\"window.__pwned=5\">\n"
OUTPUT_ATTACK = ("\nfrom IPython.display import HTML, Javascript, display\n"
                 "display(HTML(\"<img src=x onerror='window.__pwned_out = 1'><b>OUTPUT-HTML</b>\"))\n"
                 "display(Javascript('window.__pwned_out = 2'))\n")


# ---------------------------------------------------------------- unit tests: Markdown

def _html(source: str) -> str:
    return s.render(s.sanitise_markdown(source))


@pytest.mark.parametrize("attack", [
    "<script>window.__pwned=1</script>",
    "<ScRiPt >alert(1)</sCrIpT>",
    "before <img src=x onerror=alert(1)> after",
    "<IMG SRC=x OnError=alert(1)>",
    '<iframe src="https://example.com"></iframe>',
    "<svg onload=alert(1)>",
    "<div>\n<script>alert(1)</script>\n</div>",
    "<!-- comment --><b onmouseover=alert(1)>hover</b>",
    "```mermaid\ngraph TD; A-->B; click A \"javascript:alert(1)\"\n```",
    "\\`<img src=x onerror=alert(1)>\\`",
])
def test_raw_html_becomes_text(attack):
    html = _html(attack).lower()
    tags = {t for t in ("<script", "<img", "<iframe", "<svg", "<b ", "<!--", "<div>", 'class="mermaid"') if t in html}
    assert not tags, html
    assert not s.audit(s.sanitise_markdown(attack)), html


@pytest.mark.parametrize("link", [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x][1]\n\n[1]: javascript:alert(1)",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
])
def test_dangerous_links_do_not_survive(link):
    html = _html(link)
    hrefs = [a for a in _attrs(html) if a[0] in ("href", "src")]
    assert all(s.url_is_safe(v, image=(n == "src")) for n, v in hrefs), html
    if "<a " in s.render(link) or "<img " in s.render(link):  # it was a link before: the grader is told
        assert s.PLAIN_TEXT_NOTE.strip("*") in html, html


def test_entities_stay_text():
    html = _html("&lt;script&gt;alert(1)&lt;/script&gt; and &#60;b&#62;")
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html


def test_math_code_and_comparisons_survive():
    source = ("The layer is $\\mathbf{h}=\\sigma(W_1 x)$ and $$a<b$$; in words a < b and c > d.\n\n"
              "Code `x < y` stays, and\n\n```python\nif a < b:\n    pass\n```\n")
    cleaned = s.sanitise_markdown(source)
    assert "$\\mathbf{h}=\\sigma(W_1 x)$" in cleaned and "$$a<b$$" in cleaned
    assert "`x < y`" in cleaned and "if a < b:" in cleaned
    assert "a &lt; b" in cleaned  # renders as "a < b"
    html = s.render(cleaned)
    assert "$\\mathbf{h}=\\sigma(W_1 x)$" in html and "a &lt; b and c &gt; d" in html
    assert "<code>x &lt; y</code>" in html


def test_ordinary_markdown_is_unchanged():
    source = ("# Heading\n\n**bold**, *it*, ~~gone~~, [a link](https://example.com), ![](attachment:x.png)\n\n"
              "| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- [x] done\n\n> quote\n")
    attachments = {"x.png": {"image/png": base64.b64encode(b"\x89PNG").decode()}}
    assert s.sanitise_markdown(source, attachments) == source


def test_mathjax_link_macros_are_shown_not_run():
    cleaned = s.sanitise_markdown("$\\href{javascript:alert(1)}{x}$ and $\\style{color:red}{y}$")
    assert "\\href" not in cleaned and "\\style" not in cleaned


def test_formgrader_ids_cannot_be_claimed():
    reserved = {"reflection", "reflection-comment"}
    assert s.sanitise_markdown("# reflection\n\nok", None, reserved).startswith(s.PLAIN_TEXT_NOTE)
    assert s.sanitise_markdown("# my reflection\n\nok", None, reserved) == "# my reflection\n\nok"


def test_sanitising_twice_changes_nothing():
    for source in (REFLECTION, ADDED_CELL, "a < b $x<y$", "[x](javascript:alert(1))"):
        once = s.sanitise_markdown(source)
        assert s.sanitise_markdown(once) == once


def _attrs(html: str) -> list[tuple[str, str]]:
    from html.parser import HTMLParser
    found: list[tuple[str, str]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend((n, v or "") for n, v in attrs)
    P().feed(html)
    return found


# ---------------------------------------------------------------- unit tests: cells and outputs

def _code_cell(*outputs: dict) -> NotebookNode:
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _run(nb: NotebookNode) -> NotebookNode:
    nb, _ = s.SanitiseStudentContent().preprocess(nb, {})
    return nb


def test_rich_outputs_are_dropped_plain_and_images_kept():
    png = base64.b64encode(b"\x89PNG fake").decode()
    cell = _code_cell(
        {"output_type": "display_data", "metadata": {"image/png": {"width": 300, "height": "1 onerror=x"}},
         "data": {"text/html": "<script>x()</script>", "image/png": png, "text/plain": "<Figure>"}},
        {"output_type": "display_data", "metadata": {},
         "data": {"application/javascript": "x()", "image/svg+xml": "<svg onload=x()>",
                  "text/markdown": "<img src=x onerror=x()>", "text/latex": "$\\href{javascript:x()}{y}$",
                  "application/vnd.jupyter.widget-view+json": {"model_id": "1"}}},
        {"output_type": "execute_result", "execution_count": 1, "metadata": {},
         "data": {"text/plain": "0.5", "text/html": "<b>0.5</b>"}},
        {"output_type": "stream", "name": "stdout", "text": "<script>stays text</script>"},
        {"output_type": "error", "ename": "E", "evalue": "<b>", "traceback": ["<b>"]},
    )
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"x": "</script><script>"}}
    out = _run(nb).cells[0].outputs
    assert [o.output_type for o in out] == ["display_data", "display_data", "execute_result", "stream", "error"]
    assert set(out[0].data) == {"image/png", "text/plain"} and out[0].data["image/png"] == png
    assert out[0].metadata == {"image/png": {"width": 300}}
    assert set(out[1].data) == {"text/plain"} and "application/javascript" in out[1].data["text/plain"]
    assert out[2].data == {"text/plain": "0.5"}  # what nbgrader reads for partial credit, unchanged
    assert out[3].text == "<script>stays text</script>" and out[4].evalue == "<b>"  # nbconvert escapes these
    assert "widgets" not in nb.metadata
    nbformat.validate(nb)


def test_student_markdown_and_raw_cells_are_cleaned_locked_cells_kept():
    locked = nbformat.v4.new_markdown_cell("<div class='note'>the instructor's HTML</div>")
    locked.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": "intro",
                                   "schema_version": 3}
    from nbgrader.utils import compute_checksum
    locked.metadata["nbgrader"]["checksum"] = compute_checksum(locked)
    forged = nbformat.v4.new_markdown_cell("<script>x()</script>")
    forged.metadata["nbgrader"] = dict(locked.metadata["nbgrader"], grade_id="forged")  # wrong checksum
    student = nbformat.v4.new_markdown_cell(SCRIPT)
    raw = nbformat.v4.new_raw_cell("<script>x()</script>")
    nb = _run(nbformat.v4.new_notebook(cells=[locked, forged, student, raw]))
    assert nb.cells[0].source == "<div class='note'>the instructor's HTML</div>"
    assert "<script" not in nb.cells[1].source and "<script" not in nb.cells[2].source
    assert "<" not in nb.cells[3].source


def test_instructor_markdown_renders_the_same():
    """Every Markdown cell of every lab's source renders to the same HTML after sanitising (no cosmetic loss)."""
    changed = []
    for name in LABS:
        for cell in notebooks.read(REAL.source_notebook(name)).cells:
            if cell.cell_type == "markdown" and s.render(s.sanitise_markdown(cell.source)) != s.render(cell.source):
                changed.append(f"{name}: {cell.source[:60]!r}")
    assert not changed, changed


# ---------------------------------------------------------------- graded scratch course, formgrader, feedback

def _hostile(course) -> NotebookNode:
    solved = submissions.make(course, LAB, "solved")
    first = submissions.answer_ids(solved)[0]
    nb = submissions.make(course, LAB, "solved",
                          {first: next(c.source for c in solved.cells if notebooks.grade_id(c) == first)
                           + OUTPUT_ATTACK})
    manual = [c for c in nb.cells if c.cell_type == "markdown" and notebooks.meta(c).get("solution")]
    assert manual, f"{LAB} has no hand-graded Markdown answer"
    manual[0].source = REFLECTION
    nb.cells.insert(nb.cells.index(manual[0]) + 1, nbformat.v4.new_markdown_cell(ADDED_CELL))
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if sandbox.unavailable():
        pytest.skip(f"no sandbox: {sandbox.unavailable()}")
    course = scratch_course(REAL, [LAB], where=tmp_path_factory.mktemp("xss"))
    if CONTROL:  # the negative control: the same run without the sanitiser
        config = course.root / "nbgrader_config.py"
        text = config.read_text().replace("    SanitiseStudentContent,\n", "")
        config.write_text(text.replace("SanitiseStudentContent, ", ""))
    release.release(course, [LAB])
    submissions.write(course, "solved", LAB, submissions.make(course, LAB, "solved"))
    submissions.write(course, "hostile", LAB, _hostile(course))
    results = {r.student: r for r in autograde.autograde(course, [LAB], report=False, jobs=min(JOBS, 2))}
    assert all(r.ok for r in results.values()), {k: r.reason for k, r in results.items()}
    assert not feedback.generate(course, [LAB])
    return course, results


@pytest.fixture(scope="module")
def server(graded, tmp_path_factory):
    course, _ = graded
    tmp = tmp_path_factory.mktemp("xss-server")
    with serving(course, tmp) as port:
        yield course, port


def test_solved_notebook_still_earns_full_marks(graded):
    course, results = graded
    score = gradebook.scores(course, LAB)["solved"]
    lost = {gid: c for gid, c in score.cells.items() if c.auto and c.earned < c.possible}
    assert score.auto_possible > 0 and not lost, f"the solution loses points on {sorted(lost)}"
    hostile = gradebook.scores(course, LAB)["hostile"]
    assert hostile.auto_earned == score.auto_earned  # the attack is in an answer and the reflection only


def test_autograded_notebook_holds_no_live_html(graded):
    course, _ = graded
    nb = notebooks.read(course.autograded / "hostile" / LAB / f"{LAB}.ipynb")
    text = json.dumps([c.source for c in nb.cells if c.cell_type == "markdown"])
    assert MARKER in text
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert not s.audit(cell.source), cell.source
        for out in cell.get("outputs", []):
            assert set(out.get("data", {})) <= set(s.SAFE_OUTPUT_MIME), out


def _browser(p):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing — run `make system` (installs Chromium)")
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _open(browser, url: str, allowed_prefix: str):
    """A page on ``url`` with every request outside ``allowed_prefix`` refused, and its dialogs recorded."""
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(allowed_prefix) else r.abort())
    response = page.goto(url, wait_until="load", timeout=30_000)  # load waits for images, so onerror has run
    return page, response, dialogs


def _submission_id(course, student: str) -> str:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        return gb.find_submission_notebook(LAB, LAB, student).id


def _assert_inert(page, dialogs: list[str]) -> str:
    pwned = page.evaluate("[window.__pwned, window.__pwned_out, document.title]")
    assert pwned[0] is None and pwned[1] is None, f"student script ran: {pwned}"
    assert pwned[2] != "PWNED" and not dialogs, (pwned, dialogs)
    text = page.inner_text("body")
    assert MARKER in text and f"{MARKER}-ADDED" in text, "the student's answer is not shown"
    return text


def test_formgrader_page_runs_no_student_script(server):
    from playwright.sync_api import sync_playwright
    course, port = server
    base = f"http://{lab.HOST}:{port}"
    url = f"{base}/formgrader/submissions/{_submission_id(course, 'hostile')}/?token={TOKEN}"
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page, response, dialogs = _open(browser, url, base)
            assert response is not None and response.ok, response and response.status
            csp = response.headers.get("content-security-policy", "")
            text = _assert_inert(page, dialogs)
            # the script is shown as text, where the instructor can see (and grade) it
            assert "<script>" in text and "onerror" in text
            # the grading page still works: its score boxes were bound by the formgrader's own script
            page.wait_for_function("document.querySelectorAll('input.score').length > 0", timeout=20_000)
        finally:
            browser.close()
    assert "connect-src 'self'" in csp and "frame-ancestors 'self'" in csp, csp


def test_feedback_page_runs_no_student_script(graded):
    from playwright.sync_api import sync_playwright
    course, _ = graded
    page_path = course.feedback / "hostile" / LAB / f"{LAB}.html"
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page, _, dialogs = _open(browser, page_path.as_uri(), page_path.as_uri())
            _assert_inert(page, dialogs)
        finally:
            browser.close()


# ---------------------------------------------------------------- the server cannot write the course

def _api(port: int, method: str, path: str, body: dict | None = None) -> int:
    request = urllib.request.Request(f"http://{lab.HOST}:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {TOKEN}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_contents_api_cannot_write_config_or_source(server):
    course, port = server
    before = _digest(course.source), hashlib.sha256((course.root / "nbgrader_config.py").read_bytes()).hexdigest()
    text = {"type": "file", "format": "text", "content": "c.Execute.timeout = 1  # owned\n"}
    notebook = {"type": "notebook", "content": nbformat.v4.new_notebook()}
    src = f"source/{LAB}/{LAB}.ipynb"
    attempts = {
        "PUT nbgrader_config.py": _api(port, "PUT", "/api/contents/nbgrader_config.py", text),
        f"PUT {src}": _api(port, "PUT", f"/api/contents/{src}", notebook),
        "PUT source/new.py": _api(port, "PUT", "/api/contents/source/new.py", text),
        "PUT build/../nbgrader_config.py": _api(port, "PUT", "/api/contents/build/%2E%2E/nbgrader_config.py", text),
        f"DELETE {src}": _api(port, "DELETE", f"/api/contents/{src}"),
        f"PATCH {src} (rename)": _api(port, "PATCH", f"/api/contents/{src}", {"path": "build/stolen.ipynb"}),
        "POST checkpoint of config": _api(port, "POST", "/api/contents/nbgrader_config.py/checkpoints"),
    }
    allowed = {k: code for k, code in attempts.items() if code < 400}
    assert not allowed, f"the grading server wrote the course: {allowed}"
    after = _digest(course.source), hashlib.sha256((course.root / "nbgrader_config.py").read_bytes()).hexdigest()
    assert after == before
    # the refusal is a rule, not a broken server: the scratch folder is writable
    (course.root / "build").mkdir(exist_ok=True)
    assert _api(port, "PUT", "/api/contents/build/notes.py", text) in (200, 201)


def test_grading_server_has_no_terminals(server):
    _, port = server
    assert _api(port, "POST", "/api/terminals", {}) == 404


def test_jupyterlab_and_formgrader_work_under_the_csp(server):
    """The Content-Security-Policy must not break the Lab itself or the formgrader's pages."""
    from playwright.sync_api import sync_playwright
    _, port = server
    base = f"http://{lab.HOST}:{port}"
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page()
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            page.goto(f"{base}/lab?token={TOKEN}", wait_until="load", timeout=60_000)
            page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
            page.goto(f"{base}/formgrader/gradebook/{LAB}/{LAB}?token={TOKEN}", wait_until="load", timeout=30_000)
            page.wait_for_function("document.querySelectorAll('tbody tr').length >= 2", timeout=20_000)
        finally:
            browser.close()
    assert not violations, violations
