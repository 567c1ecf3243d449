"""Make everything a student controls in a notebook inert as HTML, before an instructor's browser renders it.

Why (issue 14): the formgrader and the HTML feedback render the autograded
notebook with nbconvert, which passes raw HTML in Markdown straight through
(``markdown2html`` runs mistune with ``escape=False``) and writes ``text/html``,
``image/svg+xml`` and ``application/javascript`` outputs into the page as they
are. A ``<script>`` in a hand-graded Markdown answer therefore ran in the
instructor's Jupyter session, with the instructor's token: it changed other
students' grades through the API, read ``source/`` and wrote
``nbgrader_config.py``. The formgrader has no switch for this (its template
renders Markdown without ``clean_html``), so the notebook itself is cleaned:
``SanitiseStudentContent`` runs at the end of autograding (what
``autograded/`` holds is what the formgrader shows) and again in feedback.

What is untrusted: every Markdown and raw cell except a locked nbgrader cell
whose checksum matches (nbgrader's ``OverwriteCells`` has put the instructor's
source back into those; no lab has one today), and every output of every code
cell, since the kernel runs the student's code and can send any message.

How Markdown is cleaned, and why not ``bleach``: bleach (in the venv only
through nbconvert) sanitises HTML, not Markdown; run over Markdown it turns
``$a<b$`` into ``$a&lt;b$``, which nbconvert escapes again, so the formula
breaks, and it mangles code. Instead every ``<`` outside math and code is
written as ``&lt;``: with no ``<`` left, Markdown can produce no tag the
renderer did not make itself, and ``&lt;`` still reads as ``<``. Math is left
as it is (nbconvert escapes math itself) except MathJax's ``\\href``,
``\\class``, ``\\style``, ``\\cssId``, ``\\unicode``, ``\\require`` and
``\\data``, which can make links or styled boxes; they are shown as text.
Then the cleaned cell is rendered with nbconvert's own Markdown renderer and
every tag, attribute and URL checked against an allow-list (no
``javascript:``/``data:`` links, no ``id`` an instructor's page uses). A cell
that fails the check, because of a bad link or a construct the scanner here
misread, is shown as a plain-text code block under a note saying why: the
student's words stay readable, nothing of them runs.

Outputs keep only ``text/plain``, ``image/png`` and ``image/jpeg`` (an image's
metadata keeps only numeric ``width``/``height``). ``text/latex`` is dropped
too: MathJax would typeset it, with ``\\href`` and friends, and every LaTeX
repr also has ``text/plain``. An output left with nothing says what was
removed. Outputs are never removed or reordered, so nbgrader's reading of a
cell's outputs is unchanged; and in ``nbgrader_config.py`` this runs after
``SaveAutoGrades``, so scores are saved before anything here runs.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import compute_checksum

SAFE_OUTPUT_MIME = ("text/plain", "image/png", "image/jpeg")
SAFE_ATTACHMENT_MIME = ("image/png", "image/jpeg", "image/gif")
SAFE_SCHEMES = {"http", "https", "mailto"}
SAFE_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$", re.I)

# MathJax macros that make links, ids, classes or styles (or load extensions): shown as text instead.
MATHJAX_UNSAFE = re.compile(r"\\(href|class|cssId|style|unicode|require|data)(?![A-Za-z])")

# The same math delimiters as nbconvert's MathInlineParser (nbconvert/filters/markdown_mistune.py),
# and a code span: runs of the same number of backticks.
_INLINE = re.compile(
    r"(?s)(?P<math>(?<!\\)\$\$.*?(?<!\\)\$\$"
    r"|(?<!\\)\\\\\[.*?(?<!\\)\\\\\]"
    r"|(?<![$\\])\$.+?(?<![$\\])\$"
    r"|(?<!\\)\\\\\(.*?(?<!\\)\\\\\)"
    r"|\\begin\{(?P<env>[a-z]*\*?)\}.*?\\end\{(?P=env)\})"
    r"|(?P<code>(?<!`)(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`))"
)
_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")

# What nbconvert's Markdown renderer (mistune + pygments) makes, and nothing more.
ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "img",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd",
    "input", "div", "span",
}
ALLOWED_ATTRS = {"href", "src", "alt", "title", "id", "class", "style", "start", "type", "disabled",
                 "checked", "align"}
_TEXT_ALIGN = re.compile(r"^\s*text-align\s*:\s*(left|right|center)\s*;?\s*$", re.I)
# Ids the formgrader's page looks up itself (`$("#" + grade_id)` binds a score box to its cell).
PAGE_IDS = {"statusmessage", "notebook", "notebook-container"}

PLAIN_TEXT_NOTE = ("*[grader: this cell held HTML, a link or markup that is unsafe in the grading page; "
                   "it is shown as plain text]*")


def escape_markdown(source: str) -> str:
    """``source`` with every ``<`` outside math, code spans and fenced code written as ``&lt;``.

    A ```` ```mermaid ```` fence is not protected: nbconvert writes its body into the
    page unescaped. Math keeps its text, but MathJax's link and style macros are
    shown as text (``MATHJAX_UNSAFE``).
    """
    out: list[str] = []
    text: list[str] = []
    lines = source.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        opened = _FENCE_OPEN.match(lines[i].rstrip("\r\n"))
        if opened and not (opened["fence"][0] == "`" and "`" in opened["info"]) \
                and not opened["info"].strip().lower().startswith("mermaid"):
            out.append(_escape_inline("".join(text)))
            text = []
            fence = opened["fence"]
            close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
            j = i + 1
            while j < len(lines) and not close.match(lines[j].rstrip("\r\n")):
                j += 1
            out.append("".join(lines[i:j + 1]))  # the renderer escapes code itself
            i = j + 1
            continue
        text.append(lines[i])
        i += 1
    out.append(_escape_inline("".join(text)))
    return "".join(out)


def _escape_inline(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(_inert(text[pos:m.start()]))
        out.append(MATHJAX_UNSAFE.sub(_SHOW_MACRO, m[0]) if m["math"] else m[0])
        pos = m.end()
    out.append(_inert(text[pos:]))
    return "".join(out)


_SHOW_MACRO = r"\\backslash{\\rm \1}"


def _inert(text: str) -> str:
    """Text outside math and code: no ``<`` (so no tag), and no MathJax link macro for a stray delimiter."""
    return MATHJAX_UNSAFE.sub(_SHOW_MACRO, text.replace("<", "&lt;"))


def plain_text(source: str) -> str:
    """``source`` as a fenced code block (every character shown, nothing rendered), under a note."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{PLAIN_TEXT_NOTE}\n\n{fence}\n{source}\n{fence}\n"


def url_is_safe(url: str, image: bool = False) -> bool:
    """An http(s)/mailto or relative URL (or, for an image, an embedded PNG/JPEG/GIF).

    Browsers ignore whitespace and control characters inside a scheme
    (``java\\tscript:``), so they are removed before the scheme is read.
    """
    squeezed = re.sub(r"[\x00-\x20\x7f]", "", url)
    if image and SAFE_DATA_IMAGE.match(squeezed):
        return True
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", squeezed)
    return scheme is None or scheme[1].lower() in SAFE_SCHEMES


class _Audit(HTMLParser):
    """Collects why rendered Markdown is unsafe: tags, attributes, URLs or ids outside the allow-list."""

    def __init__(self, reserved_ids: set[str]):
        super().__init__(convert_charrefs=True)
        self.reserved_ids = reserved_ids
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            value = value or ""
            if name not in ALLOWED_ATTRS:
                self.problems.append(f"attribute {name} on <{tag}>")
            elif name in ("href", "src") and not url_is_safe(value, image=(tag == "img" and name == "src")):
                self.problems.append(f"URL {value[:40]!r}")
            elif name == "style" and not _TEXT_ALIGN.match(value):
                self.problems.append(f"style {value[:40]!r}")
            elif name == "type" and (tag != "input" or value != "checkbox"):
                self.problems.append(f"type={value[:20]!r} on <{tag}>")
            elif name == "class" and "mermaid" in value.lower():  # mermaid.js would draw (and link) it
                self.problems.append("a mermaid diagram")
            elif name == "id" and value in self.reserved_ids:
                self.problems.append(f"id {value!r} (the formgrader's own)")

    handle_startendtag = handle_starttag

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("declaration")


def render(source: str, attachments: dict | None = None) -> str:
    """``source`` as nbconvert's HTML exporter renders a Markdown cell (same parser, same renderer)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    return MarkdownWithMath(renderer=renderer).render(source)


def audit(source: str, attachments: dict | None = None, reserved_ids: set[str] = frozenset()) -> list[str]:
    """Why this Markdown is unsafe once rendered ([] if it is safe); a renderer error counts as unsafe."""
    try:
        rendered = render(source, attachments)
    except Exception as exc:  # noqa: BLE001 — e.g. a missing attachment; the formgrader would fail too
        return [f"does not render ({type(exc).__name__}: {exc})"]
    checker = _Audit(set(reserved_ids))
    checker.feed(rendered)
    checker.close()
    return checker.problems


def sanitise_markdown(source: str, attachments: dict | None = None,
                      reserved_ids: set[str] = frozenset()) -> str:
    """Markdown that renders without any HTML of its own: escaped, or else shown as plain text."""
    cleaned = escape_markdown(source)
    if not audit(cleaned, attachments, reserved_ids):
        return cleaned
    fallback = plain_text(source)
    problems = audit(fallback, None, reserved_ids)
    if problems:  # cannot happen with nbconvert's renderer; never pass unsafe text on
        raise RuntimeError(f"student Markdown could not be made safe: {problems}")
    return fallback


def sanitise_output(output: NotebookNode) -> NotebookNode:
    """Keep only plain text and PNG/JPEG of a rich output; the output itself stays, so scoring reads the same."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return output
    data = output.get("data") or {}
    dropped = sorted(k for k in data if k not in SAFE_OUTPUT_MIME)
    kept = {k: v for k, v in data.items() if k in SAFE_OUTPUT_MIME}
    if not kept:
        kept = {"text/plain": f"[grader: output not shown ({', '.join(dropped) or 'empty'})]"}
    metadata = {}
    for mime in ("image/png", "image/jpeg"):
        sizes = (output.get("metadata") or {}).get(mime)
        if mime in kept and isinstance(sizes, dict):
            numbers = {k: v for k, v in sizes.items()
                       if k in ("width", "height") and isinstance(v, (int, float)) and not isinstance(v, bool)}
            if numbers:
                metadata[mime] = numbers
    output["data"] = NotebookNode(kept)
    output["metadata"] = NotebookNode(metadata)
    return output


def is_trusted(cell: NotebookNode) -> bool:
    """A locked nbgrader cell whose source is the instructor's (its checksum, set from the gradebook, matches)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not (meta.get("locked") and meta.get("grade_id") and meta.get("checksum")):
        return False
    try:
        return compute_checksum(cell) == meta["checksum"]
    except (KeyError, TypeError, ValueError):
        return False


def reserved_ids(nb: NotebookNode) -> set[str]:
    """The element ids the formgrader's page gives its score and comment boxes, from the notebook's grade ids."""
    ids = set(PAGE_IDS)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if isinstance(gid, str) and gid:
            ids |= {gid, f"{gid}-comment", f"{gid}_extra_credit"}
    return ids


class SanitiseStudentContent(NbGraderPreprocessor):
    """Untrusted Markdown, raw cells and outputs made inert HTML-wise (see the module docstring for why)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self._reserved = reserved_ids(nb)
        nb.metadata.pop("widgets", None)  # nbconvert writes widget state into a <script> in the page
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code":
            cell.outputs = [sanitise_output(o) for o in cell.get("outputs", [])]
        elif not is_trusted(cell):
            if cell.cell_type == "markdown":
                attachments = {name: {k: v for k, v in bundle.items() if k in SAFE_ATTACHMENT_MIME}
                               for name, bundle in (cell.get("attachments") or {}).items()}
                attachments = {name: bundle for name, bundle in attachments.items() if bundle}
                if "attachments" in cell:
                    cell.attachments = NotebookNode(attachments)
                cell.source = sanitise_markdown(cell.source, attachments, self._reserved)
            else:  # raw (or unknown) cells: nbconvert's HTML exporter writes text/html raw cells into the page
                cell.source = cell.source.replace("<", "&lt;")  # idempotent: feedback runs this again
        return cell, resources
