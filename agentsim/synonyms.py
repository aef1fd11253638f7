"""Groups of names that denote one diagnosis ("Coccidioidomycosis" / "Valley fever").

The offline grader cannot know that two unrelated-looking names are the same disease: their
sentence embeddings are far apart and neither contains the other. A :class:`SynonymGroups`
table supplies that knowledge, as an LLM judge would from its training. The default table is
the shipped knowledge base's disease names and synonyms (each disease one group), so it grades
every doctor alike, LLM or offline. Only exact names count (after :func:`canonical_dx`), so a
group cannot stretch to a merely similar disease.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentsim.offline.kb import KnowledgeBase


def normalize_dx(text: str) -> str:
    """Lower-case, drop possessives and punctuation, collapse spaces."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


#: An organ's noun and its adjective name the same disease ("chronic kidney failure" is "chronic renal
#: failure", "stomach cancer" is "gastric cancer"); names are compared in the adjective form.
_ORGAN_ADJECTIVE = {
    "kidney": "renal", "kidneys": "renal", "liver": "hepatic", "heart": "cardiac", "lung": "pulmonary",
    "lungs": "pulmonary", "stomach": "gastric", "brain": "cerebral", "skin": "cutaneous", "bowel": "intestinal",
}


def canonical_dx(text: str) -> str:
    """:func:`normalize_dx` with organ nouns in their adjective form: the key two names are compared by."""
    return " ".join(_ORGAN_ADJECTIVE.get(w, w) for w in normalize_dx(text).split())


class SynonymGroups:
    """Diagnosis names grouped by the disease they denote (read-only after construction)."""

    def __init__(self, groups: Iterable[Sequence[str]]):
        self._groups: list[tuple[str, ...]] = []
        self._by_label: dict[str, list[int]] = {}
        for group in groups:
            labels = tuple(dict.fromkeys(n for n in (canonical_dx(x) for x in group) if n))
            if len(labels) < 2:
                continue
            gi = len(self._groups)
            self._groups.append(labels)
            for label in labels:
                self._by_label.setdefault(label, []).append(gi)

    @classmethod
    def from_kb(cls, kb: KnowledgeBase) -> SynonymGroups:
        """One group per knowledge-base disease: its name and synonyms."""
        return cls([d.name, *d.synonyms] for d in kb.diseases)

    def __len__(self) -> int:
        return len(self._groups)

    def equivalents(self, label: str) -> list[str]:
        """The other names (as :func:`canonical_dx` keys) of every group that has ``label`` as an exact name."""
        key = canonical_dx(label)
        out: dict[str, None] = {}
        for gi in self._by_label.get(key, ()):
            out.update((x, None) for x in self._groups[gi] if x != key)
        return list(out)


@lru_cache(maxsize=1)
def default_synonyms() -> SynonymGroups:
    """The shipped knowledge base's synonym groups (empty when the knowledge base cannot load)."""
    from agentsim.errors import ConfigError
    from agentsim.offline.kb import default_kb

    try:
        return SynonymGroups.from_kb(default_kb())
    except ConfigError:
        return SynonymGroups([])
