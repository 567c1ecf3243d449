"""``python -m course bench``: what each lab costs and what it achieves, measured here.

Why a benchmark and not timed unit tests: run times depend on the machine and
its load, so budgets are reported next to measured figures for a person to
read, never asserted in a flaky test.
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
import time

from course.grading import autograde
from course.core import execute
from course.build import release, solutions
from course.checks import submissions
from course.core.errors import CourseError
from course.core.paths import Course
from course.core.scratch import scratch_course

# Budgets on a 2-core machine, from the issues. A lab not listed gets the default.
BUDGETS = {
    "Day1_LinearAlgebra_ParametricModels": (60, 30),
    "Day2_Calculus_Optimization": (90, 30),
    "Day3_Probability_GenerativeModels": (300, 60),
    "Day4_Modeling_InductiveBias": (120, 30),
    "Day5_Evaluation_Generalization": (120, 30),
}
DEFAULT_BUDGET = (120, 30)


def bench_lab(course: Course, lab: str) -> dict:
    nb = solutions.expected(course, lab)
    _, full_s, quality = execute.run(nb, label=f"the {lab} solution")
    scratch = scratch_course(course, [lab])
    try:
        release.release(scratch, [lab])
        submissions.write(scratch, "bench", lab, submissions.make(scratch, lab, "solved"))
        started = time.monotonic()
        result = autograde.autograde(scratch, [lab], ["bench"], report=False)[0]
        grade_s = time.monotonic() - started
        # the same solved notebook through the Gradescope autograder: one `otter run`, as Gradescope grades it
        from course.classroom import gradescope
        built = gradescope.build_lab(scratch, lab)
        otter = gradescope.otter_run(built.zip, [scratch.submission("bench", lab)], jobs=1)[0]
        if otter.error:
            raise CourseError(f"bench: otter run of the {lab} solution failed: {otter.error}")
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)
    full_budget, grade_budget = BUDGETS.get(lab, DEFAULT_BUDGET)
    return {"full_run_s": round(full_s, 2), "autograde_s": round(grade_s, 2),
            "otter_run_s": round(otter.seconds, 2), "otter_points": (sum(otter.scores.values()), built.points),
            "budget_full_run_s": float(full_budget), "budget_autograde_s": float(grade_budget),
            "quality": {k: round(v, 4) for k, v in quality.items()},
            "_autograde_points": (result.earned, result.possible)}


def run(course: Course, labs: list[str]) -> dict:
    report: dict = {}
    points = {}
    for lab in labs:
        print(f"bench: {lab} …", flush=True, file=sys.stderr)
        report[lab] = bench_lab(course, lab)
        earned, possible = report[lab].pop("_autograde_points")
        points[lab] = {"earned": earned, "possible": possible}
    report["autograde_points"] = points  # the solved notebook's score: proof the timed run was a real one
    report["machine"] = {"cores": os.cpu_count(), "platform": platform.platform(),
                         "python": platform.python_version(), "torch": _torch_version(),
                         "load_avg_1min": round(os.getloadavg()[0], 2)}
    return report


def _torch_version() -> str:
    import torch
    return f"{torch.__version__} ({'cuda' if torch.cuda.is_available() else 'cpu'})"


def format_table(report: dict) -> str:
    lines = [f"{'lab':<38} {'full run':>16} {'autograde':>16} {'otter run':>10}  quality"]
    for lab, r in report.items():
        if lab in ("machine", "autograde_points"):
            continue
        full = f"{r['full_run_s']:.1f}/{r['budget_full_run_s']:.0f} s"
        grade = f"{r['autograde_s']:.1f}/{r['budget_autograde_s']:.0f} s"
        flag = "" if r["full_run_s"] <= r["budget_full_run_s"] and r["autograde_s"] <= r["budget_autograde_s"] else "  OVER BUDGET"
        quality = ", ".join(f"{k}={v:g}" for k, v in r["quality"].items())
        otter = f"{r['otter_run_s']:.1f} s" if "otter_run_s" in r else "-"
        lines.append(f"{lab:<38} {full:>16} {grade:>16} {otter:>10}  {quality}{flag}")
    m = report.get("machine", {})
    lines.append(f"measured on {m.get('cores')} cores, {m.get('platform')}, torch {m.get('torch')}, "
                 f"load {m.get('load_avg_1min')} (measured/budget; otter run: the Gradescope autograder on the "
                 f"solved notebook, one `otter run` with a cold kernel; Gradescope's default limit is 600 s)")
    return "\n".join(lines)
