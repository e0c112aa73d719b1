"""Adding an ANN library is one file: this one defines a toy library and nothing else is edited.

The adapter below declares everything the project needs (name, family, metrics, grids, the
conformance case; a real library adds ``library`` and ``requirement``) and registers itself. The
tests show it then runs through the shared conformance battery, is listed by the registry and in
``GRIDS``/``QUICK_GRIDS``, and is benchmarked by ``bench.run`` given the class (or its name), with
its own grids; ``bench.best`` and ``bench.index_from`` rebuild its best point.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ann_conformance import AdapterConformance

from recsys.ann import bench, grids, registry, workloads
from recsys.ann.base import ANNIndex, Conformance
from recsys.ann.registry import register
from recsys.checks import check_integer


@register
class SketchScan(ANNIndex):
    """Toy index: scan a random ``dims``-dimensional sketch of every item (Johnson-Lindenstrauss),
    keep the ``k * k_factor`` best candidates and re-rank them with the exact vectors.
    Query knob: ``k_factor``."""

    name = "toy-sketch-scan"
    family = "quantization"
    native_metrics = ("ip",)  # cosine: the base class normalises, then inner product
    supported_metrics = ("ip", "cosine")
    query_params = ("k_factor",)
    grid = {"build": [{"dims": 8}], "query": {"k_factor": [1, 4, 16, 64]}}
    quick_grid = {"build": [{"dims": 4}], "query": {"k_factor": [1, 10, 100]}}
    conformance = Conformance({"dims": 8}, [{"k_factor": 1}, {"k_factor": 10}, {"k_factor": 100}], 0.98)

    def __init__(self, metric="ip", dims: int = 8, random_state: int = 0):
        super().__init__(metric, dims=dims, random_state=random_state)
        self.dims = check_integer("dims", dims, 1)
        self.random_state = check_integer("random_state", random_state, 0)
        self._k_factor = 1

    def _fit(self, X: np.ndarray) -> None:
        rng = np.random.default_rng(self.random_state)
        self._projection = rng.standard_normal((X.shape[1], self.dims)) / np.sqrt(self.dims)
        self._X = X
        self._sketch = X @ self._projection

    def _set_query_arguments(self, k_factor=1) -> None:
        self._k_factor = check_integer("k_factor", k_factor, 1)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        n = self._X.shape[0]
        width = min(n, k * self._k_factor)
        coarse = self._sketch @ (q @ self._projection)
        candidates = np.argpartition(-coarse, width - 1)[:width] if width < n else np.arange(n)
        exact = self._X[candidates] @ q
        return candidates[np.lexsort((candidates, -exact))[:k]]

    def _memory_bytes(self) -> int:
        return self._X.nbytes + self._sketch.nbytes + self._projection.nbytes


class TestSketchScan(AdapterConformance):
    """The same battery as every adapter of the package."""

    @pytest.fixture
    def adapter(self):
        return SketchScan


def test_the_toy_is_registered_with_its_grids():
    assert registry.get("toy-sketch-scan") is SketchScan
    assert grids.GRIDS["toy-sketch-scan"] == SketchScan.grid
    assert grids.QUICK_GRIDS["toy-sketch-scan"] == SketchScan.quick_grid
    assert grids.grid_for(SketchScan) == SketchScan.grid
    table = registry.availability(["toy-sketch-scan"])
    assert table.loc["toy-sketch-scan", "available"] and table.loc["toy-sketch-scan", "library"] == "numpy"


@pytest.fixture(scope="module")
def small():
    return workloads.clustered(1500, 40, 8, 6, seed=0)


def _points(grid):
    builds, queries = grids.expand(grid)
    return [(json.dumps(b), json.dumps(q)) for b in builds for q in queries]


@pytest.mark.parametrize("method", [SketchScan, "toy-sketch-scan"], ids=["class", "name"])
def test_the_runner_benchmarks_the_toy_on_its_own_grids(method, small):
    run = bench.run(small, [method, "exact-numpy"], timing_queries=20, repeats=1, stop_recall=None, progress=False)
    rows = run.results[run.results["method"] == "toy-sketch-scan"]
    assert list(zip(rows["build"], rows["query"])) == _points(SketchScan.grid)  # the full grid, every point
    assert (rows["family"] == "quantization").all() and (rows["memory_bytes"] > 0).all()
    assert (np.diff(rows["recall"].to_numpy()) >= 0).all() and rows["recall"].iloc[-1] >= 0.95
    quick = bench.run(small, [method], grids=grids.QUICK_GRIDS, timing_queries=20, repeats=1, progress=False)
    assert (
        list(zip(quick.results["build"], quick.results["query"]))
        == _points(SketchScan.quick_grid)[: len(quick.results)]
    )
    point = bench.best(run.results, 0.9, methods=["toy-sketch-scan"])
    index = bench.index_from(point).fit(small.items)
    assert isinstance(index, SketchScan) and index.query_arguments == json.loads(point["query"])


def test_the_runner_takes_an_unregistered_class_too(small):
    class Unlisted(SketchScan):
        name = "toy-unlisted"

    run = bench.run(
        small, [Unlisted], grids={"toy-unlisted": SketchScan.quick_grid}, timing_queries=20, repeats=1, progress=False
    )
    assert set(run.results["method"]) == {"toy-unlisted"} and "toy-unlisted" not in registry.ADAPTERS
    with pytest.raises(ValueError, match="unknown ANN method 'toy-missing'"):
        bench.run(small, ["toy-missing"])
