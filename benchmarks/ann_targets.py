"""Issue 13's speed targets for approximate search, measured on one recommender-shaped catalogue.

    python benchmarks/ann_targets.py                        # 1,000,000 items (~30-60 min on 2 cores)
    python benchmarks/ann_targets.py --n-items 300000       # the HNSW >= 2,000 QPS target's size
    python benchmarks/ann_targets.py --json build/ann/targets-1M.json

Fits the recommender-shaped mixture to implicit-ALS factors of the bundled ratings
(:func:`recsys.experiments.serving.mixture_for`), samples ``--n-items`` items and ``--n-queries`` queries,
and measures exact search (numpy, faiss ``IndexFlatIP``) and the candidate best indexes with the
grids of :mod:`recsys.ann.grids` (single thread, one query per call; graphs built on one thread).
Prints, per method, the fastest configuration reaching recall@10 0.90 and 0.95 with its speed-up
over one-query exact search and over batched exact search, then the targets:

* the best method reaches recall@10 >= 0.95 at >= 100x one-query exact search (on 10^6 items);
* HNSW (hnswlib or nmslib) serves >= 2,000 QPS at recall@10 >= 0.95 (on 300,000 items).

Timings depend on the machine and its load: the load average is printed next to them. Run it on a
quiet machine for the figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from recsys.ann import bench, registry
from recsys.checks import to_jsonable
from recsys.experiments import serving as retrieval

DEFAULT_METHODS = ["exact-numpy", "faiss-flat", "hnswlib", "faiss-ivf", "faiss-ivfpqfs", "scann"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-items", type=int, default=1_000_000)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("--time-budget", type=float, default=900.0, help="seconds per method")
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--cache", default="build/ann-cache")
    parser.add_argument("--json", default=None, help="write every row and the summary here")
    parser.add_argument("--quick", action="store_true", help="the quick grids (a smoke run)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for name in methods:
        registry.get(name)
    started = time.perf_counter()
    embeddings = retrieval.real_embeddings(args.dataset)
    mixture = retrieval.mixture_for(embeddings, cache_dir=args.cache)
    workload = mixture.workload(args.n_items, args.n_queries, seed=0)
    print(f"{workload}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    from recsys.ann import grids

    result = bench.run(
        workload,
        methods,
        grids=grids.QUICK_GRIDS if args.quick else None,
        time_budget=args.time_budget,
        cache_dir=args.cache,
        log=lambda line: print(f"  {line}", flush=True),
    )
    table = bench.speedup_table(result.results)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[["qps", "speedup_vs_exact", "speedup_vs_batch", "recall", "build_s", "bytes_per_item", "query"]])
        print(bench.exact_reference(result.results))
    summary: dict = {"n_items": workload.n_items, "load_average_end": os.getloadavg()}
    try:
        point = bench.best(result.results, 0.95)
        reference = bench.exact_reference(result.results).loc[point["workload"]]
        summary.update(
            best_method=point["label"],
            best_query=point["query"],
            best_qps=point["qps"],
            speedup_vs_exact=point["qps"] / reference["exact_qps"],
            speedup_vs_batch=point["qps"] / reference["exact_batch_qps"],
        )
        print(
            f"best at recall@10 >= 0.95: {point['label']} {point['query']}: {point['qps']:,.0f} QPS, "
            f"{summary['speedup_vs_exact']:,.0f}x one-query exact, {summary['speedup_vs_batch']:,.1f}x batched exact "
            "(target on 10^6 items: >= 100x one-query exact)"
        )
    except LookupError:
        print("no method reached recall@10 0.95")
    hnsw = result.results[
        result.results["method"].isin(["hnswlib", "nmslib-hnsw"]) & (result.results["recall"] >= 0.95)
    ]
    if len(hnsw):
        summary["hnsw_qps_at_095"] = float(hnsw["qps"].max())
        print(f"HNSW at recall@10 >= 0.95: {summary['hnsw_qps_at_095']:,.0f} QPS (target on 300,000 items: >= 2,000)")
    summary["seconds"] = time.perf_counter() - started
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; {summary['seconds']:.0f} s in all")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "summary": summary,
            "skipped": result.skipped,
            "settings": result.settings,
            "rows": result.results.to_dict(orient="records"),
        }
        Path(args.json).write_text(json.dumps(to_jsonable(payload), indent=1) + "\n")
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
