"""All users' top-k, seen items removed, three ways: blocked matrix product, norm-pruned exact
index, and the best approximate index; wall time, peak memory and recall.

    python benchmarks/all_users.py                                   # 10^5 users x 10^6 items
    python benchmarks/all_users.py --users 20000 --items 200000      # a quicker look
    python benchmarks/all_users.py --ann hnswlib --json rows.json

The job a recommender runs every night (:mod:`recsys.experiments.all_users`). The vectors are
recommender-shaped: implicit ALS (64 factors) on the bundled data's per-user split, a Gaussian
mixture fitted to its item and user vectors (notebook 06's generator), and ``--items`` items and
``--users`` users drawn from it. What each synthetic user has *seen* is drawn too: their number
from the real users' training counts, the items with probability proportional to the popularity
of the real item at the same length rank (a long item is a popular one, as in the real model),
drawn with replacement and duplicates merged.

Each way runs in a fresh process, so its peak resident memory (``VmHWM``) is its own:
``peak GB`` is that peak, ``above data GB`` the peak less the process's size once the vectors
and seen matrix are loaded (what the job itself adds). Every way uses all cores (BLAS and the
merge, the norm-pruned index's threads, the library's batch threads). Recall@k is measured on a
sample of users (``--sample``) against exact float64 lists with seen items removed, ties counted.
An approximate way's query knob is the first point of its grid whose recall on a separate tuning
sample (``--tune-sample`` users) reaches ``--target``: the knob is not chosen on the users it is
scored on. One run per way (each job takes far more than a second); builds of multi-threaded
graphs are not deterministic, so repeat the command to see their spread.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import queue as queue_module
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys import paths
from recsys.ann import grids, registry
from recsys.ann.base import resident_bytes
from recsys.ann.platform import cpu_description
from recsys.experiments import all_users, serving

WAYS = ("blocked", "norm-pruned", "norm-pruned-approx", "ann")


def make_job(
    n_users: int, n_items: int, seed: int, cache_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, dict]:
    """Synthetic user and item vectors shaped like implicit ALS's, and what each user has seen."""
    embeddings = serving.real_embeddings("ml-latest-small", factors=64, seed=42)
    mixture = serving.mixture_for(embeddings, cache_dir=cache_dir, seed=0)
    workload = mixture.workload(n_items, n_users, seed=seed)
    X, U = workload.items.astype(np.float32), workload.queries.astype(np.float32)
    rng = np.random.default_rng([seed, 3])
    real_counts = np.diff(embeddings.train.indptr)
    counts = rng.choice(real_counts[real_counts > 0], size=n_users)
    real_popularity = np.asarray(embeddings.train.sum(axis=0)).ravel()
    real_by_length = real_popularity[np.argsort(-np.linalg.norm(embeddings.item_vectors, axis=1), kind="stable")]
    length_rank = np.empty(n_items, dtype=np.int64)
    length_rank[np.argsort(-np.linalg.norm(X, axis=1), kind="stable")] = np.arange(n_items)
    popularity = real_by_length[(length_rank * len(real_by_length)) // n_items].astype(np.float64) + 1.0
    items = rng.choice(n_items, size=int(counts.sum()), p=popularity / popularity.sum())
    rows = np.repeat(np.arange(n_users), counts)
    seen = sp.csr_matrix((np.ones(items.size, dtype=np.float32), (rows, items)), shape=(n_users, n_items))
    seen.sum_duplicates()
    seen.data[:] = 1.0
    about = {
        "seen_per_user_median": float(np.median(np.diff(seen.indptr))),
        "seen_per_user_max": int(np.diff(seen.indptr).max()),
        "source": f"{embeddings.params.get('model')} on {embeddings.params.get('dataset')}",
    }
    return U, X, seen, about


def truth_of(U, X, seen, users, k: int, chunk: int = 50) -> np.ndarray:
    """Exact float64 scores of the k best unseen items of ``users`` (chunked: 400 MB per 50 users at 10^6 items)."""
    parts = [
        all_users.unseen_truth(U[users[i : i + chunk]], X, k, seen[users[i : i + chunk]])[1]
        for i in range(0, len(users), chunk)
    ]
    return np.vstack(parts)


def _recall(found, truth, U, X, seen, users, k):
    return all_users.recall_unseen(found, truth, U[users], X, k, seen[users])


def _peak_resident_bytes() -> int:
    """This process's peak resident memory: ``VmHWM`` of /proc/self/status, which starts afresh
    at ``exec`` (``ru_maxrss`` does not on Linux: a spawned child would report its parent's peak),
    or ``ru_maxrss`` where there is no /proc."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_way(way: str, ann: str, folder: str, k: int, target: float, result_queue) -> None:
    """In a fresh process: load the job, build, tune (approximate ways), run every user, report."""
    data = np.load(Path(folder) / "job.npz")
    U, X, sample, tune = data["U"], data["X"], data["sample"], data["tune"]
    truth_sample, truth_tune = data["truth_sample"], data["truth_tune"]
    seen = sp.load_npz(Path(folder) / "seen.npz").tocsr()
    loaded = resident_bytes() or 0
    row = {"way": way, "knob": ""}
    start = time.perf_counter()
    if way == "blocked":
        index = None
        row["method"] = "blocked matrix product"
    elif way.startswith("norm-pruned"):
        index = registry.make("norm-pruned", "ip", bucket_size=1024, directions=32).fit(X)
        row["method"] = "norm-pruned"
    else:
        builds, _ = grids.expand(grids.grid_for(ann))
        index = registry.make(ann, "ip", **builds[0]).fit(X)
        row["method"] = f"{ann} {json.dumps(builds[0], sort_keys=True)}"
    row["build_s"] = time.perf_counter() - start
    if index is not None:
        index.set_num_threads(0)
    if way in ("norm-pruned-approx", "ann"):
        points = grids.expand(grids.grid_for("norm-pruned" if way == "norm-pruned-approx" else ann))[1]
        if way == "norm-pruned-approx":
            points = [p for p in points if p.get("epsilon", 0) > 0]
        chosen = points[-1]
        for point in points:
            index.set_query_arguments(**point)
            found = all_users.index_top_k(index, U[tune], k, seen[tune])
            if _recall(found, truth_tune, U, X, seen, tune, k).mean() >= target:
                chosen = point
                break
        index.set_query_arguments(**chosen)
        row["knob"] = json.dumps(chosen, sort_keys=True)

    def job(users):
        if index is None:
            return all_users.blocked_top_k(U[users], X, k, seen[users])
        return all_users.index_top_k(index, U[users], k, seen[users])

    job(tune[:8])  # compiles what is compiled on first use: the timing is the job's alone
    start = time.perf_counter()
    found = job(np.arange(U.shape[0]))
    row["job_s"] = time.perf_counter() - start
    recall = _recall(found[sample], truth_sample, U, X, seen, sample, k)
    row["recall_mean"] = float(recall.mean())
    row["recall_min"] = float(recall.min())
    peak = _peak_resident_bytes()
    row["peak_gb"] = peak / 2**30
    row["above_data_gb"] = max(0, peak - loaded) / 2**30
    np.save(Path(folder) / f"found-{way}.npy", found[sample])
    result_queue.put(row)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ann", default="scann", help="the approximate index (a recsys.ann adapter name)")
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS)
    parser.add_argument("--target", type=float, default=0.95, help="recall the approximate ways are tuned to")
    parser.add_argument("--sample", type=int, default=2000, help="users whose recall is measured")
    parser.add_argument("--tune-sample", type=int, default=1000, help="other users the knobs are chosen on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", help="folder of the fitted mixture (default: ann-cache in the build folder)")
    parser.add_argument("--json", help="also write the rows and the machine to this JSON file")
    args = parser.parse_args(argv)
    if args.sample + args.tune_sample > args.users:
        parser.error("--sample plus --tune-sample must not exceed --users")
    if "ann" in args.ways:
        available = registry.get(args.ann).available()
        if available is not None:
            parser.error(f"--ann {args.ann}: {available}")
    load = os.getloadavg()
    print(f"CPU: {cpu_description()}, {os.cpu_count()} cores; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    start = time.perf_counter()
    cache = Path(args.cache_dir) if args.cache_dir else paths.build_dir() / "ann-cache"
    U, X, seen, about = make_job(args.users, args.items, args.seed, cache)
    print(
        f"{args.users:,} users x {args.items:,} items, d = {X.shape[1]} ({about['source']}, mixture); seen items per "
        f"user: median {about['seen_per_user_median']:.0f}, largest {about['seen_per_user_max']:,} "
        f"({time.perf_counter() - start:.0f} s to generate)"
    )
    rng = np.random.default_rng([args.seed, 4])
    drawn = rng.choice(args.users, size=args.sample + args.tune_sample, replace=False)
    sample, tune = np.sort(drawn[: args.sample]), np.sort(drawn[args.sample :])
    start = time.perf_counter()
    truth_sample = truth_of(U, X, seen, sample, args.k)
    truth_tune = truth_of(U, X, seen, tune, args.k)
    print(f"exact float64 lists of {len(sample) + len(tune):,} users in {time.perf_counter() - start:.0f} s")
    rows = []
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="all-users-") as folder:
        np.savez(
            Path(folder) / "job.npz",
            U=U,
            X=X,
            sample=sample,
            tune=tune,
            truth_sample=truth_sample,
            truth_tune=truth_tune,
        )
        sp.save_npz(Path(folder) / "seen.npz", seen)
        del U, X
        for way in args.ways:
            queue = context.Queue()
            process = context.Process(target=_run_way, args=(way, args.ann, folder, args.k, args.target, queue))
            process.start()
            row = None
            while row is None and (process.is_alive() or not queue.empty()):
                with contextlib.suppress(queue_module.Empty):
                    row = queue.get(timeout=1.0)
            process.join()
            if row is None or process.exitcode != 0:
                raise RuntimeError(f"the {way} run failed (exit code {process.exitcode}; its error is printed above)")
            rows.append(row)
            print(f"  {way}: job {row['job_s']:.1f} s, recall {row['recall_mean']:.4f}, peak {row['peak_gb']:.2f} GB")
        exact = np.load(Path(folder) / "found-blocked.npy") if "blocked" in args.ways else None
        if exact is not None and "norm-pruned" in args.ways:
            same = np.array_equal(np.load(Path(folder) / "found-norm-pruned.npy"), exact)
            print(f"norm-pruned lists equal the blocked product's on the {len(sample):,} sampled users: {same}")
    table = pd.DataFrame(rows).set_index("way")
    table["users_per_s"] = args.users / table["job_s"]
    if "blocked" in table.index:
        table["speedup"] = table.loc["blocked", "job_s"] / table["job_s"]
    columns = ["method", "knob", "build_s", "job_s", "users_per_s", "speedup", "recall_mean", "recall_min"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table[[c for c in columns if c in table] + ["peak_gb", "above_data_gb"]].round(3).to_string())
    end_load = os.getloadavg()
    print(f"load average at the end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"args": vars(args), "cpu": cpu_description(), "load": [load, end_load], **about, "rows": rows},
                indent=1,
            )
        )
    return table


if __name__ == "__main__":
    main()
