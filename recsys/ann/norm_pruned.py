"""Exact maximum-inner-product search that reads only the items that can still make the list.

A recommender's item vectors are not spread evenly: their lengths follow popularity (notebook
04), and a user's best items are mostly long ones. Two bounds turn that into an exact search
that stops early:

1. **Length (Cauchy-Schwarz).** An item ``x`` scores at most ``|q| |x|`` for the query ``q``.
   Sort the items by length, longest first, cut them into buckets and scan: once ``|q|`` times
   the longest length of the next bucket falls below the k-th best score found so far, no item
   left can enter the list, and the scan stops (inside a cell, whose items are sorted longest
   first too, the same test ends the cell). This is the LENGTH bound of LEMP (Teflioudi,
   Gemulla and Mykytiuk, SIGMOD 2015) and the first bound of FEXIPRO (Li et al., SIGMOD 2017).
2. **Direction (a cone per cell).** Inside a bucket, items are grouped by direction into cells.
   A cell has a unit centre ``c`` and a half-angle ``a``, the largest angle between ``c`` and a
   member, so every member's angle to ``q`` is at least ``angle(q, c) - a``, and its score at most
   ``|q| max|x| cos(max(0, angle(q, c) - a))``, or ``|q| min|x|`` times that cosine when it is
   negative (every member points away from ``q``, and a longer one scores lower). A cell whose
   bound cannot beat the k-th best score is skipped without reading its items. (LEMP bounds the angle with per-coordinate tests; the
   cone is the bound of cone trees, Ram and Gray, KDD 2012, and costs one inner product per cell.)

Both bounds are exact: the list equals brute force's, ties included (equal scores: smaller item
index first, as :class:`~recsys.ann.exact.BruteForce` orders them). Scores are accumulated in
float64, and each bound carries a margin of ``1e-6 |q| max|x|``, far above the rounding error of
a float64 inner product, so rounding cannot prune an item that belongs in the list.

The approximate variant trades that guarantee for speed with two query knobs: ``epsilon`` prunes
a bucket or cell when ``(1 - epsilon)`` times its bound falls below the k-th best score (0: exact),
and ``budget`` stops after scoring that share of the catalogue (1: no limit). Neither promises a
recall; the benchmark measures it.

    index = NormPruned(metric="ip", bucket_size=1024, directions=32).fit(item_vectors)
    index.batch_query(user_vectors, 10)
    index.scored_share_            # per query of the last call: the share of items it scored
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from recsys.ann.base import ANNIndex, Conformance, thread_count
from recsys.ann.registry import register
from recsys.checks import check_integer, check_number

#: Added to every bound's cosine: covers the rounding of float64 inner products (about
#: d * 1.1e-16 of |q| |x|) and of the cones' sines (at most about 1.5e-8), for any dimension
#: below 10^9. A bound looser by a millionth prunes as much.
_MARGIN = 1e-6


def spherical_centres(directions: np.ndarray, n_centres: int, *, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """``n_centres`` unit directions spread over the rows of ``directions`` (unit vectors or
    zero rows): spherical k-means, started from distinct rows drawn with ``seed``, each centre
    the normalised mean of the rows nearest to it in angle. Returns (n_centres, d) float64;
    fewer rows than centres gives one centre per row."""
    rng = np.random.default_rng(seed)
    n = directions.shape[0]
    n_centres = min(check_integer("n_centres", n_centres, 1), n)
    centres = directions[rng.choice(n, size=n_centres, replace=False)].astype(np.float64)
    for _ in range(check_integer("iterations", iterations, 0)):
        nearest = np.argmax(directions @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, directions)
        lengths = np.linalg.norm(sums, axis=1)
        kept = lengths > 0  # a centre nobody chose keeps its place
        centres[kept] = sums[kept] / lengths[kept, None]
    return centres


@numba.njit(cache=True, fastmath=True)
def _dot(q, x):
    total = 0.0
    for j in range(q.shape[0]):
        total += np.float64(q[j]) * np.float64(x[j])
    return total


@numba.njit(cache=True)
def _is_seen(seen, item):
    """Is ``item`` in ``seen`` (sorted item ids)? A binary search."""
    if seen.shape[0] == 0:
        return False
    at = np.searchsorted(seen, item)
    return at < seen.shape[0] and seen[at] == item


@numba.njit(cache=True)
def _search(q, layout, k, epsilon, max_scored, seen, out_ids):
    """One query: fills ``out_ids`` (k,) best first; returns the number of items scored.

    ``layout`` is the index's arrays (see ``NormPruned._layout``), in the order unpacked here;
    ``seen`` holds sorted item ids that are never candidates (skipped before they are scored)."""
    (
        X,
        item_ids,
        item_norm,
        bucket_cells,
        bucket_norm,
        cell_starts,
        cell_norm,
        cell_min_norm,
        centres,
        cone_cos,
        cone_sin,
    ) = layout
    q_norm = np.sqrt(_dot(q, q))
    best_scores = np.full(k, -np.inf)
    best_ids = np.full(k, -1, dtype=np.int64)
    filled = 0
    scored = 0
    keep = 1.0 - epsilon
    for b in range(bucket_norm.shape[0]):
        if filled == k and keep * q_norm * bucket_norm[b] * (1.0 + _MARGIN) < best_scores[k - 1]:
            break  # lengths only fall from here: nothing left can enter the list
        for c in range(bucket_cells[b], bucket_cells[b + 1]):
            if scored >= max_scored:
                break
            if filled == k:
                # the largest cosine any member can have with q, from the cell's cone
                cos_qc = _dot(q, centres[c]) / q_norm if q_norm > 0.0 else 0.0
                cos_qc = min(1.0, max(-1.0, cos_qc))
                if cos_qc >= cone_cos[c]:
                    cos_bound = 1.0
                else:
                    cos_bound = cos_qc * cone_cos[c] + np.sqrt(1.0 - cos_qc * cos_qc) * cone_sin[c]
                cos_bound += _MARGIN
                # the most a member can score: the longest member if the cosine can be positive,
                # the shortest if every member points away from q (a negative cosine shrinks with length)
                reach = cell_norm[c] if cos_bound >= 0.0 else cell_min_norm[c]
                if keep * q_norm * reach * cos_bound < best_scores[k - 1]:
                    continue
            for i in range(cell_starts[c], cell_starts[c + 1]):
                if filled == k and keep * q_norm * item_norm[i] * (1.0 + _MARGIN) < best_scores[k - 1]:
                    break  # a cell's items are sorted longest first: the rest of it cannot enter either
                item = item_ids[i]
                if _is_seen(seen, item):
                    continue
                score = _dot(q, X[i])
                scored += 1
                if filled == k and (
                    score < best_scores[k - 1] or (score == best_scores[k - 1] and item > best_ids[k - 1])
                ):
                    continue
                # insert in order: higher score first, equal scores by smaller item index
                position = filled if filled < k else k - 1
                while position > 0 and (
                    score > best_scores[position - 1]
                    or (score == best_scores[position - 1] and item < best_ids[position - 1])
                ):
                    if position < k:
                        best_scores[position] = best_scores[position - 1]
                        best_ids[position] = best_ids[position - 1]
                    position -= 1
                best_scores[position] = score
                best_ids[position] = item
                if filled < k:
                    filled += 1
        if scored >= max_scored:
            break  # the budget is spent
    out_ids[:] = best_ids
    return scored


@numba.njit(cache=True)
def _search_all(Q, layout, k, epsilon, max_scored, seen_indptr, seen_indices, out_ids, out_scored):
    for r in range(Q.shape[0]):
        seen = seen_indices[seen_indptr[r] : seen_indptr[r + 1]]
        out_scored[r] = _search(Q[r], layout, k, epsilon, max_scored, seen, out_ids[r])


@numba.njit(cache=True, parallel=True)
def _search_all_parallel(Q, layout, k, epsilon, max_scored, seen_indptr, seen_indices, out_ids, out_scored):
    for r in numba.prange(Q.shape[0]):  # queries are independent: the same lists as _search_all
        seen = seen_indices[seen_indptr[r] : seen_indptr[r + 1]]
        out_scored[r] = _search(Q[r], layout, k, epsilon, max_scored, seen, out_ids[r])


@register
class NormPruned(ANNIndex):
    """Exact inner-product search with length buckets and direction cones (see the module docstring).

    Build parameters: ``bucket_size`` (items per length bucket) and ``directions`` (the number
    of spherical k-means centres that group each bucket's items into cells), ``seed`` (the
    k-means start). Query knobs: ``epsilon`` and ``budget`` (0 and 1: exact). Serves ``ip``
    natively and ``cosine`` on normalised vectors (all lengths equal: only the cones prune).
    :meth:`~recsys.ann.base.ANNIndex.set_num_threads` spreads a batch's queries over threads (the
    same lists: queries are independent); a single query runs on one. After each query call, :attr:`scored_share_` holds the share of the catalogue each
    query scored (an array, one value per query).
    """

    name = "norm-pruned"
    family = "pruning"
    native_metrics = ("ip",)
    supported_metrics = ("ip", "cosine")
    query_params = ("epsilon", "budget")
    grid = {
        "build": [{"bucket_size": 1024, "directions": 32}],
        "query": [{"epsilon": e} for e in (0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0)],
    }
    quick_grid = {"build": [{"bucket_size": 256, "directions": 16}], "query": [{"epsilon": e} for e in (0.3, 0.0)]}
    conformance = Conformance({"bucket_size": 128, "directions": 8}, [{"epsilon": 0.5}, {"epsilon": 0.0}], 1.0)

    def __init__(self, metric="ip", bucket_size: int = 1024, directions: int = 32, seed: int = 0):
        super().__init__(
            metric,
            bucket_size=check_integer("bucket_size", bucket_size, 1),
            directions=check_integer("directions", directions, 1),
            seed=check_integer("seed", seed, 0),
        )
        self.query_arguments = {"epsilon": 0.0, "budget": 1.0}

    def _set_query_arguments(self, epsilon: float = 0.0, budget: float = 1.0) -> None:
        if check_number("epsilon", epsilon, 0.0, 1.0) == 1.0:
            raise ValueError("epsilon must be below 1 (at 1 every bound is zero and nothing is read); 0 is exact")
        if check_number("budget", budget, 0.0, 1.0) == 0.0:
            raise ValueError("budget is the share of the catalogue a query may score: above 0, at most 1 (1: no limit)")

    def _fit(self, X: np.ndarray) -> None:
        size, n_centres, seed = (self.build_params[p] for p in ("bucket_size", "directions", "seed"))
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        order = np.lexsort((np.arange(len(X)), -norms))  # longest first; equal lengths by index
        directions = np.divide(X, norms[:, None], out=np.zeros(X.shape), where=norms[:, None] > 0)
        centres = spherical_centres(directions, n_centres, seed=seed)
        nearest = np.argmax(directions @ centres.T, axis=1)
        cells, bucket_cells = [], [0]
        for start in range(0, len(X), size):
            bucket = order[start : start + size]
            for group in np.unique(nearest[bucket]):
                members = bucket[nearest[bucket] == group]
                cells.append(members[np.argsort(-norms[members], kind="stable")])
            bucket_cells.append(len(cells))
        self._item_ids = np.concatenate(cells).astype(np.int64)
        self._X = np.ascontiguousarray(X[self._item_ids])
        self._item_norm = norms[self._item_ids]
        self._cell_starts = np.cumsum([0] + [len(c) for c in cells]).astype(np.int64)
        self._bucket_cells = np.asarray(bucket_cells, dtype=np.int64)
        self._cell_norm = np.array([norms[c].max() for c in cells])
        self._cell_min_norm = np.array([norms[c].min() for c in cells])
        self._bucket_norm = np.array(
            [self._cell_norm[a:b].max() for a, b in zip(bucket_cells[:-1], bucket_cells[1:], strict=True)]
        )
        self._centres = np.zeros((len(cells), X.shape[1]))
        self._cone_cos = np.ones(len(cells))
        for c, members in enumerate(cells):
            mean = directions[members].sum(axis=0)
            length = np.linalg.norm(mean)
            if length == 0:  # zero vectors only, or directions that cancel: the cone is the sphere
                self._cone_cos[c] = -1.0
                continue
            self._centres[c] = mean / length
            self._cone_cos[c] = max(-1.0, float((directions[members] @ self._centres[c]).min()) - 1e-12)
            if not np.all(norms[members] > 0):  # a zero vector has no direction: make no angle claim
                self._cone_cos[c] = -1.0
        self._cone_sin = np.sqrt(np.maximum(0.0, 1.0 - self._cone_cos**2))
        self.n_cells_ = len(cells)
        self.n_buckets_ = len(bucket_cells) - 1

    def _run(self, Q: np.ndarray, k: int, seen: sp.csr_matrix | None = None) -> np.ndarray:
        epsilon = float(self.query_arguments.get("epsilon", 0.0))
        budget = float(self.query_arguments.get("budget", 1.0))
        max_scored = max(1, int(np.ceil(budget * self.n_items_))) if budget < 1.0 else self.n_items_
        out = np.full((Q.shape[0], k), -1, dtype=np.int64)
        scored = np.zeros(Q.shape[0], dtype=np.int64)
        Q = Q.astype(self._X.dtype, copy=False)
        if seen is None:
            indptr, indices = np.zeros(Q.shape[0] + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        else:
            seen = seen.tocsr().copy()
            seen.sort_indices()
            indptr, indices = seen.indptr.astype(np.int64), seen.indices.astype(np.int64)
        threads = min(thread_count(self.num_threads), numba.config.NUMBA_NUM_THREADS)
        if threads == 1 or Q.shape[0] == 1:
            _search_all(Q, self._layout(), k, epsilon, max_scored, indptr, indices, out, scored)
        else:
            previous = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                _search_all_parallel(Q, self._layout(), k, epsilon, max_scored, indptr, indices, out, scored)
            finally:
                numba.set_num_threads(previous)
        self.scored_share_ = scored / self.n_items_
        return out

    def batch_query_unseen(self, Q, k: int, seen) -> np.ndarray:
        """:meth:`batch_query` with each query's ``seen`` items (row ``r`` of the CSR ``seen``, one
        row per query, ``n_items_`` columns) never candidates: the k best of the rest, best first.

        The seen items are skipped inside the search, before they are scored, so the stopping
        bounds still compare with the k-th best *unseen* score: asking an index for ``k`` plus
        the number of seen items and dropping them afterwards (what an index without this method
        needs) reads more of the catalogue. Exact at ``epsilon=0, budget=1``, ties included.
        """
        Q, k = self._prepare_queries(Q, k)
        if not sp.issparse(seen) or seen.shape != (Q.shape[0], self.n_items_):
            raise ValueError(
                f"seen must be a sparse matrix of shape (n_queries, n_items) = {(Q.shape[0], self.n_items_)}, "
                f"got {getattr(seen, 'shape', type(seen).__name__)}"
            )
        return self._run(Q, k, seen)

    def _layout(self) -> tuple:
        """The arrays the search reads, in the order ``_search`` unpacks them."""
        return (
            self._X, self._item_ids, self._item_norm, self._bucket_cells, self._bucket_norm, self._cell_starts,
            self._cell_norm, self._cell_min_norm, self._centres, self._cone_cos, self._cone_sin,
        )  # fmt: skip

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return self._run(q[None, :], k)[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        return self._run(Q, k)

    def _memory_bytes(self) -> int:
        return sum(a.nbytes for a in self._layout())
