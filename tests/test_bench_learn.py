"""`agentsim bench --learn` runs the train-then-test protocol."""

from __future__ import annotations

import json

import pytest

from agentsim.cli.main import main


@pytest.mark.slow
def test_bench_learn_writes_a_curve(tmp_path, capsys):
    out = tmp_path / "learn"
    rc = main(["bench", "--learn", "--train", "dev", "--scenarios", "test", "--checkpoints", "0,3",
               "--max-test-cases", "3", "--store", "memory", "--out", str(out), "--no-progress"])
    assert rc == 0
    curve = json.loads((out / "curve.json").read_text())["curve"]
    assert "own-case hits dropped by the guard: 0" in capsys.readouterr().out
    assert (out / "learning_curve.png").stat().st_size > 0
    assert len(curve["test_cases"]) == 3 and not set(curve["test_cases"]) & set(curve["train_cases"])
    assert [p["train_episodes"] for p in curve["points"]] == [0, 3]
    assert curve["points"][1]["memory_records"] == 3
    html = tmp_path / "report.html"
    assert main(["report", str(out), "--out", str(html)]) == 0
    assert "Learning curve" in html.read_text() and "data:image/png;base64" in html.read_text()


def test_report_breaks_accuracy_down_by_bias(tmp_path):
    from agentsim.api import save_result
    from agentsim.results import EpisodeResult, Transcript

    for i, (bias, ok) in enumerate([("", True), ("", True), ("confirmation", False), ("confirmation", True)]):
        save_result(EpisodeResult(case_id=f"c{i}", correct=ok, diagnosis="x", metadata={"doctor_bias": bias},
                                  transcript=Transcript(case_id=f"c{i}")), tmp_path)
    html = tmp_path / "r.html"
    assert main(["report", str(tmp_path), "--out", str(html)]) == 0
    text = html.read_text()
    assert "Accuracy by bias" in text and "confirmation" in text and "-50.0" in text
