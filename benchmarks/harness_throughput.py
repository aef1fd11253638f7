"""Harness throughput: episodes/min against a local OpenAI-compatible server with fixed latency.

The server (agentsim.testing.fake_openai, a plausible doctor and patient) runs in its own process
and adds a fixed latency to every reply, so the ideal episode rate grows linearly with
concurrency. For each concurrency level this runs ``max(8, 4 x concurrency)`` episodes through
the real runner (ChatOpenAI clients, limiter, retries, engine, scorer, fsynced JSONL) and reports
episodes/min, the ratio to ideal linear scaling (rate at 1 x concurrency), and the harness
process's CPU time per doctor turn and per model call. A second measurement runs scripted
participants with no model client at all, isolating the harness's own cost per turn.

    python benchmarks/harness_throughput.py [--latency 0.2] [--levels 1,8,32,64] [--json out.json]

Targets (issue 4): >= 0.9 x linear up to 64 and < 5 ms harness CPU per turn on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
               "GRADIO_ANALYTICS_ENABLED": "False", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

REPO = Path(__file__).resolve().parent.parent
CASE = REPO / "scenarios" / "cases" / "gs-appendicitis-01.json"
TINY_CATALOG = {"price_basis": "benchmark stand-in", "default_price_usd": 50, "visit_fee_usd": 300, "entries": [
    {"id": "cbc", "name": "Complete blood count", "aliases": ["CBC"], "category": "lab", "price_usd": 10,
     "normal_result": "WBC 7.0 x10^9/L, Hb 14 g/dL, platelets 250 x10^9/L."},
    {"id": "crp", "name": "C-reactive protein", "aliases": ["CRP"], "category": "lab", "price_usd": 12,
     "normal_result": "CRP 2 mg/L."}]}


def _start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "agentsim.testing.fake_openai", "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True, cwd=str(REPO))
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def _prices(tmp: Path) -> str | None:
    from agentsim.catalog import CATALOG_PATH

    if CATALOG_PATH.exists():
        return None
    p = tmp / "catalog.json"
    p.write_text(json.dumps(TINY_CATALOG))
    return str(p)


def _run(tmp: Path, name: str, concurrency: int, episodes: int, base_url: str | None, prices: str | None,
         parts=None) -> dict:
    from agentsim.bench.config import build_config
    from agentsim.bench.runner import BenchRunner, load_run_records

    layer = {"scenarios": str(CASE), "out": str(tmp / name), "trials": episodes, "concurrency": concurrency,
             "prices": prices, "timeout_s": 30}
    if base_url:
        layer.update({"doctor": {"model": "fake"}, "base_url": base_url})
    cfg = build_config(layer)
    runner = BenchRunner(cfg, parts=parts, progress=False, echo=lambda m: None)
    plan = runner.plan()
    import asyncio

    cpu0, t0 = time.process_time(), time.perf_counter()
    outcome = asyncio.run(runner.run_plan(plan))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    recs = load_run_records(tmp / name)
    turns = sum(r.turns for r in recs)
    calls = sum(u.calls for r in recs for u in r.usage.values())
    assert outcome.ran == episodes and not outcome.errors, (outcome.ran, outcome.errors)
    return {"concurrency": concurrency, "episodes": episodes, "wall_s": wall, "cpu_s": cpu,
            "episodes_per_min": 60 * episodes / wall, "turns": turns, "model_calls": calls,
            "cpu_ms_per_turn": 1000 * cpu / turns, "cpu_ms_per_call": 1000 * cpu / calls if calls else None}


def _scripted_parts(ls, seed):
    from agentsim.agents.scripted import ScriptedDoctor, ScriptedPatient

    doc = ScriptedDoctor([("ask_patient", {"question": "Where is the pain?"}),
                          ("ask_patient", {"question": "Any fever?"}),
                          ("order_test", {"test": "Complete blood count"}),
                          ("order_test", {"test": "C-reactive protein"}),
                          ("diagnose", {"diagnosis": "Acute appendicitis", "differential": ["Gastroenteritis"]})])
    return doc, ScriptedPatient(["Since yesterday."]), None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per reply in seconds")
    ap.add_argument("--levels", default="1,8,32,64", help="concurrency levels")
    ap.add_argument("--per-level", type=int, default=8, help="episodes per level = max(8, this x concurrency)")
    ap.add_argument("--json", default=None, help="write the measurements here")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        prices = _prices(tmp)
        proc, url = _start_server(args.latency)
        try:
            _run(tmp, "warmup", 4, 8, url, prices)  # imports and connection pools, not measured
            for c in levels:
                rows.append(_run(tmp, f"c{c}", c, max(8, args.per_level * c), url, prices))
        finally:
            proc.terminate()
            proc.wait(10)
        scripted = _run(tmp, "scripted", 8, 400, None, prices, parts=_scripted_parts)
    base = rows[0]["episodes_per_min"] / rows[0]["concurrency"]
    print(f"Harness throughput, server latency {args.latency * 1000:.0f} ms per reply, "
          f"{rows[0]['model_calls'] / rows[0]['episodes']:.0f} model calls per episode, {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after (other processes skew results)")
    print(f"{'concurrency':>11s} {'episodes':>8s} {'wall s':>7s} {'eps/min':>8s} {'ideal':>8s} {'x linear':>8s} "
          f"{'CPU ms/turn':>11s} {'CPU ms/call':>11s}")
    for r in rows:
        ideal = base * r["concurrency"]
        r["ideal_per_min"] = ideal
        r["linear_ratio"] = r["episodes_per_min"] / ideal
        print(f"{r['concurrency']:11d} {r['episodes']:8d} {r['wall_s']:7.2f} {r['episodes_per_min']:8.0f} "
              f"{ideal:8.0f} {r['linear_ratio']:8.2f} {r['cpu_ms_per_turn']:11.2f} {r['cpu_ms_per_call']:11.2f}")
    print(f"Harness alone (scripted participants, no model client): {scripted['cpu_ms_per_turn']:.2f} ms CPU per "
          f"turn, {scripted['episodes_per_min']:.0f} episodes/min at concurrency 8")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"latency_s": args.latency, "levels": rows, "scripted": scripted,
                                               "loadavg_before": load_before, "cpus": os.cpu_count()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
