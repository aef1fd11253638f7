"""Quality and speed of the offline engine (knowledge-base doctor + fact-grounded patient).

For each case set, two measurements:

* **interactive**: a full episode (offline doctor, offline patient, rule-based measurement agent,
  offline scorer): top-1 and top-3 accuracy, mean turns, mean clinical cost, CPU seconds per
  episode and episodes per second (after the model and the knowledge-base index are loaded);
* **whole case** (upper bound): the same reasoner handed every patient fact, examination finding
  and test result at once, without asking anything. The gap between the two is the cost of
  interaction (what the questioning policy fails to elicit); the whole-case figure itself measures
  the reasoner and the knowledge base.

It also reports *KB coverage*: the share of cases whose correct diagnosis is a knowledge-base
disease (by the scorer's own matching), which caps what the offline doctor can get right.

Case sets: ``test``/``dev``/``all`` (shipped cases by split), ``medqa``/``nejm`` (the shared
AgentClinic development files, converted by the importer), or any case folder or ``.jsonl`` file::

    python benchmarks/offline_accuracy.py                          # test, medqa, nejm
    python benchmarks/offline_accuracy.py --sets medqa --limit 20 --json out.json
"""

# No "from __future__ import annotations": pydantic models must resolve when loaded by path.
import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
               "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

from pydantic import BaseModel, Field  # noqa: E402

from agentsim.agents.measurement import MeasurementAgent  # noqa: E402
from agentsim.bench.cases import resolve_cases  # noqa: E402
from agentsim.episode import EpisodeConfig, run_episode  # noqa: E402
from agentsim.offline.doctor import OfflineDoctor  # noqa: E402
from agentsim.offline.patient import OfflinePatient  # noqa: E402
from agentsim.offline.reasoner import Differential, KBIndex, kb_index  # noqa: E402
from agentsim.scenario import LoadedScenario  # noqa: E402
from agentsim.scoring import OfflineScorer  # noqa: E402
from agentsim.views import CaseViews, build_views  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED_AGENTCLINIC = REPO.parent / "shared" / "data" / "agentclinic"
ALIASES = {"medqa": SHARED_AGENTCLINIC / "medqa_dev.jsonl", "nejm": SHARED_AGENTCLINIC / "nejm_dev.jsonl"}


class CaseRow(BaseModel):
    """One case's outcome in both modes."""

    case_id: str
    specialty: str
    answer: str
    in_kb: bool
    diagnosis: str | None = None
    top1: bool = False
    top3: bool = False
    turns: int = 0
    questions: int = 0
    tests: int = 0
    cost_usd: float = 0.0
    cpu_s: float = 0.0
    error: str | None = None
    whole_diagnosis: str = ""
    whole_top1: bool = False
    whole_top3: bool = False


class Summary(BaseModel):
    """Aggregates over a group of cases."""

    n: int
    top1: float
    top3: float
    whole_top1: float
    whole_top3: float
    mean_turns: float
    mean_cost_usd: float
    kb_coverage: float


class SetReport(BaseModel):
    """All results for one case set."""

    name: str
    total: Summary
    by_specialty: dict[str, Summary] = Field(default_factory=dict)
    episodes_per_s: float = 0.0
    cpu_s_per_episode: float = 0.0
    whole_cases_per_s: float = 0.0
    import_failures: list[str] = Field(default_factory=list)
    rows: list[CaseRow] = Field(default_factory=list)


def whole_case_differential(views: CaseViews, index: KBIndex) -> Differential:
    """The reasoner given the whole case at once (the upper bound of the interactive doctor)."""
    d, f = views.doctor, views.patient.facts
    diff = Differential(index, age=d.age_years, sex=d.sex)
    diff.observe_demographics(d.age_years, d.sex)
    diff.observe_text(d.demographics, source="demographics")
    diff.observe_text(d.opening_line, source="opening")
    diff.observe_text(d.objective, source="objective", weight=0.8)
    for text in (f.history_of_present_illness, f.past_medical_history, f.medications, f.social_history,
                 f.family_history, f.review_of_systems):
        if text:
            diff.observe_text(text, source="history")
    for s in f.symptoms:
        diff.observe_text(s.name + (f". {s.detail}" if s.detail else ""), source="symptom")
    for x in f.denied_symptoms:
        diff.observe_finding(x, present=False)
    for e in views.measurement.exam:
        # with its name, as the measurement agent reports it: "120/min" alone is no heart rate
        diff.observe_text(f"{e.name}: {e.result}", source="exam")
    for t in views.measurement.tests:
        diff.observe_test(t.name, t.result)
    return diff


def _in_kb(scorer: OfflineScorer, views: CaseViews, index: KBIndex) -> bool:
    d = index.disease_for_label(views.answer.diagnosis, min_similarity=0.8)
    if d is None:
        return False
    dis = index.diseases[d]
    return any(scorer.match(views.answer, n)[0] for n in [dis.name, *dis.synonyms])


def _summary(rows: list[CaseRow]) -> Summary:
    n = max(len(rows), 1)
    return Summary(n=len(rows), top1=sum(r.top1 for r in rows) / n, top3=sum(r.top3 for r in rows) / n,
                   whole_top1=sum(r.whole_top1 for r in rows) / n, whole_top3=sum(r.whole_top3 for r in rows) / n,
                   mean_turns=sum(r.turns for r in rows) / n, mean_cost_usd=sum(r.cost_usd for r in rows) / n,
                   kb_coverage=sum(r.in_kb for r in rows) / n)


async def evaluate(name: str, cases: list[LoadedScenario], max_turns: int, seed: int, episodes: bool = True,
                   whole: bool = True) -> SetReport:
    """Run both modes over ``cases``."""
    index = kb_index()
    scorer = OfflineScorer()
    rows: list[CaseRow] = []
    ep_wall = ep_cpu = whole_wall = 0.0
    for ls in cases:
        views = build_views(ls)
        row = CaseRow(case_id=views.case_id, specialty=views.specialty, answer=views.answer.diagnosis,
                      in_kb=_in_kb(scorer, views, index))
        if whole:
            t0 = time.perf_counter()
            ranked = whole_case_differential(views, index).ranked(5)
            whole_wall += time.perf_counter() - t0
            v = scorer.grade_sync(views.answer, ranked[0].name, [r.name for r in ranked[1:]])
            row.whole_diagnosis, row.whole_top1, row.whole_top3 = ranked[0].name, v.top_k_correct[1], v.top_k_correct[3]
        if episodes:
            c0, t0 = time.process_time(), time.perf_counter()
            res = await run_episode(ls, OfflineDoctor(), OfflinePatient(), MeasurementAgent(),
                                    EpisodeConfig(max_turns=max_turns, seed=seed), scorer=scorer, views=views)
            row.cpu_s = time.process_time() - c0
            ep_cpu += row.cpu_s
            ep_wall += time.perf_counter() - t0
            v = res.verdict
            row.diagnosis = res.diagnosis
            row.top1 = bool(v and v.top_k_correct.get(1))
            row.top3 = bool(v and v.top_k_correct.get(3))
            row.turns, row.questions, row.tests = res.turns, res.questions, len(res.tests_ordered)
            row.cost_usd = res.cost.clinical_usd
            row.error = res.error.message if res.error else None
        rows.append(row)
    groups: dict[str, list[CaseRow]] = defaultdict(list)
    for r in rows:
        groups[r.specialty].append(r)
    n = max(len(rows), 1)
    return SetReport(name=name, total=_summary(rows), rows=rows,
                     by_specialty={k: _summary(v) for k, v in sorted(groups.items())},
                     episodes_per_s=len(rows) / ep_wall if ep_wall else 0.0, cpu_s_per_episode=ep_cpu / n,
                     whole_cases_per_s=len(rows) / whole_wall if whole_wall else 0.0)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render(reports: list[SetReport]) -> str:
    """Markdown tables of the reports."""
    out = ["## Offline engine: accuracy and speed", "",
           "| set | cases | KB coverage | top-1 | top-3 | whole-case top-1 | whole-case top-3 | mean turns | "
           "mean cost | CPU s/episode | episodes/s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        t = r.total
        out.append(f"| {r.name} | {t.n} | {_pct(t.kb_coverage)} | {_pct(t.top1)} | {_pct(t.top3)} | "
                   f"{_pct(t.whole_top1)} | {_pct(t.whole_top3)} | {t.mean_turns:.1f} | ${t.mean_cost_usd:.0f} | "
                   f"{r.cpu_s_per_episode:.3f} | {r.episodes_per_s:.1f} |")
    for r in reports:
        out += ["", f"### {r.name}: by specialty", "",
                "| specialty | cases | KB coverage | top-1 | top-3 | whole top-1 | whole top-3 | turns | cost |",
                "|---|---|---|---|---|---|---|---|---|"]
        for spec, s in r.by_specialty.items():
            out.append(f"| {spec} | {s.n} | {_pct(s.kb_coverage)} | {_pct(s.top1)} | {_pct(s.top3)} | "
                       f"{_pct(s.whole_top1)} | {_pct(s.whole_top3)} | {s.mean_turns:.1f} | ${s.mean_cost_usd:.0f} |")
        if r.import_failures:
            out.append(f"\n{len(r.import_failures)} records could not be imported: " + "; ".join(r.import_failures[:5]))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="test,medqa,nejm", help="comma-separated: test, dev, all, medqa, nejm, "
                    "or a case folder / .jsonl file")
    ap.add_argument("--max-turns", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N cases of each set (0 = all)")
    ap.add_argument("--no-episodes", action="store_true", help="whole-case mode only")
    ap.add_argument("--no-whole", action="store_true", help="interactive mode only")
    ap.add_argument("--json", type=Path, help="write the full report (per case rows included) here")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="intra-op threads for the sentence embedder (0 = torch's default)")
    args = ap.parse_args(argv)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)

    t0 = time.perf_counter()
    kb_index()  # load the embedder and build or load the knowledge-base index once
    from agentsim.textembed import load_text_embedder

    load_text_embedder()
    load_s = time.perf_counter() - t0
    reports: list[SetReport] = []
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        spec = str(ALIASES.get(name, name))
        case_set = resolve_cases(spec)
        cases = case_set.cases[: args.limit] if args.limit else case_set.cases
        report = asyncio.run(evaluate(name, cases, args.max_turns, args.seed, episodes=not args.no_episodes,
                                      whole=not args.no_whole))
        report.import_failures = list(case_set.failures)
        reports.append(report)
        print(f"{name}: {report.total.n} cases done", file=sys.stderr, flush=True)
    print(render(reports))
    print(f"\nModel and index load: {load_s:.1f} s (not included in the per-episode figures).")
    if args.json:
        payload: dict[str, Any] = {"load_s": load_s, "max_turns": args.max_turns, "seed": args.seed,
                                   "torch_threads": args.torch_threads or "default",
                                   "reports": [r.model_dump() for r in reports]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
