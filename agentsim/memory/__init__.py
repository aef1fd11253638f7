"""Retrieval memory on Chroma: image memory, experience memory and the doctor's retrieval tool.

Entry points: :class:`~agentsim.memory.store.MemoryConfig` (one config for CLI, benchmarks and
app), :class:`~agentsim.memory.retrieval.MemoryRetrieval` (the ``search_similar_cases`` tool),
:class:`~agentsim.memory.images.ImageMemory`, :class:`~agentsim.memory.experience.ExperienceMemory`
and the encoders in :mod:`agentsim.memory.encoders`. Submodules import torch and chromadb only
when an encoder or a client is built.
"""

from agentsim.memory.store import HnswParams, MemoryConfig

__all__ = ["HnswParams", "MemoryConfig"]
