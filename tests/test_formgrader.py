"""Manual grading: `python -m course lab` serves nbgrader's formgrader, and it lists every lab.

Why a browser: the formgrader's assignment table is filled in by JavaScript from
its own API, so only a real page load proves an instructor will see the labs.
The server runs on loopback, on a free port, with a token set here and a
throwaway Jupyter config, runtime and home, so nothing outside the test is touched.
"""
from __future__ import annotations

import contextlib

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import LABS, REAL
from course.classroom import lab
from course.build import release
from course.core.paths import REPO, Course
from course.core.scratch import scratch_course

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOT = REPO / "build" / "screenshots" / "formgrader.png"
TOKEN = "formgrader-test-token"
START_TIMEOUT = 45  # seconds; the server is usually up in under 5


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((lab.HOST, 0))
        return s.getsockname()[1]


def _isolated_env(home: Path) -> dict[str, str]:
    """Jupyter reads and writes config, runtime files and workspaces under home: point them all at tmp."""
    env = dict(os.environ)
    for var, sub in (("HOME", "home"), ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["JUPYTER_TOKEN"] = TOKEN
    env.pop("JUPYTER_CONFIG_PATH", None)
    return env


def _cli(*args: str, course_dir: Path) -> list[str]:
    return [sys.executable, "-m", "course", "--course-dir", str(course_dir), "lab", *args]


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and anything it started (kernels, terminals): its whole process group."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def formgrader(tmp_path_factory):
    """A running `python -m course lab` on a scratch course whose gradebook holds all five labs."""
    tmp = tmp_path_factory.mktemp("formgrader")
    course = scratch_course(REAL, LABS, where=tmp)
    release.release(course, LABS)  # the cheapest step that records every lab in the scratch gradebook
    with serving(course, tmp) as port:
        yield course, port


@contextlib.contextmanager
def serving(course, tmp: Path):
    """`python -m course lab` on ``course``, isolated in ``tmp``; yields its port and stops it afterwards."""
    port = _free_port()
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(_cli("--port", str(port), "--no-browser", course_dir=course.root),
                                cwd=REPO, env=_isolated_env(tmp / "home"), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group, so _stop reaches its children
        try:
            _wait_until_up(proc, port, log_path)
            yield port
        finally:
            _stop(proc)


def _wait_until_up(proc: subprocess.Popen, port: int, log_path: Path) -> None:
    url = f"http://{lab.HOST}:{port}/api/status?token={TOKEN}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`python -m course lab` exited with {proc.returncode} before answering; its log:\n"
                        + log_path.read_text()[-4000:])
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer on {url} within {START_TIMEOUT} s; its log:\n"
                + log_path.read_text()[-4000:])


def test_server_args_listen_on_loopback_with_formgrader():
    args = lab.server_args(Course(Path("/x")), 9999, open_browser=False)
    assert f"--ServerApp.ip={lab.HOST}" in args and lab.HOST == "127.0.0.1"
    assert "--ServerApp.port=9999" in args and "--ServerApp.open_browser=False" in args
    assert f"--ServerApp.jpserver_extensions={lab.FORMGRADER}=True" in args
    assert "--ServerApp.root_dir=/x" in args


def test_busy_port_is_one_clear_line(tmp_course):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((lab.HOST, 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(_cli("--port", str(port), "--no-browser", course_dir=tmp_course.root),
                              capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: port") and "--port" in lines[0], proc.stderr


def test_not_a_course_directory_is_one_clear_line(tmp_path):
    proc = subprocess.run(_cli("--no-browser", course_dir=tmp_path), capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("error:") and "nbgrader_config.py" in proc.stderr


def test_formgrader_lists_every_lab(formgrader):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing — run `make system` (installs Chromium)")
    course, port = formgrader
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            response = page.goto(lab.formgrader_url(port, TOKEN), wait_until="load", timeout=30_000)
            assert response is not None and response.ok, f"formgrader answered {response and response.status}"
            assert page.url.endswith("/formgrader/manage_assignments"), page.url  # not the login page
            # The table is filled from /formgrader/api/assignments once the page has loaded.
            page.wait_for_function(f"document.querySelectorAll('td.name a').length >= {len(LABS)}",
                                   timeout=20_000)
            names = sorted(page.locator("td.name a").all_inner_texts())
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert names == sorted(course.labs()) == sorted(LABS), names
    assert len(LABS) == 5
    assert not errors, f"JavaScript errors on the formgrader page: {errors}"
