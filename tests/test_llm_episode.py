"""The LLM path end to end through ChatOpenAI against a local OpenAI-compatible test server."""

from __future__ import annotations

import asyncio

import pytest

from agentsim.agents.doctor import LLMDoctor
from agentsim.agents.measurement import MeasurementAgent
from agentsim.agents.patient import LLMPatient
from agentsim.episode import EpisodeConfig, run_episode
from agentsim.llm import LLMConfig
from agentsim.scoring import OfflineScorer
from agentsim.testing.fake_openai import FakeOpenAIServer, FakeReply, ScriptedResponder, role_router, tool_call

pytestmark = pytest.mark.server


def _cfg(server: FakeOpenAIServer) -> LLMConfig:
    return LLMConfig(model="fake-model", base_url=server.base_url, max_retries=0, timeout_s=10)


def _run(loaded, server, max_turns: int = 10):
    cfg = _cfg(server)
    return asyncio.run(run_episode(loaded, LLMDoctor(cfg), LLMPatient(cfg), MeasurementAgent(),
                                   EpisodeConfig(max_turns=max_turns), scorer=OfflineScorer()))


def test_full_episode_through_chatopenai(appendicitis):
    doctor = ScriptedResponder([
        FakeReply(content=None, tool_calls=[tool_call("ask_patient", {"question": "Where is the pain?"}, "c1")]),
        FakeReply(content=None, tool_calls=[tool_call("order_test", {"test": "CBC"}, "c2")]),
        FakeReply(content=None, tool_calls=[tool_call("diagnose", {"diagnosis": "Appendicitis",
                                                                   "differential": ["Mesenteric adenitis"]}, "c3")]),
    ])
    patient = ScriptedResponder([FakeReply(content="Lower right side of my belly.")])
    with FakeOpenAIServer(role_router(doctor, patient)) as server:
        result = _run(appendicitis, server)
        requests = list(server.requests)
    assert result.error is None
    assert result.diagnosis == "Appendicitis" and result.correct
    assert result.questions == 1 and result.tests_ordered == ["CBC"]
    roles = [m.role for m in result.transcript.messages]
    assert roles[:5] == ["patient", "doctor", "patient", "doctor", "measurement"]
    assert "Lower right side" in result.transcript.messages[2].content
    assert "WBC 14.8" in result.transcript.messages[4].content
    # The server saw valid tool-calling history: the CBC result came back as a tool message for call c2.
    last_doctor = [r for r in requests if r.get("tools")][-1]
    tool_msgs = [m for m in last_doctor["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["c1", "c2"]
    assert result.usage["doctor"].calls == 3 and result.usage["doctor"].prompt_tokens == 150
    # The patient model never saw the answer key.
    patient_req = [r for r in requests if not r.get("tools")][0]
    assert "appendicitis" not in str(patient_req["messages"]).lower()


@pytest.mark.parametrize("bad", [FakeReply(status=500), FakeReply(raw="this is not json {")])
def test_server_failure_is_recorded_not_raised(appendicitis, bad):
    doctor = ScriptedResponder([
        FakeReply(content=None, tool_calls=[tool_call("ask_patient", {"question": "Any fever?"}, "c1")]),
        bad,
    ])
    with FakeOpenAIServer(role_router(doctor, ScriptedResponder([FakeReply(content="A little.")]))) as server:
        result = _run(appendicitis, server)
    assert result.error is not None
    assert result.error.kind in {"infrastructure", "agent"}
    assert result.diagnosis is None and not result.correct
    # Work done before the failure is kept.
    assert any(m.content == "A little." for m in result.transcript.messages)


def test_patient_server_error_classified(appendicitis):
    doctor = ScriptedResponder([
        FakeReply(content=None, tool_calls=[tool_call("ask_patient", {"question": "Any fever?"}, "c1")]),
    ])
    with FakeOpenAIServer(role_router(doctor, ScriptedResponder([FakeReply(status=500)]))) as server:
        result = _run(appendicitis, server)
    assert result.error is not None and result.error.kind == "infrastructure"
    assert "patient" in result.error.message


def test_bad_tool_arguments_are_reported_to_the_doctor(appendicitis):
    doctor = ScriptedResponder([
        FakeReply(content=None, tool_calls=[tool_call("order_test", '{"test": ', "c1")]),
        FakeReply(content=None, tool_calls=[tool_call("order_test", {"tset": "CBC"}, "c2")]),
        FakeReply(content=None, tool_calls=[tool_call("diagnose", {"diagnosis": "Gastroenteritis"}, "c3")]),
    ])
    with FakeOpenAIServer(role_router(doctor, ScriptedResponder([]))) as server:
        result = _run(appendicitis, server)
    assert result.error is None
    errors = [m for m in result.transcript.messages if m.metadata.get("error")]
    assert len(errors) == 2 and "bad arguments" in errors[1].content
    assert result.diagnosis == "Gastroenteritis" and not result.correct


def test_turn_limit_forces_a_diagnosis(appendicitis):
    ask = FakeReply(content=None, tool_calls=[tool_call("ask_patient", {"question": "Anything else?"}, "c")])
    final = FakeReply(content=None, tool_calls=[tool_call("diagnose", {"diagnosis": "Appendicitis"}, "d")])
    doctor = ScriptedResponder([ask, ask, final])
    with FakeOpenAIServer(role_router(doctor, ScriptedResponder([FakeReply(content="No.")]))) as server:
        result = _run(appendicitis, server, max_turns=2)
        last = [r for r in server.requests if r.get("tools")][-1]
    assert result.correct and result.turns == 3
    assert "Turn limit reached" in str(last["messages"][-1]["content"])
