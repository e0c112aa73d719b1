"""The benchmark harness: measure every index the way ann-benchmarks does, on recommender vectors.

One call, :func:`run`, builds each method's grid (:mod:`recsys.ann.grids`) on a workload
(:mod:`recsys.ann.workloads`) and returns a tidy table, one row per method x build x query
parameters, with:

* ``recall``: recall@k **as ann-benchmarks counts it**: a returned item is a hit when its true
  score is at least the k-th best true score (so ties with the k-th item are hits, and an index is
  not punished for returning a different one of several equally good items), computed from the
  exact scores of the returned ids, in float64, not by comparing ids. The tolerance is
  ``epsilon * max(1, |k-th score|)``, for float rounding only (ann-benchmarks uses an absolute
  1e-3 on distances, which on recommender scores of order 1 would count near misses as hits);
* ``qps``: queries per second **single-threaded, one query per call** (the headline, as in
  ann-benchmarks), with ``p50_ms``/``p99_ms`` latencies; the queries are checked and transformed
  once up front, so the timed call is the library's search plus a thin adapter;
* ``batch_qps``: all queries in one call on ``batch_threads`` threads (0 = all cores);
* ``build_s`` (wall time of the library's build), ``memory_bytes`` and ``memory_source`` (the
  library's own figure, the arrays held, or the measured growth of resident memory);
* the thread counts used, the 1-minute load average when the point was measured, and whether
  single-query answers equal the batch answers (``consistent``).

Threads are pinned: BLAS through threadpoolctl, each library through its own setting (see
:meth:`recsys.ann.base.ANNIndex.set_num_threads`). With ``reproducible=True`` (the default) every
index whose parallel build is not deterministic (graphs, forests) is built on one thread, so
recall figures repeat exactly from run to run. Each method gets a wall-clock ``time_budget``: once
it is spent, the method's remaining grid points are skipped (a build that has started is not
interrupted) and the table says so. A method whose library is missing is skipped with the reason.

Exact ground truth is computed once per workload and depth and cached on disk, keyed by the
workload's parameters and a fingerprint of its vectors (:func:`ground_truth`).

Afterwards: :func:`pareto_frontier` (ann-benchmarks' upper-left frontier of recall vs QPS),
:func:`operating_points` / :func:`best` (the fastest configuration reaching a recall target; how
notebook 07 and the Spark chapter pick "the best graph index" and "the best quantised index"),
:func:`speedup_table`, :func:`scaling_exponents`, :func:`write_results`, :func:`library_builds`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.ann import grids as grid_module
from recsys.ann import registry
from recsys.ann.base import ANNIndex, LibraryUnavailable, quiet_native_output, require, thread_count
from recsys.ann.workloads import Workload
from recsys.checks import check_integer, check_number, to_jsonable
from recsys.progress import bar as progress_bar

__all__ = [
    "DEFAULT_EPSILON",
    "Benchmark",
    "GroundTruth",
    "best",
    "exact_scores",
    "family_summary",
    "ground_truth",
    "index_from",
    "library_builds",
    "operating_points",
    "pareto_frontier",
    "reached_record",
    "recall",
    "recall_record",
    "run",
    "run_sizes",
    "scaling_exponents",
    "scaling_summary",
    "simd_sweep",
    "speedup_table",
    "write_results",
]

#: Relative tolerance of a hit (float rounding only): hit if score >= kth - epsilon * max(1, |kth|).
DEFAULT_EPSILON = 1e-6
#: Bumped when the ground-truth computation changes (invalidates caches).
GROUND_TRUTH_VERSION = 1


# -- exact scores and ground truth -----------------------------------------------------------------


def exact_scores(items: np.ndarray, queries: np.ndarray, ids: np.ndarray, metric: str = "ip") -> np.ndarray:
    """True scores (float64, higher = better) of the items ``ids`` (n_queries, m) for each query.

    ``ip``: ``<q, x>``; ``cosine``: ``<q, x> / (|q| |x|)``; ``l2``: ``-|q - x|``. Ids of -1 (not
    found) score ``-inf``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    valid = ids >= 0
    X = np.asarray(items)[np.where(valid, ids, 0)].astype(np.float64)  # (n, m, d)
    Q = np.asarray(queries, dtype=np.float64)[:, None, :]
    if metric == "ip":
        scores = np.einsum("nmd,nmd->nm", X, np.broadcast_to(Q, X.shape))
    elif metric == "cosine":
        dots = np.einsum("nmd,nmd->nm", X, np.broadcast_to(Q, X.shape))
        norms = np.linalg.norm(X, axis=2) * np.linalg.norm(Q, axis=2)
        scores = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    elif metric == "l2":
        scores = -np.sqrt(np.einsum("nmd,nmd->nm", X - Q, X - Q))
    else:
        raise ValueError(f"metric must be 'ip', 'cosine' or 'l2', got {metric!r}")
    return np.where(valid, scores, -np.inf)


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """The exact ``depth`` best items of every query (ids and float64 scores, best first)."""

    ids: np.ndarray
    scores: np.ndarray
    metric: str
    seconds: float = 0.0
    cached: bool = False

    @property
    def depth(self) -> int:
        return int(self.ids.shape[1])


def _float32_scores(X: np.ndarray, Q: np.ndarray, metric: str, norms_sq: np.ndarray) -> np.ndarray:
    dots = Q @ X.T
    if metric == "l2":
        return 2.0 * dots - norms_sq[None, :]  # same order as -|q - x|
    return dots


def _exact_top(items: np.ndarray, queries: np.ndarray, depth: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``depth`` in blocks: float32 BLAS for candidates, float64 re-scoring, a proof check.

    Candidates are the ``depth + margin`` best by float32 scores; they are re-scored in float64.
    The float32 error of any score is bounded by ``err``; if the weakest candidate's float32 score
    plus ``2 err`` is below the ``depth``-th float64 score, no item outside the candidates can
    belong to the top ``depth``. Rows where that proof fails are redone fully in float64.
    """
    n, d = items.shape
    X = np.ascontiguousarray(items, dtype=np.float32)
    Q = np.ascontiguousarray(queries, dtype=np.float32)
    if metric == "cosine":
        from recsys.similarity import normalize

        X, Q = normalize(X).astype(np.float32), normalize(Q).astype(np.float32)
    norms_sq = np.einsum("ij,ij->i", X, X)
    margin = min(n - depth, max(16, depth))
    width = depth + margin
    block = max(1, min(Q.shape[0], (1 << 26) // max(n, 1)))  # ~256 MB of float32 scores per block
    ids = np.empty((Q.shape[0], depth), dtype=np.int64)
    scores = np.empty((Q.shape[0], depth), dtype=np.float64)
    x_max = float(np.sqrt(norms_sq.max()))
    unit = 2.0**-23 * (d + 2)
    for start in range(0, Q.shape[0], block):
        Qb = Q[start : start + block]
        S = _float32_scores(X, Qb, metric, norms_sq)
        if width < n:
            cand = np.argpartition(-S, width - 1, axis=1)[:, :width]
        else:
            cand = np.broadcast_to(np.arange(n), (Qb.shape[0], n)).copy()
        rows = np.arange(Qb.shape[0])[:, None]
        weakest = S[rows, cand].min(axis=1) if width < n else np.full(Qb.shape[0], -np.inf)
        exact = exact_scores(items, queries[start : start + block], cand, metric)
        order = np.lexsort((cand, -exact), axis=1)[:, :depth]
        top_ids, top_scores = cand[rows, order], exact[rows, order]
        q_norm = np.linalg.norm(Qb, axis=1).astype(np.float64)
        err = unit * (2 * q_norm * x_max + (x_max**2 if metric == "l2" else 0.0)) + 1e-30
        # the k-th exact score in the units of the float32 scores (l2: 2<q,x> - |x|^2 = |q|^2 - |q - x|^2)
        kth = q_norm**2 - top_scores[:, -1] ** 2 if metric == "l2" else top_scores[:, -1]
        unproven = np.flatnonzero(weakest + 2 * err >= kth) if width < n else np.empty(0, dtype=np.int64)
        for r in unproven:  # rare: a float32 near-tie at the boundary; do this query in float64
            q = np.asarray(queries[start + r], dtype=np.float64)[None, :]
            full = exact_scores(items, q, np.arange(n)[None, :], metric)[0]
            best_ids = np.lexsort((np.arange(n), -full))[:depth]
            top_ids[r], top_scores[r] = best_ids, full[best_ids]
        ids[start : start + Qb.shape[0]] = top_ids
        scores[start : start + Qb.shape[0]] = top_scores
    return ids, scores


def _cache_key(workload: Workload, depth: int) -> dict:
    return {
        "workload": workload.key(),
        "fingerprint": workload.fingerprint(),
        "depth": depth,
        "version": GROUND_TRUTH_VERSION,
    }


def ground_truth(
    workload: Workload,
    depth: int = 10,
    *,
    cache_dir: str | os.PathLike | None = None,
    threads: int = 0,
) -> GroundTruth:
    """The exact top-``depth`` of every query of ``workload``, cached in ``cache_dir`` if given.

    The cache file is named by a hash of the workload's parameters, a fingerprint of its vectors
    and ``depth``, and stores that key: any changed parameter computes (and caches) afresh.
    """
    from threadpoolctl import threadpool_limits

    depth = check_integer("depth", depth, 1, workload.n_items)
    key = _cache_key(workload, depth)
    text = json.dumps(key, sort_keys=True, default=str)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"ground-truth-{hashlib.sha256(text.encode()).hexdigest()[:20]}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as stored:
                if str(stored["key"]) == text:
                    return GroundTruth(stored["ids"], stored["scores"], workload.metric, float(stored["seconds"]), True)
    start = time.perf_counter()
    with threadpool_limits(thread_count(threads)):
        ids, scores = _exact_top(workload.items, workload.queries, depth, workload.metric)
    seconds = time.perf_counter() - start
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, ids=ids, scores=scores, key=np.array(text), seconds=np.array(seconds))
        os.replace(tmp, path)
    return GroundTruth(ids, scores, workload.metric, seconds, False)


def recall(found, truth: GroundTruth, workload: Workload, k: int, *, epsilon: float = DEFAULT_EPSILON) -> np.ndarray:
    """Per-query recall@k, ann-benchmarks' way: a returned item is a hit if its true score is at
    least the k-th best true score (within ``epsilon * max(1, |kth|)``); ties are hits.

    ``found`` is (n_queries, >= k) item ids (-1 = nothing); only the first ``k`` count, and an id
    returned twice counts once.
    """
    k = check_integer("k", k, 1, truth.depth)
    epsilon = check_number("epsilon", epsilon, 0)
    found = np.asarray(found, dtype=np.int64)
    if found.ndim != 2 or found.shape[0] != truth.ids.shape[0] or found.shape[1] < k:
        raise ValueError(f"found must be ({truth.ids.shape[0]}, >= {k}) ids, got shape {found.shape}")
    return _recall(found, truth.scores, workload.items, workload.queries, workload.metric, k, epsilon)


def _recall(found, truth_scores, items, queries, metric, k, epsilon) -> np.ndarray:
    found = found[:, :k].copy()
    if (found >= items.shape[0]).any():
        raise ValueError(f"found holds ids >= the catalogue size {items.shape[0]}")
    ordered = np.sort(found, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    for r in np.flatnonzero(repeated.any(axis=1)):  # count each id once: blank its repeats
        _, first = np.unique(found[r], return_index=True)
        keep = np.zeros(k, dtype=bool)
        keep[first] = True
        found[r, ~keep] = -1
    scores = exact_scores(items, queries, found, metric)
    kth = truth_scores[:, k - 1]
    threshold = kth - epsilon * np.maximum(1.0, np.abs(kth))
    return (scores >= threshold[:, None]).sum(axis=1) / k


# -- running the grid ------------------------------------------------------------------------------


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
    """Latencies (s) of one-query calls on the first queries: the fastest of ``repeats`` passes.

    A pass stops after ``max_seconds`` (at least 20 queries); later passes time the same queries.
    The best pass is kept (as ann-benchmarks keeps the best of its runs): on a shared machine the
    slow passes measure the neighbours, not the index.
    """
    for q in Q[: min(warmup, Q.shape[0])]:
        index.query_prepared(q, k)
    clock = time.perf_counter
    best, answers = None, []
    n = min(n_max, Q.shape[0])
    for attempt in range(repeats):
        latencies = []
        spent = 0.0
        for i in range(n):
            start = clock()
            ids = index.query_prepared(Q[i], k)
            elapsed = clock() - start
            latencies.append(elapsed)
            if attempt == 0:
                answers.append(ids)
            spent += elapsed
            if spent > max_seconds and i >= 19:
                break
        n = len(latencies)
        latencies = np.asarray(latencies)
        if best is None or latencies.sum() < best.sum():
            best = latencies
    return best, np.vstack(answers)


def run(
    workload: Workload,
    methods: Sequence[str],
    *,
    grids: Mapping[str, Mapping] | None = None,
    k: int = 10,
    time_budget: float = 120.0,
    build_threads: int = 1,
    batch_threads: int = 0,
    timing_queries: int = 1000,
    max_timing_seconds: float = 3.0,
    warmup: int = 10,
    repeats: int = 3,
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

    ``grids`` overrides :data:`recsys.ann.grids.GRIDS` per method (``{"build": [...], "query":
    ...}``, see :func:`recsys.ann.grids.expand`). ``stop_recall``: stop raising a method's query
    knob once recall reaches it (the knob only buys accuracy, which is used up). ``timing_queries``
    and ``max_timing_seconds`` bound the single-query timing loop (at least 20 queries are timed);
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
    warmup = check_integer("warmup", warmup, 0)
    repeats = check_integer("repeats", repeats, 1)
    max_point_seconds = check_number("max_point_seconds", max_point_seconds, 0, exclusive=True)
    if stop_recall is not None:
        stop_recall = check_number("stop_recall", stop_recall, 0, 1)
    methods = list(methods)
    for name in methods:
        registry.get(name)
    say = log or (lambda _line: None)
    if truth is None:
        truth = ground_truth(workload, k, cache_dir=cache_dir, threads=batch_threads)
    if truth.depth < k or truth.ids.shape[0] != workload.n_queries:
        raise ValueError(f"truth covers {truth.ids.shape} (queries x depth); need ({workload.n_queries}, >= {k})")

    plans = {}
    skipped: dict[str, str] = {}
    for name in methods:
        reason = registry.get(name).available()
        if reason:
            skipped[name] = reason
            say(f"skip {name}: {reason}")
            continue
        builds, queries = grid_module.expand(grid_module.grid_for(name, grids))
        plans[name] = (builds, queries)
    total = sum(len(b) * len(q) for b, q in plans.values())
    rows: list[dict] = []
    bar = progress_bar(total=total, enabled=progress, desc=f"ANN grid on {workload.name}", unit="point")
    try:
        for name, (builds, queries) in plans.items():
            cls = registry.get(name)
            started = time.perf_counter()
            for build_params in builds:
                if time.perf_counter() - started > time_budget:
                    skipped[f"{name} {_params_text(build_params)}"] = f"time budget of {time_budget:g} s spent"
                    bar.update(len(queries))
                    continue
                threads = build_threads if (cls.parallel_build_is_deterministic or not reproducible) else 1
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
                    bar.update(len(queries))
                    continue
                say(f"{index.label} {build_params}: built in {index.build_seconds_:.1f} s")
                done = 0
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
                        reproducible=cls.reproducible_build and (threads == 1 or cls.parallel_build_is_deterministic),
                    )
                    rows.append(row)
                    done += 1
                    bar.update(1)
                    if stop_recall is not None and row["recall"] >= stop_recall:
                        break
                bar.update(len(queries) - done)
                del index
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
        "max_point_seconds": max_point_seconds,
        "stop_recall": stop_recall,
        "reproducible": reproducible,
        "epsilon": epsilon,
        "workload": to_jsonable(workload.key()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
    }
    return Benchmark(_table(rows), skipped, settings, truth.seconds)


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
    "consistent",
    "reproducible",
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
):
    """One grid point: single-query timing first, then the recall pass over every query (batched).

    Returns ``None`` when the single-query speed says the recall pass would not fit in the
    ``remaining`` seconds of the method's budget (the slow end of a sweep is cut, not run).
    """
    from threadpoolctl import threadpool_limits

    if query_params:
        index.set_query_arguments(**query_params)
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
    per_query = recall(found, truth, workload, k, epsilon=epsilon)
    timed = answers.shape[0]
    single_recall = _recall(
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
        "batch_qps": workload.n_queries / batch_seconds if batch_seconds > 0 else math.inf,
        "batch_threads": thread_count(batch_threads),
        "load_1m": load,
        "consistent": bool(np.array_equal(answers, found[: answers.shape[0]])),
    }


def run_sizes(
    workload: Workload,
    sizes: Sequence[int],
    methods: Sequence[str],
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
            done = reuse[(reuse["n_items"] == n) & (reuse["workload"] == workload.name) & reuse["method"].isin(todo)]
            if len(done):
                tables.append(done)
                todo = [m for m in todo if m not in set(done["method"])]
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

    faiss = require("faiss", "faiss-cpu")
    if levels is None:
        order = ["NONE", "AVX2", "AVX512", "AVX512_VPOPCNT", "AVX512_SPR"]
        levels = [lvl for lvl in order if _level_available(faiss, lvl)]
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
                        _recall(
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


def _level_available(faiss, level: str) -> bool:
    config = faiss.SIMDConfig
    try:
        return bool(config.is_simd_level_available(faiss.to_simd_level(level)))
    except Exception:  # noqa: BLE001 - an unknown level name on this build
        return False


# -- reading the results -----------------------------------------------------------------------------


def pareto_frontier(
    table: pd.DataFrame, x: str = "recall", y: str = "qps", by: Sequence[str] = ("workload", "method")
) -> pd.DataFrame:
    """The rows no other row of the same group beats on both ``x`` and ``y`` (higher = better).

    ann-benchmarks' frontier: sort by ``x`` descending and keep each row whose ``y`` exceeds
    every ``y`` seen so far. Sorted by group, then ``x``.
    """
    by = [c for c in by if c in table.columns]
    kept = []
    groups = table.groupby(by, sort=False) if by else [((), table)]
    for _, group in groups:
        best_y = -math.inf
        for label, row in group.sort_values([x, y], ascending=[False, False]).iterrows():
            if row[y] > best_y:
                kept.append(label)
                best_y = row[y]
    return table.loc[kept].sort_values([*by, x]) if kept else table.iloc[:0]


def operating_points(
    table: pd.DataFrame, recall: float = 0.95, by: Sequence[str] = ("workload", "method"), y: str = "qps"
) -> pd.DataFrame:
    """Per group, the fastest row (by ``y``) whose recall is at least ``recall``; groups that never
    reach it are left out."""
    recall = check_number("recall", recall, 0, 1)
    reached = table[table["recall"] >= recall]
    if reached.empty:
        return reached
    by = [c for c in by if c in table.columns]
    best_rows = reached.loc[reached.groupby(by, sort=False)[y].idxmax()]
    return best_rows.sort_values(y, ascending=False)


def best(
    table: pd.DataFrame,
    recall: float = 0.95,
    *,
    family: str | Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    workload: str | None = None,
) -> pd.Series:
    """The single fastest configuration reaching ``recall`` (optionally within families/methods).

    For example ``best(results, 0.95, family="graph")`` is "the best graph index" of a run and
    ``best(results, 0.95, family="quantization")`` "the best quantised index". Raises
    ``LookupError`` when no row qualifies.
    """
    rows = table
    if workload is not None:
        rows = rows[rows["workload"] == workload]
    if family is not None:
        rows = rows[rows["family"].isin([family] if isinstance(family, str) else list(family))]
    if methods is not None:
        rows = rows[rows["method"].isin(list(methods))]
    if family is None:
        rows = rows[rows["family"] != "exact"]
    rows = rows[rows["recall"] >= recall]
    if rows.empty:
        raise LookupError(f"no configuration reaches recall {recall} (family={family!r}, methods={methods!r})")
    return rows.loc[rows["qps"].idxmax()]


def index_from(point: Mapping, metric: str | None = None) -> ANNIndex:
    """An unbuilt index configured as a results row (``method``, ``build``, ``query``); fit it next.

    >>> point = best(results, 0.95, family="graph")      # doctest: +SKIP
    >>> index = index_from(point).fit(item_vectors)        # doctest: +SKIP
    """
    build = point["build"]
    query = point["query"]
    build = json.loads(build) if isinstance(build, str) else dict(build)
    query = json.loads(query) if isinstance(query, str) else dict(query)
    index = registry.make(point["method"], metric=metric or "ip", **build)
    if query:
        index.set_query_arguments(**query)
    return index


def recall_record(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{method: {"build | query": recall}}`` of the rows whose recall repeats from run to run
    (what a notebook records for its reproducibility check)."""
    rows = table[table["reproducible"]] if "reproducible" in table else table
    return {
        m: {f"{r.build} | {r.query}": float(r.recall) for r in g.itertuples()}
        for m, g in rows.groupby("method", sort=False)
    }


def reached_record(table: pd.DataFrame, targets: Sequence[float] = (0.8, 0.9)) -> dict[str, dict[str, bool]]:
    """For methods whose builds are not reproducible: which recall targets some point reached
    (a tolerance-free summary that does repeat, where the exact recall does not)."""
    rows = table[~table["reproducible"]] if "reproducible" in table else table.iloc[:0]
    return {
        m: {f"reaches {t}": bool((g["recall"] >= t).any()) for t in targets}
        for m, g in rows.groupby("method", sort=False)
    }


def family_summary(table: pd.DataFrame, recall: float = 0.95) -> pd.DataFrame:
    """Per family: its fastest configuration reaching ``recall``, its speed-ups and costs, and the
    highest recall the family reached at all (``max_recall``; the only figure for a family that
    never reaches the target, whose ``best`` then says so)."""
    reference = exact_reference(table)
    rows = []
    for family in ("graph", "quantization", "tree", "lsh"):
        members = table[table["family"] == family]
        if members.empty:
            continue
        try:
            point = best(table, recall, family=family)
        except LookupError:
            top = members.loc[members["recall"].idxmax()]
            rows.append({"family": family, "best": f"none reaches it ({top['method']})", "max_recall": top["recall"]})
            continue
        ref = reference.loc[point["workload"]] if point["workload"] in reference.index else None
        rows.append(
            {
                "family": family,
                "best": point["label"],
                "recall": point["recall"],
                "qps": point["qps"],
                "x one-query exact": point["qps"] / ref["exact_qps"] if ref is not None else math.nan,
                "x batched exact": point["qps"] / ref["exact_batch_qps"] if ref is not None else math.nan,
                "build_s": point["build_s"],
                "bytes_per_item": point["bytes_per_item"],
                "query": point["query"],
                "max_recall": members["recall"].max(),
            }
        )
    columns = [
        "best",
        "recall",
        "qps",
        "x one-query exact",
        "x batched exact",
        "build_s",
        "bytes_per_item",
        "query",
        "max_recall",
    ]
    return pd.DataFrame(rows).set_index("family").reindex(columns=columns) if rows else pd.DataFrame(columns=columns)


def exact_reference(table: pd.DataFrame) -> pd.DataFrame:
    """Per workload: the one-query-at-a-time QPS of exact search (the faster exact adapter) and
    the batched QPS of faiss's ``IndexFlatIP`` (or the faster exact adapter if faiss is absent)."""
    exact = table[table["family"] == "exact"]
    out = {}
    for name, rows in exact.groupby("workload", sort=False):
        flat = rows[rows["method"] == "faiss-flat"]
        out[name] = {
            "exact_qps": float(rows["qps"].max()),
            "exact_method": rows.loc[rows["qps"].idxmax(), "method"],
            "exact_batch_qps": float((flat if len(flat) else rows)["batch_qps"].max()),
            "exact_batch_method": "faiss-flat" if len(flat) else rows.loc[rows["batch_qps"].idxmax(), "method"],
        }
    return pd.DataFrame.from_dict(out, orient="index")


def speedup_table(table: pd.DataFrame, targets: Sequence[float] = (0.9, 0.95)) -> pd.DataFrame:
    """Per recall target and method: the best single-query QPS reaching it, and what it costs.

    Columns: ``qps``, ``speedup_vs_exact`` (over one-query exact search), ``speedup_vs_batch``
    (over batched exact search, faiss ``IndexFlatIP`` on all cores), ``recall``, ``build_s``,
    ``memory_bytes``, ``bytes_per_item``, and the parameters. A method that never reaches a target
    keeps its row, with NaN figures and, in ``recall``, the highest recall it did reach. Indexed by
    (workload, target, method).
    """
    reference = exact_reference(table)
    parts = []
    approx = table[table["family"] != "exact"]
    for target in targets:
        points = operating_points(approx, target)
        missing = []
        for (workload, method), rows in approx.groupby(["workload", "method"], sort=False):
            if not ((points["workload"] == workload) & (points["method"] == method)).any() if len(points) else True:
                top = rows.loc[rows["recall"].idxmax()].copy()  # the most accurate point it reached
                top[["qps", "build_s", "memory_bytes", "bytes_per_item"]] = math.nan
                missing.append(top)
        if missing:
            points = pd.concat([points, pd.DataFrame(missing)])
        if points.empty:
            continue
        points = points.copy()
        points.insert(0, "target", target)
        ref = reference.reindex(points["workload"])
        points["speedup_vs_exact"] = points["qps"].to_numpy() / ref["exact_qps"].to_numpy()
        points["speedup_vs_batch"] = points["qps"].to_numpy() / ref["exact_batch_qps"].to_numpy()
        parts.append(points)
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts)
    columns = [
        "workload",
        "target",
        "method",
        "family",
        "label",
        "qps",
        "speedup_vs_exact",
        "speedup_vs_batch",
        "recall",
        "build_s",
        "memory_bytes",
        "bytes_per_item",
        "build",
        "query",
    ]
    return out[columns].set_index(["workload", "target", "method"])


def scaling_exponents(table: pd.DataFrame, y: str, x: str = "n_items", by: str = "method") -> pd.Series:
    """Per method, the slope of ``log y`` against ``log x`` (least squares): ``y ~ x^slope``.

    A slope near 1 for build time or memory means linear growth; for QPS, a slope near -1 means
    the method scans the catalogue (exact search), near 0 means it barely notices the size.
    """
    slopes = {}
    for name, rows in table.groupby(by, sort=False):
        rows = rows[(rows[x] > 0) & (rows[y] > 0)]
        if rows[x].nunique() >= 2:
            slopes[name] = float(np.polyfit(np.log(rows[x].to_numpy(float)), np.log(rows[y].to_numpy(float)), 1)[0])
    return pd.Series(slopes, name=f"exponent of {y}")


def scaling_summary(
    table: pd.DataFrame,
    targets: Sequence[float] = (0.9, 0.95),
    columns: Sequence[str] = ("qps", "build_s", "memory_bytes"),
) -> pd.DataFrame:
    """Scaling exponents of a multi-size table: per method, the log-log slope of each column
    against ``n_items`` at each recall target (each size's fastest point reaching it), and for
    exact search at recall 1. Columns like ``"qps @ 0.95"`` and ``"qps @ exact"``."""
    out = {}
    approx, exact = table[table["family"] != "exact"], table[table["family"] == "exact"]
    for target in targets:
        points = operating_points(approx, target, by=("n_items", "method"))
        for column in columns:
            out[f"{column} @ {target:g}"] = scaling_exponents(points, column) if len(points) else pd.Series(dtype=float)
    for column in columns:
        out[f"{column} @ exact"] = scaling_exponents(exact, column) if len(exact) else pd.Series(dtype=float)
    return pd.DataFrame(out)


def write_results(bench: Benchmark, folder: str | os.PathLike, *, extra: Mapping | None = None) -> dict[str, Path]:
    """Write ``results.csv``, ``frontier.csv`` and ``results.json`` (rows, skipped, settings) to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": folder / "results.csv",
        "frontier": folder / "frontier.csv",
        "json": folder / "results.json",
    }
    bench.results.to_csv(paths["results"], index=False)
    bench.frontier().to_csv(paths["frontier"], index=False)
    payload = {
        "settings": bench.settings,
        "skipped": bench.skipped,
        "ground_truth_seconds": bench.truth_seconds,
        "results": to_jsonable(bench.results.to_dict(orient="records")),
        **to_jsonable(dict(extra or {})),
    }
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, paths["json"])
    return paths


# -- how each library was built ------------------------------------------------------------------------


def _binary_vector_registers(path: str) -> str:
    """The widest SIMD registers a compiled library's code uses, read with ``objdump`` if present."""
    import shutil
    import subprocess

    if not shutil.which("objdump"):
        return "not inspected (no objdump)"
    try:
        text = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):  # pragma: no cover
        return "not inspected"
    counts = {reg: text.count(f"%{reg}") for reg in ("zmm", "ymm", "xmm")}
    if counts["zmm"]:
        return f"AVX-512 code present ({counts['zmm']:,} zmm instructions)"
    if counts["ymm"]:
        return f"AVX/AVX2 at most ({counts['ymm']:,} ymm, no zmm instructions)"
    return "SSE at most (no ymm/zmm instructions)" if counts["xmm"] else "no SIMD instructions found"


def _wheel(dist_name: str) -> tuple[str, str]:
    import importlib.metadata as md

    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        return "", ""
    tags = [
        line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines() if line.startswith("Tag")
    ]
    kind = "PyPI wheel" if any("manylinux" in t or "macosx" in t or "win" in t for t in tags) else "built from source"
    return dist.version, f"{kind} ({tags[0] if tags else 'no tag'})"


def _nmslib_banner() -> str:
    """What nmslib's wheel says about itself on import (in a subprocess, to capture native output)."""
    import subprocess
    import sys

    try:
        done = subprocess.run(
            [sys.executable, "-c", "import nmslib"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):  # pragma: no cover
        return ""
    text = " ".join((done.stdout + done.stderr).split())
    return text.split("For maximum")[0].strip()


def library_builds(inspect_binaries: bool = True) -> pd.DataFrame:
    """One row per search library: version, how it was built, and the SIMD level it runs with.

    faiss reports its run-time level (``faiss.SIMDConfig``); usearch its kernels
    (``hardware_acceleration``); nmslib's wheel prints what it lacks on import; for hnswlib, annoy
    and ScaNN the compiled module is read with ``objdump`` for the widest registers it uses.
    """
    import importlib.util

    rows = []

    def add(library, dist, simd, note=""):
        version, build = _wheel(dist)
        if not version:
            rows.append({"library": library, "version": "", "build": "not installed", "simd": "", "note": note})
        else:
            rows.append({"library": library, "version": version, "build": build, "simd": simd, "note": note})

    def binary(module: str) -> str:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin:
            return ""
        return _binary_vector_registers(spec.origin) if inspect_binaries else "not inspected"

    if importlib.util.find_spec("faiss"):
        faiss = require("faiss", "faiss-cpu")
        level = faiss.SIMDConfig.get_level_name() if hasattr(faiss, "SIMDConfig") else "unknown"
        add("faiss", "faiss-cpu", f"{level} (run-time dispatch)", f"compiled: {faiss.get_compile_options().strip()}")
    else:
        add("faiss", "faiss-cpu", "")
    add("hnswlib", "hnswlib", binary("hnswlib"), "distance kernels chosen at compile time")
    banner = _nmslib_banner() if importlib.util.find_spec("nmslib") and inspect_binaries else ""
    add("nmslib", "nmslib", "none (generic C++)" if "not compiled" in banner else binary("nmslib"), banner)
    add("annoy", "annoy", binary("annoy.annoylib"), "distance kernels chosen at compile time")
    if importlib.util.find_spec("usearch"):
        from usearch.index import Index

        add("usearch", "usearch", f"{Index(ndim=8, metric='ip').hardware_acceleration} kernels (run-time dispatch)")
    else:
        add("usearch", "usearch", "")
    scann_so = importlib.util.find_spec("scann")
    simd = ""
    if scann_so and scann_so.submodule_search_locations and inspect_binaries:
        folder = Path(next(iter(scann_so.submodule_search_locations)))
        found = sorted(folder.rglob("scann_pybind*.so"))
        simd = _binary_vector_registers(str(found[0])) if found else ""
    add("scann", "scann", simd)
    return pd.DataFrame(rows).set_index("library")


@contextlib.contextmanager
def faiss_simd_level(level: str):
    """Run faiss at another SIMD level (``"NONE"``, ``"AVX2"``, ``"AVX512"``, ...) inside the block.

    faiss 1.12+ dispatches its kernels at run time, so one process can measure the same index at
    each level: the cleanest experiment of what SIMD does to the numbers.
    """
    faiss = require("faiss", "faiss-cpu")
    config = faiss.SIMDConfig
    previous = config.get_level_name()
    try:
        config.set_level(faiss.to_simd_level(level))
    except (RuntimeError, KeyError, ValueError) as error:
        raise ValueError(f"faiss cannot run at SIMD level {level!r} here (it runs at {previous}): {error}") from None
    if config.get_level_name() != level:
        config.set_level(faiss.to_simd_level(previous))
        raise ValueError(f"faiss cannot run at SIMD level {level!r} here (it runs at {previous})")
    try:
        yield
    finally:
        config.set_level(faiss.to_simd_level(previous))
