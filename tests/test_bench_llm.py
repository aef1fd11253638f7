"""The runner against a local OpenAI-compatible server: fault injection, 429 adaptation, cache, judge, rescore."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict

import pytest
from bench_support import episodes, make_cases, marker_of, write_catalog

from agentsim.bench.config import build_config
from agentsim.bench.limiter import AdaptiveLimiter
from agentsim.bench.metrics import summarize
from agentsim.bench.rescore import rescore_run
from agentsim.bench.runner import BenchRunner, load_run_records, read_manifest
from agentsim.llm import LLMConfig
from agentsim.testing.fake_openai import (
    FakeOpenAIServer,
    FakeReply,
    plausible_doctor,
    plausible_patient,
    role_router,
    tool_call,
)

pytestmark = pytest.mark.server


def _config(tmp_path, cases, server, name="run", **kw):
    layer = {"scenarios": str(cases), "out": str(tmp_path / name), "prices": str(write_catalog(tmp_path)),
             "doctor": {"model": "fake"}, "base_url": server.base_url, "trials": 1, "concurrency": 4,
             "timeout_s": 0.5, "call_retries": 2, "episode_retries": 1, "backoff_base_s": 0.01,
             "backoff_max_s": 0.05}
    return build_config({**layer, **kw})


def _run(cfg):
    return BenchRunner(cfg, progress=False, echo=lambda m: None).run()


class Faults:
    """Doctor responder injecting one failure mode per case marker."""

    def __init__(self):
        self.normal = plausible_doctor()
        self.counts: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def __call__(self, body):
        mk = marker_of(body)
        with self.lock:
            self.counts[mk] += 1
            n = self.counts[mk]
        if mk == "r429" and n <= 3:
            return FakeReply(status=429)
        if mk == "slow_once" and n == 1:
            reply = self.normal(body)
            reply.delay_s = 2.0  # beyond the 0.5 s per-call deadline: retried
            return reply
        if mk == "s500":
            return FakeReply(status=500)
        if mk == "garbage":
            return FakeReply(raw="<html>502 Bad Gateway</html>")
        if mk == "badargs":
            return FakeReply(content=None, tool_calls=[tool_call("order_test", '{"test": ', f"c{n}")])
        if mk == "empty":
            return FakeReply(content="")
        return self.normal(body)


def _patient(body):
    return FakeReply(content="") if marker_of(body) == "patient_empty" else plausible_patient()(body)


def test_fault_injection_run_completes_and_classifies_every_failure(tmp_path):
    markers = ["ok", "r429", "slow_once", "s500", "garbage", "badargs", "empty", "patient_empty"]
    cases = make_cases(tmp_path, markers)
    faults = Faults()
    with FakeOpenAIServer(role_router(faults, _patient)) as server:
        out = _run(_config(tmp_path, cases, server))
    assert out.status == "complete" and out.ran == len(markers)
    recs = {r["case_id"].split("-", 2)[2]: r for r in episodes(tmp_path / "run")}
    assert len(recs) == len(markers)  # nothing lost, nothing doubled
    kinds = {mk: (r["error"] or {}).get("kind") for mk, r in recs.items()}
    assert kinds == {"ok": None, "r429": None, "slow-once": None, "s500": "infrastructure",
                     "garbage": "infrastructure", "badargs": "agent", "empty": "agent", "patient-empty": "patient"}
    assert all(recs[m]["correct"] for m in ("ok", "r429", "slow-once"))
    assert "HTTP 500" in recs["s500"]["error"]["message"] and "malformed" in recs["garbage"]["error"]["message"]
    assert recs["badargs"]["error"]["error_class"] == "InvalidActions"
    assert recs["s500"]["metadata"]["run"]["attempts"] == 2  # the episode was retried once, recorded once
    # s500: (1 + 2 call retries) x (1 + 1 episode retry) requests.
    assert faults.counts["s500"] == 6
    assert out.calls.rate_limited == 3 and out.calls.timeouts >= 1 and out.calls.retried >= 3 + 1 + 8
    assert out.limiter is not None and out.limiter.min_limit_seen < 4
    m = read_manifest(tmp_path / "run")
    assert m.calls.rate_limited == 3 and m.totals["infrastructure_errors"] == 2
    # The same directory resumes by rerunning only the infrastructure failures.
    # ... even when the restarted server listens on another port (the URL is not part of the config hash).
    with FakeOpenAIServer(role_router(plausible_doctor(), _patient)) as server2:
        out2 = _run(_config(tmp_path, cases, server2))
    assert out2.ran == 2 and out2.skipped == 6
    assert len(episodes(tmp_path / "run")) == len(markers)


def test_rate_limits_halve_concurrency_then_it_recovers(tmp_path):
    cases = make_cases(tmp_path, [f"c{i}" for i in range(6)])
    normal, seen, lock = plausible_doctor(), [0], threading.Lock()

    def doctor(body):
        with lock:
            seen[0] += 1
            first = seen[0] <= 8
        return FakeReply(status=429) if first else normal(body)

    with FakeOpenAIServer(role_router(doctor, plausible_patient()), latency_s=0.05) as server:
        out = _run(_config(tmp_path, cases, server, trials=4, concurrency=8, ramp_up_s=0, timeout_s=5))
    assert out.status == "complete" and not out.errors and out.ran == 24
    lim = out.limiter
    # Eight 429s from calls that were all in flight together are one congestion signal: one halving.
    assert lim.rate_limited == 8 and lim.decreases == 1 and lim.min_limit_seen == 4
    assert lim.increases >= 4 and lim.limit == 8  # recovered


def test_limiter_bounds_in_flight_calls():
    async def go():
        lim = AdaptiveLimiter(4)
        peak, active = [0], [0]

        async def call(i):
            t = await lim.acquire()
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            await asyncio.sleep(0.01)
            active[0] -= 1
            lim.release()
            if i == 0:
                lim.on_rate_limit(t, 0.0)
            else:
                lim.on_success()

        await asyncio.gather(*(call(i) for i in range(40)))
        return lim, peak[0]

    lim, peak = asyncio.run(go())
    assert peak <= 4 and lim.stats.decreases == 1 and lim.stats.min_limit_seen == 2 and lim.limit == 4


def test_cache_makes_a_rerun_free_and_exact(tmp_path):
    cases = make_cases(tmp_path, ["a", "b"])
    cache = tmp_path / "cache.sqlite"
    with FakeOpenAIServer(role_router(plausible_doctor(), plausible_patient())) as server:
        _run(_config(tmp_path, cases, server, name="r1", trials=2, cache=str(cache)))
        first_calls = server.calls
        _run(_config(tmp_path, cases, server, name="r2", trials=2, cache=str(cache)))
        assert server.calls == first_calls  # every request of the rerun came from the cache
        sent_seeds = {req.get("seed") for req in server.requests}
    a = {(r.case_id, r.trial): r for r in load_run_records(tmp_path / "r1")}
    b = {(r.case_id, r.trial): r for r in load_run_records(tmp_path / "r2")}

    def convo(r):
        return [(m.role, m.content, json.dumps([c.model_dump() for c in m.tool_calls])) for m in r.transcript.messages]

    assert a.keys() == b.keys() and all(convo(a[k]) == convo(b[k]) for k in a)
    assert all(u.cached_calls == 0 for r in a.values() for u in r.usage.values())
    assert all(u.cached_calls == u.calls > 0 for r in b.values() for role, u in r.usage.items()
               if role != "measurement")
    # Each (case, trial) has its own hash-derived seed, and it reaches the server.
    assert len({r.seed for r in a.values()}) == 4 and sent_seeds == {r.seed for r in a.values()}


@pytest.mark.slow  # the offline scorer's embedding model loads for the non-matching diagnosis
def test_judge_grades_with_offline_agreement_and_rescore(tmp_path):
    cases = make_cases(tmp_path, ["a", "b"])

    def doctor(body):
        # Case a: an answer the offline scorer accepts; case b: one only a lenient judge accepts.
        dx = "Acute appendicitis" if marker_of(body) == "a" else "Inflamed appendix, probably"
        return plausible_doctor(diagnosis=dx)(body)

    def judge(body):
        text = json.dumps(body["messages"])
        return FakeReply(content='{"score": 5, "reasoning": "same"}' if "Inflamed" not in text
                         else '{"score": 4, "reasoning": "equivalent"}')

    with FakeOpenAIServer(role_router(doctor, plausible_patient(), judge)) as server:
        cfg = _config(tmp_path, cases, server, judge={"model": "judge"})
        out = _run(cfg)
        assert out.status == "complete"
        recs = {r.case_id: r for r in load_run_records(tmp_path / "run")}
        a, b = recs["bc-00-a"], recs["bc-01-b"]
        assert a.verdict.method == "judge" and a.correct and a.grades["offline"].correct
        assert b.verdict.method == "judge" and b.correct and not b.grades["offline"].correct
        s = summarize(recs.values())
        assert s.agreement.n == 2 and s.agreement.agree == 1 and s.agreement.judge_only == 1
        hash_with_judge = read_manifest(tmp_path / "run").config_hash

        off = rescore_run(tmp_path / "run", judge=None, progress=False)
        assert off.graded == 2 and off.changed == 1 and off.accuracy_after == 0.5
        m = read_manifest(tmp_path / "run")
        assert m.config["judge"] is None and m.config_hash != hash_with_judge
        assert (tmp_path / "run" / off.backup.split("/")[-1]).exists()

        calls = server.calls
        back = rescore_run(tmp_path / "run", judge=LLMConfig(model="judge", base_url=server.base_url),
                           progress=False)
        assert server.calls == calls + 2  # only judge calls: no episode was rerun
        assert back.accuracy_after == 1.0 and back.agreement.n == 2
        assert read_manifest(tmp_path / "run").config_hash == hash_with_judge
