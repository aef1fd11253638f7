"""AgentClinic importer: both record shapes, malformed lines, and no answer options in any view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsim.cli.main import main
from agentsim.errors import ScenarioError
from agentsim.importers import ImportReport, import_agentclinic, write_cases
from agentsim.importers.agentclinic import age_group, infer_specialty, parse_age_sex, parse_denied
from agentsim.leakage import contains_answer
from agentsim.scenario import LoadedScenario, load_scenario, load_scenarios
from agentsim.views import build_views

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "agentclinic"
MEDQA, NEJM = SHARED / "medqa_dev.jsonl", SHARED / "nejm_dev.jsonl"
needs_shared = pytest.mark.skipif(not MEDQA.is_file() or not NEJM.is_file(), reason="shared AgentClinic files absent")

MEDQA_RECORD = {"OSCE_Examination": {
    "Objective_for_Doctor": "Evaluate the patient with abdominal pain.",
    "Patient_Actor": {
        "Demographics": "34-year-old woman",
        "History": "Two days of cramping lower abdominal pain.",
        "Symptoms": {"Primary_Symptom": "Lower abdominal pain", "Secondary_Symptoms": ["Nausea", "Low-grade fever"]},
        "Past_Medical_History": "None.",
        "Social_History": "Office worker.",
        "Review_of_Systems": "Denies vomiting, dysuria, or any other systemic symptoms.",
    },
    "Physical_Examination_Findings": {
        "Vital_Signs": {"Temperature": "37.9 C", "Heart_Rate": "96 bpm"},
        "Abdominal_Examination": {"Palpation": "Tender in the left lower quadrant.", "Bowel_Sounds": "Normal"},
    },
    "Test_Results": {
        "Complete_Blood_Count": {"WBC": "13,500/mm3", "Hemoglobin": "13.2 g/dL", "Platelets": "Not provided"},
        "Imaging": {"CT_Abdomen": {"Findings": "Pericolic fat stranding around an inflamed sigmoid diverticulum, "
                                               "consistent with diverticulitis."}},
    },
    "Correct_Diagnosis": "Acute diverticulitis",
}}

NEJM_RECORD = {
    "image_url": "https://example.org/image.jpg",
    "question": "A 61-year-old man presented to the clinic with a 2-week history of a painful rash on his chest. "
                "On physical examination, grouped vesicles were seen in a band (left). What is the diagnosis?",
    "patient_info": "You are a 61-year-old man with a painful rash on your chest for two weeks.",
    "physical_exams": "Laboratory studies: - Tzanck smear: Multinucleated giant cells. Viral PCR: Positive.",
    "answers": [{"text": "Contact dermatitis", "correct": False}, {"text": "Herpes zoster", "correct": True},
                {"text": "Bullous pemphigoid", "correct": False}],
}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_medqa_record_maps_every_part(tmp_path):
    report = import_agentclinic(_write(tmp_path / "mini.jsonl", [json.dumps(MEDQA_RECORD)]))
    assert report.failures == [] and report.variants == {"medqa": 1}
    s = report.scenarios[0]
    assert s.id == "mini-0001" and s.split == "imported" and "mini.jsonl line 1" in s.source
    assert (s.patient.age_years, s.patient.sex, s.age_group) == (34.0, "female", "adult")
    assert s.specialty == "gastroenterology"
    assert [x.name for x in s.patient.symptoms] == ["Lower abdominal pain", "Nausea", "Low-grade fever"]
    assert s.patient.denied_symptoms == ["vomiting", "dysuria"]
    assert "lower abdominal pain" in s.opening_line
    assert s.objective == "Evaluate the patient with abdominal pain."
    exam = {e.name: e.result for e in s.exam}
    assert exam["Abdominal examination: Palpation"] == "Tender in the left lower quadrant."
    assert exam["Vital signs: Heart rate"] == "96 bpm"
    tests = {t.name: t.result for t in s.tests}
    # A named group stays one readable test; a generic group ("Imaging") is opened up; placeholders go.
    assert tests["Complete blood count"] == "WBC: 13,500/mm3; Hemoglobin: 13.2 g/dL"
    assert tests["CT abdomen"].startswith("Pericolic fat stranding")
    assert s.diagnosis.name == "Acute diverticulitis" and s.differentials == []


def test_nejm_record_keeps_options_scorer_only(tmp_path):
    report = import_agentclinic(_write(tmp_path / "nejm mini.jsonl", [json.dumps(NEJM_RECORD)]))
    assert report.failures == []
    s = report.scenarios[0]
    assert s.id == "nejm-mini-0001"
    assert s.diagnosis.name == "Herpes zoster"
    assert s.differentials == ["Contact dermatitis", "Bullous pemphigoid"]
    assert "image_url:https://example.org/image.jpg" in s.tags and s.images == []
    assert (s.patient.age_years, s.patient.sex) == (61.0, "male")
    assert s.opening_line == "I've come in because of a painful rash on my chest."
    assert s.exam[0].result.startswith("On physical examination, grouped vesicles") and "(left)" not in s.exam[0].result
    assert "diagnosis?" not in s.exam[0].result
    assert {t.name for t in s.tests} == {"Tzanck smear", "Viral PCR"}


def test_malformed_lines_are_reported_not_fatal(tmp_path):
    bad_dx = json.loads(json.dumps(MEDQA_RECORD))
    del bad_dx["OSCE_Examination"]["Correct_Diagnosis"]
    two_correct = dict(NEJM_RECORD, answers=[{"text": "A", "correct": True}, {"text": "B", "correct": True}])
    path = _write(tmp_path / "mixed.jsonl", [
        json.dumps(MEDQA_RECORD), "{not json", "", json.dumps(bad_dx), json.dumps({"hello": 1}),
        json.dumps(two_correct), json.dumps(NEJM_RECORD),
    ])
    report = import_agentclinic(path)
    assert [s.id for s in report.scenarios] == ["mixed-0001", "mixed-0007"]
    lines = [line for line, _ in report.failures]
    assert lines == [2, 4, 5, 6]
    reasons = dict(report.failures)
    assert "invalid JSON" in reasons[2]
    assert "Correct_Diagnosis" in reasons[4]
    assert "not an AgentClinic record" in reasons[5]
    assert "exactly one correct answer" in reasons[6]
    assert report.records == 6


def test_unreadable_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read file"):
        import_agentclinic(tmp_path / "missing.jsonl")


def test_write_cases_round_trip(tmp_path):
    report = import_agentclinic(_write(tmp_path / "rt.jsonl", [json.dumps(MEDQA_RECORD), json.dumps(NEJM_RECORD)]))
    files = write_cases(report, tmp_path / "out" / "nested")
    assert [f.name for f in files] == ["rt-0001.json", "rt-0002.json"]
    loaded = load_scenarios(tmp_path / "out")
    assert [ls.scenario for ls in loaded] == report.scenarios


@needs_shared
def test_shared_files_convert_completely(tmp_path):
    medqa, nejm = import_agentclinic(MEDQA), import_agentclinic(NEJM)
    assert (len(medqa.scenarios), medqa.failures) == (107, [])
    assert (len(nejm.scenarios), nejm.failures) == (15, [])
    assert nejm.variants == {"nejm": 15}
    all_cases = medqa.scenarios + nejm.scenarios
    assert all(s.split == "imported" for s in all_cases)
    assert all(s.exam or s.tests for s in all_cases)
    assert sum(1 for s in all_cases if s.patient.age_years is not None) == len(all_cases)
    assert all(len(s.differentials) == 4 for s in nejm.scenarios)
    assert len({s.id for s in all_cases}) == len(all_cases)
    files = write_cases(medqa, tmp_path) + write_cases(nejm, tmp_path)
    assert len(files) == 122 and all(load_scenario(f) for f in files[:5])


@needs_shared
def test_nejm_options_never_reach_a_participant(tmp_path):
    report = import_agentclinic(NEJM)
    files = write_cases(report, tmp_path)
    checked = 0
    for s, f in zip(report.scenarios, files, strict=True):
        views = build_views(LoadedScenario(scenario=s, path=f, base_dir=tmp_path))
        seen = " ".join(v.model_dump_json() for v in (views.doctor, views.patient, views.measurement))
        for option in s.differentials + [s.diagnosis.name]:
            assert not contains_answer(seen, [option]), (s.id, option)
            checked += 1
        assert views.answer.differentials == s.differentials  # the scorer still gets them
    assert checked == 15 * 5


def test_cli_import(tmp_path, capsys):
    src = _write(tmp_path / "cli.jsonl", [json.dumps(MEDQA_RECORD), "oops", json.dumps(NEJM_RECORD)])
    rc = main(["scenarios", "import", "--format", "agentclinic", str(src), "--out", str(tmp_path / "cases")])
    out = capsys.readouterr().out
    assert rc == 1  # one record skipped
    assert "SKIPPED" in out and "line 2" in out and "2 cases written" in out
    assert main(["scenarios", "validate", str(tmp_path / "cases")]) == 0
    assert main(["scenarios", "import", "--format", "agentclinic", str(tmp_path / "nope.jsonl"),
                 "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize(("text", "age", "sex"), [
    ("18-month-old girl", 1.5, "female"), ("4-week-old female newborn", 0.08, "female"),
    ("35-year-old primigravid woman at 12 weeks' gestation", 35.0, "female"), ("60-year-old male", 60.0, "male"),
    ("Elderly patient", None, "unknown"),
])
def test_parse_age_sex(text, age, sex):
    assert parse_age_sex(text) == (age, sex)


def test_age_groups_and_specialty_rules():
    assert [age_group(a) for a in (0.01, 0.5, 5, 15, 40, 80, None)] == [
        "neonate", "infant", "child", "adolescent", "adult", "older_adult", None]
    assert infer_specialty("Perform a skin examination", "itchy rash", "") == "dermatology"
    assert infer_specialty("Assess chest pain", "palpitations", "") == "cardiology"
    assert infer_specialty("Evaluate the patient", "cough", "", age=4) == "pediatrics"
    assert infer_specialty("", "", "") == "internal_medicine"


def test_parse_denied():
    assert parse_denied("Denies fever, chills, or recent weight loss. No cough or wheeze reported.") == [
        "fever", "chills", "weight loss", "cough", "wheeze"]
    assert parse_denied("No cardiopulmonary abnormalities noted.") == []
    assert parse_denied("Reports fatigue but denies any other systemic complaints.") == []


def test_report_model_is_serialisable(tmp_path):
    report = import_agentclinic(_write(tmp_path / "s.jsonl", [json.dumps(MEDQA_RECORD), "x"]))
    again = ImportReport.model_validate_json(report.model_dump_json())
    assert again.failures == [(2, report.failures[0][1])]
