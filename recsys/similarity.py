"""Similarity measures between embeddings, and the MIPS transform that turns inner-product search
into nearest-neighbour search.

What belongs here: functions on plain vectors (numpy arrays), batched over queries, for the three
measures every chapter compares (notebooks 04 and 05, the ANN wing):

* ``"dot"``: the inner product ``<q, x>``; what a factor model's score is (see
  :meth:`recsys.models.base.FactorModel.inner_product_factors`);
* ``"cosine"``: ``<q, x> / (|q| |x|)``, the angle alone;
* ``"euclidean"``: ``|q - x|``, ranked smallest first; ``|q - x|^2 = |q|^2 + |x|^2 - 2 <q, x>``
  ties it to the other two.

Every function returns *similarities*, higher = better (the negated distance for
``"euclidean"``), so one ``top_k`` serves all three. This module imports only numpy and
:mod:`recsys.checks`; models, ANN adapters and notebooks import it, never the reverse.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from recsys.checks import check_choice, check_integer

Measure = Literal["dot", "cosine", "euclidean"]
MEASURES: tuple[str, ...] = ("dot", "cosine", "euclidean")

__all__ = ["MEASURES", "Measure", "check_vectors", "mips_transform", "normalize", "similarity", "top_k"]


def check_vectors(vectors, name: str = "vectors", *, dim: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """``vectors`` as a C-contiguous 2-D float array (float32 stays float32), or a clear error.

    Refuses non-numeric input, NaN or infinity, the wrong number of columns (``dim``) and, unless
    ``allow_empty``, zero rows.
    """
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows = vectors), got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)) or array.dtype == bool:
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if array.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} holds no vectors (shape {array.shape})")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} have {array.shape[1]} dimensions, expected {dim}")
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array).all(axis=1)))
        raise ValueError(f"{name} hold NaN or infinite values ({bad} row(s))")
    return np.ascontiguousarray(array)


def normalize(vectors) -> np.ndarray:
    """Each row divided by its Euclidean norm; all-zero rows stay zero (their cosine is 0)."""
    vectors = check_vectors(vectors, allow_empty=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def similarity(queries, items, measure: Measure = "dot") -> np.ndarray:
    """(n_queries, n_items) similarities, higher = better: dot, cosine, or minus the distance."""
    check_choice("measure", measure, MEASURES)
    queries = check_vectors(queries, "queries", allow_empty=True)
    items = check_vectors(items, "items", dim=queries.shape[1], allow_empty=True)
    if measure == "dot":
        return queries @ items.T
    if measure == "cosine":
        return normalize(queries) @ normalize(items).T
    squared = (
        np.einsum("ij,ij->i", queries, queries)[:, None]
        + np.einsum("ij,ij->i", items, items)[None, :]
        - 2.0 * (queries @ items.T)
    )
    return -np.sqrt(np.maximum(squared, 0.0))


def top_k(queries, items, k: int, measure: Measure = "dot") -> np.ndarray:
    """The ``k`` most similar items of each query, best first: (n_queries, k) int64 indices.

    Exact and deterministic: ties are broken by the smaller item index.
    """
    scores = similarity(queries, items, measure)
    k = check_integer("k", k, 1, scores.shape[1])
    part = (
        np.argpartition(-scores, k - 1, axis=1)[:, :k]
        if k < scores.shape[1]
        else np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    )
    rows = np.arange(scores.shape[0])[:, None]
    # sort the k candidates by score (descending), then by index (ascending) for ties
    order = np.lexsort((part, -scores[rows, part]), axis=1)
    return part[rows, order].astype(np.int64)


def mips_transform(items, queries=None, *, max_norm: float | None = None):
    """Maximum inner-product search as nearest-neighbour search (Bachrach et al. 2014).

    Append ``sqrt(M^2 - |x|^2)`` to every item vector (``M`` = the largest item norm, or
    ``max_norm``) and 0 to every query. Every transformed item then has norm ``M``, so for a query
    ``q``, ``|q' - x'|^2 = |q|^2 + M^2 - 2 <q, x>``: the nearest item in Euclidean distance, and the
    most similar in cosine, is the item of largest inner product, exactly.

    Returns ``(items', M)``, or ``(items', queries', M)`` when ``queries`` is given.
    """
    items = check_vectors(items, "items")
    norms_sq = np.einsum("ij,ij->i", items, items, dtype=np.float64)
    largest = float(np.sqrt(norms_sq.max()))
    if max_norm is None:
        max_norm = largest
    elif max_norm < largest * (1 - 1e-12):
        raise ValueError(f"max_norm={max_norm!r} is below the largest item norm {largest!r}")
    extra = np.sqrt(np.maximum(max_norm**2 - norms_sq, 0.0)).astype(items.dtype)
    items_t = np.hstack([items, extra[:, None]])
    if queries is None:
        return items_t, float(max_norm)
    queries = check_vectors(queries, "queries", dim=items.shape[1])
    queries_t = np.hstack([queries, np.zeros((queries.shape[0], 1), dtype=queries.dtype)])
    return items_t, queries_t, float(max_norm)
