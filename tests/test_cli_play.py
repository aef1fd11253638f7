"""`agentsim play` in the terminal, with typed input injected."""

from __future__ import annotations

import argparse
import json

from agentsim.cli.play import handle


def _args(seat: str, out) -> argparse.Namespace:
    return argparse.Namespace(seat=seat, scenario="gs-appendicitis-01", backend="offline", model=None, base_url=None,
                              patient_model=None, judge_model=None, max_turns=12, seed=0, out=str(out))


def test_play_as_doctor(tmp_path, capsys):
    lines = iter(["/frobnicate", "Where did the pain start?", "/test CBC", "/dx Acute appendicitis; gastroenteritis"])
    assert handle(_args("doctor", tmp_path), input_fn=lambda prompt: next(lines)) == 0
    out = capsys.readouterr().out
    assert "unknown command" in out and "PATIENT:" in out and "WBC 14.8" in out and "CORRECT" in out
    rec = json.loads((tmp_path / "episodes.jsonl").read_text().splitlines()[-1])
    assert rec["doctor"] == "human" and rec["correct"] is True


def test_play_as_patient(tmp_path, capsys):
    assert handle(_args("patient", tmp_path), input_fn=lambda prompt: "I'm not sure.") == 0
    out = capsys.readouterr().out
    assert "You are the patient" in out and "Diagnosis:" in out
    assert "appendicitis" not in out.split("DOCTOR:")[0].lower()  # the case card never names it
