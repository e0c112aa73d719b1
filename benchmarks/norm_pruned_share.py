"""How much of the catalogue the norm-pruned exact index reads, on a recommender's own vectors.

    python benchmarks/norm_pruned_share.py                  # implicit ALS on the bundled data
    python benchmarks/norm_pruned_share.py --factors 64 --k 20

Fits implicit ALS on the per-user split of notebook 03 (bundled ml-latest-small by default),
then for each index layout (bucket size, number of directions) prints, over all users as
queries: whether the exact lists equal brute force's, the share of the catalogue each query
scored (median, 90th percentile, largest), and for each ``epsilon`` the recall@k against the
exact lists and the median share. For reference, the share the length bound alone reads when
applied item by item. Shares and recalls do not depend on the machine; speed is not measured here.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from recsys import experiments, splits
from recsys.ann.exact import BruteForce
from recsys.ann.norm_pruned import NormPruned
from recsys.ann.teaching import norm_scan_stops
from recsys.datasets import NAMES, load
from recsys.models import ImplicitALS

LAYOUTS = ((1024, 32), (256, 16), (128, 8))
EPSILONS = (0.1, 0.3)


def measure(U: np.ndarray, V: np.ndarray, k: int = 10, layouts=LAYOUTS, epsilons=EPSILONS) -> pd.DataFrame:
    """One row per layout: equality with brute force, the exact scan's shares, and per epsilon
    the recall@k against the exact lists and the median share."""
    exact = BruteForce().fit(V).batch_query(U, k)
    rows = []
    for bucket, directions in layouts:
        index = NormPruned(bucket_size=bucket, directions=directions).fit(V)
        found = index.batch_query(U, k)
        share = index.scored_share_
        row = {
            "bucket_size": bucket,
            "directions": directions,
            "equals_brute_force": bool(np.array_equal(found, exact)),
            "share_median": float(np.median(share)),
            "share_p90": float(np.quantile(share, 0.9)),
            "share_max": float(share.max()),
        }
        for epsilon in epsilons:
            index.set_query_arguments(epsilon=epsilon)
            loose = index.batch_query(U, k)
            hits = [len(set(a) & set(b)) / k for a, b in zip(loose, exact, strict=True)]
            row[f"recall_eps{epsilon:g}"] = float(np.mean(hits))
            row[f"share_median_eps{epsilon:g}"] = float(np.median(index.scored_share_))
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small", choices=NAMES)
    parser.add_argument("--factors", type=int, default=200)
    parser.add_argument("--regularization", type=float, default=30.0)
    parser.add_argument("--alpha", type=float, default=3.0)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    data = load(args.dataset)
    matrices = experiments.Matrices.from_split(splits.stratified_holdout(data.ratings, 0.75, seed=args.seed))
    model = ImplicitALS(
        factors=args.factors, regularization=args.regularization, alpha=args.alpha, random_state=args.seed
    ).fit((matrices.train > 0).astype(np.float32))
    U, V = model.inner_product_factors(ranking_only=True)
    print(
        f"{data.name}: implicit ALS {args.factors} factors, {V.shape[0]:,} items, {U.shape[0]:,} users as queries, k={args.k}"
    )
    table = measure(U, V, args.k)
    reference = norm_scan_stops(U, V, args.k) / V.shape[0]  # the length bound alone, item by item
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.precision", 4):
        print(table.to_string(index=False))
    print(
        f"length bound alone, item by item: median share {np.median(reference):.3f}, "
        f"90th percentile {np.quantile(reference, 0.9):.3f}"
    )
    return table


if __name__ == "__main__":
    main()
