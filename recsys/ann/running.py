"""The benchmark runner: measure every index the way ann-benchmarks does, on recommender vectors.

One call, :func:`run`, builds each method's grid (the adapter's own ``grid``, or an override, see
:mod:`recsys.ann.grids`) on a workload (:mod:`recsys.ann.workloads`) and returns a tidy table, one
row per method x build x query parameters (:data:`RESULT_COLUMNS`), with:

* ``recall``: recall@k as ann-benchmarks counts it, ties with the k-th item counted as hits
  (:func:`recsys.ann.ground_truth.recall`), over every query, from the batch call;
  ``recall_single`` over the queries timed one by one;
* ``qps``: queries per second **single-threaded, one query per call** (the headline, as in
  ann-benchmarks), with ``p50_ms``/``p99_ms`` latencies; the queries are checked and transformed
  once up front, so the timed call is the library's search plus a thin adapter;
* ``batch_qps``: all queries in one call on ``batch_threads`` threads (0 = all cores), the call
  repeated until half of ``max_timing_seconds`` has been spent (1 s by default);
* ``build_s`` (wall time of the library's build), ``memory_bytes`` and ``memory_source`` (the
  library's own figure, the arrays held, or the measured growth of resident memory);
* the thread counts used, the 1-minute load average when the point was measured, whether the
  machine was quiet when its timing started (``quiet``: the load below ``max_load``, after
  waiting for it if need be), and whether single-query answers equal the batch answers
  (``consistent``). The run's ``settings`` name the CPU model and its SIMD flags.

Methods are registry names or adapter classes (a class need not be registered: its own grid is
used). Threads are pinned: BLAS through threadpoolctl, each library through its own setting (see
:meth:`recsys.ann.base.ANNIndex.set_num_threads`). With ``reproducible=True`` (the default) every
index whose parallel build is not deterministic (graphs, forests) is built on one thread, so
recall figures repeat exactly from run to run. Each method gets a wall-clock ``time_budget``: once
it is spent, the method's remaining grid points are skipped (a build that has started is not
interrupted) and the table says so. A method whose library is missing is skipped with the reason.

Also here: :func:`run_sizes` (the scaling study: the same run on growing prefixes of a catalogue)
and :func:`simd_sweep` (faiss at each SIMD level it can run at). Reading the table afterwards:
:mod:`recsys.ann.results`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.ann import grids as grid_module
from recsys.ann import registry
from recsys.ann.base import ANNIndex, LibraryUnavailable, quiet_native_output, require, thread_count
from recsys.ann.ground_truth import DEFAULT_EPSILON, GroundTruth, ground_truth, recall, recall_of_ids
from recsys.ann.platform import cpu_description, faiss_simd_level, faiss_simd_levels
from recsys.ann.results import pareto_frontier
from recsys.ann.workloads import Workload
from recsys.checks import check_integer, check_number, to_jsonable
from recsys.progress import bar as progress_bar

__all__ = [
    "RESULT_COLUMNS",
    "Benchmark",
    "default_max_load",
    "one_point",
    "resolve_max_load",
    "run",
    "run_sizes",
    "simd_sweep",
    "speedup_over_repeats",
]


@dataclass
class Benchmark:
    """What :func:`run` returns: the results table, the skipped methods and how it was measured."""

    results: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    truth_seconds: float = 0.0

    def frontier(self) -> pd.DataFrame:
        return pareto_frontier(self.results)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return None


def _release_memory() -> None:
    """Return freed memory to the OS, so the next build's resident growth is its own."""
    gc.collect()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _params_text(params: Mapping) -> str:
    return json.dumps(to_jsonable(dict(params)), sort_keys=False)


def _time_single(index: ANNIndex, Q: np.ndarray, k: int, warmup: int, n_max: int, max_seconds: float, repeats: int):
    """Latencies (s) of one-query calls: the fastest of ``repeats`` passes, and the answers.

    A pass times ``n_max`` calls, going round the queries again when there are fewer of them, or
    stops once it has spent ``max_seconds`` (after at least 20 calls): with ``n_max=1000`` and
    ``max_seconds=2`` every point is timed over at least 1,000 calls or 2 seconds. Later passes
    time the same calls. The best pass is kept (as ann-benchmarks keeps the best of its runs): on
    a shared machine the slow passes measure the neighbours, not the index. The answers are those
    of the first pass's first round (one row per distinct query timed).
    """
    n_queries = Q.shape[0]
    for q in Q[: min(warmup, n_queries)]:
        index.query_prepared(q, k)
    clock = time.perf_counter
    best, answers = None, []
    n = n_max
    for attempt in range(repeats):
        latencies = []
        spent = 0.0
        for i in range(n):
            q = Q[i % n_queries]
            start = clock()
            ids = index.query_prepared(q, k)
            elapsed = clock() - start
            latencies.append(elapsed)
            if attempt == 0 and i < n_queries:
                answers.append(ids)
            spent += elapsed
            if spent > max_seconds and i >= 19:
                break
        n = len(latencies)
        latencies = np.asarray(latencies)
        if best is None or latencies.sum() < best.sum():
            best = latencies
    return best, np.vstack(answers)


def default_max_load() -> float:
    """The 1-minute load average below which the machine counts as quiet: 0.75 per core, at least
    1.25 (the benchmark's own thread is one unit of load)."""
    return max(1.25, 0.75 * (os.cpu_count() or 1))


def resolve_max_load(max_load: float | str | None) -> float | None:
    """The load threshold a run uses: ``"auto"`` is :func:`default_max_load`, ``None`` turns the
    check off, a number is used as it is (it must be positive)."""
    if max_load is None:
        return None
    if isinstance(max_load, str):
        if max_load != "auto":
            raise ValueError(f"max_load must be a positive number, 'auto' or None, got {max_load!r}")
        return default_max_load()
    return check_number("max_load", max_load, 0, exclusive=True)


class _QuietGate:
    """Before each timing: wait (polling every ``poll`` s) until the load is at most ``max_load``,
    spending at most ``wait`` seconds in the whole run; say whether the timing started quiet."""

    def __init__(self, max_load: float | None, wait: float, poll: float = 5.0, say=None):
        self.max_load = max_load
        self.left = wait
        self.poll = poll
        self.say = say or (lambda _line: None)

    def __call__(self) -> bool | None:
        if self.max_load is None:
            return None
        load = _load()
        if load is None:
            return None
        while load > self.max_load and self.left > 0:
            pause = min(self.poll, self.left)
            self.say(f"load {load:.2f} > {self.max_load:g}: waiting {pause:.0f} s for a quiet machine")
            time.sleep(pause)
            self.left -= pause
            load = _load() or 0.0
        return bool(load <= self.max_load)


def run(
    workload: Workload,
    methods: Sequence[str | type[ANNIndex]],
    *,
    grids: Mapping[str, Mapping] | None = None,
    k: int = 10,
    time_budget: float = 120.0,
    build_threads: int = 1,
    batch_threads: int = 0,
    timing_queries: int = 1000,
    max_timing_seconds: float = 2.0,
    warmup: int = 10,
    repeats: int = 3,
    max_load: float | str | None = "auto",
    quiet_wait: float = 0.0,
    build_repeats: int = 1,
    max_point_seconds: float = 60.0,
    stop_recall: float | None = 0.999,
    reproducible: bool = True,
    epsilon: float = DEFAULT_EPSILON,
    truth: GroundTruth | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    log=None,
) -> Benchmark:
    """Build and query every method's grid on ``workload``; one results row per grid point.

    ``methods`` are registry names (``"hnswlib"``) or adapter classes (subclasses of
    :class:`~recsys.ann.base.ANNIndex`, registered or not). ``grids`` overrides a method's own
    grid (its class's ``grid``) by name (``{"build": [...], "query": ...}``, see
    :func:`recsys.ann.grids.expand`). ``stop_recall``: stop raising a method's query
    knob once recall reaches it (the knob only buys accuracy, which is used up). ``timing_queries``
    and ``max_timing_seconds`` bound the single-query timing loop: each point is timed over
    ``timing_queries`` calls (going round the queries again if there are fewer) or
    ``max_timing_seconds``, whichever comes first (at least 20 calls). Before each timing the
    1-minute load average is checked against ``max_load`` (``"auto"``: :func:`default_max_load`;
    None: no check): on a busy machine the run waits for quiet, ``quiet_wait`` seconds at most over the
    whole run (default 0: no waiting), and the ``quiet`` column says whether each timing started
    below the threshold; ``build_repeats`` builds every index whose build is not reproducible
    (ScaNN; graphs built on several threads) that many times, measures each build at every query
    setting, and reports the median over builds with ``n_builds`` and the spread
    (``recall_min``..``recall_max``, ``qps_min``..``qps_max``; one build: the value itself);
    recall always uses every query, from the batch call, which is skipped (with the rest of the
    sweep) when the single-query speed says it would take more than ``max_point_seconds`` or the
    rest of the budget. ``log`` receives one line per event.
    """
    from threadpoolctl import threadpool_limits

    k = check_integer("k", k, 1, workload.n_items)
    time_budget = check_number("time_budget", time_budget, 0, exclusive=True)
    build_threads = check_integer("build_threads", build_threads, 0)
    batch_threads = check_integer("batch_threads", batch_threads, 0)
    timing_queries = check_integer("timing_queries", timing_queries, 1)
    max_timing_seconds = check_number("max_timing_seconds", max_timing_seconds, 0, exclusive=True)
    max_load = resolve_max_load(max_load)
    quiet_wait = check_number("quiet_wait", quiet_wait, 0)
    build_repeats = check_integer("build_repeats", build_repeats, 1)
    warmup = check_integer("warmup", warmup, 0)
    repeats = check_integer("repeats", repeats, 1)
    max_point_seconds = check_number("max_point_seconds", max_point_seconds, 0, exclusive=True)
    if stop_recall is not None:
        stop_recall = check_number("stop_recall", stop_recall, 0, 1)
    classes = {}
    for method in methods:  # a typo or a foreign class fails before any work
        cls = registry.resolve(method)
        classes[cls.name] = cls
    say = log or (lambda _line: None)
    gate = _QuietGate(max_load, quiet_wait, say=say)
    if truth is None:
        truth = ground_truth(workload, k, cache_dir=cache_dir, threads=batch_threads)
    if truth.depth < k or truth.ids.shape[0] != workload.n_queries:
        raise ValueError(f"truth covers {truth.ids.shape} (queries x depth); need ({workload.n_queries}, >= {k})")

    plans = {}
    skipped: dict[str, str] = {}
    for name, cls in classes.items():
        reason = cls.available()
        if reason:
            skipped[name] = reason
            say(f"skip {name}: {reason}")
            continue
        builds, queries = grid_module.expand(grid_module.grid_for(cls, grids))
        plans[name] = (builds, queries)
    total = sum(len(b) * len(q) for b, q in plans.values())
    rows: list[dict] = []
    bar = progress_bar(total=total, enabled=progress, desc=f"ANN grid on {workload.name}", unit="point")
    try:
        for name, (builds, queries) in plans.items():
            cls = classes[name]
            started = time.perf_counter()
            for build_params in builds:
                threads = build_threads if (cls.parallel_build_is_deterministic or not reproducible) else 1
                repeatable = cls.reproducible_build and (threads == 1 or cls.parallel_build_is_deterministic)
                measured = []  # one list of rows per build
                for attempt in range(1 if repeatable else build_repeats):
                    if time.perf_counter() - started > time_budget:
                        if attempt == 0:
                            skipped[f"{name} {_params_text(build_params)}"] = f"time budget of {time_budget:g} s spent"
                            bar.update(len(queries))
                        break
                    _release_memory()
                    try:
                        index = cls(metric=workload.metric, **build_params)
                        index.set_num_threads(threads)
                        with threadpool_limits(thread_count(threads)), quiet_native_output():
                            index.fit(workload.items)
                        memory = index.memory_bytes()
                    except (ValueError, LibraryUnavailable, RuntimeError, MemoryError) as error:
                        skipped[f"{name} {_params_text(build_params)}"] = f"build failed: {error}"
                        say(f"{name} {build_params}: build failed: {error}")
                        if attempt == 0:
                            bar.update(len(queries))
                        break
                    say(f"{index.label} {build_params}: built in {index.build_seconds_:.1f} s")
                    done = 0
                    rows_of_build = []
                    for query_params in queries:
                        if time.perf_counter() - started > time_budget:
                            skipped[f"{name} {_params_text(build_params)} {_params_text(query_params)}"] = (
                                f"time budget of {time_budget:g} s spent"
                            )
                            break
                        row = _measure(
                            index,
                            workload,
                            truth,
                            k,
                            query_params,
                            batch_threads=batch_threads,
                            timing_queries=timing_queries,
                            max_timing_seconds=max_timing_seconds,
                            warmup=warmup,
                            repeats=repeats,
                            epsilon=epsilon,
                            remaining=min(max_point_seconds, time_budget - (time.perf_counter() - started)),
                            gate=gate,
                        )
                        if row is None:
                            skipped[f"{name} {_params_text(build_params)} {_params_text(query_params)}"] = (
                                f"its recall pass would take longer than {max_point_seconds:g} s or the rest of the "
                                f"{time_budget:g} s budget (and the points after it are slower still)"
                            )
                            break
                        row.update(
                            build=_params_text(build_params),
                            build_s=index.build_seconds_,
                            build_threads=threads,
                            memory_bytes=memory,
                            memory_source=index.memory_source,
                            bytes_per_item=memory / workload.n_items,
                            reproducible=repeatable,
                        )
                        rows_of_build.append(row)
                        done += 1
                        if attempt == 0:
                            bar.update(1)
                        if stop_recall is not None and row["recall"] >= stop_recall:
                            break
                    if attempt == 0:
                        bar.update(len(queries) - done)
                    del index
                    measured.append(rows_of_build)
                rows.extend(_over_builds(measured))
    finally:
        bar.close()
    settings = {
        "k": k,
        "time_budget_s": time_budget,
        "build_threads": build_threads,
        "batch_threads": thread_count(batch_threads),
        "single_query_threads": 1,
        "timing_queries": timing_queries,
        "max_timing_seconds": max_timing_seconds,
        "warmup": warmup,
        "repeats": repeats,
        "max_load": max_load,
        "quiet_wait_s": quiet_wait,
        "build_repeats": build_repeats,
        "max_point_seconds": max_point_seconds,
        "stop_recall": stop_recall,
        "reproducible": reproducible,
        "epsilon": epsilon,
        "workload": to_jsonable(workload.key()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "cpu": cpu_description(),
    }
    return Benchmark(_table(rows), skipped, settings, truth.seconds)


#: Columns of a results row that :func:`_over_builds` takes the median of across builds.
_MEDIAN_COLUMNS = (
    "recall",
    "recall_single",
    "qps",
    "p50_ms",
    "p99_ms",
    "batch_qps",
    "build_s",
    "memory_bytes",
    "bytes_per_item",
)


def _over_builds(measured: list[list[dict]]) -> list[dict]:
    """One row per query point from the rows of several builds of the same index: the median of
    :data:`_MEDIAN_COLUMNS` over the builds that measured the point, ``n_builds``, and the spread
    (``recall_min``/``recall_max``, ``qps_min``/``qps_max``). A single build passes through."""
    by_point: dict[str, list[dict]] = {}
    for rows_of_build in measured:
        for row in rows_of_build:
            by_point.setdefault(row["query"], []).append(row)
    out = []
    for rows in by_point.values():
        row = dict(rows[0])
        if len(rows) > 1:
            for column in _MEDIAN_COLUMNS:
                row[column] = float(np.median([r[column] for r in rows]))
            row["consistent"] = all(r["consistent"] for r in rows)
            row["quiet"] = None if any(r["quiet"] is None for r in rows) else all(r["quiet"] for r in rows)
            row["load_1m"] = max((r["load_1m"] for r in rows if r["load_1m"] is not None), default=None)
        row["n_builds"] = len(rows)
        row["recall_min"], row["recall_max"] = min(r["recall"] for r in rows), max(r["recall"] for r in rows)
        row["qps_min"], row["qps_max"] = min(r["qps"] for r in rows), max(r["qps"] for r in rows)
        out.append(row)
    return out


RESULT_COLUMNS = [
    "workload",
    "n_items",
    "dim",
    "n_queries",
    "k",
    "method",
    "label",
    "family",
    "transformed",
    "build",
    "query",
    "recall",
    "recall_single",
    "qps",
    "p50_ms",
    "p99_ms",
    "n_timed",
    "batch_qps",
    "batch_threads",
    "build_s",
    "build_threads",
    "memory_bytes",
    "memory_source",
    "bytes_per_item",
    "load_1m",
    "quiet",
    "consistent",
    "reproducible",
    "n_builds",
    "recall_min",
    "recall_max",
    "qps_min",
    "qps_max",
]


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _measure(
    index,
    workload,
    truth,
    k,
    query_params,
    *,
    batch_threads,
    timing_queries,
    max_timing_seconds,
    warmup,
    repeats,
    epsilon,
    remaining=math.inf,
    gate=None,
):
    """One grid point: single-query timing first, then the recall pass over every query (batched).

    Returns ``None`` when the single-query speed says the recall pass would not fit in the
    ``remaining`` seconds of the method's budget (the slow end of a sweep is cut, not run).
    """
    from threadpoolctl import threadpool_limits

    if query_params:
        index.set_query_arguments(**query_params)
    quiet = gate() if gate is not None else None
    load = _load()
    index.set_num_threads(1)
    with threadpool_limits(1):
        Q, _ = index.prepare_queries(workload.queries, k)
        latencies, answers = _time_single(index, Q, k, warmup, timing_queries, max_timing_seconds, repeats)
    if answers.shape[0] < workload.n_queries and latencies.mean() * workload.n_queries > remaining:
        return None
    index.set_num_threads(batch_threads)
    with threadpool_limits(thread_count(batch_threads)):
        start = time.perf_counter()
        found = index.batch_query(workload.queries, k)
        batch_seconds = time.perf_counter() - start
        batch_done = workload.n_queries
        # batched throughput over half the one-query timing's budget at least (1 s by default; the
        # first call, which gave the answers, included): one call of a fast index is too short to
        # time on a shared machine
        while batch_seconds < max_timing_seconds / 2 and batch_seconds * 2 < remaining:
            start = time.perf_counter()
            index.batch_query(workload.queries, k)
            batch_seconds += time.perf_counter() - start
            batch_done += workload.n_queries
    per_query = recall(found, truth, workload, k, epsilon=epsilon)
    timed = answers.shape[0]
    single_recall = recall_of_ids(
        answers, truth.scores[:timed], workload.items, workload.queries[:timed], workload.metric, k, epsilon
    )
    return {
        "workload": workload.name,
        "n_items": workload.n_items,
        "dim": workload.dim,
        "n_queries": workload.n_queries,
        "k": k,
        "method": index.name,
        "label": index.label,
        "family": index.family,
        "transformed": index.transformed,
        "query": _params_text(query_params),
        "recall": float(per_query.mean()),
        "recall_single": float(single_recall.mean()),
        "qps": float(latencies.size / latencies.sum()) if latencies.sum() > 0 else math.inf,
        "p50_ms": float(np.percentile(latencies, 50) * 1e3),
        "p99_ms": float(np.percentile(latencies, 99) * 1e3),
        "n_timed": int(latencies.size),
        "batch_qps": batch_done / batch_seconds if batch_seconds > 0 else math.inf,
        "batch_threads": thread_count(batch_threads),
        "load_1m": load,
        "quiet": quiet,
        "consistent": bool(np.array_equal(answers, found[: answers.shape[0]])),
    }


def _batch_qps(index: ANNIndex, queries: np.ndarray, k: int, min_seconds: float) -> float:
    """Queries per second of ``batch_query`` over all ``queries`` at once, repeated until
    ``min_seconds`` have been spent (at least once): the throughput of batched search."""
    clock = time.perf_counter
    done, spent = 0, 0.0
    while spent < min_seconds or done == 0:
        start = clock()
        index.batch_query(queries, k)
        spent += clock() - start
        done += queries.shape[0]
    return done / spent if spent > 0 else math.inf


def one_point(workload, method: str, query: Mapping, *, grids: Mapping[str, Mapping] | None = None, **run_kwargs):
    """One query point of ``method`` (every build of its grid, from ``grids`` or its own), timed in
    a run of its own, and the fastest build's row (a :data:`RESULT_COLUMNS` Series).

    A frontier sweep stops raising a method's query knob once recall reaches ``stop_recall``, so
    a point beyond it (norm pruning's exact ``epsilon = 0``, which the sweep reaches only when
    every looser setting misses recall 0.999) may never be measured: this measures it. Other
    arguments go to :func:`run` (``stop_recall`` is off here)."""
    from recsys.ann import grids as ann_grids

    builds, _ = ann_grids.expand(ann_grids.grid_for(method, grids))
    single = {method: {"build": builds, "query": [dict(query)]}}
    rows = run(workload, [method], grids=single, stop_recall=None, **run_kwargs).results
    if rows.empty or rows["qps"].isna().all():
        raise RuntimeError(f"{method} at {dict(query)} was not measured on {workload.name}")
    return rows.loc[rows["qps"].idxmax()]


def speedup_over_repeats(
    workload: Workload,
    point: Mapping,
    *,
    baseline: str | type[ANNIndex] = "faiss-flat",
    k: int = 10,
    builds: int = 3,
    repeats: int = 5,
    timing_queries: int = 1000,
    max_timing_seconds: float = 2.0,
    warmup: int = 10,
    batch_threads: int = 0,
    max_load: float | str | None = "auto",
    quiet_wait: float = 0.0,
    truth: GroundTruth | None = None,
    cache_dir: str | os.PathLike | None = None,
    log=None,
) -> pd.DataFrame:
    """A headline speed-up measured with its spread: ``point`` (a results row: ``method``,
    ``build``, ``query``) against exact search, timed in alternation ``repeats`` times per build.

    One-query QPS of the point and of ``baseline`` (an exact method) are timed back to back in
    each pass, so both see the same machine; batched exact search (all queries in one
    ``batch_query``: a blocked matrix product on ``batch_threads`` threads, repeated for at least
    a second) is timed in the same pass. An index whose build is not reproducible is built
    ``builds`` times (a reproducible one once) and each build is measured ``repeats`` times.
    Returns one row per (build, pass): ``build_no``, ``repeat``, ``recall`` (of that build, all
    queries), ``qps``, ``exact_qps``, ``exact_batch_qps``, ``speedup_vs_exact``,
    ``speedup_vs_batch``, ``load_1m`` and ``quiet`` (the load gate before the pass, as in
    :func:`run`). Summarise with :func:`recsys.ann.results.speedup_spread`.
    """
    from threadpoolctl import threadpool_limits

    from recsys.ann.results import index_from

    k = check_integer("k", k, 1, workload.n_items)
    builds = check_integer("builds", builds, 1)
    repeats = check_integer("repeats", repeats, 1)
    timing_queries = check_integer("timing_queries", timing_queries, 1)
    max_timing_seconds = check_number("max_timing_seconds", max_timing_seconds, 0, exclusive=True)
    batch_threads = check_integer("batch_threads", batch_threads, 0)
    quiet_wait = check_number("quiet_wait", quiet_wait, 0)
    exact_cls = registry.resolve(baseline)
    if exact_cls.family != "exact":
        raise ValueError(f"baseline must be an exact method, got {exact_cls.name!r} ({exact_cls.family})")
    say = log or (lambda _line: None)
    gate = _QuietGate(resolve_max_load(max_load), quiet_wait, say=say)
    if truth is None:
        truth = ground_truth(workload, k, cache_dir=cache_dir, threads=batch_threads)
    exact = exact_cls(metric=workload.metric)
    with threadpool_limits(1), quiet_native_output():
        exact.set_num_threads(1)
        exact.fit(workload.items)
    Q_exact, _ = exact.prepare_queries(workload.queries, k)
    probe = index_from(point, metric=workload.metric)
    n_builds = 1 if type(probe).reproducible_build else builds
    rows = []
    for build_no in range(n_builds):
        _release_memory()
        index = index_from(point, metric=workload.metric)
        index.set_num_threads(1)
        with threadpool_limits(1), quiet_native_output():
            index.fit(workload.items)
        say(f"{index.label} {point['build']}: build {build_no + 1} of {n_builds} in {index.build_seconds_:.1f} s")
        with threadpool_limits(thread_count(batch_threads)):
            index.set_num_threads(batch_threads)
            found = index.batch_query(workload.queries, k)
        build_recall = float(recall(found, truth, workload, k).mean())
        Q, _ = index.prepare_queries(workload.queries, k)
        for repeat in range(repeats):
            quiet = gate()
            load = _load()
            index.set_num_threads(1)
            exact.set_num_threads(1)
            with threadpool_limits(1):
                fast, _ = _time_single(index, Q, k, warmup, timing_queries, max_timing_seconds, 1)
                slow, _ = _time_single(exact, Q_exact, k, warmup, timing_queries, max_timing_seconds, 1)
            exact.set_num_threads(batch_threads)
            with threadpool_limits(thread_count(batch_threads)):
                batch = _batch_qps(exact, workload.queries, k, 1.0)
            qps, exact_qps = fast.size / fast.sum(), slow.size / slow.sum()
            rows.append(
                {
                    "method": index.name,
                    "build": _params_text(
                        json.loads(point["build"]) if isinstance(point["build"], str) else point["build"]
                    ),
                    "query": _params_text(
                        json.loads(point["query"]) if isinstance(point["query"], str) else point["query"]
                    ),
                    "build_no": build_no,
                    "repeat": repeat,
                    "recall": build_recall,
                    "qps": qps,
                    "n_timed": int(fast.size),
                    "exact_method": exact.name,
                    "exact_qps": exact_qps,
                    "exact_n_timed": int(slow.size),
                    "exact_batch_qps": batch,
                    "speedup_vs_exact": qps / exact_qps,
                    "speedup_vs_batch": qps / batch,
                    "load_1m": load,
                    "quiet": quiet,
                }
            )
            say(f"pass {repeat + 1}: {qps:,.0f} vs {exact_qps:,.0f} QPS exact ({qps / exact_qps:,.1f}x)")
        del index
    return pd.DataFrame(rows)


def run_sizes(
    workload: Workload,
    sizes: Sequence[int],
    methods: Sequence[str | type[ANNIndex]],
    *,
    reuse: pd.DataFrame | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    **run_kwargs,
) -> Benchmark:
    """:func:`run` on the first ``n`` items of ``workload`` for each ``n`` in ``sizes`` (the scaling study).

    Rows of ``reuse`` (an earlier table of the full workload) are taken as they are for the sizes
    and methods they cover, instead of being measured again. The results are concatenated.
    """
    tables, skipped, truth_seconds, settings = [], {}, 0.0, {}
    for n in progress_bar(sorted(set(int(s) for s in sizes)), enabled=progress, desc="catalogue sizes", unit="size"):
        sub = workload if n == workload.n_items else workload.subset(n)
        todo = list(methods)
        if reuse is not None and len(reuse):
            names = [registry.resolve(m).name for m in todo]
            done = reuse[(reuse["n_items"] == n) & (reuse["workload"] == workload.name) & reuse["method"].isin(names)]
            if len(done):
                tables.append(done)
                todo = [m for m, name in zip(todo, names) if name not in set(done["method"])]
        if not todo:
            continue
        result = run(sub, todo, cache_dir=cache_dir, progress=progress, **run_kwargs)
        tables.append(result.results)
        skipped.update({f"{name} (n={n})": reason for name, reason in result.skipped.items()})
        truth_seconds += result.truth_seconds
        settings = result.settings
    table = pd.concat(tables, ignore_index=True) if tables else _table([])
    return Benchmark(table, skipped, settings, truth_seconds)


def simd_sweep(
    workload: Workload,
    points: Mapping[str, tuple[Mapping, Mapping]],
    *,
    levels: Sequence[str] | None = None,
    k: int = 10,
    timing_queries: int = 300,
    repeats: int = 3,
    truth: GroundTruth | None = None,
) -> pd.DataFrame:
    """Single-query QPS of faiss indexes at each SIMD level faiss can run at here.

    ``points`` maps a faiss method to ``(build, query)`` parameters; each index is built once and
    queried at every level of ``levels`` (default: every level faiss supports on this CPU, from
    ``NONE`` up). Recall is the same at every level (the kernels compute the same numbers).
    """
    from threadpoolctl import threadpool_limits

    require("faiss", "faiss-cpu")
    if levels is None:
        levels = faiss_simd_levels()
    truth = truth or ground_truth(workload, k)
    rows = []
    for method, (build, query) in points.items():
        index = registry.make(method, workload.metric, **dict(build))
        with threadpool_limits(1), quiet_native_output():
            index.fit(workload.items)
        if query:
            index.set_query_arguments(**dict(query))
        Q, _ = index.prepare_queries(workload.queries, k)
        for level in levels:
            with faiss_simd_level(level), threadpool_limits(1):
                latencies, answers = _time_single(index, Q, k, 10, timing_queries, 10.0, repeats)
            timed = answers.shape[0]
            rows.append(
                {
                    "method": method,
                    "simd": level,
                    "qps": latencies.size / latencies.sum(),
                    "p50_ms": float(np.percentile(latencies, 50) * 1e3),
                    "recall": float(
                        recall_of_ids(
                            answers,
                            truth.scores[:timed],
                            workload.items,
                            workload.queries[:timed],
                            workload.metric,
                            k,
                            DEFAULT_EPSILON,
                        ).mean()
                    ),
                    "load_1m": _load(),
                }
            )
    table = pd.DataFrame(rows)
    if len(table):
        base = table[table["simd"] == "NONE"].set_index("method")["qps"]
        table["speedup_vs_none"] = table["qps"] / table["method"].map(base)
    return table
