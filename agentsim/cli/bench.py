"""``agentsim bench``, ``agentsim rescore`` and ``agentsim report``: headless benchmark runs.

Settings come from, lowest priority first: environment (OPENAI_BASE_URL; AGENTSIM_BACKEND and
AGENTSIM_MODEL when the backend is openai), the run directory's manifest (with ``--resume``), a
YAML/TOML run file (``--config``), then command-line flags.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_ABORTED = 3


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench``, ``rescore`` and ``report`` commands."""
    p = sub.add_parser(
        "bench", help="run many cases x trials headless (concurrent, resumable) and report",
        description="Run every (case, trial) of a case set, append each finished episode to RUN_DIR/episodes.jsonl, "
                    "and print a summary with bootstrap confidence intervals. Rerunning into the same RUN_DIR "
                    "resumes: finished episodes are skipped.")
    p.add_argument("--config", "-c", default=None, help="YAML or TOML run file with the same fields as the flags")
    p.add_argument("--scenarios", "-s", default=None,
                   help="dev | test | all (shipped cases by split), a case folder or file, or an AgentClinic "
                        ".jsonl file; several separated by commas (default: dev)")
    p.add_argument("--out", "-o", default=None, help="run directory (required, here or in the run file)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out with its recorded settings (flags given override them; a "
                        "change that alters results is refused)")
    p.add_argument("--name", default=None, help="label of the run in reports (default: the folder name)")
    p.add_argument("--backend", choices=["offline", "openai"], default=None,
                   help="offline engine (default without --doctor) or any OpenAI-compatible server")
    p.add_argument("--doctor", "--model", dest="doctor", default=None, metavar="MODEL", help="doctor model")
    p.add_argument("--patient", "--patient-model", dest="patient", default=None, metavar="MODEL",
                   help="patient model (default: the doctor model)")
    p.add_argument("--judge", "--judge-model", dest="judge", default=None, metavar="MODEL",
                   help="rubric judge model (score >= 4 counts as correct); default: offline scorer")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server for every role (key from "
                                                    "$OPENAI_API_KEY; env OPENAI_BASE_URL)")
    p.add_argument("--temperature", type=float, default=None, help="doctor and patient sampling temperature")
    p.add_argument("--trials", "-k", type=int, default=None, help="trials per case (default 1); raising it "
                                                                  "later extends a run")
    p.add_argument("--seed", type=int, default=None, help="base seed (default 0)")
    p.add_argument("--max-turns", type=int, default=None, help="doctor actions per episode (default 20)")
    p.add_argument("--budget", type=float, default=None, dest="budget_usd",
                   help="clinical budget per case in USD: tests beyond it are refused")
    p.add_argument("--doctor-strategy", default=None, help="doctor strategy (default plain): plain | cot | "
                                                           "retrieval | experience | panel | ensemble, joined by '+'")
    p.add_argument("--strategy-option", "-O", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy option, e.g. -O ensemble_size=5 -O panel_rounds=2 -O patient_verifier=2")
    p.add_argument("--doctor-bias", default=None, help="doctor bias, e.g. confirmation, recency, implicit_race")
    p.add_argument("--patient-bias", default=None, help="patient bias, e.g. self_diagnosis, implicit_gender")
    p.add_argument("--memory", action="store_true", default=None, help="enable the retrieval memory tool")
    p.add_argument("--prices", default=None, metavar="FILE", help="test catalogue JSON overriding the shipped "
                                                                  "price table")
    p.add_argument("--concurrency", "-j", type=int, default=None, help="episodes in flight (default 4)")
    p.add_argument("--llm-concurrency", type=int, default=None,
                   help="model calls in flight (default: = --concurrency; halves on HTTP 429, then recovers)")
    p.add_argument("--timeout", type=float, default=None, dest="timeout_s", help="per-call deadline in seconds")
    p.add_argument("--retries", type=int, default=None, dest="call_retries",
                   help="retries of a model call on transient errors (default 4)")
    p.add_argument("--episode-retries", type=int, default=None,
                   help="reruns of an episode that still ends in an infrastructure error (default 1)")
    p.add_argument("--max-errors", type=int, default=None,
                   help="abort cleanly after more than N infrastructure/simulator errors (default: never)")
    p.add_argument("--cache", default=None, metavar="FILE",
                   help="SQLite response cache shared across runs: identical requests are replayed for free")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-report", action="store_true", help="do not write RUN_DIR/report.html at the end")
    p.add_argument("--learn", action="store_true",
                   help="run the train-then-test experience protocol instead (same as `agentsim learn`): train on "
                        "--train, evaluate --scenarios (default test) with memory writes off at each --checkpoints")
    from agentsim.cli.learn import add_learn_options

    add_learn_options(p, test_default=None)
    p.set_defaults(func=handle_bench)

    r = sub.add_parser("rescore", help="re-grade a run's saved diagnoses (e.g. with an LLM judge)",
                       description="Re-grade every saved diagnosis of RUN_DIR without rerunning episodes. "
                                   "The previous episodes.jsonl is kept as a backup.")
    r.add_argument("run_dir")
    r.add_argument("--judge", "--judge-model", dest="judge", default=None, metavar="MODEL",
                   help="rubric judge model; without it, the offline scorer re-grades")
    r.add_argument("--base-url", default=None, help="server of the judge model (env OPENAI_BASE_URL)")
    r.add_argument("--concurrency", "-j", type=int, default=8)
    r.add_argument("--timeout", type=float, default=60.0, help="per-call deadline in seconds")
    r.add_argument("--cache", default=None, metavar="FILE", help="SQLite response cache")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=handle_rescore)

    q = sub.add_parser("report", help="HTML report and terminal summary of one or more runs",
                       description="Summarize runs with 95%% bootstrap CIs and write a self-contained HTML report; "
                                   "several runs are compared case by case against the first.")
    q.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    q.add_argument("--out", "-o", default=None, help="HTML file (default: RUN_DIR/report.html of the first run)")
    q.add_argument("--label", action="append", default=None, help="label per run, in order (repeatable)")
    q.add_argument("--no-transcripts", action="store_true", help="leave transcripts out (smaller file)")
    q.set_defaults(func=handle_report)


def _env_layer() -> dict[str, Any]:
    layer: dict[str, Any] = {"base_url": os.environ.get("OPENAI_BASE_URL") or None}
    if os.environ.get("AGENTSIM_BACKEND") == "openai":
        layer["backend"] = "openai"
        if os.environ.get("AGENTSIM_MODEL"):
            layer["doctor"] = {"model": os.environ["AGENTSIM_MODEL"]}
    return layer


def _absolute_scenarios(spec: str) -> str:
    from agentsim.bench.cases import NAMED_SETS

    parts = []
    for part in (x.strip() for x in spec.split(",")):
        parts.append(str(Path(part).expanduser().resolve()) if part not in NAMED_SETS and Path(part).exists()
                     else part)
    return ",".join(parts)


def _cli_layer(args: argparse.Namespace) -> dict[str, Any]:
    layer: dict[str, Any] = {k: getattr(args, k) for k in (
        "scenarios", "out", "name", "backend", "base_url", "trials", "seed", "max_turns", "budget_usd",
        "doctor_strategy", "memory", "prices", "concurrency", "llm_concurrency", "timeout_s", "call_retries",
        "episode_retries", "max_errors", "cache", "doctor_bias", "patient_bias")}
    if args.strategy_option:
        from agentsim.cli.learn import parse_option_pairs

        layer["strategy_options"] = parse_option_pairs(args.strategy_option)
    for role in ("doctor", "patient", "judge"):
        model = getattr(args, role)
        if model:
            layer[role] = {"model": model}
    if args.temperature is not None:
        for role in ("doctor", "patient"):
            if role in layer:
                layer[role]["temperature"] = args.temperature
    for key in ("out", "prices", "cache"):
        if layer.get(key):
            layer[key] = str(Path(layer[key]).expanduser().resolve())
    if layer.get("scenarios"):
        layer["scenarios"] = _absolute_scenarios(layer["scenarios"])
    return layer


def build_run_config(args: argparse.Namespace) -> Any:
    """The validated RunConfig for ``bench`` arguments (see the module docstring for precedence)."""
    from agentsim.bench.config import build_config, load_config_file
    from agentsim.bench.runner import read_manifest
    from agentsim.errors import ConfigError

    file_layer = load_config_file(args.config) if args.config else {}
    cli = _cli_layer(args)
    out = cli.get("out") or file_layer.get("out")
    if not out:
        raise ConfigError("bench needs a run directory: --out RUN_DIR (or `out:` in the run file)")
    manifest_layer: dict[str, Any] = {}
    if args.resume:
        manifest = read_manifest(out)
        if manifest is None:
            print(f"agentsim: note: {out} has no run yet; starting a new one", file=sys.stderr)
        else:
            manifest_layer = dict(manifest.config)
            # The per-role dicts of a resumed run are complete; a flag naming a new model replaces them whole.
            for role in ("doctor", "patient", "judge"):
                if role in cli and manifest_layer.get(role):
                    manifest_layer[role] = None
    # The temperature flag alone (without a model flag) adjusts the recorded/filed models.
    if args.temperature is not None:
        for role in ("doctor", "patient"):
            if role not in cli:
                base = file_layer.get(role) or manifest_layer.get(role)
                if isinstance(base, str):
                    base = {"model": base}
                if isinstance(base, dict):
                    cli[role] = {**base, "temperature": args.temperature}
    source = f"{args.config}" if args.config else "bench options"
    return build_config(_env_layer(), manifest_layer, file_layer, cli, source=source)


def handle_bench(args: argparse.Namespace) -> int:
    """Run (or resume) a benchmark, then print the summary and write the report."""
    if args.learn:
        return _handle_learn(args)
    from agentsim.bench.report import terminal_summary, write_report
    from agentsim.bench.runner import BenchRunner

    config = build_run_config(args)
    runner = BenchRunner(config, progress=not args.no_progress)
    plan = runner.plan()
    total = plan.done + len(plan.pending)
    print(f"Run {config.out}: {len(plan.cases.cases)} cases x {config.trials} trials = {total} episodes "
          f"({plan.done} already finished, {len(plan.pending)} to run); backend {config.backend}"
          + (f", doctor {config.doctor.label}" if config.doctor else "")
          + (f", judge {config.judge.label}" if config.judge else "")
          + f"; config hash {plan.digest}", file=sys.stderr, flush=True)
    import asyncio

    try:
        outcome = asyncio.run(runner.run_plan(plan))
    except KeyboardInterrupt:
        print(f"agentsim: interrupted; finished episodes are saved in {config.out} (rerun with --resume)",
              file=sys.stderr)
        return 130
    calls = outcome.calls
    if calls.calls or calls.cache_hits:
        lim = outcome.limiter
        print(f"Model calls: {calls.calls} sent, {calls.cache_hits} from cache, {calls.retried} retried, "
              f"{calls.rate_limited} rate-limited, {calls.timeouts} timed out, {calls.failed} failed"
              + (f"; concurrency limit {lim.limit}/{lim.max_limit} (lowest {lim.min_limit_seen})" if lim else ""),
              file=sys.stderr)
    print(f"Ran {outcome.ran} episodes in {outcome.elapsed_s:.1f}s; {outcome.skipped} were already done.",
          file=sys.stderr)
    if outcome.status == "aborted":
        print(f"agentsim: run aborted: {outcome.aborted_reason}. Finished episodes are saved; fix the cause and "
              "rerun with --resume.", file=sys.stderr)
    try:
        if args.no_report:
            from agentsim.bench.report import load_run

            runs = [load_run(config.out)]
        else:
            path, runs = write_report([config.out])
            print(f"Report: {path}", file=sys.stderr)
        print(terminal_summary(runs))
    except Exception as exc:  # noqa: BLE001 - results are saved; a report failure must not hide that
        if outcome.ran or outcome.skipped:
            print(f"agentsim: warning: no summary: {exc}", file=sys.stderr)
    return EXIT_ABORTED if outcome.status == "aborted" else 0


def handle_rescore(args: argparse.Namespace) -> int:
    """Re-grade saved diagnoses and print what changed."""
    from agentsim.bench.rescore import rescore_run
    from agentsim.llm import LLMConfig

    judge = None
    if args.judge:
        judge = LLMConfig(model=args.judge, base_url=args.base_url or os.environ.get("OPENAI_BASE_URL") or None,
                          timeout_s=args.timeout)
    out = rescore_run(args.run_dir, judge=judge, concurrency=args.concurrency, cache=args.cache,
                      progress=not args.no_progress)
    for w in out.warnings:
        print(f"agentsim: warning: {w}", file=sys.stderr)
    print(f"Re-graded {out.graded} diagnoses with {judge.label if judge else 'the offline scorer'}: "
          f"accuracy {100 * out.accuracy_before:.1f}% -> {100 * out.accuracy_after:.1f}% ({out.changed} changed"
          + (f", judge failed on {out.judge_failures} and the offline grade was kept" if out.judge_failures else "")
          + f"). Backup: {out.backup}")
    if out.agreement is not None:
        a = out.agreement
        kappa = f", Cohen's kappa {a.kappa:.2f}" if a.kappa is not None else ""
        print(f"Judge vs offline scorer: {100 * a.rate:.1f}% agreement on {a.n} diagnoses{kappa} "
              f"(judge-only correct {a.judge_only}, offline-only correct {a.offline_only})")
    return 0


def handle_report(args: argparse.Namespace) -> int:
    """Write the HTML report and print the terminal summary."""
    from agentsim.bench.report import terminal_summary, write_report

    path, runs = write_report(args.run_dirs, out=args.out, transcripts=not args.no_transcripts, labels=args.label)
    print(terminal_summary(runs))
    print(f"Report: {path}")
    return 0


def _handle_learn(args: argparse.Namespace) -> int:
    """``bench --learn``: the learning protocol with the bench's model, turn and seed flags."""
    from agentsim.cli import learn

    ns = argparse.Namespace(
        backend=args.backend, model=args.doctor, base_url=args.base_url, patient_model=args.patient,
        judge_model=args.judge, train=args.train, test=args.test or args.scenarios or "test",
        checkpoints=args.checkpoints, store=args.store, memory_dir=args.memory_dir, chroma_url=args.chroma_url,
        max_test_cases=args.max_test_cases, split_fraction=args.split_fraction,
        doctor_strategy=args.doctor_strategy or "experience", strategy_option=args.strategy_option,
        doctor_bias=args.doctor_bias or "", patient_bias=args.patient_bias or "",
        max_turns=args.max_turns or 20, seed=args.seed or 0, concurrency=args.concurrency or 1,
        out=args.out or "runs/learn", quiet=args.no_progress)
    return learn.handle(ns)
