"""Leakage audit: does the answer reach any participant?

For every shipped case (``scenarios/``) and every case imported from the AgentClinic files, count

* **raw leaks**: places where the case text itself names the diagnosis
  (:func:`agentsim.leakage.find_leaks`), split into exam/test text and everything else;
* **remaining leaks**: places where a participant's view (doctor, patient, measurement), after
  redaction, still names it. Each view is serialised to JSON and every string value is checked
  with :func:`agentsim.leakage.contains_answer` against the detection terms. This must be zero.

Prints a table per source, a total and examples; exits 1 if anything remains, 0 otherwise::

    python benchmarks/leakage_audit.py                      # shipped + shared AgentClinic files
    python benchmarks/leakage_audit.py --agentclinic a.jsonl --scenarios my_cases/ --examples 10
"""

# No "from __future__ import annotations": the pydantic models below must resolve even when this
# file is loaded by path (importlib) rather than imported as a module.
import argparse
import json
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentsim.errors import ScenarioError
from agentsim.importers.agentclinic import import_agentclinic, write_cases
from agentsim.leakage import contains_answer, find_leaks, leak_terms
from agentsim.scenario import LoadedScenario, default_scenarios_dir, iter_case_files, load_scenario
from agentsim.views import build_views

REPO = Path(__file__).resolve().parent.parent
SHARED_AGENTCLINIC = REPO.parent / "shared" / "data" / "agentclinic"
DEFAULT_AGENTCLINIC = (SHARED_AGENTCLINIC / "medqa_dev.jsonl", SHARED_AGENTCLINIC / "nejm_dev.jsonl")


class LeakExample(BaseModel):
    """One occurrence, for the printed examples."""

    case_id: str
    where: str = Field(description="case field path, or '<seat> view: <json path>' for remaining leaks")
    term: str
    excerpt: str


class SourceAudit(BaseModel):
    """Counts for one source of cases (a folder or an imported file)."""

    source: str
    cases: int = 0
    import_failures: list[tuple[int, str]] = Field(default_factory=list)
    invalid_files: list[str] = Field(default_factory=list, description="case files that failed to load")
    raw_leaks: int = 0
    raw_leaks_exam_tests: int = 0
    cases_leaking: int = 0
    cases_leaking_exam_tests: int = 0
    remaining: int = 0
    raw_examples: list[LeakExample] = Field(default_factory=list)
    remaining_examples: list[LeakExample] = Field(default_factory=list)


class AuditReport(BaseModel):
    """The whole audit."""

    sources: list[SourceAudit]

    def total(self, field: str) -> int:
        return sum(getattr(s, field) for s in self.sources)

    @property
    def ok(self) -> bool:
        return self.total("remaining") == 0


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(json path, string) for every string value of a JSON-mode dump (keys are not checked)."""
    if isinstance(value, str):
        yield path or "<root>", value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def remaining_leaks(loaded: LoadedScenario) -> list[LeakExample]:
    """Places in the redacted participant views that still name the answer."""
    views = build_views(loaded)
    terms = leak_terms(loaded.scenario.diagnosis)
    out = []
    for seat, view in (("doctor", views.doctor), ("patient", views.patient), ("measurement", views.measurement)):
        data = json.loads(view.model_dump_json())
        for path, text in _strings(data):
            if contains_answer(text, terms):
                out.append(LeakExample(case_id=loaded.scenario.id, where=f"{seat} view: {path}",
                                       term=next(t for t in terms if contains_answer(text, [t])), excerpt=text[:120]))
    return out


def audit_cases(source: str, cases: Sequence[LoadedScenario], max_examples: int = 5) -> SourceAudit:
    """Audit already-loaded cases."""
    res = SourceAudit(source=source, cases=len(cases))
    for ls in cases:
        leaks = find_leaks(ls.scenario)
        in_exam_tests = [lk for lk in leaks if lk.field.startswith(("exam[", "tests["))]
        res.raw_leaks += len(leaks)
        res.raw_leaks_exam_tests += len(in_exam_tests)
        res.cases_leaking += bool(leaks)
        res.cases_leaking_exam_tests += bool(in_exam_tests)
        if leaks and len(res.raw_examples) < max_examples:
            lk = leaks[0]
            res.raw_examples.append(LeakExample(case_id=ls.scenario.id, where=lk.field, term=lk.term,
                                                excerpt=lk.excerpt))
        remaining = remaining_leaks(ls)
        res.remaining += len(remaining)
        res.remaining_examples += remaining[: max(0, max_examples - len(res.remaining_examples))]
    return res


def audit_agentclinic(path: str | Path, out_dir: str | Path, max_examples: int = 5) -> SourceAudit:
    """Import one AgentClinic file, write the cases to ``out_dir``, load them back and audit them."""
    report = import_agentclinic(path)
    target = Path(out_dir) / Path(path).stem
    files = write_cases(report, target)
    res = audit_cases(f"imported {Path(path).name}", [load_scenario(f) for f in files], max_examples)
    res.import_failures = list(report.failures)
    return res


def run_audit(scenarios_dir: str | Path | None = None, agentclinic_files: Sequence[str | Path] = DEFAULT_AGENTCLINIC,
              work_dir: str | Path | None = None, max_examples: int = 5) -> AuditReport:
    """Audit shipped cases and imported AgentClinic files (missing files are skipped)."""
    root = Path(scenarios_dir) if scenarios_dir else default_scenarios_dir()
    sources = []
    if root.exists():
        loaded, invalid = [], []
        for f in iter_case_files(root):
            try:
                loaded.append(load_scenario(f))
            except ScenarioError as exc:  # reported, not fatal: the audit is about the valid cases
                invalid.append(str(exc))
        shipped = audit_cases(f"shipped {root.name}/", loaded, max_examples)
        shipped.invalid_files = invalid
        sources.append(shipped)
    files = [Path(f) for f in agentclinic_files if Path(f).is_file()]
    if files:
        with tempfile.TemporaryDirectory(prefix="agentsim-leak-audit-") as tmp:
            for f in files:
                sources.append(audit_agentclinic(f, work_dir or tmp, max_examples))
    return AuditReport(sources=sources)


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "-"


def print_report(report: AuditReport, out=sys.stdout) -> None:
    """Human-readable table, totals and examples."""
    print("raw = the case text names the diagnosis; remaining = a redacted participant view still does\n", file=out)
    hdr = (f"{'source':28s} {'cases':>5s} | {'raw leaks':>9s} {'exam/tests':>10s} | {'cases leaking':>14s} "
           f"{'exam/tests':>14s} | {'remaining':>9s}")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)

    def row(name: str, cases: int, raw: int, raw_et: int, leaking: int, leaking_et: int, remaining: int) -> str:
        return (f"{name:28s} {cases:5d} | {raw:9d} {raw_et:10d} | {leaking:6d} {_pct(leaking, cases):>7s} "
                f"{leaking_et:6d} {_pct(leaking_et, cases):>7s} | {remaining:9d}")

    fields = ("cases", "raw_leaks", "raw_leaks_exam_tests", "cases_leaking", "cases_leaking_exam_tests", "remaining")
    for s in report.sources:
        print(row(s.source, *(getattr(s, f) for f in fields)), file=out)
    print("-" * len(hdr), file=out)
    print(row("total", *(report.total(f) for f in fields)), file=out)
    for s in report.sources:
        for name in s.invalid_files:
            print(f"  invalid case file skipped: {name}", file=out)
    imported = [s for s in report.sources if s.source.startswith("imported")]
    if imported:
        n = sum(s.cases for s in imported)
        k = sum(s.cases_leaking_exam_tests for s in imported)
        print(f"\nImported cases naming the diagnosis in exam/test text: {k} of {n} ({_pct(k, n)})", file=out)
        for s in imported:
            for line, reason in s.import_failures:
                print(f"  import failure {s.source} line {line}: {reason}", file=out)
    examples = [e for s in report.sources for e in s.raw_examples]
    if examples:
        print("\nExamples of raw leaks (redacted from every view):", file=out)
        for e in examples[:12]:
            print(f"  {e.case_id:28s} {e.where:22s} {e.term!r}: ...{e.excerpt}...", file=out)
    remaining = [e for s in report.sources for e in s.remaining_examples]
    if remaining:
        print("\nREMAINING leaks in participant views:", file=out)
        for e in remaining:
            print(f"  {e.case_id:28s} {e.where}: {e.term!r}: {e.excerpt}", file=out)
    print(f"\n{'OK: no participant view names the answer.' if report.ok else 'FAIL: answers reach participants.'}",
          file=out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", default=None, help="case folder (default: the shipped scenarios/)")
    p.add_argument("--agentclinic", nargs="*", default=[str(f) for f in DEFAULT_AGENTCLINIC],
                   help="AgentClinic JSONL files to import and audit (default: the shared dev files)")
    p.add_argument("--out", default=None, help="keep the imported case files here (default: a temporary folder)")
    p.add_argument("--examples", type=int, default=5, help="examples per source")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    report = run_audit(args.scenarios, args.agentclinic, args.out, args.examples)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
