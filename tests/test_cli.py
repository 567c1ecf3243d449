"""The CLI: fixed command names, one-line errors, CSV and JSON in the promised shapes."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from conftest import LABS, REAL
from course.core.paths import REPO



def course_cli(*args, course_dir=None):
    cmd = [sys.executable, "-m", "course"]
    if course_dir is not None:
        cmd += ["--course-dir", str(course_dir)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=REPO, timeout=900)


def test_commands_exist():
    out = course_cli("--help").stdout
    for name in ("data", "release", "solutions", "autograde", "feedback", "export", "holes", "bench",
                 "collect", "demo", "lab", "slides", "author", "restore", "publish"):
        assert name in out


def test_unknown_lab_is_one_clear_line():
    proc = course_cli("release", "Day9_Nothing")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown lab") and LABS[0] in lines[0]


def test_autograde_with_nothing_submitted_says_what_to_do(tmp_course):
    (tmp_course.root / "source").mkdir()
    proc = course_cli("autograde", course_dir=tmp_course.root)
    assert proc.returncode == 1 and "error:" in proc.stderr and "source" in proc.stderr


def test_export_csv_one_row_per_student(graded):
    g = graded(LABS[0])
    proc = course_cli("export", course_dir=g.course.root)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert list(rows[0].keys()) == ["student", LABS[0], "total", "pending", "review"]
    by = {r["student"]: r for r in rows}
    assert float(by["solved"][LABS[0]]) == g.scores["solved"].earned
    assert float(by["blank"]["total"]) == 0.0
    assert len(rows) == len(g.scores)


def test_export_to_file(graded, tmp_path):
    g = graded(LABS[0])
    target = tmp_path / "grades.csv"
    proc = course_cli("export", "--output", str(target), course_dir=g.course.root)
    assert proc.returncode == 0 and target.read_text().startswith("student,")


def test_holes_json_shape():
    proc = course_cli("holes", LABS[0], "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    lab = report[LABS[0]]
    assert lab["earned"] == 0 and lab["possible"] > 0
    assert lab["cells"] and all(set(c) == {"earned", "possible"} for c in lab["cells"].values())
    assert sum(c["possible"] for c in lab["cells"].values()) == lab["possible"]
    assert set(lab["kernel_only"]) <= set(lab["cells"]) and all(lab["kernel_only"].values())


def test_feedback_is_written(graded):
    g = graded(LABS[0])
    proc = course_cli("feedback", LABS[0], course_dir=g.course.root)
    assert proc.returncode == 0, proc.stderr
    assert (g.course.feedback / "solved" / LABS[0] / f"{LABS[0]}.html").exists()


def test_feedback_never_shows_hidden_tests(graded):
    from course.core import notebooks
    g = graded(LABS[0])
    proc = course_cli("feedback", LABS[0], course_dir=g.course.root)
    assert proc.returncode == 0, proc.stderr
    hidden = notebooks.distinctive_hidden_lines(notebooks.read(REAL.source_notebook(LABS[0])))
    import html as htmllib
    import re
    files = list(g.course.feedback.glob("*/*/*.html"))
    assert len(files) == len(g.scores)
    for f in files:
        text = htmllib.unescape(re.sub(r"<[^>]+>", "", f.read_text()))
        leaked = [ln for ln in hidden if ln in text]
        assert not leaked, f"{f.name} shows hidden tests: {leaked[:2]}"


def test_export_per_cell_and_canvas(graded, tmp_path):
    g = graded(LABS[0])
    cells = list(csv.DictReader(io.StringIO(course_cli("export", "--format", "cells", course_dir=g.course.root).stdout)))
    solved = [r for r in cells if r["student"] == "solved"]
    assert {r["cell"] for r in solved} == set(g.scores["solved"].cells)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,canvas_id\nsolved,4242\nblank,4343\n")
    proc = course_cli("export", "--format", "canvas", "--roster", str(roster), course_dir=g.course.root)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert "half has no canvas_id" in proc.stderr
    assert rows[0].keys() >= {"Student", "ID", "SIS User ID", LABS[0]}
    assert {r["ID"] for r in rows} == {"4242", "4343"}


def test_every_subcommand_help_has_a_description():
    from course import cli
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert "restore" in sub.choices
    for name, p in sub.choices.items():
        assert p.description and len(p.description) > 10, f"`{name} --help` has no description"
        assert " ".join(p.description.split()[:4]) in " ".join(p.format_help().split()), name


def test_jobs_zero_means_every_core_and_a_negative_number_is_refused(tmp_path, capsys):
    from course import cli
    from course.core.errors import CourseError
    from course.core.scratch import scratch_course
    from course.grading import autograde
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert autograde.resolve_jobs(0) == cores and autograde.resolve_jobs(3) == 3
    with pytest.raises(CourseError):
        autograde.resolve_jobs(-1)
    assert cli.build_parser().parse_args(["autograde"]).jobs == 0, "the default is every core"
    course = scratch_course(REAL, [LABS[0]], where=tmp_path)
    assert cli.main(["--course-dir", str(course.root), "autograde", "--jobs", "-2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--jobs -2" in err[0] and "0 for every core" in err[0], err
    assert sorted(p.name for p in course.root.iterdir()) == ["nbgrader_config.py", "source"], "nothing was made"


def test_lab_prints_the_formgrader_address_that_logs_in(tmp_course, monkeypatch, capsys):
    import socket
    from jupyterlab.labapp import LabApp
    from nbgrader.api import Gradebook
    from course.classroom import lab
    started = []
    monkeypatch.setattr(LabApp, "launch_instance", classmethod(lambda cls, argv=None, **kw: started.append(argv)))
    for var in ("PATH", "COURSE_DATA"):
        monkeypatch.setenv(var, os.environ.get(var, str(REPO / "data")))
    monkeypatch.chdir(REPO)  # serve() changes into the course directory
    from course.core import nbg
    nbg._venv_on_path()  # nbgrader's Gradebook runs `alembic`
    with Gradebook(f"sqlite:///{tmp_course.gradebook}") as gb:
        gb.add_assignment(LABS[0])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for preset in ("", "preset-token"):
        if preset:
            monkeypatch.setenv("JUPYTER_TOKEN", preset)
        else:
            monkeypatch.delenv("JUPYTER_TOKEN", raising=False)
        lab.serve(tmp_course, port=port, open_browser=False)
        out = capsys.readouterr().out
        url = next(w for w in out.split() if w.startswith("http://"))
        token = url.partition("?token=")[2]
        assert url == f"http://127.0.0.1:{port}/formgrader?token={token}", out
        assert token == preset if preset else len(token) >= 20, "a token of the server's own, hard to guess"
        assert f"--IdentityProvider.token={token}" in started[-1], "the printed token is the server's"


def test_class_files_in_the_course_root_are_git_ignored():
    from fnmatch import fnmatch
    lines = [ln.strip() for ln in (REPO / ".gitignore").read_text().splitlines()]
    anchored = [ln.strip("/") for ln in lines if ln.startswith("/")]
    for name in ("roster.csv", "bulk.zip", "grades.csv", "grades-cells.csv", ".gradebook-backups",
                 ".autograde-previous", ".feedback-new-x1y2", "gradebook.db", "gradebook.db.restoring"):
        assert any(fnmatch(name, pattern) for pattern in anchored), f"{name} in the course root is not git-ignored"
