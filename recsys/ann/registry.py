"""Every adapter by name: the harness, the command line and the notebooks build indexes from here.

An adapter registers itself where it is defined, with the class decorator :func:`register`::

    @register
    class MyIndex(ANNIndex):
        name = "my-index"
        family = "graph"
        ...

Importing this module imports every adapter module of :mod:`recsys.ann` (every module but the
wing's :data:`INFRASTRUCTURE`; their adapters register as they are defined), so :data:`ADAPTERS`
lists them all without a list of adapters to keep here. An adapter defined
anywhere else (a test, a notebook) registers when its module is imported.

``make("hnswlib", metric="ip", M=16)`` returns an unbuilt index; :func:`resolve` takes a name or an
adapter class; :func:`availability` says which adapters can run on this machine and, for the
others, why not (the missing pip package). Importing this module imports no search library:
adapters import theirs when they build.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.ann.base import FAMILIES, ANNIndex

__all__ = [
    "ADAPTERS",
    "DEFAULT_METHODS",
    "INFRASTRUCTURE",
    "adapter_modules",
    "availability",
    "get",
    "make",
    "register",
    "resolve",
    "unregister",
]

#: name -> adapter class, in the order tables list them: by family (exact first, in the order of
#: :data:`recsys.ann.base.FAMILIES`), then by module, then in the order a module defines them.
ADAPTERS: dict[str, type[ANNIndex]] = {}
_ORDER: dict[str, tuple] = {}
_SEQUENCE = itertools.count()


def register(cls: type[ANNIndex]) -> type[ANNIndex]:
    """Class decorator: list the adapter ``cls`` in :data:`ADAPTERS` under its ``name``.

    The class must subclass :class:`~recsys.ann.base.ANNIndex`, set its own ``name`` and a
    ``family`` from :data:`~recsys.ann.base.FAMILIES`; a second, different class of the same name
    is an error (the same class defined again, as when its module is reloaded, replaces it).
    """
    if not (isinstance(cls, type) and issubclass(cls, ANNIndex)):
        raise TypeError(f"register takes a subclass of recsys.ann.base.ANNIndex, got {cls!r}")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__qualname__} must set its own name (a non-empty string) to be registered")
    if cls.family not in FAMILIES:
        raise ValueError(f"{cls.__qualname__}.family must be one of {', '.join(FAMILIES)}, got {cls.family!r}")
    existing = ADAPTERS.get(name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(
            f"two adapters are called {name!r}: {existing.__module__}.{existing.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}"
        )
    _ORDER[name] = (FAMILIES.index(cls.family), cls.__module__, next(_SEQUENCE))
    ADAPTERS[name] = cls
    ordered = sorted(ADAPTERS.items(), key=lambda item: _ORDER.get(item[0], (len(FAMILIES), "", 0)))
    ADAPTERS.clear()
    ADAPTERS.update(ordered)
    return cls


def unregister(name: str) -> None:
    """Remove adapter ``name`` from :data:`ADAPTERS` (for tests that register a throwaway class)."""
    ADAPTERS.pop(name, None)
    _ORDER.pop(name, None)


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
    "faiss-sketch",
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


def resolve(method: str | type[ANNIndex]) -> type[ANNIndex]:
    """The adapter class of ``method``: a registry name, or an adapter class (registered or not)."""
    if isinstance(method, type):
        if not issubclass(method, ANNIndex):
            raise TypeError(f"an ANN method is a name or a subclass of recsys.ann.base.ANNIndex, got {method!r}")
        return method
    return get(method)


def make(name: str | type[ANNIndex], metric: str = "ip", **build_params: Any) -> ANNIndex:
    """An unbuilt index of adapter ``name`` (or adapter class) with these build parameters."""
    return resolve(name)(metric=metric, **build_params)


def availability(names=None) -> pd.DataFrame:
    """One row per adapter: family, library, whether it can run here and, if not, why."""
    rows = []
    for name in names or list(ADAPTERS):
        cls = resolve(name)
        reason = cls.available()
        rows.append(
            {
                "method": cls.name,
                "family": cls.family,
                "library": cls.pip_name or cls.library or "numpy",
                "inner product": "native" if "ip" in cls.native_metrics else f"MIPS -> {cls.transform_space}",
                "available": reason is None,
                "reason": reason or "",
            }
        )
    return pd.DataFrame(rows).set_index("method")


#: The wing's modules that hold no adapter (the interface, the harness, workloads, ann-benchmarks'
#: files, figures). Every
#: other module of :mod:`recsys.ann` is an adapter module, imported below so that its adapters
#: register; those import only :mod:`~recsys.ann.base`, :mod:`~recsys.ann.grids` and this module,
#: which is what makes importing them from here safe.
INFRASTRUCTURE: frozenset[str] = frozenset(
    {
        "ann_benchmarks_format",
        "base",
        "bench",
        "difficulty",
        "grids",
        "ground_truth",
        "platform",
        "registry",
        "results",
        "running",
        "teaching",
        "workloads",
    }
)


def adapter_modules() -> list[str]:
    """The adapter modules of :mod:`recsys.ann`: every module but :data:`INFRASTRUCTURE`."""
    return [
        f"recsys.ann.{module.name}"
        for module in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not module.name.startswith("_") and module.name not in INFRASTRUCTURE
    ]


def _import_adapters() -> None:
    """Import every adapter module: each adapter registers as its module defines it."""
    for module in adapter_modules():
        importlib.import_module(module)


_import_adapters()
