"""Strategy parsing, voting, reasoning privacy, biases and the learning protocol with test doubles."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import numpy as np
import pytest

from agentsim.agents.scripted import ScriptedPatient
from agentsim.backends import Settings
from agentsim.biases import (
    BIASES,
    BiasedDoctor,
    bias_breakdown,
    get_bias,
    self_diagnosis_belief,
)
from agentsim.errors import ConfigError
from agentsim.leakage import answer_terms, contains_answer
from agentsim.participants import Message, Reply, ToolCall
from agentsim.scenario import LoadedScenario, load_scenarios
from agentsim.strategies import parse_strategy
from agentsim.strategies.cot import privatize, split_reasoning
from agentsim.strategies.ensemble import Opinion, vote
from agentsim.strategies.learning import InMemoryExperience, run_learning_curve, training_order
from agentsim.tools import CaseHit

# --- parsing ---------------------------------------------------------------------------------


def test_strategy_names_and_canonical_order():
    assert parse_strategy("cot+retrieval").name == "cot+retrieval"
    assert parse_strategy("experience + cot + ensemble").name == "ensemble+cot+experience"
    assert parse_strategy(None).name == "plain"
    spec = parse_strategy("retrieval", {"retrieval_mode": "encourage"})
    assert spec.needs_memory_tool and spec.options.retrieval_mode == "encourage"


@pytest.mark.parametrize("text,msg", [("panel+ensemble", "cannot be combined"), ("plain+cot", "cannot be combined"),
                                      ("cot+cot", "named twice"), ("telepathy", "unknown strategy")])
def test_impossible_combinations_are_clear_errors(text, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_strategy(text)


def test_bad_options_name_the_key():
    with pytest.raises(ConfigError, match="ensemble_size"):
        parse_strategy("ensemble", {"ensemble_size": 1})
    with pytest.raises(ConfigError, match="panel_roles"):
        parse_strategy("panel", {"panel_roles": ["hypothesis", "nurse"]})
    with pytest.raises(ConfigError, match="unknown strategy"):
        Settings(doctor_strategy="magic")


# --- voting ----------------------------------------------------------------------------------


def test_majority_and_confidence_votes():
    ops = [Opinion(member=0, diagnosis="Acute appendicitis", confidence=0.9, differential=["Crohn disease"]),
           Opinion(member=1, diagnosis="Gastroenteritis", confidence=0.3),
           Opinion(member=2, diagnosis="gastroenteritis.", confidence=0.3)]
    maj = vote(ops, "majority")
    assert maj.diagnosis == "Gastroenteritis" and maj.share == pytest.approx(2 / 3)
    assert maj.differential[:2] == ["Acute appendicitis", "Crohn disease"]
    conf = vote(ops, "confidence")
    assert conf.diagnosis == "Acute appendicitis" and conf.share == pytest.approx(0.9 / 1.5)
    # A tie goes to the side with more confidence, then to the lead.
    tie = vote([Opinion(member=0, diagnosis="A", confidence=0.2), Opinion(member=1, diagnosis="B", confidence=0.8)])
    assert tie.diagnosis == "B"
    assert vote([Opinion(member=0, diagnosis="A"), Opinion(member=1, diagnosis="B")]).diagnosis == "A"
    assert vote([]) is None


# --- chain of thought ------------------------------------------------------------------------


def test_reasoning_never_reaches_patient_facing_text():
    r, rest = split_reasoning("<think>hmm</think> Does it hurt?")
    assert r == "hmm" and rest == "Does it hurt?"
    call = ToolCall(name="ask_patient", arguments={"question": "<reasoning>likely MI</reasoning>Any chest pain?"})
    out = privatize(Reply(content="Some commentary", tool_calls=[call]))
    assert out.content == "" and out.tool_calls[0].arguments["question"] == "Any chest pain?"
    assert "likely MI" in out.reasoning and "Some commentary" in out.reasoning
    # Reasoning-only text with no action: nothing for the patient.
    assert privatize(Reply(content="<reasoning>still unsure</reasoning>")).content == ""
    # A plain question without tags is still a question.
    assert privatize(Reply(content="Any fever?")).content == "Any fever?"


# --- biases ----------------------------------------------------------------------------------


def test_bias_catalogue_is_complete():
    for target in ("doctor", "patient"):
        for name in ("recency", "frequency", "false_consensus"):
            assert (target, name) in BIASES
        for axis in ("race", "gender", "religion", "socioeconomic", "education", "sexual_orientation", "culture"):
            assert BIASES[(target, f"implicit_{axis}")].kind == "implicit"
    assert ("doctor", "confirmation") in BIASES and ("patient", "self_diagnosis") in BIASES
    assert get_bias("doctor", "") is None and get_bias("doctor", "none") is None
    with pytest.raises(ConfigError, match="unknown patient bias"):
        get_bias("patient", "confirmation")


def test_self_diagnosis_is_never_the_answer_on_any_shipped_case(scenarios_dir):
    cases = load_scenarios(scenarios_dir / "cases")
    assert cases
    for ls in cases:
        terms = answer_terms(ls.scenario.diagnosis)
        for seed in range(4):
            belief = self_diagnosis_belief(ls, seed)
            assert not contains_answer(belief, terms), (ls.scenario.id, belief)
            assert not any(contains_answer(t, [belief]) for t in terms), (ls.scenario.id, belief)


class _DiffDoctor:
    """Reports a scripted differential each turn, then diagnoses its last top hypothesis."""

    role = "doctor"
    label = "diff"

    def __init__(self, diffs: list[list[tuple[str, float]]]):
        self.diffs = diffs

    async def start(self, view: Any, seed: int) -> None:
        self.i = 0

    async def respond(self, message: Message) -> Reply:
        diff = self.diffs[min(self.i, len(self.diffs) - 1)]
        self.i += 1
        meta = {"differential": [{"diagnosis": d, "probability": p} for d, p in diff]}
        if self.i < len(self.diffs):
            return Reply(tool_calls=[ToolCall(name="ask_patient", arguments={"question": f"q{self.i}"})],
                         metadata=meta)
        return Reply(tool_calls=[ToolCall(name="diagnose", arguments={
            "diagnosis": diff[0][0], "differential": [d for d, _ in diff[1:]]})], metadata=meta)


def _drive(doctor: Any, turns: int) -> Reply:
    async def go() -> Reply:
        await doctor.start(None, 0)
        reply = Reply()
        for _ in range(turns):
            reply = await doctor.respond(Message(role="patient", content="ok"))
        return reply
    return asyncio.run(go())


DIFFS = [[("Migraine", 0.5), ("Tension headache", 0.3), ("Subarachnoid haemorrhage", 0.2)],
         [("Subarachnoid haemorrhage", 0.45), ("Migraine", 0.35), ("Tension headache", 0.2)],
         [("Subarachnoid haemorrhage", 0.4), ("Tension headache", 0.35), ("Migraine", 0.25)]]


def test_offline_confirmation_bias_anchors_on_first_hypothesis():
    reply = _drive(BiasedDoctor(_DiffDoctor(DIFFS), get_bias("doctor", "confirmation")), 3)
    assert reply.tool_calls[0].arguments["diagnosis"] == "Migraine"
    assert "Subarachnoid haemorrhage" in reply.tool_calls[0].arguments["differential"]
    assert reply.metadata["bias_applied"]["from"] == "Subarachnoid haemorrhage"


def test_offline_recency_bias_follows_the_last_update():
    reply = _drive(BiasedDoctor(_DiffDoctor(DIFFS), get_bias("doctor", "recency")), 3)
    assert reply.tool_calls[0].arguments["diagnosis"] == "Tension headache"  # rose most on the last step


def test_bias_breakdown_counts_by_setting(appendicitis):
    from agentsim.results import EpisodeResult, Transcript

    def res(correct: bool, db: str) -> EpisodeResult:
        return EpisodeResult(case_id="c", correct=correct, transcript=Transcript(case_id="c"),
                             metadata={"doctor_bias": db, "patient_bias": ""})

    rows = bias_breakdown([res(True, ""), res(False, "recency"), res(True, "recency"), res(True, "")])
    by = {(r.doctor_bias, r.patient_bias): r for r in rows}
    assert rows[0].doctor_bias == "none" and by[("none", "none")].accuracy == 1.0
    assert by[("recency", "none")].n == 2 and by[("recency", "none")].accuracy == 0.5
    assert by[("recency", "none")].delta == pytest.approx(-0.5)


# --- learning protocol -----------------------------------------------------------------------


class _HashEmbedder:
    """A tiny deterministic bag-of-words embedder (keeps these tests free of model loading)."""

    name, dim = "hash", 256

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


class _MemoDoctor:
    """Diagnoses whatever the most similar past case turned out to be ('unknown' with no memory)."""

    role = "doctor"
    label = "memo"

    def __init__(self) -> None:
        self.hits: list[CaseHit] = []

    async def start(self, view: Any, seed: int) -> None:
        self.hits = []

    def add_past_cases(self, hits: list[CaseHit], weight: float = 1.0) -> None:
        self.hits = hits

    async def respond(self, message: Message) -> Reply:
        dx = self.hits[0].correct_diagnosis if self.hits else "unknown"
        return Reply(tool_calls=[ToolCall(name="diagnose", arguments={"diagnosis": dx})])


def _memo_factory(ls: LoadedScenario, experience: Any) -> Any:
    from agentsim.strategies.experience import ExperienceDoctor

    return ExperienceDoctor(_MemoDoctor(), experience, k=3, min_score=-1.0, case_id=ls.scenario.id)


def _copy(ls: LoadedScenario, new_id: str) -> LoadedScenario:
    return ls.model_copy(update={"scenario": ls.scenario.model_copy(update={"id": new_id})})


def _curve(train, test, checkpoints, store=None):
    store = store or InMemoryExperience(_HashEmbedder())
    return asyncio.run(run_learning_curve(train, test, Settings(doctor_strategy="experience"), store, checkpoints,
                                          doctor_factory=_memo_factory,
                                          patient_factory=lambda ls: ScriptedPatient())), store


def test_learning_curve_improves_when_similar_cases_were_seen(appendicitis):
    twin = _copy(appendicitis, "twin-of-appendicitis")
    (curve, train_res, test_res), store = _curve([twin], [appendicitis], [0, 1, 3])
    assert [p.train_episodes for p in curve.points] == [0, 1, 3]
    assert [p.accuracy for p in curve.points] == [0.0, 1.0, 1.0]
    assert [p.memory_records for p in curve.points] == [0, 1, 3]  # training cycles the split with new seeds
    assert len(train_res) == 3 and len(test_res) == 3 and store.count() == 3
    assert all(r.metadata["learning"]["phase"] == "test" for r in test_res)


def test_learn_protocol_never_retrieves_the_test_cases_own_experience(appendicitis, scenarios_dir):
    other = [ls for ls in load_scenarios(scenarios_dir / "cases") if ls.scenario.id != appendicitis.scenario.id][0]
    # The evaluated case is also in the training split, so its own record IS in memory.
    (curve, _, test_res), store = _curve([appendicitis, other], [appendicitis], [0, 2])
    assert any(rec.case_id == appendicitis.scenario.id for rec in store.records)
    last = test_res[-1]
    hits = [m for m in last.transcript.messages if m.role == "doctor"][0].metadata["experience"]["hits"]
    assert hits and all(h["case_id"] != appendicitis.scenario.id for h in hits)
    # With its own record hidden, the memo doctor can only repeat the other case's diagnosis.
    assert last.diagnosis == other.scenario.diagnosis.name and not last.correct
    assert curve.own_case_hits_dropped == 0 and curve.test_queries == 2


class _LeakyStore(InMemoryExperience):
    """Ignores exclude_case_id: the protocol's guard must still drop the case's own records."""

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str, min_score: float = 0.0) -> list[CaseHit]:
        return super().query(findings, k, exclude_case_id="", min_score=min_score)


def test_guard_drops_own_case_even_from_a_leaky_store(appendicitis):
    (curve, _, test_res), _ = _curve([appendicitis], [appendicitis], [0, 1], store=_LeakyStore(_HashEmbedder()))
    assert curve.own_case_hits_dropped >= 1
    assert not test_res[-1].correct


def test_evaluation_never_writes(appendicitis):
    class _Recorder(InMemoryExperience):
        async def record(self, result, view):  # noqa: ANN001 - test double
            out = await super().record(result, view)
            if out is not None:
                assert result.metadata.get("learning", {}).get("phase") != "test"
            return out

    (curve, _, _), store = _curve([_copy(appendicitis, "b")], [appendicitis], [0, 2], store=_Recorder(_HashEmbedder()))
    assert store.count() == 2 and store.writes_enabled


def test_training_order_is_fixed_by_seed(scenarios_dir):
    cases = load_scenarios(scenarios_dir / "cases")[:6]
    a = [ls.scenario.id for ls in training_order(cases, 0)]
    assert a == [ls.scenario.id for ls in training_order(list(reversed(cases)), 0)]
    assert a != [ls.scenario.id for ls in training_order(cases, 1)]


@pytest.mark.slow
def test_learn_protocol_on_the_chroma_experience_memory(appendicitis, tmp_path):
    from agentsim.strategies.learning import LearnConfig, open_store

    store = open_store(LearnConfig(store="chroma", out=tmp_path))
    twin = _copy(appendicitis, "twin-of-appendicitis")
    (curve, _, test_res), _ = _curve([twin, appendicitis], [appendicitis], [0, 2], store=store)
    assert store.count() == 2
    # Its own record is in the store, but only the twin's may be retrieved while it is evaluated.
    hits = [m for m in test_res[-1].transcript.messages if m.role == "doctor"][0].metadata["experience"]["hits"]
    assert [h["case_id"] for h in hits] == ["twin-of-appendicitis"]
    assert [p.accuracy for p in curve.points] == [0.0, 1.0] and curve.own_case_hits_dropped == 0
