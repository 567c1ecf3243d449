"""``python -m course <command>``: a thin layer over the pipeline modules.

Why thin: each step (data → release → solutions → autograde → feedback → export)
lives in its own module and is tested there; the CLI only parses flags, shows
progress and turns a CourseError into one line that says what to do.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course.core.errors import CourseError
from course.core.paths import REPO, default_course


def _labs_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("labs", nargs="*", metavar="LAB", help="lab names or short forms (Day1, 1); default: all")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__.splitlines()[0])
    parser.add_argument("--course-dir", type=Path, help="nbgrader course directory (default: the repo)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="fetch MNIST and Fashion-MNIST into the cache and verify them")
    p.add_argument("--root", type=Path, help="cache folder (default: $COURSE_DATA or data/)")
    p.add_argument("--offline", action="store_true", help="skip torchvision's internet download")

    p = sub.add_parser("release", help="build student notebooks in release/ from source/")
    _labs_arg(p)
    p = sub.add_parser("solutions", help="execute the solutions into solutions/ (notebook + HTML)")
    _labs_arg(p)
    p = sub.add_parser("collect", help="map an LMS zip or a folder of Colab downloads to submitted/")
    p.add_argument("source", type=Path, help="a Canvas/Moodle bulk-download zip, or a folder")
    p.add_argument("--roster", type=Path, required=True,
                   help="CSV (, or ; separated) with a student id column (student_id, Student ID, SIS User ID, ID, …) "
                        "and optionally canvas_id, moodle_id, email")
    p = sub.add_parser("autograde", help="grade submitted/<student>/<lab>/")
    _labs_arg(p)
    p.add_argument("--student", action="append", help="grade only these students (repeatable)")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="submissions graded at once (default 0: every core)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run student code unsandboxed, as you (only where bubblewrap is unavailable, e.g. macOS)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="grade on a Dask cluster: local:N (N worker processes here) or a scheduler's "
                        "tls://HOST:PORT, tcp://127.0.0.1:PORT (docs/instructor.md, \"Grading on a cluster\")")
    p.add_argument("--insecure", action="store_true",
                   help="allow a plain tcp:// scheduler on another machine (unauthenticated; a trusted network only)")
    p.add_argument("--resume", action="store_true",
                   help="skip submissions graded already and unchanged since (submission, config, source, release)")
    p = sub.add_parser("feedback", help="write HTML feedback for autograded submissions")
    _labs_arg(p)
    p = sub.add_parser("export", help="grades as CSV: one row per student, one column per lab, and a total")
    p.add_argument("--output", type=Path, help="file to write (default: standard output)")
    p.add_argument("--format", choices=["totals", "cells", "canvas"], default="totals",
                   help="totals per lab (default), a per-cell breakdown, or Canvas's gradebook import")
    p.add_argument("--roster", type=Path,
                   help="roster CSV: every student gets a row, blank where ungraded (--format canvas: needs canvas_id)")
    p = sub.add_parser("holes", help="grade the blank release notebook: every graded cell must earn 0")
    _labs_arg(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p = sub.add_parser("bench", help="measure run time, autograde time and quality figures per lab")
    _labs_arg(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--cohort", type=int, default=0, metavar="STUDENTS",
                   help="also grade a synthetic class of STUDENTS × labs (issue target: 50 × 5 in ≤ 20 min)")
    p.add_argument("--cohort-sample", type=int, default=5, metavar="K",
                   help="students in the 1-job and no-sandbox comparison runs (default 5)")
    p.add_argument("--cohort-full", action="store_true", help="run the comparisons on the whole cohort")
    p.add_argument("--cohort-only", action="store_true", help="skip the per-lab figures")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="also grade the whole cohort with autograde --cluster ADDRESS (e.g. local:2), next to --jobs")
    p = sub.add_parser("demo", help="the main job: data, then release, demo submissions, grading, feedback, export "
                       "and a score table, all in a new scratch course under demo/ (tracked files are not touched)")
    _labs_arg(p)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--rebuild-solutions", action="store_true",
                     help="execute the solutions again in the demo course (default: copy the committed solutions/)")
    how.add_argument("--skip-solutions", action="store_true", help="leave the solutions out of the demo course")
    p = sub.add_parser("lab", help="JupyterLab with nbgrader's formgrader on 127.0.0.1, for grading by hand")
    p.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default: 8888)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; print the URL only")
    p = sub.add_parser("restore", help="list the gradebook's backups, or put one back in place of gradebook.db",
                       description="With no argument: list the backups in .gradebook-backups/, newest first (time, "
                       "size, labs and grades). With --latest or a backup's number or name: restore it, after "
                       "keeping the current gradebook as a new backup.")
    p.add_argument("backup", nargs="?", help="a backup's number in the list (1 = newest) or its file name")
    p.add_argument("--latest", action="store_true", help="restore the newest usable backup")
    p = sub.add_parser("slides", help="build the offline slide decks slides/<Lab>.html from slides/src/")
    _labs_arg(p)
    p.add_argument("--pdf", action="store_true", help="also print each deck to slides/pdf/<Lab>.pdf (Chromium)")
    p = sub.add_parser("publish", help="write the public student repository into DIR (a git repository; "
                       "one commit per publish)",
                       description="Write the labs' student notebooks, a student README (lab table, Colab badges, "
                       "the student guide) and each released lab's executed solutions into DIR, and commit. "
                       "Never source/, hidden tests, grades or instructor docs. Push DIR to the public "
                       "[tool.course] student_repository; this repository stays private.")
    _labs_arg(p)
    p.add_argument("--to", type=Path, required=True, metavar="DIR",
                   help="the student repository: a new or empty folder, or one an earlier publish made")
    p.add_argument("--solutions", nargs="+", action="extend", default=[], metavar="LAB",
                   help="release these labs' solutions now (also: dates in [tool.course.solutions_release]); "
                   "released solutions stay in later publishes")
    p = sub.add_parser("gradescope", help="build gradescope/<Lab>/: the otter master notebook and the autograder "
                       "zip to upload to Gradescope (it grades the unchanged release notebook)")
    _labs_arg(p)
    p = sub.add_parser("author", help="edit a lab as a text script: export it, edit, import it back")
    p.add_argument("action", choices=["export", "import"])
    _labs_arg(p)
    for action in sub._choices_actions:  # every --help page opens with what the command does
        sub.choices[action.dest].description = sub.choices[action.dest].description or action.help
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    course = default_course() if args.course_dir is None else _course(args.course_dir)
    try:
        return _dispatch(args, course) or 0
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted — nothing was half-written; run the command again", file=sys.stderr)
        return 130


def _course(path: Path):
    from course.core.paths import Course
    return Course(path.resolve())


def _dispatch(args: argparse.Namespace, course) -> int | None:
    cmd = args.command
    if cmd == "data":
        from course.core import data
        data.fetch_all(args.root, allow_internet=not args.offline)
    elif cmd == "release":
        from course.build import release
        from course.grading import gradebook
        labs = course.resolve_labs(args.labs)
        gradebook.check_before_release(course)  # release writes the gradebook; build/ cannot import the guard
        release.release(course, labs)
    elif cmd == "solutions":
        from course.build import solutions
        solutions.build(course, course.resolve_labs(args.labs))
    elif cmd == "collect":
        from course.classroom import collect
        report = collect.collect(course, args.source, collect.Roster.read(args.roster))
        for line in report.lines():
            print(line)
        return 0 if report.ok else 4
    elif cmd == "autograde":
        from course.grading import autograde
        results = autograde.autograde(course, course.resolve_labs(args.labs), args.student, jobs=args.jobs,
                                      sandboxed=not args.no_sandbox, cluster=args.cluster or "",
                                      insecure=args.insecure, resume=args.resume)
        return 0 if all(r.ok for r in results) else 2
    elif cmd == "feedback":
        from course.classroom import feedback
        return 2 if feedback.generate(course, course.resolve_labs(args.labs)) else 0
    elif cmd == "export":
        from course.classroom import export
        from course.classroom.collect import Roster
        roster = Roster.read(args.roster) if args.roster else None
        everyone = roster.students if roster else []
        if args.format == "cells":
            text = export.cells_csv(course, everyone)
        elif args.format == "canvas":
            if not roster:
                raise CourseError("--format canvas needs --roster roster.csv (with a canvas_id column)")
            text = export.canvas_csv(course, roster.canvas, everyone)
        else:
            text = export.to_csv(course, everyone)
        if args.output:
            args.output.write_text(text)
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    elif cmd == "holes":
        from course.checks import holes
        report = holes.report(course, course.resolve_labs(args.labs))
        print(json.dumps(report, indent=2) if args.json else holes.format_table(report))
        return 0 if all(v["earned"] == 0 for v in report.values()) else 3
    elif cmd == "bench":
        from course.checks import bench
        labs = course.resolve_labs(args.labs)
        report = {} if args.cohort_only else bench.run(course, labs)
        if args.cohort or args.cohort_only:
            from course.checks import cohort
            report["cohort"] = cohort.run(course, labs, students=args.cohort or 50, sample=args.cohort_sample,
                                          full=args.cohort_full, cluster=args.cluster or "")
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            if not args.cohort_only:
                print(bench.format_table({k: v for k, v in report.items() if k != "cohort"}))
            if "cohort" in report:
                print(cohort.format_table(report["cohort"]))
    elif cmd == "demo":
        from course.checks import demo
        demo.run(course, course.resolve_labs(args.labs) if args.labs else None,
                 skip_solutions=args.skip_solutions, rebuild_solutions=args.rebuild_solutions)
    elif cmd == "lab":
        from course.classroom import lab
        lab.serve(course, port=args.port, open_browser=not args.no_browser)
    elif cmd == "restore":
        from course.grading import restore
        if args.latest or args.backup:
            lines = restore.restore(course, restore.choose(course, args.backup, args.latest))
        else:
            lines = restore.table(course)
        print("\n".join(lines))
    elif cmd == "slides":
        from course.build import slides
        slides.build(course, course.resolve_labs(args.labs), pdf=args.pdf)
    elif cmd == "publish":
        from course.classroom import publish
        print("\n".join(publish.publish(course, args.labs, args.to, args.solutions).lines()))
    elif cmd == "gradescope":
        from course.classroom import gradescope
        print(gradescope.report(gradescope.build(course, course.resolve_labs(args.labs))))
    elif cmd == "author":
        from course.build import authoring
        labs = course.resolve_labs(args.labs)  # short forms (Day1, 1) for import too; none named: every lab
        if args.action == "import" and not args.labs:
            labs = [lab for lab in labs if (REPO / "build" / "author" / f"{lab}.py").is_file()]
            if not labs:
                raise CourseError("nothing to import: no build/author/<Lab>.py — run `python -m course author export` first")
        for lab in labs:
            script = REPO / "build" / "author" / f"{lab}.py"
            target = course.source_notebook(lab)
            if args.action == "export":
                authoring.export_lab(target, script)
                print(f"wrote {script}")
            else:
                if not script.is_file():
                    raise CourseError(f"{script} not found — run `python -m course author export {lab}` first")
                authoring.import_lab(script, target)
                from course.build import inject
                inject.inject_lab(course, lab)
                print(f"wrote {target}")
    return None
