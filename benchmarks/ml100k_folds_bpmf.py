"""BPMF (Gibbs sampling) against biased ALS on ML-100K's five predefined folds (u1..u5 .base/.test).

Prints one row per model: the test RMSE of each fold, their mean, and the mean fit time (wall
clock of ``fit``, in this run, on this machine). Protocol: :func:`recsys.experiments.rating_table`
with every test rating counted, a user or item unseen in training predicted by the model's
fallback (Surprise's protocol; its ``SVD`` measures 0.938 mean RMSE on these folds).

    python benchmarks/ml100k_folds_bpmf.py                # BPMF and ALS defaults (~30 s)
    python benchmarks/ml100k_folds_bpmf.py --seeds 3      # BPMF defaults with 3 chain seeds (~45 s)
    python benchmarks/ml100k_folds_bpmf.py --grid         # + factors x samples, alpha, init (~6 min)
    python benchmarks/ml100k_folds_bpmf.py --json results.json

The data is read from ``$MOVIELENS_DIR/ml-100k`` (default ``/work/shared/datasets/ml-100k``);
ML-100K's license forbids redistribution, so it is never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from recsys.experiments import rating_table, summarise
from recsys.models.als import ALS
from recsys.models.base import Recommender
from recsys.models.bpmf import BPMF
from recsys.splits import ml100k_folds

DEFAULT_DIR = "/work/shared/datasets"


def ml100k_dir() -> Path:
    """``$MOVIELENS_DIR/ml-100k``, or the shared read-only copy."""
    folder = Path(os.environ.get("MOVIELENS_DIR") or DEFAULT_DIR) / "ml-100k"
    if not (folder / "u1.base").exists():
        sys.exit(f"ML-100K folds not found in {folder}: set MOVIELENS_DIR to the folder holding ml-100k/")
    return folder


def configurations(seeds: int, grid: bool) -> dict[str, Recommender]:
    """Models by name: the defaults, then (``grid``) the variants behind BPMF's defaults."""
    models: dict[str, Recommender] = {"ALS defaults": ALS()}
    for seed in range(seeds):
        models[f"BPMF defaults random_state={seed}"] = BPMF(random_state=seed)
    if grid:
        for k in (5, 10, 20):
            for s in (25, 50, 100, 200):
                models[f"BPMF factors={k} samples={s}"] = BPMF(factors=k, samples=s)
        for alpha in (1.5, 2.0, 3.0):
            models[f"BPMF alpha={alpha:g} (fixed)"] = BPMF(alpha=alpha)
        for init in (0, 5):
            models[f"BPMF init_iterations={init} burn_in=0 samples=20"] = BPMF(
                init_iterations=init, burn_in=0, samples=20)
        models["BPMF init_iterations=0"] = BPMF(init_iterations=0)
        models["BPMF burn_in=100 samples=200"] = BPMF(burn_in=100, samples=200)
        models["BPMF samples=50 thin=4"] = BPMF(samples=50, thin=4)
    return models


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="chains (random_state 0..n-1) for BPMF defaults")
    parser.add_argument("--grid", action="store_true", help="also the grid behind the defaults")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")

    folder = ml100k_dir()
    folds = ml100k_folds(folder, unseen="keep")
    print(f"ML-100K folds u1..u5 from {folder}, every test rating counted (unseen -> fallback)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}; fit seconds are means over folds")
    print(f"BPMF defaults: {BPMF().get_params()}")
    print(f"ALS defaults: {ALS().get_params()}\n")
    models = configurations(args.seeds, args.grid)
    width = max(len(name) for name in models)
    print(f"{'model':<{width}} {'  '.join(f'u{f}    ' for f in range(1, 6))} mean    fit s")
    rows = []
    for name, model in models.items():  # one at a time, so each row prints when it is done
        table = rating_table({name: model}, folds, progress=False)
        mean = summarise(table).loc[name]
        rmses = table["rmse"].tolist()
        print(f"{name:<{width}} {'  '.join(f'{r:.4f}' for r in rmses)}  {mean['rmse']:.4f}  "
              f"{mean['fit_seconds']:6.2f}", flush=True)
        rows.append({"model": name, "params": {k: str(v) for k, v in model.get_params().items()},
                     "rmse": rmses, "mean_rmse": float(mean["rmse"]),
                     "mean_fit_seconds": float(mean["fit_seconds"])})
    best = min(rows, key=lambda r: r["mean_rmse"])
    print(f"\nbest: {best['model']} mean RMSE {best['mean_rmse']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
