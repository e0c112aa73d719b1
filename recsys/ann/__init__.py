"""Approximate nearest-neighbour and maximum-inner-product search, behind one small interface.

What belongs here: one module per search library, each holding its adapters (subclasses of
:class:`recsys.ann.base.ANNIndex`, modelled on ann-benchmarks' ``BaseANN``: ``fit(vectors)``,
``set_query_arguments(...)``, ``query(vector, k)``, ``batch_query(vectors, k)``,
``memory_bytes()``) with everything the rest of the project needs to know about them (name,
family, metrics, pip requirement, parameter grids, the conformance battery's small case), each
registered with :func:`recsys.ann.registry.register`; plus the workloads the indexes are measured
on and the benchmark.

The modules:

* adapters: :mod:`~recsys.ann.exact` (numpy), :mod:`~recsys.ann.faiss_indexes` (flat, HNSW,
  HNSW over SQ8 codes, bit sketches scanned exhaustively (faiss's ``IndexLSH``), PQ, IVF, IVF-PQ,
  IVF-PQ 4-bit fast-scan; each IVF also natively on inner product), :mod:`~recsys.ann.hnswlib_index`,
  :mod:`~recsys.ann.nmslib_index` (``negdotprod`` natively and ``cosinesimil`` on MIPS-transformed
  vectors), :mod:`~recsys.ann.annoy_index`, :mod:`~recsys.ann.scann_index`,
  :mod:`~recsys.ann.usearch_index`, and :mod:`~recsys.ann.lsh` (random-hyperplane LSH in numpy,
  several tables and multi-probe: the lesson);
* :mod:`~recsys.ann.base`: the interface; :mod:`~recsys.ann.registry`: every adapter by name
  (``make("hnswlib", M=16)``), filled by the adapters themselves, and which ones can run here;
  :mod:`~recsys.ann.grids`: the grid format, the adapters' grids collected (``GRIDS``,
  ``QUICK_GRIDS``);
* :mod:`~recsys.ann.workloads`: real factors as a workload, and the recommender-shaped Gaussian
  mixture of any size fitted to them, with the check that norms and angles match;
  :mod:`~recsys.ann.ann_benchmarks_format`: ann-benchmarks' HDF5 dataset files (lastfm-64-dot, ...)
  as workloads, and the check that their neighbour lists agree with our exact ground truth (h5py,
  the ``hdf5`` extra);
* the benchmark, one job per module: :mod:`~recsys.ann.ground_truth` (exact scores, cached ground
  truth, recall as ann-benchmarks counts it), :mod:`~recsys.ann.running` (the runner:
  single-query and batch QPS, latencies, build time, memory; the scaling study; the SIMD sweep),
  :mod:`~recsys.ann.results` (frontiers, operating points, summaries, writing results) and
  :mod:`~recsys.ann.platform` (how each library was built, SIMD levels);
  :mod:`~recsys.ann.bench` re-exports all their public names (``bench.run``, ``bench.best``, ...);
* :mod:`~recsys.ann.teaching`: 2-D versions of the four families for notebook 06's figures.

Using an index (any embedding model's vectors, see
:meth:`recsys.models.base.FactorModel.inner_product_factors`)::

    from recsys.ann import registry
    U, V = model.inner_product_factors(ranking_only=True)
    index = registry.make("hnswlib", metric="ip", M=16, ef_construction=100).fit(V)
    index.set_query_arguments(ef=96)
    top = index.batch_query(U[users], k=10)

**Picking "the best graph index" and "the best quantised index"** of a benchmark run (how notebook
07 and the Spark chapter reuse notebook 06): run the harness on your vectors (or read a saved
``results.csv``), take the fastest configuration of the family that reaches the recall you need,
and rebuild it::

    from recsys.ann import bench
    results = bench.run(workload, ["hnswlib", "usearch", "scann", "faiss-ivfpqfs"]).results
    graph = bench.best(results, 0.95, family="graph")             # a results row
    quantised = bench.best(results, 0.95, family="quantization")
    index = bench.index_from(graph).fit(item_vectors)              # built, query knob set

``bench.operating_points(results, 0.95)`` lists every method's point; ``bench.best`` raises
``LookupError`` when nothing in the family reaches the target. An index is plain Python state and a
library object: to use one per Spark partition, build it on the driver's broadcast vectors inside
``mapPartitions`` (libraries' index objects do not pickle portably).

Rules of this wing:

* An adapter module imports its library **inside** ``fit`` (or a helper it calls), never at
  module level, so ``import recsys.ann`` works without any optional library installed; an adapter
  whose library is missing raises :class:`~recsys.ann.base.LibraryUnavailable` naming the pip
  package, and the harness skips it with that reason.
* The heavy libraries (faiss, hnswlib, nmslib, annoy, scann, usearch) live in the optional extra
  ``pip install -e '.[ann]'``; the core package needs none of them.
* This wing may import :mod:`recsys.checks`, :mod:`recsys.similarity` (the measures and the MIPS
  transform) and :mod:`recsys.progress`; it never imports models, evaluation or the notebook
  machinery: it takes vectors, not models (:mod:`recsys.experiments.serving` joins them).
"""

import os

# OpenMP threads that spin while idle make faiss's multi-threaded search ten times slower on a
# machine whose cores are shared with other jobs (see recsys.ann.base.IMPORT_ENVIRONMENT). The
# setting is read once, when an OpenMP runtime starts, and faiss shares its bundled runtime with
# scikit-learn's (the same libgomp file), so it must be in place before either is imported: that
# is, here. A value already in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from recsys.ann.base import ANNIndex, LibraryUnavailable  # noqa: E402

__all__ = ["ANNIndex", "LibraryUnavailable"]
