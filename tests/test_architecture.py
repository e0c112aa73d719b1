"""The package's layering, read from the source: who may import whom.

Lower floors never import higher ones (``CONTRIBUTING.md``): models do
not import evaluation, the domain never imports the notebook machinery, the ANN wing takes
vectors and never models, and no two modules import each other in a cycle. Every import counts,
including those inside functions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "recsys"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The ``recsys`` modules ``path`` imports (``from recsys.a import b`` counts as recsys.a and
    recsys.a.b when the latter is a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("recsys"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recsys"):
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if candidate in MODULES:
                    found.add(candidate)
    return found


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}
GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _edges(source: str, target: str) -> list[tuple[str, str]]:
    return [(a, b) for a, deps in GRAPH.items() if _under(a, source) for b in deps if _under(b, target)]


@pytest.mark.parametrize(
    "lower, higher",
    [
        ("recsys.models", "recsys.evaluation"),
        ("recsys.models", "recsys.experiments"),
        ("recsys.models", "recsys.notebook"),
        ("recsys.models", "recsys.ann"),
        ("recsys.metrics", "recsys.models"),
        ("recsys.metrics", "recsys.evaluation"),
        ("recsys.interactions", "recsys.models"),
        ("recsys.similarity", "recsys.models"),
        ("recsys.similarity", "recsys.ann"),
        ("recsys.ann", "recsys.models"),
        ("recsys.ann", "recsys.evaluation"),
        ("recsys.ann", "recsys.notebook"),
        ("recsys.embeddings", "recsys.models"),
        ("recsys.catalogue", "recsys.similarity"),
        ("recsys.catalogue", "recsys.embeddings"),
        ("recsys.catalogue", "recsys.models"),
        ("recsys.catalogue", "recsys.notebook"),
        ("recsys.datasets", "recsys.models"),
        ("recsys.datasets", "recsys.splits"),
        ("recsys.evaluation", "recsys.experiments"),
        ("recsys.models", "recsys.spark"),
        ("recsys.ann", "recsys.spark"),
        ("recsys.evaluation", "recsys.spark"),
        ("recsys.experiments", "recsys.spark"),
        ("recsys.spark", "recsys.notebook"),
        ("recsys.models", "recsys.experiments.similarity"),
        ("recsys.models", "recsys.experiments.serving"),
        ("recsys.ann", "recsys.experiments.serving"),
        ("recsys.experiments", "recsys.notebook"),
        ("recsys.models", "recsys.experiments.tuning"),
        ("recsys.models", "recsys.experiments.families"),
        ("recsys.experiments.harness", "recsys.experiments.tuning"),
        ("recsys.experiments.harness", "recsys.experiments.families"),
        ("recsys.experiments.harness", "recsys.experiments.serving"),
        ("recsys.experiments.tuning", "recsys.experiments.families"),
        ("recsys.experiments.tuning", "recsys.experiments.serving"),
    ],
)
def test_lower_floors_do_not_import_higher_ones(lower, higher):
    edges = _edges(lower, higher)
    assert not edges, f"{lower} must not import {higher}: {edges}"


def test_the_checks_are_the_bottom_floor():
    assert GRAPH["recsys.checks"] == set(), GRAPH["recsys.checks"]


def test_the_catalogue_is_metadata_only():
    # titles, genres and popularity: it may lean on the checks and the id map, nothing with vectors
    assert GRAPH["recsys.catalogue"] <= {"recsys.checks", "recsys.interactions"}, GRAPH["recsys.catalogue"]


def test_the_domain_never_imports_the_notebook_machinery():
    domain = [m for m in GRAPH if not _under(m, "recsys.notebook") and m not in ("recsys.__main__",)]
    edges = [(a, b) for a in domain for b in GRAPH[a] if _under(b, "recsys.notebook")]
    assert not edges, f"the domain imports the notebook wing: {edges}"


def test_the_notebook_machinery_lives_in_its_own_wing():
    for name in ("runner", "results", "params", "plotting", "machine"):
        assert f"recsys.notebook.{name}" in MODULES, name
        assert f"recsys.{name}" not in MODULES, f"recsys/{name}.py should live under recsys/notebook/"


#: What the notebook wing must not hold: tuning, studies, splits, serving, fitting (one home each, in the domain).
DOMAIN_WORDS = re.compile(
    r"(^|_)(tune|tuned|tuning|study|studies|split|splits|serving|serve|fit|fitted|rank|candidate)(_|$)"
)
#: Cold start still sits in family_plots until it moves to recsys/experiments/cold_start.py (issue 19); delete then.
PENDING = {
    "recsys.notebook.family_plots": {
        "cold_item_split",
        "cold_item_study",
        "fm_cold_scorer",
        "content_cold_scorer",
        "random_cold_scorer",
        "scorer",
    },
}


def test_the_notebook_wing_holds_no_tuning_study_split_or_serving_logic():
    """``recsys.notebook`` runs, records, checks parameters and draws; it defines no tuner, study, split
    or server, and fits no model (``.fit(...)``, ``tune(...)``, ``fit_and_evaluate(...)``)."""
    found = []
    for name, path in MODULES.items():
        if not _under(name, "recsys.notebook"):
            continue
        pending = PENDING.get(name, set())
        tree = ast.parse(path.read_text(), filename=str(path))
        owners = {}  # each node's enclosing top-level definition
        for top in tree.body:
            for node in ast.walk(top):
                owners[node] = getattr(top, "name", None)
        for node in ast.walk(tree):
            figure = node.name.startswith("plot_") if isinstance(node, ast.FunctionDef) else False
            if (
                isinstance(node, (ast.FunctionDef, ast.ClassDef))
                and not figure
                and DOMAIN_WORDS.search(node.name.lower())
            ):
                if node.name not in pending and owners.get(node) not in pending:
                    found.append(f"{name}.{node.name} (defined)")
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in ("fit", "tune", "fit_and_evaluate", "fit_timed") and owners.get(node) not in pending:
                    found.append(f"{name}: {called}(...) in {owners.get(node)}")
    assert not found, f"logic that belongs in recsys.experiments: {found}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(GRAPH.get(node, ())):
            dep = dep if dep in GRAPH else next((m for m in GRAPH if dep.startswith(m + ".")), dep)
            if dep not in GRAPH:
                continue
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_every_package_says_what_belongs_in_it():
    for name, path in MODULES.items():
        if path.name == "__init__.py" or name in ("recsys.similarity", "recsys.embeddings", "recsys.catalogue"):
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and len(doc) > 40, f"{name} needs a docstring saying what belongs there"


def test_the_ann_wing_is_layered_adapters_below_the_benchmark():
    """Adapters import only the interface, the grids and the registry (so the registry can import
    them all); the benchmark reads downwards: running -> results, ground_truth, platform."""
    benchmark = {"bench", "difficulty", "ground_truth", "running", "results", "platform", "workloads", "teaching"}
    benchmark |= {"ann_benchmarks_format"}
    infrastructure = benchmark | {"base", "grids", "registry"}
    adapters = [m for m in MODULES if _under(m, "recsys.ann") and m.rsplit(".", 1)[-1] not in infrastructure]
    adapters = [m for m in adapters if m != "recsys.ann"]
    assert "recsys.ann.hnswlib_index" in adapters
    for module in adapters:
        wing = {d for d in GRAPH[module] if _under(d, "recsys.ann")}
        assert wing <= {"recsys.ann.base", "recsys.ann.grids", "recsys.ann.registry"}, (module, wing)
    for lower in ("ground_truth", "results", "platform"):
        assert "recsys.ann.running" not in GRAPH[f"recsys.ann.{lower}"], lower
    inside = [m for m in MODULES if _under(m, "recsys.ann") and m != "recsys.ann.bench"]
    assert not [m for m in inside if "recsys.ann.bench" in GRAPH[m]], "bench is the facade: nothing in the wing uses it"
