"""Pipeline step: grade ``submitted/<student>/<lab>/`` into ``autograded/`` and the gradebook.

Why a wrapper around nbgrader: nbgrader stops at nothing but also reports
little. Here each submission is checked first (right file name? valid
notebook?), graded on its own so one crash costs only that student that lab,
and the run ends with one line per problem saying what happened.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from course.grading import gradebook, integrity, sandbox
from course.core import nbg, notebooks
from course.core.errors import CourseError
from course.core.ids import check_student_id
from course.core.paths import Course
from course.core.progress import step
from course.core.text import printable


@dataclass
class Result:
    student: str
    lab: str
    ok: bool
    reason: str = ""
    earned: float = 0.0
    possible: float = 0.0
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)  # integrity findings: review this submission by hand
    stopped: bool = False  # grading stopped at a limit: the cells before it are scored, the notebook is written


class Stopped(str):
    """Why grading of one notebook stopped at a limit (``nbgrader_ext.STOPS``), as a reason.

    Why a type of its own: such a submission is not zeroed like a failure; its autograded notebook was
    written, cut where it stopped, and the gradebook holds the cells before the stop (0 for those after).
    """


def students_for(course: Course, lab: str, only: list[str] | None = None) -> list[str]:
    """Every folder under submitted/ that holds ``<lab>/``, named as found (``only``: just these).

    Why names as found, bad ones included: a folder named ``*`` or a linked folder must
    not vanish silently; ``precheck`` refuses it with the reason and the batch reports it,
    and it never reaches nbgrader. A link to a lab folder counts even if it points nowhere.
    An id the instructor names in ``only`` is checked here, as it can be no submission.
    """
    refused = [check_student_id(s) for s in only or [] if check_student_id(s)]
    if refused:
        raise CourseError("; ".join(refused) + " — name students by their folder in submitted/")
    if not course.submitted.is_dir():
        return []
    found = sorted(p.name for p in course.submitted.iterdir() if (p / lab).is_dir() or (p / lab).is_symlink())
    if only:
        missing = sorted(set(only) - set(found))
        if missing:
            raise CourseError(f"no submission of {lab} for {', '.join(missing)} in {course.submitted}")
        found = [s for s in found if s in only]
    return found


def precheck(course: Course, student: str, lab: str) -> str:
    """Why this submission cannot be graded, or '' if it can.

    The id and the files come first: nbgrader globs the id (``*`` would regrade the
    class) and follows links when it copies a submission (a link to ``source/`` would
    hand in the answers), so neither may reach it.
    """
    reason = check_student_id(student) or _not_plain(course, student, lab)
    if reason:
        return reason
    folder = course.submitted / student / lab
    expected = course.submission(student, lab)
    if not expected.exists():
        others = sorted(p.name for p in folder.glob("*.ipynb"))
        if others:
            return (f"expected {expected.name}, found {', '.join(others)} — rename it, "
                    "or hand the files to `python -m course collect`")
        return f"no notebook in {folder}"
    try:
        notebooks.read(expected)
    except CourseError as exc:
        return str(exc)
    return ""


def _not_plain(course: Course, student: str, lab: str) -> str:
    """Why submitted/<student>/<lab>/ is not plain folders and regular files, or ''.

    Why lstat and never follow: a student hands in files; a symbolic link (to
    ``source/``, to another student, to /etc) or a pipe or device is an attack on
    whoever reads it next, so the student folder, the lab folder and everything
    under it are looked at as they are, before anything opens them.
    """
    def name(path) -> str:
        return printable(os.path.relpath(path, course.root))

    top = course.submitted / student
    for path in (top, top / lab):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return ""  # nothing there: the checks after this one say so
        if stat.S_ISLNK(mode):
            return f"{name(path)} is a symbolic link; students hand in files, not links"
        if not stat.S_ISDIR(mode):
            return f"{name(path)} is not a folder"
    pending = [top / lab]
    while pending:
        try:
            with os.scandir(pending.pop()) as found:
                entries = sorted(found, key=lambda e: e.name)
        except OSError as exc:
            return f"{name(exc.filename or top / lab)} cannot be read ({exc.strerror})"
        for entry in entries:
            if entry.is_symlink():
                return f"{name(entry.path)} is a symbolic link; students hand in files, not links"
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif not entry.is_file(follow_symlinks=False):
                return (f"{name(entry.path)} is not a regular file (a pipe, socket or device); "
                        "students hand in files")
    return ""


def _ensure_released(course: Course, lab: str) -> None:
    if not course.release_notebook(lab).exists():
        raise CourseError(f"{lab} has not been released in {course.root} — run `python -m course release {lab}` first")
    gradebook.check(course, [lab])  # missing or damaged: stop here, naming the backup that restores it


def resolve_jobs(jobs: int) -> int:
    """``--jobs``: 0 means every core this process may use; a negative number is refused.

    Why not ``max(1, jobs)``: ``--jobs 0`` silently ran one job, a tenth of the
    speed an instructor asked for on a 10-core machine (issue 16).
    """
    if jobs < 0:
        raise CourseError(f"--jobs {jobs} is not a number of jobs — give 1 or more, or 0 for every core")
    if jobs == 0:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return jobs


def autograde(course: Course, labs: list[str], students: list[str] | None = None,
              report: bool = True, jobs: int = 1, sandboxed: bool = True, cluster: str = "",
              insecure: bool = False, resume: bool = False) -> list[Result]:
    """Grade every submission of ``labs``; ``jobs`` > 1 grades that many at once (0: every core).

    Each submission is graded on its own, so the scores are the same in any
    order and at any number of jobs, and rerunning is idempotent (nbgrader
    replaces the previous grade). A missing or damaged gradebook stops the run
    before anything changes (``gradebook.check``); it is backed up before and
    after the run, and an earlier autograded notebook is only replaced once the
    new one is written (``_keep_aside``). Student
    code runs in the sandbox (``course.grading.sandbox``) unless ``sandboxed`` is False;
    if no sandbox can be made, nothing is graded.

    ``cluster``: grade on a Dask cluster instead (``local:N`` or a scheduler address, see
    ``course.grading.cluster``); it is reached, and its workers checked, before anything changes.
    ``resume``: skip each submission graded already and unchanged since (:func:`up_to_date`).
    """
    jobs = resolve_jobs(jobs)
    target = None
    if cluster:
        from course.grading import cluster as dask_cluster
        target = dask_cluster.parse(cluster, insecure)  # a refused address stops here, before any check
        if target.local:
            target.workers = resolve_jobs(target.workers)
    for lab in labs:
        _ensure_released(course, lab)
    if sandboxed:
        if target is None:
            sandbox.require()  # on a cluster, each worker proves it can sandbox (cluster.connect)
    else:
        print("warning: grading WITHOUT a sandbox (--no-sandbox): student code runs as you, with your files "
              "and network", file=sys.stderr)
    todo = [(s, lab) for lab in labs for s in students_for(course, lab, students)]
    if not todo:
        raise CourseError(f"nothing to grade: no submitted/<student>/<lab>/ folders under {course.root}")
    if resume:
        fingerprints = {lab: lab_fingerprint(course, lab) for lab in labs}
        current = [key for key in todo if up_to_date(course, key[0], key[1], fingerprints[key[1]])]
        todo = [key for key in todo if key not in current]
        if report:
            print(f"--resume: {len(current)} submission(s) graded already and unchanged, {len(todo)} to grade",
                  file=sys.stderr)
        if not todo:
            return []
    if target is not None:
        from course.grading import cluster as dask_cluster
        with dask_cluster.connect(target, sandboxed) as client:  # unreachable: one CourseError, nothing changed
            recover_kept(course)
            backup_gradebook(course)
            try:
                results = dask_cluster.grade(course, todo, client, _grade_one)
            finally:
                gradebook.backup(course)  # also after Ctrl-C: the newest backup holds every grade recorded
            where = dask_cluster.describe_workers(client) if report else ""
        if report:
            print_report(results)
            print(where)
        return results
    recover_kept(course)
    backup_gradebook(course)
    if jobs > 1 and len(todo) > 1:
        with contextlib.nullcontext() if sandboxed else sandbox.session(False):  # workers sandbox themselves
            results = _parallel(course, todo, jobs, sandboxed)
    else:
        with sandbox.session(sandboxed):
            api = nbg.api(course)
            results = [_grade_one(course, api, student, lab) for student, lab in step(todo, "autograde")]
    gradebook.backup(course)  # the newest backup holds this run's grades, should the file be lost later
    if report:
        print_report(results)
        if sandboxed:
            print(f"limits: {sandbox.describe()}")
    return results


def backup_gradebook(course: Course, keep: int = gradebook.KEEP) -> None:
    """Copy gradebook.db aside before a run (see ``gradebook.backup``; ``python -m course restore`` puts one back)."""
    gradebook.backup(course, keep=keep)


KEPT = ".autograde-previous"  # under the course root: earlier autograded folders while they are regraded


def _keep_aside(course: Course, student: str, lab: str) -> Path | None:
    """Move ``autograded/<student>/<lab>/`` aside before nbgrader regrades it; None if there is none.

    Why: nbgrader's ``force=True`` deletes the earlier autograded folder before it
    grades, so a failed or interrupted regrade (or a gradebook lost half-way) left
    the instructor with nothing. A rename on the same file system is instant and
    atomic; :func:`_settle` decides afterwards which copy stays.
    """
    folder = course.autograded / student / lab
    if not os.path.lexists(folder):
        return None
    aside = course.root / KEPT / student / lab
    if os.path.lexists(aside):
        raise CourseError(f"an earlier autograded copy is still kept in {printable(aside)} "
                          "(another autograde run on this course?) — let it finish, then grade again")
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder, aside)
    return aside


def _settle(course: Course, student: str, lab: str, aside: Path | None) -> None:
    """Keep the new autograded notebook if it was written, else put the earlier folder back as it was."""
    if aside is None:
        return
    folder = course.autograded / student / lab
    if (folder / f"{lab}.ipynb").is_file():
        shutil.rmtree(aside)
    else:
        if os.path.lexists(folder):
            shutil.rmtree(folder)  # what the failed run left: no notebook, so nothing to grade from
        os.rename(aside, folder)
    for empty in (aside.parent, aside.parent.parent):
        with contextlib.suppress(OSError):
            empty.rmdir()


def recover_kept(course: Course) -> list[Path]:
    """Settle every folder a killed run left in ``.autograde-previous/``; return the ones put back.

    Why at the start of a run: a ``kill -9`` or a power cut skips every ``finally``.
    The rule is the same as :func:`_settle`'s: a new notebook that was written
    wins, otherwise the earlier folder goes back.
    """
    root = course.root / KEPT
    if not root.is_dir():
        return []
    restored = []
    for aside in sorted(p for p in root.glob("*/*") if p.is_dir() and not p.is_symlink()):
        student, lab = aside.parent.name, aside.name
        had_new = (course.autograded / student / lab / f"{lab}.ipynb").is_file()
        (course.autograded / student).mkdir(parents=True, exist_ok=True)
        _settle(course, student, lab, aside)
        if not had_new:
            restored.append(course.autograded / student / lab)
            print(f"put back autograded/{printable(student, 80)}/{printable(lab, 80)}: the run that regraded it "
                  "stopped before writing a new one", file=sys.stderr)
    with contextlib.suppress(OSError):
        root.rmdir()
    return restored


_WORKER: dict = {}


def _worker_grade(args: tuple[str, str, str, str]) -> Result:
    root, student, lab, sandbox_base = args
    from pathlib import Path
    if "api" not in _WORKER:
        if sandbox_base:
            sandbox.activate(under=sandbox_base)  # for this worker's lifetime; the parent deletes it
        sandbox.one_math_thread_per_kernel()
        _WORKER["course"] = Course(Path(root))
        _WORKER["api"] = nbg.api(_WORKER["course"])
    return _grade_one(_WORKER["course"], _WORKER["api"], student, lab)


def _parallel(course: Course, todo: list[tuple[str, str]], jobs: int, sandboxed: bool) -> list[Result]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import tempfile
    ctx = multiprocessing.get_context("spawn")
    base = tempfile.mkdtemp(prefix="course-sbx-") if sandboxed else ""
    from concurrent.futures.process import BrokenProcessPool
    done: dict[tuple[str, str], Result] = {}
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_worker_grade, (str(course.root), s, lab, base)): (s, lab) for s, lab in todo}
            by_key = {key: future for future, key in futures.items()}
            for key in step((futures[f] for f in as_completed(futures)), f"autograde ×{jobs}", total=len(todo)):
                try:
                    done[key] = by_key[key].result()
                except BrokenProcessPool:
                    pass  # regraded alone below
                except gradebook.GradebookError:
                    pool.shutdown(wait=True, cancel_futures=True)  # the gradebook is gone: grade nothing more
                    raise
                except Exception as exc:  # noqa: BLE001 — e.g. an unpicklable result: this one fails, not the batch
                    done[key] = Result(key[0], key[1], ok=False, reason=_zero(
                        course, key[0], key[1], f"grading failed ({type(exc).__name__}: {str(exc)[:300]})"))
        for student, lab in [key for key in todo if key not in done]:
            # a grading process died (the machine ran out of memory?): grade the unfinished ones alone
            try:
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                    done[(student, lab)] = pool.submit(_worker_grade, (str(course.root), student, lab, base)).result()
            except BrokenProcessPool:
                done[(student, lab)] = Result(student, lab, ok=False, reason=_zero(
                    course, student, lab, "the grading process died (out of memory?) — grade it again alone"))
            except gradebook.GradebookError:
                raise
            except Exception as exc:  # noqa: BLE001
                done[(student, lab)] = Result(student, lab, ok=False, reason=_zero(
                    course, student, lab, f"grading failed ({type(exc).__name__}: {str(exc)[:300]})"))
    finally:
        if base:
            shutil.rmtree(base, ignore_errors=True)
    return [done[key] for key in todo]


def _grade_one(course: Course, api, student: str, lab: str, interrupted=None, quiet: bool = True) -> Result:
    """Grade one submission; whatever goes wrong becomes this submission's failure, never the batch's.

    ``interrupted``: a callable that says the run was stopped (Ctrl-C on a ``--cluster`` coordinator, whose
    threads never see the KeyboardInterrupt): then ``nbgrader_ext.Interrupted`` leaves, and nothing is zeroed.
    ``quiet``: silence file descriptor 2 while nbgrader runs (the kernel's chatter); a ``--cluster``
    coordinator runs no kernel and many threads, and a per-thread swap of fd 2 would lose stderr for good.
    """
    started = time.monotonic()
    try:
        reason, flags = _run_one(course, api, student, lab, interrupted, quiet)
    except gradebook.GradebookError:
        raise  # the gradebook is missing or damaged: the batch stops, nothing more is graded into nowhere
    except Exception as exc:  # noqa: BLE001 — one hostile notebook must not stop the others
        reason, flags = f"grading failed ({type(exc).__name__}: {str(exc)[:300]})", []
    stopped = isinstance(reason, Stopped)
    if reason and not stopped:
        reason = _zero(course, student, lab, reason)
    try:
        score = gradebook.score(course, lab, student)
    except gradebook.GradebookError:
        raise
    except Exception as exc:  # noqa: BLE001
        score, reason = None, reason or f"its grades could not be read back ({type(exc).__name__})"
    return Result(student, lab, ok=not reason, reason=reason,
                  earned=score.auto_earned if score else 0.0,
                  possible=score.auto_possible if score else 0.0,
                  seconds=time.monotonic() - started, flags=flags, stopped=stopped)


def _zero(course: Course, student: str, lab: str, reason: str) -> str:
    """Record 0 for a submission that failed, and forget its --resume record; return the reason, amended if the
    0 could not be written (never a silently missing grade). A missing gradebook stops the batch."""
    if check_student_id(student):  # an id nbgrader would glob never enters the gradebook
        return reason
    try:  # best effort: forgetting the --resume record must not stop the batch
        _forget(course, student, lab)
    except Exception:  # noqa: BLE001
        pass
    try:
        gradebook.zero(course, lab, student)
    except gradebook.GradebookError:
        raise
    except Exception as exc:  # noqa: BLE001 — said in the result
        reason = f"{reason}; its 0 could not be recorded ({type(exc).__name__}: {str(exc)[:200]})"
    return reason


def _run_one(course: Course, api, student: str, lab: str, interrupted=None,
             quiet: bool = True) -> tuple[str, list[str]]:
    """(why it failed or '', integrity flags) for one submission, through nbgrader's API.

    The gradebook is checked first (a file deleted half-way through a batch stops
    the batch instead of being recreated empty by nbgrader), and the earlier
    autograded folder is kept aside until the new notebook is written.
    """
    gradebook.check(course, [lab])
    reason = precheck(course, student, lab)
    if reason:
        return reason, []
    digest = submission_digest(course, student, lab)  # of what is graded now (checked plain by precheck)
    static = integrity.scan(notebooks.read(course.submission(student, lab)),
                            trusted=integrity.trusted_sources(course.release_notebook(lab)))
    folder = course.autograded / student / lab
    aside = _keep_aside(course, student, lab)
    from course.grading import nbgrader_ext  # where the executor says why it stopped (nbgrader loads it too)
    try:
        nbgrader_ext.STOPS.pop((lab, student), None)
        with nbg.quiet_stderr() if quiet else contextlib.nullcontext():
            outcome = api.autograde(lab, student, force=True, create=True)
        if interrupted is not None and interrupted():
            raise nbgrader_ext.Interrupted()  # nbgrader removed its half-written notebook; the earlier folder goes back
        stop = nbgrader_ext.STOPS.pop((lab, student), "")
        if not outcome["success"]:
            reason = nbg.first_error(outcome)
        elif stop and (folder / f"{lab}.ipynb").is_file():
            reason = Stopped(f"{stop} — the cells before it were scored, every later test cell 0; "
                             "its autograded notebook shows where")
        runtime = integrity.write_report(folder, static)["runtime"] if folder.is_dir() else []
    finally:
        _settle(course, student, lab, aside)  # also on Ctrl-C: the earlier notebook is never lost
    flags = [f"changed at run time: {r}" for r in runtime] + [f"suspicious code: {f}" for f in static]
    if not reason or isinstance(reason, Stopped):
        _remember(course, student, lab, digest)
    return reason, flags


# Under the course root (git-ignored, written only by the grader, outside autograded/ so that nothing which lists
# the students' folders there sees it): <lab>/<student>.json, what each grade was made from.
RECORD = ".grading-records"


def lab_fingerprint(course: Course, lab: str) -> str:
    """A digest of what decides a lab's grades: nbgrader_config.py, the source and the release notebook."""
    digest = hashlib.sha256()
    for path in (course.root / "nbgrader_config.py", course.source_notebook(lab), course.release_notebook(lab)):
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"-")
    return digest.hexdigest()


def submission_digest(course: Course, student: str, lab: str) -> str:
    """A digest of every file in submitted/<student>/<lab>/ (names and contents, timestamp.txt included)."""
    digest = hashlib.sha256()
    folder = course.submitted / student / lab
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _record_path(course: Course, student: str, lab: str) -> Path:
    return course.root / RECORD / lab / f"{student}.json"


def _remember(course: Course, student: str, lab: str, digest: str) -> None:
    """Note what this grade was made from, for ``--resume`` (written by the grader, outside student folders)."""
    path = _record_path(course, student, lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"submission": digest, "lab": lab_fingerprint(course, lab)}))
    os.replace(tmp, path)


def _forget(course: Course, student: str, lab: str) -> None:
    with contextlib.suppress(OSError):
        _record_path(course, student, lab).unlink()


def up_to_date(course: Course, student: str, lab: str, fingerprint: str | None = None) -> bool:
    """Whether ``--resume`` may skip this submission.

    It may when all of these hold: its last grading finished (a record was written: a failure, an interrupted
    or a killed run writes none), the files in submitted/<student>/<lab>/ are byte for byte those it graded,
    nbgrader_config.py, the source and the release notebook are unchanged since, its autograded notebook is
    there, and the gradebook holds its score. A changed grader (the kit's code) is not seen: regrade without
    --resume after upgrading the kit.
    """
    if check_student_id(student) or _not_plain(course, student, lab):
        return False
    try:
        record = json.loads(_record_path(course, student, lab).read_text())
    except (OSError, ValueError):
        return False
    if record.get("lab") != (fingerprint or lab_fingerprint(course, lab)):
        return False
    if not (course.autograded / student / lab / f"{lab}.ipynb").is_file():
        return False
    if record.get("submission") != submission_digest(course, student, lab):
        return False
    return gradebook.score(course, lab, student) is not None


def print_report(results: list[Result]) -> None:
    names = {id(r): printable(r.student, 80) for r in results}
    width = max(len(n) for n in names.values())
    print(f"{'student':<{width}}  {'lab':<36} {'auto points':>12}  {'time':>6}")
    for r in results:
        status = "" if r.ok else "  STOPPED" if r.stopped else "  FAILED"
        status += "  FLAGGED" if r.flags else ""
        print(f"{names[id(r)]:<{width}}  {printable(r.lab, 80):<36} {r.earned:>5g} / {r.possible:<5g} "
              f"{r.seconds:>5.1f}s{status}")
    for r in results:
        if r.flags:
            print(f"review by hand: {names[id(r)]}/{printable(r.lab, 80)} — "
                  + "; ".join(printable(f, 200) for f in r.flags[:5])
                  + (f" (+{len(r.flags) - 5} more)" if len(r.flags) > 5 else "")
                  + f" [{integrity.REPORT_NAME} in its autograded folder]")
    failed = [r for r in results if not r.ok]
    for r in failed:
        scored = "" if r.stopped else " (scored 0; the rest of the batch was graded)"
        print(f"error: {names[id(r)]}/{printable(r.lab, 80)}: {printable(r.reason)}{scored}", file=sys.stderr)
