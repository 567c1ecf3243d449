"""Set environment variables for the length of a block, then put back exactly what was there.

Why one helper: running a notebook, sandboxing a grading session and the
benchmark's warm/cold comparison all change variables that child processes
read, inside long-lived processes (the tests, the formgrader) that must be left
as they were.
"""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def overridden(**values: str | None):
    """``name=value`` sets a variable, ``name=None`` removes it; every named one is restored afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _apply(values)
        yield
    finally:
        _apply(saved)


def _apply(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
