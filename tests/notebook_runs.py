"""One small run per notebook, shared by its papermill test and the determinism check.

Every notebook has one set of small parameters (:data:`SMALL`). Its papermill test
(``test_nbNN_...``) asserts on that run's results, and ``test_determinism`` runs the notebook once
more with the same parameters and requires identical results: two executions per notebook, not
three. The run is cached on disk for the whole pytest session, across xdist workers (a file lock
makes the second caller wait for the first and then read its run), so it does not matter which of
the two tests comes first or on which worker; ``conftest.py`` keeps both on one worker.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

from recsys import paths
from recsys.notebook import runner


def ml100k_available() -> bool:
    folder = paths.movielens_dir()
    return folder is not None and (Path(folder) / "ml-100k" / "u.data").is_file()


SMALL_03 = dict(
    dataset="synthetic",
    k=5,  # not the default 10: a column or a sentence that says @10 whatever k is fails here
    n_folds=2,
    als_factors=4,
    als_regularization_grid=[10.0],
    bias_damping_grid=[5.0],
    bpmf_samples=5,
    bpmf_burn_in=2,
    ials_iterations=3,
    ials_grid={"factors": [4, 8], "regularization": [1.0], "alpha": [1.0]},
    bpr_max_iterations=5,
    bpr_grid={"factors": [4], "learning_rate": [0.05], "regularization": [0.01]},
    puresvd_grid={"factors": [2, 4]},
    sweep_factors=[2, 4],
    sweep_als_regularization=[10.0],
    sweep_sgd_regularization=[0.05],
    sweep_sgd_epochs=[2, 3],
    timing_repeats=1,
    use_ml100k=False,
)

SMALL_04 = dict(
    min_item_ratings=40,
    als_factors=8,
    ials_factors=8,
    ials_iterations=5,
    puresvd_factors=8,
    bpr_factors=8,
    bpr_iterations=10,
    n_labelled=8,
    tsne_items=120,
    tsne_iterations=250,
    coherence_draws=1,
)

SMALL_05 = dict(
    tune=True,
    als_factors=8,
    ials_iterations=5,
    bpr_iterations=5,
    ials_grid={"factors": [8], "regularization": [10.0], "alpha": [3.0]},
    bpr_grid={"factors": [8], "learning_rate": [0.05], "regularization": [0.001]},
    puresvd_grid={"factors": [8]},
    unit_queries=20,
    unit_items=100,
    unit_dim=4,
    item_overlap_items=30,
    tag_factors=4,
    hybrid_weights=[0.0, 0.5, 1.0],
    angle_users=10,
)

TINY_06 = dict(
    dataset="synthetic",
    factors=8,
    n_items=3000,
    n_queries=40,
    scaling_sizes=[1000, 2000],
    mips_n_items=2000,
    simd_n_items=2000,
    quick_grids=True,
    timing_queries=20,
    max_timing_seconds=0.05,
    repeats=1,
    quiet_wait=0.0,  # never wait for a quiet machine in the tests (rows are marked instead)
    validation_samples=2,
    build_repeats=2,  # the median-over-builds path runs (on ScaNN, where it is installed)
    headline_builds=2,
    headline_repeats=2,
    ease_ranks=[4, 8],
    graph_n_items=2000,
    graph_builds=[{"M": 8, "ef_construction": 40}, {"M": 16, "ef_construction": 100}],
    ease_methods=["hnswlib", "faiss-ivf"],
    # a time budget that a busy machine cannot exhaust: a budget that cut one run's grid short and
    # not the other's would differ in what was measured, not in what a measurement gives
    time_budget=600.0,
)

SMALL_07 = dict(
    sample_users=120,
    k=5,  # not the default 10: a column or a sentence that says @10 whatever k is fails here
    max_epochs=3,
    patience=1,
    map_items=100,
    projection="pca",
    ann_time_budget=600.0,
    ease_grid={"regularization": [100.0]},
    vae_grid={"hidden": [32], "factors": [8]},
    lightgcn_grid={"factors": [8]},
    fm_grid={"factors": [8]},
    neural_grid={"factors": [8]},
    ials_grid={"factors": [8]},
    puresvd_grid={"factors": [5]},
    split_draws=2,
)

SMALL_08 = {
    "dataset": "synthetic",
    "train_ratio": 0.75,
    "agreement_iterations": 5,
    "implicit_factors": 8,
    "iterations": 3,
    "scaling_sizes": [5_000, 20_000],
    "blocks": 2,
    "block_counts": [1, 2],
    "core_counts": [1],
    "sweep_size": 5_000,
    "retrieval_repeats": 1,
    "timing_repeats": 1,
    "warm_up_fits": 1,
    "spark_memory": "1g",
    "worker_counts": [2],
    "worker_memory": "512m",
    "ann_build": {"M": 8, "ef_construction": 40},
    "ann_query": {"ef": 20},
}

SMALL_09 = dict(
    sample_users=80,
    k=5,  # not the default 10: a column or a sentence that says @10 whatever k is fails here
    budget=2,
    split_draws=2,
    max_epochs=3,
    models=["popularity", "item-kNN", "RP3beta", "EASE", "Mult-VAE", "LightGCN"],
    neural=["Mult-VAE", "LightGCN"],
    reference="EASE",
    rating_models=["global mean", "biases"],
    rating_budget=1,
)

#: The small parameters of every notebook: what its papermill test and the determinism check run.
SMALL: dict[str, dict[str, Any]] = {
    "01": dict(dataset="synthetic", k_core=3, seed=1),
    "02": dict(
        dataset="synthetic",
        n_folds=2,
        dampings=[0, 5],
        damping_grid=[0, 5],
        given=[0, 2],
        mf_factors=4,
        use_ml100k=False,
    ),
    "03": SMALL_03,
    # ML-100K's sections run when the data is there (CI sets MOVIELENS_DIR)
    "04": {**SMALL_04, "use_ml100k": ml100k_available()},
    "05": {**SMALL_05, "use_ml100k": False},
    "06": TINY_06,
    "07": {**SMALL_07, "use_ml100k": False},
    "08": SMALL_08,
    "09": {**SMALL_09, "use_ml100k": ml100k_available()},
}


def execute(number: str, folder: Path, parameters: dict[str, Any]) -> runner.NotebookRun:
    """One fresh run of notebook ``number`` into ``folder`` (no HTML, no reproduction check)."""
    if number == "06":  # its ground-truth cache lives in the run's folder: each run computes its own
        parameters = {**parameters, "cache_dir": str(folder / "cache")}
    return runner.run(
        only=[number],
        parameters=parameters,
        build_dir=folder,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )[0]


def _session_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # under xdist every worker has its own basetemp (<root>/popen-gwN): share their parent
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def small_run(number: str, tmp_path_factory) -> runner.NotebookRun:
    """Notebook ``number``'s run with :data:`SMALL` parameters, executed once per test session."""
    parameters = SMALL[number]
    key = hashlib.sha256(json.dumps([number, parameters], sort_keys=True).encode()).hexdigest()[:16]
    folder = _session_root(tmp_path_factory) / "notebook-runs" / f"{number}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "run.pickle"
        if done.is_file():
            return pickle.loads(done.read_bytes())
        run = execute(number, folder / "build", parameters)
        if run.ok:  # a failed run is not cached: the next test runs it again and reports its own error
            tmp = done.with_suffix(".part")
            tmp.write_bytes(pickle.dumps(run))
            tmp.replace(done)
        return run


def results_of(run: runner.NotebookRun) -> dict:
    """What the run recorded (its results file), after checking it succeeded."""
    assert run.ok, run.error
    saved = json.loads(run.results_file.read_text())
    assert saved["parameters"] == run.parameters
    return saved["results"]


def output_text(run: runner.NotebookRun) -> str:
    """Every text output of the executed notebook (streams, plain text, HTML tables), joined."""
    cells = json.loads(Path(run.executed).read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for kind in ("text/plain", "text/html"):
                parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)
