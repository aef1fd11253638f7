"""Scenario (case) model, loading and validation.

A case file is JSON that validates against :class:`Scenario`. The model is strict (no type
coercion, unknown fields rejected) so that a typo in a hand-written case is an error, not a
silently ignored field. Participants never receive a ``Scenario``: they receive one of the views
built in :mod:`agentsim.views`, and only the scorer sees :class:`Diagnosis`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentsim.errors import ScenarioError

SCHEMA_VERSION = 1

Sex = Literal["female", "male", "other", "unknown"]
AgeGroup = Literal["neonate", "infant", "child", "adolescent", "adult", "older_adult"]
Split = Literal["dev", "test", "imported"]


class StrictModel(BaseModel):
    """Base for case-file models: no coercion, no unknown fields, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Symptom(StrictModel):
    """A symptom the patient can report, with optional detail (onset, character, severity)."""

    name: str = Field(min_length=1)
    detail: str = ""


class PatientFacts(StrictModel):
    """Everything the patient knows about themself; the patient participant sees only this."""

    age_years: float | None = Field(default=None, ge=0, le=120)
    sex: Sex = "unknown"
    demographics: str = Field(min_length=1, description="e.g. '45-year-old woman, teacher'")
    history_of_present_illness: str = ""
    symptoms: list[Symptom] = Field(default_factory=list)
    denied_symptoms: list[str] = Field(
        default_factory=list, description="symptoms the patient does not have, if asked"
    )
    past_medical_history: str = ""
    medications: str = ""
    allergies: str = ""
    social_history: str = ""
    family_history: str = ""
    review_of_systems: str = ""


class ExamFinding(StrictModel):
    """One physical-examination result, e.g. name='Abdominal examination'."""

    name: str = Field(min_length=1)
    result: str = Field(min_length=1)


class TestResult(StrictModel):
    """One test or investigation result; ``images`` lists ids of :class:`CaseImage` entries."""

    __test__ = False  # keep pytest from collecting this class

    name: str = Field(min_length=1)
    result: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)


class CaseImage(StrictModel):
    """An image attached to the case; ``path`` is relative to the case file's folder."""

    id: str = Field(min_length=1)
    path: str = Field(min_length=1)
    modality: str = Field(min_length=1, description="e.g. MRI, CT, X-ray, photo, ECG")
    body_part: str = ""
    caption: str = ""
    synthetic: bool = False
    source: str = ""
    license: str = ""


class Diagnosis(StrictModel):
    """The answer key. Only the scorer ever reads it."""

    name: str = Field(min_length=1)
    synonyms: list[str] = Field(default_factory=list)
    abbreviations: list[str] = Field(default_factory=list)
    icd10: str = ""


class Scenario(StrictModel):
    """A complete diagnostic case."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    title: str = ""
    specialty: str = Field(min_length=1)
    age_group: AgeGroup | None = None
    split: Split = "dev"
    source: str = "agentsim team"
    opening_line: str = Field(min_length=1, description="what the patient says first")
    objective: str = "Take a history, order the examinations and tests you need, and diagnose."
    patient: PatientFacts
    exam: list[ExamFinding] = Field(default_factory=list)
    tests: list[TestResult] = Field(default_factory=list)
    images: list[CaseImage] = Field(default_factory=list)
    diagnosis: Diagnosis
    differentials: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @field_validator("images")
    @classmethod
    def _unique_image_ids(cls, images: list[CaseImage]) -> list[CaseImage]:
        ids = [im.id for im in images]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate image ids: {sorted(dupes)}")
        return images

    def image(self, image_id: str) -> CaseImage | None:
        """Return the image with this id, or None."""
        return next((im for im in self.images if im.id == image_id), None)


class LoadedScenario(BaseModel):
    """A scenario plus the file it came from (image paths resolve against ``base_dir``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    path: Path
    base_dir: Path

    def image_path(self, image_id: str) -> Path:
        """Absolute path of a case image."""
        im = self.scenario.image(image_id)
        if im is None:
            raise KeyError(image_id)
        return (self.base_dir / im.path).resolve()


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def parse_scenario(data: object, path: str | Path = "<memory>") -> Scenario:
    """Validate already-parsed JSON data as a scenario, raising :class:`ScenarioError`."""
    case_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {len(exc.errors()) - 1} more errors)" if len(exc.errors()) > 1 else ""
        raise ScenarioError(
            str(path), f"{err['msg']}{more}", case_id=case_id, field=_field_path(err["loc"])
        ) from None


def load_scenario(path: str | Path) -> LoadedScenario:
    """Load and validate one case file; checks that referenced images exist."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), f"cannot read file: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(str(p), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    scenario = parse_scenario(data, p)
    base = p.parent.resolve()
    for i, im in enumerate(scenario.images):
        if not (base / im.path).is_file():
            raise ScenarioError(str(p), f"image file not found: {im.path}", scenario.id, f"images[{i}].path")
    known = {im.id for im in scenario.images}
    for i, t in enumerate(scenario.tests):
        for ref in t.images:
            if ref not in known:
                raise ScenarioError(str(p), f"unknown image id {ref!r}", scenario.id, f"tests[{i}].images")
    return LoadedScenario(scenario=scenario, path=p.resolve(), base_dir=base)


def iter_case_files(path: str | Path) -> list[Path]:
    """Case files under a folder (recursively, sorted), or the single file given."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.rglob("*.json") if f.is_file())
    if p.is_file():
        return [p]
    raise ScenarioError(str(p), "no such file or folder")


def load_scenarios(path: str | Path, split: str | None = None) -> list[LoadedScenario]:
    """Load every case under ``path``; the first invalid file raises. Duplicate ids are refused."""
    out: list[LoadedScenario] = []
    seen: dict[str, Path] = {}
    for f in iter_case_files(path):
        ls = load_scenario(f)
        if ls.scenario.id in seen:
            raise ScenarioError(str(f), f"duplicate case id (also in {seen[ls.scenario.id]})", ls.scenario.id, "id")
        seen[ls.scenario.id] = f
        if split is None or ls.scenario.split == split:
            out.append(ls)
    return out


def default_scenarios_dir() -> Path:
    """The ``scenarios/`` folder shipped with the repository."""
    return Path(__file__).resolve().parent.parent / "scenarios"


def resolve_scenario(ref: str | Path, scenarios_dir: Path | None = None) -> LoadedScenario:
    """Find a case by file path or by id inside ``scenarios_dir`` (default: shipped cases)."""
    p = Path(ref)
    if p.suffix == ".json" and p.exists():
        return load_scenario(p)
    root = scenarios_dir or default_scenarios_dir()
    for f in iter_case_files(root):
        if f.stem == str(ref):
            return load_scenario(f)
    for ls in load_scenarios(root):
        if ls.scenario.id == str(ref):
            return ls
    raise ScenarioError(str(ref), f"no case file or case id {str(ref)!r} under {root}")
