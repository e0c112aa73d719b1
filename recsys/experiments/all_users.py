"""Every user's top-k at once, their seen items removed: the job a recommender runs every night.

An ANN benchmark times one query at a time. A recommender's batch job is different: it scores
*all* users against the whole catalogue, and a plain blocked matrix product, which reads every
item for every user but at the speed of the machine's BLAS, is the baseline any index must beat
("To Index or Not to Index: Optimizing Exact Maximum Inner Product Search", Abuzaid et al.,
ICDE 2019). Three ways to run the job, with the same output (``(n_users, k)`` int64 item ids,
best first, ``-1`` for an empty slot, never a seen item):

* :func:`blocked_top_k`: exact. Users in blocks, items in tiles; each tile's scores come from one
  float32 matrix product (BLAS, all its threads), and a compiled pass keeps each user's running
  top ``k``, skipping seen items (a binary search, made only for a score that would enter the
  list). Memory: one tile of scores, never the users x items matrix.
* :func:`index_top_k` with :class:`recsys.ann.norm_pruned.NormPruned`: exact too, and reads only
  the items that can still enter a list; it skips seen items inside its search.
* :func:`index_top_k` with any other index of :mod:`recsys.ann`: asks each user for ``k`` plus
  the number of items they have seen (users batched by that number, so a batch asks for about
  the same depth) and drops the seen ones.

:func:`unseen_truth` computes the exact lists of a sample of users in float64 (the reference the
recall of every way is measured against, with ties counted: :func:`recall_unseen`).
``benchmarks/all_users.py`` runs the three on 10^5 users x 10^6 items and prints time, peak memory
and recall.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from recsys.ann.base import ANNIndex, thread_count
from recsys.ann.ground_truth import recall_of_ids
from recsys.checks import check_integer
from recsys.similarity import check_vectors, top_k_rows

__all__ = ["blocked_top_k", "fetch_depths", "index_top_k", "recall_unseen", "unseen_truth"]

#: Users per block and items per tile of :func:`blocked_top_k`: a 512 x 4,096 float32 score tile
#: is 8 MiB, large enough for BLAS to run near its peak, small enough that the merge reads it while
#: it is still in cache (measured on 1,024 users x 10^6 items, 2 cores: 4,096-item tiles took 0.63
#: of the time of 32,768-item ones, and the matrix products alone, in 32,768-item tiles, 0.89 of it).
USER_BLOCK = 512
ITEM_TILE = 4_096


def _check_seen(seen, n_users: int, n_items: int) -> sp.csr_matrix:
    """``seen`` as a CSR of shape (n_users, n_items) with sorted column indices (or an empty one)."""
    if seen is None:
        return sp.csr_matrix((n_users, n_items), dtype=np.float32)
    if not sp.issparse(seen):
        raise TypeError(f"seen must be a scipy.sparse matrix (users x items), got {type(seen).__name__}")
    if seen.shape != (n_users, n_items):
        raise ValueError(f"seen has shape {seen.shape}, expected (n_users, n_items) = {(n_users, n_items)}")
    seen = sp.csr_matrix(seen)
    if not seen.has_sorted_indices:
        seen = seen.copy()
        seen.sort_indices()
    return seen


@numba.njit(cache=True)
def _offer(scores_row, ids_row, score, item):
    """Insert (score, item) into one user's list (sorted: higher score first, equal scores by
    smaller item), if it belongs; the last entry falls out."""
    k = scores_row.shape[0]
    if score < scores_row[k - 1] or (score == scores_row[k - 1] and item > ids_row[k - 1]):
        return
    position = k - 1
    while position > 0 and (
        score > scores_row[position - 1] or (score == scores_row[position - 1] and item < ids_row[position - 1])
    ):
        scores_row[position] = scores_row[position - 1]
        ids_row[position] = ids_row[position - 1]
        position -= 1
    scores_row[position] = score
    ids_row[position] = item


@numba.njit(cache=True, parallel=True)
def _merge_tile(tile, first_item, seen_indptr, seen_indices, best_scores, best_ids):
    """Fold a (users, items) score tile into every user's running top-k, skipping seen items."""
    for u in numba.prange(tile.shape[0]):
        seen = seen_indices[seen_indptr[u] : seen_indptr[u + 1]]
        k = best_scores.shape[1]
        row = tile[u]
        # the k-th best so far, as the tile's own float32 (exact: every kept score came from a tile)
        threshold = row.dtype.type(best_scores[u, k - 1])
        for j in range(row.shape[0]):
            if row[j] < threshold:
                continue  # the common case: one float32 comparison per score
            item = first_item + j
            if seen.shape[0]:
                at = np.searchsorted(seen, item)
                if at < seen.shape[0] and seen[at] == item:
                    continue
            _offer(best_scores[u], best_ids[u], np.float64(row[j]), item)
            threshold = row.dtype.type(best_scores[u, k - 1])


def blocked_top_k(
    user_vectors,
    item_vectors,
    k: int,
    seen=None,
    *,
    user_block: int = USER_BLOCK,
    item_tile: int = ITEM_TILE,
    threads: int = 0,
) -> np.ndarray:
    """Every user's ``k`` best unseen items by inner product: exact, by blocked matrix products.

    ``seen`` is an optional (n_users, n_items) sparse matrix whose stored entries are never
    recommended (the training interactions). Scores are float32 products (BLAS); equal scores
    go to the smaller item id, as everywhere in the package. ``threads`` (0 = all cores) is what
    BLAS and the merge may use. Returns (n_users, k) int64, ``-1`` where a user has fewer than
    ``k`` unseen items.
    """
    from threadpoolctl import threadpool_limits

    U = check_vectors(user_vectors, "user_vectors").astype(np.float32, copy=False)
    X = check_vectors(item_vectors, "item_vectors", dim=U.shape[1]).astype(np.float32, copy=False)
    k = check_integer("k", k, 1)
    user_block = check_integer("user_block", user_block, 1)
    item_tile = check_integer("item_tile", item_tile, 1)
    seen = _check_seen(seen, U.shape[0], X.shape[0])
    n_threads = thread_count(check_integer("threads", threads, 0))
    out = np.empty((U.shape[0], k), dtype=np.int64)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(n_threads):
            for start in range(0, U.shape[0], user_block):
                stop = min(start + user_block, U.shape[0])
                block_seen = seen[start:stop]
                indptr = block_seen.indptr.astype(np.int64)
                indices = block_seen.indices.astype(np.int64)
                best_scores = np.full((stop - start, k), -np.inf)
                best_ids = np.full((stop - start, k), -1, dtype=np.int64)
                for first in range(0, X.shape[0], item_tile):
                    tile = U[start:stop] @ X[first : first + item_tile].T
                    _merge_tile(tile, first, indptr, indices, best_scores, best_ids)
                out[start:stop] = best_ids
    finally:
        numba.set_num_threads(previous)
    return out


def _drop_seen(found: np.ndarray, seen: sp.csr_matrix, k: int) -> np.ndarray:
    """The first ``k`` ids of each row of ``found`` that are not -1 and not stored in ``seen``'s row."""
    n_items = seen.shape[1]
    rows = np.repeat(np.arange(found.shape[0], dtype=np.int64), found.shape[1]).reshape(found.shape)
    seen_keys = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr)) * n_items + seen.indices
    keep = (found >= 0) & ~np.isin(rows * n_items + found, seen_keys)
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # kept ids first, in their order
    out = np.take_along_axis(found, order, axis=1)
    out[~np.take_along_axis(keep, order, axis=1)] = -1
    if out.shape[1] < k:
        out = np.hstack([out, np.full((out.shape[0], k - out.shape[1]), -1, dtype=np.int64)])
    return out


def index_top_k(index: ANNIndex, user_vectors, k: int, seen=None, *, batch_size: int = 1024) -> np.ndarray:
    """Every user's ``k`` best unseen items from a built ``index`` (any :mod:`recsys.ann` adapter).

    An index with ``batch_query_unseen`` (:class:`~recsys.ann.norm_pruned.NormPruned`) skips the
    seen items inside its search. Any other is asked for ``k`` plus the user's number of seen
    items, rounded up to a power of two and capped at the catalogue (:func:`fetch_depths`), and the
    seen ones are dropped; users of the same depth are served in batches of ``batch_size``. The
    index's own threads (:meth:`~recsys.ann.base.ANNIndex.set_num_threads`) are used.
    Returns (n_users, k) int64, ``-1`` where the index found fewer.
    """
    n_items = getattr(index, "n_items_", None)
    if n_items is None:
        raise RuntimeError(f"{type(index).__name__} is not built yet; call fit(item_vectors) first")
    U = check_vectors(user_vectors, "user_vectors", dim=index.dim_)
    k = check_integer("k", k, 1)
    batch_size = check_integer("batch_size", batch_size, 1)
    seen = _check_seen(seen, U.shape[0], n_items)
    out = np.full((U.shape[0], k), -1, dtype=np.int64)
    fetchable = min(k, n_items)
    if hasattr(index, "batch_query_unseen"):
        for start in range(0, U.shape[0], batch_size):
            stop = min(start + batch_size, U.shape[0])
            out[start:stop, :fetchable] = index.batch_query_unseen(U[start:stop], fetchable, seen[start:stop])
        return out
    depths = fetch_depths(np.diff(seen.indptr), k, n_items)
    for depth in np.unique(depths):
        group = np.flatnonzero(depths == depth)
        for start in range(0, group.size, batch_size):
            batch = group[start : start + batch_size]
            out[batch] = _drop_seen(index.batch_query(U[batch], int(depth)), seen[batch], k)
    return out


def fetch_depths(seen_counts, k: int, n_items: int) -> np.ndarray:
    """How many items :func:`index_top_k` asks an index for, per user: ``k`` plus the user's seen
    count, rounded up to a power of two (so users batch together) and capped at the catalogue.

    A user's depth depends on their own count only, not on who else is served with them: the
    recall of a sample of users is the recall they get in the whole job."""
    need = np.asarray(seen_counts, dtype=np.int64) + check_integer("k", k, 1)
    return np.minimum(2 ** np.ceil(np.log2(need)).astype(np.int64), check_integer("n_items", n_items, 1))


def unseen_truth(user_vectors, item_vectors, k: int, seen=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 top-``k`` unseen items of each user: ``(ids, scores)``, each (n_users, k).

    The reference the recall of :func:`blocked_top_k` and :func:`index_top_k` is measured
    against (on a sample of users: this scores every item of every given user in float64).
    Missing slots (fewer than ``k`` unseen items) are ``-1`` with score ``-inf``.
    """
    U = check_vectors(user_vectors, "user_vectors").astype(np.float64)
    X = check_vectors(item_vectors, "item_vectors", dim=U.shape[1]).astype(np.float64)
    k = check_integer("k", k, 1)
    seen = _check_seen(seen, U.shape[0], X.shape[0])
    scores = U @ X.T
    scores[np.repeat(np.arange(U.shape[0]), np.diff(seen.indptr)), seen.indices] = -np.inf
    ids = top_k_rows(scores, k)
    top = np.take_along_axis(scores, ids, axis=1)
    ids[top == -np.inf] = -1
    if ids.shape[1] < k:  # a catalogue smaller than k
        pad = k - ids.shape[1]
        ids = np.hstack([ids, np.full((ids.shape[0], pad), -1, dtype=np.int64)])
        top = np.hstack([top, np.full((top.shape[0], pad), -np.inf)])
    return ids, top


def recall_unseen(found, truth_scores, user_vectors, item_vectors, k: int, seen=None) -> np.ndarray:
    """Per-user recall@k of ``found`` against :func:`unseen_truth`'s scores, ties counted as hits
    (:func:`recsys.ann.ground_truth.recall_of_ids`). A seen item in ``found`` is an error: no
    way of running the job may recommend one."""
    found = np.asarray(found, dtype=np.int64)
    U = check_vectors(user_vectors, "user_vectors")
    X = check_vectors(item_vectors, "item_vectors", dim=U.shape[1])
    seen = _check_seen(seen, U.shape[0], X.shape[0])
    if found.shape[0] != U.shape[0]:
        raise ValueError(f"found has {found.shape[0]} rows for {U.shape[0]} users")
    recommended_seen = _drop_seen(found, seen, found.shape[1])
    if not np.array_equal(recommended_seen, found):
        raise ValueError("found recommends items the user has already seen")
    truth_scores = np.asarray(truth_scores, dtype=np.float64)
    k = check_integer("k", k, 1, truth_scores.shape[1])
    return recall_of_ids(found, truth_scores, X, U, "ip", k)
