"""Fit time of explicit ALS: the automatic primal/dual route against the primal route alone.

Prints one row per (dataset, factors): the median wall time of ``ALS(factors=k).fit`` (default
hyperparameters, 15 sweeps) over ``--repeats`` fits with

* ``auto``: what :class:`recsys.models.als.ALS` does (L x L dual systems for rows with fewer
  observations than unknowns, d x d primal systems for the others);
* ``primal``: every row through the d x d normal equations (the solver before the dual route);
* ``baseline`` (with ``--baseline FILE``): the ``ALS`` of another copy of ``als.py``, e.g. the
  committed one: ``git show HEAD:recsys/models/als.py > /tmp/als_before.py``.

The variants run interleaved, so machine load hits them alike; ``max rel diff`` is the largest
difference of the fitted item factors from ``auto``'s, relative to their largest entry (the
routes are exact: only round-off differs).

    python benchmarks/als_speed.py                                # both datasets, k = 50 and 100
    python benchmarks/als_speed.py --datasets ml-latest-small --factors 50 --repeats 3
    python benchmarks/als_speed.py --baseline /tmp/als_before.py

Datasets: a 4/5 fold (``splits.kfold(..., 5, seed=42, unseen="keep")[0]``) of the bundled
ml-latest-small, and ML-100K's ``u1`` fold, found by :func:`recsys.datasets.load` (cache or
``$MOVIELENS_DIR``; never downloaded here: skipped with the loader's message when absent).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import scipy.sparse as sp

from recsys import experiments, splits
from recsys.datasets import DatasetUnavailableError, load
from recsys.models import als as als_module

DATASETS = ("ml-latest-small", "ml-100k-u1")


def load_train(name: str) -> sp.csr_matrix | None:
    """The training CSR of the benchmark split of ``name``; None (with a message) if unavailable."""
    if name == "ml-latest-small":
        split = splits.kfold(load("ml-latest-small", download=False).ratings, 5, seed=42, unseen="keep")[0]
    else:
        try:
            dataset = load("ml-100k", download=False)
        except DatasetUnavailableError as error:
            print(f"skipping {name}: {error}", file=sys.stderr)
            return None
        split = splits.ml100k_folds(dataset, unseen="keep")[0]
    return experiments.Matrices.from_split(split).train


def load_baseline(path: Path) -> type:
    """The ``ALS`` class of another copy of ``als.py``, imported under a private module name."""
    spec = importlib.util.spec_from_file_location("_als_baseline", path)
    if spec is None or spec.loader is None:
        sys.exit(f"--baseline: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ALS


def variants(baseline: type | None) -> dict[str, Callable[[sp.csr_matrix, int], object]]:
    """name -> function fitting ALS(factors=k) on X that way."""

    def auto(X, k):
        return als_module.ALS(factors=k).fit(X)

    def primal(X, k):
        forced = functools.partial(als_module._solve_rows, method="primal")
        with mock.patch.object(als_module, "_solve_rows", forced):
            return als_module.ALS(factors=k).fit(X)

    out = {"auto": auto, "primal": primal}
    if baseline is not None:
        out["baseline"] = lambda X, k: baseline(factors=k).fit(X)
    return out


def time_variants(X: sp.csr_matrix, k: int, fits: dict, repeats: int) -> tuple[dict, dict]:
    """Median fit seconds per variant (interleaved repeats) and each one's max rel diff from auto."""
    seconds: dict[str, list[float]] = {name: [] for name in fits}
    models = {}
    for _ in range(repeats):
        for name, fit in fits.items():
            start = time.perf_counter()
            models[name] = fit(X, k)
            seconds[name].append(time.perf_counter() - start)
    ref = models["auto"].item_factors_
    diff = {name: float(np.abs(m.item_factors_ - ref).max() / np.abs(ref).max()) for name, m in models.items()}
    return {name: float(np.median(s)) for name, s in seconds.items()}, diff


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--factors", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--repeats", type=int, default=5, help="fits per variant; the median is shown")
    parser.add_argument("--baseline", type=Path, help="another als.py whose ALS is timed too")
    args = parser.parse_args(argv)
    if args.repeats < 1 or any(k < 1 for k in args.factors):
        parser.error(f"--repeats and --factors must be >= 1, got {args.repeats} and {args.factors}")

    fits = variants(load_baseline(args.baseline) if args.baseline else None)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; numpy {np.__version__}; "
        f"ALS defaults except factors; median of {args.repeats} fits, variants interleaved"
    )
    names = list(fits)
    header = f"{'dataset':<16} {'users':>6} {'items':>6} {'ratings':>8} {'med n_i':>7} {'k':>4}"
    header += "".join(f" {name + ' s':>10}" for name in names)
    header += "".join(f" {name + '/auto':>14}" for name in names if name != "auto") + "  max rel diff"
    print(header)
    rows = []
    for dataset in args.datasets:
        X = load_train(dataset)
        if X is None:
            continue
        item_counts = np.diff(X.tocsc().indptr)
        fits["auto"](X, 2)  # warm-up: imports, caches
        for k in args.factors:
            seconds, diff = time_variants(X, k, fits, args.repeats)
            line = (
                f"{dataset:<16} {X.shape[0]:>6} {X.shape[1]:>6} {X.nnz:>8} "
                f"{np.median(item_counts[item_counts > 0]):>7g} {k:>4}"
            )
            line += "".join(f" {seconds[n]:>10.3f}" for n in names)
            line += "".join(f" {seconds[n] / seconds['auto']:>13.2f}x" for n in names if n != "auto")
            line += "  " + " ".join(f"{n} {diff[n]:.0e}" for n in names if n != "auto")
            print(line, flush=True)
            rows.append({"dataset": dataset, "factors": k, "seconds": seconds, "max_rel_diff": diff})
    return rows


if __name__ == "__main__":
    main()
