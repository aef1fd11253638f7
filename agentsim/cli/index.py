"""``agentsim index images|scenarios`` and ``agentsim memory stats|search|clear``.

Both groups share the store options (``--data-dir``, ``--chroma-url``, ``--encoder``,
``--prefix``), which map onto one :class:`agentsim.memory.store.MemoryConfig`; unset options fall
back to ``AGENTSIM_DATA_DIR``, ``AGENTSIM_CHROMA_URL`` and ``AGENTSIM_IMAGE_ENCODER``.
"""

from __future__ import annotations

import argparse
import sys


def add_store_options(p: argparse.ArgumentParser, encoder: bool = True) -> None:
    """Options selecting the Chroma store (and the image encoder)."""
    p.add_argument("--data-dir", default=None, help="embedded store folder (default: user data dir; "
                                                    "env AGENTSIM_DATA_DIR)")
    p.add_argument("--chroma-url", default=None, help="use a `chroma run` server instead, e.g. http://127.0.0.1:8000 "
                                                      "(env AGENTSIM_CHROMA_URL)")
    if encoder:
        p.add_argument("--encoder", default=None,
                       help="image encoder: efficientnet-lite0 (default), classical, hf-hub:ORG/REPO, "
                            "local-dir:/path, open_clip:ARCH:/path/ckpt (env AGENTSIM_IMAGE_ENCODER)")
    p.add_argument("--prefix", default=None, help="collection name prefix (default: agentsim)")


def memory_config(args: argparse.Namespace):
    """The MemoryConfig the options describe."""
    from agentsim.memory.store import MemoryConfig

    return MemoryConfig.from_env(data_dir=args.data_dir, chroma_url=args.chroma_url,
                                 image_encoder=getattr(args, "encoder", None), prefix=args.prefix)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``index`` and ``memory`` command groups."""
    p = sub.add_parser("index", help="add images or scenario images to the retrieval memory")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    pi = isub.add_parser("images", help="index image files/folders with a CSV/JSON sidecar of labels",
                         description="Index PNG/JPEG/DICOM images. Metadata comes from --sidecar or a labels.csv / "
                                     "metadata.csv / labels.json found in each folder (columns: file, label, "
                                     "caption, modality, body_part, source, license). Re-indexing is idempotent.")
    pi.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    pi.add_argument("--sidecar", default=None, help="CSV or JSON file with per-image metadata")
    pi.add_argument("--modality", default="", help="modality for images the sidecar does not give one (e.g. MRI)")
    pi.add_argument("--body-part", default="", help="body part for images without one (e.g. brain)")
    pi.add_argument("--source", default="", help="source/citation for images without one")
    pi.add_argument("--label-from-folder", action="store_true", help="label = parent folder name when unlabelled")
    pi.add_argument("--batch-size", type=int, default=32)
    pi.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_store_options(pi)
    pi.set_defaults(func=handle_images)
    ps = isub.add_parser("scenarios", help="index every image attached to scenario files")
    ps.add_argument("path", nargs="?", default=None, help="case folder or file (default: shipped scenarios/)")
    ps.add_argument("--no-progress", action="store_true")
    add_store_options(ps)
    ps.set_defaults(func=handle_scenarios)

    m = sub.add_parser("memory", help="inspect, search or clear the retrieval memory")
    msub = m.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    mst = msub.add_parser("stats", help="collections, counts, encoders, HNSW settings")
    add_store_options(mst, encoder=False)
    mst.set_defaults(func=handle_stats)
    mse = msub.add_parser("search", help="query the memory as the doctor's tool would")
    mse.add_argument("--text", default="", help="findings in words")
    mse.add_argument("--image", default="", help="query image file")
    mse.add_argument("-k", type=int, default=5)
    mse.add_argument("--exclude-case", default="", help="case id whose records must not be returned")
    mse.add_argument("--modality", default="")
    add_store_options(mse)
    mse.set_defaults(func=handle_search)
    mcl = msub.add_parser("clear", help="delete collections")
    mcl.add_argument("what", choices=["images", "experience", "all"])
    mcl.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_store_options(mcl, encoder=False)
    mcl.set_defaults(func=handle_clear)


def _report(report) -> int:
    print(report.summary())
    for line in report.failed[:20]:
        print(f"  failed: {line}", file=sys.stderr)
    if len(report.failed) > 20:
        print(f"  ... and {len(report.failed) - 20} more", file=sys.stderr)
    return 1 if report.failed else 0


def handle_images(args: argparse.Namespace) -> int:
    """Index files/folders."""
    from agentsim.memory.images import ImageMemory

    cfg = memory_config(args)
    mem = ImageMemory.open(cfg)
    print(f"Indexing into {cfg.location()} with encoder {mem.encoder.name} ({mem.encoder.dim}-d)", flush=True)
    report = mem.index_paths(args.paths, args.sidecar, progress=not args.no_progress, batch_size=args.batch_size,
                             modality=args.modality, body_part=args.body_part, source=args.source,
                             label_from_folder=args.label_from_folder)
    return _report(report)


def handle_scenarios(args: argparse.Namespace) -> int:
    """Index every scenario image, tagged with its case id."""
    from agentsim.memory.images import ImageMemory
    from agentsim.scenario import default_scenarios_dir, load_scenarios

    cases = load_scenarios(args.path or default_scenarios_dir())
    cfg = memory_config(args)
    mem = ImageMemory.open(cfg)
    n = sum(len(ls.scenario.images) for ls in cases)
    print(f"{len(cases)} cases, {n} images -> {cfg.location()} ({mem.encoder.name})", flush=True)
    return _report(mem.index_scenarios(cases, progress=not args.no_progress))


def handle_stats(args: argparse.Namespace) -> int:
    """Print one line per collection."""
    from agentsim.memory.store import MemoryStore

    cfg = memory_config(args)
    infos = MemoryStore.open(cfg).info()
    print(f"Memory at {cfg.location()} (prefix {cfg.prefix})")
    if not infos:
        print("  empty: index images with `agentsim index images PATH` or `agentsim index scenarios`")
    for i in infos:
        h = i.hnsw
        print(f"  {i.name:28s} {i.count:8d} records  {i.encoder} ({i.dim}-d)  hnsw M={h.get('max_neighbors')} "
              f"ef_construction={h.get('ef_construction')} ef_search={h.get('ef_search')} space={h.get('space')}")
    return 0


def handle_search(args: argparse.Namespace) -> int:
    """Run one retrieval and print what the doctor would see, with scores."""
    from agentsim.errors import ConfigError
    from agentsim.memory.retrieval import MemoryRetrieval
    from agentsim.tools import RetrievalQuery

    if not (args.text or args.image):
        raise ConfigError("memory search: give --text and/or --image")
    tool = MemoryRetrieval.open(memory_config(args))
    res = tool.search_sync(RetrievalQuery(query_text=args.text, image_path=args.image, k=args.k,
                                          exclude_case_id=args.exclude_case, modality=args.modality))
    print(res.render(max_items=args.k))
    for h in res.images:
        print(f"  image {h.score:.3f} {h.label or '-'} {h.path}")
    for c in res.cases:
        print(f"  case  {c.score:.3f} {c.case_id} -> {c.final_diagnosis} ({'correct' if c.correct else 'wrong'})")
    print(f"({res.note}; {res.elapsed_ms:.1f} ms)")
    return 0


def handle_clear(args: argparse.Namespace) -> int:
    """Delete the chosen collections."""
    from agentsim.memory.store import MemoryStore

    cfg = memory_config(args)
    kinds = {"images": ["images", "captions"], "experience": ["experience"],
             "all": ["images", "captions", "experience"]}[args.what]
    if not args.yes:
        answer = input(f"Delete {', '.join(cfg.collection_name(k) for k in kinds)} at {cfg.location()}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    store = MemoryStore.open(cfg)
    for k in kinds:
        print(f"{cfg.collection_name(k)}: {'deleted' if store.clear(k) else 'did not exist'}")
    return 0
