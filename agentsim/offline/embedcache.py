"""A persistent phrase -> vector store, one file per embedder model, so only new phrases are encoded.

Each model has one uncompressed ``.npz`` file in the cache folder holding the phrase texts
(UTF-8, NUL-separated, as a byte array) and a float16 ``(n, dim)`` matrix. A process loads the
file once (:func:`open_store` memoises one :class:`PhraseVectorStore` per path), encodes only the
phrases it lacks, and rewrites the file atomically (temporary file, then :func:`os.replace`),
first merging rows another process may have added meanwhile. Two concurrent writers can at worst
lose each other's new rows (the last writer wins), which only costs re-encoding later; a corrupt
or unreadable file counts as empty.

Vectors are returned rounded through float16 whether or not they came from disk, so results do
not depend on the state of the cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

#: Bumped when the file layout changes (older files are then ignored).
FORMAT_VERSION = 1
#: A store that would grow past this many rows keeps only the phrases of the current request
#: (old knowledge-base wordings otherwise accumulate forever).
MAX_ROWS = 200_000
_SEP = "\0"


def store_path(folder: Path, model_name: str, dim: int) -> Path:
    """The file of one model's vectors in ``folder``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name)[:60]
    digest = hashlib.sha256(model_name.encode("utf-8")).hexdigest()[:8]
    return folder / f"phrase-vectors-{slug}-{digest}-{dim}.npz"


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def read_store_file(path: Path, dim: int) -> tuple[list[str], np.ndarray]:
    """Phrases and float16 vectors of a store file; empty when missing, corrupt or of another shape."""
    empty: tuple[list[str], np.ndarray] = ([], np.zeros((0, dim), dtype=np.float16))
    try:
        with np.load(path, allow_pickle=False) as z:
            version = int(z["version"][0])
            text = z["phrases"].tobytes().decode("utf-8", errors="surrogatepass")
            vecs = z["vecs"]
    except Exception:  # noqa: BLE001 - a missing or unreadable cache is an empty cache
        return empty
    phrases = text.split(_SEP) if text else []
    if (version != FORMAT_VERSION or vecs.dtype != np.float16 or vecs.ndim != 2 or vecs.shape[1] != dim
            or vecs.shape[0] != len(phrases) or len(set(phrases)) != len(phrases)):
        return empty
    return phrases, vecs


class PhraseVectorStore:
    """Vectors of the phrases one model has encoded, backed by one file (thread-safe)."""

    def __init__(self, path: Path, dim: int):
        self.path = path
        self.dim = dim
        self._lock = threading.Lock()
        self._stamp = _stamp(path)
        self._phrases, self._vecs = read_store_file(path, dim)
        self._index = {p: i for i, p in enumerate(self._phrases)}

    def __len__(self) -> int:
        return len(self._phrases)

    def get(self, phrases: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """float32 ``(len(phrases), dim)`` vectors, calling ``encode`` once on just the unknown phrases."""
        with self._lock:
            rows = [self._index.get(p, -1) for p in phrases]
            if -1 in rows:
                self._merge_disk()  # another process may have encoded them meanwhile
                missing = [p for p in dict.fromkeys(phrases) if p not in self._index]
                if missing:
                    vecs = np.asarray(encode(missing), dtype=np.float32)
                    if vecs.shape != (len(missing), self.dim):
                        raise ValueError(f"encoder gave shape {vecs.shape}, expected {(len(missing), self.dim)}")
                    self._append(missing, vecs.astype(np.float16))
                    self._save(phrases)
                rows = [self._index[p] for p in phrases]
            return self._vecs[np.asarray(rows, dtype=np.intp)].astype(np.float32)

    def _append(self, phrases: list[str], vecs: np.ndarray) -> None:
        if not phrases:
            return
        start = len(self._phrases)
        self._phrases.extend(phrases)
        self._index.update((p, start + i) for i, p in enumerate(phrases))
        self._vecs = np.concatenate([self._vecs, vecs]) if len(self._vecs) else vecs

    def _merge_disk(self) -> None:
        """Take in the rows another process wrote since this store last read or wrote the file."""
        stamp = _stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return
        phrases, vecs = read_store_file(self.path, self.dim)
        self._stamp = stamp
        new = [i for i, p in enumerate(phrases) if p not in self._index]
        self._append([phrases[i] for i in new], vecs[new])

    def _save(self, keep: Sequence[str]) -> None:
        """Write the store atomically; on any OS error the store simply stays in memory only."""
        self._merge_disk()
        if len(self._phrases) > MAX_ROWS:
            kept = list(dict.fromkeys(keep))
            rows = [self._index[p] for p in kept]
            self._phrases, self._vecs = kept, self._vecs[rows]
            self._index = {p: i for i, p in enumerate(kept)}
        stored = [i for i, p in enumerate(self._phrases) if _SEP not in p]
        text = _SEP.join(self._phrases[i] for i in stored).encode("utf-8", errors="surrogatepass")
        vecs = self._vecs if len(stored) == len(self._phrases) else self._vecs[stored]
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.stem + ".", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, version=np.array([FORMAT_VERSION]), phrases=np.frombuffer(text, dtype=np.uint8),
                         vecs=vecs)
            os.replace(tmp, self.path)
            tmp = None
            self._stamp = _stamp(self.path)
        except OSError:
            pass
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


@lru_cache(maxsize=16)
def open_store(path: Path, dim: int) -> PhraseVectorStore:
    """The process-wide store of one file (loaded on first use)."""
    return PhraseVectorStore(path, dim)


class Encoder(Protocol):
    """What :func:`cached_embeddings` needs of an embedder (e.g. :class:`agentsim.textembed.TextEmbedder`)."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def cached_embeddings(embedder: Encoder, phrases: Sequence[str], folder: Path | None,
                      batch_size: int = 128) -> np.ndarray:
    """float32 embeddings of ``phrases`` (rows in order), from the store in ``folder`` when given."""
    phrases = list(phrases)
    if not phrases:
        return np.zeros((0, embedder.dim), dtype=np.float32)

    def encode(texts: list[str]) -> np.ndarray:
        return embedder.encode(texts, batch_size=batch_size)

    if folder is None:
        return np.asarray(encode(phrases), dtype=np.float32).astype(np.float16).astype(np.float32)
    return open_store(store_path(folder, embedder.name, embedder.dim), embedder.dim).get(phrases, encode)
