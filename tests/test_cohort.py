"""The synthetic class behind ``bench --cohort``: the promised mix, in a scratch course."""
from __future__ import annotations

import collections
import shutil

from conftest import LABS, REAL
from course.checks import cohort


def test_cohort_has_the_promised_mix():
    scratch = cohort.build(REAL, [LABS[0]], students=len(cohort.KINDS))
    try:
        students = sorted(p.name for p in scratch.submitted.iterdir())
        kinds = collections.Counter(s.split("-", 1)[1] for s in students)
        assert len(students) == len(cohort.KINDS)
        assert set(kinds) == {"solved", "half", "blank", "crashing", "looping"}
        assert all((scratch.submitted / s / LABS[0] / f"{LABS[0]}.ipynb").exists() for s in students)
        assert scratch.root != REAL.root and not (REAL.submitted / students[0]).exists()
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)
