"""``agentsim run``: one episode, printed as it happens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agentsim.cli.common import add_model_options, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    p = sub.add_parser("run", help="run one diagnostic episode and print it",
                       description="Run one episode (offline engine by default) and print the conversation.")
    p.add_argument("--scenario", "-s", required=True, help="case id (from scenarios/) or path to a case file")
    p.add_argument("--scenarios-dir", default=None, help="where to look up case ids (default: shipped cases)")
    add_model_options(p)
    p.add_argument("--max-turns", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=float, default=None, help="clinical budget in USD (stop ordering beyond it)")
    p.add_argument("--out", default="runs/latest", help="folder for episodes.jsonl (default: runs/latest)")
    p.add_argument("--memory", action="store_true", help="enable the retrieval tool (Chroma memory)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the verdict")
    from agentsim.cli.learn import add_strategy_options

    add_strategy_options(p)
    p.set_defaults(func=handle)


def format_message(msg) -> str:
    """One transcript message as terminal text."""
    who = msg.role.upper()
    if msg.role == "doctor" and msg.tool_calls:
        call = msg.tool_calls[0]
        a = call.arguments
        if call.name == "ask_patient":
            text = str(a.get("question", ""))
        elif call.name == "order_test":
            text = f"[orders] {a.get('test', '')}"
        elif call.name == "search_similar_cases":
            text = f"[searches memory] {a.get('query_text', '')} {a.get('image_id', '')}".strip()
        elif call.name == "diagnose":
            diff = a.get("differential") or []
            text = f"[diagnosis] {a.get('diagnosis', '')}" + (f" | differential: {', '.join(diff)}" if diff else "")
        else:
            text = f"{call.name} {a}"
        return f"DOCTOR: {text}"
    return f"{who}: {msg.content}"


def handle(args: argparse.Namespace) -> int:
    """Run the episode, stream messages, print the verdict, append the result to --out."""
    from agentsim.api import run_case, save_result
    from agentsim.scenario import resolve_scenario

    loaded = resolve_scenario(args.scenario, Path(args.scenarios_dir) if args.scenarios_dir else None)
    from agentsim.cli.learn import strategy_settings
    from agentsim.strategies.build import spec_of

    settings = settings_from_args(args, max_turns=args.max_turns, seed=args.seed, budget_usd=args.budget,
                                  **strategy_settings(args))
    retrieval = None
    if args.memory or spec_of(settings).needs_memory_tool:
        from agentsim.memory.retrieval import MemoryRetrieval

        retrieval = MemoryRetrieval.open_default()

    def show(msg) -> None:
        if not args.quiet:
            print(format_message(msg), flush=True)

    print(f"Case {loaded.scenario.id} ({loaded.scenario.specialty}) with {settings.describe()}", flush=True)
    result = asyncio.run(run_case(loaded, settings, on_message=show, retrieval=retrieval))
    path = save_result(result, args.out)
    print("-" * 60)
    if result.error:
        print(f"Episode error ({result.error.kind}): {result.error.message}", file=sys.stderr)
    verdict = "CORRECT" if result.correct else "INCORRECT"
    print(f"Diagnosis: {result.diagnosis}  |  correct: {result.correct_diagnosis}  ->  {verdict}")
    if result.verdict:
        print(f"Grading: {result.verdict.reasoning}")
    print(f"Turns {result.turns}, questions {result.questions}, tests {len(result.tests_ordered)}, "
          f"clinical cost ${result.cost.clinical_usd:,.0f}, {result.duration_s:.2f}s")
    print(f"Transcript appended to {path}")
    return 0 if result.error is None or result.error.kind == "stopped" else 1
