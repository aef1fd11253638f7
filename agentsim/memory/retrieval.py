"""The doctor's ``search_similar_cases`` tool over the image and experience memories.

``MemoryRetrieval.open(MemoryConfig(...))`` (or ``open_default()``, configured from the
environment) gives an object implementing :class:`agentsim.tools.RetrievalTool`; hand it to
``run_episode(..., retrieval=...)``.

Leakage guarantees, whatever the query: nothing stored for ``query.exclude_case_id`` is returned
(every hit's stored ``case_id`` is checked, see :func:`agentsim.memory.store.query_excluding`),
and no stored image byte-identical to the query image or to any image of the excluded case is
returned, so a case image copied into a reference folder cannot reveal its own label.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from agentsim.memory.experience import ExperienceMemory
from agentsim.memory.images import ImageMemory
from agentsim.memory.store import MemoryConfig, MemoryStore
from agentsim.results import EpisodeResult
from agentsim.tools import CaseHit, ImageHit, RetrievalQuery, RetrievalResult
from agentsim.views import DoctorView


class MemoryRetrieval:
    """Combines image hits (by query image, else by text) and past-case hits (by text)."""

    def __init__(self, images: ImageMemory | None = None, experience: ExperienceMemory | None = None, *,
                 min_case_score: float = 0.2):
        self.images = images
        self.experience = experience
        self.min_case_score = min_case_score
        # Chroma and the encoders block: searches run in worker threads, one at a time per memory. A
        # threading lock (not asyncio) because callers such as the app use a fresh event loop per call.
        self._lock = threading.Lock()

    @classmethod
    def open(cls, config: MemoryConfig | None = None, *, images: bool = True, experience: bool = True,
             **experience_kwargs: Any) -> MemoryRetrieval:
        """Open both memories on one store (raises MemoryStoreError/ConfigError with a clear message)."""
        cfg = config or MemoryConfig.from_env()
        store = MemoryStore.open(cfg)
        img = None
        if images:
            from agentsim.memory.encoders import load_image_encoder

            img = ImageMemory(store, load_image_encoder(store.image_encoder_spec(), cfg.device))
        exp = None
        if experience:
            experience_kwargs.setdefault("writes_enabled", cfg.experience_writes)
            exp = ExperienceMemory(store, **experience_kwargs)
        return cls(img, exp).warm_up()

    def warm_up(self) -> MemoryRetrieval:
        """Load models, run them once and open every collection now, so the first search is as fast as
        the rest (torch's first forward passes cost 0.2-0.5 s each)."""
        import numpy as np

        texts = ["warm-up", "a longer warm-up sentence about a patient with several symptoms and findings " * 3]
        if self.experience is not None:
            _ = self.experience.collection
            self.experience.text_embedder.encode(texts)
        if self.images is not None:
            _ = self.images.captions
            self.images.text_embedder.encode(texts)
            self.images.encoder.encode_images([np.full((64, 64), 128, dtype=np.uint8)])
        return self

    @classmethod
    def open_default(cls) -> MemoryRetrieval:
        """Open with :meth:`MemoryConfig.from_env` (``AGENTSIM_DATA_DIR``, ``AGENTSIM_CHROMA_URL``, ...)."""
        return cls.open(MemoryConfig.from_env())

    def search_sync(self, query: RetrievalQuery) -> RetrievalResult:
        """Blocking version of :meth:`search`."""
        with self._lock:
            return self._search(query)

    def _search(self, query: RetrievalQuery) -> RetrievalResult:
        t0 = time.perf_counter()
        k = max(1, int(query.k))
        text = query.query_text.strip()
        image_hits: list[ImageHit] = []
        case_hits: list[CaseHit] = []
        notes = []
        if self.images is not None:
            if query.image_path:
                image_hits = self.images.query_image(query.image_path, k, modality=query.modality,
                                                     exclude_case_id=query.exclude_case_id)
                notes.append("images by image")
            elif text:
                image_hits = self.images.query_text(text, k, modality=query.modality,
                                                    exclude_case_id=query.exclude_case_id)
                notes.append("images by text")
        if self.experience is not None and text:
            case_hits = self.experience.query(text, k, exclude_case_id=query.exclude_case_id,
                                              min_score=self.min_case_score)
            notes.append("past cases by text")
        if not (query.image_path or text):
            notes.append("empty query: give query_text and/or image_id")
        note = "searched " + ", ".join(notes) if notes else "no memory configured"
        if not (image_hits or case_hits):
            # render() shows the note when nothing was found: make it a sentence for the doctor.
            note = f"No similar images or cases in memory ({note})."
        return RetrievalResult(images=image_hits, cases=case_hits, elapsed_ms=(time.perf_counter() - t0) * 1000,
                               note=note)

    async def search(self, query: RetrievalQuery) -> RetrievalResult:
        """Images and past cases similar to the query, never from ``query.exclude_case_id``."""
        return await asyncio.to_thread(self.search_sync, query)

    async def record_episode(self, result: EpisodeResult, view: DoctorView):
        """Store an experience record for a finished episode (None when writes are disabled)."""
        if self.experience is None:
            return None
        return await self.experience.record(result, view)
