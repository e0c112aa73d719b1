"""Every adapter by name: the harness, the command line and the notebooks build indexes from here.

``make("hnswlib", metric="ip", M=16)`` returns an unbuilt index; :func:`availability` says which
adapters can run on this machine and, for the others, why not (the missing pip package).
Importing this module imports no search library: adapters import theirs when they build.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from recsys.ann.annoy_index import Annoy, AnnoyDot
from recsys.ann.base import ANNIndex
from recsys.ann.exact import BruteForce
from recsys.ann.faiss_indexes import (
    FaissFlat,
    FaissHNSW,
    FaissHNSWSQ,
    FaissIVFFlat,
    FaissIVFPQ,
    FaissIVFPQFastScan,
    FaissLSH,
    FaissPQ,
)
from recsys.ann.hnswlib_index import HnswLib, HnswLibMIPS
from recsys.ann.lsh import RandomHyperplaneLSH
from recsys.ann.nmslib_index import NmslibHNSW, NmslibHNSWMIPS
from recsys.ann.scann_index import ScaNN
from recsys.ann.usearch_index import USearch

__all__ = ["ADAPTERS", "DEFAULT_METHODS", "availability", "get", "make"]

#: name -> adapter class, in the order tables list them (exact first, then by family).
ADAPTERS: dict[str, type[ANNIndex]] = {
    cls.name: cls
    for cls in (
        BruteForce,
        FaissFlat,
        HnswLib,
        HnswLibMIPS,
        NmslibHNSW,
        NmslibHNSWMIPS,
        FaissHNSW,
        FaissHNSWSQ,
        USearch,
        Annoy,
        AnnoyDot,
        RandomHyperplaneLSH,
        FaissLSH,
        FaissPQ,
        FaissIVFFlat,
        FaissIVFPQ,
        FaissIVFPQFastScan,
        ScaNN,
    )
}


#: What ``python -m recsys ann`` measures by default: exact search and every family, one or two
#: implementations each (``--methods all`` runs every adapter).
DEFAULT_METHODS: tuple[str, ...] = (
    "exact-numpy",
    "faiss-flat",
    "hnswlib",
    "nmslib-hnsw",
    "usearch",
    "faiss-hnsw-sq8",
    "annoy",
    "numpy-lsh",
    "faiss-lsh",
    "faiss-pq",
    "faiss-ivf",
    "faiss-ivfpqfs",
    "scann",
)


def get(name: str) -> type[ANNIndex]:
    """The adapter class called ``name`` (a clear error listing the names otherwise)."""
    try:
        return ADAPTERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown ANN method {name!r}; the methods are: {', '.join(ADAPTERS)}") from None


def make(name: str, metric: str = "ip", **build_params: Any) -> ANNIndex:
    """An unbuilt index of adapter ``name`` with these build parameters."""
    return get(name)(metric=metric, **build_params)


def availability(names=None) -> pd.DataFrame:
    """One row per adapter: family, library, whether it can run here and, if not, why."""
    rows = []
    for name in names or ADAPTERS:
        cls = get(name)
        reason = cls.available()
        rows.append(
            {
                "method": name,
                "family": cls.family,
                "library": cls.pip_name or cls.library or "numpy",
                "inner product": "native" if "ip" in cls.native_metrics else f"MIPS -> {cls.transform_space}",
                "available": reason is None,
                "reason": reason or "",
            }
        )
    return pd.DataFrame(rows).set_index("method")
