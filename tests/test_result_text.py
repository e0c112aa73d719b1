"""Recorded results carry a readable ``text/plain`` beside their private MIME type, so that every
notebook front-end (JupyterLab, VS Code, nbviewer, GitHub) shows them; committed notebooks carry
exactly the text a fresh run would write."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from test_runner import make_notebook

from recsys import paths
from recsys.notebook import runner
from recsys.notebook.results import (
    MIME_TYPE,
    TEXT_TYPE,
    add_text_fallbacks,
    format_record,
    read_results,
    text_fallback_problems,
)


def test_scalars_lists_and_skips():
    assert format_record({"name": "rmse.als", "value": 0.91234567, "compare": True}) == "rmse.als: 0.9123"
    assert format_record({"name": "n", "value": 100836}) == "n: 100836"
    assert format_record({"name": "qps", "value": 123456.78}) == "qps: 123457"
    assert format_record({"name": "gain", "value": 1.4881e-05}) == "gain: 1.488e-05"
    assert format_record({"name": "x", "value": 2.0}) == "x: 2"
    assert format_record({"name": "ok", "value": True}) == "ok: True"
    assert format_record({"name": "none", "value": None}) == "none: None"
    assert format_record({"name": "java", "value": "Java 17"}) == "java: Java 17"
    assert format_record({"name": "t", "value": ["Godfather, The", "Up"]}) == "t: ['Godfather, The', 'Up']"
    curve = format_record({"name": "curve", "value": [1 / (i + 1) for i in range(20)]})
    assert curve == "curve: [1, 0.5, 0.3333, 0.25, 0.2, 0.1667, …, 0.05263, 0.05] (20 values)"
    assert format_record({"name": "empty", "value": {}}) == "empty: {}"
    skip = {"name": "ml100k", "skipped": "ml-100k is not on this machine", "compare": False}
    assert format_record(skip) == "skipped ml100k: ml-100k is not on this machine"


def test_dicts_are_aligned_lines_and_tables_are_aligned_text():
    payload = {"name": "data", "value": {"n_users": 610, "density": 0.016999683, "first": "1996-03-29"}}
    assert format_record(payload) == "data:\n  density: 0.017\n  first:   1996-03-29\n  n_users: 610"
    table = {"name": "k_core", "value": {"10": {"users": 609, "items": 2269}, "2": {"users": 610, "items": 6278}}}
    assert format_record(table).splitlines() == [
        "k_core:",
        "      items  users",
        "  2    6278    610",
        "  10   2269    609",
    ]
    nested = {"name": "m", "value": {"BPR": {"dot": {"ndcg": 0.28}, "cosine": {"ndcg": 0.023}}}}
    assert format_record(nested).splitlines() == [
        "m:",
        "                 ndcg",
        "  BPR / cosine  0.023",
        "  BPR / dot      0.28",
    ]
    mixed = {"name": "d", "value": {"chosen": {"user": 5}, "gain": 0.0, "best": [2.0, 2.0]}}
    assert format_record(mixed).splitlines() == ["d:", "  best: [2, 2]", "  chosen:", "    user: 5", "  gain: 0"]


def test_a_table_too_wide_to_read_becomes_lines():
    wide = {"name": "w", "value": {"row": {f"column number {i}": i for i in range(12)}}}
    lines = format_record(wide).splitlines()
    assert lines[:3] == ["w:", "  row:", "    column number 0:  0"]
    assert max(map(len, lines)) < 80


def test_the_text_does_not_depend_on_the_order_a_dict_was_built_in():
    """An executed notebook stores its JSON keys sorted: the text read back must be the same."""
    built = {"name": "r", "value": {"b": {"z": 1, "a": 2.5}, "a": {"a": 1.0, "z": 3}, "c10": {}, "c9": {}}}
    stored = {"name": "r", "value": {"a": {"a": 1.0, "z": 3}, "b": {"a": 2.5, "z": 1}, "c10": {}, "c9": {}}}
    assert format_record(built) == format_record(stored)


RECORDING = (
    "from recsys.notebook.results import record, record_table, skip\nimport pandas as pd\n"
    "record('k_core', {'10': {'users': 609, 'items': 2269}, '2': {'users': 610, 'items': 6278}})\n"
    "record('rmse', 0.8478649335058673)\nrecord('curve', [0.5 ** i for i in range(30)], compare=False)\n"
    "record_table('table', pd.DataFrame({'z': [1.5, 2.0], 'a': ['x', 'y']}, index=['r2', 'r1']))\n"
    "skip('ml100k', 'not on this machine')"
)


def test_a_fresh_run_writes_the_text_and_the_fallback_function_writes_the_same_bytes(tmp_path):
    notebooks = tmp_path / "notebooks"
    make_notebook(notebooks / "01_records.ipynb", "x = 1", RECORDING)
    build = tmp_path / "build"
    run = runner.run(notebooks_dir=notebooks, build_dir=build, progress=False, html=False, log=lambda _: None)[0]
    assert run.ok
    executed = run.executed
    assert text_fallback_problems(executed) == []
    nb = nbformat.read(str(executed), as_version=4)
    texts = [o.data[TEXT_TYPE] for c in nb.cells for o in c.get("outputs", []) if MIME_TYPE in o.get("data", {})]
    assert texts[0] == "k_core:\n      items  users\n  2    6278    610\n  10   2269    609"
    assert texts[1] == "rmse: 0.8479"
    assert texts[-1] == "skipped ml100k: not on this machine"

    # a notebook executed before the fallback existed: the same outputs without text/plain
    fresh = executed.read_bytes()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if MIME_TYPE in output.get("data", {}):
                del output.data[TEXT_TYPE]
    old = tmp_path / "old.ipynb"
    old.write_text(nbformat.writes(nb), encoding="utf-8")  # as papermill writes it
    assert len(text_fallback_problems(old)) == len(texts)
    assert add_text_fallbacks(old) == len(texts)
    assert old.read_bytes() == fresh
    assert add_text_fallbacks(old) == 0  # idempotent: nothing left to change
    assert read_results(old) == read_results(executed)


def test_an_outdated_text_is_reported_and_replaced():
    nb = new_notebook()
    cell = new_code_cell("")
    payload = {"name": "a", "value": 1.0, "compare": True}
    cell.outputs = [new_output("display_data", data={MIME_TYPE: payload, TEXT_TYPE: "a: 1.000"})]
    nb.cells = [cell]
    assert text_fallback_problems(nb) == ["cell 0: 'a' has an outdated text/plain"]
    assert add_text_fallbacks(nb) == 1 and cell.outputs[0].data[TEXT_TYPE] == "a: 1"


COMMITTED = sorted([*runner.discover(paths.notebooks_dir()), *runner.discover(paths.notebooks_dir() / "results")])


@pytest.mark.parametrize("notebook", COMMITTED, ids=lambda p: p.relative_to(paths.notebooks_dir()).as_posix())
def test_every_committed_record_has_the_text_a_fresh_run_would_write(notebook):
    """Bring a notebook up to date without running it:
    ``python -c "from recsys.notebook.results import add_text_fallbacks as f; f('notebooks/NN_name.ipynb')"``."""
    problems = text_fallback_problems(notebook)
    assert not problems, f"{len(problems)} record(s) without the right text/plain, e.g. {problems[:3]}"
