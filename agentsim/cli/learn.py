"""``agentsim learn``: the experience loop (train on one split, evaluate on another) and its curve."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agentsim.cli.common import add_model_options, settings_from_args


def _checkpoints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError("checkpoints must be non-negative integers")
    return values


def add_learn_options(p: argparse.ArgumentParser, test_default: str | None = "test") -> None:
    """Options of the learning protocol (shared with ``bench --learn``, where the test set defaults to
    ``--scenarios``)."""
    p.add_argument("--train", default="dev", help="training cases: dev | test | all | folder | AgentClinic .jsonl "
                                                  "(default dev)")
    p.add_argument("--test", default=test_default, help="evaluation cases, same forms (default test)")
    p.add_argument("--checkpoints", type=_checkpoints, default=[0, 25, 50, 100],
                   help="training-episode counts at which the test split is evaluated (default 0,25,50,100)")
    p.add_argument("--store", choices=["chroma", "memory"], default="chroma",
                   help="experience store: a fresh embedded Chroma collection (default) or in-process")
    p.add_argument("--memory-dir", default=None, help="Chroma folder for the run's memory (default OUT/memory)")
    p.add_argument("--chroma-url", default=None, help="use a `chroma run` server instead of an embedded store")
    p.add_argument("--max-test-cases", type=int, default=None, help="evaluate only the first N test cases")
    p.add_argument("--split-fraction", type=float, default=None,
                   help="split the --train cases by hashed id: this fraction becomes the test split "
                        "(--test is then ignored), e.g. 0.5 with an AgentClinic .jsonl")


def add_strategy_options(p: argparse.ArgumentParser, default: str = "plain") -> None:
    """``--doctor-strategy``, ``-O KEY=VALUE``, ``--doctor-bias``, ``--patient-bias`` (for any command
    that builds participants; pass the values on with :func:`strategy_settings`)."""
    p.add_argument("--doctor-strategy", default=default,
                   help=f"doctor strategy (default {default}): plain | cot | retrieval | experience | panel | "
                        "ensemble, combined with '+', e.g. experience+cot (panel and ensemble are exclusive)")
    p.add_argument("--strategy-option", "-O", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy option, e.g. -O ensemble_size=5 -O panel_rounds=2 -O patient_verifier=2 "
                        "(values parsed as JSON when possible)")
    p.add_argument("--doctor-bias", default="", help="doctor bias, e.g. confirmation, recency, implicit_race")
    p.add_argument("--patient-bias", default="", help="patient bias, e.g. self_diagnosis, implicit_gender")


def strategy_settings(args: argparse.Namespace) -> dict:
    """Settings keyword arguments from :func:`add_strategy_options` values."""
    return {"doctor_strategy": args.doctor_strategy, "strategy_options": parse_option_pairs(args.strategy_option),
            "doctor_bias": args.doctor_bias, "patient_bias": args.patient_bias}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``learn`` command."""
    p = sub.add_parser("learn", help="train-then-test experience loop and learning curve",
                       description="Run training episodes on one split (experience written after each), evaluate a "
                                   "fixed test split with memory writes off at each checkpoint, and write "
                                   "curve.json, learning_curve.png, train.jsonl and test.jsonl to --out. A case's "
                                   "own experience is never retrieved while it is evaluated.")
    add_model_options(p)
    add_learn_options(p)
    add_strategy_options(p, default="experience")
    p.add_argument("--max-turns", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=1, help="episodes in flight (training batches and evaluation)")
    p.add_argument("--out", default="runs/learn", help="output folder (default runs/learn)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=handle)


def parse_option_pairs(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings to a dict (JSON values where they parse)."""
    from agentsim.errors import ConfigError

    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--strategy-option {pair!r}: expected KEY=VALUE")
        k, v = pair.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def learn_config_from_args(args: argparse.Namespace, settings) -> object:
    """A :class:`~agentsim.strategies.learning.LearnConfig` from parsed options."""
    from agentsim.strategies.learning import LearnConfig

    return LearnConfig(train=args.train, test=args.test, checkpoints=args.checkpoints, settings=settings,
                       store=args.store, memory_dir=Path(args.memory_dir) if args.memory_dir else None,
                       chroma_url=args.chroma_url, concurrency=args.concurrency, out=Path(args.out),
                       max_test_cases=args.max_test_cases, split_fraction=args.split_fraction)


def handle(args: argparse.Namespace) -> int:
    """Run the protocol and print the curve."""
    from agentsim.strategies.learning import run_learn

    settings = settings_from_args(args, max_turns=args.max_turns, seed=args.seed, **strategy_settings(args))
    cfg = learn_config_from_args(args, settings)
    curve = run_learn(cfg, progress=not args.quiet)
    print(f"Learning curve: strategy {curve.strategy}, {settings.describe()}, "
          f"{len(curve.train_cases)} training cases, {len(curve.test_cases)} test cases")
    print(curve.table())
    print(f"own-case hits dropped by the guard: {curve.own_case_hits_dropped} (must be 0 for a store that honours "
          f"exclude_case_id)")
    print(f"Wrote {Path(args.out) / 'curve.json'} and {Path(args.out) / 'learning_curve.png'}")
    return 0
