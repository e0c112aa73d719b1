"""environment.yml (conda) and pyproject.toml (pip) describe the same dependencies."""

from __future__ import annotations

import re
import tomllib

from recsys.paths import REPO_ROOT


def _split(requirement: str) -> tuple[str, str]:
    name, bound = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), bound.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    wanted["python"] = project["requires-python"]
    listed = {}
    text = (REPO_ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:") :].splitlines():
        m = re.match(r"^  - ([A-Za-z][^#:]*?)\s*$", line)
        if m and m.group(1) != "pip":
            name, bound = _split(m.group(1))
            listed[name] = bound
    assert listed == wanted


def test_constraints_pin_every_direct_dependency():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    direct = {_split(r)[0] for r in project["dependencies"] + sum(project["optional-dependencies"].values(), [])}
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            pkg, version = line.split("==")
            pins[pkg.lower().replace("_", "-")] = version
    assert direct <= set(pins), f"not pinned in constraints.txt: {sorted(direct - set(pins))}"
