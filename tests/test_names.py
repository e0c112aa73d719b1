"""One public name, one meaning: no two modules of the package define the same public name.

A newcomer who meets ``top_k`` or ``norm_popularity`` in two modules cannot tell which one a
chapter means; the package gives distinct things distinct names. The two exceptions below are the
same verb on two registries of different things, each read through its own module (``bench.run``
runs a benchmark, ``runner.run`` runs notebooks; ``resolve`` turns a name into a registry entry),
so the module name says which is meant.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "recsys"

ALLOWED = {
    "run": {"recsys/ann/running.py", "recsys/notebook/runner.py"},
    "resolve": {"recsys/ann/registry.py", "recsys/datasets/registry.py"},
}


def _public_definitions() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                found[node.name].add(path.relative_to(ROOT.parent).as_posix())
    return found


def test_no_public_name_is_defined_twice():
    twice = {name: files for name, files in _public_definitions().items() if len(files) > 1}
    unexpected = {name: sorted(files) for name, files in twice.items() if ALLOWED.get(name) != files}
    assert not unexpected, f"public names defined in several modules: {unexpected}"
