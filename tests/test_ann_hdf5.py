"""ann-benchmarks' HDF5 dataset files: read as workloads, their neighbours checked against our exact
ground truth, bad files refused by name, and ``python -m recsys ann --hdf5`` on a small file.

The files are written here in the layout of ann-benchmarks' ``datasets.py:write_output`` (attributes
``type``, ``distance``, ``dimension``, ``point_type``; datasets ``train``, ``test``, ``neighbors``
(int64, nearest first), ``distances`` (float64)), with the neighbours found by numpy the way its
``BruteForceBLAS`` ranks them. No network.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="h5py is not installed (pip install h5py, or the project's hdf5 extra)")

from recsys.ann import bench  # noqa: E402
from recsys.ann.ann_benchmarks_format import DISTANCE_METRICS, check_ground_truth, read_hdf5  # noqa: E402
from recsys.ann.ground_truth import GroundTruth  # noqa: E402
from recsys.similarity import mips_transform  # noqa: E402


def _brute_force(train: np.ndarray, test: np.ndarray, distance: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` nearest train rows of each test row and their distances, as ann-benchmarks computes them."""
    X, Q = train.astype(np.float64), test.astype(np.float64)
    if distance == "angular":  # 1 - cos
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        dists = 1.0 - Qn @ Xn.T
    elif distance == "euclidean":
        dists = np.sqrt(np.maximum(((Q[:, None, :] - X[None, :, :]) ** 2).sum(-1), 0.0))
    elif distance == "dot":
        dists = -(Q @ X.T)
    else:
        raise ValueError(distance)
    ids = np.argsort(dists, axis=1, kind="stable")[:, :count]
    return ids, np.take_along_axis(dists, ids, axis=1)


def write_ann_benchmarks_file(path, train, test, distance, *, count=100, point_type="float"):
    """A file laid out as ann-benchmarks' ``write_output`` lays it out."""
    ids, dists = _brute_force(train, test, distance, count)
    with h5py.File(path, "w") as f:
        f.attrs["type"] = "dense"
        f.attrs["distance"] = distance
        f.attrs["dimension"] = len(train[0])
        f.attrs["point_type"] = point_type
        f.create_dataset("train", data=train)
        f.create_dataset("test", data=test)
        f.create_dataset("neighbors", data=ids, dtype=int)
        f.create_dataset("distances", data=dists, dtype=float)
    return path


def _vectors(n_train=500, n_test=20, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, dim)) * 2
    train = centres[rng.integers(0, 5, n_train)] + rng.normal(size=(n_train, dim))
    train *= rng.lognormal(0.0, 0.5, size=(n_train, 1))
    test = centres[rng.integers(0, 5, n_test)] + rng.normal(size=(n_test, dim))
    return train.astype(np.float32), test.astype(np.float32)


@pytest.fixture
def small_file(tmp_path):
    train, test = _vectors()
    return write_ann_benchmarks_file(tmp_path / "small-8-angular.hdf5", train, test, "angular")


@pytest.mark.parametrize("distance, metric", [("angular", "cosine"), ("euclidean", "l2"), ("dot", "ip")])
def test_read_hdf5_gives_the_vectors_the_metric_and_the_neighbours(tmp_path, distance, metric):
    train, test = _vectors()
    path = write_ann_benchmarks_file(tmp_path / f"blobs-8-{distance}.hdf5", train, test, distance)
    workload, neighbors = read_hdf5(path)
    assert DISTANCE_METRICS[distance] == metric == workload.metric
    assert workload.name == f"blobs-8-{distance}" and workload.items.dtype == workload.queries.dtype == np.float32
    np.testing.assert_array_equal(workload.items, train)
    np.testing.assert_array_equal(workload.queries, test)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(neighbors, f["neighbors"][()])
    assert neighbors.dtype == np.int64 and neighbors.shape == (20, 100)
    assert workload.params == {"kind": "ann-benchmarks", "file": path.name, "distance": distance, "n_test": 20}
    first, ids = read_hdf5(path, max_queries=5, name="five")
    assert first.name == "five" and first.n_queries == 5 and ids.shape == (5, 100)
    np.testing.assert_array_equal(first.queries, test[:5])
    np.testing.assert_array_equal(ids, neighbors[:5])
    assert read_hdf5(path, max_queries=10_000)[0].n_queries == 20  # more than the file has: all of them
    assert read_hdf5(path, metric="l2")[0].metric == "l2"


@pytest.mark.parametrize("distance", ["angular", "euclidean", "dot"])
def test_our_ground_truth_agrees_with_the_files_neighbours(tmp_path, distance):
    train, test = _vectors(seed=1)
    path = write_ann_benchmarks_file(tmp_path / f"f-{distance}.hdf5", train, test, distance)
    workload, neighbors = read_hdf5(path)
    for k in (1, 10, 100):
        agreement = check_ground_truth(workload, neighbors, k)
        assert agreement.recall == 1.0 and agreement.n_differing == 0 and agreement.agrees, (k, str(agreement))
        assert (agreement.our_recall == 1.0).all() and agreement.n_queries == 20
    assert "agree on 20 of 20 queries (recall@100 of the file's lists against ours 1.0000" in str(agreement)
    assert agreement.record()["n_differing"] == 0


def test_a_corrupted_neighbours_column_is_detected(small_file):
    workload, neighbors = read_hdf5(small_file)
    scores = bench.exact_scores(workload.items, workload.queries, np.tile(np.arange(500), (20, 1)), "cosine")
    worst = scores.argmin(axis=1)
    corrupted = neighbors.copy()
    rows = [2, 5, 7]
    corrupted[rows, 3] = worst[rows]  # column 3 of three rows: the query's worst item instead
    agreement = check_ground_truth(workload, corrupted, 10)
    assert not agreement.agrees and agreement.n_differing == 3
    assert agreement.differing.tolist() == rows
    assert agreement.recall == pytest.approx(1 - 3 / (20 * 10))
    assert agreement.file_recall[rows].tolist() == [0.9, 0.9, 0.9]
    assert "they differ on 3 queries (the first: 2, 5, 7)" in str(agreement)
    assert check_ground_truth(workload, corrupted, 3).agrees  # the corrupted column lies beyond k = 3
    # an id listed twice (ann-benchmarks' lists never repeat one) counts once
    repeated = neighbors.copy()
    repeated[0, 1] = repeated[0, 0]
    assert check_ground_truth(workload, repeated, 10).differing.tolist() == [0]


def test_the_reverse_direction_catches_a_wrong_ground_truth(small_file):
    workload, neighbors = read_hdf5(small_file)
    true = bench.ground_truth(workload, 10)
    # a "ground truth" that missed the best item of query 4: its k-th score is too low, so the file's
    # (right) lists all reach it; only our lists measured against the file's show the error
    ids, scores = true.ids.copy(), true.scores.copy()
    ids[4] = bench.ground_truth(workload, 11).ids[4, 1:]
    scores[4] = bench.exact_scores(workload.items, workload.queries[4:5], ids[4:5], "cosine")[0]
    wrong = GroundTruth(ids, scores, "cosine")
    agreement = check_ground_truth(workload, neighbors, 10, truth=wrong)
    assert agreement.recall == 1.0 and agreement.our_recall[4] == 0.9
    assert agreement.differing.tolist() == [4] and not agreement.agrees


def test_lastfm_layout_angular_on_mips_transformed_factors_ranks_as_inner_product(tmp_path):
    """lastfm-64-dot's recipe: item factors given one norm by an extra coordinate, users a 0 there,
    written with distance "angular". Read as cosine; as every item has the same norm, "ip" ranks
    it the same, and both agree with the file's neighbours."""
    train, test = _vectors(n_train=500, n_test=20, dim=7, seed=2)
    items, users, _ = mips_transform(train, test)
    path = write_ann_benchmarks_file(tmp_path / "lastfm-8-dot.hdf5", items, users, "angular")
    workload, neighbors = read_hdf5(path)
    assert workload.metric == "cosine" and workload.dim == 8
    norms = np.linalg.norm(workload.items.astype(np.float64), axis=1)
    assert np.allclose(norms, norms[0], rtol=1e-6)
    assert check_ground_truth(workload, neighbors, 10).agrees
    as_ip, _ = read_hdf5(path, metric="ip")
    assert as_ip.metric == "ip" and check_ground_truth(as_ip, neighbors, 10).agrees
    # and the file's neighbours are the inner-product top items of the factors before the transform
    exact = np.argsort(-(test.astype(np.float64) @ train.astype(np.float64).T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(neighbors[:, :10], exact)


def _edit(path, change):
    with h5py.File(path, "a") as f:
        change(f)
    return path


def _replace(key, data, **kwargs):
    def change(f):
        del f[key]
        f.create_dataset(key, data=data, **kwargs)

    return change


def _set_attr(name, value):
    def change(f):
        f.attrs[name] = value

    return change


def _bad_train():
    train, _ = _vectors()
    train[17, 3] = np.nan
    return train


def _bad_test():
    _, test = _vectors()
    test[4, 0] = np.inf
    return test


BAD_FILES = {
    "jaccard": (_set_attr("distance", "jaccard"), "distance 'jaccard' is not supported"),
    "hamming": (_set_attr("distance", "hamming"), "distance 'hamming' is not supported"),
    "unknown distance": (_set_attr("distance", "cosine"), "distance 'cosine' is not supported"),
    "no distance": (lambda f: f.attrs.__delitem__("distance"), "no 'distance' attribute"),
    "sparse": (_set_attr("type", "sparse"), "type 'sparse' is not supported"),
    "bits": (_set_attr("point_type", "bit"), "point_type 'bit' is not supported"),
    "no test": (lambda f: f.__delitem__("test"), "no 'test' dataset"),
    "1-D train": (_replace("train", np.ones(8, dtype=np.float32)), "dataset 'train' must be a non-empty 2-D"),
    "text train": (_replace("train", np.array([[b"a"] * 8] * 5)), "dataset 'train' must hold numbers"),
    "dimensions": (_replace("test", np.ones((20, 9), dtype=np.float32)), "'test' has 9 dimensions but 'train' has 8"),
    "dimension attribute": (_set_attr("dimension", 12), "the 'dimension' attribute says 12 but 'train' has 8"),
    "NaN in train": (_replace("train", _bad_train()), "dataset 'train' holds NaN or infinite values"),
    "inf in test": (
        _replace("test", _bad_test()),
        "dataset 'test' holds NaN or infinite values in 1 row(s), the first row 4",
    ),
    "float32 overflow": (
        _replace("train", np.full((500, 8), 1e300)),
        "dataset 'train' holds values beyond float32's range in 500 row(s), the first row 0",
    ),
    "neighbors rows": (
        _replace("neighbors", np.zeros((19, 100), dtype=np.int64)),
        "dataset 'neighbors' has 19 rows but 'test' has 20",
    ),
    "neighbors floats": (_replace("neighbors", np.zeros((20, 100))), "dataset 'neighbors' must hold integer ids"),
    "neighbors outside train": (
        _replace("neighbors", np.full((20, 100), 500, dtype=np.int64)),
        "dataset 'neighbors' holds ids outside 'train' (0 to 499): 500 at row 0, column 0",
    ),
    "distances shape": (_replace("distances", np.zeros((20, 10))), "dataset 'distances' has shape (20, 10)"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_fail_with_the_file_and_the_problem(small_file, case):
    change, message = BAD_FILES[case]
    _edit(small_file, change)
    with pytest.raises(ValueError) as error:
        read_hdf5(small_file)
    assert str(small_file) in str(error.value) and message in str(error.value), str(error.value)


def test_missing_and_non_hdf5_files_are_named(tmp_path, small_file):
    with pytest.raises(FileNotFoundError, match="no ann-benchmarks HDF5 file at .*nowhere.hdf5"):
        read_hdf5(tmp_path / "nowhere.hdf5")
    with pytest.raises(ValueError, match="is not a file"):
        read_hdf5(tmp_path)
    text = tmp_path / "notes.hdf5"
    text.write_text("train,test\n1,2\n")
    with pytest.raises(ValueError, match=f"{text} is not an HDF5 file"):
        read_hdf5(text)
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(small_file.read_bytes()[:2048])  # the HDF5 signature, then the file stops
    with pytest.raises(ValueError, match=f"{truncated} could not be read as an HDF5 file"):
        read_hdf5(truncated)
    with pytest.raises(ValueError, match="max_queries must be"):
        read_hdf5(small_file, max_queries=0)
    with pytest.raises(ValueError, match="metric must be one of"):
        read_hdf5(small_file, metric="angular")


def test_a_file_without_neighbours_reads_with_none(small_file):
    _edit(small_file, lambda f: (f.__delitem__("neighbors"), f.__delitem__("distances")))
    workload, neighbors = read_hdf5(small_file)
    assert neighbors is None and workload.n_queries == 20


def test_without_h5py_the_error_says_pip_install(small_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(ImportError, match=r"pip install h5py"):
        read_hdf5(small_file)


def test_check_ground_truth_refuses_lists_that_do_not_fit(small_file):
    workload, neighbors = read_hdf5(small_file, max_queries=10)
    with pytest.raises(ValueError, match="neighbors has 9 rows but the workload has 10 queries"):
        check_ground_truth(workload, neighbors[:9], 10)
    with pytest.raises(ValueError, match="k=20 is more than the 10 neighbours listed per query"):
        check_ground_truth(workload, neighbors[:, :10], 20)
    with pytest.raises(ValueError, match="integer ids"):
        check_ground_truth(workload, neighbors.astype(float), 10)
    with pytest.raises(ValueError, match="k must be"):
        check_ground_truth(workload, neighbors, 0)
    with pytest.raises(ValueError, match="truth covers"):
        check_ground_truth(workload, neighbors, 10, truth=bench.ground_truth(workload, 5))


@pytest.fixture
def cli(monkeypatch):
    from recsys import __main__ as cli
    from recsys.experiments import serving as retrieval

    def no_training(*args, **kwargs):
        raise AssertionError("--hdf5 must not train the real factors")

    monkeypatch.setattr(retrieval, "real_embeddings", no_training)
    fast_builds = bench.library_builds
    monkeypatch.setattr(bench, "library_builds", lambda: fast_builds(inspect_binaries=False))
    return cli


QUICK = ["--methods", "exact-numpy,numpy-lsh", "--grid", "quick", "--quiet", "--time-budget", "30"]


def test_command_line_benchmarks_an_hdf5_file_after_checking_its_ground_truth(small_file, tmp_path, cli, capsys):
    out_dir = tmp_path / "out"
    code = cli.main(["ann", "--hdf5", str(small_file), "--n-queries", "15", "--out", str(out_dir), *QUICK])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ann-benchmarks distance 'angular' -> metric 'cosine'; the first 15 of 20 test vectors" in out
    check = "ground truth: the file's neighbours and our exact top-10 agree on 15 of 15 queries"
    assert check in out and "Pareto frontier" in out and "numpy-lsh" in out
    assert out.index(check) < out.index("Pareto frontier")
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved["hdf5"]["distance"] == "angular" and saved["hdf5"]["agreement"]["n_differing"] == 0
    assert saved["settings"]["workload"]["name"] == "small-8-angular"
    assert saved["settings"]["workload"]["n_items"] == 500 and saved["settings"]["workload"]["n_queries"] == 15
    exact = [row for row in saved["results"] if row["method"] == "exact-numpy"]
    assert exact and exact[0]["recall"] == 1.0


def test_command_line_says_when_the_file_and_our_ground_truth_differ(small_file, tmp_path, cli, capsys):
    _, neighbors = read_hdf5(small_file)
    corrupted = neighbors.copy()
    corrupted[1, 0] = next(i for i in range(500) if i not in set(neighbors[1, :11]))  # not in query 1's top 10
    _edit(small_file, _replace("neighbors", corrupted))
    code = cli.main(["ann", "--hdf5", str(small_file), "--out", str(tmp_path / "o"), *QUICK])
    out = capsys.readouterr().out
    assert code == 0
    assert "agree on 19 of 20 queries" in out and "they differ on 1 queries (the first: 1)" in out
    assert "not the file's lists" in out


def test_command_line_metric_override_on_the_lastfm_layout(tmp_path, cli, capsys):
    train, test = _vectors(n_train=500, n_test=20, dim=7, seed=3)
    items, users, _ = mips_transform(train, test)
    path = write_ann_benchmarks_file(tmp_path / "lastfm-8-dot.hdf5", items, users, "angular")
    code = cli.main(["ann", "--hdf5", str(path), "--metric", "ip", "--out", str(tmp_path / "o"), *QUICK])
    out = capsys.readouterr().out
    assert code == 0
    assert "distance 'angular' -> metric 'ip'" in out and "agree on 20 of 20 queries" in out


def test_command_line_errors_on_a_bad_hdf5_file_and_misused_options(tmp_path, cli, capsys, small_file):
    missing = tmp_path / "nowhere.hdf5"
    assert cli.main(["ann", "--hdf5", str(missing), "--out", str(tmp_path), *QUICK]) == 2
    assert f"error: no ann-benchmarks HDF5 file at {missing}" in capsys.readouterr().err
    _edit(small_file, _set_attr("distance", "jaccard"))
    assert cli.main(["ann", "--hdf5", str(small_file), "--out", str(tmp_path), *QUICK]) == 2
    assert "distance 'jaccard' is not supported" in capsys.readouterr().err
    assert cli.main(["ann", "--metric", "ip", "--out", str(tmp_path), *QUICK]) == 2
    assert "--metric applies to --hdf5 only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["ann", "--workload", "real", "--hdf5", str(small_file)])
    assert exit_.value.code == 2 and "not allowed with" in capsys.readouterr().err
