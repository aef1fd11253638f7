"""The Chroma store behind the retrieval memory: configuration, client factory, collections.

One :class:`MemoryConfig` is shared by the CLI, the benchmark runner and the app. The client is
either an embedded ``PersistentClient`` at ``data_dir`` or an ``HttpClient`` to a ``chroma run``
server (``chroma_url``).

Collections never use Chroma's embedding functions: every vector is computed by our encoders
and passed in (``embedding_function=None``), because Chroma's default function would download a
model at first use. Each collection records in its metadata which embedding space it holds
(encoder name and dimension); opening it with another encoder raises
:class:`~agentsim.errors.MemoryStoreError` instead of mixing incomparable vectors.

HNSW parameters are fixed when a collection is created. The defaults below come from
``benchmarks/retrieval_speed.py`` on this project's 2-core machines (see ``HnswParams``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentsim.errors import ConfigError, MemoryStoreError
from agentsim.memory.encoders import DEFAULT_IMAGE_ENCODER

#: Bumped when the record layout of a collection changes incompatibly.
SCHEMA_VERSION = 1

Kind = Literal["images", "captions", "experience"]
KINDS: tuple[str, ...] = ("images", "captions", "experience")


class HnswParams(BaseModel):
    """HNSW index parameters, fixed at collection creation (Chroma ignores a later change of
    ``ef_search`` on a loaded index).

    Measured with ``benchmarks/retrieval_speed.py`` on 2 cores: 100k clustered 1280-d vectors
    whose mean nearest-neighbour cosine (0.855) matches that of EfficientNet-Lite0 embeddings of
    the brain MRI set (0.85-0.86). With these defaults recall@10 against exact search was
    0.975-0.996 over four index builds, and a query on the retrieval tool's path took p50 2.2 ms
    embedded / 3.3 ms against a server. ``ef_search`` 32/64/128/256 on one build gave recall
    0.968/0.991/0.996/0.996 at p50 1.7/1.8/2.2/2.6 ms: 128 keeps recall above 0.95 on every
    build for under a millisecond. ``max_neighbors`` 32 with ``ef_construction`` 200 raised recall
    at 10k from 0.981 to 0.993 but made inserts 2-3x slower (456/s vs 1366/s), so
    ``max_neighbors`` 16 / ``ef_construction`` 100 is the default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ef_construction: int = Field(default=100, ge=8, le=2000)
    max_neighbors: int = Field(default=16, ge=4, le=256)
    ef_search: int = Field(default=128, ge=8, le=4000)

    def configuration(self) -> dict[str, Any]:
        """The ``configuration`` argument of ``create_collection`` (cosine space)."""
        return {"hnsw": {"space": "cosine", "ef_construction": self.ef_construction,
                         "max_neighbors": self.max_neighbors, "ef_search": self.ef_search}}


def default_data_dir() -> Path:
    """Where the embedded store lives unless configured: ``<user data dir>/agentsim/memory``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("agentsim", appauthor=False)) / "memory"


class MemoryConfig(BaseModel):
    """Everything needed to open the retrieval memory.

    Environment fallbacks (see :meth:`from_env`): ``AGENTSIM_DATA_DIR``, ``AGENTSIM_CHROMA_URL``,
    ``AGENTSIM_IMAGE_ENCODER``.
    """

    model_config = ConfigDict(extra="forbid")

    data_dir: Path | None = Field(default=None, description="embedded store folder (default: user data dir)")
    chroma_url: str | None = Field(default=None, description="http(s)://host:port of a `chroma run` server")
    image_encoder: str = Field(default=DEFAULT_IMAGE_ENCODER,
                               description="classical | efficientnet-lite0 | hf-hub:ORG/REPO | local-dir:/path | "
                                           "open_clip:ARCH:/path/ckpt")
    prefix: str = Field(default="agentsim", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,40}$",
                        description="collection name prefix (several memories can share one server)")
    hnsw: HnswParams = Field(default_factory=HnswParams)
    experience_writes: bool = Field(default=True, description="store an experience record after each episode")
    device: str = "cpu"

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, v: str | None) -> str | None:
        if not v:
            return None
        u = urlparse(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"chroma_url must look like http://host:port, got {v!r}")
        return v.rstrip("/")

    @classmethod
    def from_env(cls, **overrides: Any) -> MemoryConfig:
        """Config from ``AGENTSIM_*`` variables; explicit non-None ``overrides`` win."""
        values: dict[str, Any] = {}
        if os.environ.get("AGENTSIM_DATA_DIR"):
            values["data_dir"] = Path(os.environ["AGENTSIM_DATA_DIR"])
        if os.environ.get("AGENTSIM_CHROMA_URL"):
            values["chroma_url"] = os.environ["AGENTSIM_CHROMA_URL"]
        if os.environ.get("AGENTSIM_IMAGE_ENCODER"):
            values["image_encoder"] = os.environ["AGENTSIM_IMAGE_ENCODER"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(f"memory configuration: {exc}") from None

    def resolved_data_dir(self) -> Path:
        """``data_dir`` or the default location."""
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()

    def location(self) -> str:
        """Human-readable place of the store (for messages)."""
        return self.chroma_url or str(self.resolved_data_dir())

    def collection_name(self, kind: str) -> str:
        """Chroma collection name of one kind of record."""
        return f"{self.prefix}-{kind}"


class CollectionInfo(BaseModel):
    """What ``agentsim memory stats`` prints for one collection."""

    name: str
    kind: str
    count: int
    encoder: str
    dim: int
    hnsw: dict[str, Any] = Field(default_factory=dict)


def make_client(config: MemoryConfig):
    """A Chroma client: ``HttpClient`` when ``chroma_url`` is set, else ``PersistentClient``."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if config.chroma_url:
        u = urlparse(config.chroma_url)
        ssl = u.scheme == "https"
        port = u.port or (443 if ssl else 8000)
        try:
            client = chromadb.HttpClient(host=u.hostname, port=port, ssl=ssl, settings=settings)
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - connection errors come in many types
            raise MemoryStoreError(f"cannot reach the Chroma server at {config.chroma_url} "
                                   f"({type(exc).__name__}: {str(exc)[:200]}); start one with "
                                   "`chroma run --host 127.0.0.1 --port PORT --path DIR`") from None
        return client
    path = config.resolved_data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:  # noqa: BLE001 - e.g. unwritable folder, corrupt sqlite file
        raise MemoryStoreError(f"cannot open the memory store at {path}: {type(exc).__name__}: {exc}") from None


class MemoryStore:
    """A Chroma client plus the versioned collections of one :class:`MemoryConfig`."""

    def __init__(self, config: MemoryConfig, client: Any | None = None):
        self.config = config
        self.client = client if client is not None else make_client(config)
        self._collections: dict[str, Any] = {}

    @classmethod
    def open(cls, config: MemoryConfig | None = None) -> MemoryStore:
        """Connect (or create the embedded store) for ``config`` (default: from the environment)."""
        return cls(config or MemoryConfig.from_env())

    def max_batch_size(self) -> int:
        """Largest number of records one ``add``/``upsert`` call may carry."""
        try:
            return max(1, min(int(self.client.get_max_batch_size()), 2000))
        except Exception:  # noqa: BLE001 - older servers lack the endpoint
            return 1000

    def collection(self, kind: Kind, encoder: str, dim: int, spec: str = ""):
        """Get or create the collection of ``kind`` for an embedding space; refuse a mismatch.

        ``spec`` (the encoder's spec string) is recorded so later readers can load the same encoder.
        """
        name = self.config.collection_name(kind)
        cached = self._collections.get(name)
        if cached is not None:
            self._check(cached, kind, encoder, dim)
            return cached
        metadata = {"agentsim_schema": SCHEMA_VERSION, "kind": kind, "encoder": encoder, "dim": int(dim),
                    "encoder_spec": spec}
        try:
            col = self.client.get_or_create_collection(
                name, configuration=self.config.hnsw.configuration(), metadata=metadata, embedding_function=None)
        except Exception as exc:  # noqa: BLE001
            raise MemoryStoreError(f"{self.config.location()}: cannot open collection {name!r}: {exc}") from None
        self._check(col, kind, encoder, dim)
        self._collections[name] = col
        return col

    def existing(self, kind: Kind):
        """The collection of ``kind`` if it exists (no encoder check), else None."""
        try:
            return self.client.get_collection(self.config.collection_name(kind), embedding_function=None)
        except Exception:  # noqa: BLE001 - NotFoundError and friends
            return None

    def image_encoder_spec(self) -> str:
        """The encoder to use with this store: the configured one if set explicitly, else the one the
        existing image collection was built with, else the default."""
        if "image_encoder" in self.config.model_fields_set:
            return self.config.image_encoder
        col = self.existing("images")
        recorded = str((col.metadata or {}).get("encoder_spec") or "") if col is not None else ""
        return recorded or self.config.image_encoder

    def _check(self, col: Any, kind: str, encoder: str, dim: int) -> None:
        meta = col.metadata or {}
        have_enc, have_dim = meta.get("encoder"), meta.get("dim")
        if meta.get("agentsim_schema") not in (None, SCHEMA_VERSION):
            raise MemoryStoreError(f"{self.config.location()}: collection {col.name!r} uses record schema "
                                   f"{meta.get('agentsim_schema')}, this version reads {SCHEMA_VERSION}; clear it "
                                   f"with `agentsim memory clear {kind}`")
        if have_enc != encoder or int(have_dim or -1) != int(dim):
            raise MemoryStoreError(
                f"{self.config.location()}: collection {col.name!r} holds {have_dim}-d embeddings from encoder "
                f"{have_enc!r}, but this run uses {encoder!r} ({dim}-d); their vectors are not comparable. "
                f"Use the same --encoder as when it was indexed, clear it with `agentsim memory clear {kind}`, "
                "or pick another --prefix")

    def info(self) -> list[CollectionInfo]:
        """Count, encoder and HNSW settings of every collection of this prefix."""
        out = []
        for kind in KINDS:
            col = self.existing(kind)  # type: ignore[arg-type]
            if col is None:
                continue
            meta = col.metadata or {}
            hnsw = dict((getattr(col, "configuration", None) or {}).get("hnsw") or {})
            out.append(CollectionInfo(name=col.name, kind=kind, count=col.count(), encoder=str(meta.get("encoder")),
                                      dim=int(meta.get("dim") or 0), hnsw=hnsw))
        return out

    def clear(self, kind: Kind) -> bool:
        """Delete the collection of ``kind``; True when it existed."""
        name = self.config.collection_name(kind)
        self._collections.pop(name, None)
        try:
            self.client.delete_collection(name)
        except Exception:  # noqa: BLE001 - deleting a missing collection is not an error here
            return False
        return True


def ids_where(col: Any, where: dict[str, Any]) -> set[str]:
    """Ids of the records matching a metadata filter."""
    return set(col.get(where=where, include=[])["ids"])


Exclude = Callable[[str, dict[str, Any]], bool]


def query_excluding(col: Any, vector: Any, k: int, exclude: Exclude | None = None,
                    where: dict[str, Any] | None = None, margin: int = 10) -> list[tuple[str, dict[str, Any], float]]:
    """Top-``k`` (id, metadata, cosine similarity) of a collection, skipping records ``exclude`` rejects.

    Exclusions are checked on every returned record's own metadata after an over-fetched
    nearest-neighbour query, and the query is repeated with a larger ``n_results`` until ``k``
    records survive or the collection is exhausted, so an excluded record can never slip through
    and never crowds out allowed ones. Chroma-side ``$ne`` filters would do the same job but scan
    every record's metadata (about 20 ms at 10k records, 200-400 ms at 100k; see
    ``benchmarks/retrieval_speed.py``), while an HNSW query takes 1-2 ms. ``count()`` is avoided
    too (3 ms at 100k): a short result means the collection is exhausted.
    """
    import numpy as np

    if k <= 0:
        return []
    vec = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    n = int(k) + (margin if exclude is not None else 0)
    while True:
        res = col.query(query_embeddings=vec, n_results=n, where=where, include=["metadatas", "distances"])
        out = []
        for rid, meta, dist in zip(res["ids"][0], res["metadatas"][0], res["distances"][0], strict=True):
            m = meta or {}
            if exclude is not None and exclude(rid, m):
                continue
            out.append((rid, m, distance_to_score(dist)))
            if len(out) == k:
                return out
        if len(res["ids"][0]) < n:
            return out
        n *= 4


def where_all(*clauses: dict[str, Any] | None) -> dict[str, Any] | None:
    """Combine Chroma ``where`` clauses with ``$and`` (Chroma refuses ``$and`` with one clause)."""
    parts = [c for c in clauses if c]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def distance_to_score(distance: float) -> float:
    """Cosine similarity from Chroma's cosine distance."""
    return float(1.0 - distance)
