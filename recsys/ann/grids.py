"""Every method's parameter grid, in one readable place (ann-benchmarks keeps them in ``config.yml``).

A grid is ``{"build": [build parameters, ...], "query": query parameters}``: each build is one
index; its query grid is either a dict of lists (every combination, in order) or a list of dicts
(explicit points, for knobs that only make sense together, like ScaNN's leaves and re-rank depth).
Query points run from fast to accurate: the harness stops a method's sweep once recall reaches
``stop_recall``, and its time budget cuts the slow end first.

Two sets:

* :data:`GRIDS`: for catalogues of 10^5 to 10^6 recommender-shaped items at d = 64 (notebook 06,
  ``python -m recsys ann``). The builds were chosen on this project's 100,000- and 300,000-item
  mixture workloads so that each family reaches recall@10 = 0.95 where it can, with builds of a
  few minutes at most on one core and no query point whose 500-query recall pass takes more than
  a few seconds at 300,000 items (so notebook 06's default run never has to cut one; at 10^6
  items the harness's ``max_point_seconds`` cuts the slow end of LSH and the forest).
* :data:`QUICK_GRIDS`: a few points per method, for tests, CI and catalogues of a few thousand.

Build sizes that depend on the catalogue (IVF ``nlist``, ScaNN ``num_leaves``) are left to the
adapters (``None`` = about ``2 sqrt(n)`` cells, ``sqrt(n)`` leaves) so the same grid serves every
catalogue size of the scaling study.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product
from typing import Any

__all__ = ["GRIDS", "QUICK_GRIDS", "expand", "grid_for"]

_EF = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
# IVF with PQ codes: cells probed and re-rank depth rise together. The MIPS transform's extra
# coordinate is what PQ codes approximate worst, so re-ranking must go deep (k_factor 50 and up)
# before recall passes about 0.6 (measured on the 100,000-item mixture).
_IVF_PQ_POINTS = [(2, 20), (4, 20), (4, 50), (8, 50), (16, 50), (24, 50), (32, 100), (48, 100), (64, 200), (128, 200)]

GRIDS: dict[str, dict[str, Any]] = {
    # exact search: nothing to tune
    "exact-numpy": {"build": [{}], "query": [{}]},
    "faiss-flat": {"build": [{}], "query": [{}]},
    # graphs: M links per node at build, ef (candidate list) at query time
    "hnswlib": {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": _EF}},
    "hnswlib-mips": {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": _EF}},
    "nmslib-hnsw": {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": _EF}},
    "nmslib-hnsw-mips": {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": _EF}},
    "faiss-hnsw": {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": _EF}},
    "faiss-hnsw-sq8": {
        "build": [{"M": 16, "ef_construction": 100}],
        "query": [{"ef": ef, "k_factor": f} for ef in _EF for f in (2,)],
    },
    "usearch": {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": _EF}},
    # trees: n_trees at build, search_k (candidates inspected) at query time
    "annoy": {
        "build": [{"n_trees": 20}],
        "query": {"search_k": [500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]},
    },
    "annoy-dot": {
        "build": [{"n_trees": 20}],
        "query": {"search_k": [500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]},
    },
    # LSH: tables x bits at build, probes per table at query time
    "numpy-lsh": {
        "build": [{"tables": 16, "bits": 12}],
        "query": {"probes": [1, 2, 4, 8, 16]},
    },
    "faiss-lsh": {"build": [{"n_bits": 256}], "query": {"k_factor": [1, 4, 16, 64, 256]}},
    # quantisation: codes at build; cells probed and re-rank depth at query time
    "faiss-pq": {"build": [{"dims_per_code": 4}, {"dims_per_code": 2}], "query": {"k_factor": [1, 4, 16, 64, 256]}},
    "faiss-ivf": {"build": [{"nlist": None}], "query": {"nprobe": [1, 2, 4, 8, 16, 32, 64, 128]}},
    "faiss-ivfpq": {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": f} for p, f in _IVF_PQ_POINTS],
    },
    "faiss-ivfpqfs": {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": f} for p, f in _IVF_PQ_POINTS],
    },
    "scann": {
        "build": [{"num_leaves": None, "dims_per_block": 2, "anisotropic_quantization_threshold": 0.2}],
        "query": [
            {"leaves_to_search": leaves, "reorder": reorder}
            for leaves, reorder in (
                (2, 50),
                (4, 50),
                (8, 60),
                (12, 80),
                (16, 100),
                (24, 120),
                (32, 150),
                (48, 200),
                (64, 250),
                (96, 300),
                (128, 400),
            )
        ],
    },
}

QUICK_GRIDS: dict[str, dict[str, Any]] = {
    "exact-numpy": {"build": [{}], "query": [{}]},
    "faiss-flat": {"build": [{}], "query": [{}]},
    "hnswlib": {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}},
    "hnswlib-mips": {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}},
    "nmslib-hnsw": {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}},
    "nmslib-hnsw-mips": {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}},
    "faiss-hnsw": {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}},
    "faiss-hnsw-sq8": {
        "build": [{"M": 8, "ef_construction": 50}],
        "query": [{"ef": e, "k_factor": 4} for e in (10, 40, 160)],
    },
    "usearch": {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}},
    "annoy": {"build": [{"n_trees": 10}], "query": {"search_k": [100, 1000, 10_000]}},
    "annoy-dot": {"build": [{"n_trees": 10}], "query": {"search_k": [100, 1000, 10_000]}},
    "numpy-lsh": {"build": [{"tables": 8, "bits": 8}], "query": {"probes": [1, 8, 64]}},
    "faiss-lsh": {"build": [{"n_bits": 128}], "query": {"k_factor": [1, 10, 100]}},
    "faiss-pq": {"build": [{"dims_per_code": 4}], "query": {"k_factor": [1, 10, 100]}},
    "faiss-ivf": {"build": [{"nlist": None}], "query": {"nprobe": [1, 4, 16]}},
    "faiss-ivfpq": {
        "build": [{"nlist": None, "dims_per_code": 4}],
        "query": [{"nprobe": p, "k_factor": 10} for p in (1, 4, 16)],
    },
    "faiss-ivfpqfs": {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": 10} for p in (1, 4, 16)],
    },
    "scann": {
        "build": [{"num_leaves": None, "dims_per_block": 2}],
        "query": [{"leaves_to_search": s, "reorder": 100} for s in (1, 4, 16)],
    },
}


def grid_for(name: str, grids: Mapping[str, Mapping] | None = None) -> Mapping:
    """The grid of method ``name``: from ``grids`` if it has one, else :data:`GRIDS`."""
    if grids is not None and name in grids:
        return grids[name]
    if name in GRIDS:
        return GRIDS[name]
    raise ValueError(f"no parameter grid for method {name!r}; give one in grids={{{name!r}: ...}}")


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
