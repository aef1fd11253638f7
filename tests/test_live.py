"""Role-play plumbing: a person in the doctor's or patient's seat through LiveEpisode."""

from __future__ import annotations

import pytest

from agentsim.agents.human import parse_doctor_command
from agentsim.agents.scripted import ScriptedDoctor, ScriptedPatient
from agentsim.live import LiveEpisode


def test_parse_doctor_command():
    assert parse_doctor_command("Where does it hurt?").name == "ask_patient"
    t = parse_doctor_command("/test CBC")
    assert t.name == "order_test" and t.arguments == {"test": "CBC"}
    d = parse_doctor_command("/dx Appendicitis; Crohn disease, gastroenteritis")
    assert d.arguments == {"diagnosis": "Appendicitis", "differential": ["Crohn disease", "gastroenteritis"]}
    s = parse_doctor_command("/search RLQ pain image:img1")
    assert s.arguments == {"query_text": "RLQ pain", "image_id": "img1"}
    with pytest.raises(ValueError, match="unknown command"):
        parse_doctor_command("/frobnicate")
    with pytest.raises(ValueError, match="needs an argument"):
        parse_doctor_command("/dx")


def test_human_doctor_session(appendicitis, monkeypatch):
    import agentsim.api as api

    monkeypatch.setattr(api, "make_patient", lambda s, **kw: ScriptedPatient(["It started around my belly button."]))
    live = LiveEpisode(appendicitis, human="doctor").start()
    kinds = [ev.kind for ev in live.next_events(timeout=5)]
    assert kinds[-1] == "your_turn" and "stomach" in live.waiting_for_human.content
    live.act_as_doctor(parse_doctor_command("Where did the pain start?"))
    evs = list(live.next_events(timeout=5))
    assert any(e.message and "belly button" in e.message.content for e in evs)
    live.act_as_doctor(parse_doctor_command("/dx acute appendicitis"))
    done = [e for e in live.next_events(timeout=5) if e.kind == "done"]
    assert done and done[0].result.correct and done[0].result.doctor == "human"


def test_human_patient_session(appendicitis, monkeypatch):
    import agentsim.api as api

    monkeypatch.setattr(api, "make_doctor", lambda s, **kw: ScriptedDoctor([
        ("ask_patient", {"question": "Do you have a fever?"}),
        ("diagnose", {"diagnosis": "Appendicitis"}),
    ]))
    live = LiveEpisode(appendicitis, human="patient").start()
    evs = list(live.next_events(timeout=5))
    assert evs[-1].kind == "your_turn" and evs[-1].message.content == "Do you have a fever?"
    live.answer_as_patient("Yes, a little.")
    done = [e for e in live.next_events(timeout=5) if e.kind == "done"]
    res = done[0].result
    assert res.correct and any(m.content == "Yes, a little." for m in res.transcript.messages)


def test_stop_unblocks_waiting_human(appendicitis, monkeypatch):
    import agentsim.api as api

    monkeypatch.setattr(api, "make_patient", lambda s, **kw: ScriptedPatient())
    live = LiveEpisode(appendicitis, human="doctor").start()
    list(live.next_events(timeout=5))
    live.stop()
    res = live.wait(10)
    assert res is not None and res.error is not None and res.error.kind == "stopped"
