"""Notebook 04 and its figures: the plots of recsys.notebook.embedding_plots, then a papermill run.

The plot tests check what a reader relies on: labels that neither overlap nor leave their panel,
the geometry drawn for each measure, and an interactive map that carries its own plotly.js.
"""

from __future__ import annotations

import base64
import gzip
import json
import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from notebook_runs import SMALL, small_run  # noqa: E402

from recsys.catalogue import Catalogue  # noqa: E402
from recsys.notebook import embedding_plots as EP  # noqa: E402
from recsys.notebook import plotting, runner  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    plotting.setup()
    yield
    plt.close("all")


def _boxes(ax):
    renderer = ax.figure.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]


def _assert_readable(ax):
    boxes = _boxes(ax)
    frame = ax.get_window_extent(ax.figure.canvas.get_renderer())
    for i, box in enumerate(boxes):
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), "a label leaves its panel"
        for other in boxes[i + 1 :]:
            assert not box.overlaps(other), "two labels overlap"


def test_factor_planes_label_without_overlaps_and_draw_every_user():
    rng = np.random.default_rng(0)
    items = rng.standard_normal((300, 2)) * 0.3
    crowded = np.arange(20)
    items[crowded] = rng.normal(0, 0.02, (20, 2))  # twenty films on top of each other
    panel = {
        "item_xy": items,
        "labelled": crowded,
        "labels": [f"film number {i}" for i in crowded],
        "user_xy": np.array([[2.0, 0.5], [-1.0, 1.5]]),
        "user_labels": ["user 1", "user 2"],
        "user_scale": 0.4,
        "title": "a plane",
    }
    fig = EP.factor_planes([panel, panel])
    assert len(fig.axes) == 2
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.texts]
        assert "user 1" in texts and "user 2" in texts
        assert 0 < sum(t.startswith("film") for t in texts) < 20  # some fit, the rest are left out
        _assert_readable(ax)


def test_measure_panels_draw_the_line_the_wedge_and_the_circle():
    rng = np.random.default_rng(1)
    items = np.abs(rng.standard_normal((200, 2)))
    user = np.array([1.0, 1.0])
    candidates = np.arange(200)
    tops = {
        "dot": np.argsort(-(items @ user))[:5],
        "cosine": np.argsort(-(items @ user) / np.linalg.norm(items, axis=1))[:5],
        "euclidean": np.argsort(np.linalg.norm(items - user, axis=1))[:5],
    }
    labels = {i: f"film {i}" for i in candidates}
    fig = EP.measure_panels(user, items, candidates, tops, labels, name="user 7", suptitle="three measures")
    dot, cosine, euclidean = fig.axes
    assert any(line.get_linestyle() == "--" for line in dot.lines)
    assert any(type(p).__name__ == "Wedge" for p in cosine.patches)
    assert any(type(p).__name__ == "Circle" for p in euclidean.patches)
    assert "user 7" in cosine.get_title() and "°" in cosine.get_title()
    for ax in fig.axes:
        _assert_readable(ax)
    with pytest.raises(ValueError, match="zero"):
        EP.measure_panels([0.0, 0.0], items, candidates, tops, labels)


def test_genre_maps_colour_by_group_and_refuse_unknown_groups():
    xy = np.random.default_rng(2).standard_normal((50, 2))
    groups = np.array(["Horror", "Romance", "other", "Horror", "Documentary"] * 10, dtype=object)
    fig = EP.genre_maps({"a": xy, "b": -xy}, groups, landmarks=[0, 1], landmark_labels=["The Thing", "Casablanca"])
    assert len(fig.axes) == 2 and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Horror", "Documentary", "Romance", "other"]
    for ax in fig.axes:
        assert {t.get_text() for t in ax.texts} == {"The Thing", "Casablanca"}
    with pytest.raises(ValueError, match="no colour for group"):
        EP.genre_maps({"a": xy}, np.array(["Western"] * 50, dtype=object))


def test_summary_plots_run():
    import pandas as pd

    fig, axes = plt.subplots(1, 3)
    table = pd.DataFrame(
        {"cosine": [0.8, 0.7], "cosine_baseline": [0.5, 0.5], "dot": [0.7, 0.6], "dot_baseline": [0.5, 0.5]},
        index=["a", "b"],
    )
    EP.coherence_bars(axes[0], table)
    EP.plot_norm_popularity(axes[1], np.arange(1, 101), np.log(np.arange(1, 101)), spearman=1.0, threshold=20)
    EP.matrix_heatmap(axes[2], pd.DataFrame(np.eye(2), index=["a", "b"], columns=["a", "b"]))
    assert [t.get_text() for t in axes[2].texts] == ["1.00", "0.00", "0.00", "1.00"]


def test_the_hover_map_carries_its_own_plotlyjs():
    pytest.importorskip("plotly")
    from plotly.offline import get_plotlyjs

    xy = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    figure = EP.hover_map(xy, ["<b>Alien</b></script>", "Up", "Heat"], ["Horror", "Children & animation", "other"])
    bundle = figure._repr_mimebundle_()
    html = bundle["text/html"]
    assert not re.search(r"https?://", html.split("var packed")[0]) and "<script src" not in html  # no network
    packed = re.search(r'var packed = "([A-Za-z0-9+/=]+)"', html).group(1)
    assert gzip.decompress(base64.b64decode(packed)).decode("utf-8") == get_plotlyjs()
    payload = json.loads(re.search(r"var figure = (\{.*?\});\n", html, re.S).group(1).replace("<\\/", "</"))
    assert [trace["name"] for trace in payload["data"]] == ["other", "Children & animation", "Horror"]
    assert html.count("</script>") == 1  # the hover text cannot close the script early
    assert bundle["application/vnd.plotly.v1+json"]["data"][2]["text"] == ["<b>Alien</b></script>"]
    catalogue = Catalogue(
        np.array([1, 2]),
        np.array(["Tom & Jerry (1992)", "Up (2009)"]),
        (frozenset({"Children"}), frozenset()),
        [3, 1200],
    )
    assert EP.hover_lines(catalogue, [0, 1]) == [
        "<b>Tom &amp; Jerry (1992)</b><br>Children<br>3 training ratings",
        "<b>Up (2009)</b><br>no genre<br>1,200 training ratings",
    ]
    cost = EP.plotlyjs_cost()
    assert cost["embedded_bytes"] < cost["raw_bytes"] / 2
    with pytest.raises(ValueError, match="differ in length"):
        EP.hover_map(xy, ["a"], ["other"] * 3)


# --------------------------------------------------------------------------------- the notebook


def _run(tmp_path, **overrides):
    runs = runner.run(
        only=["04"],
        parameters={**SMALL["04"], **overrides},
        build_dir=tmp_path,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )
    return runs[0]


@pytest.mark.notebook
@pytest.mark.xdist_group("nb04")
def test_nb04_embedding_visualization_small(tmp_path_factory):
    with_ml100k = SMALL["04"]["use_ml100k"]
    run = small_run("04", tmp_path_factory)
    assert run.ok, run.error
    results = json.loads(run.results_file.read_text())["results"]
    data = "ml-latest-small"
    assert results["titles"][data] == {
        "Toy Story (1995)": "Toy Story (1995)",
        "Star Wars (1977)": "Star Wars: Episode IV - A New Hope (1977)",
        "The Godfather (1972)": "Godfather, The (1972)",
        "Pulp Fiction (1994)": "Pulp Fiction (1994)",
        "The Shining (1980)": "Shining, The (1980)",
        "The Lion King (1994)": "Lion King, The (1994)",
    }
    models = {"ALS", "implicit ALS", "PureSVD", "BPR"}
    coherence = results["coherence"][data]
    assert models <= set(coherence) and any(name.startswith("implicit ALS (seed") for name in coherence)
    for name in models:
        for measure in ("cosine", "dot"):
            assert 0 < coherence[name][f"{measure}_baseline"] < 1 and 0 <= coherence[name][measure] <= 1
    assert coherence["implicit ALS"]["cosine"] > coherence["implicit ALS"]["cosine_baseline"]
    norms = results["norm_popularity"][data]
    assert models <= set(norms) and all(
        -1 <= v["pearson"] <= 1 and -1 <= v["spearman_candidates"] <= 1 for v in norms.values()
    )
    overlap = results["overlap"][data]
    assert all(overlap[name][name] == 1 for name in overlap)
    assert overlap["implicit ALS"]["PureSVD"] == overlap["PureSVD"]["implicit ALS"]
    two = results["two_factors"][data]
    assert set(two) == models and two["ALS"]["RMSE (2 factors)"] > 0 and two["BPR"]["RMSE (2 factors)"] is None
    assert all(0 <= row["nDCG@10 (2 factors)"] <= 1 for row in two.values())
    assert 0 < results["two_seeds"][data]["linear CKA"] <= 1
    example = results["plane"][data]["example"]
    assert example["dot"][0] >= example["dot"][1] >= example["dot"][2]
    assert len(run.figures) >= 7
    if with_ml100k:
        assert models <= set(results["ml100k"]["coherence"]) and "ml100k" not in run.skipped
        assert "Star Wars (1977)" in results["ml100k"]["titles"]
    else:
        assert "ml100k" in run.skipped


@pytest.mark.notebook
def test_nb04_bad_titles_fail_in_the_first_cell(tmp_path):
    run = _run(tmp_path, query_titles=[], use_ml100k=False)
    assert not run.ok and "ParameterError" in run.error and "query_titles" in run.error


def test_the_length_popularity_curve_follows_a_saturating_relation():
    """Binned medians draw the relation as it is: a length that saturates is flat at the top,
    where a straight line in log popularity would keep rising."""
    popularity = np.repeat(np.geomspace(1, 1000, 40), 5)
    norms = 1 - np.exp(-popularity / 10)  # saturates above ~30 ratings
    curve = EP.norm_popularity_curve(popularity, norms, n_bins=8)
    assert curve["n"].sum() == popularity.size and (np.diff(curve["popularity"]) > 0).all()
    assert (curve["q25"] <= curve["median"]).all() and (curve["median"] <= curve["q75"]).all()
    assert curve["median"].iloc[-1] == pytest.approx(1.0, abs=1e-6)
    assert curve["median"].iloc[-2] == pytest.approx(1.0, abs=1e-3)  # flat: the curve shows the saturation
    assert curve["median"].iloc[0] < 0.3
    with pytest.raises(ValueError, match="at least 3"):
        EP.norm_popularity_curve([0, 0, 5], [1, 2, 3])


def test_a_framed_map_keeps_the_landmarks_and_counts_what_it_leaves_out():
    rng = np.random.default_rng(0)
    xy = np.vstack([rng.normal(0, 0.01, (200, 2)), [[5.0, 5.0], [-4.0, 0.0]]])  # a blob and two far points
    framed = EP.framed_points(xy, 0.01)
    assert framed[:200].mean() > 0.95 and not framed[200:].any()
    assert EP.framed_points(xy, 0.01, keep=[200])[200]  # a landmark is always inside
    with pytest.raises(ValueError, match="quantile"):
        EP.framed_points(xy, 0.5)
    fig = EP.genre_maps({"m": xy}, ["other"] * len(xy), frame_quantile=0.01)
    ax = fig.axes[0]
    assert (
        ax.get_xlim()[1] < 1 and ax.get_title() == f"m ({int((~EP.framed_points(xy, 0.01)).sum())} outside the frame)"
    )
    plt.close(fig)
