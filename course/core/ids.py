"""Which student ids the kit accepts, and why: one rule for intake and grading.

Why a rule at all: a student id becomes a folder name (``submitted/<id>/<lab>/``) and
an argument to nbgrader, and nbgrader does not treat it as a name: it builds the
pattern ``submitted/{student_id}/{assignment_id}`` and passes it to ``glob``. A folder
named ``*`` therefore makes one grading job regrade the whole class (with that
student's job deciding what is written), ``[ab]`` or ``?`` match other students, a
``/`` or ``..`` leaves ``submitted/``, a leading ``-`` reads as an option to a
command line tool, and whitespace or control characters let a name lie in a report
or clear the instructor's terminal. Ids come from students (folder names) or from an
LMS roster, so they are untrusted text; every stage asks ``check_student_id`` before
a name is used as a path or handed to nbgrader.
"""
from __future__ import annotations

import unicodedata

from course.core.text import printable

GLOB_CHARACTERS = "*?[]{}"  # glob and brace-expansion syntax
PATH_CHARACTERS = "/\\"
MAX_BYTES = 255  # the longest file name most file systems allow


def check_student_id(name: str) -> str:
    """Why ``name`` cannot be a student id, or '' if it can.

    Refused: empty, ``.`` and ``..``, a leading ``.`` (hidden folder) or ``-`` (an
    option), glob characters ``* ? [ ] { }``, path separators ``/`` and ``\\``,
    whitespace, control or invisible format characters (escape sequences, bidi
    overrides), and names longer than a file name may be. Letters of any script,
    digits, ``.``, ``_``, ``-``, ``@`` and ``+`` inside the name are fine.
    """
    if not name:
        return "the student id is empty"
    if name in (".", ".."):
        return f"the student id '{name}' names a folder, not a student"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        return f"the student id '{printable(name)}' contains control or invisible characters"
    bad = sorted({ch for ch in name if ch in GLOB_CHARACTERS})
    if bad:
        return (f"the student id '{printable(name)}' contains {' '.join(bad)} — nbgrader reads ids as glob patterns, "
                "so it would match other students")
    if any(ch in PATH_CHARACTERS for ch in name):
        return f"the student id '{printable(name)}' contains a path separator (/ or \\)"
    if any(ch.isspace() for ch in name):
        return f"the student id '{printable(name)}' contains whitespace"
    if name.startswith("."):
        return f"the student id '{printable(name)}' starts with '.' (a hidden folder)"
    if name.startswith("-"):
        return f"the student id '{printable(name)}' starts with '-' (it would read as a command-line option)"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return f"the student id '{printable(name[:40])}…' is longer than {MAX_BYTES} bytes"
    return ""
