"""Notebook 08 (scale out on Spark) runs with small sizes and records what it promises.

The default run's figures (the scaling table, the batch-retrieval throughput) come from the
committed notebook; here the same code runs on tiny synthetic sets, and once more with a Java
runtime that cannot start, where every Spark section must be skipped with a one-sentence
reason, never a traceback.
"""

from __future__ import annotations

import json

import pytest
from notebook_runs import SMALL, results_of, small_run

from recsys.notebook import runner
from recsys.notebook.results import read_results, skipped
from recsys.spark.session import spark_unavailable_reason

pytestmark = pytest.mark.notebook


def run_08(tmp_path, **overrides):
    runs = runner.run(
        only=["08"],
        parameters={**SMALL["08"], **overrides},
        build_dir=tmp_path,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )
    run = runs[0]
    assert run.ok, run.error
    return run, json.loads(run.results_file.read_text())["results"]


def _stderr(path) -> list[str]:
    notebook = json.loads(path.read_text())
    return [
        "".join(output.get("text", ""))
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    ]


@pytest.mark.skipif(spark_unavailable_reason() is not None, reason=spark_unavailable_reason() or "")
@pytest.mark.xdist_group("nb08")
def test_nb08_scale_out_on_small_synthetic_sets(tmp_path_factory):
    run = small_run("08", tmp_path_factory)
    results = results_of(run)
    explicit = results["agreement"]["explicit"]["synthetic"]
    assert set(explicit) == {"MLlib ALS", "ours", "ours, other seed", "ours, unweighted lambda"}
    assert results["agreement"]["explicit_rmse_gap"]["synthetic"] < 0.05
    implicit = results["agreement"]["implicit"]["synthetic"]
    assert 0 < implicit["MLlib implicit ALS"]["ndcg@10"] <= 1 and implicit["MLlib implicit ALS"]["overlap"] == 1.0
    sizes = results["scaling"]["sizes"]
    assert sorted(set(sizes["n_ratings"])) == [5_000, 20_000]
    assert all(s > 0 for s in sizes["MLlib ALS"] + sizes["ours"])
    assert set(results["scaling"]["blocks"]) == {"1", "2"}
    for name in ("ml-1m", "ml-10m", "ml-20m"):  # never on the CI machine; skipped, not missing
        assert f"scaling.{name}" in skipped(run.executed) or name in str(sizes["source"])
    throughput = results["retrieval"]["throughput"]
    assert len(throughput) == 3 and all(row["users_per_second"] > 0 for row in throughput.values())
    recall = results["retrieval"]["recall"]
    assert [row["recall@10"] for row in recall.values()][:2] == [1.0, 1.0]  # MLlib and exact are exact
    assert 0.5 < list(recall.values())[2]["recall@10"] <= 1.0
    crossovers = results["cluster"]["crossover_ratings"]
    assert set(crossovers) == {"cluster_4x8", "cluster_16x8", "cluster_64x8"}
    assert all(len(bounds) == 2 for bounds in crossovers.values())  # overhead serial and shared
    # the model is drawn no farther than extrapolate_factor (100) x the largest size measured (20,000)
    found = [v for bounds in crossovers.values() for v in bounds.values() if v is not None and v == v]  # not NaN
    assert all(v <= 20_000 * 100 for v in found)
    assert isinstance(results["cluster"]["catalogue_moves_the_verdict"], bool)
    workers = results["cluster"]["workers_check"]  # a local-cluster master: separate executor processes
    assert set(workers) == {"2"} and workers["2"]["measured"] > 0
    assert workers["2"]["predicted_serial"] >= workers["2"]["predicted_parallel"] > 0
    assert 0.9 < min(results["cluster"]["copies_check"][b]["estimated / exact"] for b in ("1", "2")) <= 1.1
    assert not _stderr(run.executed), _stderr(run.executed)  # no JVM noise, no warnings
    assert read_results(run.executed)["spark"]["session_seconds"] > 0


def test_nb08_says_why_and_skips_when_spark_cannot_start(tmp_path):
    run, results = run_08(tmp_path, java_home=str(tmp_path / "no-java-here"))
    reasons = skipped(run.executed)
    assert set(reasons) >= {"agreement", "scaling", "retrieval", "cluster"}
    reason = reasons["agreement"]
    assert reason.startswith("Spark cannot start") and reason.endswith(".") and "\n" not in reason
    assert "agreement" not in results and "scaling" not in results
    assert not _stderr(run.executed)
