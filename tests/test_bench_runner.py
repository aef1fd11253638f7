"""The benchmark runner with scripted participants: durability, resume, retries, aborts, case sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import episodes, make_cases, write_catalog

from agentsim.agents.scripted import ScriptedDoctor, ScriptedPatient
from agentsim.bench.cases import resolve_cases
from agentsim.bench.config import build_config
from agentsim.bench.runner import BenchRunner, read_manifest
from agentsim.errors import ConfigError, LLMError
from agentsim.participants import Message, Reply

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "agentclinic"
GOOD = [("ask_patient", {"question": "Where is the pain?"}), ("order_test", {"test": "CBC"}),
        ("diagnose", {"diagnosis": "appendicitis", "differential": ["gastroenteritis"]})]


class FlakyDoctor(ScriptedDoctor):
    """Fails its first reply with a server-side error."""

    async def respond(self, message: Message) -> Reply:
        raise LLMError("doctor model: HTTP 503", "infrastructure", retryable=True)


class Parts:
    """Participant factory that counts episodes per case and fails the cases it is told to."""

    def __init__(self, fail: dict[str, int] | None = None, crash: set[str] | None = None):
        self.fail = dict(fail or {})  # case-id substring -> how many episodes fail
        self.crash = crash or set()
        self.calls: dict[tuple[str, int], int] = {}

    def __call__(self, ls, seed):
        cid = ls.scenario.id
        self.calls[(cid, seed)] = self.calls.get((cid, seed), 0) + 1
        if any(c in cid for c in self.crash):
            raise RuntimeError("harness bug")
        for key, left in self.fail.items():
            if key in cid and left > 0:
                self.fail[key] = left - 1
                return FlakyDoctor(GOOD), ScriptedPatient(["yes"]), None
        return ScriptedDoctor(GOOD), ScriptedPatient(["Since yesterday."]), None


def _config(tmp_path: Path, cases: Path, **kw):
    layer = {"scenarios": str(cases), "out": str(tmp_path / "run"), "prices": str(write_catalog(tmp_path)),
             "trials": 2, "concurrency": 3, "episode_retries": 0, "backoff_base_s": 0.0}
    return build_config({**layer, **kw})


def _run(cfg, parts):
    return BenchRunner(cfg, parts=parts, progress=False, echo=lambda m: None).run()


def test_records_manifest_and_one_line_per_pair(tmp_path):
    cases = make_cases(tmp_path, ["a", "b", "c"], splits=["dev", "test"])
    out = _run(_config(tmp_path, cases), Parts())
    assert out.status == "complete" and out.ran == 6 and out.skipped == 0
    recs = episodes(tmp_path / "run")
    assert sorted((r["case_id"], r["trial"]) for r in recs) == sorted(
        (f"bc-0{i}-{m}", t) for i, m in enumerate("abc") for t in range(2))
    assert all(r["correct"] is True for r in recs)
    assert {r["dataset"] for r in recs} == {"dev", "test"}
    assert all(r["cost"]["tests_usd"] == 10 and r["cost"]["visits_usd"] == 300 for r in recs)  # tiny price table
    m = read_manifest(tmp_path / "run")
    assert m.status == "complete" and len(m.config_hash) == 16 and m.versions["python"]
    assert set(m.seeds) == {r["case_id"] for r in recs}
    assert all(r["seed"] == m.seeds[r["case_id"]][r["trial"]] for r in recs)
    assert all(r["metadata"]["run"]["config_hash"] == m.config_hash for r in recs)


def test_resume_skips_finished_and_reruns_infrastructure_failures(tmp_path):
    cases = make_cases(tmp_path, ["a", "b", "flaky"])
    cfg = _config(tmp_path, cases)
    parts = Parts(fail={"flaky": 1})
    first = _run(cfg, parts)
    assert first.errors == {"infrastructure": 1} and first.status == "complete"
    parts2 = Parts()
    second = _run(cfg, parts2)
    assert second.skipped == 5 and second.ran == 1
    assert len(parts2.calls) == 1 and next(iter(parts2.calls))[0].endswith("flaky")
    recs = episodes(tmp_path / "run")
    assert len({(r["case_id"], r["trial"]) for r in recs}) == len(recs) == 6
    assert all(r["error"] is None for r in recs)
    superseded = [json.loads(x) for x in (tmp_path / "run" / "superseded.jsonl").read_text().splitlines()]
    assert [r["error"]["kind"] for r in superseded] == ["infrastructure"]


def test_episode_retry_appends_only_the_final_attempt(tmp_path):
    cases = make_cases(tmp_path, ["flaky"])
    out = _run(_config(tmp_path, cases, trials=1, episode_retries=2), Parts(fail={"flaky": 1}))
    recs = episodes(tmp_path / "run")
    assert out.ran == 1 and len(recs) == 1
    assert recs[0]["error"] is None and recs[0]["metadata"]["run"]["attempts"] == 2


def test_torn_last_line_is_dropped_and_rerun(tmp_path):
    cases = make_cases(tmp_path, ["a", "b"])
    cfg = _config(tmp_path, cases)
    _run(cfg, Parts())
    path = tmp_path / "run" / "episodes.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # a write cut by a kill
    out = _run(cfg, Parts())
    assert out.ran == 1 and out.skipped == 3
    recs = episodes(tmp_path / "run")
    assert len(recs) == 4 and len({(r["case_id"], r["trial"]) for r in recs}) == 4


def test_more_trials_extend_a_run_but_other_changes_are_refused(tmp_path):
    cases = make_cases(tmp_path, ["a"])
    _run(_config(tmp_path, cases, trials=1), Parts())
    out = _run(_config(tmp_path, cases, trials=3, concurrency=8), Parts())
    assert out.skipped == 1 and out.ran == 2
    with pytest.raises(ConfigError, match=r"different configuration.*max_turns: 20 -> 5"):
        _run(_config(tmp_path, cases, trials=3, max_turns=5), Parts())
    case = next(cases.glob("*.json"))
    data = json.loads(case.read_text())
    data["patient"]["medications"] = "Ibuprofen."
    case.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"1 changed"):
        _run(_config(tmp_path, cases, trials=3), Parts())


def test_foreign_episodes_file_is_refused(tmp_path):
    cases = make_cases(tmp_path, ["a"])
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "episodes.jsonl").write_text('{"case_id": "x"}\n')
    with pytest.raises(ConfigError, match="no manifest.json"):
        _run(_config(tmp_path, cases), Parts())


def test_max_errors_aborts_cleanly_and_resume_finishes(tmp_path):
    cases = make_cases(tmp_path, [f"flaky{i}" for i in range(6)])
    cfg = _config(tmp_path, cases, trials=1, concurrency=1, max_errors=1)
    out = _run(cfg, Parts(fail={"flaky": 100}))
    assert out.status == "aborted" and "max-errors 1" in out.aborted_reason
    assert out.ran == 2  # the second error crosses the threshold; nothing else is started
    assert read_manifest(tmp_path / "run").status == "aborted"
    out2 = _run(cfg, Parts())
    assert out2.status == "complete" and out2.ran == 6
    assert len(episodes(tmp_path / "run")) == 6


def test_harness_exception_is_recorded_as_internal_and_the_run_goes_on(tmp_path):
    cases = make_cases(tmp_path, ["a", "boom"])
    out = _run(_config(tmp_path, cases, trials=1), Parts(crash={"boom"}))
    assert out.status == "complete" and out.errors == {"internal": 1}
    recs = {r["case_id"]: r for r in episodes(tmp_path / "run")}
    assert recs["bc-01-boom"]["error"]["error_class"] == "RuntimeError" and recs["bc-01-boom"]["correct"] is False
    # Internal errors are the harness's fault: a resume reruns them.
    out2 = _run(_config(tmp_path, cases, trials=1), Parts())
    assert out2.ran == 1


def test_named_sets_and_case_folders():
    dev, test = resolve_cases("dev"), resolve_cases("test")
    assert dev.cases and all(ls.scenario.split == "dev" for ls in dev.cases)
    assert len(resolve_cases("all").cases) == len(dev.cases) + len(test.cases)
    with pytest.raises(Exception, match="no such case folder"):
        resolve_cases("no/such/dir")


def test_agentclinic_jsonl_is_imported_in_memory_and_bad_records_reported(tmp_path):
    pytest.importorskip("agentsim.importers.agentclinic")
    src = SHARED / "medqa_dev.jsonl"
    if not src.exists():
        pytest.skip("shared AgentClinic sample not present")
    full = resolve_cases(str(src))
    assert len(full.cases) == 107 and not full.failures
    lines = src.read_text().splitlines()[:2]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(lines[0] + "\n{not json\n" + lines[1] + "\n")
    cs = resolve_cases(str(mixed))
    assert len(cs.cases) == 2 and len(cs.failures) == 1 and "line 2" in cs.failures[0]
    out = BenchRunner(build_config({"scenarios": str(mixed), "out": str(tmp_path / "run"), "trials": 1,
                                    "prices": str(write_catalog(tmp_path))}),
                      # Exact answers keep the offline scorer off its embedding path (fast test).
                      parts=lambda ls, seed: (ScriptedDoctor([("diagnose", {"diagnosis": ls.scenario.diagnosis.name})]),
                                              ScriptedPatient(), None),
                      progress=False, echo=lambda m: None).run()
    assert out.ran == 2
    recs = episodes(tmp_path / "run")
    assert {r["dataset"] for r in recs} == {"mixed"}
    assert read_manifest(tmp_path / "run").case_failures == cs.failures
