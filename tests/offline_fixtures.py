"""Shared helpers for the offline-engine tests: a small knowledge base and a model-free embedder.

Test modules import the fixture functions (``*_fixture``); pytest registers them under their
``name`` (``index``), so test arguments do not shadow the imports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from agentsim.catalog import default_catalog
from agentsim.offline.kb import load_kb
from agentsim.offline.reasoner import KBIndex

FIXTURE_KB = Path(__file__).resolve().parent / "fixtures" / "offline_kb"


@pytest.fixture(scope="module", name="index")
def index_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KBIndex]:
    """A :class:`KBIndex` over the fixture knowledge base with the bundled text embedder.

    Its caches go to a fresh directory so tests neither read nor pollute the user's cache.
    """
    from agentsim.textembed import load_text_embedder

    mp = pytest.MonkeyPatch()
    mp.setenv("AGENTSIM_CACHE_DIR", str(tmp_path_factory.mktemp("offline-cache")))
    try:
        yield KBIndex(load_kb(FIXTURE_KB), load_text_embedder(), default_catalog())
    finally:
        mp.undo()


class HashingEmbedder:
    """Deterministic bag-of-words vectors (no model): similar wording gives similar vectors.

    Lets patient and matcher logic run in milliseconds where the semantic quality of the bundled
    model is not what a test is about.
    """

    name = "hashing-test"
    dim = 4096  # wide, so that two different words rarely share a bucket

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", t.lower()):
                h = int(hashlib.md5(w.encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            if n > 0:
                out[i] /= n
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.encode([a, b])
        return float(va @ vb)
