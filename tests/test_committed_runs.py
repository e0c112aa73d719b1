"""Committed runs with other parameters (``notebooks/results/``) stay honest: the runner regenerates
each from its chapter's current source with the parameters recorded in it, and a test fails when a
committed run was produced by an older source."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from test_runner import GOOD, make_notebook

from recsys import paths
from recsys.__main__ import main
from recsys.notebook import runner
from recsys.notebook.results import read_results


@pytest.mark.parametrize(
    "committed", runner.discover(runner.results_dir()), ids=lambda p: p.name if hasattr(p, "name") else str(p)
)
def test_every_committed_run_was_produced_by_the_current_source(committed):
    """Regenerate with ``python -m recsys run --results NAME --publish`` when this fails."""
    run = runner.committed_run(committed)
    assert run.parameters, f"{committed.name} records no parameters: it should be a default run in notebooks/"
    assert set(run.parameters) <= set(runner.notebook_defaults(run.source))
    drift = runner.results_drift(committed)
    assert not drift, (
        f"{committed.name} was produced by an older {run.source.name}; regenerate it with "
        f"`python -m recsys run --results {committed.stem} --publish`:\n" + "\n".join(drift)
    )


def test_there_are_committed_runs_to_check():
    assert [p.name for p in runner.discover(runner.results_dir(paths.notebooks_dir()))]


def test_injected_parameters_and_the_chapter_a_run_belongs_to(tmp_path):
    notebooks = tmp_path / "notebooks"
    source = make_notebook(notebooks / "01_first.ipynb", *GOOD)
    nb = nbformat.read(str(source), as_version=4)
    injected = nbformat.v4.new_code_cell("# Parameters\nscale = 5\nlabel = 'big'\n")
    injected.metadata["tags"] = [runner.INJECTED_TAG]
    nb.cells.insert(2, injected)
    (notebooks / "results").mkdir()
    nbformat.write(nb, str(notebooks / "results" / "01_big.ipynb"))  # no papermill metadata: the cell says it all
    committed = runner.committed_run(notebooks / "results" / "01_big.ipynb")
    assert committed.source == source and committed.parameters == {"scale": 5, "label": "big"}
    assert runner.results_drift(committed.path) == []
    nb.cells[3].source += "\nprint('changed')"
    nbformat.write(nb, str(notebooks / "results" / "01_big.ipynb"))
    assert runner.results_drift(committed.path) == [
        "cell 2 (code, now starting 'from recsys.notebook import params') differs from 01_first.ipynb"
    ]


def test_results_regenerates_a_committed_run_from_the_current_source(tmp_path):
    notebooks = tmp_path / "notebooks"
    make_notebook(notebooks / "01_first.ipynb", *GOOD)
    build = tmp_path / "build"
    quiet = dict(notebooks_dir=notebooks, build_dir=build, progress=False, log=lambda _: None)
    first = runner.run(only=["01"], parameters={"scale": 5}, html=False, **quiet)[0]
    (notebooks / "results").mkdir()
    committed = notebooks / "results" / "01_big.ipynb"
    shutil.copyfile(first.executed, committed)
    assert runner.committed_run(committed).parameters == {"scale": 5}
    read_back = runner.committed_run(committed)  # what a chapter shows of a run it cannot redo
    assert read_back.results() == read_results(first.executed) and read_back.results()["metrics"]["rmse"] == 2.5
    assert read_back.finished.startswith("20") and read_back.duration_s > 0

    again = runner.run(results=[], **quiet)
    assert [r.stem for r in again] == ["01_big"] and again[0].ok
    assert again[0].parameters["scale"] == 5 and again[0].changed == {"scale": 5}
    assert again[0].reproduction == []  # compared with the committed run, not with the default run
    payload = json.loads((build / "results" / "01_big.json").read_text())
    assert payload["source"] == "01_first.ipynb" and payload["results"]["metrics"]["rmse"] == 2.5
    assert (build / "html" / "01_big.html").is_file()
    index = (build / "index.html").read_text()
    assert "results/01_big.ipynb" in index and "html/01_big.html" in index and "scale=5" in index

    # the chapter changes: the committed run is now stale, and --results --publish renews it
    nb = nbformat.read(str(notebooks / "01_first.ipynb"), as_version=4)
    nb.cells[3].source = nb.cells[3].source.replace("0.5 * scale", "0.25 * scale")
    nbformat.write(nb, str(notebooks / "01_first.ipynb"))
    assert runner.results_drift(committed)
    lines = []
    renewed = runner.run(results=["01_big"], publish=True, **{**quiet, "log": lines.append})[0]
    assert renewed.reproduction == ["metrics.rmse: reference 2.5, now 1.25"]
    assert runner.results_drift(committed) == []
    assert read_results(committed)["metrics"]["rmse"] == 1.25
    assert runner.committed_run(committed).parameters == {"scale": 5}
    assert any("published to" in line and "01_big.ipynb" in line for line in lines)


def test_results_takes_no_other_selection_or_parameters(tmp_path, capsys):
    assert main(["run", "--results", "-p", "n_items", "5", "--build-dir", str(tmp_path)]) == runner.EXIT_USAGE
    assert "--results" in capsys.readouterr().err
    assert main(["run", "--results", "nope", "--build-dir", str(tmp_path)]) == runner.EXIT_USAGE
    assert "--results 'nope' matches no notebook" in capsys.readouterr().err
