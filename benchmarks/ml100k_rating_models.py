"""Rating models on ML-100K's five predefined folds (u1..u5): RMSE, MAE and fit time, in one run.

By default: every rating model of :mod:`recsys.models` with its library defaults (BiasModel, ALS,
PureSVD, SVDImpute, SGD, BPMF), one row each with the test RMSE and MAE of every fold, their means
and the median wall time of one ``fit``. ``--grid`` adds the hyperparameter grids that the
defaults were chosen from; they are scored on the same test folds, so the best grid row is an
optimistic figure (tuned on test), which the printed header repeats. ``--on-validation`` also
re-chooses each grid the honest way: every row is scored on a validation split carved from each
fold's training part (a random ``--validation-size`` share, seed ``f`` for fold ``f``), the row
with the lowest mean validation RMSE is chosen, and its test RMSE is printed beside the library
default's and the best row on test, with 95 % Student-t intervals over the folds and the paired
difference chosen - default: how much the numbers move when the defaults are chosen without
looking at the test folds.

Protocol (Surprise's, so Surprise's figures on these folds compare): every test rating counts;
a user or item unseen in a fold's training file is predicted by the model's fallback
(``mu + b_i``, ``mu + b_u`` or ``mu``). Fitting and scoring is :func:`recsys.experiments.rating_table`, which
interleaves the models fold by fold so that a busy moment of the machine hits them alike.

    python benchmarks/ml100k_rating_models.py                     # the defaults (~1 min on 2 cores)
    python benchmarks/ml100k_rating_models.py --seeds 3           # every model over random_state 0, 1, 2
    python benchmarks/ml100k_rating_models.py --grid als bpmf     # + grids: als, svd, bpmf, sgd; all four ~11 min
    python benchmarks/ml100k_rating_models.py --grid all --on-validation  # re-choose each grid on validation
    python benchmarks/ml100k_rating_models.py --json results.json # also write every (model, seed, fold) row

ML-100K comes from :func:`recsys.datasets.load`: the cache, ``$MOVIELENS_DIR`` or a
checksum-verified download (``--no-download`` forbids the network). Its license forbids
redistribution, so it is never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from recsys import datasets, stats
from recsys.experiments import Matrices, rating_table
from recsys.interactions import to_csr
from recsys.models import ALS, BPMF, SGD, BiasModel, PureSVD, Recommender, SVDImpute
from recsys.notebook.machine import describe as describe_machine
from recsys.notebook.results import to_jsonable
from recsys.splits import Split, ml100k_folds, random_holdout

#: Targets the defaults are held to (mean test RMSE over u1..u5).
ALS_TARGET = 0.915
BEST_TARGET = 0.905
#: Surprise's SVD and BaselineOnly (its defaults) measured on the same folds and protocol.
SURPRISE_SVD_RMSE = 0.938
SURPRISE_BASELINE_RMSE = 0.946

GRIDS = ("als", "svd", "bpmf", "sgd")
#: The library default each grid's choice is compared with (``--on-validation``).
GRID_DEFAULTS = {"als": "ALS", "svd": "SVDImpute", "bpmf": "BPMF", "sgd": "SGD"}


def default_models() -> dict[str, Recommender]:
    """Every rating model with its library defaults (SGD seeded: its default seed is ``None``)."""
    return {
        "BiasModel": BiasModel(),
        "ALS": ALS(),
        "PureSVD": PureSVD(),
        "SVDImpute": SVDImpute(),
        "SGD": SGD(random_state=0),
        "BPMF": BPMF(),
    }


def _add(models: dict, cls, name: str | None = None, hidden: tuple[str, ...] = (), **params) -> None:
    """Add ``cls(**params)``, labelled by ``name`` (default: the class name) and ``params`` except ``hidden``."""
    shown = (f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items() if k not in hidden)
    models[" ".join([name or cls.__name__, *shown])] = cls(**params)


def grid_models(grid: str) -> dict[str, Recommender]:
    """The models of one hyperparameter grid, by row label.

    ``als``, ``svd`` and ``bpmf`` are the grids the library defaults were chosen from (see the
    docstrings of ALS, SVDImpute and BPMF); ``sgd`` varies Surprise's defaults, which SGD keeps.
    ``random_state`` is left to :func:`run`, which sets it per seed.
    """
    models: dict[str, Recommender] = {}
    if grid == "als":
        for k in (20, 50, 100):
            for lam in (8.0, 10.0, 13.0, 16.0):
                _add(models, ALS, factors=k, regularization=lam)
        _add(models, ALS, factors=200, regularization=13.0)
        for k in (50, 100):
            for lam in (0.1, 0.12, 0.15):
                _add(
                    models,
                    ALS,
                    "ALS-WR",
                    ("weighted_regularization",),
                    factors=k,
                    regularization=lam,
                    weighted_regularization=True,
                )
        for lam_b in (0.0, 10.0):
            _add(models, ALS, bias_regularization=lam_b)
        _add(models, ALS, iterations=40)
    elif grid == "svd":
        for k in (10, 50):
            _add(models, PureSVD, factors=k)
        _add(models, PureSVD, factors=20, centering="none")  # the original top-N PureSVD
        for k, lam in ((10, 0.0), (20, 0.0), (100, 10.0), (100, 16.0), (200, 13.0)):
            _add(models, SVDImpute, factors=k, shrinkage=lam)
        _add(models, SVDImpute, refit_biases=False)
    elif grid == "bpmf":
        for k in (5, 10, 20):
            for s in (25, 50, 100, 200):
                _add(models, BPMF, factors=k, samples=s)
        for alpha in (1.5, 2.0, 3.0):  # fixed noise precision (the paper fixes 2) vs sampled
            _add(models, BPMF, alpha=alpha)
        for init in (0, 5):  # random vs ALS start, on a short chain
            _add(models, BPMF, init_iterations=init, burn_in=0, samples=20)
        _add(models, BPMF, init_iterations=0)
        _add(models, BPMF, burn_in=100, samples=200)
        _add(models, BPMF, samples=50, thin=4)
    elif grid == "sgd":
        for k in (50, 100, 200):
            for reg in (0.02, 0.05, 0.1):
                _add(models, SGD, factors=k, regularization=reg)
        _add(models, SGD, learning_rate=0.01)
        _add(models, SGD, iterations=40)
        _add(models, SGD, iterations=50, learning_rate=0.01, regularization=0.1)
        _add(models, SGD, biased=False)  # PMF: no mean, no biases
    else:
        raise ValueError(f"unknown grid {grid!r}; known: {', '.join(GRIDS)}")
    return models


def load_folds(download: bool = True) -> tuple[list[Split], Path | None]:
    """ML-100K's u1..u5 folds with unseen test rows kept, and the folder they were read from;
    if the data is not available, exit with the library's instructions (URL, where to put it)."""
    try:
        dataset = datasets.load("ml-100k", download=download)
        return ml100k_folds(dataset, unseen="keep"), dataset.path
    except (datasets.DatasetUnavailableError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")


def fold_labels(folds: Sequence[Split]) -> list[str]:
    """``u1``.. for ML-100K's folds, ``fold 0``.. for others."""
    labels = []
    for f, split in enumerate(folds):
        label = split.params.get("fold", f)
        labels.append(label if isinstance(label, str) else f"fold {label}")
    return labels


def _span(values: Sequence[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def warm_up(models: dict[str, Recommender]) -> None:
    """Fit every model once on a tiny problem (factors capped at 2), so numba compile time and
    first-call costs stay out of the timings."""
    tiny = datasets.load("synthetic", n_users=40, n_items=30, n_ratings=400, seed=0).ratings
    X = to_csr(tiny)
    for model in models.values():
        model = clone(model)
        if "factors" in model.get_params():
            model.set_params(factors=min(2, model.factors))
        model.fit(X)


def run(models: dict[str, Recommender], folds: Sequence[Split], seeds: int, section: str) -> pd.DataFrame:
    """One row per (model, seed, fold): RMSE, MAE, n, fit seconds. Seeds 0..seeds-1 go into each
    model's ``random_state``; each seed is one :func:`rating_table` pass over all the models."""
    labels = fold_labels(folds)
    tables = []
    for seed in range(seeds):
        seeded = {name: clone(m).set_params(random_state=seed) for name, m in models.items()}
        table = rating_table(seeded, folds, progress=sys.stderr.isatty())
        tables.append(table.assign(seed=seed))
    table = pd.concat(tables, ignore_index=True)
    table["fold"] = [labels[f] for f in table["fold"]]
    table.insert(0, "section", section)
    return table


def per_model(table: pd.DataFrame) -> pd.DataFrame:
    """Per model: RMSE and MAE of each fold (mean over seeds) and over folds, the spread of the
    mean RMSE over seeds, and the median fit seconds."""
    order = list(dict.fromkeys(table["model"]))
    folds = list(dict.fromkeys(table["fold"]))
    by_fold = table.groupby(["model", "fold"], sort=False)[["rmse", "mae"]].mean()
    parts = {}
    for metric in ("rmse", "mae"):
        wide = by_fold[metric].unstack("fold").reindex(index=order, columns=folds)
        wide["mean"] = wide.mean(axis=1)
        parts[metric.upper()] = wide
    n_seeds = table["seed"].nunique()
    if n_seeds > 1:
        per_seed = table.groupby(["model", "seed"], sort=False)["rmse"].mean()
        parts["RMSE"][f"sd {n_seeds} seeds"] = per_seed.groupby(level="model", sort=False).std().reindex(order)
    out = pd.concat(parts, axis=1)
    out[("fit s", "median")] = table.groupby("model", sort=False)["fit_seconds"].median().reindex(order)
    out.index.name = None
    out.columns.names = [None, None]
    return out


def print_table(summary: pd.DataFrame) -> None:
    text = summary.copy()
    for column in text.columns:
        digits = 2 if column[0] == "fit s" else 4
        text[column] = summary[column].map(lambda v, d=digits: f"{v:.{d}f}")
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(text.to_string(), flush=True)


def check_targets(summary: pd.DataFrame) -> list[str]:
    """The target lines (ALS <= 0.915, best default <= 0.905) and Surprise's figures on these folds."""
    mean = summary[("RMSE", "mean")]
    lines = []
    if "ALS" in mean:
        verdict = "met" if mean["ALS"] <= ALS_TARGET else "MISSED"
        lines.append(f"ALS mean RMSE {mean['ALS']:.4f} (target <= {ALS_TARGET}: {verdict})")
    best = mean.idxmin()
    verdict = "met" if mean[best] <= BEST_TARGET else "MISSED"
    lines.append(f"best: {best} mean RMSE {mean[best]:.4f} (target <= {BEST_TARGET}: {verdict})")
    lines.append(
        f"for reference, on the same folds: Surprise SVD {SURPRISE_SVD_RMSE}, BaselineOnly {SURPRISE_BASELINE_RMSE}"
    )
    return lines


def validation_folds(folds: Sequence[Split], size: float) -> list[Split]:
    """Per fold ``f``, a random ``size`` share of its *training* ratings held out (seed ``f``): the
    split every grid row is scored on to choose it, the test part never looked at."""
    return [random_holdout(split.train, size, seed=f, unseen="keep") for f, split in enumerate(folds)]


def chosen_on_validation(validation: pd.DataFrame, test: pd.DataFrame, default: str) -> dict:
    """The row with the lowest mean validation RMSE, with its test RMSE against ``default``'s and
    the best row on test: means and 95 % Student-t intervals over the folds (mean over seeds
    first), and the paired difference chosen - default over the folds."""

    def by_fold(table: pd.DataFrame) -> pd.DataFrame:
        return table.groupby(["model", "fold"], sort=False)["rmse"].mean().unstack("fold")

    val, tst = by_fold(validation), by_fold(test)
    chosen = val.mean(axis=1).idxmin()
    best_on_test = tst.mean(axis=1).idxmin()
    out = {"chosen": chosen, "default": default, "best_on_test": best_on_test}
    for role in ("chosen", "default", "best_on_test"):
        out[f"{role}_test"] = stats.interval_over_runs(tst.loc[out[role]].to_numpy())
    out["chosen_minus_default"] = stats.paired_over_runs(tst.loc[chosen].to_numpy(), tst.loc[default].to_numpy())
    out["validation_rmse"] = float(val.loc[chosen].mean())
    return out


def print_choice(section: str, choice: dict) -> None:
    def show(interval) -> str:
        return f"{interval.estimate:.4f} [{interval.low:.4f}, {interval.high:.4f}]"

    move = choice["chosen_minus_default"]
    print(
        f"{section}, chosen on validation (mean validation RMSE {choice['validation_rmse']:.4f}): "
        f"{choice['chosen']}, test RMSE {show(choice['chosen_test'])}\n"
        f"  library default {choice['default']}: test RMSE {show(choice['default_test'])} "
        "(chosen on these test folds when the library was written)\n"
        f"  chosen - default, paired over the folds: {move.format(4)}"
        + (" (no detectable difference)" if not move.excludes_zero else "")
        + f"\n  best row on the test folds (optimistic): {choice['best_on_test']}, {show(choice['best_on_test_test'])}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--grid",
        nargs="+",
        choices=[*GRIDS, "all"],
        default=[],
        help="also these hyperparameter grids (scored on the test folds: optimistic)",
    )
    parser.add_argument(
        "--on-validation",
        action="store_true",
        help="re-choose each grid on validation data carved from the training folds and compare with the default",
    )
    parser.add_argument(
        "--validation-size", type=float, default=0.2, help="share of each fold's training ratings held out to choose"
    )
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 for every model's random_state")
    parser.add_argument(
        "--folds",
        type=int,
        nargs="+",
        choices=range(1, 6),
        default=None,
        metavar="F",
        help="only these of the folds u1..u5 (default: all five)",
    )
    parser.add_argument("--no-defaults", action="store_true", help="skip the table of library defaults")
    parser.add_argument(
        "--no-download", action="store_true", help="use the cache or $MOVIELENS_DIR only, never the network"
    )
    parser.add_argument("--json", type=Path, help="also write every (model, seed, fold) row to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None, *, folds: Sequence[Split] | None = None) -> list[dict]:
    """Run the benchmark and return its rows. ``folds`` replaces ML-100K (for tests)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    grids = list(GRIDS) if "all" in args.grid else list(dict.fromkeys(args.grid))
    if args.no_defaults and not grids:
        parser.error("--no-defaults leaves nothing to run; add --grid")
    if args.on_validation and not grids:
        parser.error("--on-validation re-chooses grids: add --grid")
    if not 0 < args.validation_size < 1:
        parser.error(f"--validation-size must lie strictly between 0 and 1, got {args.validation_size}")

    chosen = sorted(set(args.folds)) if args.folds else None
    all_five = folds is None and chosen in (None, [1, 2, 3, 4, 5])  # the targets are u1..u5 means
    source = "given folds"
    if folds is None:
        folds, folder = load_folds(download=not args.no_download)
        source = f"ML-100K's predefined folds, read from {folder}"
    folds = list(folds)
    if chosen:
        if chosen[-1] > len(folds):
            parser.error(f"--folds {chosen[-1]}: there are only {len(folds)} folds")
        folds = [folds[f - 1] for f in chosen]

    sections = [] if args.no_defaults else [("defaults", default_models())]
    for g in grids:
        models = grid_models(g)
        if args.on_validation:  # the library default, to compare the choice with
            models = {GRID_DEFAULTS[g]: default_models()[GRID_DEFAULTS[g]], **models}
        sections.append((f"grid {g}", models))
    m = describe_machine()
    triplets = [Matrices.from_split(s).test_triplets for s in folds]
    n_test = [u.size for u, _, _ in triplets]
    n_unseen = [int(((u < 0) | (i < 0)).sum()) for u, i, _ in triplets]
    print(
        f"Data: {source}; folds {', '.join(fold_labels(folds))}: {_span(n_test)} test ratings each, "
        f"{_span(n_unseen)} of them with an unseen user or item."
    )
    print("Protocol: every test rating counted, unseen ones through the model's fallback (Surprise's).")
    print(
        f"Machine: {m['platform']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}; "
        f"load average {m['load_average'][0]} at the start (a shared machine slows every model alike)."
    )
    print(
        f"fit s: median over folds and seeds of one fit's wall time in this run (numba compile excluded); "
        f"seeds: {args.seeds} (random_state 0..{args.seeds - 1})."
    )
    if grids:
        print(
            "Grid rows are scored on the test folds they are compared on, so the best grid row is "
            "optimistic: it was tuned on test."
        )

    rows: list[dict] = []
    for section, models in sections:
        warm_up(models)
        table = run(models, folds, args.seeds, section)
        summary = per_model(table)
        print(f"\n{section}:")
        print_table(summary)
        if section == "defaults" and all_five:
            print("\n".join(check_targets(summary)))
        else:
            best = summary[("RMSE", "mean")].idxmin()
            note = "" if section == "defaults" else " (optimistic: picked on the test folds)"
            print(f"best of {section}: {best}, mean RMSE {summary.loc[best, ('RMSE', 'mean')]:.4f}{note}")
        if args.on_validation and section != "defaults":
            validation = run(models, validation_folds(folds, args.validation_size), args.seeds, f"{section} validation")
            choice = chosen_on_validation(validation, table, GRID_DEFAULTS[section.removeprefix("grid ")])
            print_choice(section, choice)
            table = pd.concat([table, validation], ignore_index=True)
        params = {
            name: {k: str(v) for k, v in model.get_params().items() if k != "random_state"}
            for name, model in models.items()
        }
        for record in table.to_dict("records"):
            rows.append({**record, "params": params[record["model"]]})

    if args.json:
        command = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_jsonable({"command": command, "machine": m, "rows": rows}), indent=2))
        print(f"\nwrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
