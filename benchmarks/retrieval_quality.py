"""Retrieval quality of the image encoders on a real labelled medical image set.

Data: the brain MRI set in ``../shared/data/images/brain-tumor-mri`` (Bhuvaji et al. 2020; four
labels: glioma, meningioma, pituitary tumour, no tumour; see its MANIFEST.md). Exact duplicates
are removed first (``is_first_copy == 1``, i.e. one file per sha256), and test queries whose bytes
also occur in the training split are dropped, so no query can find its own copy.

Protocols (both on the same embeddings):

* ``train->test``: every remaining Testing image queries a gallery of Training images. This is
  how the memory is used (a new case's image against a stored reference set).
* ``leave-one-out``: every gallery image queries the rest of the gallery. MRI sets contain
  neighbouring slices of one patient, so this protocol is optimistic; it is reported for
  comparison with published numbers that use it.

Metrics, relevance = same label: precision@1/5/10; mAP (average precision over the full ranked
gallery); per label, recall@k as the fraction of queries with at least one same-label image in
the top k (the usual "recall@k" of image retrieval), plus P@10 and AP; and kNN@10 accuracy
(majority label of the top 10). Exact cosine search in numpy measures the encoder; the
``train->test`` run is repeated through the real :class:`~agentsim.memory.images.ImageMemory`
(Chroma HNSW; each query image encoded at query time) to check the index loses nothing and to
time a query end to end.

By default the Training gallery is a stratified sample of at most ``--per-label`` images per
label (default 400; a few minutes on 2 cores); ``--all`` uses every unique image.

Usage::

    python benchmarks/retrieval_quality.py                       # classical + efficientnet-lite0
    python benchmarks/retrieval_quality.py --all
    python benchmarks/retrieval_quality.py --encoders classical,efficientnet-lite0,local-dir:/path/to/open_clip_model

Writes ``benchmarks/results/retrieval_quality.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}.items():
    os.environ.setdefault(_k, _v)
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agentsim.errors import AgentsimError  # noqa: E402
from agentsim.memory.encoders import make_image_encoder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "images" / "brain-tumor-mri"


def load_split(root: Path, per_label: int | None, seed: int) -> tuple[list[dict], list[dict]]:
    """(gallery rows from Training, query rows from Testing), deduplicated by sha256."""
    labels_csv = root / "labels.csv"
    if not labels_csv.is_file():
        raise SystemExit(f"{labels_csv} not found: pass --data pointing at the brain-tumor-mri folder")
    rows = [r for r in csv.DictReader(labels_csv.open()) if r["is_first_copy"] == "1"]
    train = [r for r in rows if r["split"] == "training"]
    train_hashes = {r["sha256"] for r in train}
    test = [r for r in rows if r["split"] == "testing" and r["sha256"] not in train_hashes]
    if per_label:
        rng = random.Random(seed)
        by: dict[str, list[dict]] = {}
        for r in train:
            by.setdefault(r["label"], []).append(r)
        train = [r for lab in sorted(by) for r in (rng.sample(by[lab], per_label) if len(by[lab]) > per_label
                                                   else by[lab])]
    return train, test


def ranked_metrics(sims: np.ndarray, q_labels: np.ndarray, g_labels: np.ndarray, exclude_self: bool) -> dict:
    """Precision@k, mAP, per-label recall@k (hit rate), P@10, AP and kNN@10 accuracy."""
    if exclude_self:
        sims = sims.copy()
        np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)
    if exclude_self:
        order = order[:, :-1]  # the query itself sorts last
    rel = g_labels[order] == q_labels[:, None]
    n_rel = rel.sum(axis=1)
    cum = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    ap = (rel * cum / ranks).sum(axis=1) / np.maximum(n_rel, 1)
    top10 = g_labels[order[:, :10]]
    knn = np.array([Counter(row).most_common(1)[0][0] for row in top10]) == q_labels
    out = {"queries": int(len(q_labels)), "gallery": int(len(g_labels)),
           **{f"p@{k}": round(float(rel[:, :k].mean()), 4) for k in (1, 5, 10)},
           "mAP": round(float(ap.mean()), 4), "knn10_acc": round(float(knn.mean()), 4), "by_label": {}}
    for lab in sorted(set(q_labels)):
        m = q_labels == lab
        out["by_label"][str(lab)] = {"queries": int(m.sum()),
                                     **{f"recall@{k}": round(float(rel[m, :k].any(axis=1).mean()), 4)
                                        for k in (1, 5, 10)},
                                     "p@10": round(float(rel[m, :10].mean()), 4), "AP": round(float(ap[m].mean()), 4)}
    return out


class _Precomputed:
    """The encoder, answering from vectors already computed for the exact-search run (same space)."""

    supports_text = False

    def __init__(self, encoder, paths: list[Path], vectors: np.ndarray):
        self.name, self.dim, self._enc = encoder.name, encoder.dim, encoder
        self._cache = {str(p): v for p, v in zip(paths, vectors, strict=True)}

    def encode_images(self, images, batch_size: int = 32) -> np.ndarray:
        if all(isinstance(i, str | Path) and str(i) in self._cache for i in images):
            return np.stack([self._cache[str(i)] for i in images]) if images else np.zeros((0, self.dim), np.float32)
        return self._enc.encode_images(images, batch_size)


def through_chroma(encoder, gallery: list[Path], g_vectors: np.ndarray, g_labels: np.ndarray, queries: list[Path],
                   q_labels: np.ndarray) -> dict:
    """The train->test protocol through ImageMemory: HNSW search, each query image encoded at query time.

    Gallery vectors are reused from the exact run (indexing re-encoding them would only repeat work).
    """
    from agentsim.memory.images import ImageMemory, ImageRecord
    from agentsim.memory.store import MemoryConfig, MemoryStore

    with tempfile.TemporaryDirectory(prefix="agentsim-quality-") as tmp:
        cfg = MemoryConfig(data_dir=Path(tmp), prefix="quality")
        mem = ImageMemory(MemoryStore(cfg), _Precomputed(encoder, gallery, g_vectors))
        t0 = time.perf_counter()
        rep = mem.index([ImageRecord(path=str(p), label=str(lab), modality="MRI", body_part="brain")
                         for p, lab in zip(gallery, g_labels, strict=True)], batch_size=256)
        index_s = time.perf_counter() - t0
        lat, p1, p10 = [], [], []
        for p, lab in zip(queries, q_labels, strict=True):
            t = time.perf_counter()
            hits = mem.query_image(p, k=10)
            lat.append((time.perf_counter() - t) * 1000)
            labs = [h.label for h in hits]
            p1.append(labs[:1] == [lab])
            p10.append(np.mean([x == lab for x in labs]))
    return {"indexed": rep.added, "store_s": round(index_s, 1), "store_per_s": round(rep.added / index_s, 1),
            "p@1": round(float(np.mean(p1)), 4), "p@10": round(float(np.mean(p10)), 4),
            "query_p50_ms": round(float(np.percentile(lat, 50)), 1),
            "query_p95_ms": round(float(np.percentile(lat, 95)), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Image retrieval quality per encoder on the brain MRI set.")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--encoders", default="classical,efficientnet-lite0")
    ap.add_argument("--per-label", type=int, default=400, help="Training images per label in the gallery")
    ap.add_argument("--all", action="store_true", help="use every unique Training image")
    ap.add_argument("--no-chroma", action="store_true", help="skip the run through Chroma")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "retrieval_quality.json"))
    args = ap.parse_args(argv)
    train, test = load_split(args.data, None if args.all else args.per_label, args.seed)
    g_paths = [args.data / r["file"] for r in train]
    q_paths = [args.data / r["file"] for r in test]
    g_labels = np.array([r["label"] for r in train])
    q_labels = np.array([r["label"] for r in test])
    print(f"gallery {len(train)} Training images {dict(Counter(g_labels))}; queries {len(test)} Testing images "
          f"{dict(Counter(q_labels))}", flush=True)
    results, skipped = {}, {}
    for spec in [s.strip() for s in args.encoders.split(",") if s.strip()]:
        try:
            t0 = time.perf_counter()
            enc = make_image_encoder(spec)
            load_s = time.perf_counter() - t0
        except AgentsimError as exc:
            skipped[spec] = str(exc)
            print(f"{spec}: skipped ({exc})", flush=True)
            continue
        t0 = time.perf_counter()
        g = enc.encode_images(g_paths, batch_size=32)
        q = enc.encode_images(q_paths, batch_size=32)
        enc_s = time.perf_counter() - t0
        res = {"encoder": enc.name, "dim": enc.dim, "load_s": round(load_s, 1),
               "encode_ms_per_image": round(1000 * enc_s / (len(g_paths) + len(q_paths)), 1),
               "train->test": ranked_metrics(q @ g.T, q_labels, g_labels, exclude_self=False),
               "leave-one-out": ranked_metrics(g @ g.T, g_labels, g_labels, exclude_self=True)}
        nn = np.sort(g @ g.T, axis=1)[:, -2]
        res["nearest_neighbour_cosine_mean"] = round(float(nn.mean()), 4)
        if not args.no_chroma:
            res["chroma train->test"] = through_chroma(enc, g_paths, g, g_labels, q_paths, q_labels)
        results[spec] = res
        tt = res["train->test"]
        print(f"{spec}: {enc.dim}-d, {res['encode_ms_per_image']} ms/image, train->test P@1 {tt['p@1']:.3f} "
              f"mAP {tt['mAP']:.3f}", flush=True)

    chance = {lab: round(float(np.mean(g_labels == lab)), 4) for lab in sorted(set(g_labels))}
    header = f"{'encoder':20s} {'protocol':14s} {'P@1':>6s} {'P@5':>6s} {'P@10':>6s} {'mAP':>6s} {'kNN10':>6s}"
    print("\n" + header + "\n" + "-" * len(header))
    for spec, res in results.items():
        for proto in ("train->test", "leave-one-out"):
            m = res[proto]
            print(f"{spec[:20]:20s} {proto:14s} {m['p@1']:6.3f} {m['p@5']:6.3f} {m['p@10']:6.3f} {m['mAP']:6.3f} "
                  f"{m['knn10_acc']:6.3f}")
        if "chroma train->test" in res:
            c = res["chroma train->test"]
            print(f"{'':20s} {'via Chroma':14s} {c['p@1']:6.3f} {'':>6s} {c['p@10']:6.3f}   query p50 "
                  f"{c['query_p50_ms']} ms, p95 {c['query_p95_ms']} ms (encode + search)")
    print("\nper label, train->test (recall@k = share of queries with a same-label image in the top k)")
    print(f"{'encoder':20s} {'label':18s} {'n':>4s} {'R@1':>6s} {'R@5':>6s} {'R@10':>6s} {'P@10':>6s} {'AP':>6s} "
          f"{'chance':>6s}")
    for spec, res in results.items():
        for lab, m in res["train->test"]["by_label"].items():
            print(f"{spec[:20]:20s} {lab:18s} {m['queries']:4d} {m['recall@1']:6.3f} {m['recall@5']:6.3f} "
                  f"{m['recall@10']:6.3f} {m['p@10']:6.3f} {m['AP']:6.3f} {chance.get(lab, 0):6.3f}")
    for spec, why in skipped.items():
        print(f"skipped {spec}: {why}")
    out = {"benchmark": "retrieval_quality", "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
           "data": {"root": str(args.data), "gallery": len(train), "queries": len(test),
                    "per_label": None if args.all else args.per_label, "seed": args.seed,
                    "dedup": "is_first_copy==1; test images whose sha256 is in Training dropped"},
           "chance_p@1_by_label": chance, "results": results, "skipped": skipped}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
