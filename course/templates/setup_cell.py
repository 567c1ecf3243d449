# Setup: shared by all five labs. Generated from course/templates/setup_cell.py,
# so edit the template and rebuild, not this cell.
import json, os, sys, time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning: on a busy laptop or grading server this makes
# PyTorch 5-10x faster. It must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np
import torch
import torchvision
import matplotlib.pyplot as plt

IN_COLAB = "google.colab" in sys.modules
# Grading mode: nbgrader sets NBGRADER_EXECUTION; otter (Gradescope, `otter run`) puts its Notebook class in
# grading mode in a cell it runs before this one.
_otter = sys.modules.get("otter")
AUTOGRADE = (os.environ.get("NBGRADER_EXECUTION") == "autograde"
             or bool(getattr(getattr(_otter, "Notebook", None), "_grading_mode", False)))
FAST = AUTOGRADE or os.environ.get("COURSE_FAST") == "1"          # shrink heavy training while grading
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (6, 4), "axes.grid": True, "font.size": 12})
if AUTOGRADE:  # the grader reads tests, not pictures: skip drawing them
    plt.show = lambda *args, **kwargs: plt.close("all")


# `course solutions` builds the committed solutions with this set: their outputs then carry no clock times,
# so rebuilding them on the same machine gives the same bytes.
REPRODUCIBLE = os.environ.get("COURSE_REPRODUCIBLE") == "1"


def took(seconds):
    """A duration, for printing: '12.3 s' (left out of the committed solutions, where it would change each run)."""
    return "(time not kept in the committed solutions)" if REPRODUCIBLE else f"{seconds:.1f} s"


def seed_everything(seed=0):
    """Make a run repeatable: same seed, same numbers."""
    np.random.seed(seed)
    torch.manual_seed(seed)


def progress(iterable, **kwargs):
    """A progress bar for long loops; silent while grading or building."""
    if AUTOGRADE or os.environ.get("COURSE_QUIET") == "1":
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, **kwargs)


_METRICS = {}


def record(name, value):
    """Keep a headline number (accuracy, time, …) so the benchmark can report it."""
    _METRICS[name] = float(value)
    target = os.environ.get("COURSE_METRICS_FILE")
    if target:
        Path(target).write_text(json.dumps(_METRICS, indent=1))
    return value


# --- Data: MNIST and Fashion-MNIST through torchvision, from a local cache ---
_RAW_SIZES = {"train-images-idx3-ubyte": 47040016, "train-labels-idx1-ubyte": 60008,
              "t10k-images-idx3-ubyte": 7840016, "t10k-labels-idx1-ubyte": 10008}
_DATASETS = {"mnist": torchvision.datasets.MNIST, "fashion": torchvision.datasets.FashionMNIST}


def data_root():
    """Where the datasets live: $COURSE_DATA, Colab's /content/data, or the course repo's data/."""
    if os.environ.get("COURSE_DATA"):
        return Path(os.environ["COURSE_DATA"])
    if IN_COLAB:
        return Path("/content/data")
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / "data" / "MNIST" / "raw").is_dir():
            return folder / "data"
    return here / "data"


def load_dataset(name="mnist", train=True):
    """A torchvision dataset. Downloads only in Colab; locally it reads the cache."""
    cls, root = _DATASETS[name], data_root()
    raw = root / cls.__name__ / "raw"
    damaged = [f for f, size in _RAW_SIZES.items() if (raw / f).exists() and (raw / f).stat().st_size != size]
    if damaged and not IN_COLAB:
        raise RuntimeError(f"The {cls.__name__} cache in {raw} is damaged ({', '.join(damaged)}). "
                           "Repair it with `python -m course data` in the course repo.")
    for f in damaged:
        (raw / f).unlink()
    try:
        return cls(str(root), train=train, download=IN_COLAB)
    except RuntimeError as exc:
        if IN_COLAB:  # the download itself failed: keep torchvision's own error, and say what to try
            raise RuntimeError(
                f"Downloading {cls.__name__} into {root} failed: {exc}\n"
                "In Colab: check that the runtime is connected (Runtime > Manage sessions), then run this cell "
                "again; if the mirror stays down, upload the four raw files into " f"{raw}.") from exc
        raise FileNotFoundError(
            f"{cls.__name__} is not in {root} ({exc}). In the course repo run `python -m course data` "
            "(or set COURSE_DATA to the folder that holds it).") from exc


def load_tensors(name="mnist", train=True):
    """The whole split as tensors: X of shape (n, 28, 28) in [0, 1] and labels y of shape (n,)."""
    ds = load_dataset(name, train)
    return ds.data.float().div(255.0), ds.targets.clone()


# --- Visible checks: every check cell reports the same way ---
class explain:
    """Wrap a call of your code in a check: if it raises (a shape mismatch, say), the check fails with the call,
    the error and the usual cause, instead of sending you through a traceback in a cell you did not write."""

    def __init__(self, call, hint=""):
        self.call, self.hint = call, hint

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or not isinstance(error, Exception) or isinstance(error, (AssertionError, NotImplementedError)):
            return False
        raise AssertionError(f"{self.call} raised {kind.__name__}: {error}"
                             + (f" ({self.hint})" if self.hint else "")) from error


def passed(task):
    """The one line a check cell prints when its visible checks pass. The grader runs more tests."""
    print(f"✓ {task}: visible checks passed")


seed_everything(0)
print(f"torch {torch.__version__} on {DEVICE}; data from {data_root()}; "
      f"{'grading mode: training is shortened' if FAST else 'full mode'}")
