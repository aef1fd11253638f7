"""``agentsim bench``, ``report`` and ``rescore`` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bench_support import episodes, make_cases, write_catalog

from agentsim.bench.config import build_config, load_config_file
from agentsim.cli.main import main
from agentsim.testing.fake_openai import FakeOpenAIServer, plausible_doctor, plausible_patient, role_router

REPO = Path(__file__).resolve().parent.parent


def test_bench_help_is_light():
    code = ("import sys\nfrom agentsim.cli.main import main\n"
            "for a in (['bench', '--help'], ['report', '--help'], ['rescore', '--help']):\n"
            "    try:\n        main(a)\n    except SystemExit:\n        pass\n"
            "print('HEAVY', [m for m in ('torch', 'langchain_core', 'numpy', 'sentence_transformers') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "--resume" in out and "--max-errors" in out


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "benchmarks" / "configs").iterdir()))
def test_example_run_configs_validate(name):
    cfg = build_config(load_config_file(REPO / "benchmarks" / "configs" / name))
    assert cfg.out and cfg.scenarios


@pytest.mark.server
def test_bench_report_compare_and_refusal(tmp_path, capsys):
    cases = make_cases(tmp_path, ["a", "b", "c"], specialties=["surgery", "emergency"])
    cat = write_catalog(tmp_path)
    with FakeOpenAIServer(role_router(plausible_doctor(), plausible_patient())) as server:
        common = ["bench", "--scenarios", str(cases), "--doctor", "fake", "--base-url", server.base_url,
                  "--prices", str(cat), "--no-progress", "-j", "3"]
        assert main([*common, "--trials", "2", "--out", str(tmp_path / "r1")]) == 0
        out = capsys.readouterr().out
        assert "accuracy [95% CI]" in out and "100.0%" in out
        run_file = tmp_path / "r2.yaml"
        run_file.write_text(f"scenarios: {cases}\nout: r2\ndoctor: fake\nbase_url: {server.base_url}\n"
                            f"prices: {cat}\nbudget_usd: 5\ntrials: 1\nname: budget-5\n")
        assert main(["bench", "--config", str(run_file), "--no-progress"]) == 0
        capsys.readouterr()
        # Resuming with a different result-changing setting is refused with the field named.
        assert main(["bench", "--resume", "--out", str(tmp_path / "r1"), "--max-turns", "3", "--no-progress"]) == 2
        assert "max_turns: 20 -> 3" in capsys.readouterr().err
        # Resuming with only the directory reuses the recorded settings; nothing is left to run.
        calls = server.calls
        assert main(["bench", "--resume", "--out", str(tmp_path / "r1"), "--no-progress"]) == 0
        assert server.calls == calls
    r2 = episodes(tmp_path / "r2")
    # Budget mode: the tests cost more than the $5 budget, so none was ordered.
    assert all(r["tests_ordered"] == [] and r["cost"]["tests_usd"] == 0 for r in r2)
    assert main(["report", str(tmp_path / "r1"), str(tmp_path / "r2"), "--out", str(tmp_path / "cmp.html")]) == 0
    out = capsys.readouterr().out
    assert "budget-5 vs r1" in out and "shared cases" in out
    html = (tmp_path / "cmp.html").read_text()
    assert "<svg" in html and "budget-5" in html and "Per-case outcomes" in html
    assert "href='#ep-0-bc-00-a-1'" in html and "id='ep-0-bc-00-a-1'" in html  # links to transcripts
    assert "surgery" in html and "emergency" in html  # breakdown by specialty
    head = html.split("</style>")[0]
    assert "<link" not in head and "src=" not in html  # self-contained: no external assets
    assert (tmp_path / "r1" / "report.html").exists()


def test_report_of_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no episodes.jsonl" in capsys.readouterr().err
