"""The agentsim console script."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agentsim.cli.main import main


def test_help_does_not_import_heavy_libraries():
    code = ("import sys\nfrom agentsim.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "for sub in (['run', '--help'], ['scenarios', '--help']):\n"
            "    try:\n        main(sub)\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('torch', 'gradio', 'chromadb', 'langchain_core', 'sentence_transformers')"
            " if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    assert "run" in out and "scenarios" in out


def test_scenarios_list_and_validate(capsys):
    assert main(["scenarios", "list"]) == 0
    out = capsys.readouterr().out
    assert "gs-appendicitis-01" in out
    assert main(["scenarios", "validate"]) == 0
    assert "invalid" in capsys.readouterr().out


def test_validate_reports_bad_file_with_field(tmp_path, capsys, appendicitis):
    data = json.loads(appendicitis.path.read_text())
    data["exam"][0]["reslt"] = data["exam"][0].pop("result")
    (tmp_path / "bad.json").write_text(json.dumps(data))
    assert main(["scenarios", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "bad.json" in out and "exam[0]" in out


def test_validate_reports_leak_with_field_path(tmp_path, capsys, appendicitis):
    data = json.loads(appendicitis.path.read_text())
    data["tests"][3]["result"] += " Findings consistent with acute appendicitis."
    (tmp_path / "leaky.json").write_text(json.dumps(data))
    assert main(["scenarios", "validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "LEAK" in out and "tests[3].result" in out


def test_unknown_scenario_is_a_clean_error(capsys):
    assert main(["run", "--scenario", "does-not-exist", "--out", "/tmp/agentsim-none"]) == 2
    assert "does-not-exist" in capsys.readouterr().err


@pytest.mark.slow
def test_run_offline_writes_transcript(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "agentsim.cli.main", "run", "--scenario", "gs-appendicitis-01",
                           "--out", str(tmp_path), "--seed", "3"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "DOCTOR:" in proc.stdout and "Diagnosis:" in proc.stdout
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])
    assert rec["case_id"] == "gs-appendicitis-01" and isinstance(rec["correct"], bool)
    assert rec["diagnosis"] and len(rec["transcript"]["messages"]) >= 3
