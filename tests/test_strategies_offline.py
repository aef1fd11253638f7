"""Multi-doctor strategies without model calls: the offline panel and replaying ensemble voters
(with adopting test doubles), and every strategy end to end on the offline engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentsim.agents.measurement import MeasurementAgent
from agentsim.agents.scripted import ScriptedPatient
from agentsim.episode import EpisodeConfig, run_episode
from agentsim.participants import Message, Reply, ToolCall
from agentsim.scoring import OfflineScorer
from agentsim.strategies.ensemble import EnsembleDoctor, ReplayVoter
from agentsim.strategies.panel import OfflinePanelDoctor


class AdoptingDoctor:
    """Plays a plan of actions with a scripted differential; records what it was told to adopt."""

    role = "doctor"
    label = "adopting"

    def __init__(self, plan: list[tuple[str, dict[str, Any]]], top_p: float = 0.9, final_dx: str = "Appendicitis"):
        self.plan = plan
        self.top_p = top_p
        self.final_dx = final_dx
        self.adopted: list[ToolCall] = []
        self.seen: list[Message] = []

    async def start(self, view: Any, seed: int) -> None:
        self.i = 0
        self.seed = seed
        self.adopted = []
        self.seen = []

    def adopt_action(self, call: ToolCall) -> None:
        self.adopted.append(call)

    async def respond(self, message: Message) -> Reply:
        self.seen.append(message)
        meta = {"differential": [{"diagnosis": self.final_dx, "probability": self.top_p},
                                 {"diagnosis": "Gastroenteritis", "probability": 1 - self.top_p}]}
        if message.metadata.get("final") or self.i >= len(self.plan):
            return Reply(tool_calls=[ToolCall(name="diagnose", arguments={"diagnosis": self.final_dx,
                                                                          "confidence": self.top_p})], metadata=meta)
        name, args = self.plan[self.i]
        self.i += 1
        return Reply(tool_calls=[ToolCall(id=f"c{self.i}", name=name, arguments=args)], metadata=meta)


def _episode(loaded, doctor, max_turns: int = 6):
    return asyncio.run(run_episode(loaded, doctor, ScriptedPatient(["Yes."]), MeasurementAgent(),
                                   EpisodeConfig(max_turns=max_turns), scorer=OfflineScorer()))


def test_offline_panel_challenger_blocks_a_premature_diagnosis(appendicitis):
    members: dict[str, AdoptingDoctor] = {}

    def factory(role: str) -> AdoptingDoctor:
        # The hypothesis doctor wants to stop at once; the test-chooser would order a CBC first.
        plan = [] if role == "hypothesis" else [("order_test", {"test": "CBC"})]
        members[role] = AdoptingDoctor(plan, top_p=0.4)
        return members[role]

    panel = OfflinePanelDoctor(factory, roles=["hypothesis", "test_chooser", "challenger", "stewardship",
                                               "checklist"])
    r = _episode(appendicitis, panel)
    assert r.error is None and r.correct
    assert r.tests_ordered == ["CBC"]  # the challenger (+ test-chooser + stewardship) outvoted the early stop
    first = [m for m in r.transcript.messages if m.role == "doctor"][0]
    assert first.metadata["panel"]["members"] == 4 and "Round 1" in first.reasoning
    # The hypothesis doctor proposed diagnose, lost, and adopted the CBC.
    assert members["hypothesis"].adopted[0].name == "order_test"
    assert all(len(m.seen) == 2 for m in members.values())  # every member saw every message


def test_offline_panel_lets_a_confident_hypothesis_diagnose(appendicitis):
    panel = OfflinePanelDoctor(lambda role: AdoptingDoctor([] if role == "hypothesis" else
                                                           [("order_test", {"test": "CBC"})], top_p=0.95),
                               roles=["hypothesis", "challenger", "checklist"])
    r = _episode(appendicitis, panel)
    assert r.correct and r.tests_ordered == [] and r.turns == 1


def test_offline_panel_checklist_rejects_repeated_tests(appendicitis):
    plan = [("order_test", {"test": "CBC"}), ("order_test", {"test": "complete blood count"}),
            ("ask_patient", {"question": "Any fever?"})]
    panel = OfflinePanelDoctor(lambda role: AdoptingDoctor(plan if role == "hypothesis" else
                                                           plan[:1] + plan[2:], top_p=0.95),
                               roles=["hypothesis", "test_chooser", "checklist"], rounds=2)
    r = _episode(appendicitis, panel)
    assert r.tests_ordered == ["CBC"] and r.questions >= 1
    second = [m for m in r.transcript.messages if m.role == "doctor"][1]
    assert "test already done" in second.reasoning and "Round 2" in second.reasoning


def test_replay_voters_follow_the_lead_and_vote(appendicitis):
    voters_docs: list[AdoptingDoctor] = []

    def voter_factory(dx: str, p: float = 0.6):
        def make() -> AdoptingDoctor:
            d = AdoptingDoctor([("ask_patient", {"question": "Where is the pain?"})], top_p=p, final_dx=dx)
            voters_docs.append(d)
            return d
        return make

    lead = AdoptingDoctor([("order_test", {"test": "CBC"})], top_p=0.9, final_dx="Acute appendicitis")
    ens = EnsembleDoctor(lead, [ReplayVoter(1, voter_factory("Gastroenteritis")),
                                ReplayVoter(2, voter_factory("Gastroenteritis"))], method="majority")
    r = _episode(appendicitis, ens)
    assert r.diagnosis == "Gastroenteritis" and not r.correct
    assert r.tests_ordered == ["CBC"]  # the lead drives the consultation
    # Voters saw the opening and the CBC result, adopted the lead's CBC instead of their question,
    # and were asked for a final diagnosis with the final flag.
    for d in voters_docs:
        assert [m.metadata.get("final", False) for m in d.seen] == [False, True]
        assert d.adopted and d.adopted[0].name == "order_test"
    assert {d.seed for d in voters_docs} == {1, 2}
    final = [m for m in r.transcript.messages if m.role == "doctor"][-1]
    assert final.metadata["ensemble"]["diverged_turns"] == {"1": 1, "2": 1}
    # Confidence-weighted: 0.9 for the lead outweighs 0.3 + 0.3 for the voters.
    conf = EnsembleDoctor(AdoptingDoctor([], top_p=0.9, final_dx="Acute appendicitis"),
                          [ReplayVoter(1, voter_factory("Gastroenteritis", 0.3)),
                           ReplayVoter(2, voter_factory("Gastroenteritis", 0.3))], method="confidence")
    assert _episode(appendicitis, conf).diagnosis == "Acute appendicitis"


# --- the real offline engine ---------------------------------------------------------------------

STRATEGIES = ["plain", "cot", "retrieval", "experience", "retrieval+experience+cot", "ensemble", "panel"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_runs_end_to_end_offline(appendicitis, strategy):
    pytest.importorskip("agentsim.offline.doctor")
    from agentsim.api import run_case
    from agentsim.backends import Settings, make_doctor
    from agentsim.strategies.learning import ExperienceRetrieval, InMemoryExperience

    store = InMemoryExperience()
    s = Settings(doctor_strategy=strategy, max_turns=12, strategy_options={"ensemble_size": 3})
    doctor = make_doctor(s, case=appendicitis, experience=store)
    r = asyncio.run(run_case(appendicitis, s, doctor=doctor, retrieval=ExperienceRetrieval(store)))
    assert r.error is None, r.error
    assert r.diagnosis and r.strategy == strategy
    docs = [m for m in r.transcript.messages if m.role == "doctor"]
    if "retrieval" in strategy:
        assert docs[0].tool_calls[0].name == "search_similar_cases"
    if strategy == "ensemble":
        assert docs[-1].metadata["ensemble"]["size"] == 3
    if strategy == "panel":
        assert docs[0].metadata["panel"]["members"] == 4
    if "experience" in strategy:
        assert docs[0].metadata["experience"]["mode"] == "evidence"
    # No LLM calls anywhere on the offline engine.
    assert all(u.calls == 0 for u in r.usage.values())


@pytest.mark.parametrize("doctor_bias,patient_bias", [("confirmation", ""), ("recency", ""), ("frequency", ""),
                                                      ("", "self_diagnosis"), ("implicit_race", "implicit_gender")])
def test_biases_run_offline_and_are_recorded(appendicitis, doctor_bias, patient_bias):
    pytest.importorskip("agentsim.offline.doctor")
    from agentsim.api import run_case
    from agentsim.backends import Settings

    r = asyncio.run(run_case(appendicitis, Settings(doctor_bias=doctor_bias, patient_bias=patient_bias)))
    assert r.error is None and r.diagnosis
    assert r.metadata["doctor_bias"] == doctor_bias and r.metadata["patient_bias"] == patient_bias
    if patient_bias == "self_diagnosis":
        first = [m for m in r.transcript.messages if m.role == "patient" and m.metadata.get("tool")][0]
        assert "I read about it online" in first.content and "appendicitis" not in first.content.lower()


def test_learn_cli_writes_curve_and_plot(tmp_path, appendicitis):
    pytest.importorskip("agentsim.offline.doctor")
    import json

    from agentsim.cli.main import main

    case = str(appendicitis.path)
    out = tmp_path / "learn"
    code = main(["learn", "--train", case, "--test", case, "--checkpoints", "0,2", "--store", "memory",
                 "--out", str(out), "--quiet", "--max-turns", "8"])
    assert code == 0
    data = json.loads((out / "curve.json").read_text())
    points = data["curve"]["points"]
    assert [p["train_episodes"] for p in points] == [0, 2] and points[1]["memory_records"] == 2
    # The only case in memory is the evaluated case itself: it must never be shown to the doctor.
    assert data["curve"]["own_case_hits_dropped"] == 0
    test_lines = [json.loads(x) for x in (out / "test.jsonl").read_text().splitlines()]
    for rec in test_lines:
        first_doctor = [m for m in rec["transcript"]["messages"] if m["role"] == "doctor"][0]
        assert first_doctor["metadata"]["experience"]["hits"] == []
    assert (out / "learning_curve.png").stat().st_size > 1000
    assert len((out / "train.jsonl").read_text().splitlines()) == 2


def test_learn_cli_rejects_bad_strategy(tmp_path, capsys):
    from agentsim.cli.main import main

    assert main(["learn", "--doctor-strategy", "panel+ensemble", "--out", str(tmp_path)]) == 2
    assert "cannot be combined" in capsys.readouterr().err
