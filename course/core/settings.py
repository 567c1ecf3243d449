"""Project settings kept in pyproject.toml's [tool.course] table.

Why there: the repository's GitHub location is one setting, read by the
release step (Colab badges) and anything else that links to a lab.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache

from course.core.paths import REPO


@lru_cache(maxsize=1)
def settings() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text()).get("tool", {}).get("course", {})


def colab_url(lab: str) -> str:
    s = settings()
    return (f"https://colab.research.google.com/github/{s['github_repository']}/blob/"
            f"{s.get('github_branch', 'main')}/release/{lab}/{lab}.ipynb")


def github_url(lab: str) -> str:
    """The lab's release notebook on GitHub (the page the Colab link opens)."""
    s = settings()
    return (f"https://github.com/{s['github_repository']}/blob/"
            f"{s.get('github_branch', 'main')}/release/{lab}/{lab}.ipynb")


def colab_badge(lab: str) -> str:
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(lab)})")
