"""iALS (Rendle et al.'s form, this project) against the `implicit` library's ALS: fit time at equal
factors and sweeps.

    python benchmarks/ials_vs_implicit.py                      # ML-100K, 75/25 per-user split, seed 42
    python benchmarks/ials_vs_implicit.py --factors 64 128 256 --iterations 16

The two minimise different losses (:class:`recsys.models.IALS`: a uniform weight on the unobserved
pairs and frequency-scaled regularisation; ``implicit``'s ALS: Hu, Koren and Volinsky's confidence
weights), but their sweeps cost the same: per row, a few conjugate-gradient steps with the other
side's Gramian, started from the row's previous vector (``cg_steps`` 3 in both). ``implicit`` runs
them in float32 through BLAS; ours in float64 numba loops whose sums do not depend on the CPU's
vector width (so runs reproduce across machines). Printed: each fit's median wall time over warm
repeats (at least a second of fitting and five fits each, all cores for both;
``implicit`` with BLAS on one thread, as it asks), their ratio, the
exact solver's time for reference, the CPU and the load.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from recsys import experiments, splits
from recsys.ann.bench import cpu_description
from recsys.datasets import NAMES, load
from recsys.models import IALS


def compare(X, factors: int, iterations: int, *, exact: bool = True, min_seconds: float = 1.0) -> dict:
    """Median (min, max, repeats) fit seconds of IALS by CG, IALS exactly and implicit's ALS on ``X``."""
    from implicit.cpu.als import AlternatingLeastSquares

    X32 = X.astype(np.float32)

    def theirs():  # with BLAS on one thread, as implicit asks (its own threads do the parallel work)
        with threadpool_limits(1, "blas"):
            AlternatingLeastSquares(factors=factors, iterations=iterations, random_state=0).fit(
                X32, show_progress=False
            )

    row = {
        "factors": factors,
        "iterations": iterations,
        "ials_cg_s": experiments.repeated_seconds(
            lambda: IALS(factors=factors, iterations=iterations).fit(X), min_seconds
        ),
        "implicit_s": experiments.repeated_seconds(theirs, min_seconds),
    }
    if exact:
        row["ials_exact_s"] = experiments.repeated_seconds(
            lambda: IALS(factors=factors, iterations=iterations, solver="exact").fit(X), min_seconds, 1
        )
    return row


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k", choices=NAMES)
    parser.add_argument("--factors", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--iterations", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-exact", action="store_true", help="skip the exact solver (slow at many factors)")
    args = parser.parse_args(argv)
    if min(args.factors) < 1 or args.iterations < 1:
        parser.error("--factors and --iterations must be positive")
    data = load(args.dataset)
    matrices = experiments.Matrices.from_split(splits.stratified_holdout(data.ratings, 0.75, seed=args.seed))
    X = (matrices.train > 0).astype(np.float64).tocsr()
    print(f"{data.name}: {X.shape[0]:,} users x {X.shape[1]:,} items, {X.nnz:,} training positives")
    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.2f} at the start")
    rows = []
    for factors in args.factors:
        row = compare(X, factors, args.iterations, exact=not args.no_exact)
        shown = {"factors": factors, "sweeps": args.iterations}
        for key, label in (
            ("ials_cg_s", "IALS (CG)"),
            ("implicit_s", "implicit ALS"),
            ("ials_exact_s", "IALS (exact)"),
        ):
            if key in row:
                median, low, high, n = row[key]
                shown[f"{label} s"] = f"{median:.3f} ({low:.3f}-{high:.3f}, {n} fits)"
        shown["IALS (CG) / implicit"] = round(row["ials_cg_s"][0] / row["implicit_s"][0], 2)
        rows.append(shown)
    table = pd.DataFrame(rows).set_index("factors")
    print(table.to_string())
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return table


if __name__ == "__main__":
    main()
