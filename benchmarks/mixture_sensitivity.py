"""How much notebook 06's large-catalogue results lean on its generator: the same study with more mixture components.

    python benchmarks/mixture_sensitivity.py                                  # 16, 32, 64 components, 300,000 items
    python benchmarks/mixture_sensitivity.py --components 16 48 --n-items 100000 --json build/ann/sensitivity.json

Beyond the real catalogue's size, 06's synthetic catalogue is an extrapolation: a Gaussian mixture
(16 item components by default) fitted to a few thousand real vectors, sampled much more densely.
This script refits the generator with each ``--components`` and, for each:

1. checks it at the real size (the fit is seeded with ``--seed``, 06's 42 by default: the fit
   seed alone moves some statistics by as much as the component count does) (:func:`recsys.ann.difficulty.validation_table`, ``--samples``
   samples against the real vectors): how many statistics hold their tolerance;
2. runs the benchmark on ``--n-items`` items with ``--methods`` and reports, per method, the
   fastest configuration reaching recall@10 0.95 (its QPS, single thread, one query per call) and
   its recall at each query setting.

One table, the components side by side: if a method's operating point or QPS moves a lot between
16 and 64 components, 06's figures for it depend on the generator's detail, not only on the real
vectors' shape. Timings depend on the machine and its load: the load is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from recsys.ann import bench, difficulty, grids, registry
from recsys.checks import to_jsonable
from recsys.experiments import serving as retrieval

DEFAULT_METHODS = ["exact-numpy", "hnswlib", "faiss-ivf", "faiss-ivfpqfs", "scann"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--components", type=int, nargs="+", default=[16, 32, 64], help="item mixture components")
    parser.add_argument("--n-items", type=int, default=300_000)
    parser.add_argument("--n-queries", type=int, default=500)
    parser.add_argument("--samples", type=int, default=4, help="mixture samples in each validation at the real size")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("--time-budget", type=float, default=600.0, help="seconds per method and generator")
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--seed", type=int, default=42, help="seed of the mixture fit (06's default: 42)")
    parser.add_argument("--cache", default="build/ann-cache")
    parser.add_argument("--json", default=None, help="write the table and the validations here")
    parser.add_argument("--quick", action="store_true", help="the quick grids and short timings (a smoke run)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for name in methods:
        registry.get(name)  # a typo fails before any work
    if any(c < 1 for c in args.components) or args.samples < 1:
        parser.error("--components and --samples must be positive")
    started = time.perf_counter()
    embeddings = retrieval.real_embeddings(args.dataset)
    real = embeddings.workload()
    print(f"real: {real}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rows, validations = [], {}
    for components in args.components:
        mixture = retrieval.mixture_for(embeddings, cache_dir=args.cache, seed=args.seed, item_components=components)
        samples = [mixture.workload(real.n_items, real.n_queries, seed=s) for s in range(args.samples)]
        validation = difficulty.validation_table(real, samples)
        validations[components] = validation
        held = int(validation["holds"].sum())
        print(f"\n{components} components: {held} of {len(validation)} statistics hold at the real size", flush=True)
        with pd.option_context("display.width", 200):
            print(validation.round(3).to_string())
        workload = mixture.workload(args.n_items, args.n_queries, seed=0, name=f"mixture-{components}")
        result = bench.run(
            workload,
            methods,
            grids=grids.QUICK_GRIDS if args.quick else None,
            time_budget=args.time_budget,
            timing_queries=50 if args.quick else 1000,
            max_timing_seconds=0.05 if args.quick else 2.0,
            repeats=1,
            cache_dir=args.cache,
            progress=False,
        )
        for method, group in result.results.groupby("method", sort=False):
            try:
                point = bench.best(group, 0.95, family=group["family"].iloc[0])
                best = {
                    "query_095": point["query"],
                    "qps_095": float(point["qps"]),
                    "recall_095": float(point["recall"]),
                }
            except LookupError:
                best = {"query_095": None, "qps_095": float("nan"), "recall_095": float(group["recall"].max())}
            rows.append(
                {
                    "components": components,
                    "method": method,
                    "statistics_held": held,
                    **best,
                    "recall_by_query": dict(zip(group["query"], group["recall"].round(4))),
                    "load": float(group["load_1m"].max()),
                }
            )
    table = pd.DataFrame(rows)
    wide = table.pivot(index="method", columns="components", values="qps_095")
    print(f"\nQPS at recall@10 >= 0.95 on {args.n_items:,} items, by item components (NaN: not reached):")
    print(wide.round(0).to_string())
    settings = table.pivot(index="method", columns="components", values="query_095")
    print("\nthe setting that reaches it:")
    print(settings.to_string())
    seconds = time.perf_counter() - started
    print(
        f"\nload average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; {seconds:.0f} s in all; {bench.cpu_description()}"
    )
    summary = {
        "table": table.to_dict(orient="records"),
        "validation": {c: v.reset_index().to_dict(orient="records") for c, v in validations.items()},
        "n_items": args.n_items,
        "seconds": seconds,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(to_jsonable(summary), indent=1) + "\n")
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
