"""The offline patient: answers only what is asked, from its facts, consistently, without leaking."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from offline_fixtures import HashingEmbedder

from agentsim.leakage import answer_terms, contains_answer
from agentsim.offline.kb import default_kb
from agentsim.offline.patient import OfflinePatient, first_person
from agentsim.participants import Message
from agentsim.scenario import LoadedScenario, load_scenarios
from agentsim.views import build_views

QUESTIONS = [
    "What brings you in today?", "Can you tell me more about your symptoms?", "Have you noticed any other symptoms?",
    "Do you have any medical conditions, and do you take any medications?", "Any allergies?",
    "Do you smoke, drink alcohol or use drugs?", "What do you do for work?", "Does anything run in your family?",
    "Do you have a fever?", "Any chest pain or shortness of breath?", "How old are you?",
    "What is your diagnosis?", "What do you think is wrong with you?", "Have you had any blood tests or scans?",
    "What did your tests show?", "Have you ever been told you have cancer?",
]


def ask(patient: OfflinePatient, question: str) -> str:
    return asyncio.run(patient.respond(Message(role="doctor", content=question))).content


@pytest.fixture(scope="module")
def patient(appendicitis: LoadedScenario) -> OfflinePatient:
    p = OfflinePatient()
    asyncio.run(p.start(build_views(appendicitis).patient, seed=0))
    return p


def test_yes_no_and_unknown(patient: OfflinePatient) -> None:
    assert ask(patient, "Do you have a fever?").startswith("Yes")
    assert ask(patient, "Have you been throwing up?").startswith("Yes")  # "vomited once" via synonyms
    # listed as denied: a plain no that names it
    denied = ask(patient, "Any chest pain?")
    assert denied.startswith("No") and "chest pain" in denied
    # not in the facts at all: a plain no, nothing invented
    unknown = ask(patient, "Have you had any headaches?")
    assert unknown.startswith("No") and "headache" not in unknown.lower()


def test_negation_in_the_facts(patient: OfflinePatient) -> None:
    assert ask(patient, "Have you had diarrhea?").startswith("No")
    assert ask(patient, "Is there blood in your urine?").startswith("No")
    assert ask(patient, "Do you smoke?").startswith("I")  # "... does not smoke" from the social history
    assert "smoke" in ask(patient, "Do you smoke?")


def test_open_and_topic_questions(patient: OfflinePatient) -> None:
    story = ask(patient, "What brings you in today?")
    assert "belly button" in story and "right side" in story
    assert "paracetamol" in ask(patient, "What medications do you take?")
    assert "high blood pressure" in ask(patient, "Does anything run in your family?")
    assert ask(patient, "How old are you?").startswith("I'm a 22-year-old")


def test_answers_only_what_is_asked(patient: OfflinePatient) -> None:
    meds = ask(patient, "What medications do you take?")
    assert "beers" not in meds and "Father" not in meds
    fever = ask(patient, "Do you have a fever?")
    assert "paracetamol" not in fever


def test_same_question_same_answer(appendicitis: LoadedScenario) -> None:
    p = OfflinePatient()
    asyncio.run(p.start(build_views(appendicitis).patient, seed=3))
    first = [ask(p, q) for q in QUESTIONS]
    assert [ask(p, q) for q in QUESTIONS] == first
    assert ask(p, "  do you have a FEVER? ") == ask(p, "Do you have a fever?")


def test_deterministic_for_a_seed(appendicitis: LoadedScenario) -> None:
    def run(seed: int) -> list[str]:
        p = OfflinePatient()
        asyncio.run(p.start(build_views(appendicitis).patient, seed=seed))
        return [ask(p, q) for q in QUESTIONS]

    assert run(7) == run(7)


def test_never_reports_test_results(appendicitis: LoadedScenario) -> None:
    p = OfflinePatient()
    asyncio.run(p.start(build_views(appendicitis).patient, seed=0))
    for q in ("Have you had any blood tests or scans?", "What did your tests show?", "What is your white cell count?"):
        answer = ask(p, q)
        assert not re.search(r"\d+\s*(x10|mg|mmol|g/dl)", answer, re.I)


def test_first_person() -> None:
    assert first_person("The patient reports that the pain started yesterday.") == "The pain started yesterday."
    assert first_person("He has a 20-year history of smoking.") == "I have a 20-year history of smoking."
    assert first_person("Works in a glass factory.") == "I work in a glass factory."
    assert first_person("Her mother had breast cancer.") == "My mother had breast cancer."
    assert first_person("Non-smoker.") == "I don't smoke."


def _kb_synonyms(diagnosis: str) -> list[str]:
    """Names the knowledge base uses for the same disease (exact name or synonym match)."""
    key = re.sub(r"[^a-z0-9]+", " ", re.sub(r"\([^)]*\)", "", diagnosis.lower())).strip()
    for d in default_kb().diseases:
        names = [d.name, *d.synonyms]
        if any(re.sub(r"[^a-z0-9]+", " ", n.lower()).strip() == key for n in names):
            return [n for n in names if len(n) >= 4]
    return []


def _all_cases(scenarios_dir: Path) -> list[LoadedScenario]:
    cases = load_scenarios(scenarios_dir / "cases")
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "agentclinic" / "medqa_dev.jsonl"
    if shared.is_file():
        from agentsim.importers.agentclinic import import_agentclinic

        cases += [LoadedScenario(scenario=s, path=shared, base_dir=shared.parent)
                  for s in import_agentclinic(shared).scenarios]
    return cases


def test_never_names_the_diagnosis_in_any_case(scenarios_dir: Path) -> None:
    """Every shipped case (and the shared AgentClinic dev file when present) gets a battery of
    questions, including ones that name the diagnosis and its synonyms.

    * The case's own answer terms (name, synonyms, abbreviations) never appear in an answer.
    * A knowledge-base synonym of the diagnosis appears only inside a sentence the case itself
      gives the patient (e.g. a family history of the same disease), never in words the patient
      composed, and the patient never says "yes" to a question naming the diagnosis.
    """
    embedder = HashingEmbedder()
    checked = 0
    for ls in _all_cases(scenarios_dir):
        views = build_views(ls)
        dx = ls.scenario.diagnosis
        case_terms = answer_terms(dx)
        kb_terms = sorted(set(_kb_synonyms(dx.name)) - set(case_terms))
        facts_text = " ".join(str(v) for v in views.patient.facts.model_dump().values()).lower()
        p = OfflinePatient(embedder=embedder)
        asyncio.run(p.start(views.patient, seed=0))
        naming = [f"Do you have {n}?" for n in [dx.name, *dx.synonyms, *dx.abbreviations][:4]]
        naming += [f"Have you been told you have {dx.name}?"]
        for q in QUESTIONS + naming:
            answer = ask(p, q)
            assert not contains_answer(answer, case_terms), f"{ls.scenario.id}: {q!r} -> {answer!r}"
            if kb_terms and contains_answer(answer, kb_terms):
                for sentence in re.split(r"(?<=[.!?])\s+", answer):
                    if contains_answer(sentence, kb_terms):
                        words = re.sub(r"^(i |my |i've had |i have )", "", sentence.lower()).strip(" .")
                        assert words[:30] in facts_text, f"{ls.scenario.id}: composed {sentence!r}"
            if q in naming:
                assert not answer.startswith("Yes"), f"{ls.scenario.id}: {q!r} -> {answer!r}"
        checked += 1
    assert checked >= 1


def test_a_bare_past_history_is_said_in_the_first_person() -> None:
    from agentsim.offline.patient import _pmh_sentence

    assert first_person("Osteoporosis, Dyslipidemia, Diabetes.") == "Osteoporosis, Dyslipidemia, Diabetes."
    assert _pmh_sentence("Osteoporosis, dyslipidemia, diabetes.") == "I have osteoporosis, dyslipidemia, diabetes."
    assert _pmh_sentence("Diagnosed with asthma at age 6.") == "I was diagnosed with asthma at age 6."
    assert _pmh_sentence("Underwent appendectomy in 2010.") == "I underwent appendectomy in 2010."


def test_history_questions_get_the_whole_history_and_no_writer_notes() -> None:
    from agentsim.offline.doctor import OPEN_QUESTIONS
    from agentsim.scenario import PatientFacts
    from agentsim.views import PatientView

    facts = PatientFacts(
        demographics="34-year-old man", history_of_present_illness="He has had a cough for a month.",
        social_history="Works as a fruit picker. Smokes a pack a day. Went hiking in Arizona 4 months ago. "
                       "His brother died of lung cancer at 50. Diet details not provided.")
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="I have a cough.", facts=facts), seed=0))
    social = ask(p, next(q for q in OPEN_QUESTIONS if "lifestyle" in q))
    assert "fruit picker" in social and "pack a day" in social and "Arizona" in social
    # told as family history, wherever the case writer put it
    assert "brother" not in social
    assert "brother died of lung cancer" in ask(p, "Has anyone in your family had any illnesses?")
    # "Diet details not provided" is a note about the case, not something the patient says
    assert "not provided" not in social
    # a narrow question still gets only its own answer
    smoke = ask(p, "Do you smoke?")
    assert "pack a day" in smoke and "Arizona" not in smoke


def test_a_symptom_listed_as_absent_is_denied_and_joined_verbs_agree() -> None:
    from agentsim.scenario import PatientFacts, Symptom
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="60-year-old man", symptoms=[Symptom(name="No fever"), Symptom(name="Dry cough"),
                                                                   Symptom(name="Left lower abdominal pain")])
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="I have a cough.", facts=facts), seed=0))
    assert ask(p, "Have you had a fever?").startswith("No")
    assert ask(p, "Have you had a dry cough?").startswith("Yes")
    assert not ask(p, "Have you had a productive cough?").startswith("Yes")
    assert ask(p, "Any left lower abdominal pain?").startswith("Yes")
    assert not ask(p, "Any right lower abdominal pain?").startswith("Yes")
    assert first_person("Non-smoker, drinks alcohol socially.") == "I don't smoke, drink alcohol socially."
    assert first_person("Patient lives alone and is recently retired.") == "I live alone and am recently retired."


def test_a_near_miss_is_told_as_what_the_patient_has_not_as_yes_or_no() -> None:
    from agentsim.offline.doctor import answer_polarity
    from agentsim.scenario import PatientFacts, Symptom
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="40-year-old woman", symptoms=[Symptom(name="Severe headache")])
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="I have a headache.", facts=facts), seed=0))
    answer = ask(p, "Have you had a severe throbbing headache?")
    assert "severe headache" in answer and not answer.startswith(("Yes", "No"))
    # the doctor reads it as neither a yes nor a denial of the throbbing headache
    assert answer_polarity(answer, "severe throbbing headache")[0] is None


def test_a_habit_asked_in_other_words_is_told_not_denied() -> None:
    from agentsim.offline.doctor import _question_for, answer_polarity
    from agentsim.scenario import PatientFacts
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="64-year-old man",
                         social_history="Smoked a pack of cigarettes daily for 40 years. Drinks a beer daily.")
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="I am short of breath.", facts=facts), seed=0))
    question = _question_for("heavy smoker", "risk_factor")
    assert question == "Are you a heavy smoker?"
    smoking = ask(p, question)
    assert "pack of cigarettes" in smoking and answer_polarity(smoking, "heavy smoker")[0] is not False
    assert "beer" in ask(p, "Do you drink alcohol?")
    assert ask(p, "Do you work with asbestos?") == "No."


def test_a_duration_asked_is_confirmed_only_by_a_fact_that_states_it() -> None:
    from agentsim.scenario import PatientFacts, Symptom
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="50-year-old woman",
                         symptoms=[Symptom(name="Morning stiffness lasting about 50 minutes"),
                                   Symptom(name="Joint pain for 2 years"), Symptom(name="Fatigue")])
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="My joints hurt.", facts=facts), seed=0))
    assert not ask(p, "Have you had morning stiffness less than 30 minutes?").startswith("Yes")
    assert ask(p, "Have you had joint pain for 6 months or more?").startswith("Yes")
    assert not ask(p, "Have you had fatigue for more than three months?").startswith("Yes")
    # a duration asked in words, without a limit, needs one in the fact too
    assert not ask(p, "Have you had fatigue lasting hours to days?").startswith("Yes")
    assert not ask(p, "Have you had fatigue lasting one to three weeks?").startswith("Yes")
    assert ask(p, "Have you had fatigue?").startswith("Yes")


def test_a_question_more_specific_than_the_fact_gets_no_yes() -> None:
    from agentsim.scenario import PatientFacts, Symptom
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="50-year-old woman", symptoms=[Symptom(name="Abdominal pain")])
    p = OfflinePatient()
    asyncio.run(p.start(PatientView(opening_line="My belly hurts.", facts=facts), seed=0))
    assert not ask(p, "Have you had right upper abdominal pain?").startswith("Yes")
    assert ask(p, "Have you had abdominal pain?").startswith("Yes")


def test_a_question_about_the_family_gets_the_family_history_only() -> None:
    from agentsim.scenario import PatientFacts
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="60-year-old man", past_medical_history="Type 2 diabetes.",
                         family_history="Father died of a stroke at 70.")
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="I feel unwell.", facts=facts), seed=0))
    family = ask(p, "Has anyone in your family had any illnesses?")
    assert "stroke" in family and "diabetes" not in family
    both = ask(p, "Do you have any medical conditions, and does anything run in your family?")
    assert "stroke" in both and "diabetes" in both


def test_medicines_named_in_the_past_history_are_not_denied() -> None:
    from agentsim.scenario import PatientFacts
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="40-year-old man",
                         past_medical_history="Schizophrenia, well controlled with haloperidol. Epilepsy, taking "
                                              "phenytoin.")
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="I feel hot.", facts=facts), seed=0))
    both = ask(p, "Do you have any medical conditions, and do you take any medications?")
    assert "haloperidol" in both and "phenytoin" in both and "don't take" not in both
    assert both.count("phenytoin") == 1
    assert "phenytoin" in ask(p, "Do you take any medicines?")

    healthy = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(healthy.start(PatientView(opening_line="I feel hot.", facts=PatientFacts(
        demographics="40-year-old man", past_medical_history="Asthma as a child.")), seed=0))
    assert "don't take any medicines" in ask(healthy, "Do you take any medicines?")


def test_a_symptom_with_a_measured_value_is_told_without_the_value() -> None:
    from agentsim.scenario import PatientFacts, Symptom
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="22-year-old man", symptoms=[Symptom(name="High fever (104°F or 40°C)")],
                         history_of_present_illness="He felt hot and confused (temperature 40°C on arrival).")
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="I feel unwell.", facts=facts), seed=0))
    answer = ask(p, "Have you had a high fever?")
    assert answer.startswith("Yes") and "104" not in answer and "40" not in answer
    story = ask(p, "Can you tell me more about your symptoms and how they started?")
    assert "confused" in story and "40" not in story


def test_review_of_systems_written_as_negative_for_is_a_denial() -> None:
    from agentsim.scenario import PatientFacts
    from agentsim.views import PatientView

    facts = PatientFacts(demographics="60-year-old man", review_of_systems="Negative for fever, rash or weight loss.",
                         history_of_present_illness="Tingling pain in the right sole when he raises the foot above "
                                                    "chest level. Pulse at 141/min.")
    p = OfflinePatient(embedder=HashingEmbedder())
    asyncio.run(p.start(PatientView(opening_line="My foot hurts.", facts=facts), seed=0))
    assert ask(p, "Have you had a rash?").startswith("No")
    story = ask(p, "Can you tell me more about your symptoms and how they started?")
    assert "chest level" in story and "141" not in story
