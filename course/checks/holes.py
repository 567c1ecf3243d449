"""The grading-hole report: what does an untouched release notebook earn?

Why: a test that passes with nothing written hands out free points. This builds
the release in a scratch course, autogrades the blank notebook as nbgrader
would, and reports the points per graded cell. Every number must be 0.
"""
from __future__ import annotations

import shutil

from course.core import notebooks
from course.grading import autograde, checker, gradebook
from course.build import release
from course.checks import submissions
from course.core.paths import Course
from course.core.scratch import scratch_course

STUDENT = "blank"


def report(course: Course, labs: list[str]) -> dict:
    scratch = scratch_course(course, labs)
    try:
        release.release(scratch, labs)
        for lab in labs:
            submissions.write(scratch, STUDENT, lab, submissions.make(scratch, lab, "blank"))
        autograde.autograde(scratch, labs, [STUDENT], report=False)
        out = {}
        for lab in labs:
            score = gradebook.scores(scratch, lab)[STUDENT]
            cells = {gid: {"earned": c.earned, "possible": c.possible}
                     for gid, c in score.cells.items() if c.auto}
            out[lab] = {"earned": score.auto_earned, "possible": score.auto_possible, "cells": cells,
                        "kernel_only": checker_gaps(scratch, lab)}
        return out
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)


def checker_gaps(course: Course, lab: str) -> dict[str, str]:
    """Test cells the trusted checker does not judge (their verdict comes from the kernel), with the reason.

    Why in this report: such a cell can be fooled by a student who tampers with the kernel, so an author
    should see each one and either rewrite the test or accept the gap knowingly.
    """
    source = notebooks.read(course.source_notebook(lab))
    tests = {notebooks.grade_id(c): c.source for c in source.cells if notebooks.is_tests(c)}
    return checker.plan(notebooks.read(course.release_notebook(lab)), tests).unchecked


def format_table(rep: dict) -> str:
    lines = []
    for lab, r in rep.items():
        verdict = "OK (no holes)" if r["earned"] == 0 else "HOLES"
        lines.append(f"{lab}: blank release earns {r['earned']:g} / {r['possible']:g} — {verdict}")
        for gid, c in r["cells"].items():
            if c["earned"]:
                lines.append(f"  {gid}: {c['earned']:g} / {c['possible']:g} earned with nothing written")
        gaps = r.get("kernel_only", {})
        lines.append(f"  trusted checker judges {len(r['cells']) - len(gaps)} of {len(r['cells'])} test cells"
                     + ("; judged in the kernel only:" if gaps else ""))
        for gid, why in gaps.items():
            lines.append(f"    {gid}: {why}")
    return "\n".join(lines)
