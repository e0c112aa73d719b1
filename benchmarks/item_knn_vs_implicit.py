"""Item-kNN against the `implicit` library's CosineRecommender: the same neighbours, and fit time.

    python benchmarks/item_knn_vs_implicit.py                     # ML-100K, 75/25 per-user split, seed 42
    python benchmarks/item_knn_vs_implicit.py --dataset ml-latest-small --neighbours 200

``implicit.nearest_neighbours.CosineRecommender(K)`` keeps each item's ``K`` most similar items by
plain cosine, the item itself among them; :class:`recsys.models.ItemKNN` with ``shrink = 0`` and
``neighbours = K - 1`` keeps the same set but itself. Printed: for how many items the kept
similarities (as sorted values) agree, for how many the kept items agree as sets (they can differ
only among items tied at the cut, which each implementation breaks its own way), and each fit's
median wall time over repeated warm fits (at least a second of fitting each, one thread each:
`implicit`'s ``num_threads=1``, BLAS pinned to one thread), with their ratio, the CPU and the load.
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from recsys import experiments, splits
from recsys.ann.bench import cpu_description
from recsys.datasets import NAMES, load
from recsys.models import ItemKNN


def compare(X, neighbours: int) -> dict:
    """Agreement of the two similarity matrices and their fit times on the binary users x items ``X``."""
    from implicit.nearest_neighbours import CosineRecommender

    warnings.filterwarnings("ignore", message="Method expects CSR input")  # implicit converts its own transpose
    theirs = CosineRecommender(K=neighbours, num_threads=1)
    theirs.fit(X, show_progress=False)
    ours = ItemKNN(neighbours=neighbours - 1, shrink=0.0).fit(X)
    A = theirs.similarity.tocsr().toarray()
    np.fill_diagonal(A, 0.0)
    B = ours.similarity_.toarray()
    same_values = sum(
        np.allclose(np.sort(a[a > 0]), np.sort(b[b > 0]), rtol=1e-5, atol=1e-6) for a, b in zip(A, B, strict=True)
    )
    same_sets = sum(np.array_equal(np.flatnonzero(a), np.flatnonzero(b)) for a, b in zip(A, B, strict=True))
    with threadpool_limits(limits=1):
        ours_t = experiments.repeated_seconds(lambda: ItemKNN(neighbours=neighbours - 1, shrink=0.0).fit(X))
        theirs_t = experiments.repeated_seconds(
            lambda: CosineRecommender(K=neighbours, num_threads=1).fit(X, show_progress=False)
        )
    return {
        "items": A.shape[0],
        "same_values": same_values,
        "same_sets": same_sets,
        "ours_s": ours_t,
        "implicit_s": theirs_t,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k", choices=NAMES)
    parser.add_argument("--neighbours", type=int, default=100, help="implicit's K (ours keeps K - 1 besides the item)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    data = load(args.dataset)
    matrices = experiments.Matrices.from_split(splits.stratified_holdout(data.ratings, 0.75, seed=args.seed))
    X = (matrices.train > 0).astype(np.float32).tocsr()
    print(
        f"{data.name}: {X.shape[0]:,} users x {X.shape[1]:,} items, {X.nnz:,} training positives; K = {args.neighbours}"
    )
    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.2f} at the start")
    row = compare(X, args.neighbours)
    (om, olo, ohi, on), (tm, tlo, thi, tn) = row["ours_s"], row["implicit_s"]
    print(f"items whose kept similarities agree (sorted values): {row['same_values']:,} of {row['items']:,}")
    print(
        f"items whose kept neighbours agree as sets: {row['same_sets']:,} of {row['items']:,} (the rest differ at ties)"
    )
    print(f"fit, median of warm repeats: ItemKNN {om:.3f} s (range {olo:.3f}-{ohi:.3f}, {on} fits), ", end="")
    print(f"implicit CosineRecommender {tm:.3f} s (range {tlo:.3f}-{thi:.3f}, {tn} fits): ratio {om / tm:.2f}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return row


if __name__ == "__main__":
    main()
