"""Retrieval speed: Chroma insert throughput, query latency and HNSW recall at 10k and 100k vectors.

Data: synthetic but structured embeddings at the image encoder's dimension (default 1280, the
EfficientNet-Lite0 encoder). Real image embeddings are neither uniform on the sphere (HNSW looks
much worse there than it ever is in practice) nor isotropic blobs: they form clusters of very
different sizes whose spread lies in a few directions. So each vector is

    x = normalise(c_k + s_k * U_k z / sqrt(r) + e * g / sqrt(d))

with ``K`` cluster centres ``c_k`` (unit vectors), Zipf-distributed cluster sizes, a random
rank-``r`` basis ``U_k`` per cluster (r = 16), spread ``s_k`` uniform in [0.5, 1.0], and a small
isotropic noise ``e = 0.2``. Queries are fresh draws from the same mixture (not stored vectors).

Ground truth is an exact cosine top-10 in numpy over the same vectors; ``recall@10`` is the
overlap of Chroma's top-10 with it. Records carry a ``case_id`` (5000 cases); each query is
timed along the retrieval tool's real path: an over-fetched HNSW query whose results from the
query's own case (excluded, as in an evaluation) are dropped by their metadata
(:func:`agentsim.memory.store.query_excluding`). For comparison the table also gives the bare
HNSW query and a Chroma-side ``$ne`` filter, which scans metadata and is an order of magnitude
slower (the reason the tool does not use it).

Modes: ``embedded`` (``PersistentClient`` in a temp folder) and ``server`` (``chroma run``
started on a free port, ``HttpClient``). ``--sweep 32,64,256`` compares other ``ef_search``
values on the largest embedded index (each in its own collection: ef_search is fixed when a
collection is created; a later ``modify`` is ignored by a loaded index).

Usage::

    python benchmarks/retrieval_speed.py                       # 10k + 100k, embedded + server
    python benchmarks/retrieval_speed.py --sizes 10000 --modes embedded --queries 200
    python benchmarks/retrieval_speed.py --sweep 32,64,256     # also compare ef_search values at 100k

Writes ``benchmarks/results/retrieval_speed.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentsim.memory.store import HnswParams, MemoryConfig, MemoryStore, query_excluding  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def clustered(n: int, dim: int, seed: int, clusters: int = 1000, rank: int = 16, noise: float = 0.2,
              centres: np.ndarray | None = None, bases: np.ndarray | None = None):
    """``n`` unit vectors from the mixture described in the module docstring (also returns its parameters)."""
    rng = np.random.default_rng(seed)
    if centres is None:
        centres = rng.standard_normal((clusters, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        bases = rng.standard_normal((clusters, dim, rank)).astype(np.float32) / np.sqrt(dim)
    k = len(centres)
    weights = 1.0 / np.arange(1, k + 1) ** 0.8
    weights /= weights.sum()
    spread_rng = np.random.default_rng(12345)  # cluster spreads belong to the mixture, not to the draw
    spreads = spread_rng.uniform(0.5, 1.0, k).astype(np.float32)
    labels = rng.choice(k, size=n, p=weights)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 5000):
        lab = labels[start:start + 5000]
        z = rng.standard_normal((len(lab), rank)).astype(np.float32)
        # Columns of each basis have unit norm on average, so |U z| / sqrt(r) is about 1.
        local = np.einsum("ndr,nr->nd", bases[lab], z) / np.sqrt(rank)
        x = centres[lab] + spreads[lab, None] * local + noise * rng.standard_normal((len(lab), dim)).astype(
            np.float32) / np.sqrt(dim)
        out[start:start + len(lab)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out, centres, bases


def exact_topk(data: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Exact cosine top-k indices (rows are unit vectors)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for i in range(0, len(queries), 256):
        sims = queries[i:i + 256] @ data.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        out[i:i + 256] = np.take_along_axis(part, order, axis=1)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """``chroma run`` on a free port in a temp folder, stopped on exit."""

    def __init__(self, path: str):
        self.path = path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> ChromaServer:
        exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        self.proc = subprocess.Popen([exe, "run", "--host", "127.0.0.1", "--port", str(self.port), "--path",
                                      self.path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        import urllib.request

        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("chroma run did not answer within 30 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


CASES = 5000  # records are spread over this many case ids (20 per case at 100k)


def run_case(mode: str, n: int, data: np.ndarray, queries: np.ndarray, truth40: np.ndarray, hnsw: HnswParams,
             workdir: str, sweep: list[int]) -> dict:
    """Insert ``data[:n]``, then time queries; returns one result row (with sweep rows)."""
    server = ChromaServer(os.path.join(workdir, f"server-{n}")) if mode == "server" else None
    try:
        if server:
            server.__enter__()
        cfg = MemoryConfig(data_dir=Path(workdir) / f"embedded-{n}", chroma_url=server.url if server else None,
                           hnsw=hnsw, prefix=f"speed{n}")
        store = MemoryStore(cfg)
        col = store.collection("images", "synthetic", data.shape[1])
        batch = store.max_batch_size()
        case_of = np.arange(n) % CASES
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            col.add(ids=[str(i) for i in range(s, min(n, s + batch))], embeddings=data[s:s + batch],
                    metadatas=[{"case_id": f"case-{c}"} for c in case_of[s:s + batch]])
        insert_s = time.perf_counter() - t0
        col.query(query_embeddings=queries[:1], n_results=10)  # the first query loads the index

        # Ground truth per query: exact top-10 among records not of the query's excluded case.
        def truth_for(i: int, exclude: bool) -> set[int]:
            cand = [int(j) for j in truth40[i] if not (exclude and case_of[j] == i % CASES)]
            return set(cand[:10])

        def tool_path(c) -> tuple[np.ndarray, float]:
            """What the retrieval tool does: over-fetched HNSW query, the query's own case dropped by metadata."""
            lat, rec = [], []
            for i, q in enumerate(queries):
                own = f"case-{i % CASES}"
                t = time.perf_counter()
                rows = query_excluding(c, q, 10, lambda _rid, m, own=own: m.get("case_id") == own)
                lat.append((time.perf_counter() - t) * 1000)
                rec.append(len({int(r[0]) for r in rows} & truth_for(i, True)) / 10)
            return np.array(lat), float(np.mean(rec))

        for q in queries[:20]:  # warm-up, untimed
            query_excluding(col, q, 10, lambda _rid, m: False)
        # Tool path and bare query alternate per query so that both see the same machine load.
        lat_t, rec_t, lat_u, rec_u = [], [], [], []
        for i, q in enumerate(queries):
            own = f"case-{i % CASES}"
            t = time.perf_counter()
            rows = query_excluding(col, q, 10, lambda _rid, m, own=own: m.get("case_id") == own)
            lat_t.append((time.perf_counter() - t) * 1000)
            rec_t.append(len({int(r[0]) for r in rows} & truth_for(i, True)) / 10)
            t = time.perf_counter()
            r = col.query(query_embeddings=q[None, :], n_results=10, include=[])
            lat_u.append((time.perf_counter() - t) * 1000)
            rec_u.append(len({int(x) for x in r["ids"][0]} & truth_for(i, False)) / 10)
        recall = float(np.mean(rec_t))
        lat_ne = []
        for i, q in enumerate(queries[:50]):  # Chroma-side exclusion, for comparison only (slow: scans metadata)
            t = time.perf_counter()
            col.query(query_embeddings=q[None, :], n_results=10, where={"case_id": {"$ne": f"case-{i % CASES}"}},
                      include=[])
            lat_ne.append((time.perf_counter() - t) * 1000)
        row = {"mode": mode, "n": n, "dim": int(data.shape[1]), "insert_s": round(insert_s, 2),
               "insert_per_s": round(n / insert_s, 1), "p50_ms": _pct(lat_t, 50), "p95_ms": _pct(lat_t, 95),
               "recall@10": round(recall, 4), "p50_ms_raw_query": _pct(lat_u, 50), "p95_ms_raw_query": _pct(lat_u, 95),
               "recall@10_raw_query": round(float(np.mean(rec_u)), 4), "p50_ms_chroma_ne_filter": _pct(lat_ne, 50),
               "queries": int(len(queries)), **{f"hnsw_{k}": v for k, v in hnsw.model_dump().items()}}
        sweep_rows = []
        for ef in sweep:
            # ef_search only takes effect when a collection is created (a modify() is ignored by an index that
            # is already loaded), so each value gets its own collection over the same vectors.
            swc = MemoryStore(cfg.model_copy(update={"prefix": f"speed{n}ef{ef}", "hnsw": hnsw.model_copy(
                update={"ef_search": ef})})).collection("images", "synthetic", data.shape[1])
            for s in range(0, n, batch):
                swc.add(ids=[str(i) for i in range(s, min(n, s + batch))], embeddings=data[s:s + batch],
                        metadatas=[{"case_id": f"case-{c}"} for c in case_of[s:s + batch]])
            swc.query(query_embeddings=queries[:1], n_results=10)
            lat_s, rec_s = tool_path(swc)
            sweep_rows.append({"mode": mode, "n": n, "ef_search": ef, "p50_ms": _pct(lat_s, 50),
                               "p95_ms": _pct(lat_s, 95), "recall@10": round(rec_s, 4)})
        row["sweep"] = sweep_rows
        return row
    finally:
        if server:
            server.__exit__()


def _pct(values, q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Chroma retrieval speed and recall on clustered embeddings.")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--modes", default="embedded,server")
    ap.add_argument("--dim", type=int, default=1280, help="embedding dimension (1280 = EfficientNet-Lite0)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--ef-construction", type=int, default=HnswParams().ef_construction)
    ap.add_argument("--max-neighbors", type=int, default=HnswParams().max_neighbors)
    ap.add_argument("--ef-search", type=int, default=HnswParams().ef_search)
    ap.add_argument("--sweep", default="", help="ef_search values to compare on the largest embedded index, e.g. "
                                                "32,64,256 (each builds its own collection: minutes at 100k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "retrieval_speed.json"))
    args = ap.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    hnsw = HnswParams(ef_construction=args.ef_construction, max_neighbors=args.max_neighbors,
                      ef_search=args.ef_search)
    t_all = time.perf_counter()
    data, centres, bases = clustered(max(sizes), args.dim, args.seed)
    queries, _, _ = clustered(args.queries, args.dim, args.seed + 1, centres=centres, bases=bases)
    nn = exact_topk(data, queries, 2)
    print(f"data: {len(data)} x {args.dim}, {len(centres)} clusters; mean cosine of a query to its nearest "
          f"neighbour {float(np.mean(np.sum(queries * data[nn[:, 0]], axis=1))):.3f}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="agentsim-speed-") as work:
        for n in sizes:
            truth = exact_topk(data[:n], queries, 40)
            for mode in modes:
                sweep = [int(x) for x in args.sweep.split(",") if x] if mode == "embedded" and n == max(sizes) else []
                t = time.perf_counter()
                row = run_case(mode, n, data[:n], queries, truth, hnsw, work, sweep)
                rows.append(row)
                print(f"  {mode:8s} {n:7d}: insert {row['insert_per_s']:8.0f}/s  p50 {row['p50_ms']:.2f} ms  "
                      f"p95 {row['p95_ms']:.2f} ms  recall@10 {row['recall@10']:.3f}  "
                      f"({time.perf_counter() - t:.0f}s)", flush=True)
    header = (f"{'mode':9s} {'n':>7s} {'insert/s':>9s} {'p50 ms':>7s} {'p95 ms':>7s} {'recall@10':>9s} "
              f"{'raw p50':>8s} {'raw recall':>10s} {'$ne p50':>8s}")
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['mode']:9s} {r['n']:7d} {r['insert_per_s']:9.0f} {r['p50_ms']:7.2f} {r['p95_ms']:7.2f} "
              f"{r['recall@10']:9.3f} {r['p50_ms_raw_query']:8.2f} {r['recall@10_raw_query']:10.3f} "
              f"{r['p50_ms_chroma_ne_filter']:8.2f}")
    for r in rows:
        for s in r["sweep"]:
            print(f"  sweep {s['mode']} n={s['n']} ef_search={s['ef_search']:4d}: p50 {s['p50_ms']:.2f} ms, "
                  f"p95 {s['p95_ms']:.2f} ms, recall@10 {s['recall@10']:.3f}")
    target = [r for r in rows if r["n"] >= 100_000 and r["mode"] == "embedded"]
    for r in target:
        ok = r["p50_ms"] < 5 and r["recall@10"] >= 0.95
        print(f"target at {r['n']} ({r['mode']}): p50 < 5 ms and recall@10 >= 0.95 -> {'MET' if ok else 'NOT MET'}")
    out = {"benchmark": "retrieval_speed", "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
           "data": {"kind": "clustered-synthetic", "clusters": int(len(centres)), "rank": 16, "noise": 0.2,
                    "dim": args.dim, "queries": args.queries, "seed": args.seed},
           "hnsw": hnsw.model_dump(), "rows": rows, "total_s": round(time.perf_counter() - t_all, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out} ({out['total_s']:.0f}s total)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
