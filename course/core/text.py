"""Untrusted text made safe to print.

Why: student ids, file names, error messages and grade ids all come from students. Printed raw on the
instructor's terminal, escape sequences in them can erase a report and print a forged one.
"""
from __future__ import annotations


def printable(text: object, limit: int = 300) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), cut to ``limit`` characters."""
    text = str(text)
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return out if len(out) <= limit else out[:limit] + "…"
