"""Fresh bad inputs a new user plausibly hits, and the catalogue of them in docs/robustness.md.

Each test here pins one clear error (the argument named, the way out said) where there used to
be a numpy/faiss message, an AttributeError or a silently wrong result. The last test keeps the
catalogue honest: every test it cites must exist.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from recsys import similarity as S
from recsys.ann import registry
from recsys.ann.exact import BruteForce
from recsys.experiments import serving as retrieval
from recsys.interactions import IdMap, to_csr
from recsys.models import ALS, EASE, EmbeddingDotBias, FactorizationMachine, LightGCN, MultVAE
from recsys.models.base import NotFittedError

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "docs" / "robustness.md"


def _positives(seed: int = 0, shape=(40, 30)) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random(shape) < 0.2).astype(np.float64))


# -- similarity and the MIPS transform -----------------------------------------------------------


def test_check_vectors_names_a_sparse_matrix_instead_of_a_zero_d_shape():
    # np.asarray of a scipy matrix is a 0-d object array: the old message said "got shape ()"
    with pytest.raises(TypeError, match=r"item vectors must be a dense 2-D array, got a sparse .*toarray"):
        S.check_vectors(sp.csr_matrix(np.eye(3)), "item vectors")
    with pytest.raises(TypeError, match="toarray"):
        BruteForce("ip").fit(sp.csr_matrix(np.eye(3)))


@pytest.mark.parametrize(
    "max_norm, error", [(float("nan"), ValueError), (float("inf"), ValueError), ("5", TypeError), (-1.0, ValueError)]
)
def test_mips_transform_refuses_a_non_finite_or_non_numeric_max_norm(max_norm, error):
    # NaN used to pass the "below the largest norm" comparison and fill the extra column with NaN
    with pytest.raises(error, match="max_norm"):
        S.mips_transform(np.array([[3.0, 4.0], [1.0, 0.0]]), max_norm=max_norm)


def test_tie_aware_recall_refuses_ids_outside_the_catalogue():
    reference = np.ones((1, 5))
    # an id past the catalogue used to count silently as a miss: a list from another catalogue
    with pytest.raises(ValueError, match=r"found holds item index 9, outside \[-1, 5\)"):
        S.tie_aware_recall(reference, np.array([[0, 9]]))
    with pytest.raises(ValueError, match="item index -3"):
        S.tie_aware_recall(reference, np.array([[0, -3]]))
    with pytest.raises(TypeError, match="found must hold integer"):  # numpy said "`indices` must be an integer array"
        S.tie_aware_recall(reference, np.array([[0.0, 1.0]]))
    assert S.tie_aware_recall(reference, np.array([[0, -1]]))[0] == 0.5  # -1 (nothing found) is still a miss


# -- ANN adapters ----------------------------------------------------------------------------------


def test_ann_k_threads_and_unbuilt_memory_are_checked_by_name():
    items = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    index = BruteForce("ip").fit(items)
    for k, error in [(0, ValueError), (2.0, TypeError), (True, TypeError), ("3", TypeError)]:
        with pytest.raises(error, match="k must be an integer >= 1"):
            index.query(items[0], k)
    with pytest.raises(ValueError, match="k=51 is larger than the catalogue"):
        index.batch_query(items[:2], 51)
    with pytest.raises(ValueError, match=r"query vectors must be a 2-D array.*\(4,\)"):
        index.batch_query(items[0], 3)  # one vector to batch_query
    with pytest.raises(ValueError, match="query vectors holds no vectors"):
        index.batch_query(np.empty((0, 4)), 3)
    with pytest.raises(ValueError, match="num_threads must be an integer >= 0"):
        index.set_num_threads(-1)
    with pytest.raises(RuntimeError, match="not built yet"):
        BruteForce("ip").memory_bytes()
    with pytest.raises(ValueError, match="metric must be one of 'ip', 'cosine', 'l2'"):
        registry.make("exact-numpy", metric="dot")


@pytest.mark.parametrize(
    "name, build, query, error, match",
    [
        ("hnswlib", {}, {"ef": 0}, ValueError, "ef must be an integer >= 1"),
        ("hnswlib", {}, {"ef": "high"}, TypeError, "ef must be"),
        ("hnswlib", {"M": 0}, None, ValueError, "M must be an integer >= 2"),
        ("faiss-ivf", {"nlist": 100}, None, ValueError, "nlist=100 cells need at least as many vectors; got 50"),
        ("faiss-ivf", {"nlist": 4}, {"nprobe": 1.5}, TypeError, "nprobe must be"),
        ("numpy-lsh", {"bits": 0}, None, ValueError, "bits must be an integer >= 1"),
        ("annoy", {"n_trees": 0}, None, ValueError, "n_trees must be"),
        ("faiss-pq", {}, None, ValueError, r"8-bit codes .* at least 256 training vectors, got 50.*n_bits"),
        ("faiss-ivfpq", {"nlist": 4}, None, ValueError, r"at least 256 training vectors, got 50.*faiss-ivf"),
    ],
)
def test_impossible_index_knobs_fail_with_their_name(name, build, query, error, match):
    cls = registry.get(name)
    if cls.available():
        pytest.skip(cls.available())
    items = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    with pytest.raises(error, match=match):
        index = registry.make(name, "ip", **build)
        if query:
            index.set_query_arguments(**query)
        index.fit(items)


# -- retrieval ---------------------------------------------------------------------------------------


@pytest.fixture
def served():
    rng = np.random.default_rng(2)
    items = rng.normal(size=(50, 4))
    users = rng.normal(size=(5, 4))
    train = sp.csr_matrix((rng.random((5, 50)) < 0.1).astype(np.float64))
    return BruteForce("ip").fit(items), users, train


def test_recommend_with_index_checks_the_index_the_users_and_the_exclusions(served):
    index, users, train = served
    with pytest.raises(RuntimeError, match="not built yet"):  # was AttributeError: no attribute 'n_items_'
        retrieval.recommend_with_index(BruteForce("ip"), users, [0], 3)
    with pytest.raises(IndexError, match="users: user index -1 out of range for 5 users"):  # served the last user
        retrieval.recommend_with_index(index, users, [-1], 3, train)
    with pytest.raises(IndexError, match="user index 7"):
        retrieval.recommend_with_index(index, users, [7], 3, train)
    with pytest.raises(TypeError, match="integer user indices"):  # 0.5 was served as user 0
        retrieval.recommend_with_index(index, users, [0.5], 3, train)
    with pytest.raises(ValueError, match=r"exclude has shape \(5, 10\), expected .* \(5, 50\)"):  # was silent
        retrieval.recommend_with_index(index, users, [0], 3, train[:, :10])
    with pytest.raises(TypeError, match="exclude must be a scipy.sparse"):  # was AttributeError: 'indices'
        retrieval.recommend_with_index(index, users, [0], 3, train.toarray())
    with pytest.raises(ValueError, match="query vectors have 3 dimensions, expected 4"):
        retrieval.recommend_with_index(index, users[:, :3], [0], 3, train)
    lists = retrieval.recommend_with_index(index, users, [0, 4], 3, train)
    assert lists.shape == (2, 3) and not any(train[u, i] for u, row in zip([0, 4], lists) for i in row)


def test_list_quality_needs_one_row_of_k_items_per_user(served):
    _, _, train = served
    lists = np.array([[0, 1, 2], [3, 4, 5]])
    # both used to fail with "recommended row 0 lists an item more than once", which it does not
    with pytest.raises(ValueError, match=r"recommended has shape \(2, 3\), expected .* \(3, 3\)"):
        retrieval.list_quality(lists, [0, 1, 2], train, train, k=3)
    with pytest.raises(ValueError, match=r"expected .* \(2, 5\)"):
        retrieval.list_quality(lists, [0, 1], train, train, k=5)
    with pytest.raises(IndexError, match="user index 9"):
        retrieval.list_quality(lists, [0, 9], train, train, k=3)
    assert retrieval.list_quality(lists, [0, 1], train, train, k=3)["n_users"] == 2


# -- interactions -------------------------------------------------------------------------------------


def test_to_csr_refuses_nan_values_missing_ids_and_missing_columns():
    ratings = pd.DataFrame(
        {"user_id": [1, 1, 2, 3], "item_id": [10, 20, 10, 30], "rating": np.float32([4, 5, 3, 1])},
        index=[100, 101, 102, 103],
    )
    with pytest.raises(
        ValueError, match=r"ratings\['rating'\] holds 1 NaN or infinite value\(s\) \(first at row 102\)"
    ):
        to_csr(ratings.assign(rating=[4.0, 5.0, np.nan, 1.0]))  # used to build a matrix that stores NaN
    with pytest.raises(ValueError, match=r"ratings\['item_id'\] holds 1 missing id"):  # was "IdMap.item_ids ... sorted"
        to_csr(ratings.assign(item_id=[10, np.nan, 10, 30]))
    with pytest.raises(ValueError, match=r"ratings lacks column\(s\) \['rating'\]"):  # was KeyError: 'rating'
        to_csr(ratings.drop(columns="rating"))
    with pytest.raises(TypeError, match="ratings must be a pandas DataFrame"):
        IdMap.from_ratings({"user_id": [1], "item_id": [2]})
    assert to_csr(ratings.drop(columns="rating"), values=None).nnz == 4  # no values column needed


# -- models -----------------------------------------------------------------------------------------


def test_a_callback_that_is_not_callable_is_named():
    X = sp.csr_matrix(np.array([[5.0, 3.0, 0.0], [4.0, 0.0, 1.0], [1.0, 2.0, 3.0]]))
    with pytest.raises(TypeError, match=r"callback must be callable as callback\(model, iteration\).*got 3"):
        ALS(factors=2, iterations=1).fit(X, callback=3)  # was TypeError: 'int' object is not callable


NEW_FAMILIES = {
    "EASE": lambda: EASE(),
    "MultVAE": lambda: MultVAE(iterations=1, factors=4, hidden=8),
    "LightGCN": lambda: LightGCN(iterations=1, factors=4),
    "FactorizationMachine": lambda: FactorizationMachine(iterations=1, factors=4),
    "EmbeddingDotBias": lambda: EmbeddingDotBias(iterations=1, factors=4),
}


@pytest.mark.parametrize("name", list(NEW_FAMILIES))
def test_the_newer_model_families_refuse_bad_inputs_like_the_others(name):
    make = NEW_FAMILIES[name]
    X = _positives()
    with pytest.raises(NotFittedError):
        make().score([0])
    with pytest.raises(TypeError, match="scipy.sparse"):
        make().fit(X.toarray())
    with pytest.raises(ValueError, match="no entries"):
        make().fit(sp.csr_matrix((4, 5)))
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        make().fit(bad)
    with pytest.raises(ValueError, match="validation has shape"):
        make().fit(X, validation=X[:5])
    model = make().fit(X)
    with pytest.raises(IndexError, match="user index 40 out of range"):
        model.score([40])
    with pytest.raises(IndexError, match="user index -1 out of range"):  # never wraps to the last user
        model.score([-1])
    with pytest.raises(TypeError, match="users must be integer"):
        model.score([0.5])


# -- the runner ---------------------------------------------------------------------------------------


def _tiny_notebook(path: Path) -> Path:
    params = new_code_cell("scale = 2")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# tiny"), params, new_code_cell("x = scale")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_ctrl_c_marks_the_running_notebook_failed_removes_its_old_results_and_exits_130(tmp_path, monkeypatch, capsys):
    import papermill

    from recsys.__main__ import main
    from recsys.notebook import runner

    notebooks = tmp_path / "notebooks"
    _tiny_notebook(notebooks / "01_tiny.ipynb")
    build = tmp_path / "build"
    stale = build / "results" / "01_tiny.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"results": {"x": 1}}')  # an earlier run's results

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    original = runner.discover
    monkeypatch.setattr(runner, "discover", lambda folder=None: original(notebooks))
    code = main(["run", "--build-dir", str(build), "--quiet", "--no-html"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert not stale.exists()  # nothing that looks current is left behind
    status = json.loads((build / "runs" / "01_tiny.json").read_text())
    assert status["status"] == "failed" and "Ctrl-C" in status["error"]


def test_a_slow_kernel_start_is_given_time(monkeypatch, tmp_path):
    import papermill

    from recsys.notebook import runner

    notebooks = tmp_path / "notebooks"
    _tiny_notebook(notebooks / "01_tiny.ipynb")
    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("Kernel didn't respond in 300 seconds")

    monkeypatch.setattr(papermill, "execute_notebook", record)
    [result] = runner.run(
        notebooks_dir=notebooks, build_dir=tmp_path / "build", html=False, progress=False, log=lambda *a: None
    )
    assert seen["start_timeout"] == runner.KERNEL_START_SECONDS >= 300
    assert not result.ok and "Kernel didn't respond" in result.error


def test_results_that_do_not_reproduce_the_committed_notebook_exit_3(monkeypatch, capsys):
    from recsys.__main__ import main
    from recsys.notebook import runner

    differing = SimpleNamespace(
        ok=True, stem="01_tiny", seconds=1.0, error=None, reproduction=["x: reference 1, now 2"]
    )
    monkeypatch.setattr(runner, "run", lambda **kwargs: [differing])
    assert main(["run", "--quiet"]) == runner.EXIT_NOT_REPRODUCED == 3
    assert "did not reproduce" in capsys.readouterr().err
    monkeypatch.setattr(runner, "run", lambda **kwargs: [SimpleNamespace(**{**vars(differing), "reproduction": []})])
    assert main(["run", "--quiet"]) == 0


# -- the catalogue -------------------------------------------------------------------------------------

_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _catalogue_rows() -> list[str]:
    return [line for line in CATALOGUE.read_text().splitlines() if line.startswith("|") and _REFERENCE.search(line)]


def test_the_catalogue_cites_only_tests_that_exist():
    rows = _catalogue_rows()
    assert len(rows) >= 60, f"docs/robustness.md lists {len(rows)} cases; it should list at least 60"
    missing = []
    for row in rows:
        for path, name in _REFERENCE.findall(row):
            source = ROOT / path
            if not source.is_file() or not re.search(rf"^\s*def {name}\(", source.read_text(), re.M):
                missing.append(f"{path}::{name}")
    assert not missing, f"docs/robustness.md cites tests that do not exist: {sorted(set(missing))}"
    # this file's own tests are all in the catalogue
    own = set(re.findall(r"^def (test_\w+)\(", Path(__file__).read_text(), re.M))
    cited = {name for row in rows for path, name in _REFERENCE.findall(row) if path == "tests/test_robustness.py"}
    assert own - {"test_the_catalogue_cites_only_tests_that_exist"} <= cited, own - cited
