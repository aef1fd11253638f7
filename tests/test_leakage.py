"""Finding and redacting the answer: matching rules, field paths, views, and the audit."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from agentsim.leakage import (
    NEUTRAL,
    answer_terms,
    contains_answer,
    diagnosis_abbreviations,
    find_leaks,
    leak_terms,
    redact,
)
from agentsim.scenario import Diagnosis, LoadedScenario, parse_scenario
from agentsim.views import build_views

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "agentclinic"


def _case(diagnosis: str, test_result: str, **diag) -> dict:
    return {
        "id": "leak-test", "specialty": "dermatology", "opening_line": "I have spots on my forehead.",
        "patient": {"demographics": "70-year-old man", "age_years": 70, "sex": "male"},
        "exam": [{"name": "Skin examination", "result": "Several brown, waxy, stuck-on plaques."}],
        "tests": [{"name": "Skin biopsy", "aliases": ["punch biopsy"], "result": test_result}],
        "diagnosis": {"name": diagnosis, **diag},
        "differentials": ["Melanoma"],
    }


def _loaded(data: dict, tmp_path: Path) -> LoadedScenario:
    return LoadedScenario(scenario=parse_scenario(data), path=tmp_path / "c.json", base_dir=tmp_path)


def test_find_leaks_names_the_field_and_views_are_clean(tmp_path):
    data = _case("Seborrheic keratosis", "Horn cysts and acanthosis, consistent with seborrheic keratosis.")
    leaks = find_leaks(parse_scenario(data))
    assert [(lk.field, lk.term) for lk in leaks] == [("tests[0].result", "Seborrheic keratosis")]
    assert "consistent with seborrheic keratosis" in leaks[0].excerpt
    views = build_views(_loaded(data, tmp_path))
    m = views.measurement.model_dump_json()
    assert "keratosis" not in m.lower()
    assert f"consistent with {NEUTRAL}" in views.measurement.tests[0].result
    assert "Horn cysts and acanthosis" in views.measurement.tests[0].result  # the rest of the result survives
    for view in (views.doctor, views.patient, views.measurement):
        assert not contains_answer(view.model_dump_json(), leak_terms(parse_scenario(data).diagnosis))


def test_test_aliases_are_checked_and_redacted(tmp_path):
    data = _case("Tinea corporis", "Hyphae seen.")
    data["tests"][0]["aliases"] = ["tinea corporis scraping"]
    assert [lk.field for lk in find_leaks(parse_scenario(data))] == ["tests[0].aliases[0]"]
    views = build_views(_loaded(data, tmp_path))
    assert "tinea" not in views.measurement.model_dump_json().lower()


@pytest.mark.parametrize(("diagnosis", "text"), [
    ("Seborrheic keratosis", "milia-like cysts in seborrheic keratoses"),        # Latin plural
    ("Pulmonary embolus", "multiple pulmonary emboli"),                        # -us -> -i
    ("Hodgkin lymphoma", "features of Hodgkin’s lymphoma"),                    # curly possessive
    ("Hodgkin’s lymphoma", "features of Hodgkin lymphoma"),
    ("Guillain-Barre syndrome", "typical of Guillain-Barré syndrome"),          # diacritics
    ("Posttraumatic stress disorder", "post-traumatic stress disorder"),       # prefix hyphenation
    ("Post-traumatic stress disorder", "posttraumatic stress disorder"),
    ("Autoimmune hemolytic anemia", "autoimmune haemolytic anaemia"),          # US/UK spelling
    ("Acute lymphoblastic leukaemia", "acute lymphoblastic leukemia"),
    ("Oesophageal candidiasis", "esophageal candidiasis"),
    ("Posttraumatic stress disorder", "scores suggestive of PTSD"),            # abbreviation list
    ("Paroxysmal atrial fibrillation", "consistent with atrial fibrillation"),  # course qualifier
    ("Paroxysmal atrial fibrillation", "ECG shows AF with rapid response"),
    ("Chronic lymphocytic leukemia (CLL)", "smudge cells typical of CLL"),      # parenthetical
])
def test_real_misses_are_found(diagnosis, text):
    assert contains_answer(text, leak_terms(Diagnosis(name=diagnosis)))
    assert NEUTRAL in redact(text, leak_terms(Diagnosis(name=diagnosis)))


@pytest.mark.parametrize(("diagnosis", "text"), [
    ("Acute lymphoblastic leukemia", "all blood counts were normal"),   # 'ALL' is case-sensitive
    ("Multiple sclerosis", "Ms Smith reports"),                          # 'MS' likewise
    ("Pneumonia", "bronchopneumonia pattern"),                          # no match inside a longer word
    ("Chronic pain", "pain in the knee"),                               # a too-generic remainder is not used
    ("Psoriatic arthritis", "history of arthritis"),                    # only course qualifiers are dropped
    ("Pulmonary hypertension", "history of hypertension"),              # anatomic words are kept
    ("Tetralogy of Fallot", "a fall at home"),
])
def test_no_false_positives(diagnosis, text):
    assert not contains_answer(text, leak_terms(Diagnosis(name=diagnosis)))


def test_scorer_terms_do_not_accept_qualifier_free_forms():
    dx = Diagnosis(name="Paroxysmal atrial fibrillation")
    assert "atrial fibrillation" in leak_terms(dx)
    assert "atrial fibrillation" not in answer_terms(dx)
    assert "PTSD" in answer_terms(Diagnosis(name="Posttraumatic stress disorder"))


def test_abbreviation_file_is_valid_and_read_only():
    data = json.loads((REPO / "agentsim" / "data" / "abbreviations.json").read_text(encoding="utf-8"))
    assert len(data) >= 100
    assert all(k == k.lower() for k in data)
    abbrevs = diagnosis_abbreviations()
    assert abbrevs["chronic obstructive pulmonary disease"] == ("COPD",)
    with pytest.raises(TypeError):
        abbrevs["x"] = ("y",)  # type: ignore[index]


def _audit_module():
    spec = importlib.util.spec_from_file_location("leakage_audit", REPO / "benchmarks" / "leakage_audit.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, mod)
    spec.loader.exec_module(mod)
    return mod


def test_audit_counts_a_leaking_folder(tmp_path):
    audit = _audit_module()
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "a.json").write_text(json.dumps(_case("Seborrheic keratosis", "consistent with seborrheic keratoses")))
    report = audit.run_audit(scenarios_dir=cases, agentclinic_files=[])
    (src,) = report.sources
    assert (src.cases, src.cases_leaking, src.raw_leaks_exam_tests, src.remaining) == (1, 1, 1, 0)
    assert report.ok


@pytest.mark.skipif(not (SHARED / "medqa_dev.jsonl").is_file(), reason="shared AgentClinic files absent")
def test_audit_over_shared_files_leaves_nothing(tmp_path):
    audit = _audit_module()
    report = audit.run_audit(agentclinic_files=[SHARED / "medqa_dev.jsonl", SHARED / "nejm_dev.jsonl"],
                             work_dir=tmp_path)
    imported = [s for s in report.sources if s.source.startswith("imported")]
    assert [s.cases for s in imported] == [107, 15]
    assert all(s.import_failures == [] for s in imported)
    # The raw data does name the answer in exam/test text for some cases; no view may.
    assert sum(s.cases_leaking_exam_tests for s in imported) >= 10
    assert report.total("remaining") == 0 and report.ok
