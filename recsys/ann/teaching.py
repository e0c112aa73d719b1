"""Small, readable versions of the four families, for the 2-D figures of notebook 06.

None of these is meant to be fast; each is the idea of a family in a few lines, on points in the
plane, returning what a figure needs to draw it:

* :func:`rp_tree`: a random-projection tree (Annoy's split rule) as polygons (its leaves) and
  split segments;
* random-hyperplane LSH needs nothing extra: :class:`recsys.ann.lsh.RandomHyperplaneLSH` itself
  exposes its hyperplanes (``planes_``), codes (``hash``) and probe sequence (``probe_codes``);
* :class:`ProductQuantizer`: sub-space k-means codebooks, encoding, and the query's distance
  table that scores every code without decoding it;
* :func:`navigable_small_world` and :func:`greedy_search`: a small-world graph built by insertion
  and the greedy walk a query takes on it;
* :func:`norm_scan` and :func:`norm_scan_stops`: exact inner-product search that reads the items
  longest first and stops at the Cauchy-Schwarz bound (the first bound of
  :class:`recsys.ann.norm_pruned.NormPruned`, without its buckets and cones).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from recsys.checks import check_integer

__all__ = [
    "NormScan",
    "ProductQuantizer",
    "RPTree",
    "greedy_search",
    "kmeans",
    "leaf_of",
    "navigable_small_world",
    "norm_scan",
    "norm_scan_stops",
    "rp_tree",
]


# -- random-projection tree ------------------------------------------------------------------------


def _clip(polygon: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """The part of a convex polygon where ``normal . x <= offset`` (Sutherland-Hodgman, one edge)."""
    out = []
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        da, db = normal @ a - offset, normal @ b - offset
        if da <= 0:
            out.append(a)
        if da * db < 0:
            out.append(a + (b - a) * (da / (da - db)))
    return np.array(out) if out else np.empty((0, 2))


@dataclass
class RPTree:
    """Leaves (convex polygons and the indices of their points) and the split segments, by depth."""

    leaves: list[tuple[np.ndarray, np.ndarray]]
    splits: list[tuple[np.ndarray, int]]  # (2x2 segment end points, depth)


def rp_tree(points, leaf_size: int = 8, seed: int = 0, box: tuple[float, float, float, float] | None = None) -> RPTree:
    """A random-projection tree on 2-D points, split as Annoy does.

    Each node picks two of its points at random and splits by the line halfway between them
    (perpendicular to the segment joining them) until a node holds at most ``leaf_size`` points.
    ``box`` = (xmin, xmax, ymin, ymax) bounds the drawing (default: the points' box, padded).
    """
    P = np.asarray(points, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != 2:
        raise ValueError(f"points must be (n, 2), got shape {P.shape}")
    leaf_size = check_integer("leaf_size", leaf_size, 1)
    rng = np.random.default_rng(seed)
    if box is None:
        lo, hi = P.min(axis=0), P.max(axis=0)
        pad = 0.05 * (hi - lo).max()
        box = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    x0, x1, y0, y1 = box
    root = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    leaves, splits = [], []

    def grow(members: np.ndarray, polygon: np.ndarray, depth: int) -> None:
        if members.size <= leaf_size or len(polygon) < 3:
            leaves.append((polygon, members))
            return
        a, b = P[rng.choice(members, 2, replace=False)]
        normal = a - b
        if not np.any(normal):
            leaves.append((polygon, members))
            return
        offset = normal @ (a + b) / 2
        left = members[P[members] @ normal <= offset]
        right = members[P[members] @ normal > offset]
        if left.size == 0 or right.size == 0:
            leaves.append((polygon, members))
            return
        inside, outside = _clip(polygon, normal, offset), _clip(polygon, -normal, -offset)
        on_line = [v for v in inside if abs(normal @ v - offset) < 1e-9 * (1 + abs(offset))]
        if len(on_line) >= 2:
            splits.append((np.array([on_line[0], on_line[-1]]), depth))
        grow(left, inside, depth + 1)
        grow(right, outside, depth + 1)

    grow(np.arange(P.shape[0]), root, 0)
    return RPTree(leaves, splits)


def leaf_of(tree: RPTree, point) -> np.ndarray:
    """The indices of the points in the leaf whose cell holds ``point`` (empty if outside the box)."""
    from matplotlib.path import Path

    for polygon, members in tree.leaves:
        if len(polygon) >= 3 and Path(polygon).contains_point(np.asarray(point, dtype=float), radius=1e-12):
            return members
    return np.empty(0, dtype=np.int64)


# -- product quantisation ----------------------------------------------------------------------------


def kmeans(X, n_clusters: int, *, iterations: int = 25, seed: int = 0) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding; returns the (n_clusters, d) centroids."""
    X = np.asarray(X, dtype=np.float64)
    n_clusters = check_integer("n_clusters", n_clusters, 1, X.shape[0])
    rng = np.random.default_rng(seed)
    centres = [X[rng.integers(X.shape[0])]]
    for _ in range(1, n_clusters):
        d2 = ((X[:, None, :] - np.array(centres)[None]) ** 2).sum(-1).min(axis=1)
        centres.append(X[rng.choice(X.shape[0], p=d2 / d2.sum())] if d2.sum() > 0 else X[rng.integers(X.shape[0])])
    C = np.array(centres)
    for _ in range(iterations):
        labels = ((X[:, None, :] - C[None]) ** 2).sum(-1).argmin(axis=1)
        for c in range(n_clusters):
            if np.any(labels == c):
                C[c] = X[labels == c].mean(axis=0)
    return C


class ProductQuantizer:
    """Cut vectors into ``n_subspaces`` pieces; replace each piece by its nearest of ``n_centroids``.

    A vector becomes ``n_subspaces`` small integers (its code). To score a query against every
    code, compute once the ``n_subspaces x n_centroids`` table of inner products between the
    query's pieces and the centroids: the score of a code is the sum of one table entry per piece
    (asymmetric distance computation: the query stays exact, only the items are quantised).
    """

    def __init__(self, n_subspaces: int = 2, n_centroids: int = 16, seed: int = 0):
        self.n_subspaces = check_integer("n_subspaces", n_subspaces, 1)
        self.n_centroids = check_integer("n_centroids", n_centroids, 1)
        self.seed = seed

    def _pieces(self, X: np.ndarray) -> list[np.ndarray]:
        return np.array_split(np.asarray(X, dtype=np.float64), self.n_subspaces, axis=1)

    def fit(self, X) -> ProductQuantizer:
        X = np.asarray(X, dtype=np.float64)
        if X.shape[1] < self.n_subspaces:
            raise ValueError(f"{self.n_subspaces} sub-spaces need at least as many dimensions, got {X.shape[1]}")
        self.codebooks_ = [
            kmeans(piece, min(self.n_centroids, X.shape[0]), seed=self.seed + s)
            for s, piece in enumerate(self._pieces(X))
        ]
        return self

    def encode(self, X) -> np.ndarray:
        """(n, n_subspaces) codes: the nearest centroid of each piece."""
        return np.stack(
            [((p[:, None, :] - C[None]) ** 2).sum(-1).argmin(axis=1) for p, C in zip(self._pieces(X), self.codebooks_)],
            axis=1,
        )

    def decode(self, codes) -> np.ndarray:
        """The reconstructions: each code's centroids side by side."""
        codes = np.asarray(codes)
        return np.hstack([C[codes[:, s]] for s, C in enumerate(self.codebooks_)])

    def distance_table(self, q) -> np.ndarray:
        """(n_subspaces, n_centroids): inner product of each query piece with each centroid."""
        pieces = self._pieces(np.asarray(q, dtype=np.float64)[None, :])
        return np.stack([C @ p[0] for p, C in zip(pieces, self.codebooks_)])

    def scores(self, q, codes) -> np.ndarray:
        """Approximate inner products of ``q`` with every code: table look-ups, summed over pieces."""
        table = self.distance_table(q)
        codes = np.asarray(codes)
        return table[np.arange(self.n_subspaces)[None, :], codes].sum(axis=1)


# -- navigable small-world graph ------------------------------------------------------------------------


def navigable_small_world(points, M: int = 4, seed: int = 0) -> list[set[int]]:
    """An NSW graph (Malkov et al. 2014): insert points in random order, link each to its ``M``
    nearest among those already inserted (links are two-way).

    Early insertions link across the whole plane (few points exist yet): those long links are the
    "small world" express routes a greedy search uses to cross the space in a few hops.
    """
    P = np.asarray(points, dtype=np.float64)
    M = check_integer("M", M, 1)
    order = np.random.default_rng(seed).permutation(P.shape[0])
    graph: list[set[int]] = [set() for _ in range(P.shape[0])]
    for position, node in enumerate(order):
        earlier = order[:position]
        if earlier.size == 0:
            continue
        nearest = earlier[np.argsort(((P[earlier] - P[node]) ** 2).sum(axis=1), kind="stable")[:M]]
        for other in nearest:
            graph[node].add(int(other))
            graph[int(other)].add(int(node))
    return graph


def greedy_search(points, graph: list[set[int]], query, entry: int = 0) -> list[int]:
    """The nodes a greedy walk visits: from ``entry``, move to the neighbour nearest ``query``
    while one is nearer than the current node (ef = 1, no backtracking)."""
    P = np.asarray(points, dtype=np.float64)
    q = np.asarray(query, dtype=np.float64)
    path = [int(entry)]
    current = int(entry)
    best = float(((P[current] - q) ** 2).sum())
    while True:
        neighbours = sorted(graph[current])
        if not neighbours:
            return path
        distances = ((P[neighbours] - q) ** 2).sum(axis=1)
        i = int(np.argmin(distances))
        if distances[i] >= best:
            return path
        current, best = neighbours[i], float(distances[i])
        path.append(current)


# -- norm-ordered exact scan -----------------------------------------------------------------------


@dataclass
class NormScan:
    """One query's scan of the catalogue, longest items first (:func:`norm_scan`).

    Position ``i`` (0-based) is the ``i + 1``-th item read. ``bound[i]`` is ``|q| |x_i|``: no item
    from position ``i`` on can score more, since the items are sorted longest first. ``kth_best[i]``
    is the k-th best score among the first ``i + 1`` items (``nan`` before ``k`` are read).
    ``stop``: how many items the scan reads, the first count ``i >= k`` at which
    ``bound[i] < kth_best[i - 1]`` (the next item, and every one after it, cannot beat the list),
    or ``n`` if the bound never falls that low. ``top``: the k best item indices found (original
    numbering), best first; they are the exact top k.
    """

    order: np.ndarray
    scores: np.ndarray
    bound: np.ndarray
    kth_best: np.ndarray
    stop: int
    top: np.ndarray

    @property
    def share_read(self) -> float:
        """The share of the catalogue the scan read."""
        return self.stop / len(self.order)


def _norm_order(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(X, axis=1)
    order = np.argsort(-norms, kind="stable")
    return order, norms[order]


def _check_scan(q: np.ndarray, X: np.ndarray, k: int) -> int:
    if X.ndim != 2 or q.shape[-1] != X.shape[1]:
        raise ValueError(f"queries of dimension {q.shape[-1]} against items of shape {X.shape}")
    return check_integer("k", k, 1, X.shape[0])


def norm_scan(q, X, k: int = 10) -> NormScan:
    """Read the items of ``X`` longest first, keep the k best scores ``q . x``, and stop when the
    Cauchy-Schwarz bound ``|q| |x|`` of the next item falls below the k-th best score. Every
    position is computed (the arrays run to the end of the catalogue) so a figure can show what
    the scan did not need to read."""
    q, X = np.asarray(q, dtype=np.float64), np.asarray(X, dtype=np.float64)
    k = _check_scan(q, X, k)
    order, norms = _norm_order(X)
    scores = X[order] @ q
    bound = np.linalg.norm(q) * norms
    kth_best = np.full(len(order), np.nan)
    heap: list[float] = []
    for i, score in enumerate(scores):
        if len(heap) < k:
            heapq.heappush(heap, score)
        elif score > heap[0]:
            heapq.heapreplace(heap, score)
        if len(heap) == k:
            kth_best[i] = heap[0]
    beaten = np.flatnonzero(bound[k:] < kth_best[k - 1 : -1])
    stop = int(k + beaten[0]) if len(beaten) else len(order)
    read = order[:stop]
    best = np.lexsort((read, -scores[:stop]))[:k]  # score descending, then smaller item index first
    return NormScan(order, scores, bound, kth_best, stop, read[best])


def norm_scan_stops(Q, X, k: int = 10) -> np.ndarray:
    """How many items :func:`norm_scan` reads for each row of ``Q`` (int64), found without the
    scan: the k-th best score of the first ``i`` items only grows with ``i`` and the bound of item
    ``i`` only falls, so the stop is found by bisection on ``i``, each step one partial sort."""
    Q, X = np.atleast_2d(np.asarray(Q, dtype=np.float64)), np.asarray(X, dtype=np.float64)
    k = _check_scan(Q, X, k)
    order, norms = _norm_order(X)
    Xs = X[order]
    n = len(order)
    stops = np.empty(len(Q), dtype=np.int64)
    for row, q in enumerate(Q):
        scores, length = Xs @ q, np.linalg.norm(q)
        lo, hi = k, n  # the stop: the first i in [k, n) after which item i and the rest can be skipped, else n
        while lo < hi:
            mid = (lo + hi) // 2
            if length * norms[mid] < np.partition(scores[:mid], mid - k)[mid - k]:
                hi = mid
            else:
                lo = mid + 1
        stops[row] = lo
    return stops
