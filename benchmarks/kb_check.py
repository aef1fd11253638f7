"""Internal consistency of the offline knowledge base: can the reasoner find each disease from its own entry?

For every KB disease, a "textbook patient" is built from the disease's own entry: its findings
with frequency >= ``--min-freq`` as present, and every KB test showing its characteristic result,
at an age inside the disease's range and of a compatible sex. The reasoner must rank the disease
first (top-1) or in the top 3. A disease that loses to another is either under-specified (too few
distinctive findings) or shadowed by a near-duplicate entry; the report lists those with the
winner, so the entry can be written better. This is a check on the KB's wording and coverage,
not an accuracy figure: the patient is ideal.

    python benchmarks/kb_check.py                  # summary + the failures
    python benchmarks/kb_check.py --no-tests --min-freq 0.5   # harder: typical findings only
    python benchmarks/kb_check.py --specialty cardiology --json out.json
"""

# No "from __future__ import annotations": pydantic models must resolve when loaded by path.
import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

from pydantic import BaseModel  # noqa: E402

from agentsim.offline.kb import KBDisease, default_kb, duplicate_labels  # noqa: E402
from agentsim.offline.reasoner import Differential, KBIndex, kb_index  # noqa: E402


class CheckRow(BaseModel):
    """One disease's self-check outcome."""

    id: str
    name: str
    specialty: str
    rank: int  # 1-based; 0 when not in the top 10
    winner: str


def _patient_age(d: KBDisease) -> float:
    lo, hi = d.age_min, min(d.age_max, 90)
    return float(lo + (hi - lo) / 3) if hi > lo else float(lo)


def check_disease(index: KBIndex, i: int, min_freq: float, tests: bool = True) -> CheckRow:
    """Rank of disease ``i`` when the reasoner is given its own typical findings and test results."""
    d = index.diseases[i]
    age = _patient_age(d)
    sex = d.sex if d.sex != "any" else "unknown"
    diff = Differential(index, age=age, sex=sex)
    diff.observe_demographics(age, sex)
    for f in d.findings:
        if f.frequency >= min_freq:
            diff.observe_finding(f.text, present=True)
    if tests:
        for t in d.tests:
            diff.observe_test(t.test, t.result)
    ranked = diff.ranked(10)
    names = [r.name for r in ranked]
    rank = names.index(d.name) + 1 if d.name in names else 0
    return CheckRow(id=d.id, name=d.name, specialty=d.specialty, rank=rank, winner=names[0] if names else "")


def main(argv: list[str] | None = None) -> int:
    """Run the check and print the summary, per specialty and failures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-freq", type=float, default=0.3, help="findings at least this frequent are shown")
    ap.add_argument("--no-tests", action="store_true",
                    help="history and examination only: harder, shows entries whose findings are not distinctive")
    ap.add_argument("--specialty", default=None, help="only diseases of this specialty")
    ap.add_argument("--json", type=Path, default=None, help="write every row here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    index = kb_index(default_kb())
    load_s = time.perf_counter() - t0
    rows = [check_disease(index, i, args.min_freq, tests=not args.no_tests) for i, d in enumerate(index.diseases)
            if args.specialty is None or d.specialty == args.specialty]
    if not rows:
        print(f"no diseases of specialty {args.specialty!r}", file=sys.stderr)
        return 2
    n = len(rows)
    top1 = sum(r.rank == 1 for r in rows)
    top3 = sum(1 <= r.rank <= 3 for r in rows)
    print(f"KB self-check: {n} diseases, top-1 {top1 / n:.1%}, top-3 {top3 / n:.1%} "
          f"(load {load_s:.1f} s, min finding frequency {args.min_freq}"
          f"{', no tests' if args.no_tests else ''})")
    by: dict[str, list[CheckRow]] = defaultdict(list)
    for r in rows:
        by[r.specialty].append(r)
    print("\n| specialty | diseases | top-1 | top-3 |\n|---|---|---|---|")
    for spec, rs in sorted(by.items()):
        print(f"| {spec} | {len(rs)} | {sum(r.rank == 1 for r in rs) / len(rs):.0%} "
              f"| {sum(1 <= r.rank <= 3 for r in rs) / len(rs):.0%} |")
    dups = duplicate_labels(index.kb)
    print(f"\nDuplicate labels (one label naming two diseases; lookups resolve it to the first): {len(dups)}")
    for label, first, other in dups:
        print(f"  {label!r}: {first} / {other}")
    misses = [r for r in rows if r.rank != 1]
    if misses:
        print("\nNot ranked first (disease -> rank, winner):")
        for r in misses:
            print(f"  {r.id}: rank {r.rank or '>10'}, beaten by {r.winner}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.model_dump() for r in rows], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
