"""Per-participant views of a case.

Each participant gets only what its seat would know. Every string in a view has passed through
:func:`agentsim.leakage.redact`, so the answer is absent from the view itself, not filtered from
model output afterwards. :class:`AnswerKey` is built separately and only the scorer reads it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agentsim.leakage import answer_terms, leak_terms, redact
from agentsim.scenario import ExamFinding, LoadedScenario, PatientFacts, Symptom, TestResult


class ImageRef(BaseModel):
    """An image a participant may look at; ``caption`` is redacted."""

    model_config = ConfigDict(frozen=True)

    id: str
    path: str
    modality: str
    body_part: str = ""
    caption: str = ""


class DoctorView(BaseModel):
    """What the doctor knows at the start: the opening complaint and the images on file."""

    model_config = ConfigDict(frozen=True)

    opening_line: str
    demographics: str
    age_years: float | None = None
    sex: str = "unknown"
    objective: str
    images: list[ImageRef] = Field(default_factory=list, description="images available at start")


class PatientView(BaseModel):
    """What the patient knows about themself."""

    model_config = ConfigDict(frozen=True)

    opening_line: str
    facts: PatientFacts


class MeasurementView(BaseModel):
    """What examinations and tests would show for this patient."""

    model_config = ConfigDict(frozen=True)

    demographics: str
    age_years: float | None = None
    sex: str = "unknown"
    exam: list[ExamFinding] = Field(default_factory=list)
    tests: list[TestResult] = Field(default_factory=list)
    images: dict[str, ImageRef] = Field(default_factory=dict)


class AnswerKey(BaseModel):
    """The correct diagnosis and its accepted variants: for the scorer only."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    diagnosis: str
    synonyms: list[str] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list, description="all strings that name the answer")
    hidden_terms: list[str] = Field(default_factory=list,
                                    description="the terms redacted from the participant views (leak_terms)")
    differentials: list[str] = Field(default_factory=list)


class CaseViews(BaseModel):
    """All views of one case, built once per episode."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    specialty: str
    doctor: DoctorView
    patient: PatientView
    measurement: MeasurementView
    answer: AnswerKey


def build_views(loaded: LoadedScenario) -> CaseViews:
    """Split a case into redacted participant views and the answer key."""
    s = loaded.scenario
    terms = answer_terms(s.diagnosis)
    # Redaction also covers qualifier-free forms ("atrial fibrillation" for "paroxysmal atrial
    # fibrillation"), which the scorer does not accept as the answer.
    hidden = leak_terms(s.diagnosis)

    def r(text: str) -> str:
        return redact(text, hidden) if text else text

    facts = s.patient
    red_facts = facts.model_copy(
        update={
            **{k: r(v) for k, v in facts if isinstance(v, str)},
            "symptoms": [Symptom(name=r(x.name), detail=r(x.detail)) for x in facts.symptoms],
            "denied_symptoms": [r(x) for x in facts.denied_symptoms],
        }
    )
    images = {
        im.id: ImageRef(
            id=im.id,
            path=str(loaded.base_dir / im.path),
            modality=im.modality,
            body_part=im.body_part,
            caption=r(im.caption),
        )
        for im in s.images
    }
    attached = {ref for t in s.tests for ref in t.images}
    doctor = DoctorView(
        opening_line=r(s.opening_line),
        demographics=r(facts.demographics),
        age_years=facts.age_years,
        sex=facts.sex,
        objective=r(s.objective),
        # Images tied to a test are revealed when the test is ordered; the rest are on file.
        images=[im.model_copy(update={"caption": ""}) for i, im in images.items() if i not in attached],
    )
    measurement = MeasurementView(
        demographics=red_facts.demographics,
        age_years=facts.age_years,
        sex=facts.sex,
        exam=[ExamFinding(name=r(e.name), result=r(e.result)) for e in s.exam],
        tests=[t.model_copy(update={"name": r(t.name), "result": r(t.result), "aliases": [r(a) for a in t.aliases]})
               for t in s.tests],
        images=images,
    )
    return CaseViews(
        case_id=s.id,
        specialty=s.specialty,
        doctor=doctor,
        patient=PatientView(opening_line=r(s.opening_line), facts=red_facts),
        measurement=measurement,
        answer=AnswerKey(
            case_id=s.id,
            diagnosis=s.diagnosis.name,
            synonyms=list(s.diagnosis.synonyms),
            terms=terms,
            hidden_terms=hidden,
            differentials=list(s.differentials),
        ),
    )


def image_file(ref: ImageRef) -> Path:
    """The image's file on disk."""
    return Path(ref.path)
