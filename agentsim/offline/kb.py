"""Knowledge-base schema and loader.

The knowledge base is a set of JSON files under ``agentsim/offline/kb/``, one per specialty
group, each listing diseases with their typical findings (with rough frequencies P(finding |
disease)), the tests that confirm or exclude them with their characteristic results, and
synonyms. Content is written by the team from general textbook knowledge.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentsim.errors import ConfigError
from agentsim.synonyms import normalize_dx

KB_DIR = Path(__file__).resolve().parent / "kb"

Prevalence = Literal["very_common", "common", "uncommon", "rare", "very_rare"]

#: Prior weight per prevalence class (relative odds, not absolute probabilities).
PREVALENCE_PRIOR: dict[str, float] = {
    "very_common": 8.0,
    "common": 4.0,
    "uncommon": 2.0,
    "rare": 1.0,
    "very_rare": 0.5,
}


class _KBModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KBFinding(_KBModel):
    """A finding typical of a disease; ``frequency`` is P(finding present | disease)."""

    text: str = Field(min_length=2)
    kind: Literal["symptom", "sign", "history", "risk_factor", "lab", "imaging", "other"]
    frequency: float = Field(gt=0, le=1)
    aliases: list[str] = Field(default_factory=list)


class KBTest(_KBModel):
    """A test that helps confirm or exclude a disease, with its characteristic abnormal result."""

    test: str = Field(min_length=2, description="orderable test name, e.g. 'chest X-ray', 'CBC'")
    result: str = Field(min_length=2, description="the characteristic result in this disease")
    sensitivity: float = Field(gt=0, le=1)
    specificity: float = Field(gt=0, le=1)
    confirms: bool = False


class KBDisease(_KBModel):
    """One diagnosis of the knowledge base."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=2)
    synonyms: list[str] = Field(default_factory=list)
    specialty: str = Field(min_length=2)
    prevalence: Prevalence
    age_min: int = Field(default=0, ge=0, le=120)
    age_max: int = Field(default=120, ge=0, le=120)
    sex: Literal["any", "female", "male"] = "any"
    findings: list[KBFinding] = Field(min_length=3)
    tests: list[KBTest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _age_order(self) -> KBDisease:
        if self.age_min > self.age_max:
            raise ValueError(f"{self.id}: age_min > age_max")
        return self


class KBFile(_KBModel):
    """One knowledge-base file."""

    source: str = Field(min_length=10, description="kind of source the content is based on")
    specialty_group: str
    diseases: list[KBDisease]


class KnowledgeBase(BaseModel):
    """All diseases from all files, with unique ids."""

    model_config = ConfigDict(frozen=True)

    diseases: list[KBDisease]

    def get(self, disease_id: str) -> KBDisease | None:
        """Disease by id."""
        return next((d for d in self.diseases if d.id == disease_id), None)


def load_kb(directory: str | Path | None = None) -> KnowledgeBase:
    """Load and validate every ``*.json`` file in the KB folder; duplicate ids are an error."""
    d = Path(directory) if directory else KB_DIR
    diseases: list[KBDisease] = []
    seen: dict[str, str] = {}
    files = sorted(d.glob("*.json"))
    if not files:
        raise ConfigError(f"{d}: no knowledge-base files (*.json)")
    for f in files:
        try:
            kb_file = KBFile.model_validate(json.loads(f.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{f}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"{f}: field {loc}: {err['msg']}") from None
        for dis in kb_file.diseases:
            if dis.id in seen:
                raise ConfigError(f"{f}: duplicate disease id {dis.id!r} (also in {seen[dis.id]})")
            seen[dis.id] = f.name
            diseases.append(dis)
    return KnowledgeBase(diseases=diseases)


def duplicate_labels(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """Diagnosis labels that name two different diseases after normalisation.

    A disease's labels are its name, its synonyms and its id read as words. They are compared
    lower-cased, with possessive "'s" dropped and punctuation collapsed to single spaces (as the
    reasoner's label lookup does), so "Graves' disease" and "graves disease" are one label. The
    lookup silently resolves such a label to the first disease listing it, so the shipped
    knowledge base should have none. Returns ``(label, first disease id, other disease id)`` for
    every later disease repeating a label, in knowledge-base order.
    """
    first: dict[str, str] = {}
    out: list[tuple[str, str, str]] = []
    for d in kb.diseases:
        for raw in dict.fromkeys([d.name, *d.synonyms, d.id.replace("_", " ")]):
            label = normalize_dx(raw)
            if not label:
                continue
            owner = first.setdefault(label, d.id)
            if owner != d.id and (label, owner, d.id) not in out:
                out.append((label, owner, d.id))
    return out


@lru_cache(maxsize=1)
def default_kb() -> KnowledgeBase:
    """The shipped knowledge base, loaded once per process (read-only)."""
    return load_kb()
