"""One palette for every figure: a measure has one colour (and marker) in every chapter.

Notebook 04 drew the dot product red and notebook 05 blue, from two dictionaries of their own.
The figures are drawn here and their measure-coloured artists read back; and the figure modules
and the notebooks' code cells are read for any other measure -> colour mapping.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from recsys.notebook import ann_plots, embedding_plots, plotting, similarity_plots  # noqa: E402
from recsys.similarity import MEASURES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURE_MODULES = sorted((ROOT / "recsys" / "notebook").glob("*plots.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "results").glob("*.ipynb"))


@pytest.fixture(autouse=True)
def _close_figures():
    plotting.setup()
    yield
    plt.close("all")


def _hex(colour) -> str:
    return to_hex(colour, keep_alpha=False)


def test_the_palette_covers_every_measure_with_distinct_colours_and_markers():
    assert set(plotting.MEASURE_STYLES) == set(MEASURES)
    assert len({_hex(c) for c in plotting.MEASURE_COLOURS.values()}) == len(MEASURES)
    assert len(set(plotting.MEASURE_MARKERS.values())) == len(MEASURES)
    assert not {_hex(c) for c in plotting.TRANSFORM_COLOURS.values()} & {
        _hex(c) for c in plotting.MEASURE_COLOURS.values()
    }, "the MIPS transform's colours must not read as measures"


def test_the_figure_modules_use_the_palette_objects_themselves():
    assert similarity_plots.MEASURE_COLOURS is plotting.MEASURE_COLOURS
    assert embedding_plots.MEASURE_COLOURS is plotting.MEASURE_COLOURS
    assert embedding_plots.GENRE_COLOURS is plotting.GENRE_COLOURS
    assert ann_plots.FAMILY_MARKERS is plotting.ANN_FAMILY_MARKERS
    assert ann_plots.FAMILY_LINES is plotting.ANN_FAMILY_LINES


def _measure_mappings(tree: ast.AST) -> list[int]:
    """Line numbers of dict literals keyed by two or more measure names (a private palette)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if len(keys & set(MEASURES)) >= 2 and all(isinstance(v, (ast.Constant, ast.Dict)) for v in node.values):
                found.append(node.lineno)
    return found


def test_no_figure_module_or_notebook_keeps_a_measure_palette_of_its_own():
    offenders = []
    for path in FIGURE_MODULES:
        if path.name != "plotting.py":
            offenders += [f"{path.name}:{line}" for line in _measure_mappings(ast.parse(path.read_text()))]
    for path in NOTEBOOKS:
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            try:
                tree = ast.parse(
                    "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
                )
            except SyntaxError:
                continue
            offenders += [f"{path.name} cell {i}" for _ in _measure_mappings(tree)]
    assert not offenders, f"measure colours defined outside recsys.notebook.plotting: {offenders}"


def _table() -> pd.DataFrame:
    index = pd.MultiIndex.from_product([["ALS", "BPR"], list(MEASURES)], names=["model", "measure"])
    return pd.DataFrame({"ndcg@10": np.linspace(0.1, 0.6, 6)}, index=index)


def test_notebook_05s_measure_bars_take_the_palette_colours():
    fig, ax = plt.subplots()
    similarity_plots.measure_bars([ax], _table(), ["ndcg@10"])
    by_label = {c.get_label(): {_hex(p.get_facecolor()) for p in c.patches} for c in ax.containers}
    assert by_label == {m: {_hex(plotting.MEASURE_COLOURS[m])} for m in MEASURES}


def test_notebook_05s_three_orders_draws_distance_in_the_euclidean_colour():
    fig, ax = plt.subplots()
    similarity_plots.three_orders(ax, np.array([1.0, 0.0]), np.array([[3.0, 3.0], [1.0, 0.2]]), ["A", "B"])
    (line,) = [line for line in ax.lines if line.get_label() == "distance to q"]
    assert _hex(line.get_color()) == _hex(plotting.MEASURE_COLOURS["euclidean"])


def test_notebook_04s_coherence_bars_take_the_palette_colours():
    table = pd.DataFrame(
        {"cosine": [0.5, 0.6], "cosine_baseline": [0.3, 0.3], "dot": [0.4, 0.5], "dot_baseline": [0.3, 0.3]},
        index=["ALS", "BPR"],
    )
    fig, ax = plt.subplots()
    embedding_plots.coherence_bars(ax, table)
    for container in ax.containers:
        measure = container.get_label().split(":")[0]
        assert {_hex(p.get_facecolor()) for p in container.patches} == {_hex(plotting.MEASURE_COLOURS[measure])}


def test_notebook_04s_measure_panels_take_the_palette_colours_and_markers():
    rng = np.random.default_rng(0)
    items = rng.standard_normal((40, 2))
    tops = {"dot": np.arange(3), "cosine": np.arange(3, 6), "euclidean": np.arange(6, 9)}
    fig = embedding_plots.measure_panels(
        [1.0, 0.5], items, np.arange(40), tops, {i: f"film {i}" for i in range(40)}, n_labels=1
    )
    for ax, measure in zip(fig.axes, MEASURES):
        top_points = ax.collections[1]  # the grey candidates first, then the measure's top items
        assert _hex(top_points.get_facecolor()[0]) == _hex(plotting.MEASURE_COLOURS[measure])
        style = matplotlib.markers.MarkerStyle(plotting.MEASURE_MARKERS[measure])
        marker = style.get_path().transformed(style.get_transform())
        assert np.allclose(top_points.get_paths()[0].vertices, marker.vertices)
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"] + [
            p for p in ax.patches if p.get_linestyle() == "--"
        ]
        colours = {_hex(a.get_color() if isinstance(a, matplotlib.lines.Line2D) else a.get_edgecolor()) for a in dashed}
        assert colours == {_hex(plotting.MEASURE_COLOURS[measure])}, (measure, colours)


def test_the_mips_transform_has_one_pair_of_colours_in_notebooks_05_and_06():
    rng = np.random.default_rng(1)
    fig, (a, b) = plt.subplots(1, 2)
    before, after = rng.uniform(0, 180, (5, 30)), rng.uniform(60, 120, (5, 30))
    similarity_plots.angle_histograms(a, before, after, np.tile(np.arange(3), (5, 1)))
    workload = SimpleNamespace(items=rng.standard_normal((50, 4)), queries=rng.standard_normal((8, 4)))
    ann_plots.transform_figure(b, workload, n_pairs=200)
    expected = {_hex(plotting.TRANSFORM_COLOURS["raw"]), _hex(plotting.TRANSFORM_COLOURS["mips"])}
    for ax in (a, b):
        assert {_hex(p.get_edgecolor() if not p.get_fill() else p.get_facecolor()) for p in ax.patches} == expected
