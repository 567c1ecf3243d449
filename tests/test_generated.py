"""Generated folders are reproducible: release/ and solutions/ match what source/ makes."""
from __future__ import annotations

import copy
import html as htmllib
import re

import pytest

from conftest import LABS, REAL
from course.build import inject, release, solutions
from course.core import notebooks
from course.core.scratch import scratch_course


def _cells(nb):
    return [(c.cell_type, c.source, c.get("metadata", {}).get("nbgrader")) for c in nb.cells]


@pytest.mark.parametrize("lab", LABS)
def test_setup_cell_matches_the_template(lab):
    nb = copy.deepcopy(notebooks.read(REAL.source_notebook(lab)))
    assert not inject.inject(nb), f"{lab}'s setup cell is stale — run `python -m course release {lab}`"




@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    course = scratch_course(REAL, LABS, where=tmp_path_factory.mktemp("regen"))
    release.release(course, LABS)
    return course


@pytest.mark.parametrize("lab", LABS)
def test_release_is_up_to_date(regenerated, lab):
    committed = REAL.release_notebook(lab)
    assert committed.exists(), f"release/{lab} is missing — run `python -m course release`"
    assert _cells(notebooks.read(committed)) == _cells(notebooks.read(regenerated.release_notebook(lab))), \
        f"release/{lab} is stale — run `python -m course release {lab}`"


@pytest.mark.parametrize("lab", LABS)
def test_release_hides_solutions_and_hidden_tests(lab):
    nb = notebooks.read(REAL.release_notebook(lab))
    text = "\n".join(c.source for c in nb.cells)
    assert notebooks.BEGIN_SOLUTION not in text and notebooks.BEGIN_HIDDEN not in text
    leaked = [ln for ln in notebooks.distinctive_hidden_lines(notebooks.read(REAL.source_notebook(lab))) if ln in text]
    assert not leaked, f"hidden test lines leaked into release/{lab}: {leaked[:3]}"


@pytest.mark.parametrize("lab", LABS)
def test_solutions_are_up_to_date(lab):
    path = REAL.solutions / lab / f"{lab}.ipynb"
    assert path.exists() and path.with_suffix(".html").exists(), \
        f"solutions/{lab} is missing — run `python -m course solutions {lab}`"
    built = notebooks.read(path)
    want = solutions.expected(REAL, lab)
    assert built.metadata["course"]["source_fingerprint"] == want.metadata["course"]["source_fingerprint"], \
        f"solutions/{lab} was built from an older source — run `python -m course solutions {lab}`"
    assert [c.source for c in built.cells] == [c.source for c in want.cells]
    assert not [o for c in built.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for c in built.cells for o in c.get("outputs", [])), \
        "the executed solution has no figures"
    html = path.with_suffix(".html").read_text()
    hidden = notebooks.distinctive_hidden_lines(notebooks.read(REAL.source_notebook(lab)))
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", html))
    leaked = [ln for ln in hidden if ln in text]
    assert not leaked, f"hidden tests in solutions/{lab}: {leaked[:3]}"


@pytest.mark.parametrize("lab", LABS)
def test_colab_badge_points_at_a_release_file(lab):
    import re
    from course.core import settings
    first = notebooks.read(REAL.release_notebook(lab)).cells[0].source
    url = re.search(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", first).group(1)
    prefix = f"https://colab.research.google.com/github/{settings.student_repository()}/blob/"
    assert url.startswith(prefix)
    path = url[len(prefix):].split("/", 1)[1]
    assert (REAL.root / path).is_file() and path.startswith("release/"), url


@pytest.mark.parametrize("lab", LABS)
def test_committed_solutions_carry_no_clock_times(lab):
    """A rebuild of solutions/ on the same machine gives the same bytes (measured: two rebuilds of all five labs
    were identical), so nothing in them may depend on the clock: no execution timestamps, no printed or
    displayed durations, no timing metrics."""
    built = notebooks.read(REAL.solutions / lab / f"{lab}.ipynb")
    stamps = [i for i, c in enumerate(built.cells) if "execution" in c.get("metadata", {})]
    assert not stamps, f"solutions/{lab}: cells {stamps[:5]} carry execution timestamps (record_timing)"
    timing = [k for k in built.metadata["course"].get("metrics", {}) if k.endswith("_s")]
    assert not timing, f"solutions/{lab}: timing metrics {timing} in the notebook's metadata"
    durations = re.compile(r"\b\d+\.\d+ ?s\b")
    for i, cell in enumerate(built.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") + "".join(out.get("data", {}).get("text/plain", ""))
            assert not durations.search(text), f"solutions/{lab}, cell {i} prints a duration: {text.strip()[:120]!r}"


_BARE = re.compile(r"^\s*(tensor\()?[-+]?\d[\d_.e+-]*(, dtype=\w+\.\w+)?\)?\s*$")


@pytest.mark.parametrize("lab", LABS)
def test_committed_solutions_show_no_bare_values(lab):
    """Every printed number has a label (issue 19): a cell ending in ``record(...)`` once showed a bare ``14634``,
    ``tensor(0.9824)`` or ``0.0026738484054804027`` under the labelled line it printed."""
    built = notebooks.read(REAL.solutions / lab / f"{lab}.ipynb")
    for i, cell in enumerate(built.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") + "".join(out.get("data", {}).get("text/plain", ""))
            for line in text.splitlines():
                assert not _BARE.match(line), f"solutions/{lab}, cell {i} shows a bare value: {line.strip()!r}"
