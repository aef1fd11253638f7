"""Learning curve: test-split accuracy after 0, 25, 50, 100, ... training episodes.

Runs the train-then-test protocol of :mod:`agentsim.strategies.learning` (experience written
after every training episode; the fixed test split evaluated with writes off at each checkpoint;
a case's own experience never retrieved) for the chosen strategy, and a ``plain`` control on the
same test split (a doctor that ignores memory must give a flat line: any slope there would be
noise from the protocol, not learning). Prints the table and writes JSON and a PNG plot.

    python benchmarks/learning_curve.py                       # offline engine, dev -> test
    python benchmarks/learning_curve.py --train dev,/work/shared/data/agentclinic/medqa_dev.jsonl \
        --checkpoints 0,25,50,100,200
    python benchmarks/learning_curve.py --backend openai --model M --base-url URL --strategy experience+cot

    python benchmarks/learning_curve.py --train /work/shared/data/agentclinic/medqa_dev.jsonl \
        --split-fraction 0.5 --name learning_curve_medqa

Outputs: benchmarks/results/<name>.json and <name>.png (``--out``/``--name`` to change).
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


def _plot(curves: dict[str, object], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, (label, curve) in enumerate(curves.items()):
        color = colors[n % len(colors)]
        xs = [p.train_episodes for p in curve.points]
        ys = [100 * p.accuracy for p in curve.points]
        ax.fill_between(xs, [100 * p.lo for p in curve.points], [100 * p.hi for p in curve.points], alpha=0.12,
                        color=color)
        ax.plot(xs, ys, marker="o", color=color, label=f"{label}: top-1 (shaded: 95% CI)")
        ax.plot(xs, [100 * p.top3 for p in curve.points], marker=".", linestyle=":", color=color,
                label=f"{label}: top-3")
    ax.set_xlabel("training episodes (experience records written)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default="dev")
    ap.add_argument("--test", default="test")
    ap.add_argument("--split-fraction", type=float, default=None,
                    help="split --train by hashed case id; this fraction is the test split (--test ignored)")
    ap.add_argument("--checkpoints", default="0,25,50,100")
    ap.add_argument("--strategy", default="experience", help="comma-separated strategies, e.g. "
                                                             "experience,retrieval+experience")
    ap.add_argument("--option", "-O", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--no-control", action="store_true", help="skip the plain control")
    ap.add_argument("--backend", default="offline", choices=["offline", "openai"])
    ap.add_argument("--model", default=None)
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--store", default="chroma", choices=["chroma", "memory"])
    ap.add_argument("--max-turns", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    ap.add_argument("--name", default="learning_curve", help="file stem of the JSON and PNG outputs")
    args = ap.parse_args(argv)

    import tempfile

    from agentsim.backends import settings_from_env
    from agentsim.cli.learn import parse_option_pairs
    from agentsim.strategies.learning import (
        InMemoryExperience,
        LearnConfig,
        hash_split,
        load_split,
        open_store,
        run_learning_curve,
    )

    checkpoints = [int(x) for x in args.checkpoints.split(",") if x.strip()]
    train = load_split(args.train)
    if args.split_fraction:
        train, test = hash_split(train, args.split_fraction, args.seed)
        args.test = f"{args.split_fraction:.0%} of {args.train} by hashed id"
    else:
        test = load_split(args.test)
    overlap = {ls.scenario.id for ls in train} & {ls.scenario.id for ls in test}
    print(f"train: {len(train)} cases ({args.train}); test: {len(test)} cases ({args.test}); "
          f"overlap: {len(overlap)} (their own records are excluded at evaluation)", flush=True)
    out = Path(args.out)
    curves = {}
    timings = {}
    strategies = [x for x in args.strategy.split(",") if x.strip()]
    if not args.no_control and "plain" not in strategies:
        strategies.append("plain")
    with tempfile.TemporaryDirectory(prefix="agentsim-learn-") as tmp:
        for strategy in strategies:
            settings = settings_from_env(backend=args.backend, model=args.model, base_url=args.base_url,
                                         max_turns=args.max_turns, seed=args.seed, doctor_strategy=strategy,
                                         strategy_options=parse_option_pairs(args.option) if strategy != "plain"
                                         else {})
            if args.store == "memory":
                store = InMemoryExperience()
            else:
                store = open_store(LearnConfig(out=Path(tmp) / strategy.replace("+", "_"), store="chroma"))
            # The control does not read memory, so training cannot change it: one evaluation per
            # checkpoint still runs, to show the protocol itself adds no drift.
            t0 = time.time()

            def tick(phase: str, r: object, _s: str = strategy) -> None:
                if phase.startswith("test@") and r.case_id == test[-1].scenario.id:
                    print(f"  [{_s}] evaluated after {phase[5:]} training episodes", flush=True)

            curve, _tr, _te = asyncio.run(run_learning_curve(train, test, settings, store, checkpoints,
                                                             concurrency=args.concurrency, on_result=tick))
            timings[strategy] = time.time() - t0
            curves[strategy] = curve
            print(f"\n== {strategy} ({settings.describe()}), {timings[strategy]:.0f}s ==")
            print(curve.table())
            print(f"own-case hits dropped by the guard: {curve.own_case_hits_dropped}\n", flush=True)
    def short(spec: str) -> str:
        return ", ".join(Path(part).name for part in spec.split(","))

    title = f"Learning curve ({args.backend}): train {short(args.train)} ({len(train)}), test {len(test)} cases"
    if args.split_fraction:
        title += f" (hashed {args.split_fraction:.0%} hold-out)"
    png = out / f"{args.name}.png"
    _plot(curves, png, title)
    payload = {"train": args.train, "test": args.test, "checkpoints": checkpoints, "backend": args.backend,
               "seconds": timings, "curves": {k: v.model_dump(mode="json") for k, v in curves.items()}}
    (out / f"{args.name}.json").write_text(json.dumps(payload, indent=1))
    print(f"wrote {png} and {out / (args.name + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
