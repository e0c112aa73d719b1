"""ScaNN (Google): a k-means tree, anisotropic vector quantisation, and exact re-ranking.

Built for maximum inner product search (Guo et al., ICML 2020). Items are grouped into
``num_leaves`` k-means cells; each item is stored as product-quantised codes (``dims_per_block``
dimensions per 4-bit code) learnt with an *anisotropic* loss: the error parallel to the item
vector, the part that changes inner products with the queries that score it highly, is penalised
more than the orthogonal part (``anisotropic_quantization_threshold`` sets where that starts). A
query scores the ``leaves_to_search`` best cells with the codes, keeps ``reorder`` candidates and
re-ranks them with the float vectors. Query knobs: ``leaves_to_search`` and ``reorder``.

ScaNN's wheels exist for Linux x86-64 only (Python 3.11, 3.12); elsewhere the adapter reports it
is unavailable. Its C++ logs to stderr through absl; builds run with that output silenced.
Memory is the library's own figure: the size of the serialised searcher. ScaNN's builds are not
reproducible (its k-means tree differs from build to build, even on one training thread), so its
recall figures vary slightly between runs.
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, quiet_native_output, require, thread_count
from recsys.ann.registry import register
from recsys.checks import check_integer, check_number

__all__ = ["ScaNN"]


@register
class ScaNN(ANNIndex):
    """ScaNN with ``dot_product`` (ip, and cosine on normalised vectors) or ``squared_l2``."""

    name = "scann"
    family = "quantization"
    library = "scann"
    requirement = "scann>=1.3; sys_platform == 'linux' and platform_machine == 'x86_64' and python_version < '3.13'"
    native_metrics = ("ip", "l2")
    query_params = ("leaves_to_search", "reorder")
    memory_source = "library"
    parallel_build_is_deterministic = False
    #: ScaNN's k-means tree differs from build to build even on one training thread with its fixed
    #: clustering seeds (measured with scann 1.4.2): its recall figures vary by about 0.01.
    reproducible_build = False
    #: Its batched search (``search_batched``) now and then ranks a near-tie differently from one
    #: ``search`` per query: 8 of 200 ids differed in 1 of about 16 test runs here (scann 1.4.2).
    batch_equals_single = False
    grid = {
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
    }
    quick_grid = {
        "build": [{"num_leaves": None, "dims_per_block": 2}],
        "query": [{"leaves_to_search": s, "reorder": 100} for s in (1, 4, 16)],
    }
    conformance = Conformance(
        {"num_leaves": 40}, [{"leaves_to_search": 1, "reorder": 30}, {"leaves_to_search": 20, "reorder": 100}], 0.95
    )

    def __init__(
        self,
        metric="ip",
        num_leaves: int | None = None,
        dims_per_block: int = 2,
        anisotropic_quantization_threshold: float = 0.2,
        training_sample_size: int = 100_000,
    ):
        super().__init__(
            metric,
            num_leaves=num_leaves,
            dims_per_block=dims_per_block,
            anisotropic_quantization_threshold=anisotropic_quantization_threshold,
            training_sample_size=training_sample_size,
        )
        self.num_leaves = None if num_leaves is None else check_integer("num_leaves", num_leaves, 1)
        self.dims_per_block = check_integer("dims_per_block", dims_per_block, 1)
        self.anisotropic_quantization_threshold = check_number(
            "anisotropic_quantization_threshold", anisotropic_quantization_threshold
        )
        self.training_sample_size = check_integer("training_sample_size", training_sample_size, 1)

    def _fit(self, X: np.ndarray) -> None:
        scann = require("scann")
        X = np.ascontiguousarray(X, dtype=np.float32)
        n = X.shape[0]
        leaves = self.num_leaves or max(1, int(round(math.sqrt(n))))
        if leaves > n:
            raise ValueError(f"num_leaves={leaves} is larger than the catalogue ({n} items)")
        self.num_leaves_ = leaves
        measure = "squared_l2" if self.space == "l2" else "dot_product"
        builder = scann.scann_ops_pybind.builder(X, 10, measure)
        builder.set_n_training_threads(thread_count(self.num_threads))
        builder = builder.tree(
            num_leaves=leaves,
            num_leaves_to_search=min(leaves, 10),
            training_sample_size=min(n, self.training_sample_size),
        )
        builder = builder.score_ah(
            self.dims_per_block, anisotropic_quantization_threshold=self.anisotropic_quantization_threshold
        )
        builder = builder.reorder(100)
        with quiet_native_output():
            self._searcher = builder.build()
        self._apply_threads()
        self._leaves, self._reorder = min(leaves, 10), 100

    def _apply_threads(self) -> None:
        self._searcher.set_num_threads(thread_count(self.num_threads))

    def _set_query_arguments(self, leaves_to_search=10, reorder=100) -> None:
        self._leaves = check_integer("leaves_to_search", leaves_to_search, 1)
        self._reorder = check_integer("reorder", reorder, 1)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        ids, _ = self._searcher.search(
            q.astype(np.float32, copy=False),
            final_num_neighbors=k,
            pre_reorder_num_neighbors=max(k, self._reorder),
            leaves_to_search=min(self._leaves, self.num_leaves_),
        )
        return ids

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        search = self._searcher.search_batched if self.num_threads == 1 else self._searcher.search_batched_parallel
        ids, distances = search(
            Q.astype(np.float32, copy=False),
            final_num_neighbors=k,
            pre_reorder_num_neighbors=max(k, self._reorder),
            leaves_to_search=min(self._leaves, self.num_leaves_),
        )
        # the batched search pads rows that found fewer than k with id 0 and distance NaN (the
        # single search returns a shorter array): those slots are "not found", -1, not item 0
        ids = np.array(ids, dtype=np.int64)
        ids[np.isnan(np.asarray(distances))] = -1
        return ids

    def _memory_bytes(self) -> int:
        with tempfile.TemporaryDirectory() as folder, quiet_native_output():
            self._searcher.serialize(folder)
            return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
