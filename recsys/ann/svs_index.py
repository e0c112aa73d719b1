"""Intel's Scalable Vector Search (SVS): the Vamana graph, on float32 vectors or on LVQ codes.

**Vamana** (Subramanya et al., "DiskANN", NeurIPS 2019) is a flat graph (no layers, unlike HNSW):
every item keeps at most ``graph_max_degree`` out-links, chosen by a greedy search of width
``window_size`` from the medoid and then thinned by the *alpha* rule, which keeps a candidate only
if no kept neighbour already covers it (``alpha > 1`` for distances, ``alpha < 1`` for
similarities; SVS's defaults, used here, are 1.2 for ``l2`` and 0.95 for inner product). A query
walks greedily from the medoid keeping the ``search_window_size`` best candidates: that is the
accuracy knob (the ``ef`` of HNSW; SVS widens it to ``k`` when ``k`` is larger).

**LVQ** (Aguerrebere et al., "Similarity search in the blink of an eye with compressed indices",
VLDB 2023): locally-adaptive vector quantisation. The mean vector is subtracted, then each vector
is scaled to its own min-max range and rounded to ``primary`` bits a dimension (4 or 8), with one
scale, one bias and a selector per vector (9 bytes). A two-level code adds the ``residual`` (4 or
8 bits a dimension) of that rounding: the graph is walked on the primary codes and the window is
re-ranked on primary + residual. SVS keeps no float32 vectors in an LVQ index, so there is no
re-ranking at full precision; with a residual, the re-ranking is at 12 or 16 bits. LVQ and LeanVec
are closed-source parts of the PyPI wheel and run on Intel CPUs only: elsewhere SVS prints "LVQ and
Leanvec functionality of SVS is not supported on non-Intel hardware" and *ends the process*
(``exit(1)`` in ``svs/cpuid.h``, not an exception), so :meth:`SVSVamanaLVQ.available` and the build
read the CPU vendor first and refuse with :class:`~recsys.ann.base.LibraryUnavailable`. The
float32 graph is open source and runs on any x86-64 CPU. 4-bit primaries use SVS's "Turbo"
layout, which pads the dimensions to a multiple of 128: at d = 64 a 4-bit primary takes as many
bytes as an 8-bit one (64 + 9), at d = 16 more than the float32 vector. LeanVec (a learned
dimension reduction before LVQ) is left out: at d = 64 it was both larger and less accurate than
LVQ here (LeanVec-32 on the 100,000-item mixture: 160 bytes a vector, recall@10 0.983 at window
1,280 against 0.995 for LVQ-4x8); it is made for vectors of hundreds of dimensions.

Inner product is native (``DistanceType.MIP``) and ranks correctly on recommender vectors whose
norms spread over orders of magnitude. On the 100,000-item mixture (d = 64, 500 queries; build
``graph_max_degree=32, window_size=64``) recall@10 climbs with ``search_window_size`` from 0.80
(10) to 0.95 (48), 0.99 (256) and 0.995 (1,024); LVQ-4x8 follows the float32 graph (0.953 at 48,
0.995 at 1,024), LVQ-8, with no re-ranking, levels off a little lower (0.949 at 48, 0.990 at
1,024). The MIPS transform searched as ``l2`` on the same graph was far worse (0.82 at 48, 0.98 at
1,024), so it is not used. Cosine is inner product on normalised vectors (normalised by the base
class: SVS's own cosine gives NaN distances for a zero vector and then ranks that item first for
every query); it reaches 0.95 at 96 and 1.00 at 1,024. ``l2`` is native but slow to converge on
these vectors (0.92 at 512, 0.95 at 1,024), as is hnswlib on the same vectors (M = 16: 0.85 at
ef 1,024).

Threads: ``num_threads`` goes to ``Vamana.build`` and to the index (``index.num_threads``) for
batched search; a single query is one query on one thread. SVS builds in batches whose searches
only read the graph, but back-edges are appended under per-vertex locks in the order threads
reach them: serial builds gave byte-identical graphs, two- and four-thread builds did not (up to
2,500 of 20,000 adjacency lists differed in order, up to 18 in content). One query per call gives
exactly the batch's answers. Memory: the sizes of the arrays the index holds (graph of
``graph_max_degree + 1`` uint32 a vertex, float32 data or LVQ codes with their layout's padding),
which match what ``index.save`` writes, headers aside.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tempfile

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, LibraryUnavailable, quiet_native_output, require, thread_count
from recsys.ann.grids import GRAPH_EF
from recsys.ann.registry import register
from recsys.checks import check_choice, check_integer, check_number

__all__ = ["SVSVamana", "SVSVamanaLVQ"]

#: SVS's distance for each metric the library searches (cosine: inner product on unit vectors).
_DISTANCES = {"ip": "MIP", "cosine": "MIP", "l2": "L2"}
#: SVS's own alpha defaults: prune harder than the nearest-first rule for a distance (> 1), more
#: gently for a similarity (< 1).
_DEFAULT_ALPHA = {"MIP": 0.95, "L2": 1.2}
#: The (primary, residual) bit pairs the wheel compiles LVQ for.
_LVQ_PAIRS = ((4, 0), (4, 4), (4, 8), (8, 0), (8, 8))
#: LVQ's per-vector constants: float32 scale and bias and a one-byte selector.
_LVQ_CONSTANT_BYTES = 9


def _svs():
    return require("svs", "scalable-vs")


@register
class SVSVamana(ANNIndex):
    """SVS's Vamana graph on float32 vectors; ``ip`` native (``MIP``). Query knob: ``search_window_size``."""

    name = "svs-vamana"
    family = "graph"
    library = "svs"
    requirement = "scalable-vs>=0.5; sys_platform == 'linux' and platform_machine == 'x86_64'"
    native_metrics = ("ip", "l2")  # cosine: the base class normalises, then inner product
    query_params = ("search_window_size",)
    memory_source = "arrays"
    parallel_build_is_deterministic = False
    grid = {
        "build": [{"graph_max_degree": 32, "window_size": 64}],
        "query": {"search_window_size": GRAPH_EF},
    }
    quick_grid = {
        "build": [{"graph_max_degree": 16, "window_size": 40}],
        "query": {"search_window_size": [10, 40, 160]},
    }
    conformance = Conformance(
        {"graph_max_degree": 16, "window_size": 40},
        [{"search_window_size": 10}, {"search_window_size": 40}, {"search_window_size": 200}],
        0.98,
    )

    def __init__(self, metric="ip", graph_max_degree: int = 32, window_size: int = 64, alpha: float | None = None):
        super().__init__(metric, graph_max_degree=graph_max_degree, window_size=window_size, alpha=alpha)
        self.graph_max_degree = check_integer("graph_max_degree", graph_max_degree, 2)
        self.window_size = check_integer("window_size", window_size, 1)
        self.alpha = None if alpha is None else check_number("alpha", alpha, 0, exclusive=True)

    # -- building -------------------------------------------------------------------------------

    def _build_parameters(self):
        svs = _svs()
        return svs.VamanaBuildParameters(
            graph_max_degree=self.graph_max_degree,
            window_size=self.window_size,
            alpha=self.alpha if self.alpha is not None else _DEFAULT_ALPHA[_DISTANCES[self.space]],
        )

    def _distance(self):
        return getattr(_svs().DistanceType, _DISTANCES[self.space])

    def _data(self, X: np.ndarray, directory: str):
        """What ``Vamana.build`` indexes: the float32 array itself (SVS keeps its own copy)."""
        return X

    def _fit(self, X: np.ndarray) -> None:
        svs = _svs()
        X = np.ascontiguousarray(X, dtype=np.float32)
        threads = thread_count(self.num_threads)
        with tempfile.TemporaryDirectory(prefix="recsys-svs-") as directory, quiet_native_output():
            index = svs.Vamana.build(self._build_parameters(), self._data(X, directory), self._distance(), threads)
        index.num_threads = threads
        index.search_window_size = 10
        self._index = index

    def _apply_threads(self) -> None:
        self._index.num_threads = thread_count(self.num_threads)

    # -- querying -------------------------------------------------------------------------------

    def _set_query_arguments(self, search_window_size=10) -> None:
        search_window_size = check_integer("search_window_size", search_window_size, 1)
        if hasattr(self, "_index"):
            self._index.search_window_size = search_window_size

    def _search(self, Q: np.ndarray, k: int) -> np.ndarray:
        ids, _ = self._index.search(np.ascontiguousarray(Q, dtype=np.float32), k)
        ids = np.asarray(ids).reshape(Q.shape[0], -1)
        found = ids.astype(np.int64)  # SVS's "no neighbour" (2**64 - 1) wraps to -1
        found[(ids >= self.n_items_) | (found < 0)] = -1
        return found

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return self._search(q[None, :], k)[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        return self._search(Q, k)

    # -- memory ---------------------------------------------------------------------------------

    def _data_bytes(self) -> int:
        return self.n_items_ * self._index.dimensions * 4

    def _memory_bytes(self) -> int:
        graph = self.n_items_ * (self.graph_max_degree + 1) * 4  # a degree and up to R uint32 links
        return graph + self._data_bytes()


@functools.cache
def _cpu_vendor() -> str | None:
    """The CPU's vendor string from /proc/cpuinfo (``"GenuineIntel"``, ``"AuthenticAMD"``), if found."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux, where the wheel does not exist
        return None
    return None  # pragma: no cover


def _lvq_unavailable() -> str | None:
    """``None`` where SVS's LVQ runs (Intel CPUs), else why not. Checked before SVS is asked: its
    own check (``svs::detail::check_cpuid``) does not raise, it ends the process with status 1."""
    vendor = _cpu_vendor()
    if vendor == "GenuineIntel":
        return None
    return (
        f"SVS's LVQ runs on Intel CPUs only and this one is {vendor or 'of unknown vendor'}; scalable-vs "
        "would end the process ('LVQ and Leanvec functionality of SVS is not supported on non-Intel hardware')"
    )


@register
class SVSVamanaLVQ(SVSVamana):
    """SVS's Vamana on LVQ codes (``primary`` bits, plus ``residual`` bits for re-ranking); ``ip`` native."""

    name = "svs-vamana-lvq"
    grid = {
        "build": [
            {"graph_max_degree": 32, "window_size": 64, "primary": 8, "residual": 0},
            {"graph_max_degree": 32, "window_size": 64, "primary": 4, "residual": 8},
        ],
        "query": {"search_window_size": GRAPH_EF},
    }
    quick_grid = {
        "build": [{"graph_max_degree": 16, "window_size": 40, "primary": 4, "residual": 8}],
        "query": {"search_window_size": [10, 40, 160]},
    }
    conformance = Conformance(
        {"graph_max_degree": 16, "window_size": 40, "primary": 4, "residual": 8},
        [{"search_window_size": 10}, {"search_window_size": 40}, {"search_window_size": 200}],
        0.98,
    )

    def __init__(
        self,
        metric="ip",
        graph_max_degree: int = 32,
        window_size: int = 64,
        alpha: float | None = None,
        primary: int = 4,
        residual: int = 8,
    ):
        super().__init__(metric, graph_max_degree, window_size, alpha)
        self.primary = check_choice("primary", check_integer("primary", primary), (4, 8))
        self.residual = check_choice("residual", check_integer("residual", residual), (0, 4, 8))
        if (self.primary, self.residual) not in _LVQ_PAIRS:
            pairs = ", ".join(f"{p}x{r}" for p, r in _LVQ_PAIRS)
            raise ValueError(f"SVS compiles LVQ for primary x residual bits {pairs}, not {primary}x{residual}")
        self.build_params.update(primary=self.primary, residual=self.residual)

    @classmethod
    def available(cls) -> str | None:
        return super().available() or _lvq_unavailable()

    def _data(self, X: np.ndarray, directory: str):
        """An LVQ loader over ``X`` written to ``directory`` (SVS compresses from a file only; the
        codes are made during the build and the file is not read again)."""
        reason = _lvq_unavailable()
        if reason:
            raise LibraryUnavailable(reason)
        svs = _svs()
        path = os.path.join(directory, "items.fvecs")
        svs.write_vecs(X, path)
        data = svs.VectorDataLoader(path, svs.DataType.float32, dims=X.shape[1])
        return svs.LVQLoader(data, primary=self.primary, residual=self.residual)

    def _data_bytes(self) -> int:
        d = self._index.dimensions
        # Turbo<lanes, elements> packs blocks of lanes * elements dimensions (the padding is stored)
        turbo = re.search(r"Turbo<(\d+), (\d+)>", getattr(self._index, "experimental_backend_string", ""))
        padded = math.ceil(d / (int(turbo[1]) * int(turbo[2]))) * int(turbo[1]) * int(turbo[2]) if turbo else d
        primary = math.ceil(padded * self.primary / 8) + _LVQ_CONSTANT_BYTES
        residual = math.ceil(d * self.residual / 8)
        return self.n_items_ * (primary + residual) + d * 4  # + the float32 mean vector
