"""What SIMD does to approximate search: every library's build, and faiss at each SIMD level.

    python benchmarks/ann_simd.py                    # 100,000 recommender-shaped items
    python benchmarks/ann_simd.py --n-items 30000

Prints how each search library was built and which SIMD level it runs (faiss's run-time level,
usearch's kernels, nmslib's own banner, the widest registers in hnswlib's and annoy's binaries),
then runs one faiss HNSW index and faiss's exact index at every SIMD level faiss can use on this
CPU (``faiss.SIMDConfig``: same index, same answers, only the kernels change) and prints the
single-query QPS at each, with the speed-up over no SIMD.
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from recsys.ann import bench
from recsys.experiments import serving as retrieval


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--n-queries", type=int, default=500)
    parser.add_argument("--ef", type=int, default=64)
    parser.add_argument("--cache", default="build/ann-cache")
    parser.add_argument("--no-inspect", action="store_true", help="do not read the binaries with objdump")
    args = parser.parse_args(argv)
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(bench.library_builds(inspect_binaries=not args.no_inspect))
        embeddings = retrieval.real_embeddings()
        workload = retrieval.mixture_for(embeddings, cache_dir=args.cache).workload(args.n_items, args.n_queries)
        print(f"\n{workload}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        table = bench.simd_sweep(
            workload,
            {"faiss-flat": ({}, {}), "faiss-hnsw": ({"M": 16, "ef_construction": 100}, {"ef": args.ef})},
        )
        print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
