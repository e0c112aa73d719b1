"""Reading a benchmark's results table (:data:`recsys.ann.running.RESULT_COLUMNS`).

* :func:`pareto_frontier`: ann-benchmarks' upper-left frontier of recall vs QPS;
* :func:`operating_points` / :func:`best`: the fastest configuration reaching a recall target (how
  notebook 07 and the Spark chapter pick "the best graph index" and "the best quantised index"),
  and :func:`index_from`, which rebuilds it;
* :func:`recall_record` / :func:`reached_record`: what a notebook records for its reproduction
  check (exact recalls where builds repeat, reached targets where they do not);
* :func:`family_summary`, :func:`exact_reference`, :func:`speedup_table`: speed-ups over exact
  search, per family and per method;
* :func:`sampling_baseline`: a candidate-budget index's recall beside that of ranking the same
  number of items drawn at random (the sanity check of a forest's cuts);
* :func:`speedup_spread`: the median and spread of a headline speed-up timed over builds and
  repeats (:func:`recsys.ann.running.speedup_over_repeats`);
* :func:`scaling_exponents` / :func:`scaling_summary` / :func:`local_slopes`: log-log slopes of a
  multi-size table, fitted only over the sizes where a method reaches the target;
* :func:`write_results`: the table, its frontier and the run's settings as CSV and JSON.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.ann import registry
from recsys.ann.base import ANNIndex
from recsys.checks import check_integer, check_number, to_jsonable

__all__ = [
    "best",
    "exact_reference",
    "family_summary",
    "index_from",
    "local_slopes",
    "native_vs_transformed",
    "operating_points",
    "pareto_frontier",
    "reached_record",
    "recall_record",
    "sampling_baseline",
    "scaling_exponents",
    "scaling_summary",
    "speedup_spread",
    "speedup_table",
    "write_results",
]


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


def native_vs_transformed(table: pd.DataFrame, pairs: Sequence[tuple[str, str]], recall: float = 0.9) -> pd.DataFrame:
    """Each (native, transformed) pair of methods side by side: the fastest QPS of each at ``recall``
    (NaN where a method does not reach it, with its best recall beside it), their ratio, and the
    recall of each at the settings both were measured at (``shared``: {"build | query": (native,
    transformed)}), which is where two builds of the same idea should agree."""
    recall = check_number("recall", recall, 0, 1)
    rows = []
    for native, transformed in pairs:
        entry = {"native": native, "transformed": transformed}
        for side, method in (("native", native), ("transformed", transformed)):
            rows_m = table[table["method"] == method]
            reached = rows_m[rows_m["recall"] >= recall]
            entry[f"{side}_qps"] = float(reached["qps"].max()) if len(reached) else float("nan")
            entry[f"{side}_best_recall"] = float(rows_m["recall"].max()) if len(rows_m) else float("nan")
        entry["ratio"] = entry["native_qps"] / entry["transformed_qps"]
        a = table[table["method"] == native].set_index(["build", "query"])["recall"]
        b = table[table["method"] == transformed].set_index(["build", "query"])["recall"]
        shared = a.index.intersection(b.index)
        entry["shared"] = {
            f"{build} | {query}": (float(a[(build, query)]), float(b[(build, query)])) for build, query in shared
        }
        rows.append(entry)
    return pd.DataFrame(rows).set_index(["native", "transformed"])


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
    for family in ("graph", "quantization", "tree", "lsh", "pruning"):
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


def scaling_exponents(
    table: pd.DataFrame, y: str, x: str = "n_items", by: str = "method", min_sizes: int = 2
) -> pd.Series:
    """Per method, the slope of ``log y`` against ``log x`` (least squares): ``y ~ x^slope``.

    A slope near 1 for build time or memory means linear growth; for QPS, a slope near -1 means
    the method scans the catalogue (exact search), near 0 means it barely notices the size. A
    method measured at fewer than ``min_sizes`` distinct sizes gets no slope (two points always
    lie on a line: their slope is a ratio, not a fitted growth law).
    """
    min_sizes = check_integer("min_sizes", min_sizes, 2)
    slopes = {}
    for name, rows in table.groupby(by, sort=False):
        rows = rows[(rows[x] > 0) & (rows[y] > 0)]
        if rows[x].nunique() >= min_sizes:
            slopes[name] = float(np.polyfit(np.log(rows[x].to_numpy(float)), np.log(rows[y].to_numpy(float)), 1)[0])
    return pd.Series(slopes, name=f"exponent of {y}", dtype=float)


def scaling_summary(
    table: pd.DataFrame,
    targets: Sequence[float] = (0.9, 0.95),
    columns: Sequence[str] = ("qps", "build_s", "memory_bytes"),
    min_sizes: int = 3,
) -> pd.DataFrame:
    """Scaling exponents of a multi-size table: per method, the log-log slope of each column
    against ``n_items`` at each recall target, fitted over the sizes where the method reaches it
    (each size's fastest point reaching it) and only when there are at least ``min_sizes`` such
    sizes; for exact search at recall 1. Columns like ``"qps @ 0.95"`` and ``"qps @ exact"``, and
    ``"sizes @ 0.95"``: how many sizes each fit used (0 where the method never reached it)."""
    out = {}
    approx, exact = table[table["family"] != "exact"], table[table["family"] == "exact"]
    methods = list(dict.fromkeys(approx["method"]))
    for target in targets:
        points = operating_points(approx, target, by=("n_items", "method"))
        for column in columns:
            out[f"{column} @ {target:g}"] = (
                scaling_exponents(points, column, min_sizes=min_sizes) if len(points) else pd.Series(dtype=float)
            )
        counts = points.groupby("method")["n_items"].nunique() if len(points) else pd.Series(dtype=int)
        out[f"sizes @ {target:g}"] = counts.reindex(methods, fill_value=0).astype(int)
    for column in columns:
        out[f"{column} @ exact"] = (
            scaling_exponents(exact, column, min_sizes=min_sizes) if len(exact) else pd.Series(dtype=float)
        )
    frame = pd.DataFrame(out)
    for target in targets:
        frame[f"sizes @ {target:g}"] = frame[f"sizes @ {target:g}"].fillna(0).astype(int)
    return frame


def local_slopes(table: pd.DataFrame, target: float, column: str = "qps") -> pd.DataFrame:
    """Per method, the log-log slope of ``column`` between each pair of consecutive sizes at which
    it reaches ``target`` (exact methods: at recall 1): where a growth curve bends, these say
    where, which one fitted exponent hides. One row per method, one column per size interval
    (``"10,000-30,000"``), NaN where the method does not reach the target at both ends."""
    approx = operating_points(table[table["family"] != "exact"], target, by=("n_items", "method"))
    exact = table[table["family"] == "exact"]
    if len(exact):
        exact = exact.loc[exact.groupby(["n_items", "method"])[column].idxmax()]
    points = pd.concat([approx, exact], ignore_index=True)
    sizes = sorted(table["n_items"].unique())
    intervals = [f"{int(a):,}-{int(b):,}" for a, b in zip(sizes, sizes[1:])]
    rows = {}
    for method, group in points.groupby("method", sort=False):
        by_size = group.groupby("n_items")[column].max()
        rows[method] = [
            float(np.log(by_size[b] / by_size[a]) / np.log(b / a))
            if a in by_size.index and b in by_size.index and by_size[a] > 0 and by_size[b] > 0
            else math.nan
            for a, b in zip(sizes, sizes[1:])
        ]
    return pd.DataFrame.from_dict(rows, orient="index", columns=intervals)


def sampling_baseline(table: pd.DataFrame, knob: str = "search_k") -> pd.DataFrame:
    """The rows whose query sets a candidate budget ``knob`` (Annoy's ``search_k``: how many items
    a query collects from the trees and ranks exactly), each beside the recall that ranking the same
    number of items **drawn at random** would reach: ``min(1, budget / n_items)`` in expectation
    (each true neighbour is among the sample with that probability). An index whose ``recall`` is
    not well above ``random_recall`` (``lift`` = their ratio) has learnt little from its cuts; a
    budget of ``-1`` (the library's default) is left out."""
    rows = []
    for row in table.itertuples():
        query = json.loads(row.query) if isinstance(row.query, str) else dict(row.query)
        budget = query.get(knob)
        if budget is None or budget < 0:
            continue
        random_recall = min(1.0, budget / row.n_items)
        rows.append(
            {
                "method": row.method,
                "n_items": row.n_items,
                "build": row.build,
                knob: budget,
                "recall": row.recall,
                "random_recall": random_recall,
                "lift": row.recall / random_recall if random_recall > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=["method", "n_items", "build", knob, "recall", "random_recall", "lift"])


def speedup_spread(passes: pd.DataFrame) -> dict[str, Any]:
    """The median and range of a headline speed-up over builds and repeated passes
    (:func:`recsys.ann.running.speedup_over_repeats`'s table): ``speedup_vs_exact``,
    ``speedup_vs_batch``, ``qps`` and the exact QPS as ``{"median", "min", "max"}``, with
    ``n_builds``, ``n_passes``, the recall range over builds and the share of passes that started
    on a quiet machine. The range is over every pass of every build: a rerun on the same quiet
    machine should land inside it."""
    if passes.empty:
        raise ValueError("no passes to summarise")

    def spread(column: str) -> dict[str, float]:
        values = passes[column].to_numpy(float)
        return {"median": float(np.median(values)), "min": float(values.min()), "max": float(values.max())}

    quiet = passes["quiet"].dropna()
    return {
        "method": str(passes["method"].iloc[0]),
        "build": str(passes["build"].iloc[0]),
        "query": str(passes["query"].iloc[0]),
        "n_builds": int(passes["build_no"].nunique()),
        "n_passes": len(passes),
        "recall_min": float(passes["recall"].min()),
        "recall_max": float(passes["recall"].max()),
        "speedup_vs_exact": spread("speedup_vs_exact"),
        "speedup_vs_batch": spread("speedup_vs_batch"),
        "qps": spread("qps"),
        "exact_qps": spread("exact_qps"),
        "exact_batch_qps": spread("exact_batch_qps"),
        "quiet_share": float(quiet.astype(bool).mean()) if len(quiet) else math.nan,
        "load_min": float(passes["load_1m"].min()),
        "load_max": float(passes["load_1m"].max()),
    }


def write_results(bench: Any, folder: str | os.PathLike, *, extra: Mapping | None = None) -> dict[str, Path]:
    """Write ``results.csv``, ``frontier.csv`` and ``results.json`` (rows, skipped, settings) to ``folder``.

    ``bench`` is what :func:`recsys.ann.running.run` returns (a :class:`~recsys.ann.running.Benchmark`).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": folder / "results.csv",
        "frontier": folder / "frontier.csv",
        "json": folder / "results.json",
    }
    bench.results.to_csv(paths["results"], index=False)
    pareto_frontier(bench.results).to_csv(paths["frontier"], index=False)
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
