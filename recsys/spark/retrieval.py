"""Top-k items for every user, three ways, and how fast each is.

The second half of the pipeline, after the embeddings: for every user, the ``k`` items with the
largest inner product ``u . v``. Three routes to the same lists:

* :func:`mllib_top_k`: MLlib's ``ALSModel.recommendForAllUsers(k)``, blocked matrix products
  and a bounded priority queue per user inside the JVM, the result collected to the driver;
* :func:`exact_top_k`: our blocked exact scoring in this process
  (:class:`recsys.ann.exact.BruteForce`, one BLAS product per block of users);
* :func:`partitioned_top_k`: any :mod:`recsys.ann` index applied per partition of the users on
  Spark (``DataFrame.mapInPandas``): the index is built once on the driver and broadcast to
  the Python workers (or, if it does not pickle, its item vectors and build parameters are, and
  each worker builds it once), then each partition's users are queried in Arrow batches.

All three search the whole catalogue (no exclusion of training items): this is the serving
step an index replaces, measured against exact search by :func:`recall_at_k`. What gets
recommended in the end (training items removed) is :func:`recsys.evaluation.recommend`'s job.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import time
import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.ann.base import ANNIndex
from recsys.ann.exact import BruteForce
from recsys.checks import check_choice, check_integer
from recsys.similarity import check_vectors
from recsys.spark.convert import quiet_pyspark, release, to_pandas, vectors_frame

__all__ = [
    "Retrieval",
    "ann_adapter",
    "exact_top_k",
    "mllib_top_k",
    "partitioned_top_k",
    "recall_at_k",
]


@dataclass(frozen=True)
class Retrieval:
    """One batch-retrieval run: the lists (n_users, k), -1 = empty, and the wall time it took."""

    method: str
    items: np.ndarray
    seconds: float

    @property
    def users_per_second(self) -> float:
        return self.items.shape[0] / self.seconds if self.seconds > 0 else float("inf")


def mllib_top_k(model, k: int, n_users: int | None = None) -> Retrieval:
    """``recommendForAllUsers(k)`` of an MLlib ``ALSModel`` (or of our Spark model's ``model_``).

    Row ``j`` of the result is our user index ``j``; users MLlib has no factors for get ``-1``.
    The time covers the JVM's work and the collection of the lists to the driver.
    """
    k = check_integer("k", k, 1)
    als = getattr(model, "model_", model)
    if n_users is None:
        n_users = getattr(model, "n_users_", None)
        if n_users is None:
            raise ValueError("n_users is needed when passing a bare ALSModel")
    n_users = check_integer("n_users", n_users, 1)
    start = time.perf_counter()
    lists = als.recommendForAllUsers(k)
    # array<struct<item, rating>> has no Arrow conversion in Spark 3.5: keep the ids only
    pdf = to_pandas(lists.selectExpr("user AS id", "transform(recommendations, r -> r.item) AS items"))
    seconds = time.perf_counter() - start
    return Retrieval("MLlib recommendForAllUsers", _assemble(pdf, n_users, k), seconds)


def exact_top_k(user_vectors, item_vectors, k: int, batch_size: int = 1024) -> Retrieval:
    """Our blocked exact scoring: ``batch_size`` users at a time, one matrix product each."""
    U = check_vectors(user_vectors, "user_vectors")
    V = check_vectors(item_vectors, "item_vectors", dim=U.shape[1])
    k = check_integer("k", k, 1, V.shape[0])
    start = time.perf_counter()
    index = BruteForce(metric="ip", batch_size=check_integer("batch_size", batch_size, 1)).fit(V)
    items = index.batch_query(U, k)
    return Retrieval("exact, blocked (numpy)", items, time.perf_counter() - start)


#: Per Python worker process: indexes built from broadcast vectors, by the job's token.
_WORKER_INDEXES: dict[str, ANNIndex] = {}


def _worker_index(payload, token: str) -> ANNIndex:
    """The index a worker searches: unpickled from the broadcast, or built once from its vectors.

    pyspark loads a broadcast value once per worker process and reuses the process for later
    tasks, so either way a worker pays for the index once per job, not once per partition.
    """
    kind, content = payload.value
    if kind == "index":
        return content
    index = _WORKER_INDEXES.get(token)
    if index is None:
        cls, metric, build_params, query_arguments, vectors = content
        index = cls(metric=metric, **build_params).fit(vectors)
        if query_arguments:
            index.set_query_arguments(**query_arguments)
        _WORKER_INDEXES.clear()  # one job's index at a time per worker
        _WORKER_INDEXES[token] = index
    return index


def _payload(index: ANNIndex, item_vectors, broadcast: str):
    if broadcast in ("auto", "index"):
        try:
            pickle.dumps(index)
            return ("index", index), "index"
        except Exception:  # libraries whose index objects do not pickle (faiss, annoy, ...)
            if broadcast == "index":
                raise
    if item_vectors is None:
        raise ValueError(f"{type(index).__name__} does not pickle; pass item_vectors to rebuild it on the workers")
    vectors = check_vectors(item_vectors, "item_vectors", dim=index.dim_)
    content = (type(index), index.metric, dict(index.build_params), dict(index.query_arguments), vectors)
    return ("vectors", content), "vectors"


def partitioned_top_k(
    spark,
    user_vectors,
    index: ANNIndex,
    k: int,
    *,
    partitions: int | None = None,
    item_vectors=None,
    broadcast: str = "auto",
) -> Retrieval:
    """Query a fitted :mod:`recsys.ann` index for every user, per partition on Spark.

    ``partitions`` splits the users (default: two per task slot). ``broadcast="index"`` ships
    the fitted index itself (it must pickle), ``"vectors"`` ships ``item_vectors`` and the build
    parameters so each Python worker builds its own copy once, ``"auto"`` tries the first and
    falls back to the second. The time covers shipping the user vectors to Spark, the broadcast,
    the queries and collecting the lists to the driver (the driver-side build is not included:
    it is ``index.build_seconds_``). The result's ``method`` says which broadcast was used.
    """
    if not isinstance(index, ANNIndex) or not hasattr(index, "n_items_"):
        raise TypeError("index must be a fitted recsys.ann index (call index.fit(item_vectors) first)")
    U = check_vectors(user_vectors, "user_vectors", dim=index.dim_)
    k = check_integer("k", k, 1, index.n_items_)
    broadcast = check_choice("broadcast", broadcast, ("auto", "index", "vectors"))
    if partitions is None:
        partitions = spark.sparkContext.defaultParallelism  # local_session sets two per task slot
    partitions = check_integer("partitions", partitions, 1)

    start = time.perf_counter()
    content, shipped = _payload(index, item_vectors, broadcast)
    payload = spark.sparkContext.broadcast(content)
    token = uuid.uuid4().hex
    frame = vectors_frame(spark, U, partitions=partitions)

    def search(batches):
        searcher = _worker_index(payload, token)
        for batch in batches:
            queries = np.stack(batch["vector"].to_numpy()).astype(np.float32, copy=False)
            found = searcher.batch_query(queries, k)
            yield pd.DataFrame({"id": batch["id"].to_numpy(), "items": list(found)})

    with quiet_pyspark():
        pdf = to_pandas(frame.mapInPandas(search, "id int, items array<long>"))
    seconds = time.perf_counter() - start
    payload.unpersist()
    release(frame)
    label = f"{index.label} per partition (mapInPandas, {shipped} broadcast)"
    return Retrieval(label, _assemble(pdf, U.shape[0], k), seconds)


def _assemble(pdf: pd.DataFrame, n_users: int, k: int) -> np.ndarray:
    """(n_users, k) int64 from a frame of ``id`` and ``items`` lists; absent users and short
    lists are padded with -1."""
    out = np.full((n_users, k), -1, dtype=np.int64)
    for user, items in zip(pdf["id"].to_numpy(), pdf["items"].to_numpy()):
        items = np.asarray(items, dtype=np.int64)[:k]
        out[int(user), : items.size] = items
    return out


def recall_at_k(found, exact, user_vectors=None, item_vectors=None) -> float:
    """Mean share of each user's exact top-k that ``found`` retrieved (``k`` = the lists' width).

    With the vectors given, ties count as ann-benchmarks counts them: an item found whose score
    reaches the k-th exact score is a hit even if exact search listed another item of that score.
    """
    found, exact = np.asarray(found), np.asarray(exact)
    if found.shape != exact.shape or found.ndim != 2:
        raise ValueError(f"found and exact must be (n_users, k) of one shape, got {found.shape} and {exact.shape}")
    if found.size == 0:
        raise ValueError("found and exact hold no lists")
    k = exact.shape[1]
    if user_vectors is None or item_vectors is None:
        hits = [np.intersect1d(f[f >= 0], e[e >= 0]).size for f, e in zip(found, exact)]
        return float(np.mean(hits) / k)
    U = check_vectors(user_vectors, "user_vectors")
    V = check_vectors(item_vectors, "item_vectors", dim=U.shape[1])
    kth = np.einsum("ij,ij->i", U, V[exact[:, -1]])  # the k-th best exact score of each user
    scores = np.where(found >= 0, np.einsum("ud,ukd->uk", U, V[np.maximum(found, 0)]), -np.inf)
    tolerance = 1e-5 * np.maximum(np.abs(kth), 1.0)
    hits = (scores >= (kth - tolerance)[:, None]).sum(axis=1)
    return float(np.mean(np.minimum(hits, k)) / k)


def ann_adapter(name: str) -> type[ANNIndex]:
    """The :mod:`recsys.ann` adapter class whose ``name`` is ``name`` (e.g. ``"hnswlib"``).

    Looks through every module of the package; ``ValueError`` lists the names found.
    """
    import recsys.ann as ann

    found: dict[str, type[ANNIndex]] = {}
    for module in pkgutil.iter_modules(ann.__path__):
        try:
            loaded = importlib.import_module(f"recsys.ann.{module.name}")
        except ImportError:  # pragma: no cover - adapters import their libraries lazily
            continue
        for value in vars(loaded).values():
            if isinstance(value, type) and issubclass(value, ANNIndex) and value is not ANNIndex:
                found.setdefault(value.name, value)
    if name not in found:
        raise ValueError(f"no recsys.ann adapter named {name!r}; there are: {', '.join(sorted(found))}")
    return found[name]


def compare_routes(
    spark,
    model,
    k: int,
    index: ANNIndex,
    *,
    partitions: int | None = None,
    repeats: int = 1,
    warm_up: bool = True,
) -> pd.DataFrame:
    """Top-``k`` for every user of a fitted Spark model, three ways, timed and checked.

    ``model`` is a :class:`~recsys.spark.als.SparkALS` / ``SparkImplicitALS`` (its ``model_``
    serves MLlib's route, its :meth:`inner_product_factors` the other two); ``index`` an unfitted
    :mod:`recsys.ann` index, built here on the item vectors. Each route runs once untimed when
    ``warm_up`` (the first Spark job of a kind starts Python workers and JIT-compiles), then
    ``repeats`` times; the table gives the median. Rows: the three routes; columns:
    ``seconds``, ``users_per_second``, ``recall@k`` (against the exact lists, ties counted) and
    ``build_seconds`` (the index's build on the driver, not part of ``seconds``).
    """
    repeats = check_integer("repeats", repeats, 1)
    U, V = model.inner_product_factors()
    U = np.ascontiguousarray(U, dtype=np.float32)
    V = np.ascontiguousarray(V, dtype=np.float32)
    index.fit(V)
    routes = {
        "mllib": lambda: mllib_top_k(model, k),
        "exact": lambda: exact_top_k(U, V, k),
        "index": lambda: partitioned_top_k(spark, U, index, k, partitions=partitions, item_vectors=V),
    }
    results: dict[str, list[Retrieval]] = {}
    for key, route in routes.items():
        if warm_up:
            route()
        results[key] = [route() for _ in range(repeats)]
    exact = results["exact"][0].items
    rows = {}
    for key, runs in results.items():
        seconds = float(np.median([r.seconds for r in runs]))
        rows[runs[0].method] = {
            "seconds": seconds,
            "users_per_second": U.shape[0] / seconds,
            f"recall@{k}": recall_at_k(runs[0].items, exact, U, V),
            "build_seconds": index.build_seconds_ if key == "index" else 0.0,
        }
    return pd.DataFrame.from_dict(rows, orient="index")
