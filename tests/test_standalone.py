"""A release notebook runs alone: copied into an empty folder, answers typed in, data from the cache only."""
from __future__ import annotations

import os

import pytest

from conftest import REAL, lab_params
from course.core import execute
from course.checks import submissions


@pytest.mark.parametrize("lab", lab_params())
def test_release_notebook_runs_on_its_own(tmp_path, lab, monkeypatch):
    nb = submissions.make(REAL, lab, "solved")
    folder = tmp_path / "empty"
    folder.mkdir()
    # any attempt to reach the internet fails fast instead of hanging
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    nb, seconds, _ = execute.run(nb, fast=True, workdir=folder, label=f"release/{lab} (stand-alone)")
    assert execute.errors(nb) == []
    assert sorted(os.listdir(folder)) == [] or all(not p.endswith(".py") for p in os.listdir(folder))
