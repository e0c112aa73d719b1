"""ALS vs PureSVD vs SVDImpute on ML-100K's five predefined folds (u1..u5 .base/.test).

Prints one row per model: the test RMSE of each fold, their mean, and the mean fit time. This is
the protocol Surprise reports on (its ``SVD`` measures 0.938 mean RMSE on these folds). Test
ratings map through the training IdMap; a test user or item never seen in training is index -1
and is predicted by the model's fallback (mu + b_i, mu + b_u or mu).

    python benchmarks/ml100k_folds_als_svd.py            # defaults + the ALS grid (a few minutes)
    python benchmarks/ml100k_folds_als_svd.py --no-grid  # defaults only
    python benchmarks/ml100k_folds_als_svd.py --json results.json

The data is read from ``$MOVIELENS_DIR/ml-100k`` (default ``/work/shared/datasets/ml-100k``);
ML-100K's license forbids redistribution, so it is never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.interactions import IdMap, to_csr
from recsys.models.als import ALS
from recsys.models.svd import PureSVD, SVDImpute, damped_baseline

COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
DEFAULT_DIR = "/work/shared/datasets"


def ml100k_dir() -> Path:
    """``$MOVIELENS_DIR/ml-100k``, or the shared read-only copy."""
    folder = Path(os.environ.get("MOVIELENS_DIR") or DEFAULT_DIR) / "ml-100k"
    if not (folder / "u1.base").exists():
        sys.exit(f"ML-100K folds not found in {folder}: set MOVIELENS_DIR to the folder holding ml-100k/")
    return folder


def load_fold(folder: Path, fold: int):
    """(train CSR, test user indices, test item indices, test ratings) of fold ``u{fold}``."""
    read = lambda name: pd.read_csv(folder / name, sep="\t", names=COLUMNS)  # noqa: E731
    train, test = read(f"u{fold}.base"), read(f"u{fold}.test")
    idmap = IdMap.from_ratings(train)
    X = to_csr(train, idmap, dtype=np.float64)
    users, items = idmap.encode(test, unknown="mark")
    return X, users, items, test["rating"].to_numpy(np.float64)


class BiasBaseline:
    """mu + damped b_u + b_i, the reference every factor model must beat."""

    def __init__(self, damping: float = 5.0):
        self.damping = damping

    def fit(self, X):
        self.mu, self.bu, self.bi = damped_baseline(X, "bias", self.damping)
        self.range = (X.data.min(), X.data.max())
        return self

    def predict(self, users, items):
        out = self.mu + np.where(users >= 0, self.bu[users], 0.0) + np.where(items >= 0, self.bi[items], 0.0)
        return np.clip(out, *self.range)


def evaluate(name: str, make: Callable[[], object], folds, width: int = 60) -> dict:
    """Fit ``make()`` on every fold; RMSE on its test set and fit wall time."""
    rmses, seconds = [], []
    for X, users, items, ratings in folds:
        model = make()
        start = time.perf_counter()
        model.fit(X)
        seconds.append(time.perf_counter() - start)
        rmses.append(float(np.sqrt(np.mean((model.predict(users, items) - ratings) ** 2))))
    row = {"model": name, "rmse": rmses, "mean_rmse": float(np.mean(rmses)), "mean_seconds": float(np.mean(seconds))}
    folds_text = " ".join(f"{r:.4f}" for r in rmses)
    print(f"{name:<{width}} {folds_text}  {row['mean_rmse']:.4f}  {row['mean_seconds']:6.2f}", flush=True)
    return row


def configurations(grid: bool) -> list[tuple[str, Callable[[], object]]]:
    configs: list[tuple[str, Callable[[], object]]] = [
        ("Bias baseline (damping 5)", BiasBaseline),
        ("ALS defaults", ALS),
    ]
    if grid:
        for k in (20, 50, 100):
            for lam in (8.0, 10.0, 13.0, 16.0):
                params = {"factors": k, "regularization": lam}
                configs.append((f"ALS {_describe(ALS(**params))}", lambda p=params: ALS(**p)))
        configs.append(("ALS factors=200 regularization=13", lambda: ALS(factors=200)))
        for k in (50, 100):
            for lam in (0.1, 0.12, 0.15):
                params = {"factors": k, "regularization": lam, "weighted_regularization": True}
                configs.append((f"ALS-WR {_describe(ALS(**params))}", lambda p=params: ALS(**p)))
        for lam_b in (0.0, 10.0):
            params = {"bias_regularization": lam_b}
            configs.append((f"ALS bias_regularization={lam_b:g}", lambda p=params: ALS(**p)))
        configs.append(("ALS iterations=40", lambda: ALS(iterations=40)))
    for k in (10, 20, 50):
        configs.append((f"PureSVD k={k} centering=bias", lambda k=k: PureSVD(factors=k)))
    configs.append(("PureSVD k=20 centering=none (top-N model)", lambda: PureSVD(factors=20, centering="none")))
    configs.append(("SVDImpute defaults", SVDImpute))
    if grid:
        for k, lam in ((10, 0.0), (20, 0.0), (100, 10.0), (100, 16.0), (200, 13.0)):
            params = {"factors": k, "shrinkage": lam}
            configs.append((f"SVDImpute k={k} shrinkage={lam:g}", lambda p=params: SVDImpute(**p)))
        configs.append(("SVDImpute defaults, refit_biases=False", lambda: SVDImpute(refit_biases=False)))
    return configs


def _describe(model, keys=("factors", "regularization")) -> str:
    """``key=value`` text of some of a model's hyperparameters, for the table."""
    params = model.get_params()
    return " ".join(f"{k}={params[k]:g}" if isinstance(params[k], float) else f"{k}={params[k]}" for k in keys)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-grid", action="store_true", help="only the default models")
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5], choices=range(1, 6))
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)

    folder = ml100k_dir()
    folds = [load_fold(folder, f) for f in args.folds]
    unknown = sum(int(((u < 0) | (i < 0)).sum()) for _, u, i, _ in folds)
    print(f"ML-100K folds {args.folds} from {folder}; {unknown} test ratings with an unseen user or item")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}; fit seconds are means over folds")
    print(f"ALS defaults: {ALS().get_params()}")
    print(f"SVDImpute defaults: {SVDImpute().get_params()}\n")
    configs = configurations(not args.no_grid)
    width = max(len(name) for name, _ in configs)
    header = " ".join(f"u{f}    " for f in args.folds)
    print(f"{'model':<{width}} {header}  mean    fit s")
    rows = [evaluate(name, make, folds, width) for name, make in configs]
    best = min(rows, key=lambda r: r["mean_rmse"])
    print(f"\nbest: {best['model']} mean RMSE {best['mean_rmse']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
