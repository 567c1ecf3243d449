"""``python -m course bench --cohort N``: what grading a whole class costs, measured here.

Why: an instructor with 50 students and five labs grades 250 notebooks at
once, among them blank, half-done, crashing and looping ones. The figures that
matter are the wall time of that batch (sandbox on, at 1 job and at N jobs),
what the sandbox adds, and the median notebook. Everything runs in a scratch
course; the real gradebook is never touched.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import time

from course.grading import autograde, sandbox
from course.build import release
from course.checks import submissions
from course.core.environ import overridden
from course.core.paths import Course
from course.core.scratch import scratch_course

# The mix of a synthetic class, in this order per lab; student i gets KINDS[i % len(KINDS)].
KINDS = ("solved", "half", "solved", "blank", "solved", "half", "crashing", "solved", "half", "solved",
         "blank", "solved", "half", "solved", "crashing", "solved", "half", "solved", "blank", "solved",
         "half", "solved", "looping", "solved", "half")


def build(course: Course, labs: list[str], students: int) -> Course:
    """A scratch course holding ``students`` synthetic submissions of every lab."""
    scratch = scratch_course(course, labs)
    release.release(scratch, labs)
    for lab in labs:
        first = submissions.answer_ids(submissions.make(scratch, lab, "blank"))[0]
        for i in range(students):
            kind = KINDS[i % len(KINDS)]
            if kind == "crashing":
                nb = submissions.make(scratch, lab, "solved", {first: "import os\nos._exit(1)\n"})
            elif kind == "looping":
                nb = submissions.make(scratch, lab, "solved", {first: "while True:\n    pass\n"})
            else:
                nb = submissions.make(scratch, lab, kind)
            submissions.write(scratch, f"s{i:03d}-{kind}", lab, nb)
    return scratch


def _grade(scratch: Course, labs: list[str], students: list[str] | None, jobs: int, sandboxed: bool,
           warm: bool = True, cluster: str = "") -> dict:
    # read by each grading process when it sandboxes
    with overridden(**{sandbox.WARM_ENV: "1" if warm else "0"}):
        started = time.monotonic()  # with --cluster: starting and closing the cluster counts too
        results = autograde.autograde(scratch, labs, students, report=False, jobs=jobs, sandboxed=sandboxed,
                                      cluster=cluster)
        wall = time.monotonic() - started
    per = [r.seconds for r in results]
    return {"notebooks": len(results), "jobs": jobs, "sandbox": sandboxed, "cluster": cluster,
            "warm": sandboxed and sandbox.warm_wanted(warm),
            "wall_s": round(wall, 1),
            "median_notebook_s": round(statistics.median(per), 2), "max_notebook_s": round(max(per), 1),
            "failed": sum(not r.ok for r in results), "flagged": sum(bool(r.flags) for r in results)}


def run(course: Course, labs: list[str], students: int = 50, sample: int = 5, full: bool = False,
        cluster: str = "") -> dict:
    """Grade the cohort at N jobs with the sandbox; compare 1 job, cold kernels and no sandbox on ``sample`` students.

    ``full`` runs the comparisons on the whole cohort too (three times as long). ``cluster`` (e.g. ``local:2``)
    grades the whole cohort once more with ``autograde --cluster``, from scratch, for its wall time next to N jobs.
    """
    jobs = os.cpu_count() or 1
    scratch = build(course, labs, students)
    try:
        everyone = sorted(p.name for p in scratch.submitted.iterdir())
        some = everyone if full else [s for s in everyone if int(s[1:4]) < sample]
        print(f"bench cohort: {len(everyone)} students × {len(labs)} labs, sandbox on, {jobs} jobs …",
              file=sys.stderr, flush=True)
        report = {"students": students, "labs": len(labs), "cores": jobs,
                  "target_s": 1200.0 * students * len(labs) / 250,
                  "cohort_sandbox_n_jobs": _grade(scratch, labs, None, jobs, True)}
        if cluster:
            print(f"bench cohort: the whole cohort again on --cluster {cluster} …", file=sys.stderr, flush=True)
            _forget_grades(scratch)
            report["cohort_cluster"] = _grade(scratch, labs, None, jobs, True, cluster=cluster)
            from course.grading import cluster as dask_cluster
            if dask_cluster.LAST.get("notebooks"):  # serial work on the coordinator: what caps the workers it feeds
                report["cohort_cluster"]["coordinator_s_per_notebook"] = round(
                    dask_cluster.LAST["coordinator_s"] / dask_cluster.LAST["notebooks"], 3)
            base = report["cohort_sandbox_n_jobs"]["wall_s"]
            report["cluster_overhead_pct"] = (round(100 * (report["cohort_cluster"]["wall_s"] - base) / base, 1)
                                              if base else None)
        print(f"bench cohort: comparisons on {len(some)} students …", file=sys.stderr, flush=True)
        report["compare_students"] = len(some)
        report["compare_sandbox_n_jobs"] = (report["cohort_sandbox_n_jobs"] if full
                                            else _grade(scratch, labs, some, jobs, True))
        report["compare_sandbox_1_job"] = _grade(scratch, labs, some, 1, True)
        report["compare_sandbox_cold_n_jobs"] = _grade(scratch, labs, some, jobs, True, warm=False)
        report["compare_no_sandbox_n_jobs"] = _grade(scratch, labs, some, jobs, False)
        # the isolation's own cost: a cold sandboxed kernel against a plain one (both import torch per notebook)
        on, off = report["compare_sandbox_cold_n_jobs"]["wall_s"], report["compare_no_sandbox_n_jobs"]["wall_s"]
        warm = report["compare_sandbox_n_jobs"]["wall_s"]
        report["warm_speedup"] = round(on / warm, 2) if warm else None
        report["slowest_solved_cell_s"] = {lab: _slowest_cell(scratch, lab) for lab in labs}
        report["sandbox_overhead_pct"] = round(100 * (on - off) / off, 1) if off else None
        report["speedup_n_jobs"] = round(report["compare_sandbox_1_job"]["wall_s"] / warm, 2) if warm else None
        return report
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)


def _forget_grades(scratch: Course) -> None:
    """Start the cluster run from the state the N-jobs run started from: no autograded folders, no records."""
    shutil.rmtree(scratch.autograded, ignore_errors=True)
    shutil.rmtree(scratch.root / autograde.RECORD, ignore_errors=True)


def _slowest_cell(scratch: Course, lab: str) -> float:
    """The longest cell of any solved submission, from nbclient's timing metadata.

    Why: the per-cell time limit (``Execute.timeout``) is what a looping
    submission costs; this is the figure that says how low it can safely go.
    """
    from datetime import datetime

    import nbformat
    slowest = 0.0
    for path in scratch.autograded.glob(f"*-solved/{lab}/{lab}.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            timing = cell.get("metadata", {}).get("execution", {})
            start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            if start and end:
                seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                           - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
                slowest = max(slowest, seconds)
    return round(slowest, 1)


def format_table(report: dict) -> str:
    def row(name: str, r: dict) -> str:
        kind = ("warm" if r.get("warm") else "cold") if r["sandbox"] else "off "
        return (f"{name:<34} {r['notebooks']:>5} nb  {r['jobs']:>2} jobs  {kind}  "
                f"{r['wall_s']:>8.1f} s  median {r['median_notebook_s']:>6.2f} s  max {r['max_notebook_s']:>6.1f} s  "
                f"failed {r['failed']}, flagged {r['flagged']}")
    c = report["cohort_sandbox_n_jobs"]
    verdict = "within" if c["wall_s"] <= report["target_s"] else "OVER"
    return "\n".join([
        f"cohort: {report['students']} students × {report['labs']} labs on {report['cores']} cores",
        row("whole cohort, sandbox, N jobs", c),
        *([row(f"whole cohort, --cluster {report['cohort_cluster']['cluster']}", report["cohort_cluster"]),
           f"cluster overhead against N jobs: {report['cluster_overhead_pct']} % (target ≤ 10 %); the coordinator's "
           f"serial work: {report['cohort_cluster'].get('coordinator_s_per_notebook')} s per notebook"]
          if "cohort_cluster" in report else []),
        row("sample, sandbox, N jobs", report["compare_sandbox_n_jobs"]),
        row("sample, sandbox, 1 job", report["compare_sandbox_1_job"]),
        row("sample, cold sandbox, N jobs", report["compare_sandbox_cold_n_jobs"]),
        row("sample, no sandbox, N jobs", report["compare_no_sandbox_n_jobs"]),
        f"sandbox overhead (cold sandbox vs none) {report['sandbox_overhead_pct']} %, warm kernels "
        f"×{report['warm_speedup']} faster than cold, speed-up at N jobs ×{report['speedup_n_jobs']}; "
        f"target {report['target_s']:.0f} s for this cohort (20 min per 250 notebooks): {verdict}",
        "slowest cell of a solved notebook: " + ", ".join(
            f"{lab.split('_')[0]} {s:.1f} s" for lab, s in report["slowest_solved_cell_s"].items()),
    ])
