"""Parameter grids: their format, how they were chosen, and every method's grid collected from its adapter.

Each adapter declares its own grids next to its code (ann-benchmarks keeps one ``config.yml`` per
library folder): the class attributes ``grid`` and ``quick_grid`` of
:class:`recsys.ann.base.ANNIndex`. This module collects them (:data:`GRIDS`, :data:`QUICK_GRIDS`,
read from the registry each time), picks a method's grid (:func:`grid_for`) and expands one into
its points (:func:`expand`).

A grid is ``{"build": [build parameters, ...], "query": query parameters}``: each build is one
index; its query grid is either a dict of lists (every combination, in order) or a list of dicts
(explicit points, for knobs that only make sense together, like ScaNN's leaves and re-rank depth).
Query points run from fast to accurate: the harness stops a method's sweep once recall reaches
``stop_recall``, and its time budget cuts the slow end first.

Two sets per adapter:

* ``grid``, collected in :data:`GRIDS`: for catalogues of 10^5 to 10^6 recommender-shaped items at d = 64 (notebook 06,
  ``python -m recsys ann``). The builds were chosen on this project's 100,000- and 300,000-item
  mixture workloads so that each family reaches recall@10 = 0.95 where it can, with builds of a
  few minutes at most on one core and no query point whose 500-query recall pass takes more than
  a few seconds at 300,000 items (so notebook 06's default run never has to cut one; at 10^6
  items the harness's ``max_point_seconds`` cuts the slow end of LSH and the forest).
* ``quick_grid``, collected in :data:`QUICK_GRIDS`: a few points per method, for tests, CI and catalogues of a few thousand.

Build sizes that depend on the catalogue (IVF ``nlist``, ScaNN ``num_leaves``) are left to the
adapters (``None`` = about ``2 sqrt(n)`` cells, ``sqrt(n)`` leaves) so the same grid serves every
catalogue size of the scaling study.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import product
from typing import Any

__all__ = ["GRAPH_EF", "GRIDS", "QUICK_GRIDS", "auto_nlist", "expand", "grid_for"]  # noqa: F822 - GRIDS, QUICK_GRIDS: __getattr__


def auto_nlist(n_items: int) -> int:
    """Cells of an inverted file when not given: the power of two nearest ``2 sqrt(n)``, at most ``n / 8``.

    One rule for every inverted file (faiss's, RaBitQ's), so their points compare at each size."""
    target = max(1.0, 2.0 * math.sqrt(n_items))
    return max(1, min(int(2 ** round(math.log2(target))), n_items // 8 or 1))


#: The query sweep every graph index shares (its ``ef``: the candidate list of the search).
GRAPH_EF: list[int] = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]


def _collect(attribute: str) -> dict[str, Mapping]:
    from recsys.ann import registry

    return {name: getattr(cls, attribute) for name, cls in registry.ADAPTERS.items() if getattr(cls, attribute)}


def __getattr__(name: str) -> Any:
    """``GRIDS`` and ``QUICK_GRIDS``: ``{method: grid}`` of every registered adapter, read afresh."""
    if name == "GRIDS":
        return _collect("grid")
    if name == "QUICK_GRIDS":
        return _collect("quick_grid")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def grid_for(method, grids: Mapping[str, Mapping] | None = None) -> Mapping:
    """The grid of ``method`` (a registry name or an adapter class): from ``grids`` if it has one
    under the method's name, else the adapter's own ``grid``."""
    from recsys.ann import registry

    cls = registry.resolve(method)
    if grids is not None and cls.name in grids:
        return grids[cls.name]
    if cls.grid is not None:
        return cls.grid
    raise ValueError(f"no parameter grid for method {cls.name!r}; give one in grids={{{cls.name!r}: ...}}")


def expand(grid: Mapping) -> tuple[list[dict], list[dict]]:
    """``(builds, queries)``: the list of build parameter dicts and the list of query points."""
    if not isinstance(grid, Mapping) or "build" not in grid or "query" not in grid:
        raise ValueError(f"a grid is {{'build': [...], 'query': ...}}, got {grid!r}")
    builds = grid["build"]
    builds = [dict(b) for b in ([builds] if isinstance(builds, Mapping) else builds)]
    query = grid["query"]
    if isinstance(query, Mapping):
        names = list(query)
        for n in names:
            if isinstance(query[n], (str, bytes)) or not hasattr(query[n], "__iter__"):
                raise ValueError(f"query grid entry {n!r} must be a list of values, got {query[n]!r}")
        queries = [dict(zip(names, values)) for values in product(*(list(query[n]) for n in names))]
    else:
        queries = [dict(q) for q in query]
    if not builds or not queries:
        raise ValueError(f"a grid needs at least one build and one query point, got {grid!r}")
    return builds, queries
