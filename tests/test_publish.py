"""The public student repository (issue 16 §1): ``python -m course publish`` never shows a hidden test,
an unreleased solution or a ``source/`` path, and keeps its own git history.

Why a scanner of its own here: ``publish`` has a leak guard, but a test that reused it would only prove the
code agrees with itself. This scanner reads ``source/`` directly and reads every file of the published folder
as a student would meet it (notebook sources, outputs and metadata; HTML pages without their tags; Markdown),
and a test plants lines to prove it can fail.
"""
from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from conftest import LABS, REAL
from course.build import release, slides
from course.classroom import publish as pub
from course.core import notebooks, settings
from course.core.errors import CourseError

PAST = datetime(2000, 1, 1, tzinfo=timezone.utc)    # no date in the settings has come yet
FIRST, OTHERS = LABS[0], LABS[1:]
WHEN = "2026-12-01T09:00:00+00:00"
TRIVIAL = 12                                        # shorter stripped lines: `pass`, `return x`, `else:`


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """All five labs, the solutions of the first one only, published on a machine without any git setup."""
    to = tmp_path_factory.mktemp("student") / "repo"
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                     "SOURCE_DATE_EPOCH", "GIT_CONFIG_GLOBAL"):
            mp.delenv(name, raising=False)
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_CONFIG_HOME", str(home))
        mp.setenv("GIT_AUTHOR_DATE", WHEN)
        mp.setenv("GIT_COMMITTER_DATE", WHEN)
        done = pub.publish(REAL, None, to, [FIRST], now=PAST)
    assert done.commit and done.created and done.labs == LABS and done.solutions == [FIRST]
    return to


# ---------------------------------------------------------------------------------------- the scanner

def _blocks(source: str, begin: str, end: str) -> list[str]:
    out, inside = [], False
    for line in source.split("\n"):
        mark = line.strip()
        if mark == begin:
            inside = True
        elif mark == end:
            inside = False
        elif inside:
            out.append(mark)
    return out


def _visible(source: str) -> str:
    """A source cell as the release shows it: hidden-test and solution blocks cut out."""
    for begin, end in ((notebooks.BEGIN_HIDDEN, notebooks.END_HIDDEN),
                       (notebooks.BEGIN_SOLUTION, notebooks.END_SOLUTION)):
        source = re.sub(rf"^[ \t]*{re.escape(begin)}.*?^[ \t]*{re.escape(end)}[^\n]*$", "", source, flags=re.S | re.M)
    return source


def forbidden(released: set[str]) -> dict[str, str]:
    """Every non-trivial hidden-test line of every lab, and every solution line (BEGIN/END SOLUTION blocks and
    written tasks' model answers) of an unreleased lab → a label; minus what a student sees anyway: the text of
    some lab's release notebook, and the solutions that are released."""
    shown: list[str] = []
    hidden: dict[str, str] = {}
    answers: dict[str, str] = {}
    for lab in LABS:
        shown.append("\n".join(c.source for c in notebooks.read(REAL.release_notebook(lab)).cells))
        for cell in notebooks.read(REAL.source_notebook(lab)).cells:
            for line in _blocks(cell.source, notebooks.BEGIN_HIDDEN, notebooks.END_HIDDEN):
                hidden[line] = f"hidden test of {lab}"
            solution = _blocks(cell.source, notebooks.BEGIN_SOLUTION, notebooks.END_SOLUTION)
            if cell.cell_type == "markdown" and notebooks.meta(cell).get("solution"):
                solution += [line.strip() for line in cell.source.split("\n")]
            if lab in released:
                shown.append("\n".join(solution))
            else:
                answers.update((line, f"solution of {lab}") for line in solution)
    seen = "\n".join(shown)
    return {line: what for line, what in {**answers, **hidden}.items()
            if len(line) >= TRIVIAL and line not in ("pass", "...") and line not in seen}


def _html(text: str) -> str:
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", text)
    return htmllib.unescape(re.sub(r"<[^>]*>", "", text))


def student_text(path: Path) -> str:
    """What a reader of this file meets: notebook sources, outputs and metadata; HTML without tags; the rest as is."""
    raw = path.read_bytes().decode("utf-8", "replace")
    if path.suffix == ".ipynb":
        nb = nbformat.reads(raw, as_version=4)
        parts = [json.dumps(nb.metadata)]
        for cell in nb.cells:
            parts += [cell.source, json.dumps(cell.get("metadata", {}))]
            for out in cell.get("outputs", []):
                parts += [out.get("text", ""), "\n".join(out.get("traceback", [])), out.get("evalue", "")]
                for mime, value in out.get("data", {}).items():
                    if not mime.startswith("image/"):
                        value = value if isinstance(value, str) else json.dumps(value)
                        parts += [value, _html(value) if "html" in mime else ""]
        return "\n".join(parts)
    if path.suffix in (".html", ".htm"):
        return _html(raw)
    return raw


def scan(folder: Path, secret: dict[str, str]) -> list[str]:
    """Every secret line and every ``source/`` path in any file under ``folder`` (its .git left out)."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts):
        text = student_text(path)
        rel = path.relative_to(folder)
        found += [f"{rel}: {what}: {line!r}" for line, what in secret.items() if line in text]
        found += [f"{rel}: a source/ path: {m.group(0)!r}" for m in re.finditer(r"(?<![\w.-])source/\S*", text)]
    return found


def test_the_scanner_looks_for_every_hidden_block():
    secret = forbidden({FIRST})
    blocks = [(lab, block) for lab in LABS for cell in notebooks.read(REAL.source_notebook(lab)).cells
              for block in re.findall(rf"{re.escape(notebooks.BEGIN_HIDDEN)}(.*?){re.escape(notebooks.END_HIDDEN)}",
                                      cell.source, re.S)]
    assert len(blocks) >= 50, f"only {len(blocks)} hidden-test blocks found in source/: the block parser is broken"
    unseen = [f"{lab}: {block.strip()[:80]!r}" for lab, block in blocks
              if not any(line.strip() in secret for line in block.split("\n"))]
    # a block may be all short lines or lines the release shows anyway, but the scanner must know nearly all
    assert len(unseen) <= len(blocks) // 10, f"hidden-test blocks the scanner has no line of: {unseen}"
    unreleased = [lab for lab in OTHERS if any(what == f"solution of {lab}" for what in secret.values())]
    assert unreleased == OTHERS, "the scanner must look for the solutions of every unreleased lab"


# ---------------------------------------------------------------------------------------- what is published

def test_the_student_repository_holds_only_student_files(published):
    files = sorted(p.relative_to(published).as_posix() for p in published.rglob("*")
                   if p.is_file() and ".git" not in p.relative_to(published).parts)
    allowed = {"README.md", pub.MANIFEST}
    allowed |= {f"release/{lab}/{lab}.ipynb" for lab in LABS}
    allowed |= {f"solutions/{FIRST}/{FIRST}.ipynb", f"solutions/{FIRST}/{FIRST}.html"}
    assert set(files) == allowed, f"unexpected: {sorted(set(files) - allowed)}; missing: {sorted(allowed - set(files))}"
    for other in OTHERS:
        assert not (published / "solutions" / other).exists(), f"the unreleased solutions of {other} were published"


def test_no_hidden_test_no_unreleased_solution_no_source_path(published):
    secret = forbidden({FIRST})
    assert len(secret) > 500, len(secret)
    found = scan(published, secret)
    assert not found, f"{len(found)} leak(s) in the student repository: {found[:5]}"


def test_the_scanner_catches_planted_lines(published, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(published, copy, ignore=shutil.ignore_patterns(".git"))
    secret = forbidden({FIRST})
    hidden_line = next(line for line, what in secret.items() if what == f"hidden test of {LABS[2]}")
    answer_line = next(line for line, what in secret.items() if what == f"solution of {LABS[1]}")

    nb_path = copy / "release" / LABS[3] / f"{LABS[3]}.ipynb"           # a hidden line in a notebook's text
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[-1].source += "\n    " + hidden_line
    nbformat.write(nb, nb_path)
    html_path = copy / "solutions" / FIRST / f"{FIRST}.html"             # a solution line inside highlighted HTML
    spans = "".join(f'<span class="n">{htmllib.escape(word)}</span> ' for word in answer_line.split(" "))
    html_path.write_text(html_path.read_text() + f"<pre>{spans.rstrip()}</pre>")
    readme = copy / "README.md"                                           # a path into the private folder
    readme.write_text(readme.read_text() + f"\nSee source/{FIRST}/{FIRST}.ipynb\n")

    found = scan(copy, secret)
    assert any(f.startswith(f"release/{LABS[3]}/") and repr(hidden_line) in f for f in found), found
    assert any(f.startswith(f"solutions/{FIRST}/") and repr(answer_line) in f for f in found), found
    assert any(f.startswith("README.md: a source/ path") for f in found), found
    assert len(found) == 3, found


def test_badges_and_links_open_the_student_repository(published, tmp_path):
    student = settings.student_repository()
    private = re.compile(rf"{re.escape(settings.settings()['github_repository'])}(?![\w.-])")
    assert student != settings.settings()["github_repository"]
    readme = (published / "README.md").read_text()
    for lab in LABS:
        url = settings.colab_url(lab)
        assert url.startswith(f"https://colab.research.google.com/github/{student}/blob/main/release/"), url
        first = nbformat.read(published / "release" / lab / f"{lab}.ipynb", as_version=4).cells[0].source
        assert url in first, f"{lab}: the published notebook's badge does not open {url}: {first!r}"
        assert (published / url.split("/blob/main/", 1)[1]).is_file(), url
        assert url in readme, f"the student README has no Colab badge for {lab}"
        assert f"](release/{lab}/{lab}.ipynb)" in readme
    assert f"](solutions/{FIRST}/{FIRST}.html)" in readme and "## Student guide" in readme
    assert "../README.md" not in readme and "](docs/" not in readme, "the student guide's links were not fixed"
    leaked = [p.name for p in published.rglob("*") if p.is_file() and ".git" not in p.parts
              and private.search(p.read_text(errors="replace"))]
    assert not leaked, f"these files link the private repository: {leaked}"
    # what builds the badges in release/ and in the decks points there too (they are regenerated by the lead)
    copy = tmp_path / f"{FIRST}.ipynb"
    shutil.copy(REAL.release_notebook(FIRST), copy)
    release.normalise(copy, FIRST)
    assert settings.colab_url(FIRST) in nbformat.read(copy, as_version=4).cells[0].source
    links = slides._lab_links(REAL, FIRST)
    assert all(settings.colab_url(lab) in links and settings.github_url(lab) in links for lab in LABS)
    assert not private.search(links)


def test_git_history_made_without_git_configuration(published):
    log = git(published, "log", "--format=%an|%ae|%aI|%cn|%cI|%s").splitlines()
    assert len(log) == 1, log
    name, email, authored, committer, committed, subject = log[0].split("|")
    assert (name, email, committer) == ("Course kit", "course-kit@publish.invalid", "Course kit")
    assert authored == committed == WHEN
    assert subject.startswith(f"Publish {FIRST}") and f"release the solutions of {FIRST}" in subject
    assert git(published, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert not git(published, "status", "--porcelain", "--untracked-files=all")


def test_a_second_publish_adds_a_commit_and_released_solutions_stay(published, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(published, repo, symlinks=True)
    done = pub.publish(REAL, [LABS[1]], repo, [LABS[1]], now=PAST)
    assert done.commit and not done.created and done.written == [LABS[1]]
    assert len(git(repo, "log", "--format=%H").split()) == 2
    assert (repo / "solutions" / FIRST / f"{FIRST}.html").is_file(), "released solutions must stay released"
    assert (repo / "solutions" / LABS[1] / f"{LABS[1]}.ipynb").is_file()
    assert not (repo / "solutions" / LABS[2]).exists()
    assert json.loads((repo / pub.MANIFEST).read_text())["solutions"] == [FIRST, LABS[1]]
    assert not scan(repo, forbidden({FIRST, LABS[1]}))
    again = pub.publish(REAL, [LABS[1]], repo, [], now=PAST)
    assert again.commit is None and len(git(repo, "log", "--format=%H").split()) == 2, "nothing changed: no commit"


# ---------------------------------------------------------------------------------------- the schedule

def _small_course(where: Path, labs: list[str], settings_toml: str):
    from course.core.paths import Course
    for folder in ("source", "release", "solutions"):
        for lab in labs:
            shutil.copytree(REAL.root / folder / lab, where / folder / lab)
    (where / "pyproject.toml").write_text(settings_toml)
    return Course(where)


def test_solutions_go_out_on_their_date(tmp_path):
    first, second = LABS[:2]
    course = _small_course(tmp_path / "course", [first, second], f"""
[tool.course]
timezone = "UTC"
[tool.course.solutions_release]
{first.split('_')[0]} = "2026-12-08T00:00:00+00:00"
{second} = "2026-12-09T00:00:00"
""")
    repo = tmp_path / "repo"
    before = pub.publish(course, None, repo, [], now=datetime(2026, 12, 7, 23, 59, tzinfo=timezone.utc))
    assert before.solutions == [] and not (repo / "solutions").exists()
    assert set(before.waiting) == {first, second}
    assert "after 2026-12-08 00:00 UTC" in (repo / "README.md").read_text()
    after = pub.publish(course, None, repo, [], now=datetime(2026, 12, 8, 0, 0, 1, tzinfo=timezone.utc))
    assert after.solutions == [first] and after.commit
    assert (repo / "solutions" / first / f"{first}.html").is_file() and not (repo / "solutions" / second).exists()
    (course.root / "pyproject.toml").write_text('[tool.course.solutions_release]\nDay1 = "next week"\n')
    with pytest.raises(CourseError, match=r"solutions_release\] Day1: 'next week' is not a date"):
        pub.publish(course, None, repo, [], now=PAST)


# ---------------------------------------------------------------------------------------- refusals

def test_refuses_a_folder_it_did_not_make_and_uncommitted_work(published, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(CourseError, match="not a student repository made by"):
        pub.publish(REAL, [FIRST], foreign, [], now=PAST)
    assert sorted(p.name for p in foreign.iterdir()) == ["mine.txt"]

    other = tmp_path / "other-repo"                  # a git repository, but not one publish made
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    (other / "README.md").write_text("someone else's\n")
    with pytest.raises(CourseError, match="not a student repository made by"):
        pub.publish(REAL, [FIRST], other, [], now=PAST)
    assert (other / "README.md").read_text() == "someone else's\n"

    repo = tmp_path / "repo"
    shutil.copytree(published, repo, symlinks=True)
    (repo / "README.md").write_text("edited by hand, not committed\n")
    with pytest.raises(CourseError, match="not committed .*README.md"):
        pub.publish(REAL, [FIRST], repo, [], now=PAST)
    assert (repo / "README.md").read_text() == "edited by hand, not committed\n"

    with pytest.raises(CourseError, match="inside the private course directory"):
        pub.publish(REAL, [FIRST], REAL.root / "release" / "student", [], now=PAST)
    assert not (REAL.root / "release" / "student").exists()


def test_the_guard_stops_before_writing_a_leak(tmp_path):
    course = _small_course(tmp_path / "course", [FIRST], "[tool.course]\n")
    line = next(ln for ln, what in forbidden(set()).items() if what == f"hidden test of {FIRST}")
    nb = notebooks.read(course.release_notebook(FIRST))
    nb.cells[-1].source += "\n" + line
    notebooks.write(nb, course.release_notebook(FIRST))
    repo = tmp_path / "repo"
    with pytest.raises(CourseError, match=f"publish stopped, nothing was written: release/{FIRST}/.*hidden test"):
        pub.publish(course, None, repo, [], now=PAST)
    assert not repo.exists()


def test_cli_publishes_and_refuses_in_one_line(tmp_path, capsys):
    from course.cli import main
    repo = tmp_path / "repo"
    assert main(["publish", "1", "--to", str(repo), "--solutions", "1"]) == 0
    out = capsys.readouterr().out
    assert "committed" in out and f"git -C {repo} remote add origin https://github.com/" in out
    assert (repo / "solutions" / FIRST).is_dir() and not (repo / "release" / LABS[1]).exists()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x").write_text("x")
    assert main(["publish", "--to", str(tmp_path / "elsewhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "new or empty folder" in err[0]


def test_unreleased_solutions_committed_by_hand_are_refused(published, tmp_path):
    """A solutions/ folder put into the student repository by hand is not a release: the guard stops there."""
    repo = tmp_path / "repo"
    shutil.copytree(published, repo, symlinks=True)
    shutil.copytree(REAL.solutions / LABS[2], repo / "solutions" / LABS[2])
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=someone", "-c", "user.email=someone@example.invalid", "commit", "-q", "-m", "by hand")
    with pytest.raises(CourseError, match=f"publish stopped, nothing was written: solutions/{LABS[2]}/"):
        pub.publish(REAL, [FIRST], repo, [], now=PAST)
    assert not git(repo, "status", "--porcelain")
