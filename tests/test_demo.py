"""`make demo`'s job, on one lab: submissions graded, feedback, CSV, score table, all under demo/.

Two runs, both through the CLI: one in a scratch course (the score table and the files the demo names),
and one in a fresh clone of the repository, which must be as clean afterwards as before (issue 16: the
demo used to rewrite the committed solutions/, so `make demo && make test` failed on a fresh clone).
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import LABS, REAL
from course.core.paths import REPO
from course.core.scratch import scratch_course
from test_cli import course_cli

LAB = next((lab for lab in LABS if lab.startswith("Day4")), LABS[0])  # a short lab keeps this quick


def _named(stdout: str, what: str, cwd: Path) -> Path:
    """The path the demo printed on its ``what:`` line (relative to where it ran, or absolute)."""
    match = re.search(rf"^{what}:\s+(\S+)", stdout, re.M)
    assert match, f"the demo must say where its {what} is:\n{stdout[-2000:]}"
    return (cwd / match.group(1)).resolve()


def _check_grades(csv_path: Path, demo_root: Path) -> None:
    rows = {r["student"]: r for r in csv.DictReader(open(csv_path))}
    assert set(rows) == {"demo-solved", "demo-blank", "demo-half"}
    solved, half, blank = (float(rows[s]["total"]) for s in ("demo-solved", "demo-half", "demo-blank"))
    assert solved > half > blank == 0
    for student in rows:
        assert (demo_root / "feedback" / student / LAB / f"{LAB}.html").exists()


def test_demo_end_to_end(tmp_path):
    course = scratch_course(REAL, [LAB], where=tmp_path)
    proc = course_cli("demo", LAB, "--skip-solutions", course_dir=course.root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "demo-solved" in proc.stdout and "demo-blank" in proc.stdout
    demo_root = _named(proc.stdout, "demo course", REPO)
    assert demo_root.parent == course.root / "demo", "the demo builds in demo/ under the course, nowhere else"
    _check_grades(_named(proc.stdout, "grades CSV", REPO), demo_root)
    assert _named(proc.stdout, "gradebook", REPO) == demo_root / "gradebook.db"
    assert not (course.root / "gradebook.db").exists() and not (course.root / "release").exists()


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not (REPO / ".git").exists() or not shutil.which("git"), reason="needs the repository's git")
def test_demo_leaves_a_fresh_clone_clean(tmp_path):
    """``python -m course demo`` in a clone of HEAD, with the package as it is in this working tree.

    Why the package is copied over the clone (and committed there): HEAD holds the demo as last committed,
    and this test must judge the code being tested; once committed, the copy changes nothing.
    """
    clone = tmp_path / "clone"
    _git("clone", "-q", str(REPO), str(clone), cwd=tmp_path)
    shutil.rmtree(clone / "course")
    shutil.copytree(REPO / "course", clone / "course", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _git("add", "-A", "course", cwd=clone)
    if _git("status", "--porcelain", cwd=clone).strip():
        _git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m",
             "the working tree's package", cwd=clone)
    assert _git("status", "--porcelain", cwd=clone) == ""
    env = {**os.environ, "COURSE_DATA": os.environ.get("COURSE_DATA") or str(REPO / "data")}
    env.pop("COURSE_ROOT", None)
    proc = subprocess.run([sys.executable, "-m", "course", "demo", LAB], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _git("status", "--porcelain", cwd=clone) == "", "the demo changed or added tracked files"
    demo_root = _named(proc.stdout, "demo course", clone)
    assert demo_root.parent == clone / "demo"
    _check_grades(_named(proc.stdout, "grades CSV", clone), demo_root)
    assert (demo_root / "gradebook.db").is_file() and not (clone / "gradebook.db").exists()
    committed = clone / "solutions" / LAB / f"{LAB}.ipynb"
    assert (demo_root / "solutions" / LAB / f"{LAB}.ipynb").read_bytes() == committed.read_bytes(), \
        "the committed solutions are copied, not executed again"
