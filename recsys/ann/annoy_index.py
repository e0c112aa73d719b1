"""Annoy (Spotify): a forest of random-projection trees.

Each tree splits the items recursively by the hyperplane halfway between two randomly chosen
items until a leaf holds at most about ``2 d`` of them; ``n_trees`` independent trees are built.
A query descends every tree at once through a priority queue ordered by its distance to the
splits, collecting leaves until it holds ``search_k`` candidates, and ranks those exactly. Build
knob: ``n_trees``; query knob: ``search_k`` (``-1`` = annoy's default, ``n_trees * k``).

Two adapters: :class:`Annoy` serves inner product as ``angular`` search on MIPS-transformed
vectors; :class:`AnnoyDot` uses annoy's own ``dot`` metric, which applies the same transform
inside the library. Builds are reproducible with a fixed seed on one thread. Memory is the size of
annoy's own index file: after the build the index is saved to a temporary file and memory-mapped
from it, as annoy serves indexes in production (the file is unlinked at once; the mapping stays).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, require, thread_count
from recsys.ann.registry import register
from recsys.checks import check_integer

__all__ = ["Annoy", "AnnoyDot"]

_METRICS = {"ip": "dot", "cosine": "angular", "l2": "euclidean"}


@register
class Annoy(ANNIndex):
    """Annoy on MIPS-transformed vectors (``angular``). Query knob: ``search_k``."""

    name = "annoy"
    family = "tree"
    library = "annoy"
    requirement = "annoy>=1.17"
    native_metrics = ("cosine", "l2")
    transform_space = "cosine"
    query_params = ("search_k",)
    memory_source = "library"
    parallel_build_is_deterministic = False
    grid = {
        "build": [{"n_trees": 20}],
        "query": {"search_k": [500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]},
    }
    quick_grid = {"build": [{"n_trees": 10}], "query": {"search_k": [100, 1000, 10_000]}}
    conformance = Conformance({"n_trees": 10}, [{"search_k": 50}, {"search_k": 500}, {"search_k": 5000}], 0.98)

    def __init__(self, metric="ip", n_trees: int = 50, random_state: int = 0):
        super().__init__(metric, n_trees=n_trees, random_state=random_state)
        self.n_trees = check_integer("n_trees", n_trees, 1)
        self.random_state = check_integer("random_state", random_state, 0)

    def _fit(self, X: np.ndarray) -> None:
        annoy = require("annoy")
        X = np.asarray(X, dtype=np.float32)
        index = annoy.AnnoyIndex(X.shape[1], _METRICS[self.space])
        index.set_seed(self.random_state)
        for i, row in enumerate(X):
            index.add_item(i, row)
        index.build(self.n_trees, n_jobs=thread_count(self.num_threads))
        handle, path = tempfile.mkstemp(suffix=".ann")
        os.close(handle)
        try:
            index.save(path)  # unloads, then memory-maps the saved file
            self._file_bytes = os.path.getsize(path)
        finally:
            os.unlink(path)
        self._index = index
        self._search_k = -1

    def _set_query_arguments(self, search_k=-1) -> None:
        search_k = check_integer("search_k", search_k, -1)
        self._search_k = search_k

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return self._index.get_nns_by_vector(q, k, search_k=self._search_k)

    def _memory_bytes(self) -> int:
        return self._file_bytes


@register
class AnnoyDot(Annoy):
    """Annoy's own ``dot`` metric (inner product, transformed inside the library)."""

    name = "annoy-dot"
    native_metrics = ("ip", "cosine", "l2")
    conformance = Conformance({"n_trees": 10}, [{"search_k": 50}, {"search_k": 500}, {"search_k": 5000}], 0.98)
