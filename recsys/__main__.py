"""Command line: ``python -m recsys run`` executes the notebooks (see :mod:`recsys.notebook.runner`);
``python -m recsys ann`` runs the approximate-search benchmark without a notebook (see
:mod:`recsys.ann.bench`)."""

from __future__ import annotations

import argparse
import sys

from recsys.notebook import runner


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recsys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="execute the notebooks in order with papermill",
        description="Execute the notebooks in order with papermill; write executed notebooks, HTML, "
        "figures and results JSON under build/ (or $RECSYS_BUILD_DIR).",
    )
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a notebook parameter (repeatable); VALUE is parsed as a Python literal "
        "when it is one (10, 0.5, True, [1, 2]), else taken as a string",
    )
    run.add_argument(
        "--only",
        nargs="+",
        metavar="NOTEBOOK",
        help="run only these notebooks, by number (01 3) or name (01_data_prep)",
    )
    run.add_argument("--dataset", help="shorthand for -p dataset NAME")
    run.add_argument("--build-dir", help="where to write the outputs (default: build/)")
    run.add_argument("--no-html", action="store_true", help="skip the HTML rendering")
    run.add_argument(
        "--no-check",
        action="store_true",
        help="do not compare default runs with the results in the committed notebooks",
    )
    run.add_argument(
        "--results",
        nargs="*",
        metavar="NAME",
        help="instead of the chapters, regenerate the committed runs in notebooks/results/ (all, or these, by name "
        "or number): each runs its chapter's current source with the parameters recorded in it and is compared "
        "with it; add --publish to replace it",
    )
    run.add_argument(
        "--publish",
        action="store_true",
        help="copy default-parameter runs back into notebooks/ (with --results: the runs back into "
        "notebooks/results/) (maintainers)",
    )
    run.add_argument(
        "--quick-timings",
        action="store_true",
        help="shorten the loops that only time things (runner.QUICK_TIMINGS): default runs are still compared "
        "with the committed notebooks, in less time; never published",
    )
    run.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    commands.add_parser("list", help="list the notebooks and their parameters")
    add_ann_parser(commands)
    return parser


def add_ann_parser(commands) -> argparse.ArgumentParser:
    """``python -m recsys ann``: the benchmark of notebook 06 from the command line."""
    ann = commands.add_parser(
        "ann",
        help="benchmark approximate nearest-neighbour indexes (recall vs QPS, build time, memory)",
        description="Build every method's parameter grid on a workload, measure recall@k (ties are hits), "
        "single-query QPS on one thread, batch QPS, latency, build time and memory; print the Pareto frontier "
        "and the fastest configuration per method at recall 0.90 and 0.95; write results.csv, frontier.csv and "
        "results.json to --out.",
    )
    source = ann.add_mutually_exclusive_group()
    source.add_argument("--workload", choices=("mixture", "real"), default=None, help="default: mixture")
    source.add_argument(
        "--hdf5",
        metavar="PATH",
        help="instead of --workload: a dataset file in ann-benchmarks' HDF5 format (e.g. lastfm-64-dot.hdf5), its "
        "'train' vectors the catalogue and its first --n-queries 'test' vectors the queries, ranked by its "
        "'distance' attribute (angular -> cosine, euclidean -> l2, dot -> ip); first prints how its 'neighbors' agree "
        "with our exact ground truth (needs h5py: pip install h5py)",
    )
    ann.add_argument(
        "--metric",
        choices=("ip", "cosine", "l2"),
        default=None,
        help="with --hdf5: rank by this metric instead of the file's distance (lastfm-64-dot is 'angular', and as "
        "its items all have one norm, ip ranks it the same)",
    )
    ann.add_argument("--n-items", type=int, default=100_000, help="catalogue size of the mixture workload")
    ann.add_argument(
        "--n-queries",
        type=int,
        default=1000,
        help="queries of the mixture workload; with --hdf5, the first N test vectors",
    )
    ann.add_argument(
        "--methods",
        default=None,
        help="comma-separated method names, or 'all' (default: exact search and one or two indexes per family, "
        "recsys.ann.registry.DEFAULT_METHODS)",
    )
    ann.add_argument("--grid", choices=("default", "quick"), default="default", help="parameter grids to use")
    ann.add_argument("--k", type=int, default=10, help="neighbours per query (recall@k)")
    ann.add_argument("--time-budget", type=float, default=120.0, help="seconds per method (default 120)")
    ann.add_argument("--build-threads", type=int, default=1, help="threads for deterministic builds (0 = all)")
    ann.add_argument("--batch-threads", type=int, default=0, help="threads for batch queries (0 = all)")
    ann.add_argument("--dataset", default="ml-latest-small", help="dataset the real factors are trained on")
    ann.add_argument("--seed", type=int, default=0, help="seed of the mixture sample")
    ann.add_argument("--out", default="build/ann", help="folder for the results (default build/ann)")
    ann.add_argument("--cache", default=None, help="cache folder for ground truth and the mixture (default OUT/cache)")
    ann.add_argument("--quiet", action="store_true", help="no progress bar")
    return ann


def run_ann(args) -> int:
    """The ``ann`` subcommand."""
    import os
    from pathlib import Path

    import pandas as pd

    from recsys.ann import bench, grids, registry
    from recsys.experiments import serving as retrieval

    if args.methods in (None, ""):
        methods = list(registry.DEFAULT_METHODS)
    elif args.methods.strip() == "all":
        methods = list(registry.ADAPTERS)
    else:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        for name in methods:
            registry.get(name)  # a typo fails before any work
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.metric is not None and args.hdf5 is None:
        print(
            "error: --metric applies to --hdf5 only (the mixture and real workloads rank by inner product)",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / "cache"
    truth, extra = None, {}
    if args.hdf5 is not None:
        try:
            workload, truth, extra["hdf5"] = _hdf5_workload(args, cache)
        except (FileNotFoundError, ValueError, ImportError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    else:
        print(f"training implicit ALS on {args.dataset} for the real factors ...", flush=True)
        embeddings = retrieval.real_embeddings(args.dataset)
        if args.workload == "real":
            workload = embeddings.workload()
        else:
            print("fitting the recommender-shaped mixture ...", flush=True)
            mixture = retrieval.mixture_for(embeddings, cache_dir=cache)
            workload = mixture.workload(args.n_items, args.n_queries, seed=args.seed)
    print(f"{workload}; methods: {', '.join(methods)}", flush=True)
    result = bench.run(
        workload,
        methods,
        grids=grids.QUICK_GRIDS if args.grid == "quick" else None,
        k=args.k,
        time_budget=args.time_budget,
        build_threads=args.build_threads,
        batch_threads=args.batch_threads,
        truth=truth,
        cache_dir=cache,
        progress=not args.quiet,
    )
    paths = bench.write_results(
        result, out, extra={**extra, "library_builds": bench.library_builds().reset_index().to_dict("records")}
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        for name, reason in result.skipped.items():
            print(f"skipped {name}: {reason}")
        columns = ["method", "family", "recall", "qps", "p99_ms", "batch_qps", "build_s", "memory_bytes", "query"]
        frontier = result.frontier()[columns].copy()
        frontier["memory_MB"] = frontier.pop("memory_bytes") / 1e6
        print(f"\nPareto frontier (recall@{args.k} vs single-query QPS on one thread), {workload}:")
        print(frontier.to_string(index=False, float_format=lambda v: f"{v:,.3f}" if v < 10 else f"{v:,.0f}"))
        table = bench.speedup_table(result.results)
        if not table.empty:
            shown = table[
                ["qps", "speedup_vs_exact", "speedup_vs_batch", "recall", "build_s", "bytes_per_item", "query"]
            ]
            print("\nfastest configuration per method at each recall target:")
            print(shown.to_string(float_format=lambda v: f"{v:,.3f}" if v < 10 else f"{v:,.0f}"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average now: {load} on {os.cpu_count()} cores; results in {paths['results'].parent}/")
    return 0


def _hdf5_workload(args, cache):
    """``--hdf5``: the file as a workload, our exact ground truth of it, and how the file's neighbours agree."""
    from recsys.ann import bench
    from recsys.ann.ann_benchmarks_format import check_ground_truth, read_hdf5

    if args.n_queries < 1 or args.k < 1:
        raise ValueError(f"--n-queries and --k must be at least 1, got {args.n_queries} and {args.k}")
    print(f"reading {args.hdf5} ...", flush=True)
    workload, neighbors = read_hdf5(args.hdf5, max_queries=args.n_queries, metric=args.metric)
    if args.k > workload.n_items:
        raise ValueError(f"--k {args.k} is more than the file's {workload.n_items:,} train vectors")
    distance, n_test = workload.params["distance"], workload.params["n_test"]
    print(
        f"ann-benchmarks distance {distance!r} -> metric {workload.metric!r}; the first {workload.n_queries:,} of "
        f"{n_test:,} test vectors as queries",
        flush=True,
    )
    truth = bench.ground_truth(workload, args.k, cache_dir=cache, threads=args.batch_threads)
    record = {"path": str(args.hdf5), "distance": distance, "metric": workload.metric, "n_test": n_test}
    if neighbors is None:
        print("ground truth: the file holds no 'neighbors' to compare ours with", flush=True)
        return workload, truth, record
    k = min(args.k, neighbors.shape[1])
    agreement = check_ground_truth(workload, neighbors, k, truth=truth)
    print(f"ground truth: {agreement}", flush=True)
    if not agreement.agrees:
        print(
            "ground truth: recall below is measured against our exact ground truth, not the file's lists",
            flush=True,
        )
    record["agreement"] = agreement.record()
    return workload, truth, record


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ann":
        return run_ann(args)
    try:
        if args.command == "list":
            for nb in runner.discover():
                defaults = runner.notebook_defaults(nb)
                print(nb.stem)
                for name, value in defaults.items():
                    print(f"    {name} = {value!r}")
            for path in runner.discover(runner.results_dir()):
                committed = runner.committed_run(path)
                shown = ", ".join(f"{k}={v!r}" for k, v in committed.parameters.items()) or "its defaults"
                print(f"results/{path.stem}: {committed.source.stem} with {shown} (python -m recsys run --results)")
            return 0
        overrides = {name: runner.parse_value(value) for name, value in args.parameter}
        if args.dataset:
            overrides["dataset"] = args.dataset
        runs = runner.run(
            only=args.only,
            parameters=overrides,
            build_dir=args.build_dir,
            progress=not args.quiet,
            html=not args.no_html,
            check=not args.no_check,
            publish=args.publish,
            quick_timings=args.quick_timings,
            results=args.results,
        )
    except runner.BuildDirError as error:
        print(f"error: {error}", file=sys.stderr)
        return runner.EXIT_BUILD_DIR
    except runner.RunnerError as error:
        print(f"error: {error}", file=sys.stderr)
        return runner.EXIT_USAGE
    except runner.INTERRUPTS as error:
        what = "interrupted (Ctrl-C)" if isinstance(error, KeyboardInterrupt) else str(error)
        print(
            f"error: {what}; the notebook that was running is marked failed in its run record and the index, "
            "and its previous results and figures were removed",
            file=sys.stderr,
        )
        return 130 if isinstance(error, KeyboardInterrupt) else 143
    failed = [r for r in runs if not r.ok]
    if failed:
        reason = (failed[0].error or "unknown error").splitlines()[0]
        partial = (
            f"the partial notebook {failed[0].executed} is marked failed"
            if failed[0].executed.is_file()
            else "no partial notebook was kept"
        )
        print(
            f"error: {failed[0].stem} failed ({reason}). Its previous results and figures were removed, "
            f"{partial}, and the index says so; the notebooks after it did not run.",
            file=sys.stderr,
        )
        return runner.EXIT_FAILED
    differing = [r.stem for r in runs if r.reproduction]
    if differing and not args.publish:
        print(
            f"error: {', '.join(differing)} did not reproduce the results in the committed notebook(s); "
            "see the differences above (maintainers: rerun with --publish if the change is intended)",
            file=sys.stderr,
        )
        return 3
    print(f"{len(runs)} notebook(s) ran in {sum(r.seconds for r in runs):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
