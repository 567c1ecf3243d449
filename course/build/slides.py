"""Lecture slides: one reveal.js deck per lab, built from ``slides/src/<Lab>.md``.

Why built, not drawn by hand: every figure is an image output of the lab's executed
solution (``solutions/<Lab>/<Lab>.ipynb``, picked by cell id), so slides and labs show
the same pictures from the same code, and a changed lab shows up as a stale deck. Math is
typeset to SVG at build time (MathJax under Node), so a deck opened from ``file://`` needs
no network and no MathJax; reveal.js itself is copied into ``slides/assets/``. The output
depends only on its inputs (no timestamps), so a test can prove the committed decks are current.

Source format: Markdown, slides separated by a line ``---``; ``$…$`` and ``$$…$$`` math;
``![caption](figure:<cell-id>)`` figures (optionally ``{height=NNN}`` after it, in pixels);
boxes ``:::intuition``/``:::definition Title``/… closed by ``:::``; ``:::columns`` holding
``:::column`` blocks; and ``[[lab-links]]`` on the last slide, where the lab's GitHub and
Colab links and links to every lab are placed (all in the public student repository,
``settings.student_repository``: decks are shown to students, and this repository is private).
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

import mistune

from course.build import figure_text
from course.core import settings
from course.core.errors import CourseError
from course.core.paths import REPO, TEMPLATES, Course
from course.core.progress import step

TOOLS = REPO / "slides"                 # package.json, package-lock.json, typeset.cjs, node_modules/
NODE_MODULES = TOOLS / "node_modules"
ASSETS = {                              # copied next to the decks: name in assets/ ← file in node_modules/
    "reveal.js": "reveal.js/dist/reveal.js",
    "reveal.css": "reveal.js/dist/reveal.css",
    "white.css": "reveal.js/dist/theme/white.css",
}
LINKS_MARKER = "[[lab-links]]"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"]
BOXES = {  # box kind → default title (a title after the kind replaces it)
    "intuition": "Intuition", "definition": "Definition", "proposition": "Proposition",
    "example": "Example", "note": "Note", "caution": "Caution", "exercise": "Exercise",
}
LAYOUTS = {"columns", "column"}
_TITLE_CLASS = ' class="title-slide"'


def slides_dir(course: Course) -> Path:
    return course.root / "slides"


def source_path(course: Course, lab: str) -> Path:
    return slides_dir(course) / "src" / f"{lab}.md"


def build(course: Course, labs: list[str], out: Path | None = None, pdf: bool = False) -> list[Path]:
    """Write ``<out>/<Lab>.html`` (and ``<out>/pdf/<Lab>.pdf`` with pdf) plus ``<out>/assets/``."""
    out = slides_dir(course) if out is None else out
    ensure_node_modules()
    rendered = {lab: render(course, lab) for lab in step(labs, "slides")}   # every deck, before writing any
    write_assets(out / "assets")
    decks = []
    for lab, text in rendered.items():
        deck = out / f"{lab}.html"
        deck.write_text(text, encoding="utf-8")
        decks.append(deck)
        print(f"slides: {lab}: {text.count('<section')} slides → {deck}")
    if pdf:
        write_pdfs(decks, out / "pdf")
    return decks


def write_assets(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in ASSETS.items():
        shutil.copyfile(NODE_MODULES / src, folder / name)
    shutil.copyfile(TEMPLATES / "slides.css", folder / "course.css")


# --- one deck ----------------------------------------------------------------------------------

@dataclass
class _Deck:
    """What a deck's Markdown refers to, collected while rendering and filled in at the end."""
    lab: str
    figures: dict[str, list[str]]
    math: list[tuple[str, bool]]


def render(course: Course, lab: str, source: str | None = None) -> str:
    """The deck's HTML. Figures are checked before anything is typeset, so a bad id fails fast."""
    if source is None:
        path = source_path(course, lab)
        if not path.is_file():
            raise CourseError(f"no slide source {path} — write one (see slides/README.md)")
        source = path.read_text(encoding="utf-8")
    deck = _Deck(lab, _figures(course, lab), [])
    slides = _split(source)
    _check_links_marker(lab, slides)
    sections = [_render_blocks(deck, text, n) for n, text in enumerate(slides, start=1)]
    css, svgs = typeset(deck.math, lab)
    body = "\n".join(f"<section{_TITLE_CLASS if n == 0 else ''}>\n{_fill_math(s, svgs)}\n</section>"
                     for n, s in enumerate(sections))
    body = body.replace(_token("LINKS", 0), _lab_links(course, lab))
    title = _title(slides[0], lab)
    return Template((TEMPLATES / "slides.html").read_text()).substitute(
        title=html.escape(title), mathjax_css=css.strip(), slides=body)


def _figures(course: Course, lab: str) -> dict[str, list[str]]:
    """cell id → base64 PNGs of that cell's outputs, from the executed solution notebook."""
    path = course.solutions / lab / f"{lab}.ipynb"
    if not path.is_file():
        raise CourseError(f"{path} not found — slides take their figures from it; "
                          f"run `python -m course solutions {lab}` first")
    nb = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for cell in nb["cells"]:
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        found[cell.get("id", "")] = ["".join(p).replace("\n", "") for p in pngs]
    return found


def _split(source: str) -> list[str]:
    """Slides are separated by a line '---' (outside code fences)."""
    slides, current, fenced = [], [], False
    for line in source.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if line.strip() == "---" and not fenced:
            slides.append("\n".join(current))
            current = []
        else:
            current.append(line)
    slides.append("\n".join(current))
    return [s.strip("\n") for s in slides if s.strip()]


def _check_links_marker(lab: str, slides: list[str]) -> None:
    where = [n for n, s in enumerate(slides, start=1) if LINKS_MARKER in s]
    if where != [len(slides)] or slides[-1].count(LINKS_MARKER) != 1:
        raise CourseError(f"{lab}: {LINKS_MARKER} must appear once, on the last slide (found on slides "
                          f"{where or 'none'} of {len(slides)}) — it places the links to the labs")


def _title(first_slide: str, lab: str) -> str:
    match = re.search(r"^#\s+(.+)$", first_slide, re.M)
    return re.sub(r"\$[^$]*\$", "", match.group(1)).strip() if match else lab


_DIRECTIVE = re.compile(r"^:::\s*([a-z]+)?\s*(.*?)\s*$")


def _render_blocks(deck: _Deck, text: str, slide: int) -> str:
    """Markdown with ':::kind title' … ':::' blocks (nestable) around it."""
    out: list[str] = []          # finished HTML pieces at the current depth
    stack: list[tuple[str, str, list[str]]] = []   # open blocks: (kind, title, pieces outside it)
    buffer: list[str] = []       # Markdown lines not yet rendered
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else _DIRECTIVE.match(line)
        if not match:
            buffer.append(line)
            continue
        out.append(_markdown(deck, "\n".join(buffer), slide))
        buffer = []
        kind, title = match.group(1), match.group(2)
        if kind is None:                                   # ':::' closes the innermost block
            if not stack:
                raise CourseError(f"{deck.lab}, slide {slide}: ':::' closes nothing")
            kind, title, outer = stack.pop()
            out = outer + [_wrap(kind, title, "\n".join(out))]
        else:
            if kind not in BOXES and kind not in LAYOUTS:
                raise CourseError(f"{deck.lab}, slide {slide}: unknown block ':::{kind}' — "
                                  f"use one of {', '.join(sorted(BOXES) + sorted(LAYOUTS))}")
            stack.append((kind, title, out))
            out = []
    if stack:
        raise CourseError(f"{deck.lab}, slide {slide}: ':::{stack[-1][0]}' is never closed with ':::'")
    out.append(_markdown(deck, "\n".join(buffer), slide))
    return "\n".join(p for p in out if p)


def _wrap(kind: str, title: str, inner: str) -> str:
    if kind in LAYOUTS:
        return f'<div class="{kind}">\n{inner}\n</div>'
    label = html.escape(title or BOXES[kind])
    return f'<div class="box {kind}"><div class="box-title">{label}</div>\n{inner}\n</div>'


_FIGURE = re.compile(r"!\[(?P<alt>[^\]]*)\]\(figure:(?P<ref>[^)\s]*)\)(?:\{height=(?P<height>\d+)\})?")
_MATH = re.compile(
    r"(?P<fence>^```.*?^```[ \t]*$)|(?P<code>`[^`\n]+`)"
    r"|\$\$(?P<display>.+?)\$\$"
    r"|(?<![\\\w$])\$(?P<inline>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?!\w)", re.S | re.M)
_CODE = re.compile(r"^```.*?^```[ \t]*$|`[^`\n]+`", re.S | re.M)
_MARKDOWN = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])


def _token(kind: str, n: int) -> str:
    """A placeholder Markdown leaves alone (letters and digits only)."""
    return f"ZZ{kind}{n:04d}ZZ"


def _markdown(deck: _Deck, text: str, slide: int) -> str:
    if not text.strip():
        return ""
    figures: list[str] = []

    def figure(m: re.Match) -> str:
        figures.append(_figure_html(deck, m.group("ref"), m.group("alt"), m.group("height"), slide))
        return _token("FIG", len(figures) - 1)

    def math(m: re.Match) -> str:
        if m.group("fence") or m.group("code"):
            return m.group(0)
        display = m.group("display") is not None
        deck.math.append(((m.group("display") if display else m.group("inline")).strip(), display))
        return _token("MATH", len(deck.math) - 1)

    text = _MATH.sub(math, _FIGURE.sub(figure, text)).replace(LINKS_MARKER, _token("LINKS", 0))
    stray = re.search(r".{0,30}\$.{0,30}", _CODE.sub("", text))
    if stray:
        raise CourseError(f"{deck.lab}, slide {slide}: a '$' that opens or closes no math in "
                          f"“{stray.group(0).strip()}” — a closing $ may not touch a letter or digit")
    rendered = _MARKDOWN(text).strip()
    for n, fig in enumerate(figures):
        token = _token("FIG", n)
        rendered = rendered.replace(f"<p>{token}</p>", fig).replace(token, fig)
    return rendered


def _figure_html(deck: _Deck, ref: str, caption: str, height: str | None, slide: int) -> str:
    cell_id, _, nth = ref.partition("/")
    where = f"{deck.lab}, slide {slide}: figure:{ref}"
    if cell_id not in deck.figures:
        raise CourseError(f"{where} — no cell with id '{cell_id}' in solutions/{deck.lab}/{deck.lab}.ipynb; "
                          f"cells with figures: {', '.join(k for k, v in deck.figures.items() if v) or 'none'}")
    pngs = deck.figures[cell_id]
    if not pngs:
        raise CourseError(f"{where} — cell '{cell_id}' has no image output; run `python -m course solutions "
                          f"{deck.lab}` if it should, or pick one of: "
                          f"{', '.join(k for k, v in deck.figures.items() if v) or 'none'}")
    index = int(nth) - 1 if nth.isdigit() else 0
    if not 0 <= index < len(pngs) or (nth and not nth.isdigit()):
        raise CourseError(f"{where} — cell '{cell_id}' has {len(pngs)} image(s); use figure:{cell_id}/1 … /{len(pngs)}")
    style = f' style="height:{int(height)}px"' if height else ""
    alt = html.escape(caption, quote=True)
    # the smallest text in the PNG's pixels, noted by the solutions build for the projector-size test
    text_px = html.escape(figure_text.recorded(pngs[index]) or "unknown", quote=True)
    img = (f'<img class="figure" data-cell="{html.escape(cell_id)}" data-text-px="{text_px}" alt="{alt}"{style} '
           f'src="data:image/png;base64,{pngs[index]}">')
    caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{img}{caption_html}</figure>"


def _fill_math(section: str, svgs: list[str]) -> str:
    section = re.sub(r"<p>(ZZMATH\d{4}ZZ)</p>", r"\1", section)   # display math stands alone, not in a <p>
    return re.sub(r"ZZMATH(\d{4})ZZ", lambda m: svgs[int(m.group(1))], section)


def _lab_links(course: Course, current: str) -> str:
    """This lab's release notebook (GitHub, Colab), then every lab: the deck's last slide."""
    def name(lab: str) -> tuple[str, str]:
        day, _, rest = lab.partition("_")
        words = [re.sub(r"(?<=[a-z])(?=[A-Z])", " ", part) for part in rest.split("_")]
        return re.sub(r"(?<=[A-Za-z])(?=\d)", " ", day), ", ".join(words)

    def links(lab: str) -> str:
        return (f'<a class="link github" href="{html.escape(settings.github_url(lab))}">GitHub</a>'
                f'<a class="link colab" href="{html.escape(settings.colab_url(lab))}">Open in Colab</a>')

    cards = []
    for lab in course.labs():
        day, topic = name(lab)
        mark = " current" if lab == current else ""
        cards.append(f'<div class="lab-card{mark}" data-lab="{lab}"><div class="lab-day">{day}</div>'
                     f'<div class="lab-topic">{html.escape(topic)}</div>{links(lab)}</div>')
    return (f'<div class="lab-links"><p class="this-lab">This lab: <code>{current}.ipynb</code> '
            f'{links(current)}</p>\n<div class="all-labs">{"".join(cards)}</div></div>')


# --- tools: Node for MathJax, Chromium for PDF ---------------------------------------------------

def ensure_node_modules() -> None:
    """Install the pinned reveal.js and MathJax (``npm ci``) when missing or not the locked versions."""
    if _installed_matches_lock():
        return
    if not shutil.which("npm") or not shutil.which("node"):
        raise CourseError("Node.js and npm are needed to build slides — install them (e.g. `apt-get install "
                          "nodejs npm`), then run `npm ci --prefix slides`")
    print("slides: installing reveal.js and MathJax (npm ci --prefix slides)")
    proc = subprocess.run(["npm", "ci", "--prefix", str(TOOLS), "--no-audit", "--no-fund"],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not _installed_matches_lock():
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise CourseError(f"`npm ci --prefix slides` failed ({last}) — run it yourself and check the npm registry is reachable")


def _installed_matches_lock() -> bool:
    lock = json.loads((TOOLS / "package-lock.json").read_text())["packages"]
    for pkg in ("reveal.js", "mathjax-full"):
        installed = NODE_MODULES / pkg / "package.json"
        if not installed.is_file():
            return False
        if json.loads(installed.read_text())["version"] != lock[f"node_modules/{pkg}"]["version"]:
            return False
    return True


def typeset(items: list[tuple[str, bool]], lab: str) -> tuple[str, list[str]]:
    """TeX → SVG with the pinned MathJax: (CSS for the SVGs, one SVG per item). A TeX error stops the build."""
    proc = subprocess.run(["node", str(TOOLS / "typeset.cjs")], cwd=TOOLS, capture_output=True, text=True,
                          input=json.dumps([{"tex": tex, "display": display} for tex, display in items]))
    if proc.returncode != 0:
        raise CourseError(f"{lab}: typesetting math failed ({proc.stderr.strip().splitlines()[-1:]}) — "
                          f"run `npm ci --prefix slides`")
    result = json.loads(proc.stdout)
    for (tex, _), item in zip(items, result["items"]):
        if "error" in item:
            raise CourseError(f"{lab}: TeX error '{item['error']}' in ${tex}$ — fix it in slides/src/{lab}.md")
    return result["css"], [item["svg"] for item in result["items"]]


def write_pdfs(decks: list[Path], folder: Path, browser=None) -> list[Path]:
    """Print each deck with reveal's ?print-pdf view in headless Chromium, one slide per page.

    ``browser``: a running playwright Browser to reuse (the tests have one); else one is started.
    """
    if browser is not None:
        return [_print(browser, deck, folder) for deck in decks]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise CourseError("--pdf needs playwright — run `pip install -e '.[dev]'` (or `make install`)") from None
    if not Path(CHROMIUM).is_file():
        raise CourseError(f"--pdf needs Chromium at {CHROMIUM} — run `make system` (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            return [_print(browser, deck, folder) for deck in decks]
        finally:
            browser.close()


def _print(browser, deck: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(deck.resolve().as_uri() + "?print-pdf")
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.fonts.status === 'loaded'")
    # the print view is laid out after "ready", page by page, moving each slide into a .pdf-page: wait for as
    # many pages as the deck has slides (counted in the file, since the live count drops as slides move)
    slides_in_deck = max(1, deck.read_text().count("<section"))
    page.wait_for_function(f"document.querySelectorAll('.pdf-page').length >= {slides_in_deck}")
    pdf = folder / f"{deck.stem}.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    page.close()
    print(f"slides: {deck.stem} → {pdf}")
    return pdf
