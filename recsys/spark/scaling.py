"""Where a cluster pays: fit times of ours and MLlib's ALS, MLlib's communication, and a cost model.

**MLlib's block pattern** (``org.apache.spark.ml.recommendation.ALS``). Users are cut into
``numUserBlocks`` blocks and items into ``numItemBlocks`` by hashing their ids (for an int id
``j``: block ``j mod B``). Before iterating, MLlib builds for every pair of blocks the list of
item factors that item block ``b`` must send to user block ``a``: those of the items of ``b``
rated by some user of ``a``. Each half iteration then ships exactly those factor copies
(a shuffle), and every block solves the normal equations of its own rows. So one iteration
costs

* compute: ``sum_u (n_u k^2 + k^3/3) + sum_i (...)``, the same floating-point work as ours
  (:func:`als_flops`), spread over the task slots;
* communication: :func:`factor_copies` factor vectors of ``k`` floats, a number that grows with
  the block count ``B`` (an item rated in every user block is copied ``B`` times) up to the
  number of ratings;
* a fixed overhead per stage and per task (scheduling, task launch, serialising closures),
  paid in every sweep for every block even when the data is tiny.

:func:`fit_spark_costs` measures the per-unit costs from two sweeps of MLlib fits on one machine
(fit time against data size: the cost per flop and the fixed cost; against the block count: the
cost per block and sweep), :func:`fit_ours_cost` the per-flop cost of our single-process ALS, and
:func:`cluster_seconds` extrapolates to a cluster of ``nodes`` x ``cores_per_node`` slots with a
given network bandwidth: the flops divide over the slots, the factor copies cross the network,
and the per-block overhead is either paid block after block (the driver schedules every task;
the pessimistic bound) or shared by the slots (the optimistic one). In local mode the copies
never leave the machine, so their cost here is folded into the per-flop and per-block costs; on
the cluster their bytes are charged to the network explicitly. It is a model on paper, with its
assumptions in the open, not a measurement of a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.checks import check_choice, check_integer, check_number, check_positive
from recsys.interactions import check_interactions, to_csr
from recsys.progress import bar as progress_bar

__all__ = [
    "ClusterSpec",
    "OursCost",
    "SparkCosts",
    "als_flops",
    "cluster_seconds",
    "crossover",
    "crossover_grid",
    "catalogue_verdicts",
    "check_on_workers",
    "expected_factor_copies",
    "factor_copies",
    "fit_ours_cost",
    "fit_spark_costs",
    "ours_bytes",
    "predicted_path",
    "synthetic_matrix",
    "sweep_blocks",
    "sweep_cores",
    "sweep_workers",
    "synthetic_shape",
    "time_fits",
    "zipf_degrees",
]

#: Bytes of one shipped factor copy besides its ``k`` float32s (the destination index, framing).
COPY_OVERHEAD_BYTES = 8
#: Bytes of one rating when MLlib first partitions them (two int ids and a float, plus framing).
RATING_BYTES = 16


def synthetic_shape(
    n_ratings: int, ratings_per_user: float = 150.0, items_per_sqrt_rating: float = 4.0
) -> tuple[int, int]:
    """(n_users, n_items) of a MovieLens-shaped synthetic set with ``n_ratings`` ratings.

    Users grow with the ratings (``n_ratings / ratings_per_user``: ML-1M has 165 per user,
    ML-20M 144), the catalogue more slowly (``items_per_sqrt_rating * sqrt(n_ratings)``: 4,000
    items at a million ratings, ML-1M has 3,706). Density falls as the data grows, as it does
    across the MovieLens releases.
    """
    n_ratings = check_integer("n_ratings", n_ratings, 1)
    check_positive(ratings_per_user=ratings_per_user, items_per_sqrt_rating=items_per_sqrt_rating)
    n_users = max(int(round(n_ratings / ratings_per_user)), 10)
    n_items = max(int(round(items_per_sqrt_rating * np.sqrt(n_ratings))), 10)
    while n_users * n_items < 2 * n_ratings:  # keep the matrix at most half full
        n_users, n_items = 2 * n_users, 2 * n_items
    return n_users, n_items


def synthetic_matrix(n_ratings: int, *, seed: int = 0, ratings_per_user: float = 150.0, **shape) -> sp.csr_matrix:
    """Planted-factor ratings (:mod:`recsys.datasets.synthetic`) of :func:`synthetic_shape`, as CSR."""
    from recsys.datasets import load

    n_users, n_items = synthetic_shape(n_ratings, ratings_per_user, **shape)
    data = load("synthetic", n_users=n_users, n_items=n_items, n_ratings=int(n_ratings), seed=seed)
    return to_csr(data.ratings)


def als_flops(n_ratings: float, n_users: float, n_items: float, factors: int) -> float:
    """Floating-point work of one ALS iteration (users, then items), either engine.

    Per row with ``n`` ratings: ``n k (k + 1)`` for the Gram matrix (a symmetric rank-one update
    per rating), ``2 n k`` for the right-hand side, ``k^3 / 3`` for the Cholesky solve.
    Every rating is seen once per half step.
    """
    k = float(factors)
    return 2.0 * float(n_ratings) * (k * (k + 1) + 2 * k) + (float(n_users) + float(n_items)) * k**3 / 3


def factor_copies(X, blocks: int) -> int:
    """Factor vectors MLlib ships per iteration with ``blocks`` user and item blocks.

    Exact, for MLlib's hash partitioning (index ``j`` in block ``j mod blocks``): for the user
    step, the distinct items rated within each user block, summed over the blocks; plus the
    same for the item step.
    """
    X = check_interactions(X)
    blocks = check_integer("blocks", blocks, 1)
    coo = X.tocoo()

    def copies(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> int:
        keys = (rows % blocks).astype(np.int64) * n_cols + cols
        return int(np.unique(keys).size)

    return copies(coo.row, coo.col, X.shape[1]) + copies(coo.col, coo.row, X.shape[0])


def expected_factor_copies(user_degrees, item_degrees, blocks: int, user_weights=None, item_weights=None) -> float:
    """:func:`factor_copies` from the rating counts alone, for data too large to build.

    A row with ``n`` ratings whose partners fall into ``blocks`` blocks at random reaches
    ``blocks (1 - (1 - 1/blocks)^n)`` of them (at most ``min(n, blocks)``). ``*_weights`` give
    how many rows have each count (default: one each), as :func:`zipf_degrees` returns them.
    """
    blocks = check_integer("blocks", blocks, 1)
    total = 0.0
    for degrees, weights in ((item_degrees, item_weights), (user_degrees, user_weights)):
        n = np.asarray(degrees, dtype=np.float64)
        w = np.ones_like(n) if weights is None else np.asarray(weights, dtype=np.float64)
        reached = blocks * -np.expm1(n * np.log1p(-1.0 / blocks)) if blocks > 1 else (n > 0).astype(np.float64)
        total += float(np.sum(w * reached))
    return total


def zipf_degrees(
    n_rows: float, n_ratings: float, exponent: float, buckets: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Expected rating counts of ``n_rows`` rows sharing ``n_ratings`` with Zipf weights
    ``rank^-exponent`` (the synthetic generator's long tail), as ``(counts, rows)``: ``rows[j]``
    rows have about ``counts[j]`` ratings each.

    Up to ``buckets`` rows this is exact, one row per entry; beyond, ranks are grouped into
    geometric buckets (ratio ~1 + log(n_rows) / buckets), so a billion rows cost a few thousand
    numbers.
    """
    n_rows = int(check_number("n_rows", n_rows, 1))
    exponent = float(exponent)
    if n_rows <= buckets:
        weights = np.arange(1, n_rows + 1, dtype=np.float64) ** -exponent
        return float(n_ratings) * weights / weights.sum(), np.ones(n_rows)
    edges = np.unique(np.round(np.geomspace(1, n_rows + 1, buckets)).astype(np.int64))
    lo, hi = edges[:-1].astype(np.float64), edges[1:].astype(np.float64)
    rows = hi - lo
    # sum of r^-a over lo <= r < hi, by the integral over [lo - 1/2, hi - 1/2] (exact enough here)
    if abs(exponent - 1.0) < 1e-12:
        mass = np.log((hi - 0.5) / (lo - 0.5))
    else:
        mass = ((hi - 0.5) ** (1 - exponent) - (lo - 0.5) ** (1 - exponent)) / (1 - exponent)
    single = rows == 1
    mass[single] = lo[single] ** -exponent
    return float(n_ratings) * mass / mass.sum() / rows, rows


def _run(name: str, make_model: Callable[[], object], X: sp.csr_matrix, repeats: int = 1) -> tuple[dict, object]:
    """Fit a fresh model on ``X`` ``repeats`` times; the row of the fastest fit, and that model.

    The fastest of repeated runs is the one least disturbed by whatever else the machine was
    doing (the usual estimator of a timing under interference, e.g. ``timeit``'s).
    """
    best, fitted = None, None
    for _ in range(check_integer("repeats", repeats, 1)):
        model = make_model()
        start = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - start
        if best is None or seconds < best["seconds"]:
            best = {
                "n_ratings": X.nnz,
                "n_users": X.shape[0],
                "n_items": X.shape[1],
                "engine": name,
                "seconds": seconds,
            }
            best.update(getattr(model, "timings_", {}))
            fitted = model
    if hasattr(fitted, "timings_"):  # an MLlib model: its blocks, the slots, its communication
        from recsys.spark.session import session_slots

        blocks = 10 if fitted.blocks is None else int(fitted.blocks)
        best.update({"blocks": blocks, "slots": session_slots(), "copies": factor_copies(X, blocks)})
    best["repeats"] = int(repeats)
    return best, fitted


def time_fits(
    models: Mapping[str, Callable[[], object]],
    sizes: Sequence[int],
    make_data: Callable[[int], sp.csr_matrix],
    *,
    repeats: int = 1,
    on_fit: Callable[[str, int, object], None] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Fit every model on the data of every size: one row per (size, engine), the fastest of
    ``repeats`` fits.

    ``models`` maps an engine's name to a factory of a fresh unfitted model; ``make_data(size)``
    gives the training matrix. Columns: ``n_ratings``, ``n_users``, ``n_items``, ``engine``,
    ``seconds`` (wall time of ``fit``) and, for the MLlib models, ``to_spark``, ``fit``,
    ``to_numpy`` (their :attr:`timings_`), ``blocks``, ``slots`` (task slots of the session) and
    ``copies`` (:func:`factor_copies` per iteration). ``on_fit(engine, size, model)``, if given,
    sees the kept model of every row (to keep one for later).
    """
    rows = []
    bar = progress_bar(total=len(sizes) * len(models), desc="fits", enabled=progress)
    for size in sizes:
        X = make_data(size)
        for name, factory in models.items():
            row, model = _run(name, factory, X, repeats)
            rows.append(row)
            if on_fit is not None:
                on_fit(name, size, model)
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def sweep_blocks(
    X, block_counts: Sequence[int], make_model: Callable[[int], object], *, repeats: int = 1, progress: bool = True
) -> pd.DataFrame:
    """MLlib fits of ``X`` per block count (``make_model(blocks)`` builds the model), the fastest
    of ``repeats`` each."""
    X = check_interactions(X)
    rows = []
    for blocks in progress_bar(block_counts, desc="blocks", enabled=progress):
        rows.append(_run("MLlib ALS", lambda b=int(blocks): make_model(b), X, repeats)[0])
    return pd.DataFrame(rows)


def sweep_cores(
    X,
    core_counts: Sequence[int],
    make_model: Callable[[], object],
    *,
    memory: str,
    repeats: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """MLlib fits of ``X`` per number of task slots, each in a fresh ``local[cores]`` session
    (the fastest of ``repeats`` each).

    The JVM stays (``memory`` only applies if none runs yet); the session left running is the
    one of the last count. Each new session stops the previous one, so Spark objects made
    before (an ``ALSModel``'s factor frames, cached DataFrames) are unusable afterwards: use
    them first (numpy factors already collected stay valid).
    """
    from recsys.spark.session import local_session

    X = check_interactions(X)
    rows = []
    for cores in progress_bar(core_counts, desc="cores", enabled=progress):
        local_session(memory=memory, cores=int(cores))
        rows.append(_run("MLlib ALS", make_model, X, repeats)[0])
    return pd.DataFrame(rows)


def sweep_workers(
    X,
    worker_counts: Sequence[int],
    make_model: Callable[[int], object],
    *,
    memory: str,
    worker_memory: str = "1g",
    cores_per_worker: int = 1,
    repeats: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """MLlib fits of ``X`` on ``local-cluster[workers, cores_per_worker, worker_memory]`` masters:
    separate executor processes on this machine, the closest a single machine comes to a cluster
    (shuffles are serialised and sent through sockets between processes, as between nodes, but
    without a network's latency or bandwidth limit). ``make_model(slots)`` makes each fit's model
    (one block per slot, say, as :func:`check_on_workers` assumes). The fastest of ``repeats`` per
    count, with ``workers`` and ``cores_per_worker`` columns. Like :func:`sweep_cores`, each count starts a fresh session
    (the last one is left running) and the executors' processes end with it.
    """
    from recsys.spark.session import local_session

    X = check_interactions(X)
    cores_per_worker = check_integer("cores_per_worker", cores_per_worker, 1)
    rows = []
    for workers in progress_bar(worker_counts, desc="workers", enabled=progress):
        workers = check_integer("workers", workers, 1)
        local_session(memory=memory, cores=cores_per_worker, workers=workers, worker_memory=worker_memory)
        slots = workers * cores_per_worker
        row = _run("MLlib ALS", lambda slots=slots: make_model(slots), X, repeats)[0]
        rows.append(row | {"workers": workers, "cores_per_worker": cores_per_worker})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SparkCosts:
    """Per-unit costs of MLlib's ALS, measured on one machine.

    ``fixed_seconds`` per fit (job set-up, whatever the size and the blocks); ``block_seconds``
    per block and per sweep (scheduling, launching and finishing the tasks of that block's
    stages, whatever its size); ``flop_seconds`` per floating-point operation on one task slot
    (the arithmetic, with the data movement that grows with it). ``residual`` is the RMS
    relative error of the model over the fits it was made from.
    """

    fixed_seconds: float
    block_seconds: float
    flop_seconds: float
    residual: float = float("nan")

    def seconds(self, n_ratings, n_users, n_items, factors, iterations, blocks, slots) -> float:
        """Predicted MLlib fit time on one machine with ``slots`` task slots."""
        busy = min(int(slots), int(blocks))
        flops = als_flops(n_ratings, n_users, n_items, factors)
        return self.fixed_seconds + iterations * (self.block_seconds * blocks + self.flop_seconds * flops / busy)


def fit_spark_costs(size_runs: pd.DataFrame, block_runs: pd.DataFrame, factors: int, iterations: int) -> SparkCosts:
    """:class:`SparkCosts` from two sweeps of MLlib fits, by two straight-line fits.

    ``size_runs``: fits at one block count and one slot count, of growing data; the slope of
    fit time against the floating-point work gives ``flop_seconds`` (times the busy slots),
    the intercept the fixed part. ``block_runs``: fits of one data set at several block counts;
    after the arithmetic is taken off, the slope against ``iterations * blocks`` gives
    ``block_seconds``. Both need columns ``n_ratings``, ``n_users``, ``n_items``, ``blocks``,
    ``slots`` and ``fit`` (the MLlib fit's seconds); each at least two distinct x values.
    Slopes are clipped at 0 (a noisy machine can tilt a line the wrong way); the fixed part is
    the size line's intercept less the block cost of its blocks.
    """
    for name, runs in (("size_runs", size_runs), ("block_runs", block_runs)):
        missing = {"n_ratings", "n_users", "n_items", "blocks", "slots", "fit"} - set(runs.columns)
        if missing:
            raise ValueError(f"{name} lacks column(s) {sorted(missing)}")
    if size_runs["n_ratings"].nunique() < 2 or block_runs["blocks"].nunique() < 2:
        raise ValueError("fitting the costs needs at least two sizes and two block counts")
    if size_runs["blocks"].nunique() != 1 or size_runs["slots"].nunique() != 1:
        raise ValueError("size_runs must share one block count and one slot count")

    def work(runs):
        return iterations * np.array([als_flops(r.n_ratings, r.n_users, r.n_items, factors) for r in runs.itertuples()])

    y = size_runs["fit"].to_numpy(float)
    slope, intercept = np.polyfit(work(size_runs), y, 1, w=1.0 / y)  # relative errors
    b0 = int(size_runs["blocks"].iloc[0])
    busy0 = min(int(size_runs["slots"].iloc[0]), b0)
    flop_seconds = max(float(slope), 0.0) * busy0

    busy = np.minimum(block_runs["slots"].to_numpy(float), block_runs["blocks"].to_numpy(float))
    overhead = block_runs["fit"].to_numpy(float) - flop_seconds * work(block_runs) / busy
    block_slope, _ = np.polyfit(iterations * block_runs["blocks"].to_numpy(float), overhead, 1)
    block_seconds = max(float(block_slope), 0.0)
    fixed = max(float(intercept) - iterations * block_seconds * b0, 0.0)

    costs = SparkCosts(fixed, block_seconds, flop_seconds)
    every = pd.concat([size_runs, block_runs], ignore_index=True)
    predicted = np.array(
        [
            costs.seconds(r.n_ratings, r.n_users, r.n_items, factors, iterations, r.blocks, r.slots)
            for r in every.itertuples()
        ]
    )
    residual = float(np.sqrt(np.mean((predicted / every["fit"].to_numpy(float) - 1.0) ** 2)))
    return SparkCosts(fixed, block_seconds, flop_seconds, residual)


@dataclass(frozen=True)
class OursCost:
    """Our single-process ALS: ``fixed_seconds`` per fit and ``flop_seconds`` per floating-point
    operation (one core), plus ``bytes_per_rating`` and ``bytes_per_row_factor`` of its peak
    memory."""

    flop_seconds: float
    residual: float = float("nan")
    bytes_per_rating: float = 0.0
    bytes_per_row_factor: float = 16.0
    fixed_seconds: float = 0.0

    def seconds(self, n_ratings, n_users, n_items, factors, iterations, cores: int = 1) -> float:
        work = iterations * self.flop_seconds * als_flops(n_ratings, n_users, n_items, factors)
        return self.fixed_seconds + work / cores

    def memory_bytes(self, n_ratings, n_users, n_items, factors) -> float:
        return self.bytes_per_rating * float(n_ratings) + self.bytes_per_row_factor * (
            float(n_users) + float(n_items)
        ) * float(factors)


def fit_ours_cost(runs: pd.DataFrame, factors: int, iterations: int) -> OursCost:
    """The fixed and per-flop cost of our ALS, from fits with ``n_ratings``, ``n_users``,
    ``n_items``, ``seconds``: a straight line against the work (relative errors; the slope and
    intercept clipped at 0; through the origin with a single size)."""
    if len(runs) == 0:
        raise ValueError("runs holds no fits")
    flops = iterations * np.array([als_flops(r.n_ratings, r.n_users, r.n_items, factors) for r in runs.itertuples()])
    y = runs["seconds"].to_numpy(float)
    if np.unique(flops).size >= 2:
        slope, intercept = np.polyfit(flops, y, 1, w=1.0 / y)
    else:
        slope, intercept = float(np.mean(y / flops)), 0.0
    slope, intercept = max(float(slope), 0.0), max(float(intercept), 0.0)
    if slope == 0.0:  # a line that does not grow cannot be extrapolated: fall back to the mean ratio
        slope, intercept = float(np.mean(y / flops)), 0.0
    residual = float(np.sqrt(np.mean(((intercept + slope * flops) / y - 1.0) ** 2)))
    return OursCost(flop_seconds=slope, residual=residual, fixed_seconds=intercept)


def ours_bytes(X, factors: int, iterations: int = 1) -> int:
    """Peak bytes numpy allocates while our ALS fits ``X`` (``tracemalloc``; the matrix itself
    excluded), to size what one machine can hold."""
    import tracemalloc

    from recsys.models import ALS

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        ALS(factors=factors, iterations=iterations, weighted_regularization=True, biased=False).fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(peak)


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster on paper: ``nodes`` machines of ``cores_per_node`` task slots, each with
    ``network_bytes_per_second`` of network (10 Gbit/s = 1.25e9)."""

    nodes: int
    cores_per_node: int = 8
    network_bytes_per_second: float = 1.25e9

    def __post_init__(self) -> None:
        check_integer("nodes", self.nodes, 1)
        check_integer("cores_per_node", self.cores_per_node, 1)
        check_number("network_bytes_per_second", self.network_bytes_per_second, 0, exclusive=True)

    @property
    def slots(self) -> int:
        return self.nodes * self.cores_per_node


def cluster_seconds(
    costs: SparkCosts,
    cluster: ClusterSpec,
    n_ratings: float,
    n_users: float,
    n_items: float,
    factors: int,
    iterations: int,
    *,
    overhead: str = "serial",
    popularity_exponent: float = 0.8,
    activity_exponent: float = 0.6,
) -> float:
    """Predicted MLlib fit time on ``cluster`` (one block per slot, MLlib's advice).

    The fixed cost; the ratings' first shuffle into blocks (16 bytes each) over the network; and
    per iteration: the per-block overhead of every block, either paid one block after another
    (``overhead="serial"``: the driver schedules every task; the pessimistic bound) or shared by
    the slots (``"parallel"``; the optimistic one); the flops divided over the slots; and the
    factor copies' bytes (``4 k + 8`` each) over the nodes' network, of which a share
    ``1 - 1/nodes`` leaves its node. The copies come from :func:`expected_factor_copies` with
    Zipf rating counts like the synthetic data's.
    """
    check_choice("overhead", overhead, ("serial", "parallel"))
    slots = cluster.slots
    users, user_rows = zipf_degrees(n_users, n_ratings, activity_exponent)
    items, item_rows = zipf_degrees(n_items, n_ratings, popularity_exponent)
    copies = expected_factor_copies(users, items, slots, user_rows, item_rows)
    remote = 1.0 - 1.0 / cluster.nodes
    network = cluster.nodes * cluster.network_bytes_per_second
    copy_bytes = copies * (4.0 * factors + COPY_OVERHEAD_BYTES)
    flops = als_flops(n_ratings, n_users, n_items, factors)
    blocks_overhead = costs.block_seconds * (slots if overhead == "serial" else 1.0)
    per_iteration = blocks_overhead + costs.flop_seconds * flops / slots + remote * copy_bytes / network
    return costs.fixed_seconds + remote * RATING_BYTES * float(n_ratings) / network + iterations * per_iteration


def check_on_workers(
    costs: SparkCosts,
    runs: pd.DataFrame,
    *,
    factors: int,
    iterations: int,
    network_bytes_per_second: float,
) -> pd.DataFrame:
    """The cluster model against fits on separate executor processes (:func:`sweep_workers`).

    Each row of ``runs`` is taken as a cluster of ``workers`` nodes with ``cores_per_worker``
    slots; :func:`cluster_seconds` predicts its fit under both overhead bounds. Returns ``workers``,
    ``slots``, ``blocks``, ``measured``, ``predicted_serial``, ``predicted_parallel`` and
    ``measured / predicted`` (against the nearer bound, 1 when the measurement lies between them).
    The model assumes one block per slot: a run with another block count is refused.
    """
    missing = {"workers", "cores_per_worker", "blocks", "seconds", "n_ratings", "n_users", "n_items"} - set(runs)
    if missing:
        raise ValueError(f"runs lack the column(s) {sorted(missing)}: pass the table sweep_workers returns")
    rows = []
    for r in runs.itertuples():
        slots = int(r.workers) * int(r.cores_per_worker)
        if int(r.blocks) != slots:
            raise ValueError(
                f"the run on {r.workers} worker(s) used {r.blocks} blocks: the cluster model assumes one block per "
                f"slot ({slots}); fit with blocks={slots}"
            )
        cluster = ClusterSpec(int(r.workers), int(r.cores_per_worker), network_bytes_per_second)
        serial, parallel = (
            cluster_seconds(costs, cluster, r.n_ratings, r.n_users, r.n_items, factors, iterations, overhead=o)
            for o in ("serial", "parallel")
        )
        low, high = min(serial, parallel), max(serial, parallel)
        nearer = low if r.seconds < low else high if r.seconds > high else r.seconds
        rows.append(
            {
                "workers": int(r.workers),
                "slots": slots,
                "blocks": int(r.blocks),
                "measured": float(r.seconds),
                "predicted_serial": serial,
                "predicted_parallel": parallel,
                "measured / predicted": float(r.seconds) / nearer,
            }
        )
    return pd.DataFrame(rows)


def workers_verdict(check: pd.DataFrame, costs: SparkCosts) -> str:
    """One sentence on :func:`check_on_workers`' table: is the cluster model, fitted on ``local[*]``,
    within its own error (``costs.residual``) on separate executor processes?

    The largest ``|measured / predicted - 1|`` over the runs is set against the residual; a
    model without a residual (not fitted by :func:`fit_spark_costs`) is refused.
    """
    if "measured / predicted" not in check or check.empty:
        raise ValueError("check must be the non-empty table check_on_workers returns")
    if not np.isfinite(costs.residual):
        raise ValueError("costs has no residual: fit it with fit_spark_costs to judge the model against its error")
    off = float((check["measured / predicted"] - 1).abs().max())
    if off <= costs.residual:
        return (
            f"on separate processes the model is within its own error ({costs.residual:.0%}): off by at most {off:.0%}"
        )
    return (
        f"on separate processes the model is off by up to {off:.0%}, more than its own error ({costs.residual:.0%}): "
        "read the cluster lines above as uncertain by at least that much"
    )


def crossover_grid(
    costs: SparkCosts,
    ours: OursCost,
    cluster: ClusterSpec,
    n_users: Sequence[float],
    n_items: Sequence[float],
    *,
    ratings_per_user: float,
    factors: int,
    iterations: int,
    machine_bytes: float,
    ours_cores: int = 1,
    min_ratings_per_item: float = 5.0,
    overhead: str = "serial",
) -> pd.DataFrame:
    """Speed-up of the cluster over ours on one machine, for every (users, items) pair.

    One row per pair: ``n_users``, ``n_items``, ``n_ratings`` (``ratings_per_user * n_users``,
    capped at half the matrix), ``ours_seconds``, ``cluster_seconds``, ``speedup`` (ours /
    cluster) and ``ours_fits`` (whether our ALS's memory fits in ``machine_bytes``);
    ``overhead`` as in :func:`cluster_seconds`. Pairs whose
    items would average fewer than ``min_ratings_per_item`` ratings (a catalogue mostly never
    rated, which neither engine would solve for) get NaN times and speed-up.
    """
    rows = []
    for nu in n_users:
        for ni in n_items:
            nnz = min(ratings_per_user * nu, 0.5 * nu * ni)
            if nnz < min_ratings_per_item * ni:
                rows.append(
                    {"n_users": nu, "n_items": ni, "n_ratings": nnz, "ours_seconds": np.nan}
                    | {"cluster_seconds": np.nan, "speedup": np.nan, "ours_fits": True}
                )
                continue
            t_ours = ours.seconds(nnz, nu, ni, factors, iterations, ours_cores)
            t_cluster = cluster_seconds(costs, cluster, nnz, nu, ni, factors, iterations, overhead=overhead)
            rows.append(
                {
                    "n_users": nu,
                    "n_items": ni,
                    "n_ratings": nnz,
                    "ours_seconds": t_ours,
                    "cluster_seconds": t_cluster,
                    "speedup": t_ours / t_cluster,
                    "ours_fits": bool(ours.memory_bytes(nnz, nu, ni, factors) <= machine_bytes),
                }
            )
    return pd.DataFrame(rows)


def catalogue_verdicts(grid: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """For each number of users of a :func:`crossover_grid`, the catalogues on which the cluster
    is faster, and whether the catalogue size ever decides it.

    Returns one row per ``n_users`` (``n_ratings``, ``drawn``: the catalogues with a finite
    speed-up, ``cluster_wins``: how many of them the cluster wins, ``from_items``/``to_items``:
    the smallest and largest of those, NaN when none, ``verdict``: a sentence), and ``moved``:
    True when, for some number of users, the cluster wins some drawn catalogues and loses others
    (the catalogue changes the verdict), False when the users alone decide it everywhere.
    """
    missing = {"n_users", "n_items", "n_ratings", "speedup"} - set(grid.columns)
    if missing:
        raise ValueError(f"grid lacks the column(s) {sorted(missing)}: pass the table crossover_grid returns")
    rows = []
    for users, row in grid[grid["speedup"].notna()].groupby("n_users", sort=True):
        wins = row.loc[row["speedup"] > 1, "n_items"]
        verdict = (
            "never"
            if wins.empty
            else f"for catalogues of {wins.min():.1e} to {wins.max():.1e} items (of {row['n_items'].min():.0e} "
            f"to {row['n_items'].max():.0e} drawn)"
        )
        rows.append(
            {
                "n_users": float(users),
                "n_ratings": float(row["n_ratings"].max()),
                "drawn": len(row),
                "cluster_wins": len(wins),
                "from_items": float(wins.min()) if len(wins) else np.nan,
                "to_items": float(wins.max()) if len(wins) else np.nan,
                "verdict": verdict,
            }
        )
    table = pd.DataFrame(
        rows, columns=["n_users", "n_ratings", "drawn", "cluster_wins", "from_items", "to_items", "verdict"]
    )
    moved = bool(((table["cluster_wins"] > 0) & (table["cluster_wins"] < table["drawn"])).any())
    return table, moved


def predicted_path(
    costs: SparkCosts,
    ours: OursCost,
    clusters: Sequence[ClusterSpec],
    sizes: Sequence[float],
    *,
    factors: int,
    iterations: int,
    local_slots: int,
    local_blocks: int,
    ratings_per_user: float = 150.0,
    items_per_sqrt_rating: float = 4.0,
    overhead: str = "serial",
) -> pd.DataFrame:
    """Predicted fit times along the MovieLens-shaped path of :func:`synthetic_shape`.

    One row per size: ``n_ratings``, ``n_users``, ``n_items``, ``ours`` (one process),
    ``mllib_here`` (this machine: ``local_slots`` slots, ``local_blocks`` blocks), one column
    ``cluster_<nodes>x<cores>`` per cluster (``overhead`` as in :func:`cluster_seconds`), and
    ``ours_bytes`` (our ALS's peak memory).
    """
    rows = []
    for size in sizes:
        nu, ni = synthetic_shape(int(size), ratings_per_user, items_per_sqrt_rating)
        row = {
            "n_ratings": float(size),
            "n_users": nu,
            "n_items": ni,
            "ours": ours.seconds(size, nu, ni, factors, iterations),
            "mllib_here": costs.seconds(size, nu, ni, factors, iterations, local_blocks, local_slots),
        }
        for cluster in clusters:
            name = f"cluster_{cluster.nodes}x{cluster.cores_per_node}"
            row[name] = cluster_seconds(costs, cluster, size, nu, ni, factors, iterations, overhead=overhead)
        row["ours_bytes"] = ours.memory_bytes(size, nu, ni, factors)
        rows.append(row)
    return pd.DataFrame(rows)


def crossover(path: pd.DataFrame, column: str, baseline: str = "ours") -> float | None:
    """The smallest ``n_ratings`` of ``path`` from which ``column`` stays faster than ``baseline``
    (``None`` if it never is within the path)."""
    if column not in path or baseline not in path:
        raise KeyError(f"path has no column {column!r} or {baseline!r}")
    faster = (path[column] < path[baseline]).to_numpy()
    for start in range(faster.size):
        if faster[start:].all():
            return float(path["n_ratings"].iloc[start])
    return None
