"""Our numba SGD against Surprise's SVD on MovieLens-100K's five predefined folds (u1..u5).

Both models get Surprise's default hyperparameters (100 factors, 20 epochs, lr 0.005, reg 0.02,
Normal(0, 0.1) init), are fitted on identical ``u{i}.base`` files and scored by RMSE on
``u{i}.test`` (predictions clipped to 1..5; unknown users or items fall back to the biases in
both). Each fold is fitted ``--repeats`` times with seeds 42, 43, ... (the same for both sides):
RMSE is the mean over those seeds, since one seed's RMSE moves by a few thousandths. Fit times
are wall-clock ``fit()`` calls, medians of the repeats, interleaved with Surprise's in the same
process; the speed ratio is the median over folds of the per-fold ratios ours / Surprise's, so a
busy machine slows both sides alike. numba compiles once per process: every compiled variant is
warmed up on a tiny problem first, and compile time is excluded. Building the input (Surprise's
trainset, our CSR matrix) is excluded for both.

Variants of ours: the defaults (shuffled every epoch, float64, exact train RMSE after every epoch
in ``history_``), then without that per-epoch RMSE pass (``eval_every=0``; Surprise computes
none), and on top of that ``shuffle=False`` (Surprise's own unshuffled order), ``float32``,
``parallel`` (Hogwild threads) and both.

It also checks that the two implement the same algorithm: started from Surprise's own initial
factors and run in Surprise's order, our compiled loop must reproduce Surprise's fitted factors.

Needs the optional ``scikit-surprise`` (``make bench`` installs it). Usage::

    python benchmarks/sgd_vs_surprise.py [--folds 1 2 3 4 5] [--repeats 3] [--json results.json]

ML-100K is read from ``$MOVIELENS_DIR/ml-100k`` (default ``/work/shared/datasets/ml-100k``) or
``--data-dir``; its license forbids redistribution, so it is never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.interactions import IdMap, to_csr
from recsys.models.sgd import SGD, sgd_epoch

COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
SEED = 42
#: Our variants: SGD keyword arguments on top of the defaults (which equal Surprise's). The
#: speed variants skip the per-epoch train-RMSE pass (``eval_every=0``), which Surprise never does.
VARIANT_KWARGS = [
    {},
    {"eval_every": 0},
    {"eval_every": 0, "shuffle": False},
    {"eval_every": 0, "dtype": "float32"},
    {"eval_every": 0, "parallel": True},
    {"eval_every": 0, "dtype": "float32", "parallel": True},
]
VARIANTS = {(", ".join(f"{k}={v}" for k, v in kw.items()) or "defaults"): kw for kw in VARIANT_KWARGS}
DEFAULT = "defaults"
RMSE_TOLERANCE = 0.003
RATIO_TARGET, RATIO_STRETCH = 1.0, 0.5


def import_surprise():
    """Surprise, or exit with the install command."""
    try:
        import surprise
    except ImportError:
        sys.exit(
            "scikit-surprise is not installed; this benchmark needs it.\n"
            "Install it with `make bench` (the project's optional 'bench' extra), "
            "or: python -m pip install scikit-surprise"
        )
    return surprise


def default_data_dir() -> Path:
    return Path(os.environ.get("MOVIELENS_DIR") or "/work/shared/datasets") / "ml-100k"


def fold_paths(folder: Path, fold: int) -> list[Path]:
    """``u{fold}.base`` and ``u{fold}.test``, or exit naming the missing file and how to fix it."""
    paths = [folder / f"u{fold}.base", folder / f"u{fold}.test"]
    for path in paths:
        if not path.is_file():
            sys.exit(
                f"missing {path}: point $MOVIELENS_DIR (or --data-dir) at the folder holding the "
                "extracted ml-100k release"
            )
    return paths


def read_fold(folder: Path, fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tab-separated (user, item, rating, timestamp) training and test files of one fold."""
    paths = fold_paths(folder, fold)
    return tuple(pd.read_csv(p, sep="\t", names=COLUMNS, dtype={"rating": np.float64}) for p in paths)


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


def warm_up() -> None:
    """Compile every numba specialisation the variants use (excluded from all timings)."""
    rng = np.random.default_rng(0)
    X = sp.random(30, 20, density=0.3, format="csr", random_state=0, dtype=np.float64)
    X.data = rng.integers(1, 6, X.nnz).astype(np.float64)
    for kwargs in VARIANTS.values():
        SGD(factors=5, epochs=1, random_state=0, **kwargs).fit(X)


def exactness_check(surprise, train: pd.DataFrame, trainset, n_epochs: int = 20) -> float:
    """Max |difference| between Surprise's fitted SVD and our compiled loop from the same start.

    Surprise draws ``pu`` then ``qi`` from ``RandomState(seed)`` in its inner-id order and visits
    ratings user by user in file order, which for the sorted ``u*.base`` files is CSR order.
    """
    algo = surprise.SVD(random_state=SEED, n_epochs=n_epochs).fit(trainset)
    idmap = IdMap.from_ratings(train)
    X = to_csr(train, idmap, dtype=np.float64)
    coo = X.tocoo()
    du, di = np.diff(train["user_id"].to_numpy()), np.diff(train["item_id"].to_numpy())
    if not np.all((du > 0) | ((du == 0) & (di > 0))):
        raise RuntimeError("training file is not sorted by (user, item); the orders would differ")
    init = np.random.RandomState(SEED)
    pu0 = init.normal(0, 0.1, (trainset.n_users, 100))
    qi0 = init.normal(0, 0.1, (trainset.n_items, 100))
    u_inner = np.array([trainset.to_inner_uid(u) for u in idmap.user_ids.tolist()])
    i_inner = np.array([trainset.to_inner_iid(i) for i in idmap.item_ids.tolist()])
    P, Q = pu0[u_inner].copy(), qi0[i_inner].copy()
    bu, bi = np.zeros(idmap.n_users), np.zeros(idmap.n_items)
    order = np.arange(X.nnz, dtype=np.int32)
    users, items = coo.row.astype(np.int32), coo.col.astype(np.int32)
    for _ in range(n_epochs):
        sgd_epoch(
            users, items, coo.data, order, trainset.global_mean, bu, bi, P, Q, 0.005, 0.005, 0.02, 0.02, True
        )
    return float(
        max(
            np.abs(P - algo.pu[u_inner]).max(),
            np.abs(Q - algo.qi[i_inner]).max(),
            np.abs(bu - algo.bu[u_inner]).max(),
            np.abs(bi - algo.bi[i_inner]).max(),
        )
    )


def run_fold(surprise, folder: Path, fold: int, repeats: int) -> dict:
    train, test = read_fold(folder, fold)
    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(train[COLUMNS[:3]], reader).build_full_trainset()
    testset = list(test[COLUMNS[:3]].itertuples(index=False, name=None))
    idmap = IdMap.from_ratings(train)
    X = to_csr(train, idmap, dtype=np.float64)
    test_users, test_items = idmap.encode(test, unknown="mark")
    actual = test["rating"].to_numpy()

    times: dict[str, list[float]] = {"surprise": [], **{name: [] for name in VARIANTS}}
    train_seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    rmses: dict[str, list[float]] = {"surprise": [], **{name: [] for name in VARIANTS}}
    for rep in range(repeats):  # interleaved, so load changes hit every model alike
        seed = SEED + rep  # both sides get the same seeds; RMSE is averaged over them
        start = time.perf_counter()
        algo = surprise.SVD(random_state=seed).fit(trainset)
        times["surprise"].append(time.perf_counter() - start)
        rmses["surprise"].append(surprise.accuracy.rmse(algo.test(testset), verbose=False))
        for name, kwargs in VARIANTS.items():
            model = SGD(random_state=seed, **kwargs)
            start = time.perf_counter()
            model.fit(X)
            times[name].append(time.perf_counter() - start)
            train_seconds[name].append(model.history_[-1]["seconds"])
            rmses[name].append(rmse(model.predict(test_users, test_items), actual))
    fit_s = {name: statistics.median(values) for name, values in times.items()}
    return {
        "fold": fold,
        "n_train": int(X.nnz),
        "n_test": int(len(test)),
        "rmse": {name: float(np.mean(values)) for name, values in rmses.items()},
        "rmse_runs": rmses,
        "fit_seconds": fit_s,
        "fit_seconds_runs": times,
        "train_seconds_excl_history": {name: statistics.median(v) for name, v in train_seconds.items()},
        "ratio_vs_surprise": {name: fit_s[name] / fit_s["surprise"] for name in VARIANTS},
    }


def summarise(folds: list[dict]) -> dict:
    names = ["surprise", *VARIANTS]
    mean_rmse = {n: float(np.mean([f["rmse"][n] for f in folds])) for n in names}
    return {
        "mean_rmse": mean_rmse,
        "rmse_minus_surprise": {n: mean_rmse[n] - mean_rmse["surprise"] for n in VARIANTS},
        "max_abs_fold_rmse_diff": {
            n: float(max(abs(f["rmse"][n] - f["rmse"]["surprise"]) for f in folds)) for n in VARIANTS
        },
        "mean_fit_seconds": {n: float(np.mean([f["fit_seconds"][n] for f in folds])) for n in names},
        "mean_train_seconds": {
            n: float(np.mean([f["train_seconds_excl_history"][n] for f in folds])) for n in VARIANTS
        },
        "median_ratio_vs_surprise": {
            n: float(statistics.median(f["ratio_vs_surprise"][n] for f in folds)) for n in VARIANTS
        },
    }


def print_report(result: dict) -> None:
    folds, s = result["folds"], result["summary"]
    seeds = f"seeds {SEED}..{SEED + result['repeats'] - 1}" if result["repeats"] > 1 else f"seed {SEED}"
    print(f"\nPer fold: Surprise SVD vs our SGD, both with Surprise's defaults (RMSE: mean over {seeds};")
    print(f"fit seconds: median of {result['repeats']} interleaved runs, numba compile time excluded)")
    header = [
        "fold",
        "RMSE Surprise",
        "RMSE ours",
        "ours - Surprise",
        "fit s Surprise",
        "fit s ours",
        "ratio",
    ]
    rows = [
        [
            f"u{f['fold']}",
            f"{f['rmse']['surprise']:.4f}",
            f"{f['rmse'][DEFAULT]:.4f}",
            f"{f['rmse'][DEFAULT] - f['rmse']['surprise']:+.4f}",
            f"{f['fit_seconds']['surprise']:.3f}",
            f"{f['fit_seconds'][DEFAULT]:.3f}",
            f"{f['ratio_vs_surprise'][DEFAULT]:.3f}",
        ]
        for f in folds
    ]
    rows.append(
        [
            "mean",
            f"{s['mean_rmse']['surprise']:.4f}",
            f"{s['mean_rmse'][DEFAULT]:.4f}",
            f"{s['rmse_minus_surprise'][DEFAULT]:+.4f}",
            f"{s['mean_fit_seconds']['surprise']:.3f}",
            f"{s['mean_fit_seconds'][DEFAULT]:.3f}",
            f"{s['median_ratio_vs_surprise'][DEFAULT]:.3f} (median)",
        ]
    )
    _print_table(header, rows)

    print(
        f"\nVariants of ours over all folds (targets: |RMSE - Surprise's| <= {RMSE_TOLERANCE}; "
        f"time ratio <= {RATIO_TARGET}, stretch <= {RATIO_STRETCH})"
    )
    header = ["variant", "mean RMSE", "- Surprise", "worst fold", "fit s", "train s", "ratio", "verdict"]
    rows = [
        [
            "Surprise SVD",
            f"{s['mean_rmse']['surprise']:.4f}",
            "",
            "",
            f"{s['mean_fit_seconds']['surprise']:.3f}",
            "",
            "1",
            "",
        ]
    ]
    for name in VARIANTS:
        diff, ratio = s["rmse_minus_surprise"][name], s["median_ratio_vs_surprise"][name]
        rmse_ok = abs(diff) <= RMSE_TOLERANCE
        speed = "stretch" if ratio <= RATIO_STRETCH else ("target" if ratio <= RATIO_TARGET else "slower")
        rows.append(
            [
                name,
                f"{s['mean_rmse'][name]:.4f}",
                f"{diff:+.4f}",
                f"{s['max_abs_fold_rmse_diff'][name]:.4f}",
                f"{s['mean_fit_seconds'][name]:.3f}",
                f"{s['mean_train_seconds'][name]:.3f}",
                f"{ratio:.3f}",
                f"RMSE {'ok' if rmse_ok else 'MISSED'}, speed {speed}",
            ]
        )
    _print_table(header, rows)
    print("fit s: wall time of fit(); train s: its SGD epochs alone (history_[-1]['seconds']);")
    print("ratio: median over folds of (ours / Surprise's) fit time, both measured in the same run.")
    if "exactness_max_abs_diff" in result:
        print(
            f"\nSame-algorithm check (u{folds[0]['fold']}): started from Surprise's initial factors and run "
            f"in Surprise's order, our compiled loop ends {result['exactness_max_abs_diff']:.1e} "
            "(max |difference|) from Surprise's fitted biases and factors after 20 epochs."
        )
    m = result["machine"]
    print(
        f"\nMachine: {m['processor']}, {m['cpus']} cores; Python {m['python']}, numba {m['numba']}, "
        f"surprise {m['surprise']}; load average before / after: {m['load_before']} / {m['load_after']}"
    )


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = (
            c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded)

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5], choices=range(1, 6))
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per model and fold (median)")
    parser.add_argument("--data-dir", type=Path, default=None, help="the extracted ml-100k folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--no-exactness-check", action="store_true", help="skip the same-algorithm check")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    surprise = import_surprise()
    import numba

    folder = args.data_dir or default_data_dir()
    for fold in args.folds:
        fold_paths(folder, fold)
    load_before = [round(x, 2) for x in os.getloadavg()]
    print("Warming up numba (compiling every variant on a tiny problem; not timed) ...", flush=True)
    warm_up()
    folds = []
    for fold in args.folds:
        print(f"fold u{fold} ...", flush=True)
        folds.append(run_fold(surprise, folder, fold, args.repeats))
    result = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "protocol": "ML-100K u1..u5 base/test; Surprise SVD defaults for both; RMSE of clipped predictions",
        "seed": SEED,
        "repeats": args.repeats,
        "variants": VARIANTS,
        "folds": folds,
        "summary": summarise(folds),
    }
    if not args.no_exactness_check:
        train, _ = read_fold(folder, args.folds[0])
        trainset = surprise.Dataset.load_from_df(
            train[COLUMNS[:3]], surprise.Reader(rating_scale=(1, 5))
        ).build_full_trainset()
        result["exactness_max_abs_diff"] = exactness_check(surprise, train, trainset)
    result["machine"] = {
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numba": numba.__version__,
        "surprise": getattr(surprise, "__version__", "?"),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print_report(result)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
