"""Doctor strategies, biases and the patient verifier through ChatOpenAI against a local scripted server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agentsim.api import run_case
from agentsim.backends import Settings, make_doctor, make_patient
from agentsim.llm import LLMConfig
from agentsim.testing.fake_openai import FakeOpenAIServer, FakeReply, ScriptedResponder, tool_call
from agentsim.tools import CaseHit, RetrievalQuery, RetrievalResult

pytestmark = pytest.mark.server


def _system(body: dict[str, Any]) -> str:
    msgs = body.get("messages") or [{}]
    return str(msgs[0].get("content") or "")


def _tools(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools") or []]


class Router:
    """Sorts requests by kind (doctor, panel member, voter, verifier, patient) and scripts each kind."""

    def __init__(self, doctor: Any, patient: Any = None, member: Any = None, voter: Any = None, verifier: Any = None):
        self.handlers = {"doctor": doctor, "patient": patient or ScriptedResponder([], FakeReply(content="No.")),
                         "member": member or ScriptedResponder([], FakeReply(content="Consider the abdomen.")),
                         "voter": voter,
                         "verifier": verifier or ScriptedResponder([], FakeReply(content='{"ok": true}'))}
        self.seen: dict[str, list[dict[str, Any]]] = {k: [] for k in self.handlers}

    @staticmethod
    def kind(body: dict[str, Any]) -> str:
        system = _system(body)
        if "independent final diagnosis" in system:
            return "voter"
        if body.get("tools"):
            return "doctor"
        if "panel of physicians" in system:
            return "member"
        if "simulated patient's reply" in system:
            return "verifier"
        return "patient"

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        k = self.kind(body)
        self.seen[k].append(body)
        return self.handlers[k](body)


def _settings(server: FakeOpenAIServer, **kw: Any) -> Settings:
    cfg = LLMConfig(model="fake-model", base_url=server.base_url, max_retries=0, timeout_s=10)
    return Settings(backend="openai", doctor=cfg, patient=cfg, max_turns=kw.pop("max_turns", 8), **kw)


def _call(name: str, args: dict[str, Any], cid: str, content: str | None = None) -> FakeReply:
    return FakeReply(content=content, tool_calls=[tool_call(name, args, cid)])


ASK = _call("ask_patient", {"question": "Where is the pain?"}, "c1")
DX = _call("diagnose", {"diagnosis": "Acute appendicitis", "differential": ["Gastroenteritis"], "confidence": 0.8},
           "c2")


def test_plain_llm_doctor_has_no_extra_calls(appendicitis):
    router = Router(ScriptedResponder([ASK, DX]))
    with FakeOpenAIServer(router) as server:
        r = asyncio.run(run_case(appendicitis, _settings(server)))
    assert r.error is None and r.correct
    assert r.usage["doctor"].calls == 2 == len(router.seen["doctor"])


def test_cot_reasoning_is_stored_not_spoken(appendicitis):
    think = "<reasoning>RLQ pain: leading hypothesis is the appendix; ask about migration.</reasoning>"
    doctor = ScriptedResponder([
        _call("ask_patient", {"question": "Did the pain move?"}, "c1", content=think),
        FakeReply(content=think + " Still thinking."),  # reasoning without an action: never read to the patient
        DX,
    ])
    router = Router(doctor)
    with FakeOpenAIServer(router) as server:
        r = asyncio.run(run_case(appendicitis, _settings(server, doctor_strategy="cot")))
    assert r.error is None and r.correct
    doc_msgs = [m for m in r.transcript.messages if m.role == "doctor"]
    assert "leading hypothesis" in doc_msgs[0].reasoning and doc_msgs[0].content == ""
    assert "leading hypothesis" in doc_msgs[1].reasoning and not doc_msgs[1].tool_calls
    patient_text = json.dumps(router.seen["patient"])
    assert "Did the pain move?" in patient_text and "leading hypothesis" not in patient_text
    assert r.questions == 1  # the reasoning-only reply did not become a question
    assert "<reasoning>" in _system(router.seen["doctor"][0])


@pytest.mark.parametrize("roles,rounds", [(["hypothesis", "challenger", "checklist"], 2),
                                          (["hypothesis", "test_chooser", "challenger", "stewardship",
                                            "checklist"], 1)])
def test_panel_makes_roles_times_rounds_plus_one_calls_per_action(appendicitis, roles, rounds):
    router = Router(ScriptedResponder([ASK, DX]))
    opts = {"panel_roles": roles, "panel_rounds": rounds}
    with FakeOpenAIServer(router) as server:
        r = asyncio.run(run_case(appendicitis, _settings(server, doctor_strategy="panel", strategy_options=opts)))
    assert r.error is None and r.correct
    per_action = len(roles) * rounds + 1
    assert len(router.seen["member"]) == 2 * len(roles) * rounds and len(router.seen["doctor"]) == 2
    assert r.usage["doctor"].calls == 2 * per_action
    assert r.usage["doctor"].prompt_tokens == 2 * per_action * 50  # every call's usage is summed
    first = [m for m in r.transcript.messages if m.role == "doctor"][0]
    assert first.metadata["panel"]["calls"] == per_action and "Dr. Hypothesis:" in first.reasoning
    # Members speak in order and see what earlier members said this turn.
    assert "(nobody has spoken yet)" in json.dumps(router.seen["member"][0])
    assert "Dr. Hypothesis: Consider the abdomen." in json.dumps(router.seen["member"][1])
    # Issue 8.3: no member, voter or chair ever sees the answer or a list built from the case's differentials.
    for body in router.seen["member"] + router.seen["doctor"]:
        text = json.dumps(body["messages"]).lower()
        assert "appendicitis" not in text and "mesenteric" not in text and "crohn" not in text


def _voter(diagnoses: list[tuple[str, float]]) -> ScriptedResponder:
    return ScriptedResponder([_call("diagnose", {"diagnosis": d, "confidence": c}, f"v{i}")
                              for i, (d, c) in enumerate(diagnoses)])


@pytest.mark.parametrize("method,winner", [("majority", "Gastroenteritis"), ("confidence", "Acute appendicitis")])
def test_ensemble_votes_and_costs_lead_plus_n_minus_one_calls(appendicitis, method, winner):
    lead = ScriptedResponder([ASK, _call("diagnose", {"diagnosis": "Acute appendicitis", "confidence": 0.9}, "d")])
    router = Router(lead, voter=_voter([("Gastroenteritis", 0.3), ("gastroenteritis", 0.3)]))
    opts = {"ensemble_size": 3, "ensemble_vote": method}
    with FakeOpenAIServer(router) as server:
        r = asyncio.run(run_case(appendicitis, _settings(server, doctor_strategy="ensemble", strategy_options=opts)))
    assert r.error is None
    assert r.diagnosis == winner
    assert len(router.seen["doctor"]) == 2 and len(router.seen["voter"]) == 2
    assert r.usage["doctor"].calls == 4
    final = [m for m in r.transcript.messages if m.role == "doctor"][-1]
    assert final.metadata["ensemble"]["size"] == 3 and len(final.metadata["ensemble"]["votes"]) == 3
    # Voters only get the diagnose tool, their own temperature and distinct seeds, and no answer.
    for body in router.seen["voter"]:
        assert _tools(body) == ["diagnose"] and body["temperature"] == 0.7
        assert "appendicitis" not in json.dumps(body["messages"]).lower()
    assert len({b.get("seed") for b in router.seen["voter"]}) == 2


class _Memory:
    def __init__(self) -> None:
        self.queries: list[RetrievalQuery] = []

    async def search(self, query: RetrievalQuery) -> RetrievalResult:
        self.queries.append(query)
        return RetrievalResult(cases=[CaseHit(id="e1", score=0.8, case_id="other", summary="man with RLQ pain",
                                              final_diagnosis="Mesenteric lymphadenitis")])


def test_retrieval_forces_a_first_search_and_keeps_history_valid(appendicitis):
    router = Router(ScriptedResponder([ASK, DX]))
    mem = _Memory()
    with FakeOpenAIServer(router) as server:
        s = _settings(server, doctor_strategy="retrieval")
        r = asyncio.run(run_case(appendicitis, s, retrieval=mem))
    assert r.error is None and r.searches == 1 and r.questions == 0
    assert mem.queries and "stomach" in mem.queries[0].query_text
    assert mem.queries[0].exclude_case_id == appendicitis.scenario.id
    first = [m for m in r.transcript.messages if m.role == "doctor"][0]
    assert first.tool_calls[0].name == "search_similar_cases" and first.metadata["retrieval"]["forced"]
    # The doctor's next request answers the adopted search call (valid tool-calling history).
    msgs = router.seen["doctor"][1]["messages"]
    assistant = [m for m in msgs if m["role"] == "assistant"][-1]
    assert assistant["tool_calls"][0]["function"]["name"] == "search_similar_cases"
    tool_msg = [m for m in msgs if m["role"] == "tool"][-1]
    assert tool_msg["tool_call_id"] == assistant["tool_calls"][0]["id"] and "Mesenteric" in tool_msg["content"]
    assert r.usage["doctor"].calls == 2  # the replaced proposal is still counted


class _Experience:
    def __init__(self, own_id: str) -> None:
        self.own_id = own_id
        self.excludes: list[str] = []

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str, min_score: float = 0.0) -> list[CaseHit]:
        self.excludes.append(exclude_case_id)
        # A careless store that ignores the exclusion: the wrapper must still drop the case's own record.
        return [CaseHit(id="own", score=0.99, case_id=self.own_id, summary="OWN CASE RECORD"),
                CaseHit(id="x", score=0.7, case_id="case-b", summary="young man, right-sided belly pain",
                        final_diagnosis="Gastroenteritis", correct_diagnosis="Mesenteric adenitis", correct=False,
                        lesson="Check for migration of pain.")]


def test_experience_reflections_enter_the_prompt_never_the_own_case(appendicitis):
    router = Router(ScriptedResponder([ASK, DX]))
    exp = _Experience(appendicitis.scenario.id)
    with FakeOpenAIServer(router) as server:
        s = _settings(server, doctor_strategy="experience")
        doctor = make_doctor(s, case=appendicitis, experience=exp)
        r = asyncio.run(run_case(appendicitis, s, doctor=doctor))
    assert r.error is None
    system = _system(router.seen["doctor"][0])
    assert "Check for migration of pain." in system and "OWN CASE RECORD" not in system
    assert exp.excludes == [appendicitis.scenario.id]
    hits = [m for m in r.transcript.messages if m.role == "doctor"][0].metadata["experience"]["hits"]
    assert [h["case_id"] for h in hits] == ["case-b"]


def test_combined_strategy_experience_retrieval_cot(appendicitis):
    think = "<reasoning>thinking</reasoning>"
    doctor = ScriptedResponder([_call("search_similar_cases", {"query_text": "RLQ pain"}, "s1", content=think),
                                _call("diagnose", {"diagnosis": "Acute appendicitis"}, "d1", content=think)])
    router = Router(doctor)
    with FakeOpenAIServer(router) as server:
        s = _settings(server, doctor_strategy="cot+retrieval+experience")
        doctor_p = make_doctor(s, case=appendicitis, experience=_Experience("zzz"))
        r = asyncio.run(run_case(appendicitis, s, doctor=doctor_p, retrieval=_Memory()))
    assert r.error is None and r.correct and r.strategy == "cot+retrieval+experience"
    system = _system(router.seen["doctor"][0])
    assert "<reasoning>" in system and "first action must be search_similar_cases" in system
    assert "Reflections from your earlier consultations" in system
    first = [m for m in r.transcript.messages if m.role == "doctor"][0]
    assert first.reasoning == "thinking" and not first.metadata["retrieval"]["forced"]


def test_verifier_regenerates_and_counts_corrections(appendicitis):
    from agentsim.agents.verifier import verifier_stats

    patient = ScriptedResponder([FakeReply(content="I have had a fever of 39 for a week and it's appendicitis."),
                                 FakeReply(content="It hurts on the lower right side.")])
    verifier = ScriptedResponder([FakeReply(content='{"ok": false, "problems": ["invents a week of fever"]}'),
                                  FakeReply(content='{"ok": true}')])
    router = Router(ScriptedResponder([ASK, DX]), patient=patient, verifier=verifier)
    with FakeOpenAIServer(router) as server:
        s = _settings(server, strategy_options={"patient_verifier": 2})
        r = asyncio.run(run_case(appendicitis, s))
    assert r.error is None
    answer = [m for m in r.transcript.messages if m.role == "patient" and m.metadata.get("tool")][0]
    assert answer.content == "It hurts on the lower right side."
    v = answer.metadata["verifier"]
    assert v["regenerations"] == 1 and v["corrected"] and not v["unresolved"]
    stats = verifier_stats(r)
    assert stats.corrected == 1 and stats.checks == 2 and stats.calls == 2
    # Patient usage = 2 patient calls + 2 verifier calls.
    assert r.usage["patient"].calls == 4
    # The regeneration note went to the patient model, with the leaked name redacted, and left no trace in
    # the history of later requests.
    regen = router.seen["patient"][1]["messages"][-1]["content"]
    assert "Private note" in regen and "invents a week of fever" in regen and "appendicitis" not in regen.lower()
    # The verifier's own instructions carry the patient's facts, never the answer key.
    assert all("appendicitis" not in _system(b).lower() for b in router.seen["verifier"])


def test_verifier_gives_up_after_n_and_reports_unresolved(appendicitis):
    bad = FakeReply(content='{"ok": false, "problems": ["made up"]}')
    router = Router(ScriptedResponder([ASK, DX]), patient=ScriptedResponder([], FakeReply(content="Something odd.")),
                    verifier=ScriptedResponder([], bad))
    with FakeOpenAIServer(router) as server:
        r = asyncio.run(run_case(appendicitis, _settings(server, strategy_options={"patient_verifier": 1})))
    v = [m for m in r.transcript.messages if m.role == "patient" and m.metadata.get("tool")][0].metadata["verifier"]
    assert v["regenerations"] == 1 and v["unresolved"] and not v["corrected"] and v["checks"] == 2


def test_bias_personas_reach_the_models_and_metadata(appendicitis):
    router = Router(ScriptedResponder([ASK, DX]))
    with FakeOpenAIServer(router) as server:
        s = _settings(server, doctor_bias="confirmation", patient_bias="self_diagnosis")
        r = asyncio.run(run_case(appendicitis, s))
    assert r.metadata["doctor_bias"] == "confirmation" and r.metadata["patient_bias"] == "self_diagnosis"
    assert "once a first diagnosis occurs to you" in _system(router.seen["doctor"][0])
    patient_system = _system(router.seen["patient"][0])
    assert "convinced you have" in patient_system
    assert any(d in patient_system for d in appendicitis.scenario.differentials)
    assert "appendicitis" not in patient_system.lower()


def test_make_patient_verifier_requires_llm():
    from agentsim.errors import ConfigError

    with pytest.raises(ConfigError, match="patient_verifier"):
        make_patient(Settings(strategy_options={"patient_verifier": 1}))


def test_multi_doctor_strategies_share_prompt_additions(appendicitis):
    lead = ScriptedResponder([ASK, _call("diagnose", {"diagnosis": "Acute appendicitis", "confidence": 0.9}, "d")])
    router = Router(lead, voter=_voter([("Acute appendicitis", 0.8)]))
    with FakeOpenAIServer(router) as server:
        s = _settings(server, doctor_strategy="ensemble+cot+experience", doctor_bias="frequency",
                      strategy_options={"ensemble_size": 2})
        doctor = make_doctor(s, case=appendicitis, experience=_Experience("zzz"))
        r = asyncio.run(run_case(appendicitis, s, doctor=doctor))
    assert r.error is None and r.correct
    for body in (router.seen["doctor"][0], router.seen["voter"][0]):
        system = _system(body)
        assert "Check for migration of pain." in system  # experience
        assert "<reasoning>" in system  # chain of thought
        assert "diagnoses you see most often" in system  # the bias persona
    panel_router = Router(ScriptedResponder([DX]))
    with FakeOpenAIServer(panel_router) as server:
        s = _settings(server, doctor_strategy="panel+experience", strategy_options={"panel_roles": ["challenger"]})
        r = asyncio.run(run_case(appendicitis, s, doctor=make_doctor(s, case=appendicitis,
                                                                     experience=_Experience("zzz"))))
    assert r.correct and "Check for migration of pain." in _system(panel_router.seen["member"][0])
    assert "Check for migration of pain." in _system(panel_router.seen["doctor"][0])
