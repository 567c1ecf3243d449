"""Progress for long steps: a bar on a terminal, plain lines in a log.

Why: an instructor grading 200 notebooks must see that something is happening
and how long is left, and a CI log must not fill with carriage returns.
"""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def step(items: Iterable[T], what: str, total: int | None = None) -> Iterable[T]:
    """Yield ``items`` while showing progress; ``total`` when items is a lazy iterator."""
    if total is None:
        items = list(items)
        total = len(items)
    if sys.stderr.isatty():
        from tqdm import tqdm
        yield from tqdm(items, desc=what, total=total, unit="nb", leave=False)
        return
    for i, item in enumerate(items, 1):
        print(f"[{what} {i}/{total}] {_label(item)}", file=sys.stderr, flush=True)
        yield item


def _label(item: object) -> str:
    if isinstance(item, tuple):
        return "/".join(map(str, item))
    if hasattr(item, "student") and hasattr(item, "lab"):
        return f"{item.student}/{item.lab}"
    return str(item)
