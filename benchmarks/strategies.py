"""Doctor strategies and biases, measured.

Part 1 (offline engine): every strategy goes through the same train-then-test protocol
(:func:`agentsim.strategies.learning.train_then_test`: one training pass over the train split
writing experience, then the test split with writes off), so strategies that read memory
(``experience``, ``retrieval``) get a memory and the others are measured on identical episodes.
Reports top-1/top-3 accuracy with 95% bootstrap CIs, turns, clinical cost and CPU seconds per
episode.

Part 2 (offline engine): the plain doctor under each bias that has an offline behaviour
(doctor confirmation/recency/frequency, patient self-diagnosis), accuracy by bias.

Part 3 (LLM call accounting): each strategy against a local scripted OpenAI-compatible server
(a plausible doctor that asks 2 questions, orders 2 tests and diagnoses; prompt tokens billed at
~4 characters per token of the real request, completion tokens as scripted): model calls, tokens
and token cost per episode for the doctor and patient seats, i.e. what each strategy costs on top
of ``plain``.

    python benchmarks/strategies.py [--train dev] [--test test] [--skip-offline] [--skip-llm]

Writes benchmarks/results/strategies.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
               "GRADIO_ANALYTICS_ENABLED": "False", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OFFLINE_STRATEGIES = ["plain", "cot", "retrieval", "experience", "retrieval+experience", "ensemble", "panel"]
OFFLINE_BIASES = [("doctor", ""), ("doctor", "confirmation"), ("doctor", "recency"), ("doctor", "frequency"),
                  ("patient", "self_diagnosis")]
LLM_STRATEGIES = ["plain", "cot", "retrieval", "experience", "panel", "ensemble", "cot+retrieval+experience",
                  "plain|verifier"]


def _row(label: str, results: list, seconds: float) -> dict:
    from agentsim.bench.metrics import estimate, top_k_hit

    n = max(1, len(results))
    acc = estimate([float(r.correct) for r in results])
    top3 = estimate([float(top_k_hit(r, 3)) for r in results])
    return {"strategy": label, "n": len(results), "top1": acc.value, "top1_lo": acc.lo, "top1_hi": acc.hi,
            "top3": top3.value, "turns": sum(r.turns for r in results) / n,
            "tests": sum(len(r.tests_ordered) for r in results) / n,
            "clinical_usd": sum(r.cost.clinical_usd for r in results) / n,
            "errors": sum(r.error is not None for r in results), "sec_per_episode": seconds}


def _print_rows(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'strategy':24} {'n':>4} {'top-1':>7} {'95% CI':>15} {'top-3':>7} {'turns':>6} {'tests':>6} "
          f"{'cost $':>8} {'err':>4} {'s/ep':>6}")
    for r in rows:
        print(f"{r['strategy']:24} {r['n']:4d} {100 * r['top1']:6.1f}% [{100 * r['top1_lo']:5.1f}, "
              f"{100 * r['top1_hi']:5.1f}] {100 * r['top3']:6.1f}% {r['turns']:6.1f} {r['tests']:6.1f} "
              f"{r['clinical_usd']:8.0f} {r['errors']:4d} {r['sec_per_episode']:6.2f}")


def offline_part(train_spec: str, test_spec: str, strategies: list[str]) -> dict:
    from agentsim.backends import Settings
    from agentsim.biases import bias_breakdown, format_bias_table
    from agentsim.strategies.learning import InMemoryExperience, load_split, train_then_test

    train = load_split(train_spec)
    test = load_split(test_spec)
    print(f"offline: train {train_spec} ({len(train)} cases), test {test_spec} ({len(test)} cases)", flush=True)
    rows = []
    for strategy in strategies:
        store = InMemoryExperience()
        t0 = time.process_time()
        curve, tr, te = asyncio.run(train_then_test(train, test, Settings(doctor_strategy=strategy), store))
        cpu = time.process_time() - t0
        final = [r for r in te if r.metadata["learning"]["train_episodes"] == len(train)]
        rows.append(_row(strategy, final, cpu / max(1, len(tr) + len(te))))
        rows[-1]["before_training_top1"] = curve.points[0].accuracy
        rows[-1]["own_case_hits_dropped"] = curve.own_case_hits_dropped
        print(f"  {strategy}: top-1 {100 * rows[-1]['top1']:.1f}% (before training "
              f"{100 * curve.points[0].accuracy:.1f}%), {cpu:.0f}s CPU", flush=True)
    _print_rows(rows, f"Offline strategies after one training pass ({len(train)} episodes), test split:")

    from agentsim.api import run_case

    bias_results = []
    for target, name in OFFLINE_BIASES:
        s = Settings(**{f"{target}_bias": name})
        for ls in test:
            bias_results.append(asyncio.run(run_case(ls, s)))
    table = bias_breakdown(bias_results)
    print("\nOffline plain doctor by bias (test split):")
    print(format_bias_table(table))
    return {"train": train_spec, "test": test_spec, "strategies": rows,
            "biases": [r.model_dump() for r in table]}


def llm_part(case_id: str = "gs-appendicitis-01") -> list[dict]:
    from agentsim.api import run_case
    from agentsim.backends import Settings
    from agentsim.llm import LLMConfig
    from agentsim.scenario import resolve_scenario
    from agentsim.testing.fake_openai import (
        FakeOpenAIServer,
        FakeReply,
        plausible_doctor,
        plausible_patient,
        tool_call,
    )
    from agentsim.tools import CaseHit, RetrievalResult

    doctor = plausible_doctor()
    patient = plausible_patient()
    plan = [("ask_patient", {"question": "Where exactly is the pain, and when did it start?"}),
            ("ask_patient", {"question": "Any fever, vomiting, or urinary symptoms?"}),
            ("order_test", {"test": "Complete blood count"}), ("order_test", {"test": "C-reactive protein"})]

    def chair(body: dict) -> FakeReply:
        # A panel chair sees the case log, not a chat history: count the actions already logged.
        text = str((body.get("messages") or [{}])[-1].get("content") or "")
        step = text.count("\nDoctor asked:") + text.count("\nDoctor ordered:") + text.count("\nDoctor searched")
        final = "must commit now" in text or step >= len(plan)
        name, args = (("diagnose", {"diagnosis": "Acute appendicitis", "confidence": 0.7}) if final
                      else plan[step])
        return FakeReply(content=None, tool_calls=[tool_call(name, args, f"chair_{step}")], prompt_tokens=900,
                         completion_tokens=40)

    def route(body: dict) -> FakeReply:
        reply = _route(body)
        # Scripted replies carry fixed token counts; bill prompts by their real size (~4 characters a token)
        # so strategies that lengthen prompts (reflections, reasoning, case logs) show it.
        reply.prompt_tokens = max(1, len(json.dumps(body.get("messages") or [])) // 4)
        return reply

    def _route(body: dict) -> FakeReply:
        system = str((body.get("messages") or [{}])[0].get("content") or "")
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        if tools == ["diagnose"]:
            return FakeReply(content=None, tool_calls=[tool_call("diagnose", {"diagnosis": "Gastroenteritis",
                                                                              "confidence": 0.5})],
                             prompt_tokens=600, completion_tokens=30)
        if tools and "You chair a panel" in system:
            return chair(body)
        if tools:
            return doctor(body)
        if "panel of physicians" in system:
            return FakeReply(content="Leading: appendicitis vs adenitis; next: ultrasound.", prompt_tokens=500,
                             completion_tokens=60)
        if "simulated patient's reply" in system:
            return FakeReply(content='{"ok": true}', prompt_tokens=400, completion_tokens=5)
        return patient(body)

    class _Mem:
        async def search(self, query):  # noqa: ANN001, ANN202
            return RetrievalResult(cases=[CaseHit(id="e", score=0.7, case_id="x", summary="young man, RLQ pain",
                                                  final_diagnosis="Mesenteric adenitis")])

    class _Exp:
        def query(self, findings, k=5, *, exclude_case_id, min_score=0.0):  # noqa: ANN001, ANN201
            return [CaseHit(id="e", score=0.7, case_id="x", summary="young man, RLQ pain",
                            final_diagnosis="Mesenteric adenitis", correct_diagnosis="Acute appendicitis",
                            correct=False, lesson="Ask whether the pain moved.")]

    from agentsim.backends import make_doctor

    ls = resolve_scenario(case_id)
    rows = []

    async def run_all(cfg: LLMConfig) -> None:
        # One event loop for every episode: LangChain's shared HTTP client is bound to the loop.
        for spec in LLM_STRATEGIES:
            strategy, _, extra = spec.partition("|")
            opts = {"patient_verifier": 1} if extra == "verifier" else {}
            s = Settings(backend="openai", doctor=cfg, patient=cfg, doctor_strategy=strategy, strategy_options=opts)
            d = make_doctor(s, case=ls, experience=_Exp())
            r = await run_case(ls, s, doctor=d, retrieval=_Mem())
            du, pu = r.usage.get("doctor"), r.usage.get("patient")
            rows.append({"strategy": spec, "error": r.error.message if r.error else None, "turns": r.turns,
                         "doctor_calls": du.calls if du else 0, "doctor_tokens": du.total_tokens if du else 0,
                         "patient_calls": pu.calls if pu else 0, "patient_tokens": pu.total_tokens if pu else 0,
                         "token_usd": r.cost.tokens_usd})

    with FakeOpenAIServer(route) as server:
        asyncio.run(run_all(LLMConfig(model="fake", base_url=server.base_url, max_retries=0, timeout_s=10,
                                      price_input_per_mtok=2.5, price_output_per_mtok=10.0)))
    base = rows[0]
    print("\nLLM call accounting per episode (scripted server; $2.5/$10 per Mtok in/out):")
    print(f"{'strategy':28} {'turns':>5} {'doctor calls':>12} {'doctor tok':>10} {'patient calls':>13} "
          f"{'patient tok':>11} {'token $':>8} {'x plain':>7}")
    for r in rows:
        mult = r["token_usd"] / base["token_usd"] if base["token_usd"] else float("nan")
        print(f"{r['strategy']:28} {r['turns']:5d} {r['doctor_calls']:12d} {r['doctor_tokens']:10d} "
              f"{r['patient_calls']:13d} {r['patient_tokens']:11d} {r['token_usd']:8.4f} {mult:7.2f}"
              + (f"  ERROR {r['error']}" if r["error"] else ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default="dev")
    ap.add_argument("--test", default="test")
    ap.add_argument("--strategies", default=",".join(OFFLINE_STRATEGIES))
    ap.add_argument("--skip-offline", action="store_true")
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "strategies.json"))
    args = ap.parse_args(argv)
    payload: dict = {}
    if not args.skip_llm:
        payload["llm_accounting"] = llm_part()
    if not args.skip_offline:
        payload["offline"] = offline_part(args.train, args.test, [s for s in args.strategies.split(",") if s])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
