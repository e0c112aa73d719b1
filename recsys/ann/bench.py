"""The benchmark's public names in one place: what notebooks and scripts import as ``bench.X``.

Each job has its own module; this one only re-exports them, so ``from recsys.ann import bench``
keeps working unchanged:

* :mod:`recsys.ann.ground_truth`: exact scores, :class:`GroundTruth` and its on-disk cache,
  recall as ann-benchmarks counts it (ties are hits; the hit rule is
  :func:`recsys.similarity.tie_aware_recall_scored`);
* :mod:`recsys.ann.running`: :func:`run` (every method's grid on a workload, one row per point),
  :func:`run_sizes` (the scaling study), :func:`simd_sweep`, :class:`Benchmark`;
* :mod:`recsys.ann.results`: frontiers, operating points, :func:`best` and :func:`index_from`,
  the records a notebook keeps, family and speed-up summaries, scaling exponents, writing results;
* :mod:`recsys.ann.platform`: how each library was built and the SIMD level it runs with.
"""

from __future__ import annotations

from recsys.ann.ground_truth import (
    DEFAULT_EPSILON,
    GROUND_TRUTH_VERSION,
    GroundTruth,
    cache_key,
    exact_scores,
    ground_truth,
    recall,
    recall_of_ids,
)
from recsys.ann.platform import SIMD_LEVELS, cpu_description, faiss_simd_level, faiss_simd_levels, library_builds
from recsys.ann.results import (
    best,
    exact_reference,
    family_summary,
    index_from,
    local_slopes,
    native_vs_transformed,
    operating_points,
    pareto_frontier,
    reached_record,
    recall_record,
    sampling_baseline,
    scaling_exponents,
    scaling_summary,
    speedup_spread,
    speedup_table,
    write_results,
)
from recsys.ann.running import (
    RESULT_COLUMNS,
    Benchmark,
    default_max_load,
    one_point,
    resolve_max_load,
    run,
    run_sizes,
    simd_sweep,
    speedup_over_repeats,
)

__all__ = [
    "DEFAULT_EPSILON",
    "GROUND_TRUTH_VERSION",
    "RESULT_COLUMNS",
    "SIMD_LEVELS",
    "Benchmark",
    "GroundTruth",
    "best",
    "cache_key",
    "cpu_description",
    "default_max_load",
    "exact_reference",
    "exact_scores",
    "faiss_simd_level",
    "faiss_simd_levels",
    "family_summary",
    "ground_truth",
    "index_from",
    "library_builds",
    "local_slopes",
    "native_vs_transformed",
    "one_point",
    "operating_points",
    "pareto_frontier",
    "reached_record",
    "recall",
    "recall_of_ids",
    "recall_record",
    "resolve_max_load",
    "run",
    "run_sizes",
    "sampling_baseline",
    "scaling_exponents",
    "scaling_summary",
    "simd_sweep",
    "speedup_over_repeats",
    "speedup_spread",
    "speedup_table",
    "write_results",
]
