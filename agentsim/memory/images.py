"""Image memory: labelled reference images and case images in Chroma, searchable by image or text.

Two collections hold the same records (same ids):

* ``<prefix>-images``: image embeddings from the configured :mod:`~agentsim.memory.encoders`
  encoder (versioned by encoder name and dimension);
* ``<prefix>-captions``: the records' label/caption text embedded with the bundled text embedder,
  so text queries work even with an image-only encoder. With a CLIP-style encoder, text queries
  go to the image collection through its text tower instead.

A record's id is derived from the image bytes (sha256), so indexing the same file again, or a
byte-identical copy under another name, does not add a second record. Images attached to a
scenario are stored with their ``case_id`` so the retrieval tool can exclude them when that case
is being evaluated.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from agentsim.errors import ConfigError, ImageError
from agentsim.memory.encoders import ImageEncoder, ImageInput
from agentsim.memory.imageio import file_sha256, find_images
from agentsim.memory.mixins import LazyTextEmbedder
from agentsim.memory.store import MemoryStore, query_excluding, where_all
from agentsim.tools import ImageHit

#: Sidecar files picked up automatically from an indexed folder, in this order.
SIDECAR_NAMES = ("labels.csv", "metadata.csv", "sidecar.csv", "captions.csv", "labels.json", "metadata.json",
                 "sidecar.json", "captions.json")
_COLUMNS = {
    "path": ("file", "path", "filename", "file_name", "image", "image_path"),
    "label": ("label", "diagnosis", "class", "finding", "findings"),
    "caption": ("caption", "report", "description", "text"),
    "modality": ("modality",),
    "body_part": ("body_part", "bodypart", "body part", "region", "anatomy"),
    "source": ("source",),
    "license": ("license", "licence"),
}


def case_flag(case_id: str) -> str:
    """Metadata key set on every stored image whose bytes are an image of ``case_id``."""
    return f"in_case:{case_id}"


class ImageRecord(BaseModel):
    """One image to store, with what is known about it."""

    path: str
    label: str = ""
    caption: str = ""
    modality: str = ""
    body_part: str = ""
    source: str = ""
    license: str = ""
    case_id: str = Field(default="", description="scenario the image belongs to ('' for reference images)")
    image_id: str = ""
    sha256: str = ""

    def record_id(self) -> str:
        """Stable id: content hash, namespaced by case for scenario images."""
        digest = self.sha256[:32]
        return f"case:{self.case_id}:{self.image_id}:{digest}" if self.case_id else f"img:{digest}"

    def text(self) -> str:
        """What the caption collection embeds."""
        parts = [self.label.replace("_", " ").strip(), self.caption.strip(),
                 " ".join(x for x in (self.modality, self.body_part) if x)]
        return ". ".join(p for p in parts if p) or "unlabelled image"

    def metadata(self) -> dict[str, Any]:
        """Chroma metadata (strings only; keys lower-cased for filtering)."""
        return {"path": self.path, "label": self.label, "caption": self.caption[:2000], "modality": self.modality,
                "modality_key": self.modality.strip().lower(), "body_part": self.body_part,
                "body_part_key": self.body_part.strip().lower(), "source": self.source, "license": self.license,
                "case_id": self.case_id, "image_id": self.image_id, "sha256": self.sha256}


class IndexReport(BaseModel):
    """What an indexing run did."""

    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = Field(default=0, description="byte-identical copies folded into one record")
    unlabelled: int = 0
    failed: list[str] = Field(default_factory=list, description="'path: reason' per unreadable file")
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """One line for the CLI."""
        rate = self.added / self.elapsed_s if self.elapsed_s > 0 and self.added else 0.0
        return (f"{self.seen} images: {self.added} added, {self.updated} updated, {self.unchanged} already indexed, "
                f"{self.duplicates} duplicate copies, {len(self.failed)} failed, {self.unlabelled} without label "
                f"({self.elapsed_s:.1f}s{f', {rate:.0f} images/s' if rate else ''})")


# --- sidecars ----------------------------------------------------------------------------------


def _pick(row: dict[str, Any], field: str) -> str:
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for name in _COLUMNS[field]:
        v = lowered.get(name)
        if v not in (None, ""):
            return str(v).strip()
    return ""


def read_sidecar(path: str | Path) -> dict[Path, dict[str, str]]:
    """Per-image metadata from a CSV or JSON sidecar, keyed by resolved image path.

    CSV needs a file column (``file``/``path``/``filename``/``image``) and may have ``label``,
    ``caption``, ``modality``, ``body_part``, ``source``, ``license``. JSON is a list of such
    objects, ``{"images": [...]}``, or an object mapping file names to objects. Relative paths are
    relative to the sidecar's folder.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read sidecar: {exc.strerror or exc}") from None
    rows: list[dict[str, Any]]
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        if isinstance(data, dict) and isinstance(data.get("images"), list):
            data = data["images"]
        if isinstance(data, dict):
            rows = [{"file": k, **(v if isinstance(v, dict) else {"label": v})} for k, v in data.items()]
        elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
            rows = data
        else:
            raise ConfigError(f"{p}: expected a list of objects or an object keyed by file name")
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not any(
                f.strip().lower() in _COLUMNS["path"] for f in reader.fieldnames if f):
            raise ConfigError(f"{p}: no file column (one of {', '.join(_COLUMNS['path'])}); "
                              f"columns are {reader.fieldnames}")
        rows = list(reader)
    out: dict[Path, dict[str, str]] = {}
    for i, row in enumerate(rows):
        rel = _pick(row, "path")
        if not rel:
            raise ConfigError(f"{p}: entry {i + 1} has no file name")
        f = Path(rel)
        f = (f if f.is_absolute() else p.parent / f).resolve()
        out[f] = {k: _pick(row, k) for k in _COLUMNS if k != "path"}
    return out


def find_sidecar(folder: Path) -> Path | None:
    """The first known sidecar file in ``folder``."""
    for name in SIDECAR_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def records_from_paths(paths: Sequence[str | Path], sidecar: str | Path | None = None, *, modality: str = "",
                       body_part: str = "", source: str = "", label_from_folder: bool = False) -> list[ImageRecord]:
    """Image records for files/folders, with metadata from a sidecar (given or found in each folder).

    ``modality``/``body_part``/``source`` fill fields the sidecar leaves empty. With
    ``label_from_folder`` an image without a sidecar label takes its parent folder's name.
    """
    meta: dict[Path, dict[str, str]] = {}
    if sidecar:
        meta.update(read_sidecar(sidecar))
    else:
        for raw in paths:
            if Path(raw).is_dir() and (found := find_sidecar(Path(raw))):
                meta.update(read_sidecar(found))
    out = []
    for f in find_images(list(paths)):
        m = meta.get(f, {})
        label = m.get("label", "") or (f.parent.name if label_from_folder else "")
        out.append(ImageRecord(path=str(f), label=label, caption=m.get("caption", ""),
                               modality=m.get("modality", "") or modality,
                               body_part=m.get("body_part", "") or body_part,
                               source=m.get("source", "") or source, license=m.get("license", "")))
    return out


def records_from_scenarios(loaded: Iterable[Any]) -> list[ImageRecord]:
    """One record per image of each :class:`~agentsim.scenario.LoadedScenario`, labelled with its diagnosis."""
    out = []
    for ls in loaded:
        s = ls.scenario
        for im in s.images:
            out.append(ImageRecord(path=str(ls.image_path(im.id)), label=s.diagnosis.name, caption=im.caption,
                                   modality=im.modality, body_part=im.body_part, source=im.source or s.source,
                                   license=im.license, case_id=s.id, image_id=im.id))
    return out


# --- the memory ----------------------------------------------------------------------------------


class ImageMemory(LazyTextEmbedder):
    """Index and search images. Build with :meth:`open` or from a store and an encoder."""

    def __init__(self, store: MemoryStore, encoder: ImageEncoder, text_embedder: Any | None = None):
        self.store = store
        self.encoder = encoder
        self._text = text_embedder
        self.images = store.collection("images", encoder.name, encoder.dim, getattr(encoder, "spec", ""))
        self._captions: Any | None = None

    @classmethod
    def open(cls, config=None) -> ImageMemory:
        """Open with a :class:`~agentsim.memory.store.MemoryConfig` (default: from the environment)."""
        from agentsim.memory.encoders import load_image_encoder
        from agentsim.memory.store import MemoryConfig

        cfg = config or MemoryConfig.from_env()
        store = MemoryStore.open(cfg)
        return cls(store, load_image_encoder(store.image_encoder_spec(), cfg.device))

    @property
    def captions(self):
        if self._captions is None:
            te = self.text_embedder
            self._captions = self.store.collection("captions", te.name, te.dim)
        return self._captions

    def count(self) -> int:
        """Number of stored images."""
        return int(self.images.count())

    # indexing -----------------------------------------------------------------------------------

    def index(self, records: Sequence[ImageRecord], batch_size: int = 32, progress: bool = False,
              strict: bool = False) -> IndexReport:
        """Store records; unchanged ones are skipped, changed metadata is updated without re-encoding.

        A file that cannot be read is listed in ``report.failed`` (or raises with ``strict``).
        """
        t0 = time.perf_counter()
        report = IndexReport(seen=len(records))
        unique: dict[str, ImageRecord] = {}
        bar = _progress(len(records), "hashing", progress)
        for rec in records:
            try:
                rec = rec if rec.sha256 else rec.model_copy(update={"sha256": file_sha256(rec.path)})
            except ImageError as exc:
                if strict:
                    raise
                report.failed.append(str(exc))
                continue
            finally:
                bar.update(1)
            rid = rec.record_id()
            if rid in unique:
                report.duplicates += 1
                continue
            unique[rid] = rec
        bar.close()
        report.unlabelled = sum(1 for r in unique.values() if not (r.label or r.caption))
        cases_of = self._cases_of_hashes(unique.values())
        todo = list(unique.items())
        bar = _progress(len(todo), f"indexing ({self.encoder.name})", progress)
        step = max(1, min(batch_size, self.store.max_batch_size()))
        for i in range(0, len(todo), step):
            chunk = dict(todo[i:i + step])
            existing = self.images.get(ids=list(chunk), include=["metadatas"])
            have = dict(zip(existing["ids"], existing["metadatas"] or [], strict=True))
            metas_of = {rid: _with_flags(r, cases_of) for rid, r in chunk.items()}
            new = {rid: r for rid, r in chunk.items() if rid not in have}
            # A caption row can be missing if an earlier run stopped between the two writes: repair it too.
            captioned = set(self.captions.get(ids=list(have), include=[])["ids"]) if have else set()
            changed = {rid: r for rid, r in chunk.items()
                       if rid in have and (_differs(have[rid], metas_of[rid]) or rid not in captioned)}
            report.unchanged += len(chunk) - len(new) - len(changed)
            if changed:
                ids = list(changed)
                metas = [metas_of[r] for r in ids]
                texts = [changed[r].text() for r in ids]
                self.images.update(ids=ids, metadatas=metas)
                self.captions.upsert(ids=ids, metadatas=metas, documents=texts,
                                     embeddings=self.text_embedder.encode(texts))
                report.updated += len(ids)
            if new:
                ids, vecs = self._encode(new, report, strict)
                if ids:
                    metas = [metas_of[r] for r in ids]
                    texts = [new[r].text() for r in ids]
                    self.images.upsert(ids=ids, embeddings=vecs, metadatas=metas)
                    self.captions.upsert(ids=ids, embeddings=self.text_embedder.encode(texts), metadatas=metas,
                                         documents=texts)
                    report.added += len(ids)
            bar.update(len(chunk))
        bar.close()
        self._flag_copies(cases_of)
        report.elapsed_s = time.perf_counter() - t0
        return report

    def _cases_of_hashes(self, records: Iterable[ImageRecord]) -> dict[str, set[str]]:
        """sha256 -> ids of the cases that have an image with these bytes (stored or being indexed)."""
        out: dict[str, set[str]] = {}
        recs = list(records)
        for r in recs:
            if r.case_id:
                out.setdefault(r.sha256, set()).add(r.case_id)
        hashes = sorted({r.sha256 for r in recs})
        for i in range(0, len(hashes), 500):
            got = self.images.get(where={"$and": [{"sha256": {"$in": hashes[i:i + 500]}}, {"case_id": {"$ne": ""}}]},
                                  include=["metadatas"])
            for m in got["metadatas"] or []:
                out.setdefault(str(m.get("sha256")), set()).add(str(m.get("case_id")))
        return out

    def _flag_copies(self, cases_of: dict[str, set[str]]) -> None:
        """Mark stored copies of case images (e.g. the same file in a reference folder) with the case.

        Query-time exclusion then needs only each hit's own metadata, no lookup per query.
        """
        hashes = sorted(cases_of)
        for i in range(0, len(hashes), 500):
            got = self.images.get(where={"sha256": {"$in": hashes[i:i + 500]}}, include=["metadatas"])
            ids, flags = [], []
            for rid, m in zip(got["ids"], got["metadatas"] or [], strict=True):
                wanted = (case_flag(c) for c in sorted(cases_of[str(m.get("sha256"))]))
                missing = {f: True for f in wanted if not m.get(f)}
                if missing:
                    ids.append(rid)
                    flags.append(missing)
            if ids:
                self.images.update(ids=ids, metadatas=flags)
                self.captions.update(ids=ids, metadatas=flags)

    def _encode(self, recs: dict[str, ImageRecord], report: IndexReport, strict: bool) -> tuple[list[str], np.ndarray]:
        ids = list(recs)
        try:
            return ids, self.encoder.encode_images([recs[r].path for r in ids], batch_size=len(ids))
        except ImageError:
            if strict:
                raise
        # One bad file must not sink its batch: retry one by one to find it.
        good, vecs = [], []
        for rid in ids:
            try:
                vecs.append(self.encoder.encode_images([recs[rid].path])[0])
                good.append(rid)
            except ImageError as exc:
                report.failed.append(str(exc))
        return good, (np.stack(vecs) if vecs else np.zeros((0, self.encoder.dim), dtype=np.float32))

    def index_paths(self, paths: Sequence[str | Path], sidecar: str | Path | None = None, *, progress: bool = False,
                    batch_size: int = 32, **defaults: Any) -> IndexReport:
        """Index image files/folders with sidecar metadata (see :func:`records_from_paths`)."""
        return self.index(records_from_paths(paths, sidecar, **defaults), batch_size=batch_size, progress=progress)

    def index_scenarios(self, loaded: Iterable[Any], *, progress: bool = False) -> IndexReport:
        """Index every image of the given scenarios, tagged with their case ids."""
        return self.index(records_from_scenarios(loaded), progress=progress)

    # search -------------------------------------------------------------------------------------

    def case_hashes(self, case_id: str) -> set[str]:
        """sha256 of every stored image that belongs to ``case_id``."""
        if not case_id:
            return set()
        got = self.images.get(where={"case_id": case_id}, include=["metadatas"])
        return {m.get("sha256", "") for m in got["metadatas"] or [] if m.get("sha256")}

    def exclusion(self, exclude_case_id: str = "", exclude_sha256: Iterable[str] = ()):
        """Predicate over (id, metadata): images of the case, stored copies of them, and copies of the given bytes.

        Decided from each hit's own metadata (``case_id``, the copy flag set at indexing, ``sha256``),
        so excluding costs no extra lookup per query.
        """
        hashes = {h for h in exclude_sha256 if h}
        if not (hashes or exclude_case_id):
            return None
        flag = case_flag(exclude_case_id) if exclude_case_id else ""

        def excluded(_rid: str, meta: dict[str, Any]) -> bool:
            if exclude_case_id and (meta.get("case_id") == exclude_case_id or meta.get(flag)):
                return True
            return meta.get("sha256") in hashes

        return excluded

    @staticmethod
    def _where(modality: str, body_part: str) -> dict[str, Any] | None:
        return where_all({"modality_key": modality.strip().lower()} if modality else None,
                         {"body_part_key": body_part.strip().lower()} if body_part else None)

    @staticmethod
    def _hits(rows: list[tuple[str, dict[str, Any], float]]) -> list[ImageHit]:
        return [ImageHit(id=rid, score=score, label=str(m.get("label", "")), caption=str(m.get("caption", "")),
                         modality=str(m.get("modality", "")), body_part=str(m.get("body_part", "")),
                         path=str(m.get("path", "")), source=str(m.get("source", ""))) for rid, m, score in rows]

    def query_image(self, image: ImageInput, k: int = 5, *, modality: str = "", body_part: str = "",
                    exclude_case_id: str = "", exclude_sha256: Iterable[str] = (), exclude_self: bool = True
                    ) -> list[ImageHit]:
        """Most similar stored images to an image file or array.

        ``exclude_self`` drops stored copies of the query file itself (by content hash), so an
        image never retrieves its own label.
        """
        hashes = set(exclude_sha256)
        if exclude_self and not isinstance(image, np.ndarray):
            hashes.add(file_sha256(image))
        vec = self.encoder.encode_images([image])[0]
        skip = self.exclusion(exclude_case_id, hashes)
        return self._hits(query_excluding(self.images, vec, k, skip, self._where(modality, body_part)))

    def query_text(self, text: str, k: int = 5, *, modality: str = "", body_part: str = "",
                   exclude_case_id: str = "", exclude_sha256: Iterable[str] = ()) -> list[ImageHit]:
        """Stored images matching a text: through the encoder's text tower, else through captions."""
        skip = self.exclusion(exclude_case_id, exclude_sha256)
        where = self._where(modality, body_part)
        if self.encoder.supports_text:
            return self._hits(query_excluding(self.images, self.encoder.encode_text([text])[0], k, skip, where))
        return self._hits(query_excluding(self.captions, self.text_embedder.encode_one(text), k, skip, where))


def _with_flags(rec: ImageRecord, cases_of: dict[str, set[str]]) -> dict[str, Any]:
    return {**rec.metadata(), **{case_flag(c): True for c in sorted(cases_of.get(rec.sha256, ()))}}


def _differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return any(str(old.get(k, "")) != str(v) for k, v in new.items())


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool):
    if not enabled or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img")
