"""Fit time of our ALS against MLlib's ALS (Spark local mode) by data size; optionally top-k for all users.

The same measurement as notebook 08's section (b), without the rest of the chapter, for sizes
the notebook's default run leaves out (up to 10^7 ratings and beyond):

    .venv/bin/python benchmarks/spark_scaling.py --sizes 100000 1000000 10000000
    .venv/bin/python benchmarks/spark_scaling.py --sizes 1000000 --retrieval hnswlib

Data: synthetic ratings with planted factors shaped like MovieLens
(:func:`recsys.spark.scaling.synthetic_shape`: ``ratings / 150`` users, ``4 sqrt(ratings)``
items). Both engines fit the same matrix with the same rank, regParam (our weighted lambda) and
sweeps; ours is ``ALS(weighted_regularization=True, biased=False)`` on one core, MLlib uses every
task slot of ``local[cores]``. Prints one row per size: both fit times, their ratio, and how
MLlib's time splits (data to Spark, the fit, factors back). Needs the ``[spark]`` extra.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

from recsys.ann.exact import BruteForce
from recsys.models import ALS
from recsys.notebook import machine
from recsys.spark import SparkALS, SparkUnavailable, local_session, retrieval, scaling, session


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000, 3_000_000])
    parser.add_argument("--factors", type=int, default=10)
    parser.add_argument("--regularization", type=float, default=0.1)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=4, help="MLlib's numUserBlocks = numItemBlocks")
    parser.add_argument("--cores", type=int, default=0, help="task slots (0: every core)")
    parser.add_argument("--memory", default="6g", help="driver JVM heap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm-up", type=int, default=2, help="MLlib fits of the smallest size before timing")
    parser.add_argument("--retrieval", metavar="ANN", help="also time top-10 for all users (a recsys.ann adapter name)")
    args = parser.parse_args(argv)

    try:
        start = time.perf_counter()
        spark = local_session(memory=args.memory, cores=args.cores or None)
        spark.range(1).count()
        started = time.perf_counter() - start
    except SparkUnavailable as error:
        print(error, file=sys.stderr)
        raise SystemExit(1) from None
    print(
        f"{machine.one_line()}; Spark {spark.version} {spark.sparkContext.master} on {session.session_java().describe()}"
    )
    print(f"session start and first job: {started:.1f} s")

    make_mllib = lambda: SparkALS(  # noqa: E731
        args.factors, args.regularization, args.iterations, blocks=args.blocks, random_state=args.seed
    )
    if args.warm_up:  # a young JVM compiles MLlib's code as it runs it: its first fits are slower
        warm = scaling.time_fits(
            {"MLlib ALS": make_mllib},
            [min(args.sizes)] * args.warm_up,
            lambda size: scaling.synthetic_matrix(size, seed=args.seed),
        )
        print("warm-up fits (s): " + ", ".join(f"{v:.1f}" for v in warm["fit"]))

    kept = {}

    def keep(engine, size, model):
        if engine == "MLlib ALS" and size == max(args.sizes):
            kept["model"] = model

    runs = scaling.time_fits(
        {
            "ours": lambda: ALS(
                args.factors,
                args.regularization,
                weighted_regularization=True,
                biased=False,
                iterations=args.iterations,
                random_state=args.seed,
            ),
            "MLlib ALS": make_mllib,
        },
        args.sizes,
        lambda size: scaling.synthetic_matrix(size, seed=args.seed),
        on_fit=keep,
    )
    table = runs.pivot_table(index=["n_ratings", "n_users", "n_items"], columns="engine", values="seconds")
    table["MLlib / ours"] = table["MLlib ALS"] / table["ours"]
    mllib = runs[runs["engine"] == "MLlib ALS"].set_index(["n_ratings", "n_users", "n_items"])
    table = table.join(mllib[["to_spark", "fit", "to_numpy", "copies"]])
    with pd.option_context("display.width", 160, "display.float_format", "{:.2f}".format):
        print(f"\nfit seconds, rank {args.factors}, {args.iterations} sweeps, {args.blocks} blocks")
        print(table.reset_index().to_string(index=False))
    if args.retrieval:
        index = BruteForce() if args.retrieval == "exact-numpy" else retrieval.ann_adapter(args.retrieval)(metric="ip")
        routes = retrieval.compare_routes(spark, kept["model"], 10, index, repeats=3)
        with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
            print(f"\ntop-10 for every user ({kept['model'].n_users_:,} users x {kept['model'].n_items_:,} items)")
            print(routes.to_string())
    session.stop_session()
    return table


if __name__ == "__main__":
    main()
