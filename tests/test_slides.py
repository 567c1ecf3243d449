"""Slides: each deck works offline in a real browser, and the committed decks are current.

Every deck is opened from file:// in headless Chromium with every non-file request refused
and recorded: none may be made. Each slide must render visible content without overflowing,
with no JavaScript error and no TeX left untypeset; every figure must load; the last slide
must link to every lab. Screenshots (first slide, first slide with display math) go to
build/screenshots/ for a human to look at.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import LABS, REAL, lab_params
from course.core import settings
from course.build import slides
from course.core.errors import CourseError
from course.core.paths import REPO

SHOTS = REPO / "build" / "screenshots"
MIN_TEXT_PX = 12  # issue 19: the smallest figure text readable on a projector, at 1280×720
RAW_TEX = re.compile(r"\$[^$\n]+\$|\$\$|\\\(|\\\[|\\[A-Za-z]+\{")

# Walk every slide in the page and report what a viewer would see on it.
WALK = """() => {
  const visibleText = (root) => {
    const out = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (el.closest('pre, code, svg') || !el.checkVisibility()) continue;
      out.push(n.textContent);
    }
    return out.join(' ');
  };
  return Reveal.getSlides().map((_, i) => {
    Reveal.slide(i);
    const s = Reveal.getCurrentSlide();
    const box = s.getBoundingClientRect();
    return {
      index: i,
      text: s.innerText.trim(),
      prose: visibleText(s),
      visible: s.checkVisibility() && box.width > 0 && box.height > 0,
      overflow: [s.scrollHeight - s.clientHeight, s.scrollWidth - s.clientWidth],
      displayMath: s.querySelectorAll('mjx-container[display="true"]').length,
      math: s.querySelectorAll('mjx-container > svg').length,
      images: Array.from(s.querySelectorAll('img')).map(img => ({
        cell: img.dataset.cell || null, complete: img.complete, width: img.naturalWidth,
        data: img.src.startsWith('data:image/png;base64,'),
        textPx: img.dataset.textPx || null, naturalHeight: img.naturalHeight,
        shownHeight: img.getBoundingClientRect().height})),
      links: Array.from(s.querySelectorAll('a[href]')).map(a => a.href),
    };
  });
}"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    if not Path(slides.CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {slides.CHROMIUM} — run `make system`")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=slides.CHROMIUM, args=slides.BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("lab", lab_params())
def test_deck_renders_offline(browser, lab):
    deck = REPO / "slides" / f"{lab}.html"
    assert deck.is_file(), f"{deck} missing — run `python -m course slides {lab}`"
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    outside, errors = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(deck.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.fonts.status === 'loaded'")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    report = page.evaluate(WALK)

    assert len(report) >= 8, f"{lab}: only {len(report)} slides"
    for s in report:
        where = f"{lab}, slide {s['index'] + 1}"
        assert s["visible"] and (s["text"] or s["images"]), f"{where} shows nothing"
        assert max(s["overflow"]) <= 2, f"{where} overflows the slide by {s['overflow']} px (height, width)"
        raw = RAW_TEX.search(s["prose"])
        assert not raw, f"{where}: untypeset TeX {raw.group(0)!r} in {s['prose'][:200]!r}"
        for img in s["images"]:
            assert img["complete"] and img["width"] > 0, f"{where}: image {img['cell']} did not load"
    figures = [img for s in report for img in s["images"] if img["cell"]]
    assert len(figures) >= 4 and all(f["data"] for f in figures), f"{lab}: figures must be the lab's own PNGs"
    # readable on a projector: the smallest text of each figure (noted in its PNG by the solutions build, in the
    # PNG's pixels), scaled by the size the browser shows the image at, is at least MIN_TEXT_PX at 1280×720
    small = []
    for s in report:
        for img in (i for i in s["images"] if i["cell"]):
            assert img["textPx"] not in (None, "unknown"), \
                f"{lab}, slide {s['index'] + 1}: figure {img['cell']} has no text size — rebuild `python -m course solutions`"
            if img["textPx"] == "none":
                continue
            shown = float(img["textPx"]) * img["shownHeight"] / img["naturalHeight"]
            if shown < MIN_TEXT_PX:
                small.append(f"slide {s['index'] + 1}, {img['cell']}: {shown:.1f} px")
    assert not small, f"{lab}: figure text under {MIN_TEXT_PX} px at 1280×720: {'; '.join(small)}"
    assert sum(s["displayMath"] for s in report) >= 1 and sum(s["math"] for s in report) >= 10, \
        f"{lab}: expected math typeset to SVG"

    last = report[-1]["links"]
    for other in LABS:
        assert settings.colab_url(other) in last, f"{lab}: last slide does not open {other} in Colab"
        assert settings.github_url(other) in last, f"{lab}: last slide does not link {other} on GitHub"
    assert last.count(settings.colab_url(lab)) >= 2, f"{lab}: last slide lacks its own lab's links"

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("Reveal.slide(0)")
    page.screenshot(path=str(SHOTS / f"{lab}-first.png"))
    math = next(s["index"] for s in report if s["displayMath"])
    page.evaluate(f"Reveal.slide({math})")
    page.screenshot(path=str(SHOTS / f"{lab}-math.png"))
    page.close()
    assert not errors, f"{lab}: console errors {errors}"
    assert not outside, f"{lab}: the deck asked the network for {outside}"


def test_decks_are_current(tmp_path):
    """The committed decks and assets are exactly what `python -m course slides` builds now."""
    slides.build(REAL, LABS, out=tmp_path)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = REPO / "slides"
    assert {p.name for p in (committed / "assets").iterdir()} == {p.name for p in (tmp_path / "assets").iterdir()}
    for rel in built:
        assert (committed / rel).is_file(), f"slides/{rel} missing — run `python -m course slides`"
        assert (committed / rel).read_bytes() == (tmp_path / rel).read_bytes(), \
            f"slides/{rel} is stale (slides/src, solutions/ or the kit changed) — run `python -m course slides`"


def test_build_is_deterministic(tmp_path):
    lab = LABS[0]
    assert slides.render(REAL, lab) == slides.render(REAL, lab)


def _deck(*slides_md: str) -> str:
    return "\n\n---\n\n".join(("# Title",) + slides_md + ("## Lab\n\n[[lab-links]]",))


def test_missing_figure_is_a_clear_error():
    with pytest.raises(CourseError, match=r"figure:cell-nope — no cell with id 'cell-nope' in solutions/"):
        slides.render(REAL, LABS[0], _deck("![a plot](figure:cell-nope)"))


def test_cell_without_image_is_a_clear_error():
    lab = LABS[0]
    figures = slides._figures(REAL, lab)
    bare = next(cell for cell, pngs in figures.items() if not pngs and cell)
    with pytest.raises(CourseError, match=f"cell '{bare}' has no image output"):
        slides.render(REAL, lab, _deck(f"![a plot](figure:{bare})"))


def test_source_mistakes_are_clear_errors():
    lab = LABS[0]
    with pytest.raises(CourseError, match=r"TeX error .*\\nosuchmacro"):
        slides.render(REAL, lab, _deck(r"$\nosuchmacro x$"))
    with pytest.raises(CourseError, match=r"a '\$' that opens or closes no math"):
        slides.render(REAL, lab, _deck(r"costs $5 a month"))
    with pytest.raises(CourseError, match=r"':::intuition' is never closed"):
        slides.render(REAL, lab, _deck(":::intuition\ntext"))
    with pytest.raises(CourseError, match=r"must appear once, on the last slide"):
        slides.render(REAL, lab, "# Title\n\n---\n\n## Lab\n\nno links")


def test_cli_error_is_one_line(tmp_path):
    """A bad figure id in a course's slide source: `error: …` on one line, exit 1, nothing written."""
    lab = LABS[0]
    (tmp_path / "source" / lab).mkdir(parents=True)
    (tmp_path / "source" / lab / f"{lab}.ipynb").write_text("{}")
    (tmp_path / "solutions" / lab).mkdir(parents=True)
    shutil.copyfile(REAL.solutions / lab / f"{lab}.ipynb", tmp_path / "solutions" / lab / f"{lab}.ipynb")
    (tmp_path / "slides" / "src").mkdir(parents=True)
    (tmp_path / "slides" / "src" / f"{lab}.md").write_text(_deck("![x](figure:cell-nope)"))
    proc = subprocess.run([sys.executable, "-m", "course", "--course-dir", str(tmp_path), "slides"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and lines[-1].startswith("error: ") and "cell-nope" in lines[-1], proc.stderr
    assert not (tmp_path / "slides" / f"{lab}.html").exists()


def test_pdf(browser, tmp_path):
    """--pdf: one page per slide, from reveal's print view."""
    lab = LABS[-1]
    deck = REPO / "slides" / f"{lab}.html"
    [pdf] = slides.write_pdfs([deck], tmp_path, browser=browser)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert pages > 1 and pages == deck.read_text().count("<section"), f"{pdf}: {pages} page(s)"
