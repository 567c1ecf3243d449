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
