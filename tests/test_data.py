"""The dataset cache: verified, repaired when damaged, and a clear error when nothing works."""
from __future__ import annotations

import shutil

import pytest

from course.core import data
from course.build import inject
from course.core.errors import CourseError
from course.core.paths import data_root


def test_real_cache_is_verified():
    for spec in data.SPECS.values():
        assert data.bad_files(spec, data_root()) == []


def test_loader_returns_torchvision_datasets():
    import torchvision
    train, test = data.mnist(True), data.fashion_mnist(False)
    assert isinstance(train, torchvision.datasets.MNIST) and len(train) == 60_000
    assert isinstance(test, torchvision.datasets.FashionMNIST) and len(test) == 10_000


def _copy_cache(tmp_path, folder="MNIST"):
    shutil.copytree(data_root() / folder, tmp_path / folder)
    if (data_root() / "_downloads").is_dir():
        shutil.copytree(data_root() / "_downloads", tmp_path / "_downloads")
    return tmp_path / folder / "raw"


def test_corrupt_file_is_detected_and_repaired(tmp_path):
    raw = _copy_cache(tmp_path)
    with open(raw / "t10k-labels-idx1-ubyte", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff\xff")
    (raw / "train-labels-idx1-ubyte").write_bytes(b"half")  # half-written
    assert set(data.bad_files(data.MNIST, tmp_path)) == {"t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"}
    data.ensure("mnist", tmp_path, allow_internet=False, log=lambda *_: None)
    assert data.bad_files(data.MNIST, tmp_path) == []


def test_no_source_gives_an_error_that_says_what_to_do(tmp_path, monkeypatch):
    def broken(spec, cache, allow_internet):
        def fail(dest):
            raise OSError("registry unreachable")
        return [("npm", fail)]
    monkeypatch.setattr(data, "sources", broken)
    with pytest.raises(CourseError) as err:
        data.ensure("mnist", tmp_path, allow_internet=False, log=lambda *_: None)
    message = str(err.value)
    assert "python -m course data" in message and "registry unreachable" in message
    assert not (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").exists(), "nothing half-written is left"


def _notebook_setup(monkeypatch, root):
    monkeypatch.setenv("COURSE_DATA", str(root))
    namespace: dict = {}
    exec(compile(inject.setup_source(), "setup_cell", "exec"), namespace)
    return namespace


def test_notebook_setup_reads_the_cache(monkeypatch):
    ns = _notebook_setup(monkeypatch, data_root())
    X, y = ns["load_tensors"]("mnist", train=False)
    assert X.shape == (10_000, 28, 28) and float(X.max()) <= 1.0 and y.shape == (10_000,)


def test_notebook_setup_refuses_a_damaged_cache(monkeypatch, tmp_path):
    raw = _copy_cache(tmp_path)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"truncated")
    ns = _notebook_setup(monkeypatch, tmp_path)
    with pytest.raises(RuntimeError, match="python -m course data"):
        ns["load_tensors"]("mnist", train=False)


def test_notebook_setup_explains_a_missing_cache(monkeypatch, tmp_path):
    ns = _notebook_setup(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m course data"):
        ns["load_tensors"]("fashion", train=False)
