"""A benchmark killed with SIGKILL loses no finished episode, and a resume runs each pair exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench_support import episodes, make_cases, write_catalog

from agentsim.bench.runner import read_records
from agentsim.testing.fake_openai import FakeOpenAIServer, plausible_doctor, plausible_patient, role_router

pytestmark = [pytest.mark.server, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(REPO)})
    return env


def test_kill_9_midway_then_resume_runs_each_pair_exactly_once(tmp_path):
    cases = make_cases(tmp_path, [f"k{i}" for i in range(6)])
    run = tmp_path / "run"
    with FakeOpenAIServer(role_router(plausible_doctor(), plausible_patient()), latency_s=0.08) as server:
        cmd = [sys.executable, "-m", "agentsim.cli.main", "bench", "--scenarios", str(cases), "--doctor", "fake",
               "--base-url", server.base_url, "--trials", "2", "-j", "2", "--out", str(run),
               "--prices", str(write_catalog(tmp_path)), "--no-progress", "--no-report"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=str(REPO))
        path = run / "episodes.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and len(path.read_bytes().splitlines()) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        finished, _torn = read_records(path)
        assert 3 <= len(finished) < 12
        finished_seeds = {r.seed for r in finished}
        before = len(server.requests)

        done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=_env(), cwd=str(REPO),
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        resumed = server.requests[before:]

    final = episodes(run)
    pairs = [(r["case_id"], r["trial"]) for r in final]
    assert len(pairs) == len(set(pairs)) == 12  # every (case, trial) exactly once
    assert all(r["error"] is None and r["correct"] for r in final)
    # Finished episodes were not rerun: no request of the resumed process carries their seed.
    resumed_seeds = {req.get("seed") for req in resumed}
    assert not finished_seeds & resumed_seeds
    assert resumed_seeds == {r["seed"] for r in final} - finished_seeds
    # 5 doctor + 2 patient calls per episode: the resume sent exactly the calls of the missing episodes.
    assert len(resumed) == 7 * (12 - len(finished))
    # Finished records survived byte for byte.
    kept = {(r.case_id, r.trial): r.model_dump_json() for r in finished}
    assert all(kept[(r.case_id, r.trial)] == r.model_dump_json() for r in read_records(path)[0]
               if (r.case_id, r.trial) in kept)


def test_ctrl_c_marks_the_run_interrupted_and_keeps_finished_episodes(tmp_path):
    cases = make_cases(tmp_path, ["a", "b"])
    run = tmp_path / "run"
    with FakeOpenAIServer(role_router(plausible_doctor(), plausible_patient()), latency_s=0.05) as server:
        cmd = [sys.executable, "-m", "agentsim.cli.main", "bench", "--scenarios", str(cases), "--doctor", "fake",
               "--base-url", server.base_url, "--trials", "30", "-j", "2", "--out", str(run),
               "--prices", str(write_catalog(tmp_path)), "--no-progress", "--no-report"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                                cwd=str(REPO))
        path = run / "episodes.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and len(path.read_bytes().splitlines()) >= 2:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "rerun with --resume" in err
    from agentsim.bench.runner import read_manifest

    m = read_manifest(run)
    finished = episodes(run)
    assert m.status == "interrupted" and m.history[-1]["ran"] == len(finished) == m.totals["finished"] >= 2
