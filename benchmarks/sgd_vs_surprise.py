"""Our numba SGD against Surprise's SVD on MovieLens-100K's five predefined folds (u1..u5).

Both models get Surprise's default hyperparameters (100 factors, 20 epochs, lr 0.005, reg 0.02,
Normal(0, 0.1) init), are fitted on the identical training part of each fold and scored by RMSE
on its every test rating (predictions clipped to the rating range; a user or item unseen in
training falls back to the biases in both). The folds come from the library
(:func:`recsys.splits.ml100k_folds`), our inputs from :class:`recsys.experiments.Matrices`.

Each fold is fitted ``--repeats`` times with seeds 42, 43, ... (the same for both sides): RMSE is
the mean over those seeds, since one seed's RMSE moves by a few thousandths. Fit times are
wall-clock ``fit()`` calls, medians of the repeats, interleaved with Surprise's in the same
process; the speed ratio is the median over folds of the per-fold ratios ours / Surprise's, so a
busy machine slows both sides alike. numba compiles once per process: every compiled variant is
warmed up on a tiny problem first, and compile time is excluded. Building the inputs (Surprise's
trainset, our CSR matrix) is excluded for both.

Variants of ours: the defaults (shuffled every epoch, float64, exact train RMSE after every epoch
in ``history_``), then without that per-epoch RMSE pass (``eval_every=0``; Surprise computes
none), and on top of that ``shuffle=False`` (Surprise's own unshuffled order), ``float32``,
``num_threads=0`` (Hogwild threads) and both.

It also checks that the two implement the same algorithm: started from Surprise's own initial
factors and run in Surprise's order, our compiled loop must reproduce Surprise's fitted factors.

Needs the optional ``scikit-surprise`` (``make bench`` installs it). Usage::

    python benchmarks/sgd_vs_surprise.py [--folds 1 2 3 4 5] [--repeats 3] [--json results.json]

ML-100K comes from :func:`recsys.datasets.load`: the cache, ``$MOVIELENS_DIR`` or a
checksum-verified download (``--no-download`` forbids the network). Its license forbids
redistribution, so it is never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

# benchmarks/ is not a package: running this file puts its folder on sys.path, so the sibling
# script's loader, fold labels and warm-up are shared rather than repeated.
from ml100k_rating_models import fold_labels, load_folds, warm_up

from recsys.evaluation import evaluate_ratings
from recsys.experiments import Matrices
from recsys.interactions import IdMap, to_csr
from recsys.models.sgd import SGD, sgd_epoch
from recsys.notebook.machine import describe as describe_machine
from recsys.notebook.results import to_jsonable
from recsys.splits import Split

SEED = 42
#: Our variants: SGD keyword arguments on top of the defaults (which equal Surprise's). The
#: speed variants skip the per-epoch train-RMSE pass (``eval_every=0``), which Surprise never does.
VARIANT_KWARGS = [
    {},
    {"eval_every": 0},
    {"eval_every": 0, "shuffle": False},
    {"eval_every": 0, "dtype": "float32"},
    {"eval_every": 0, "num_threads": 0},
    {"eval_every": 0, "dtype": "float32", "num_threads": 0},
]
VARIANTS = {(", ".join(f"{k}={v}" for k, v in kw.items()) or "defaults"): kw for kw in VARIANT_KWARGS}
DEFAULT = "defaults"
RMSE_TOLERANCE = 0.003
RATIO_TARGET, RATIO_STRETCH = 1.0, 0.5
COLUMNS = ["user_id", "item_id", "rating"]


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


def trainset_of(surprise, train: pd.DataFrame):
    """Surprise's trainset of a ratings frame, with the frame's rating range as its scale."""
    ratings = train[COLUMNS].astype({"rating": np.float64})
    scale = (float(ratings["rating"].min()), float(ratings["rating"].max()))
    return surprise.Dataset.load_from_df(ratings, surprise.Reader(rating_scale=scale)).build_full_trainset()


def exactness_check(surprise, train: pd.DataFrame, n_epochs: int = 20) -> float:
    """Max |difference| between Surprise's fitted SVD and our compiled loop from the same start.

    Surprise draws ``pu`` then ``qi`` from ``RandomState(seed)`` in its inner-id order (first
    appearance) and visits ratings user by user in frame order; with the frame sorted by (user,
    item), that order is our CSR order.
    """
    train = train.sort_values(["user_id", "item_id"])
    trainset = trainset_of(surprise, train)
    algo = surprise.SVD(random_state=SEED, n_epochs=n_epochs).fit(trainset)
    idmap = IdMap.from_ratings(train)
    X = to_csr(train, idmap, dtype=np.float64)
    coo = X.tocoo()
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
        sgd_epoch(users, items, coo.data, order, trainset.global_mean, bu, bi, P, Q, 0.005, 0.005, 0.02, 0.02, True)
    return float(
        max(
            np.abs(P - algo.pu[u_inner]).max(),
            np.abs(Q - algo.qi[i_inner]).max(),
            np.abs(bu - algo.bu[u_inner]).max(),
            np.abs(bi - algo.bi[i_inner]).max(),
        )
    )


def run_fold(surprise, split: Split, label: str, repeats: int) -> dict:
    """Fit Surprise's SVD and every variant of ours ``repeats`` times on one fold, interleaved."""
    m = Matrices.from_split(split)
    every_test = pd.concat([split.test, split.dropped]) if len(split.dropped) else split.test
    trainset = trainset_of(surprise, split.train)
    testset = list(every_test[COLUMNS].astype({"rating": np.float64}).itertuples(index=False, name=None))

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
            model.fit(m.train)
            times[name].append(time.perf_counter() - start)
            train_seconds[name].append(model.history_[-1]["seconds"])
            rmses[name].append(evaluate_ratings(model, m.test_triplets)["rmse"])
    fit_s = {name: statistics.median(values) for name, values in times.items()}
    return {
        "fold": label,
        "n_train": int(m.train.nnz),
        "n_test": len(testset),
        "rmse": {name: float(np.mean(values)) for name, values in rmses.items()},
        "rmse_runs": rmses,
        "fit_seconds": fit_s,
        "fit_seconds_runs": times,
        "train_seconds_excl_history": {name: statistics.median(v) for name, v in train_seconds.items()},
        "ratio_vs_surprise": {name: fit_s[name] / fit_s["surprise"] for name in VARIANTS},
    }


def summary(folds: list[dict]) -> dict:
    """Means over folds, our RMSE minus Surprise's, and the median per-fold time ratio."""
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
    per_fold = pd.DataFrame(
        {
            "RMSE Surprise": [f"{f['rmse']['surprise']:.4f}" for f in folds] + [f"{s['mean_rmse']['surprise']:.4f}"],
            "RMSE ours": [f"{f['rmse'][DEFAULT]:.4f}" for f in folds] + [f"{s['mean_rmse'][DEFAULT]:.4f}"],
            "ours - Surprise": [f"{f['rmse'][DEFAULT] - f['rmse']['surprise']:+.4f}" for f in folds]
            + [f"{s['rmse_minus_surprise'][DEFAULT]:+.4f}"],
            "fit s Surprise": [f"{f['fit_seconds']['surprise']:.3f}" for f in folds]
            + [f"{s['mean_fit_seconds']['surprise']:.3f}"],
            "fit s ours": [f"{f['fit_seconds'][DEFAULT]:.3f}" for f in folds]
            + [f"{s['mean_fit_seconds'][DEFAULT]:.3f}"],
            "ratio": [f"{f['ratio_vs_surprise'][DEFAULT]:.3f}" for f in folds]
            + [f"{s['median_ratio_vs_surprise'][DEFAULT]:.3f} (median)"],
        },
        index=[f["fold"] for f in folds] + ["mean"],
    )
    print(per_fold.to_string())

    print(
        f"\nVariants of ours over all folds (targets: |RMSE - Surprise's| <= {RMSE_TOLERANCE}; "
        f"time ratio <= {RATIO_TARGET}, stretch <= {RATIO_STRETCH})"
    )
    rows = {
        "Surprise SVD": [
            f"{s['mean_rmse']['surprise']:.4f}",
            "",
            "",
            f"{s['mean_fit_seconds']['surprise']:.3f}",
            "",
            "1",
            "",
        ]
    }
    for name in VARIANTS:
        diff, ratio = s["rmse_minus_surprise"][name], s["median_ratio_vs_surprise"][name]
        rmse_ok = abs(diff) <= RMSE_TOLERANCE
        speed = "stretch" if ratio <= RATIO_STRETCH else ("target" if ratio <= RATIO_TARGET else "slower")
        rows[name] = [
            f"{s['mean_rmse'][name]:.4f}",
            f"{diff:+.4f}",
            f"{s['max_abs_fold_rmse_diff'][name]:.4f}",
            f"{s['mean_fit_seconds'][name]:.3f}",
            f"{s['mean_train_seconds'][name]:.3f}",
            f"{ratio:.3f}",
            f"RMSE {'ok' if rmse_ok else 'MISSED'}, speed {speed}",
        ]
    header = ["mean RMSE", "- Surprise", "worst fold", "fit s", "train s", "ratio", "verdict"]
    print(pd.DataFrame.from_dict(rows, orient="index", columns=header).to_string())
    print("fit s: wall time of fit(); train s: its SGD epochs alone (history_[-1]['seconds']);")
    print("ratio: median over folds of (ours / Surprise's) fit time, both measured in the same run.")
    if "exactness_max_abs_diff" in result:
        print(
            f"\nSame-algorithm check ({folds[0]['fold']}): started from Surprise's initial factors and run "
            f"in Surprise's order, our compiled loop ends {result['exactness_max_abs_diff']:.1e} "
            "(max |difference|) from Surprise's fitted biases and factors after 20 epochs."
        )
    m = result["machine"]
    print(
        f"\nMachine: {m['platform']}, {m['cores']} cores; Python {m['python']}, "
        f"numba {m['numba']}, surprise {m['surprise']}; load average before / after: "
        f"{m['load_average']} / {m['load_after']}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--folds",
        type=int,
        nargs="+",
        choices=range(1, 6),
        default=None,
        metavar="F",
        help="only these of the folds u1..u5 (default: all five)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per model and fold (median)")
    parser.add_argument(
        "--no-download", action="store_true", help="use the cache or $MOVIELENS_DIR only, never the network"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--no-exactness-check", action="store_true", help="skip the same-algorithm check")
    return parser


def main(argv: Sequence[str] | None = None, *, folds: Sequence[Split] | None = None) -> int:
    """Run the comparison; ``folds`` replaces ML-100K (for tests). Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    surprise = import_surprise()
    import numba

    if folds is None:
        folds, folder = load_folds(download=not args.no_download)
        print(f"ML-100K predefined folds read from {folder}")
    folds = list(folds)
    if args.folds:
        chosen = sorted(set(args.folds))
        if chosen[-1] > len(folds):
            parser.error(f"--folds {chosen[-1]}: there are only {len(folds)} folds")
        folds = [folds[f - 1] for f in chosen]
    labels = fold_labels(folds)

    m = describe_machine()
    print("Warming up numba (compiling every variant on a tiny problem; not timed) ...", flush=True)
    warm_up({name: SGD(**kwargs) for name, kwargs in VARIANTS.items()})
    results = []
    for split, label in zip(folds, labels, strict=True):
        print(f"fold {label} ...", flush=True)
        results.append(run_fold(surprise, split, label, args.repeats))
    command = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    result = {
        "command": command,
        "protocol": "ML-100K u1..u5 base/test, every test rating; Surprise SVD defaults for both; "
        "RMSE of clipped predictions",
        "seed": SEED,
        "repeats": args.repeats,
        "variants": VARIANTS,
        "folds": results,
        "summary": summary(results),
    }
    if not args.no_exactness_check:
        result["exactness_max_abs_diff"] = exactness_check(surprise, folds[0].train)
    result["machine"] = {
        **m,
        "numba": numba.__version__,
        "surprise": getattr(surprise, "__version__", "?"),
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print_report(result)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_jsonable(result), indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
