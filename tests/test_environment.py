"""Dependencies are declared once (pyproject.toml); environment.yml must say the same."""
import tomllib

import yaml

from course.core.paths import REPO


def _pyproject() -> set[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = data["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def _conda() -> set[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {p for p in pip if not p.startswith("-e")}


def test_environment_yml_matches_pyproject():
    assert _conda() == _pyproject()


def test_torch_and_torchvision_are_a_matching_pair():
    deps = {d.split("==")[0]: d.split("==")[1] for d in _pyproject() if "==" in d}
    # torchvision 0.N pairs with torch 2.(N-14): 0.29 ↔ 2.15
    tv_minor = int(deps["torchvision"].split(".")[1])
    assert deps["torch"].startswith(f"2.{tv_minor - 14}."), deps
