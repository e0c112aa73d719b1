"""Serving recommendations from an approximate index, and what the approximation costs.

This module joins the three wings the ANN wing must not import: it trains a model
(:mod:`recsys.models`), turns its vectors into a workload (:mod:`recsys.ann.workloads`), serves
each user's list from an index (:mod:`recsys.ann`) and scores the lists the way
:mod:`recsys.evaluation` scores a model's own. ANN benchmarks stop at recall of the nearest
neighbours; a recommender cares about the lists users see, so:

* :func:`real_embeddings`: a trained implicit-ALS model on a per-user split of a dataset, with
  its vectors in inner-product form (the "real" workload of notebook 06);
* :func:`ease_embeddings`: EASE on the same split, served through a rank-``r`` factorisation of
  its item-item matrix (EASE itself has no low-dimensional vectors: see the function);
* :func:`recommend_with_index`: each user's top ``k`` from an index, their training items removed
  (the index is asked for ``k`` plus the number of items to remove, and those are dropped);
* :func:`list_quality`: nDCG, recall, precision and coverage of served lists on the test split,
  scored by :func:`recsys.evaluation.evaluate_lists` like every other source of lists;
* :func:`cost_of_approximation`: for every operating point of a benchmark table, the quality of
  the lists its index serves, next to exact retrieval's on the same split;
* :func:`serving_study`: every model of a family study (:mod:`recsys.experiments.families`)
  served from each ANN method at its operating point: recall against queries per second, and
  what the lists lose against exact scoring of the same vectors (notebook 07);
* :func:`low_rank_cost`: what serving a model through approximate *vectors* costs before any index
  does: the model's own lists against exact retrieval of the vectors (e.g. full EASE against its
  rank-``r`` factorisation), with a paired interval over users.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.ann import bench, workloads
from recsys.ann.base import ANNIndex
from recsys.ann.bench import index_from
from recsys.ann.exact import BruteForce
from recsys.checks import check_integer
from recsys.evaluation import evaluate_lists, evaluate_ranking, recommend
from recsys.interactions import check_interactions
from recsys.progress import bar as progress_bar
from recsys.similarity import check_vectors
from recsys.stats import paired_difference

if TYPE_CHECKING:
    from recsys.datasets import Dataset
    from recsys.experiments import families
    from recsys.experiments.harness import Matrices

__all__ = [
    "RealEmbeddings",
    "cost_of_approximation",
    "ease_embeddings",
    "list_quality",
    "low_rank_cost",
    "mixture_for",
    "real_embeddings",
    "recommend_with_index",
    "serving_study",
]


@dataclass(eq=False)
class RealEmbeddings:
    """A model trained on the training part of a split, with its vectors in inner-product form."""

    name: str
    model: Any
    train: sp.csr_matrix
    test: sp.csr_matrix
    user_vectors: np.ndarray
    item_vectors: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    fit_seconds: float = 0.0

    @property
    def users(self) -> np.ndarray:
        """The users with at least one test item: the ones a ranking evaluation scores."""
        return np.flatnonzero(np.diff(self.test.indptr) > 0)

    def workload(self, name: str | None = None) -> workloads.Workload:
        """Item vectors as the catalogue, the evaluated users' vectors as the queries."""
        return workloads.from_factors(
            self.item_vectors, self.user_vectors[self.users], name=name or self.name, params=dict(self.params)
        )

    def exact_quality(self, k: int = 10) -> dict:
        """The model's own ranking quality on the test split (:func:`recsys.evaluation.evaluate_ranking`)."""
        return evaluate_ranking(self.model, self.train, self.test, k=k)


def real_embeddings(
    dataset: str = "ml-latest-small",
    *,
    factors: int = 64,
    regularization: float = 30.0,
    alpha: float = 3.0,
    iterations: int = 15,
    train_ratio: float = 0.75,
    seed: int = 42,
    data=None,
) -> RealEmbeddings:
    """Implicit ALS (Hu, Koren & Volinsky) on a per-user ``train_ratio`` split of ``dataset``.

    Every rating counts as an interaction (the top-N protocol of notebook 03); the vectors are the
    model's :meth:`~recsys.models.base.FactorModel.inner_product_factors` (``ranking_only=True``),
    float32, ``factors`` dimensions. The hyperparameters are fixed defaults, not tuned here: the
    question asked of these vectors is what an index loses against exact retrieval *of the same
    model*. ``data`` may pass an already loaded :class:`recsys.datasets.Dataset`.
    """
    from recsys.experiments.harness import fit_and_evaluate
    from recsys.models import ImplicitALS

    data, matrices = _per_user_split(dataset, data, train_ratio, seed)
    prototype = ImplicitALS(
        factors=factors, regularization=regularization, alpha=alpha, iterations=iterations, random_state=seed
    )
    run = fit_and_evaluate(prototype, matrices, evaluate=None)
    model, seconds = run.model, run.seconds
    U, V = model.inner_product_factors(ranking_only=True)
    params = {
        "dataset": data.name,
        "model": "implicit ALS",
        "factors": factors,
        "regularization": regularization,
        "alpha": alpha,
        "iterations": iterations,
        "train_ratio": train_ratio,
        "split_seed": seed,
    }
    return RealEmbeddings(
        f"real ({data.name})",
        model,
        matrices.train,
        matrices.test,
        np.ascontiguousarray(U, dtype=np.float32),
        np.ascontiguousarray(V, dtype=np.float32),
        params,
        seconds,
    )


def _per_user_split(dataset: str, data: Dataset | None, train_ratio: float, seed: int) -> tuple[Dataset, Matrices]:
    """``dataset`` (or the loaded ``data``) split per user, as model inputs: the one split of this module.

    Every embedding here is trained on this split, so two models' vectors built with the same
    ``train_ratio`` and ``seed`` are scored on the same test entries and their lists compare user by user.
    """
    from recsys import splits
    from recsys.datasets import load
    from recsys.experiments.harness import Matrices

    data = load(dataset) if data is None else data
    split = splits.stratified_holdout(data.ratings, train_ratio, seed=seed)
    return data, Matrices.from_split(split)


#: Power iterations of the randomized SVD of EASE's ``B`` (see :func:`ease_embeddings`).
_SVD_POWER_ITERATIONS = 4
#: The least oversampling of that SVD: the random block has ``rank + max(rank, this)`` columns.
_SVD_MIN_OVERSAMPLES = 64


def _truncated_svd(B: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``U_r, s_r, Vt_r`` of the dense ``B`` by randomized SVD (Halko, Martinsson & Tropp 2011), seeded.

    The block has ``rank + max(rank, _SVD_MIN_OVERSAMPLES)`` columns (capped at the matrix size,
    where the range finder spans everything and the SVD is exact) and ``_SVD_POWER_ITERATIONS``
    power iterations; the output satisfies ``U_r diag(s_r) Vt_r = U_r U_r^T B``.
    """
    from sklearn.utils.extmath import randomized_svd

    n = min(B.shape)
    oversamples = min(max(rank, _SVD_MIN_OVERSAMPLES), n - rank)
    return randomized_svd(B, rank, n_oversamples=oversamples, n_iter=_SVD_POWER_ITERATIONS, random_state=0)


def ease_embeddings(
    dataset: str = "ml-latest-small",
    *,
    rank: int = 64,
    regularization: float = 500.0,
    train_ratio: float = 0.75,
    seed: int = 42,
    data=None,
) -> RealEmbeddings:
    """EASE (Steck 2019) on the per-user split of :func:`real_embeddings`, in rank-``rank`` vector form.

    EASE scores user ``u`` as ``x_u B`` with ``B`` an n_items x n_items matrix. Its own vector form
    (:class:`recsys.models.EASE`) has the training rows as user vectors and ``B``'s columns as
    item vectors, both n_items wide: an index over them does as much work per query as scoring
    every item exactly, so EASE cannot be served from an index as it is. What can be is a
    truncated SVD ``B ~ U_r diag(S_r) V_r^T``: user vectors ``x_u U_r diag(S_r)`` and item vectors
    the rows of ``V_r``, ``rank`` wide, whose inner products are ``x_u B_r`` with ``B_r`` the best
    rank-``r`` approximation of ``B`` in Frobenius norm (Eckart-Young). That is the best
    approximation of ``B``, not of the score matrix ``X B`` (which would weigh ``B``'s directions by
    how the users' rows use them), but it needs nothing but ``B``, and a new user's vector is one
    sparse product of the row with ``U_r diag(S_r)``.

    ``model`` stays the full EASE model: :meth:`RealEmbeddings.exact_quality` is full EASE's quality,
    while exact retrieval of the vectors (:func:`cost_of_approximation`'s first row) is the rank-``r``
    model's; :func:`low_rank_cost` compares the two.

    The SVD is randomized (:func:`sklearn.utils.extmath.randomized_svd`, ``random_state=0``, a
    block of ``rank + max(rank, 64)`` columns, 4 power iterations), because ``B`` is dense and its
    spectrum decays slowly. On ml-latest-small (8,753 training items, a busy 2-core machine) at
    rank 64 it took about 9 s against 50 s for ARPACK (:func:`scipy.sparse.linalg.svds`) and 22 s
    for PROPACK, with singular values within 2e-5 (relative) of theirs, 3e-6 at rank 16; its kept
    share of ``||B||_F^2`` falls short of the optimal one by about 1e-6. A thinner block
    (``rank + 10``, 7 iterations) was as fast but off by 6e-3.

    ``params`` hold ``dataset``, ``model`` ("EASE"), ``regularization``, ``rank``, ``train_ratio``,
    ``split_seed``, ``frobenius_share`` (the share of ``||B||_F^2`` the rank keeps, ``sum(S_r^2) /
    ||B||_F^2``) and ``svd`` (how it was computed). ``fit_seconds`` is EASE's fit plus the
    factorisation. ``data`` may pass an already loaded :class:`recsys.datasets.Dataset`.

    ``B``'s spectrum is flat: on ml-latest-small rank 64 keeps 66 % of ``||B||_F^2`` and its
    nDCG@10 is detectably below full EASE's (0.385 against 0.405); rank 256 keeps 91 % and its
    loss (0.002) is no longer detectable over 610 users (:func:`low_rank_cost`).

    Raises ``ValueError`` for ``rank < 1`` or ``rank >= n_items`` (at full rank the vectors are as
    wide as exact scoring, which is what the factorisation is for avoiding), ``TypeError`` for a
    non-integer ``rank``.
    """
    from recsys.experiments.harness import fit_and_evaluate
    from recsys.models import EASE

    rank = check_integer("rank", rank, 1)
    data, matrices = _per_user_split(dataset, data, train_ratio, seed)
    n_items = matrices.train.shape[1]
    if rank >= n_items:
        raise ValueError(
            f"rank must be below the {n_items} items of the training split, got {rank}: at rank >= n_items "
            "the vectors are as wide as B and an index over them does the work of exact scoring"
        )
    run = fit_and_evaluate(EASE(regularization=regularization), matrices, evaluate=None)
    model = run.model
    start = time.perf_counter()
    B = model.weights_
    U, S, Vt = _truncated_svd(B, rank)
    # in float64: a float32 norm of B's 10^7-10^8 entries (one BLAS dot) is off by ~0.4 % on ml-latest-small
    total = float(np.einsum("ij,ij->", B, B, dtype=np.float64))
    kept = float(np.sum(np.square(S, dtype=np.float64))) / total if total > 0 else float("nan")
    # the user side from what EASE learned from (training rows as 1s): x_u U_r diag(S_r)
    users = np.asarray(model.interactions_ @ (U * S))
    seconds = run.seconds + time.perf_counter() - start
    params = {
        "dataset": data.name,
        "model": "EASE",
        "regularization": regularization,
        "rank": rank,
        "train_ratio": train_ratio,
        "split_seed": seed,
        "frobenius_share": kept,
        "svd": f"randomized, {_SVD_POWER_ITERATIONS} power iterations, oversampling max(rank, {_SVD_MIN_OVERSAMPLES})",
    }
    return RealEmbeddings(
        f"EASE rank {rank} ({data.name})",
        model,
        matrices.train,
        matrices.test,
        np.ascontiguousarray(users, dtype=np.float32),
        np.ascontiguousarray(Vt.T, dtype=np.float32),
        params,
        seconds,
    )


def mixture_for(
    embeddings: RealEmbeddings, *, cache_dir: str | Path | None = None, seed: int = 0, **fit_params
) -> workloads.Mixture:
    """The recommender-shaped generator fitted to ``embeddings`` (cached in ``cache_dir`` if given)."""
    path = None
    if cache_dir is not None:
        # keyed on the vectors themselves (every byte), not only on how they were made: the same
        # parameters on another version of the data, or of the model, fit another mixture
        vectors = workloads.arrays_digest(embeddings.item_vectors, embeddings.user_vectors)
        key = json.dumps(
            {"source": embeddings.params, "vectors": vectors, "seed": seed, **fit_params},
            sort_keys=True,
            default=str,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = Path(cache_dir) / f"mixture-{digest}.pkl"
        cached = _read_mixture(path, key)
        if cached is not None:
            return cached
    mixture = workloads.fit_mixture(
        embeddings.item_vectors,
        embeddings.user_vectors,
        seed=seed,
        source=f"{embeddings.params.get('model')} on {embeddings.params.get('dataset')}",
        **fit_params,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump({"key": key, "mixture": mixture}, out)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return mixture


def _read_mixture(path: Path, key: str) -> workloads.Mixture | None:
    """The mixture cached at ``path`` for ``key``; ``None`` if absent or for another key. A damaged
    file (truncated, not a pickle, another layout) is named in a warning and fitted again."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            stored = pickle.load(handle)
        if not isinstance(stored, dict) or not isinstance(stored.get("mixture"), workloads.Mixture):
            raise ValueError("not a cached mixture")
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError) as error:
        warnings.warn(f"mixture cache {path} is damaged ({error}); fitting it again", stacklevel=3)
        return None
    return stored["mixture"] if stored.get("key") == key else None


def recommend_with_index(
    index: ANNIndex, user_vectors, users, k: int, exclude: sp.csr_matrix | None = None
) -> np.ndarray:
    """Each user's ``k`` best items from ``index``, never an item stored in ``exclude``'s row.

    ``user_vectors`` are all users' query vectors and ``users`` the rows to serve. The index is
    asked for ``k + (number of excluded items of the user)`` items (capped at the catalogue), the
    excluded ones are dropped and the first ``k`` kept; an index that finds fewer leaves ``-1``
    slots. Returns (len(users), k) int64.
    """
    k = check_integer("k", k, 1)
    n_items = getattr(index, "n_items_", None)
    if n_items is None:
        raise RuntimeError(f"{type(index).__name__} is not built yet; call fit(item_vectors) first")
    U = check_vectors(user_vectors, "user_vectors")
    users = _check_users(users, U.shape[0])
    if exclude is not None:
        exclude = check_interactions(exclude, "exclude")
        if exclude.shape != (U.shape[0], n_items):
            raise ValueError(
                f"exclude has shape {exclude.shape}, expected (n_users, n_items) = {(U.shape[0], n_items)}: "
                "the training matrix of these user vectors and of the index's items"
            )
    out = np.full((users.size, k), -1, dtype=np.int64)
    for row, user in enumerate(users):
        seen = exclude.indices[exclude.indptr[user] : exclude.indptr[user + 1]] if exclude is not None else ()
        fetch = min(n_items, k + len(seen))
        found = index.query(U[user], fetch)
        found = found[found >= 0]
        if len(seen):
            found = found[~np.isin(found, seen)]
        out[row, : min(k, found.size)] = found[:k]
    return out


def _check_users(users, n_users: int) -> np.ndarray:
    """``users`` as 1-D int64 row indices in ``[0, n_users)`` (a negative one would wrap around)."""
    users = np.asarray(users)
    if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
        raise TypeError(f"users must be a 1-D list of integer user indices, got {users.dtype} of shape {users.shape}")
    if users.size and (users.min() < 0 or users.max() >= n_users):
        bad = int(users.min() if users.min() < 0 else users.max())
        raise IndexError(f"users: user index {bad} out of range for {n_users} users")
    return users.astype(np.int64)


def list_quality(
    recommended, users, train: sp.csr_matrix, test: sp.csr_matrix, k: int = 10, *, per_user: bool = False
) -> dict:
    """nDCG@k, recall@k, precision@k (means over ``users``), coverage@k and n_users of served lists.

    The lists are scored by :func:`recsys.evaluation.evaluate_lists`, the scorer of every source
    of lists (every stored test entry relevant), so exact retrieval's lists score what the model
    scores; this keeps the columns of :func:`cost_of_approximation`'s table. ``per_user=True``
    adds ``"per_user"``: the scored users and their nDCG@k, row-aligned.
    """
    scores = evaluate_lists(recommended, train, test, k, users=users, return_per_user=per_user)
    out = {key: scores[key] for key in (f"ndcg@{k}", f"recall@{k}", f"precision@{k}", f"coverage@{k}", "n_users")}
    if per_user:
        out["per_user"] = {"users": scores["per_user"]["users"], "ndcg": scores["per_user"]["ndcg"]}
    return out


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of each row of ``b`` (the exact lists) that ``a`` also holds."""
    shares = [np.intersect1d(x[x >= 0], y[y >= 0]).size / max(1, (y >= 0).sum()) for x, y in zip(a, b)]
    return float(np.mean(shares)) if shares else float("nan")


def cost_of_approximation(
    embeddings: RealEmbeddings,
    points: pd.DataFrame,
    *,
    k: int = 10,
    methods: Sequence[str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Recommendation quality of every operating point in ``points``, and of exact retrieval.

    ``points`` is a benchmark table of the real workload (:func:`recsys.ann.bench.run`: columns
    ``method``, ``build``, ``query``, ``recall``); each (method, build) is built once on the item
    vectors and serves every user's list at each of its query points. Columns: ``ann_recall``
    (the benchmark's recall@k of the raw index), ``served_recall`` (the share of exact
    retrieval's served list, after over-fetching and removing seen items, that the index's served
    list holds: the recall of what users see), ``ndcg@k``, ``recall@k``, ``precision@k``,
    ``coverage@k``, ``overlap`` (the same share as ``served_recall``, kept under its old name),
    ``ndcg_loss`` (exact nDCG minus this one) with ``ndcg_loss_low``/``ndcg_loss_high``, its 95 %
    paired bootstrap interval over the scored users (:func:`recsys.stats.paired_difference`,
    seed 0), and ``loss_detectable`` (the interval lies above zero). The first row is exact
    retrieval.
    """
    k = check_integer("k", k, 1)
    users = embeddings.users
    exact_index = BruteForce("ip").fit(embeddings.item_vectors)
    exact_lists = recommend_with_index(exact_index, embeddings.user_vectors, users, k, embeddings.train)
    reference = list_quality(exact_lists, users, embeddings.train, embeddings.test, k, per_user=True)
    exact_per_user = reference.pop("per_user")

    def loss_interval(per_user: dict) -> dict:
        if not np.array_equal(per_user["users"], exact_per_user["users"]):  # pragma: no cover - same test set
            raise RuntimeError("served and exact lists were scored on different users")
        interval = paired_difference(exact_per_user["ndcg"], per_user["ndcg"], seed=0)
        return {"ndcg_loss_low": interval.low, "ndcg_loss_high": interval.high, "loss_detectable": interval.low > 0}

    rows = [
        {
            "method": "exact",
            "family": "exact",
            "build": "{}",
            "query": "{}",
            "ann_recall": 1.0,
            "served_recall": 1.0,
            **reference,
            "overlap": 1.0,
            "ndcg_loss_low": 0.0,
            "ndcg_loss_high": 0.0,
            "loss_detectable": False,
        }
    ]
    table = points if methods is None else points[points["method"].isin(list(methods))]
    table = table[table["family"] != "exact"]
    groups = list(table.groupby(["method", "build"], sort=False))
    for (method, build), group in progress_bar(groups, enabled=progress, desc="lists from each index", unit="index"):
        index = index_from({"method": method, "build": build, "query": "{}"}, metric="ip").fit(embeddings.item_vectors)
        for _, point in group.iterrows():
            query = json.loads(point["query"]) if isinstance(point["query"], str) else dict(point["query"])
            if query:
                index.set_query_arguments(**query)
            lists = recommend_with_index(index, embeddings.user_vectors, users, k, embeddings.train)
            quality = list_quality(lists, users, embeddings.train, embeddings.test, k, per_user=True)
            interval = loss_interval(quality.pop("per_user"))
            overlap = _overlap(lists, exact_lists)
            rows.append(
                {
                    "method": method,
                    "family": point["family"],
                    "build": build,
                    "query": point["query"],
                    "ann_recall": float(point["recall"]),
                    "served_recall": overlap,
                    **quality,
                    "overlap": overlap,
                    **interval,
                }
            )
    out = pd.DataFrame(rows)
    out["ndcg_loss"] = reference[f"ndcg@{k}"] - out[f"ndcg@{k}"]
    return out


def low_rank_cost(embeddings: RealEmbeddings, k: int = 10) -> dict[str, Any]:
    """What serving the model through its vectors costs before any index: the model's own lists
    against exact retrieval of ``embeddings``' vectors, on the test split.

    Meant for vectors that approximate the model (:func:`ease_embeddings`: full EASE against its
    rank-``r`` factorisation); for a factor model whose vectors *are* its scores the cost is zero.
    The model's lists come from :func:`recsys.evaluation.recommend` (what
    :meth:`RealEmbeddings.exact_quality` scores), the vectors' from an exact inner-product index
    (:class:`recsys.ann.exact.BruteForce`, :func:`recommend_with_index`), both with the training
    items removed and both scored by :func:`list_quality`.

    Returns ``rank`` (the vectors' dimension), ``frobenius_share`` (from ``params``, NaN if
    absent), ``model_ndcg@k`` and ``ndcg@k`` (the vectors'), ``ndcg_loss`` (model minus vectors,
    the mean over users) with ``ndcg_loss_low``/``ndcg_loss_high``, its 95 % paired bootstrap
    interval over the scored users (:func:`recsys.stats.paired_difference`, seed 0),
    ``loss_detectable`` (the interval excludes zero: a detectable difference either way, since a
    low-rank model may also rank *better*), ``served_recall`` (the mean share of the model's list
    that the vectors' list holds) and ``n_users``.
    """
    k = check_integer("k", k, 1)
    users = embeddings.users
    model_lists = recommend(embeddings.model, users, k, exclude=embeddings.train)
    index = BruteForce("ip").fit(embeddings.item_vectors)
    vector_lists = recommend_with_index(index, embeddings.user_vectors, users, k, embeddings.train)
    model = list_quality(model_lists, users, embeddings.train, embeddings.test, k, per_user=True)
    vectors = list_quality(vector_lists, users, embeddings.train, embeddings.test, k, per_user=True)
    model_per_user, vector_per_user = model.pop("per_user"), vectors.pop("per_user")
    if not np.array_equal(model_per_user["users"], vector_per_user["users"]):  # pragma: no cover - same test set
        raise RuntimeError("the model's and the vectors' lists were scored on different users")
    interval = paired_difference(model_per_user["ndcg"], vector_per_user["ndcg"], seed=0)
    return {
        "rank": int(embeddings.item_vectors.shape[1]),
        "frobenius_share": float(embeddings.params.get("frobenius_share", float("nan"))),
        f"model_ndcg@{k}": model[f"ndcg@{k}"],
        f"ndcg@{k}": vectors[f"ndcg@{k}"],
        "ndcg_loss": interval.estimate,
        "ndcg_loss_low": interval.low,
        "ndcg_loss_high": interval.high,
        "loss_detectable": interval.excludes_zero,
        "served_recall": _overlap(vector_lists, model_lists),
        "n_users": model["n_users"],
    }


def noticeable_recall(
    cost: pd.DataFrame, k: int = 10, tolerance: float | None = None, *, by: str = "served_recall"
) -> float | None:
    """The lowest recall from which on no operating point's lists are detectably worse than exact retrieval's.

    Read off :func:`cost_of_approximation`'s table: sort the points by ``by`` (the recall of the
    served lists, or ``"ann_recall"``, the index's own); the answer is the smallest recall such
    that no point at or above it has a detectable nDCG@k loss (``loss_detectable``: its paired
    interval over users lies above zero), or, with ``tolerance``, a loss above ``tolerance``.
    Below it, some index's lists are measurably worse. ``None`` if even the most accurate point is.
    """
    points = cost[cost["method"] != "exact"].sort_values(by, kind="stable")
    if points.empty:
        return None
    if tolerance is None:
        bad = points["loss_detectable"].to_numpy(dtype=bool)
    else:
        bad = points["ndcg_loss"].to_numpy() > tolerance
    if bad[-1]:
        return None
    last_bad = np.flatnonzero(bad)
    start = 0 if last_bad.size == 0 else last_bad[-1] + 1
    return float(points[by].to_numpy()[start])


def best_point_cost(cost: pd.DataFrame, point: Mapping, k: int = 10) -> dict[str, float]:
    """nDCG@k of one operating point (a results row) next to exact retrieval's, and the loss."""
    exact = cost[cost["method"] == "exact"].iloc[0]
    match = cost[
        (cost["method"] == point["method"]) & (cost["build"] == point["build"]) & (cost["query"] == point["query"])
    ]
    if match.empty:
        raise LookupError(f"the cost table has no row for {point['method']} {point['build']} {point['query']}")
    row = match.iloc[0]
    return {
        "method": point["method"],
        "build": point["build"],
        "query": point["query"],
        "ann_recall": float(row["ann_recall"]),
        f"ndcg@{k}": float(row[f"ndcg@{k}"]),
        f"exact_ndcg@{k}": float(exact[f"ndcg@{k}"]),
        "ndcg_loss": float(row["ndcg_loss"]),
        "ndcg_loss_low": float(row["ndcg_loss_low"]),
        "ndcg_loss_high": float(row["ndcg_loss_high"]),
        "loss_detectable": bool(row["loss_detectable"]),
    }


def serving_study(
    study: families.Study,
    names: Sequence[str],
    methods: Sequence[str],
    *,
    grids: Mapping[str, Mapping] | None = None,
    k: int = 10,
    recall: float = 0.95,
    time_budget: float = 60.0,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each model's vectors (inner-product form) behind each ANN method: speed, recall, list quality.

    For every model, its :meth:`~recsys.models.base.FactorModel.inner_product_factors` (ranking
    form, float32) become a workload (items = catalogue, the evaluated users = queries) and every
    method's grid runs on it (:func:`recsys.ann.bench.run`). Each operating point then serves
    every user's top ``k`` with the training items removed (:func:`cost_of_approximation`)
    at its operating point: the fastest setting reaching ``recall``.

    Returns ``(points, quality, summary)``: the benchmark rows (recall@k, QPS, ...) with a
    ``model`` column; the list quality of exact scoring and of each operating point (nDCG@k,
    ``ndcg_loss`` against exact scoring of the same vectors); and per (model, method) the
    operating point's recall, QPS, nDCG and the exact nDCG (NaN where the grid never reaches it).
    """
    # one BLAS thread: the per-user exact queries are small products, which a multi-threaded BLAS
    # runs several times slower than one thread on a busy machine
    with threadpool_limits(1, "blas"):
        return _serving_study(study, names, methods, grids, k, recall, time_budget, progress)


def _serving_study(study, names, methods, grids, k, recall, time_budget, progress):
    points, qualities, summary = [], [], []
    for name in names:
        model = study.models[name]
        U, V = model.inner_product_factors(ranking_only=True)
        real = RealEmbeddings(
            name,
            model,
            study.train,
            study.test,
            np.ascontiguousarray(U, dtype=np.float32),
            np.ascontiguousarray(V, dtype=np.float32),
            {"dataset": study.data.name, "model": name},
        )
        workload = real.workload(name)
        result = bench.run(workload, methods, grids=grids, k=k, time_budget=time_budget, progress=progress)
        table = result.results.assign(model=name)
        table = table[table["family"] != "exact"] if "family" in table else table
        # the lists are served at each method's operating point only (serving every user's list
        # at every point of a sweep costs more than the sweep)
        chosen = bench.operating_points(table, recall, by=("method",))
        quality = cost_of_approximation(real, chosen, k=k, progress=progress).assign(model=name)
        points.append(table)
        qualities.append(quality)
        exact = quality[quality["method"] == "exact"].iloc[0]
        norms = np.linalg.norm(V, axis=1)
        for method in methods:
            rows = quality[quality["method"] == method]
            fast = chosen[chosen["method"] == method]
            entry = {
                "model": name,
                "method": method,
                "dim": V.shape[1],
                "norm_cv": float(norms.std() / norms.mean()) if norms.mean() > 0 else float("nan"),
                f"exact_ndcg@{k}": float(exact[f"ndcg@{k}"]),
                "recall": float("nan"),
                "qps": float("nan"),
                f"ndcg@{k}": float("nan"),
                "ndcg_loss": float("nan"),
            }
            if len(fast):
                best = fast.loc[fast["qps"].idxmax()]
                match = rows[(rows["build"] == best["build"]) & (rows["query"] == best["query"])]
                entry.update(recall=float(best["recall"]), qps=float(best["qps"]), query=best["query"])
                if len(match):
                    entry[f"ndcg@{k}"] = float(match.iloc[0][f"ndcg@{k}"])
                    entry["ndcg_loss"] = float(match.iloc[0]["ndcg_loss"])
            summary.append(entry)
    return (
        pd.concat(points, ignore_index=True),
        pd.concat(qualities, ignore_index=True),
        pd.DataFrame(summary),
    )
