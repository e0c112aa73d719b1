"""Workloads: a catalogue of item vectors, a set of query vectors, and the metric that ranks them.

Two kinds, both in inner-product form (what :meth:`recsys.models.base.FactorModel.inner_product_factors`
hands over, so the score of a query and an item is their dot product):

* **real** (:func:`from_factors`): the item vectors of a trained model as the catalogue, its user
  vectors as the queries. The model is trained outside this wing (it takes vectors, not models:
  see :mod:`recsys.experiments.serving`).
* **mixture** (:func:`fit_mixture` + :meth:`Mixture.workload`): a catalogue of any size (up to
  1,000,000 items and beyond) shaped like real factors. A Gaussian mixture with full covariances is
  fitted to the real item vectors (another to the user vectors, for the queries); samples are
  drawn from it, and each sample's norm is then replaced by a norm drawn from the real items of the
  same mixture component.

Why that shape. Approximate search is sensitive to exactly what random Gaussian vectors lack:
recommender factors are *clustered* (genres, audiences), which is what IVF cells and graph
neighbourhoods exploit, and their *norms are spread wide* (popular items have long vectors), which
is what decides maximum inner-product search and what the MIPS transform has to absorb. A mixture
keeps the clusters and the correlations between dimensions; the per-component norm resampling keeps
the norm distribution exactly (a Gaussian cannot produce the real long tail of small norms).
:func:`shape_report` checks both against the real factors: norm quantiles, the spread of angles
between items, and the angles between queries and items, with a two-sample Kolmogorov-Smirnov
statistic for each.

Everything is seeded: the same arguments give the same vectors. Vectors are float32 (what every
library indexes); ground truth is computed in float64 by :mod:`recsys.ann.bench`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.checks import check_choice, check_integer, check_number
from recsys.similarity import check_vectors, mips_transform

__all__ = [
    "Mixture",
    "Workload",
    "arrays_digest",
    "clustered",
    "fit_mixture",
    "from_factors",
    "mips_angle_report",
    "shape_report",
    "shape_table",
]

#: Bumped when the generator changes, so cached ground truth of an older generator is not reused.
GENERATOR_VERSION = 1


@dataclass(frozen=True, eq=False)
class Workload:
    """Item vectors (the catalogue), query vectors and the metric that ranks items for a query."""

    name: str
    items: np.ndarray
    queries: np.ndarray
    metric: str = "ip"
    #: What made it (the generator, sizes, seed, ...): the key of cached ground truth.
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        items = check_vectors(self.items, "items").astype(np.float32, copy=False)
        queries = check_vectors(self.queries, "queries", dim=items.shape[1]).astype(np.float32, copy=False)
        check_choice("metric", self.metric, ("ip", "cosine", "l2"))
        object.__setattr__(self, "items", np.ascontiguousarray(items))
        object.__setattr__(self, "queries", np.ascontiguousarray(queries))

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    @property
    def n_queries(self) -> int:
        return int(self.queries.shape[0])

    @property
    def dim(self) -> int:
        return int(self.items.shape[1])

    def key(self) -> dict[str, Any]:
        """Everything that identifies this workload's vectors (for caches and results)."""
        return {
            "name": self.name,
            "metric": self.metric,
            "n_items": self.n_items,
            "n_queries": self.n_queries,
            "dim": self.dim,
            "generator_version": GENERATOR_VERSION,
            **self.params,
        }

    def fingerprint(self) -> str:
        """A short hash of :meth:`key` and of **every byte** of the vectors (items and queries, with
        their shapes and dtypes): a cache keyed on it can never serve results computed for other
        vectors (an earlier version hashed a sample of the items, so a changed item could reuse a
        stale ground truth). BLAKE2b reads about 1 GB/s: a quarter of a second for 10^6 x 64 floats."""
        return arrays_digest(self.items, self.queries, prefix=json.dumps(self.key(), sort_keys=True, default=str))

    def subset(self, n_items: int, name: str | None = None) -> Workload:
        """The first ``n_items`` items (a smaller catalogue of the same shape), same queries."""
        n_items = check_integer("n_items", n_items, 1, self.n_items)
        return Workload(
            name or self.name,
            self.items[:n_items],
            self.queries,
            self.metric,
            {**self.params, "subset_of": self.n_items, "n_items": n_items},
        )

    def __repr__(self) -> str:
        return f"Workload({self.name!r}: {self.n_items:,} items x {self.dim} dims, {self.n_queries:,} queries, {self.metric})"


def arrays_digest(*arrays, prefix: str = "") -> str:
    """A BLAKE2b hash (32 hex digits) of ``prefix`` and of every byte of ``arrays``, with their
    dtypes and shapes: the key of a cache that must never serve results computed for other vectors."""
    digest = hashlib.blake2b(prefix.encode(), digest_size=16)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def from_factors(
    item_vectors,
    user_vectors,
    *,
    name: str = "real",
    n_queries: int | None = None,
    metric: str = "ip",
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> Workload:
    """The real workload: item vectors as the catalogue, (a seeded sample of) user vectors as queries."""
    items = check_vectors(item_vectors, "item_vectors")
    users = check_vectors(user_vectors, "user_vectors", dim=items.shape[1])
    if n_queries is not None and check_integer("n_queries", n_queries, 1) < users.shape[0]:
        rows = np.sort(np.random.default_rng(seed).choice(users.shape[0], n_queries, replace=False))
        users = users[rows]
    return Workload(name, items, users, metric, {"kind": "real", "seed": seed, **(params or {})})


def clustered(
    n_items: int = 2000,
    n_queries: int = 100,
    dim: int = 16,
    n_clusters: int = 10,
    *,
    spread: float = 0.6,
    norm_sigma: float = 0.5,
    seed: int = 0,
) -> Workload:
    """A small clustered workload with spread norms (for tests and quick checks).

    Cluster centres are Gaussian; items are centres plus noise of scale ``spread``, times a
    log-normal norm factor (``norm_sigma``); queries are drawn the same way.
    """
    n_items = check_integer("n_items", n_items, 1)
    n_queries = check_integer("n_queries", n_queries, 1)
    dim = check_integer("dim", dim, 1)
    n_clusters = check_integer("n_clusters", n_clusters, 1)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))

    def draw(n):
        X = centres[rng.integers(0, n_clusters, n)] + spread * rng.normal(size=(n, dim))
        return (X * rng.lognormal(0.0, norm_sigma, size=(n, 1))).astype(np.float32)

    params = {"kind": "clustered", "n_clusters": n_clusters, "spread": spread, "norm_sigma": norm_sigma, "seed": seed}
    return Workload("clustered", draw(n_items), draw(n_queries), "ip", params)


# -- the recommender-shaped mixture ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Gaussians:
    """One fitted mixture: weights, means, Cholesky factors of the covariances, real norms per part."""

    weights: np.ndarray
    means: np.ndarray
    cholesky: np.ndarray
    norms: tuple[np.ndarray, ...]

    @classmethod
    def fit(cls, X: np.ndarray, n_components: int, reg_covar: float, seed: int) -> _Gaussians:
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        X = np.asarray(X, dtype=np.float64)
        n_components = min(n_components, max(1, X.shape[0] // (2 * X.shape[1] + 2)))
        # one BLAS thread: the problem is small, and on a busy machine threaded BLAS is 10x slower
        with threadpool_limits(1):
            gm = GaussianMixture(
                n_components, covariance_type="full", reg_covar=reg_covar, random_state=seed, max_iter=100
            ).fit(X)
            labels = gm.predict(X)
        norms = np.linalg.norm(X, axis=1)
        per_part = tuple(np.sort(norms[labels == c]) for c in range(n_components))
        chol = np.linalg.cholesky(gm.covariances_)
        return cls(gm.weights_.copy(), gm.means_.copy(), chol, per_part)

    def sample(self, n: int, rng: np.random.Generator, match_norms: bool) -> tuple[np.ndarray, np.ndarray]:
        counts = rng.multinomial(n, self.weights / self.weights.sum())
        out = np.empty((n, self.means.shape[1]), dtype=np.float32)
        parts = np.empty(n, dtype=np.int32)
        start = 0
        for c, count in enumerate(counts):
            if count == 0:
                continue
            block = self.means[c] + rng.standard_normal((count, self.means.shape[1])) @ self.cholesky[c].T
            if match_norms and self.norms[c].size:
                target = rng.choice(self.norms[c], count)
                current = np.linalg.norm(block, axis=1)
                block *= (target / np.maximum(current, 1e-12))[:, None]
            out[start : start + count] = block
            parts[start : start + count] = c
            start += count
        order = rng.permutation(n)  # interleave the components (a catalogue is not sorted by cluster)
        return out[order], parts[order]


@dataclass(frozen=True, eq=False)
class Mixture:
    """Gaussian mixtures fitted to real item and user vectors; :meth:`workload` samples from them."""

    items: _Gaussians
    users: _Gaussians
    params: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.items.means.shape[1])

    def workload(self, n_items: int, n_queries: int = 1000, *, seed: int = 0, name: str = "mixture") -> Workload:
        """``n_items`` items and ``n_queries`` queries sampled from the fitted mixtures (seeded)."""
        n_items = check_integer("n_items", n_items, 1)
        n_queries = check_integer("n_queries", n_queries, 1)
        seed = check_integer("seed", seed, 0)
        rng = np.random.default_rng([seed, 1])
        items, _ = self.items.sample(n_items, rng, self.params["match_norms"])
        queries, _ = self.users.sample(n_queries, np.random.default_rng([seed, 2]), self.params["match_norms"])
        return Workload(name, items, queries, "ip", {**self.params, "kind": "mixture", "sample_seed": seed})


def fit_mixture(
    item_vectors,
    user_vectors,
    *,
    item_components: int = 16,
    user_components: int = 4,
    reg_covar: float = 1e-5,
    match_norms: bool = True,
    seed: int = 0,
    source: str = "",
) -> Mixture:
    """Fit the recommender-shaped generator to real item and user vectors (inner-product form).

    ``item_components``/``user_components`` Gaussians with full covariances (fewer if there are
    too few vectors to estimate them); ``reg_covar`` is added to the covariance diagonals;
    ``match_norms`` replaces each sample's norm by one drawn from the real vectors of its
    component. ``source`` names the real factors (it goes into the workload's key).
    """
    items = check_vectors(item_vectors, "item_vectors")
    users = check_vectors(user_vectors, "user_vectors", dim=items.shape[1])
    check_integer("item_components", item_components, 1)
    check_integer("user_components", user_components, 1)
    check_number("reg_covar", reg_covar, 0)
    seed = check_integer("seed", seed, 0)
    digest = hashlib.sha256(np.ascontiguousarray(items, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(users, dtype=np.float32).tobytes())
    params = {
        "source": source,
        "factors_sha": digest.hexdigest()[:16],
        "item_components": item_components,
        "user_components": user_components,
        "reg_covar": reg_covar,
        "match_norms": bool(match_norms),
        "fit_seed": seed,
    }
    return Mixture(
        _Gaussians.fit(items, item_components, reg_covar, seed),
        _Gaussians.fit(users, user_components, reg_covar, seed + 1),
        params,
    )


# -- does the synthetic catalogue look like the real one? -------------------------------------------


def _pair_cosines(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    i, j = rng.integers(0, X.shape[0], n), rng.integers(0, X.shape[0], n)
    keep = i != j
    a, b = X[i[keep]].astype(np.float64), X[j[keep]].astype(np.float64)
    return np.einsum("ij,ij->i", a, b) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-300)


def _query_cosines(Q: np.ndarray, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    q = Q[rng.integers(0, Q.shape[0], n)].astype(np.float64)
    x = X[rng.integers(0, X.shape[0], n)].astype(np.float64)
    return np.einsum("ij,ij->i", q, x) / np.maximum(np.linalg.norm(q, axis=1) * np.linalg.norm(x, axis=1), 1e-300)


def shape_report(real: Workload, synthetic: Workload, *, n_pairs: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Real vs synthetic: quantiles and a Kolmogorov-Smirnov statistic per shape statistic.

    Rows: ``item norm``, ``query norm``, ``item-item cosine`` (random pairs of items: the spread of
    angles in the catalogue), ``item-item cosine, longer half`` (the same among the items of
    above-median norm, the ones inner-product search returns) and ``query-item cosine``. Columns:
    the 5 %, 50 % and 95 % quantiles of each, and ``ks`` (0 = identical distributions, 1 = disjoint).
    """
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(seed)

    def longer_half(X):
        norms = np.linalg.norm(X, axis=1)
        return X[norms > np.median(norms)]

    def stats(w: Workload) -> dict[str, np.ndarray]:
        return {
            "item norm": np.linalg.norm(w.items, axis=1),
            "query norm": np.linalg.norm(w.queries, axis=1),
            "item-item cosine": _pair_cosines(w.items, n_pairs, rng),
            "item-item cosine, longer half": _pair_cosines(longer_half(w.items), n_pairs, rng),
            "query-item cosine": _query_cosines(w.queries, w.items, n_pairs, rng),
        }

    a, b = stats(real), stats(synthetic)
    rows = []
    for name in a:
        qa, qb = np.quantile(a[name], [0.05, 0.5, 0.95]), np.quantile(b[name], [0.05, 0.5, 0.95])
        rows.append(
            {
                "statistic": name,
                "real p5": qa[0],
                "real p50": qa[1],
                "real p95": qa[2],
                "synthetic p5": qb[0],
                "synthetic p50": qb[1],
                "synthetic p95": qb[2],
                "ks": float(ks_2samp(a[name], b[name]).statistic),
            }
        )
    return pd.DataFrame(rows).set_index("statistic")


#: Largest KS statistic :func:`shape_table` accepts per statistic (what "matches" means here).
SHAPE_TOLERANCE = {
    "item norm": 0.05,
    "query norm": 0.1,
    "item-item cosine": 0.25,
    "item-item cosine, longer half": 0.15,
    "query-item cosine": 0.2,
}


def shape_table(real: Workload, synthetic: Workload, *, n_pairs: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """:func:`shape_report` with the tolerance of each statistic and whether it is met.

    The tolerance is :data:`SHAPE_TOLERANCE`, or the KS statistic's 1 % critical value for the
    two sample sizes when that is larger (with 50 queries, say, sampling noise alone exceeds 0.1).
    """
    report = shape_report(real, synthetic, n_pairs=n_pairs, seed=seed)
    sizes = {
        "item norm": (real.n_items, synthetic.n_items),
        "query norm": (real.n_queries, synthetic.n_queries),
    }
    tolerance = []
    for name in report.index:
        n, m = sizes.get(name, (n_pairs, n_pairs))
        critical = 1.628 * np.sqrt((n + m) / (n * m))
        tolerance.append(max(SHAPE_TOLERANCE[name], float(critical)))
    report["tolerance"] = tolerance
    report["matches"] = report["ks"] <= report["tolerance"]
    return report


def mips_angle_report(workload: Workload, *, n_pairs: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """What the MIPS transform does to angles: cosine between queries and items, and between
    items, before and after appending ``sqrt(M^2 - |x|^2)``.

    After the transform every item has norm ``M`` (the largest norm); an item of small norm gets an
    extra coordinate close to ``M`` and points almost along the new axis, which queries (0 there)
    are orthogonal to. With norms spread as widely as recommender factors', most items crowd
    together near that axis: angles shrink between items and squeeze towards 90 degrees against
    queries, so an angle-based index sees a far flatter landscape. Rows: quantiles and the
    standard deviation of each cosine; ``share_extra`` is the mean share of an item's squared norm
    the new coordinate carries.
    """
    rng = np.random.default_rng(seed)
    items_t, queries_t, _ = mips_transform(workload.items, workload.queries)
    extra_share = float(
        np.mean(items_t[:, -1].astype(np.float64) ** 2 / np.sum(items_t.astype(np.float64) ** 2, axis=1))
    )
    rows = []
    for space, X, Q in (
        ("original", workload.items, workload.queries),
        ("after the MIPS transform", items_t, queries_t),
    ):
        seeds = rng.integers(0, 2**31, size=2)
        for what, values in (
            ("query-item cosine", _query_cosines(Q, X, n_pairs, np.random.default_rng(seeds[0]))),
            ("item-item cosine", _pair_cosines(X, n_pairs, np.random.default_rng(seeds[1]))),
        ):
            q = np.quantile(values, [0.05, 0.5, 0.95])
            rows.append(
                {"space": space, "statistic": what, "p5": q[0], "p50": q[1], "p95": q[2], "std": float(values.std())}
            )
    out = pd.DataFrame(rows).set_index(["statistic", "space"]).sort_index()
    out.attrs["share_extra"] = extra_share
    return out
