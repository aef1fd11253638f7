"""The catalogue of examinations and tests: names, aliases, prices and normal results.

Used by the measurement agent (to match a request to a case's results and to answer tests the
case does not list with a plausible normal result), by the cost model (prices), and by the
offline doctor (what can be ordered). The shipped file is ``agentsim/data/test_catalog.json``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentsim.errors import ConfigError

Category = Literal["exam", "vitals", "lab", "imaging", "cardiac", "pathology", "procedure", "microbiology", "other"]

CATALOG_PATH = Path(__file__).resolve().parent / "data" / "test_catalog.json"


class CatalogEntry(BaseModel):
    """One orderable examination or test."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    aliases: list[str] = Field(default_factory=list)
    category: Category
    price_usd: float = Field(ge=0)
    normal_result: str
    body_systems: list[str] = Field(default_factory=list)
    sex: Literal["any", "female", "male"] = Field(
        default="any", description="the anatomy the test needs (a pelvic examination needs a female patient)")
    normal_by_sex: dict[Literal["female", "male"], str] = Field(
        default_factory=dict, description="normal result for that sex where it differs (PSA for men only)")
    includes: list[str] = Field(
        default_factory=list,
        description="ids of narrower entries this panel reports (a comprehensive metabolic panel reports the "
                    "basic one, creatinine and the liver tests)")

    def normal_for(self, sex: str) -> str:
        """The normal result for a patient of ``sex`` ("female", "male" or unknown)."""
        return self.normal_by_sex.get(sex, self.normal_result)  # type: ignore[call-overload]

    def applies_to(self, sex: str) -> bool:
        """False when the test needs the other sex's anatomy; unknown sex never excludes."""
        return self.sex == "any" or sex not in ("female", "male") or sex == self.sex


class CatalogFile(BaseModel):
    """The JSON file: a header documenting the price basis, then entries."""

    model_config = ConfigDict(extra="forbid")

    price_basis: str
    default_price_usd: float = Field(ge=0)
    visit_fee_usd: float = Field(ge=0)
    entries: list[CatalogEntry]

    @model_validator(mode="after")
    def _known_includes(self) -> CatalogFile:
        ids = {e.id for e in self.entries}
        for e in self.entries:
            unknown = [i for i in e.includes if i not in ids or i == e.id]
            if unknown:
                raise ValueError(f"entry {e.id}: includes unknown or own id(s) {unknown}")
        return self


def normalize_name(text: str) -> str:
    """Lower-case, strip punctuation and filler words so test names compare by content."""
    text = text.lower().replace("'s", "")
    text = re.sub(r"[^a-z0-9+]+", " ", text)
    filler = {"a", "an", "the", "please", "order", "get", "check", "test", "level", "levels", "of", "for",
              "do", "perform", "i", "would", "like", "to", "and", "result", "results", "patient", "s"}
    words = [w for w in text.split() if w not in filler]
    return " ".join(words)


class TestCatalog:
    """Lookup over catalogue entries by name or alias."""

    __test__ = False

    def __init__(self, data: CatalogFile):
        self.data = data
        self.entries = data.entries
        self._by_id: dict[str, CatalogEntry] = {}
        self._by_key: dict[str, CatalogEntry] = {}
        for e in self.entries:
            self._by_id.setdefault(e.id, e)
            for key in [e.id.replace("_", " "), e.name, *e.aliases]:
                self._by_key.setdefault(normalize_name(key), e)

    def get(self, entry_id: str) -> CatalogEntry | None:
        """Entry by id."""
        return self._by_id.get(entry_id)

    def related(self, a: str, b: str) -> bool:
        """True when one entry's results report the other's ("BMP" is part of a "CMP" and the reverse)."""
        ea, eb = self.get(a), self.get(b)
        return a == b or (ea is not None and b in ea.includes) or (eb is not None and a in eb.includes)

    def keys(self, entry: CatalogEntry) -> list[str]:
        """All normalized names of an entry."""
        return sorted({normalize_name(k) for k in [entry.id.replace("_", " "), entry.name, *entry.aliases]})

    def lookup(self, request: str) -> CatalogEntry | None:
        """Exact (normalized) name/alias match, else the entry whose name shares most words."""
        key = normalize_name(request)
        if not key:
            return None
        if key in self._by_key:
            return self._by_key[key]
        words = set(key.split())
        best, best_score = None, 0.0
        for k, e in self._by_key.items():
            kw = set(k.split())
            if not kw:
                continue
            overlap = len(words & kw)
            score = overlap / len(words | kw)
            if overlap and score > best_score:
                best, best_score = e, score
        return best if best_score >= 0.5 else None

    def price(self, request: str) -> float:
        """Price of one requested test (the default price when it is not in the catalogue)."""
        e = self.lookup(request)
        return e.price_usd if e else self.data.default_price_usd

    def split_request(self, request: str) -> list[str]:
        """The separate tests of one order: "CBC, CRP and a chest X-ray" is three, while a name the
        catalogue knows as a whole ("CT abdomen and pelvis") stays one."""
        out: list[str] = []
        for chunk in re.split(r"[;,\n&]|\s\+\s", request):
            chunk = chunk.strip()
            if not chunk:
                continue
            if normalize_name(chunk) in self._by_key or not re.search(r"\band\b", chunk):
                out.append(chunk)
            else:
                out.extend(p.strip() for p in re.split(r"\band\b", chunk) if p.strip())
        return out

    def price_request(self, request: str) -> list[tuple[str, float]]:
        """(test, price) for every test in one order."""
        return [(part, self.price(part)) for part in self.split_request(request)]

    @property
    def visit_fee_usd(self) -> float:
        return self.data.visit_fee_usd


def load_catalog(path: str | Path | None = None) -> TestCatalog:
    """Load and validate a catalogue file (default: the shipped one)."""
    p = Path(path) if path else CATALOG_PATH
    try:
        data = CatalogFile.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"{p}: invalid test catalogue: {exc}") from None
    return TestCatalog(data)


@lru_cache(maxsize=1)
def default_catalog() -> TestCatalog:
    """The shipped catalogue, loaded once per process (it is read-only)."""
    return load_catalog()
