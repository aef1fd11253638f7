"""Import AgentClinic-format case files (JSON Lines) as agentsim scenarios.

Two record shapes are recognised, one JSON object per line:

* **MedQA/OSCE**: ``{"OSCE_Examination": {Objective_for_Doctor, Patient_Actor{Demographics, History,
  Symptoms{Primary_Symptom, Secondary_Symptoms}, Past_Medical_History, Social_History,
  Review_of_Systems, ...}, Physical_Examination_Findings{...}, Test_Results{...}, Correct_Diagnosis}}``
* **NEJM image challenge**: ``{image_url, question, patient_info, physical_exams, answers[{text,
  correct}]}``. The image is remote and not fetched: its URL is kept in ``tags`` only. The wrong
  answer options go to ``differentials`` (scorer-only): a candidate list built around the answer
  would leak it, so no participant ever sees them.

Mapping (both shapes): case id ``<file stem>-<line, 1-based, 4 digits>``; ``split="imported"``;
``source`` names the file and line; age and sex are parsed from the demographics; specialty comes
from :data:`SPECIALTY_KEYWORDS` applied to participant-visible text (objective, complaint, history),
never to the diagnosis. Each physical-examination leaf becomes one :class:`ExamFinding` named by
its path ("Abdominal examination: Palpation"). Test results become one :class:`TestResult` per
test: a group whose name is generic ("Imaging", "Blood_Tests") or whose members are all groups is
opened up so each member is a test of its own; any other group is one test whose result lists its
fields ("Hemoglobin: 13 g/dL; WBC: 9,000/mm3"). Placeholder values ("Not provided") are dropped so
the measurement agent answers those requests like any test the case does not list.

A malformed record never stops an import: it is reported with its line number and the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentsim.errors import ScenarioError
from agentsim.leakage import answer_terms, redact
from agentsim.scenario import (
    AgeGroup,
    Diagnosis,
    ExamFinding,
    PatientFacts,
    Scenario,
    Sex,
    Symptom,
    TestResult,
    parse_scenario,
)

#: Specialty inferred from participant-visible text: the specialty with the most keyword hits wins
#: (objective counts 3x, symptoms 2x, history 1x; ties go to the earlier row). A keyword ending in
#: ``*`` is a word prefix, any other keyword must match whole words. Children under 13 are
#: ``pediatrics`` whatever the keywords say, as in the offline knowledge base.
SPECIALTY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dermatology", ("skin", "rash*", "lesion*", "itch*", "prurit*", "dermat*", "mole*", "blister*", "plaque*",
                     "papule*", "nodule*", "nail*", "hair loss", "alopecia", "patch", "patches", "pigment*",
                     "eczema", "acne", "wart*", "scal*")),
    ("obstetrics_gynecology", ("pregnan*", "gestation*", "menstrua*", "menses", "vagina*", "vulva*", "pelvic pain",
                               "postpartum", "gynecolog*", "gynaecolog*", "primigravid*", "gravida", "ovar*",
                               "uter*", "breast*", "period*", "amenorrh*", "contracept*", "infertil*", "cervi*")),
    ("psychiatry", ("mood", "depress*", "anxi*", "hallucinat*", "psychiatr*", "behavio*", "suicid*", "insomnia",
                    "nightmare*", "panic", "psycholog*", "mental health", "voices", "delusion*", "paranoi*",
                    "sleep*", "substance", "alcohol use")),
    ("neurology", ("headache*", "seizure*", "numbness", "tingling", "neurolog*", "confusion", "memory", "dizz*",
                   "vertigo", "tremor*", "gait", "speech", "paralys*", "facial droop", "migraine*", "weakness",
                   "stroke", "consciousness", "cognitive", "coordination")),
    ("cardiology", ("chest pain", "palpitation*", "cardiac", "heart", "syncope", "faint*", "murmur*", "hypertension",
                    "blood pressure", "leg swelling", "ankle swelling", "edema", "oedema", "cardiovascular")),
    ("pulmonology", ("shortness of breath", "dyspn*", "breath*", "cough*", "wheez*", "respiratory", "hemoptysis",
                     "lung*", "sputum", "pulmonary")),
    ("gastroenterology", ("abdom*", "diarrh*", "vomit*", "nausea", "stool*", "jaundice", "bowel*", "constipation",
                          "dysphagia", "swallow*", "heartburn", "rectal bleeding", "epigastr*", "liver", "bloat*")),
    ("nephrology_urology", ("urin*", "kidney*", "renal", "flank", "hematuria", "haematuria", "bladder", "testic*",
                            "scrot*", "prostat*", "erectile", "dysuria")),
    ("endocrinology", ("thyroid", "diabet*", "weight gain", "thirst*", "polyuria", "hormon*", "goit*",
                       "heat intolerance", "cold intolerance", "endocrin*", "blood sugar", "glucose")),
    ("rheumatology", ("joint*", "arthr*", "stiffness", "autoimmune", "rheumat*", "myalgia*")),
    ("orthopedics", ("fracture*", "knee*", "shoulder*", "back pain", "hip", "hips", "ankle*", "wrist*", "injur*",
                     "fall", "fell", "sprain*", "bone pain", "limp*", "musculoskeletal", "spine", "spinal")),
    ("hematology_oncology", ("anemia", "anaemia", "bleeding", "bruis*", "lymph node*", "mass", "lump*", "pallor",
                             "night sweats", "weight loss", "tumou?r*")),
    ("infectious_disease", ("fever*", "infect*", "travel*", "hiv", "sexually transmitted", "discharge", "chills")),
    ("ophthalmology", ("eye*", "vision", "visual", "ophthalm*", "blurr*", "cornea*")),
    ("otolaryngology", ("ear", "ears", "hearing", "throat", "hoarse*", "voice", "sinus*", "nasal", "nose",
                        "tonsil*", "neck swelling")),
    ("emergency_medicine", ("trauma*", "accident", "collision", "overdose", "ingest*", "poison*", "unresponsive",
                            "stab*", "gunshot", "burn*", "emergency")),
    ("allergy_immunology", ("allerg*", "hives", "anaphyla*", "urticaria", "recurrent infections", "immunodeficien*")),
)
DEFAULT_SPECIALTY = "internal_medicine"

# Group names made only of these words hold several tests ("Blood_Tests", "Imaging", "Lab_Results").
_CONTAINER_WORDS = {"imaging", "blood", "tests", "test", "laboratory", "lab", "labs", "studies", "study", "results",
                    "result", "basic", "work", "works", "workup", "routine", "additional", "other", "others",
                    "investigations", "investigation", "findings", "initial", "serum", "levels", "and", "of",
                    "diagnostic", "diagnostics", "further", "relevant", "key", "panel", "panels", "general"}
# Field names that only say "this is the value" and add nothing to a result line.
_GENERIC_LABELS = {"findings", "finding", "result", "results", "report", "value", "values", "level", "details",
                   "description", "interpretation", "impression", "comment", "comments", "outcome", "summary",
                   "observation", "observations", "note", "notes"}
_PLACEHOLDER = re.compile(
    r"^\s*(?:not (?:provided|specified|available|done|performed|reported|mentioned|applicable)|n/?a|none provided|"
    r"non-applicable(?: for this case)?|unknown|not applicable for this case|-)\s*\.?\s*$", re.I)
_NO_RESULTS = re.compile(
    r"\b(?:does|do) not (?:include|contain|provide|mention)\b|\bno (?:specific )?(?:instrument readings|"
    r"numerical (?:test )?results|test results)\b|\bcannot generate\b", re.I)
_AGE = re.compile(r"\b(\d{1,3}(?:\.\d+)?)[\s-]*(year|yr|month|mo|week|wk|day)s?[\s-]*old\b", re.I)
_MALE = re.compile(r"\b(male|man|boy|gentleman|son|he|his|him|husband|father)\b", re.I)
_FEMALE = re.compile(r"\b(female|woman|girl|lady|daughter|she|her|wife|mother|primigravid\w*|gravida|pregnant)\b",
                     re.I)


class ImportReport(BaseModel):
    """Result of importing one file: the converted cases and the lines that could not be converted."""

    path: str
    scenarios: list[Scenario] = Field(default_factory=list)
    failures: list[tuple[int, str]] = Field(default_factory=list, description="(line number, reason)")
    variants: dict[str, int] = Field(default_factory=dict, description="records per format (medqa, nejm)")

    @property
    def records(self) -> int:
        """Non-blank lines read."""
        return len(self.scenarios) + len(self.failures)


class _RecordError(ValueError):
    """A record that cannot be converted; the message becomes the failure reason."""


# ---------------------------------------------------------------------------------------------
# Small text helpers


def _label(key: str) -> str:
    """'Abdominal_Examination' -> 'Abdominal examination'; acronyms and mixed case are kept."""
    words = [w for w in re.split(r"[_\s]+", str(key).strip()) if w]
    out = []
    for i, w in enumerate(words):
        # Only plain Title-case words are lowered ("Examination"); "CT", "T4", "X-ray" stay.
        if i and len(w) > 1 and w[0].isupper() and w[1:].islower():
            w = w.lower()
        out.append(w)
    text = " ".join(out)
    return text[:1].upper() + text[1:]


def _words(key: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", str(key).lower()) if w}


def _is_generic_label(key: str) -> bool:
    return bool(_words(key)) and _words(key) <= _GENERIC_LABELS


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value))


def _flat(value: Any, sep: str = "; ") -> str:
    """Readable one-line text of any JSON value (nested fields become 'Name: value')."""
    if value is None or _is_placeholder(value):
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return sep.join(t for t in (_flat(v, ", ") for v in value) if t)
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            t = _flat(v, ", ")
            if not t:
                continue
            parts.append(t if _is_generic_label(k) else f"{_label(k)}: {t}")
        return sep.join(parts)
    return str(value).strip()


def _lcfirst(text: str) -> str:
    first = text.split(" ", 1)[0]
    if len(first) > 1 and (first.isupper() or any(c.isdigit() for c in first)):
        return text
    return text[:1].lower() + text[1:]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", text) if s.strip()]


def _strip_markdown(text: str) -> str:
    return re.sub(r"\*\*|__|`", "", text).strip()


# ---------------------------------------------------------------------------------------------
# Patient details


def parse_age_sex(text: str) -> tuple[float | None, Sex]:
    """Age in years and sex from a demographics phrase such as '18-month-old girl'."""
    age: float | None = None
    m = _AGE.search(text)
    if m:
        n, unit = float(m.group(1)), m.group(2).lower()
        divisor = {"year": 1, "yr": 1, "month": 12, "mo": 12, "week": 52, "wk": 52, "day": 365}[unit]
        age = round(n / divisor, 2)
        if age > 120:
            age = None
    male, female = _MALE.search(text), _FEMALE.search(text)
    if male and female:  # the earlier word wins ("woman ... her son")
        sex: Sex = "male" if male.start() < female.start() else "female"
    else:
        sex = "male" if male else "female" if female else "unknown"
    return age, sex


def age_group(age: float | None) -> AgeGroup | None:
    """Age band used for filtering and statistics."""
    if age is None:
        return None
    if age < 28 / 365:
        return "neonate"
    if age < 1:
        return "infant"
    if age < 13:
        return "child"
    if age < 18:
        return "adolescent"
    if age < 65:
        return "adult"
    return "older_adult"


def _kw_regex(keyword: str) -> str:
    if keyword.endswith("*"):
        return r"\b" + keyword[:-1].replace(" ", r"\s+") + r"\w*"
    return r"\b" + keyword.replace(" ", r"\s+") + r"\b"


_SPECIALTY_RES = tuple((name, re.compile("|".join(_kw_regex(k) for k in kws), re.I))
                       for name, kws in SPECIALTY_KEYWORDS)


def infer_specialty(objective: str, symptoms: str, history: str, age: float | None = None) -> str:
    """Specialty from participant-visible text via :data:`SPECIALTY_KEYWORDS` (never from the answer)."""
    if age is not None and age < 13:
        return "pediatrics"
    best, best_score = DEFAULT_SPECIALTY, 0
    for name, rx in _SPECIALTY_RES:
        score = 3 * len(rx.findall(objective)) + 2 * len(rx.findall(symptoms)) + len(rx.findall(history))
        if score > best_score:
            best, best_score = name, score
    return best


_DENY = re.compile(r"\b(?:denies|denied|denying|negative for)\s+(.+?)(?:[.;]|$)", re.I)
_NO_LIST = re.compile(r"(?:^|(?<=[.;]))\s*No\s+(.+?)(?:[.;]|$)")
_DENY_DROP = re.compile(r"\b(other|systemic|complaints?|symptoms?|abnormalit\w*|history|issues?|problems?|"
                        r"changes? in (?:health|condition))\b", re.I)
_DENY_LEAD = re.compile(r"^(?:any|recent|a|an|the|significant|current|prior|previous|history of|episodes? of)\s+",
                        re.I)
_DENY_TAIL = re.compile(r"\s+(?:reported(?: by [\w ]+)?|noted|mentioned|currently|at present|recently|"
                        r"at this time)$", re.I)


def parse_denied(text: str) -> list[str]:
    """Symptoms the patient denies, from 'Denies fever, chills, or cough.' style sentences."""
    clauses = [m.group(1) for m in _DENY.finditer(text)]
    # "No fever, vomiting or cough reported." (but not "No abnormalities noted on exam").
    clauses += [m.group(1) for m in _NO_LIST.finditer(text) if not re.search(r"\b(noted|identified|within)\b",
                                                                               m.group(1), re.I)]
    out: list[str] = []
    for clause in clauses:
        for item in re.split(r",\s*|\s+or\s+|\s+and\s+|\s+nor\s+|/", clause):
            item = re.sub(r"^(?:or|and|nor|no)\s+", "", item.strip(" ."), flags=re.I)
            for _ in range(3):
                item = _DENY_LEAD.sub("", item).strip()
                item = _DENY_TAIL.sub("", item).strip()
            if not item or len(item.split()) > 5 or _DENY_DROP.search(item):
                continue
            if item.lower() not in {o.lower() for o in out}:
                out.append(item)
    return out


# ---------------------------------------------------------------------------------------------
# Exam findings and tests from nested dicts


def nested_exam(findings: dict[str, Any]) -> list[ExamFinding]:
    """One finding per leaf, named by its readable path ('Abdominal examination: Palpation')."""
    out: list[ExamFinding] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path if _is_generic_label(k) else [*path, _label(k)])
            return
        text = _flat(node)
        if text:
            out.append(ExamFinding(name=": ".join(path) or "Physical examination", result=text))

    walk(findings, [])
    return out


def _is_container(key: str, value: Any) -> bool:
    if not isinstance(value, dict) or not value:
        return False
    if _words(key) <= _CONTAINER_WORDS:
        return True
    return all(isinstance(v, dict) for v in value.values()) and not any(_is_generic_label(k) for k in value)


def nested_tests(results: dict[str, Any]) -> list[TestResult]:
    """One result per test; generic groups are opened so each member is orderable by its own name."""
    out: list[TestResult] = []

    def add(name: str, value: Any) -> None:
        text = _flat(value)
        if text:
            abbrevs = [a for a in re.findall(r"\(([A-Z][A-Za-z0-9-]{1,9})\)", name)]
            clean = re.sub(r"\s*\([A-Z][A-Za-z0-9-]{1,9}\)", "", name).strip() or name
            out.append(TestResult(name=clean, result=text, aliases=abbrevs))

    def walk(node: dict[str, Any], parent: str) -> None:
        for k, v in node.items():
            if _is_container(k, v):
                walk(v, _label(k))
            elif _is_generic_label(k) or (not str(k).strip()):
                add(parent or "Test results", v)
            else:
                add(_label(k), v)

    walk(results, "")
    return out


# ---------------------------------------------------------------------------------------------
# Record converters


def _require(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise _RecordError(f"missing field {where}{key}")
    val = obj[key]
    if not isinstance(val, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _RecordError(f"field {where}{key} must be {names}, got {type(val).__name__}")
    return val


def _opening(complaint: str, age: float | None) -> str:
    complaint = complaint.strip().rstrip(".")
    if not complaint:
        return "I haven't been feeling well."
    if age is not None and age < 13:
        return f"I've brought my child in because of {_lcfirst(complaint)}."
    return f"I've come in because of {_lcfirst(complaint)}."


def _medqa(rec: dict[str, Any], case_id: str, source: str) -> Scenario:
    osce = _require(rec, "OSCE_Examination", dict, "")
    pa = _require(osce, "Patient_Actor", dict, "OSCE_Examination.")
    diagnosis = _require(osce, "Correct_Diagnosis", str, "OSCE_Examination.").strip()
    if not diagnosis:
        raise _RecordError("field OSCE_Examination.Correct_Diagnosis is empty")
    demographics = _flat(pa.get("Demographics")) or "Patient"
    age, sex = parse_age_sex(demographics)
    sym = pa.get("Symptoms", {})
    if isinstance(sym, dict):
        primary = _flat(sym.get("Primary_Symptom"))
        secondary = sym.get("Secondary_Symptoms") or []
        secondary = [secondary] if isinstance(secondary, str) else secondary
        secondary_names = [_flat(s) for s in secondary if _flat(s)]
    else:
        items = [_flat(s) for s in (sym if isinstance(sym, list) else [sym]) if _flat(s)]
        primary, secondary_names = (items[0] if items else ""), items[1:]
    symptoms = [Symptom(name=s) for s in [primary, *secondary_names] if s]
    history = _flat(pa.get("History"))
    ros = _flat(pa.get("Review_of_Systems"))
    objective = _flat(osce.get("Objective_for_Doctor"))
    exam_src = osce.get("Physical_Examination_Findings") or {}
    tests_src = osce.get("Test_Results") or {}
    if not isinstance(exam_src, dict) or not isinstance(tests_src, dict):
        raise _RecordError("Physical_Examination_Findings and Test_Results must be objects")
    facts = PatientFacts(
        age_years=age, sex=sex, demographics=demographics, history_of_present_illness=history, symptoms=symptoms,
        denied_symptoms=parse_denied(ros), past_medical_history=_flat(pa.get("Past_Medical_History")),
        medications=_flat(pa.get("Medications") or pa.get("Current_Medications")),
        allergies=_flat(pa.get("Allergies")), social_history=_flat(pa.get("Social_History")),
        family_history=_flat(pa.get("Family_History")), review_of_systems=ros,
    )
    data = {
        "id": case_id, "title": f"{demographics}: {primary}" if primary else demographics,
        "specialty": infer_specialty(objective, " ".join([primary, *secondary_names]), history, age),
        "age_group": age_group(age), "split": "imported", "source": source,
        "opening_line": _opening(primary, age), "patient": facts,
        "exam": nested_exam(exam_src), "tests": nested_tests(tests_src),
        "diagnosis": Diagnosis(name=diagnosis), "tags": ["agentclinic", "medqa"],
    }
    if objective:
        data["objective"] = objective
    return _finish(data)


_PANEL_REF = re.compile(r"\s*\((?:(?:left|right|middle|center|centre|top|bottom|upper|lower|inset|arrows?|"
                        r"arrowheads?|asterisks?|panels?|fig(?:ure)?\.?)(?:[\s,]+(?:and\s+)?[a-z]{1,6})*|[A-F])\)",
                        re.I)
_SHOWN = re.compile(r"\b(?:is|are) shown\b|\bshown (?:in|here|below)\b|\b(?:image|photograph|figure)\b", re.I)
_LEAD_IN = re.compile(r"^(?:the )?(?:information|data|details)[^:]{0,160}?:\s*", re.I)
_HEADER_TAIL = re.compile(r"\s+(?:for the patient\s+)?(?:are|were|is)?\s*(?:as follows|indicated|includes?|"
                          r"revealed|showed|demonstrated)$", re.I)
_NAME_TAIL = re.compile(r"\s+(?:findings|results?)$", re.I)


def _clean_name(name: str) -> str:
    name = _strip_markdown(name).strip(" -:")
    name = _HEADER_TAIL.sub("", name)
    name = _NAME_TAIL.sub("", name).strip()
    return name[:1].upper() + name[1:] if name else name


def parse_findings_text(text: str) -> list[tuple[str, str]]:
    """(test name, result) pairs from a free-text 'Name: result - Name: result' findings list."""
    text = _strip_markdown(text)
    if not text or _NO_RESULTS.search(text):
        return []
    text = _LEAD_IN.sub("", text)
    chunks: list[str] = []
    for part in re.split(r"\s+-\s+|^\s*-\s*|(?:^|\s)\d{1,2}\.\s+(?=[A-Z])", text):
        if part and part.strip():
            # A new "Name:" right after a sentence ends starts a new item ("... 40-200) Urinalysis: - ...").
            chunks += re.split(r"(?<=[.)])\s+(?=[A-Z][\w\s/(),'-]{1,60}?:(?:\s|$))", part.strip())
    pairs: list[tuple[str, str]] = []
    header, pending = "", []

    def flush() -> None:
        if pending:
            pairs.append((header or "Other findings", "; ".join(pending)))
            pending.clear()

    split_chunks: list[str] = []
    for chunk in (c.strip() for c in chunks):
        # "Negative Imaging results:" - a header glued to the end of the previous item.
        tail = re.match(r"^(.+\S)\s+([A-Z][A-Za-z ()-]{2,40}):$", chunk)
        split_chunks += [tail.group(1), tail.group(2) + ":"] if tail and ":" in tail.group(1) else [chunk]
    for chunk in split_chunks:
        if not chunk:
            continue
        m = re.match(r"^([^:]{2,90}):\s*(.*)$", chunk, re.S)
        if m and m.group(2).strip():
            flush()
            pairs.append((_clean_name(m.group(1)), m.group(2).strip().rstrip(".") + "."))
        elif m:
            flush()
            header = _clean_name(m.group(1))
        else:
            pending.append(chunk.rstrip("."))
    flush()
    return [(n, r) for n, r in pairs if n and r.strip(". ")]


def _complaint_from_question(question: str) -> str:
    first = _sentences(question)[0] if question.strip() else ""
    m = (re.search(r"\b(?:presented|presents|came|was referred|was evaluated|was brought)\b.*?\bwith\s+(.+)$", first)
         or re.search(r"\b(?:noted|found) to have\s+(.+)$", first))
    if not m:
        return ""
    text = m.group(1).rstrip(".")
    text = re.sub(r"^(?:a|an)\s+(?:\d+[- ]\w+|several[- ]\w+|long[- ]?standing|lifelong)[- ]history of\s+", "", text)
    text = re.sub(r"^(?:a|an)\s+history of\s+", "", text)
    swaps = {"her": "my", "his": "my", "she": "I", "he": "I", "herself": "myself", "himself": "myself"}
    return re.sub(r"\b(her|his|she|he|herself|himself)\b", lambda mm: swaps[mm.group(1).lower()], text, flags=re.I)


def _nejm(rec: dict[str, Any], case_id: str, source: str) -> Scenario:
    question = _require(rec, "question", str, "")
    patient_info = _strip_markdown(_require(rec, "patient_info", str, ""))
    findings = _require(rec, "physical_exams", str, "")
    answers = _require(rec, "answers", list, "")
    options = []
    for i, a in enumerate(answers):
        if not isinstance(a, dict) or not isinstance(a.get("text"), str) or not isinstance(a.get("correct"), bool):
            raise _RecordError(f"answers[{i}] must be an object with text (string) and correct (true/false)")
        options.append((a["text"].strip(), a["correct"]))
    correct = [t for t, ok in options if ok]
    if len(correct) != 1:
        raise _RecordError(f"expected exactly one correct answer, found {len(correct)}")
    m = _AGE.search(patient_info) or _AGE.search(question)
    if m:
        noun = re.match(r"[\s-]*(\w+)", m.string[m.end():])
        demographics = m.group(0) + (f" {noun.group(1)}" if noun and noun.group(1).lower() not in {"who", "with",
                                                                                                   "and"} else "")
    else:
        demographics = "Patient of unknown age"
    age, sex = parse_age_sex(demographics)
    if sex == "unknown":
        sex = parse_age_sex(f"{patient_info} {question}")[1]
    history = re.sub(r"^(?:for (?:your|the) role as (?:a |the )?patient(?: actor)?|as (?:a |the )?patient actor|"
                     r"for the patient actor)[^:.]*[:,.]\s*", "", patient_info, flags=re.I)
    complaint = _complaint_from_question(question)
    # Examination sentences of the vignette, minus references to the (unavailable) figure panels.
    exam_text = " ".join(_PANEL_REF.sub("", s) for s in _sentences(question)
                         if re.search(r"\bexam(?:ination|ined)?\b", s, re.I) and not s.rstrip().endswith("?")
                         and not _SHOWN.search(s))
    tests = [TestResult(name=n, result=r) for n, r in parse_findings_text(findings)]
    title = _sentences(question)[0] if question.strip() else demographics
    facts = PatientFacts(age_years=age, sex=sex, demographics=demographics, history_of_present_illness=history,
                         symptoms=[Symptom(name=complaint)] if complaint else [])
    tags = ["agentclinic", "nejm", "image-unavailable"]
    url = rec.get("image_url")
    if isinstance(url, str) and url.strip():
        tags.append(f"image_url:{url.strip()}")
    data = {
        "id": case_id, "title": title[:160], "specialty": infer_specialty(title, complaint, history, age),
        "age_group": age_group(age), "split": "imported", "source": source,
        "opening_line": _opening(complaint, age), "patient": facts,
        "exam": [ExamFinding(name="Physical examination", result=exam_text)] if exam_text else [],
        "tests": tests, "diagnosis": Diagnosis(name=correct[0]),
        # Scorer-only: never copied into any participant view.
        "differentials": [t for t, ok in options if not ok and t], "tags": tags,
    }
    return _finish(data)


def _finish(data: dict[str, Any]) -> Scenario:
    # The title is shown in case lists (and the UI's case picker), so it must not name the answer either.
    terms = answer_terms(data["diagnosis"])
    data["title"] = redact(data.get("title", ""), terms)
    plain = {k: (v.model_dump() if isinstance(v, PatientFacts | Diagnosis) else
                 [x.model_dump() if isinstance(x, BaseModel) else x for x in v] if isinstance(v, list) else v)
             for k, v in data.items()}
    return parse_scenario(plain, data["source"])


# ---------------------------------------------------------------------------------------------
# Public API


def _stem_id(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "-", path.stem).strip("-.") or "agentclinic"
    return stem if stem[0].isalnum() else f"x{stem}"


def import_agentclinic(path: str | Path) -> ImportReport:
    """Convert an AgentClinic JSONL file (MedQA or NEJM records, or both) into scenarios.

    Unreadable files raise :class:`ScenarioError`; a malformed record is listed in
    ``report.failures`` with its 1-based line number and the import continues.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(p), f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    report = ImportReport(path=str(p))
    stem = _stem_id(p)
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        case_id = f"{stem}-{lineno:04d}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            report.failures.append((lineno, f"invalid JSON at column {exc.colno}: {exc.msg}"))
            continue
        try:
            if isinstance(rec, dict) and "OSCE_Examination" in rec:
                variant, convert = "medqa", _medqa
            elif isinstance(rec, dict) and {"question", "answers"} <= rec.keys():
                variant, convert = "nejm", _nejm
            else:
                raise _RecordError("not an AgentClinic record: expected an OSCE_Examination object or "
                                   "question/patient_info/physical_exams/answers fields")
            scenario = convert(rec, case_id, f"AgentClinic ({variant}): {p.name} line {lineno}")
        except ScenarioError as exc:
            report.failures.append((lineno, f"converted case is invalid: {exc}"))
            continue
        except (_RecordError, ValueError, TypeError, KeyError, AttributeError) as exc:
            report.failures.append((lineno, str(exc) or type(exc).__name__))
            continue
        report.scenarios.append(scenario)
        report.variants[variant] = report.variants.get(variant, 0) + 1
    return report


def write_cases(report: ImportReport, out_dir: str | Path) -> list[Path]:
    """Write one validated JSON case file per scenario into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(str(out), f"cannot create output folder: {exc.strerror or exc}") from None
    written = []
    for s in report.scenarios:
        target = out / f"{s.id}.json"
        text = s.model_dump_json(indent=2) + "\n"
        parse_scenario(json.loads(text), target)  # what we write must load back
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(str(target), f"cannot write case file: {exc.strerror or exc}") from None
        written.append(target)
    return written
