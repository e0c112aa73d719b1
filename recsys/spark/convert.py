"""Our data into Spark DataFrames, and Spark's factors back into numpy, in our index order.

Spark's ALS wants one row per rating with integer user and item columns. We give it *our*
contiguous indices (from :class:`recsys.interactions.IdMap`, the one id <-> index mapping), not
raw MovieLens ids, so that a factor row Spark returns for id ``j`` is row ``j`` of our arrays
and nothing needs a second mapping.

Transfers go through a Parquet file written by pyarrow and read by Spark, not through
``spark.createDataFrame(pandas_frame)``: on this machine the Parquet route moved a million
ratings in about a second where pyspark 3.5's pandas route took ten, and it never touches
pyspark's pandas shims, which warn under pandas 3. It is also how data reaches a real cluster
(files on shared storage). The files live in a temporary folder of this process, removed at
exit; :func:`release` removes one earlier.
"""

from __future__ import annotations

import itertools
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.checks import check_integer
from recsys.interactions import IdMap, check_interactions, entries
from recsys.spark.session import scratch_dir

__all__ = [
    "factors_to_numpy",
    "interactions_frame",
    "ratings_frame",
    "quiet_pyspark",
    "release",
    "to_pandas",
    "vectors_frame",
]

#: Column names of the interaction frames (MLlib's ALS is told these names).
USER, ITEM, RATING = "user", "item", "rating"
_COUNTER = itertools.count()
_FILES: dict[int, Path] = {}


def _write_parquet(table: dict[str, np.ndarray]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = scratch_dir() / f"frame-{os.getpid()}-{next(_COUNTER)}.parquet"
    pq.write_table(pa.table(table), path)
    return path


def _frame(spark, table: dict[str, np.ndarray], partitions: int | None):
    path = _write_parquet(table)
    frame = spark.read.parquet(str(path))
    if partitions is not None:
        frame = frame.repartition(check_integer("partitions", partitions, 1))
    _FILES[id(frame)] = path
    return frame


@contextmanager
def quiet_pyspark():
    """Silence the deprecation warnings pyspark 3.5's pandas shims raise under pandas 3
    (``LooseVersion``, ``astype(copy=...)``): theirs to fix, not ours, and noise in a notebook."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyspark\.")
        yield


def to_pandas(frame) -> pd.DataFrame:
    """``frame.toPandas()`` (through Arrow), quietly (:func:`quiet_pyspark`)."""
    with quiet_pyspark():
        return frame.toPandas()


def release(frame) -> None:
    """Delete the file behind a frame made here (after the frame, and anything lazily built on
    it, is no longer needed). Frames not made here are left alone."""
    path = _FILES.pop(id(frame), None)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def interactions_frame(spark, X, *, partitions: int | None = None):
    """The stored entries of the users x items CSR ``X`` as a Spark DataFrame.

    Columns ``user`` (int), ``item`` (int), ``rating`` (float): row and column indices of ``X``
    (our indices) and the stored value. ``partitions`` repartitions the frame (default: as
    Spark reads the file).
    """
    X = check_interactions(X)
    if X.shape[0] > np.iinfo(np.int32).max or X.shape[1] > np.iinfo(np.int32).max:
        raise ValueError(f"X has shape {X.shape}; Spark's ALS needs user and item indices that fit in int32")
    users, items = entries(X)
    table = {
        USER: users.astype(np.int32),
        ITEM: items.astype(np.int32),
        RATING: X.data.astype(np.float32),
    }
    return _frame(spark, table, partitions)


def ratings_frame(spark, ratings: pd.DataFrame, idmap: IdMap, *, values: str | None = "rating", partitions=None):
    """Raw-id ratings (``user_id``, ``item_id``, ``rating``) as a Spark DataFrame of our indices.

    Ids go through ``idmap`` (unknown ids raise :class:`recsys.interactions.UnknownIdError`);
    ``values=None`` stores 1 for every row (implicit feedback). Same columns as
    :func:`interactions_frame`.
    """
    if not isinstance(idmap, IdMap):
        raise TypeError(f"idmap must be a recsys.interactions.IdMap, got {type(idmap).__name__}")
    users, items = idmap.encode(ratings)
    data = np.ones(len(ratings), dtype=np.float32) if values is None else ratings[values].to_numpy(np.float32)
    X = sp.csr_matrix((data, (users, items)), shape=idmap.shape)
    if X.nnz != len(ratings):
        raise ValueError("ratings hold duplicate (user, item) pairs; use recsys.interactions.deduplicate() first")
    return interactions_frame(spark, X, partitions=partitions)


def vectors_frame(spark, vectors, *, partitions: int | None = None):
    """Row vectors as a Spark DataFrame: ``id`` (int, the row index) and ``vector`` (array<float>)."""
    vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (rows = vectors), got shape {vectors.shape}")
    import pyarrow as pa

    n, d = vectors.shape
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), d).cast(pa.list_(pa.float32()))
    return _frame(spark, {"id": np.arange(n, dtype=np.int32), "vector": column}, partitions)


def factors_to_numpy(frame, n_rows: int, rank: int, dtype=np.float32) -> np.ndarray:
    """An MLlib factor frame (``id``, ``features``) as an (n_rows, rank) array in id order.

    Ids Spark never saw (a user or item with no training entry) get zero rows, the fallback of
    our unbiased models. Ids outside ``[0, n_rows)`` are an error.
    """
    n_rows = check_integer("n_rows", n_rows, 0)
    rank = check_integer("rank", rank, 1)
    pdf = to_pandas(frame.select("id", "features"))
    ids = pdf["id"].to_numpy(np.int64)
    out = np.zeros((n_rows, rank), dtype=dtype)
    if ids.size == 0:
        return out
    if ids.min() < 0 or ids.max() >= n_rows:
        raise ValueError(f"factor ids range over [{ids.min()}, {ids.max()}], outside [0, {n_rows})")
    values = np.stack(pdf["features"].to_numpy())
    if values.shape[1] != rank:
        raise ValueError(f"the factor frame has rank {values.shape[1]}, expected {rank}")
    out[ids] = values
    return out
