"""Random-hyperplane locality-sensitive hashing in numpy: the lesson, vectorised to be usable.

**The idea** (Charikar 2002). Draw a random direction ``h``; the sign of ``<h, x>`` says on which
side of the hyperplane ``h^T x = 0`` a vector lies. Two vectors at angle ``theta`` fall on the
same side with probability ``1 - theta / pi``, so ``b`` such signs form a ``b``-bit code that
near vectors (small angle) share far more often than distant ones. Items with the same code share
a *bucket*; a query only scores the items in its own bucket.

**Why several tables.** With ``b`` bits the chance that the true best item shares the query's
bucket is ``(1 - theta / pi)^b``: long codes make small buckets (fast) but miss good items often.
``tables`` independent hash tables, each with its own hyperplanes, give the item ``tables``
chances: it is found if it shares the query's bucket in any of them.

**Why multi-probe** (Lv et al., VLDB 2007). Instead of more tables (more memory), also look in
the buckets *next to* the query's own: those whose code differs in the bits the query is least
sure of, the hyperplanes it lies closest to (smallest ``|<h, q>|``). The perturbed codes are
visited in order of the total margin of the flipped bits, so the likeliest buckets come first.
``probes`` (buckets looked up per table, the query's own included) is the accuracy knob.

Candidates from all probed buckets are re-ranked with the exact vectors. Hyperplane signs only
see angles: cosine is served on normalised vectors, inner product through the MIPS transform
(after which every item has the same norm, so the best angle is the best inner product).

**Norm ranges** (Yan et al., "Norm-Ranging LSH for Maximum Inner Product Search", NeurIPS 2018).
With one transform for the whole catalogue, ``M`` is the *largest* norm, and an item of typical
(much smaller) norm gets an extra coordinate close to ``M``: most items then point almost along
the new axis, fall on the same side of nearly every hyperplane and share one giant bucket (on
recommender factors, most of the catalogue). With ``norm_ranges = R`` the items are split into
``R`` ranges of norm (equal counts) and each range is transformed with its own largest norm, so
the extra coordinate stays small and the angles that matter survive; the ranges share the
hyperplanes and a query probes every range. ``norm_ranges=1`` is the plain transform.
"""

from __future__ import annotations

import numpy as np

from recsys.ann.base import ANNIndex, Conformance
from recsys.ann.registry import register
from recsys.checks import check_integer

__all__ = ["RandomHyperplaneLSH"]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])`` without a loop."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(total)


@register
class RandomHyperplaneLSH(ANNIndex):
    """``tables`` hash tables of ``bits``-bit random-hyperplane codes, multi-probe, exact re-rank.

    Build knobs: ``tables`` and ``bits``; query knob: ``probes`` (buckets per table, >= 1).
    ``flip_bits`` bounds which bits multi-probe may flip (the least certain ones).
    """

    name = "numpy-lsh"
    family = "lsh"
    native_metrics = ()
    supported_metrics = ("ip", "cosine")
    transform_space = "cosine"
    query_params = ("probes",)
    grid = {"build": [{"tables": 16, "bits": 12}], "query": {"probes": [1, 2, 4, 8, 16]}}
    quick_grid = {"build": [{"tables": 8, "bits": 8}], "query": {"probes": [1, 8, 64]}}
    conformance = Conformance({"tables": 8, "bits": 8}, [{"probes": 1}, {"probes": 8}, {"probes": 128}], 0.95)

    def __init__(
        self,
        metric="ip",
        tables: int = 16,
        bits: int = 14,
        norm_ranges: int = 1,
        flip_bits: int = 10,
        random_state: int = 0,
    ):
        super().__init__(
            metric, tables=tables, bits=bits, norm_ranges=norm_ranges, flip_bits=flip_bits, random_state=random_state
        )
        self.tables = check_integer("tables", tables, 1)
        self.norm_ranges = check_integer("norm_ranges", norm_ranges, 1, 256)
        self.bits = check_integer("bits", bits, 1, 40)
        self.flip_bits = check_integer("flip_bits", flip_bits, 1, 16)
        self.random_state = check_integer("random_state", random_state, 0)
        self.probes = 1

    # -- hashing --------------------------------------------------------------------------------

    def hash(self, vectors: np.ndarray) -> np.ndarray:
        """The bucket code of each vector in each table: (n, tables) int64 (after any transform)."""
        return self._codes(np.asarray(vectors, dtype=np.float32) @ self.planes_)

    def _codes(self, projections: np.ndarray) -> np.ndarray:
        signs = (projections > 0).reshape(projections.shape[0], self.tables, self.bits)
        return (signs.astype(np.int64) << np.arange(self.bits, dtype=np.int64)).sum(axis=-1)

    def probe_codes(self, projection: np.ndarray, probes: int) -> np.ndarray:
        """The ``probes`` codes to look up in each table for one query: (tables, probes).

        Column 0 is the query's own bucket; the others flip subsets of its least certain bits, in
        increasing order of the summed margins ``|<h, q>|`` of the flipped bits.
        """
        P = projection.reshape(self.tables, self.bits)
        own = self._codes(projection[None, :])[0]
        if probes <= 1:
            return own[:, None]
        margins = np.abs(P)
        m = min(self.bits, self.flip_bits)
        least = np.argsort(margins, axis=1, kind="stable")[:, :m]  # (tables, m) least certain bits
        subsets = self._subsets(m)  # (2^m - 1, m) 0/1: every non-empty set of bits to flip
        cost = np.take_along_axis(margins, least, axis=1) @ subsets.T  # (tables, 2^m - 1)
        n_flips = min(probes - 1, subsets.shape[0])
        chosen = np.argsort(cost, axis=1, kind="stable")[:, :n_flips]
        flips = (subsets[chosen] * (np.int64(1) << least)[:, None, :]).sum(axis=-1)  # (tables, n_flips)
        return np.concatenate([own[:, None], own[:, None] ^ flips], axis=1)

    def _subsets(self, m: int) -> np.ndarray:
        if getattr(self, "_subsets_m", None) != m:
            masks = np.arange(1, 2**m, dtype=np.int64)
            self._subset_table = ((masks[:, None] >> np.arange(m)) & 1).astype(np.int64)
            self._subsets_m = m
        return self._subset_table

    @property
    def label(self) -> str:
        if self.transformed and self.norm_ranges > 1:
            return f"{self.name}(ip: {self.norm_ranges} norm ranges, MIPS->cosine)"
        return super().label

    # -- building and searching -----------------------------------------------------------------

    def _transform_items(self, X: np.ndarray) -> np.ndarray:
        """The MIPS transform, range by range of norm (``norm_ranges`` ranges of equal counts)."""
        norms = np.linalg.norm(X.astype(np.float64), axis=1)
        order = np.argsort(norms, kind="stable")
        self.range_of_ = np.empty(X.shape[0], dtype=np.int64)
        for r, members in enumerate(np.array_split(order, self.norm_ranges)):
            self.range_of_[members] = r
        out = np.empty((X.shape[0], X.shape[1] + 1), dtype=X.dtype)
        out[:, :-1] = X
        for r in range(self.norm_ranges):
            members = self.range_of_ == r
            if members.any():
                top = norms[members].max()
                out[members, -1] = np.sqrt(np.maximum(top**2 - norms[members] ** 2, 0.0))
        self.max_norm_ = float(norms.max())
        return out

    def _fit(self, X: np.ndarray) -> None:
        X = np.ascontiguousarray(X, dtype=np.float32)
        rng = np.random.default_rng(self.random_state)
        self.planes_ = rng.standard_normal((X.shape[1], self.tables * self.bits)).astype(np.float32)
        codes = self.hash(X)  # (n, tables)
        ranges = (
            getattr(self, "range_of_", np.zeros(X.shape[0], dtype=np.int64))
            if self.transformed
            else np.zeros(X.shape[0], dtype=np.int64)
        )
        self._n_ranges = int(ranges.max()) + 1
        # one sorted array of (range, table, code) keys: key = (range * tables + table) * 2^bits + code
        slots = ranges[:, None] * self.tables + np.arange(self.tables, dtype=np.int64)[None, :]
        keys = (codes + (slots << self.bits)).T.ravel()
        order = np.argsort(keys, kind="stable")
        self._item_of = np.tile(np.arange(X.shape[0], dtype=np.int32), self.tables)[order]
        self._keys, self._starts, self._counts = np.unique(keys[order], return_index=True, return_counts=True)
        self._X = X

    def _set_query_arguments(self, probes=1) -> None:
        self.probes = check_integer("probes", probes, 1)

    def candidates(self, q: np.ndarray, probes: int | None = None) -> np.ndarray:
        """Indices of the items in the probed buckets of every table (sorted, each once)."""
        projection = np.asarray(q, dtype=np.float32) @ self.planes_
        codes = self.probe_codes(projection, self.probes if probes is None else probes)  # (tables, probes)
        slots = np.arange(self._n_ranges * self.tables, dtype=np.int64).reshape(self._n_ranges, self.tables)
        wanted = (codes[None, :, :] + (slots << self.bits)[:, :, None]).ravel()
        pos = np.searchsorted(self._keys, wanted)
        inside = pos < self._keys.size
        pos, wanted = pos[inside], wanted[inside]
        pos = pos[self._keys[pos] == wanted]  # the buckets that exist
        return np.unique(self._item_of[_ranges(self._starts[pos], self._counts[pos])])

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        found = self.candidates(q)
        if found.size == 0:
            return found
        scores = self._X[found] @ q.astype(np.float32, copy=False)
        if found.size > k:
            top = np.argpartition(-scores, k - 1)[:k]
            found, scores = found[top], scores[top]
        return found[np.lexsort((found, -scores))]

    def _memory_bytes(self) -> int:
        arrays = (self.planes_, self._X, self._item_of, self._keys, self._starts, self._counts)
        return sum(a.nbytes for a in arrays)
