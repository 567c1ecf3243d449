"""`make demo`'s job, on one lab in a scratch course: submissions graded, feedback, CSV, score table."""
from __future__ import annotations

import csv

import pytest

from conftest import LABS, REAL
from course.core.scratch import scratch_course
from test_cli import course_cli



def test_demo_end_to_end(tmp_path):
    course = scratch_course(REAL, [LABS[0]], where=tmp_path)
    proc = course_cli("demo", LABS[0], "--skip-solutions", course_dir=course.root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "demo-solved" in proc.stdout and "demo-blank" in proc.stdout
    rows = {r["student"]: r for r in csv.DictReader(open(course.root / "grades.csv"))}
    assert set(rows) == {"demo-solved", "demo-blank", "demo-half"}
    solved, half, blank = (float(rows[s]["total"]) for s in ("demo-solved", "demo-half", "demo-blank"))
    assert solved > half > blank == 0
    for student in rows:
        assert (course.feedback / student / LABS[0] / f"{LABS[0]}.html").exists()
