"""The turn loop with scripted participants: routing, limits, budget, errors, leakage guard."""

from __future__ import annotations

import asyncio

from agentsim.agents.measurement import MeasurementAgent
from agentsim.agents.scripted import ScriptedDoctor, ScriptedPatient
from agentsim.episode import EpisodeConfig, run_episode
from agentsim.participants import Message, Reply
from agentsim.scoring import OfflineScorer
from agentsim.tools import RetrievalQuery, RetrievalResult


def _run(loaded, doctor, patient=None, cfg=None, **kw):
    return asyncio.run(run_episode(loaded, doctor, patient or ScriptedPatient(["Yes."]), MeasurementAgent(),
                                   cfg or EpisodeConfig(max_turns=10), scorer=OfflineScorer(), **kw))


def test_routing_and_accounting(appendicitis):
    doc = ScriptedDoctor([("ask_patient", {"question": "Pain?"}), ("ask_patient", {"question": "Fever?"}),
                          ("order_test", {"test": "CRP"}), ("ask_patient", {"question": "Vomiting?"}),
                          ("diagnose", {"diagnosis": "appendicitis", "differential": ["gastroenteritis"]})])
    r = _run(appendicitis, doc)
    assert r.correct and r.questions == 3 and r.tests_ordered == ["CRP"]
    # Two runs of consecutive questions = two visits; one priced test.
    assert r.cost.visits_usd == 2 * 300 and r.cost.tests_usd > 0
    assert "CRP 58" in [m for m in r.transcript.messages if m.role == "measurement"][0].content
    assert all("turns_left" in m.metadata for m in doc.received)
    assert doc.received[0].metadata["tools"] == ["ask_patient", "order_test", "diagnose"]


def test_unlisted_test_gets_a_normal_result(appendicitis):
    r = _run(appendicitis, ScriptedDoctor([("order_test", {"test": "chest X-ray"}),
                                           ("diagnose", {"diagnosis": "x"})]))
    result = [m for m in r.transcript.messages if m.role == "measurement"][0]
    assert result.content and "appendic" not in result.content.lower()


def test_budget_refuses_tests_beyond_limit(appendicitis):
    doc = ScriptedDoctor([("order_test", {"test": "CT abdomen"}), ("diagnose", {"diagnosis": "appendicitis"})])
    r = _run(appendicitis, doc, cfg=EpisodeConfig(max_turns=5, budget_usd=5))
    assert r.tests_ordered == [] and r.cost.tests_usd == 0
    assert any(m.metadata.get("budget_exceeded") for m in r.transcript.messages)


def test_invalid_actions_end_episode_as_agent_error(appendicitis):
    doc = ScriptedDoctor([("frobnicate", {}), ("order_test", {}), ("ask_patient", {"q": 1})])
    r = _run(appendicitis, doc, cfg=EpisodeConfig(max_invalid_actions=3))
    assert r.error is not None and r.error.kind == "agent" and r.diagnosis is None


def test_search_without_memory_is_an_error_message(appendicitis):
    doc = ScriptedDoctor([("search_similar_cases", {"query_text": "rlq pain"}), ("diagnose", {"diagnosis": "x"})])
    r = _run(appendicitis, doc)
    assert any("not available" in m.content for m in r.transcript.messages)


class _Memory:
    def __init__(self):
        self.queries: list[RetrievalQuery] = []

    async def search(self, query: RetrievalQuery) -> RetrievalResult:
        self.queries.append(query)
        return RetrievalResult(note="empty memory")


def test_retrieval_gets_exclusion_of_current_case(appendicitis):
    mem = _Memory()
    doc = ScriptedDoctor([("search_similar_cases", {"query_text": "rlq pain"}), ("diagnose", {"diagnosis": "x"})])
    r = _run(appendicitis, doc, retrieval=mem)
    assert mem.queries[0].exclude_case_id == "gs-appendicitis-01"
    assert r.searches == 1 and "search_similar_cases" in doc.received[0].metadata["tools"]


class _LeakyPatient(ScriptedPatient):
    async def respond(self, message: Message) -> Reply:
        return Reply(content="My cousin says it is acute appendicitis.")


def test_answer_in_model_reply_is_redacted_before_the_doctor_sees_it(appendicitis):
    doc = ScriptedDoctor([("ask_patient", {"question": "What do you think it is?"}),
                          ("diagnose", {"diagnosis": "appendicitis"})])
    r = _run(appendicitis, doc, patient=_LeakyPatient())
    seen = " ".join(m.content for m in doc.received).lower()
    assert "appendicitis" not in seen
    assert any(m.metadata.get("redacted") for m in r.transcript.messages)


class _Boom(ScriptedPatient):
    async def respond(self, message: Message) -> Reply:
        raise RuntimeError("simulator crashed")


def test_patient_crash_is_recorded(appendicitis):
    r = _run(appendicitis, ScriptedDoctor([("ask_patient", {"question": "Hi"})]), patient=_Boom())
    assert r.error is not None and r.error.kind == "patient" and "simulator crashed" in r.error.message


def test_stop_event(appendicitis):
    async def go():
        ev = asyncio.Event()
        ev.set()
        return await run_episode(appendicitis, ScriptedDoctor([]), ScriptedPatient(), MeasurementAgent(), stop=ev)

    r = asyncio.run(go())
    assert r.error is not None and r.error.kind == "stopped"


def test_combined_order_is_priced_per_test(appendicitis):
    from agentsim.catalog import default_catalog

    cat = default_catalog()
    r = _run(appendicitis, ScriptedDoctor([("order_test", {"test": "CBC, CRP and urinalysis"}),
                                           ("diagnose", {"diagnosis": "x"})]))
    assert [t for t, _ in r.cost.priced_tests] == ["CBC", "CRP", "urinalysis"]
    assert r.cost.tests_usd == cat.price("CBC") + cat.price("CRP") + cat.price("urinalysis")
    reply = [m for m in r.transcript.messages if m.role == "measurement"][0]
    result = reply.content
    assert "WBC 14.8" in result and "CRP 58" in result and "nitrites" in result
    # the reply names the tests it reports, as its lines do
    reported = reply.metadata["reported"]
    assert len(reported) == 3 and all(any(ln.startswith(f"{n}:") for ln in result.splitlines()) for n in reported)


def test_a_test_named_after_the_answer_still_finds_the_case_result(appendicitis):
    from agentsim.scenario import TestResult

    s = appendicitis.scenario
    named = TestResult(name="Appendicitis inflammatory response score", result="Score 9 of 12 (high)")
    loaded = appendicitis.model_copy(
        update={"scenario": s.model_copy(update={"tests": [*s.tests, named]})})
    r = _run(loaded, ScriptedDoctor([("order_test", {"test": "appendicitis score"}),
                                     ("diagnose", {"diagnosis": "x"})]))
    result = [m for m in r.transcript.messages if m.role == "measurement"][0]
    # The case's own result, not the catalogue's normal fallback, and the answer is still not named.
    assert "Score 9 of 12" in result.content
    assert "appendic" not in result.content.lower()


def test_normal_results_follow_the_patients_sex(appendicitis):
    sex = appendicitis.scenario.patient.sex
    other = {"male": "scrotal ultrasound", "female": "pelvic ultrasound"}[
        "female" if sex == "male" else "male"]
    r = _run(appendicitis, ScriptedDoctor([("order_test", {"test": other}), ("order_test", {"test": "tumour markers"}),
                                           ("diagnose", {"diagnosis": "x"})]))
    wrong_anatomy, markers = [m.content for m in r.transcript.messages if m.role == "measurement"]
    assert "not applicable" in wrong_anatomy and sex in wrong_anatomy
    assert ("PSA" in markers) == (sex == "male") and ("CA-125" in markers) == (sex == "female")


def test_a_site_specific_biopsy_request_gets_the_cases_unsited_biopsy(appendicitis):
    from agentsim.scenario import TestResult

    s = appendicitis.scenario
    report = TestResult(name="Biopsy report", result="Histopathology: horn cysts and acanthosis.")
    loaded = appendicitis.model_copy(update={"scenario": s.model_copy(update={"tests": [*s.tests, report]})})
    r = _run(loaded, ScriptedDoctor([("order_test", {"test": "skin biopsy"}), ("order_test", {"test": "pap smear"}),
                                     ("diagnose", {"diagnosis": "x"})]))
    biopsy, pap = [m.content for m in r.transcript.messages if m.role == "measurement"]
    assert "horn cysts" in biopsy
    # A pathology test of another kind is not the biopsy.
    assert "horn cysts" not in pap


def test_a_panel_request_gets_the_cases_results_of_the_panel_it_is_part_of(appendicitis):
    from agentsim.scenario import TestResult

    s = appendicitis.scenario
    chem = TestResult(name="Biochemistry", result="Creatinine 4.1 mg/dL, calcium 12.9 mg/dL.")
    loaded = appendicitis.model_copy(update={"scenario": s.model_copy(update={"tests": [*s.tests, chem]})})
    r = _run(loaded, ScriptedDoctor([("order_test", {"test": "basic metabolic panel"}),
                                     ("order_test", {"test": "serum creatinine"}),
                                     ("order_test", {"test": "lipase"}), ("diagnose", {"diagnosis": "x"})]))
    bmp, creat, lipase = [m.content for m in r.transcript.messages if m.role == "measurement"]
    # A BMP and a creatinine are parts of the chemistry the case reports; a lipase is not.
    assert "Creatinine 4.1" in bmp and "Creatinine 4.1" in creat
    assert "Creatinine 4.1" not in lipase


def test_tokens_usd_is_the_sum_of_usage_costs(appendicitis):
    from agentsim.participants import Usage

    r = _run(appendicitis, ScriptedDoctor([("diagnose", {"diagnosis": "appendicitis"})]))
    r.usage = {"doctor": Usage(calls=1, cost_usd=0.25), "judge": Usage(calls=2, cost_usd=0.5)}
    assert r.update_tokens_usd() == r.cost.tokens_usd == 0.75
