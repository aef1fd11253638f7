"""``agentsim scenarios list|validate|import``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``scenarios`` command group."""
    p = sub.add_parser("scenarios", help="list, validate or import case files")
    ssub = p.add_subparsers(dest="scenarios_command", metavar="ACTION", required=True)
    pl = ssub.add_parser("list", help="list cases")
    pl.add_argument("path", nargs="?", default=None, help="folder or file (default: shipped scenarios/)")
    pl.add_argument("--split", choices=["dev", "test", "imported"], default=None)
    pl.set_defaults(func=handle_list)
    pv = ssub.add_parser("validate", help="validate case files and report answer leaks")
    pv.add_argument("path", nargs="?", default=None, help="folder or file (default: shipped scenarios/)")
    pv.set_defaults(func=handle_validate)
    pi = ssub.add_parser("import", help="convert cases from another benchmark format into case files",
                         description="Convert a file of cases into one validated JSON case file per case. "
                                     "Malformed records are reported with their line number and skipped. "
                                     "Exit status: 0 all converted, 1 some records skipped, 2 unreadable file.")
    pi.add_argument("file", help="input file, e.g. an AgentClinic .jsonl (MedQA or NEJM records)")
    pi.add_argument("--format", choices=["agentclinic"], required=True, help="input format")
    pi.add_argument("--out", required=True, help="output folder for the case files (created if missing)")
    pi.set_defaults(func=handle_import)


def _root(path: str | None):
    from agentsim.scenario import default_scenarios_dir

    return path or default_scenarios_dir()


def handle_list(args: argparse.Namespace) -> int:
    """Print one line per case."""
    from agentsim.scenario import load_scenarios

    cases = load_scenarios(_root(args.path), split=args.split)
    for ls in cases:
        s = ls.scenario
        img = f"{len(s.images)} img" if s.images else "-"
        print(f"{s.id:40s} {s.specialty:22s} {s.split:8s} {s.age_group or '':12s} {img:6s} {s.title}")
    print(f"{len(cases)} cases")
    return 0


def handle_validate(args: argparse.Namespace) -> int:
    """Validate every file (all errors, not just the first) and list answer leaks with field paths."""
    from agentsim.errors import ScenarioError
    from agentsim.leakage import find_leaks
    from agentsim.scenario import iter_case_files, load_scenario

    files = iter_case_files(_root(args.path))
    bad = leaks = 0
    for f in files:
        try:
            ls = load_scenario(f)
        except ScenarioError as exc:
            bad += 1
            print(f"INVALID {exc}")
            continue
        for leak in find_leaks(ls.scenario):
            leaks += 1
            print(f"LEAK    {f}: case {ls.scenario.id!r} field {leak.field!r}: names the diagnosis as "
                  f"{leak.term!r}: ...{leak.excerpt}...")
    print(f"{len(files)} files: {len(files) - bad} valid, {bad} invalid, {leaks} answer leaks "
          "(leaks are redacted from participant views)")
    return 1 if bad else 0


def handle_import(args: argparse.Namespace) -> int:
    """Convert, write, and summarise (including how many cases name the diagnosis in their text)."""
    from agentsim.importers.agentclinic import import_agentclinic, write_cases
    from agentsim.leakage import find_leaks

    report = import_agentclinic(args.file)
    written = write_cases(report, args.out)
    for line, reason in report.failures:
        print(f"SKIPPED {args.file} line {line}: {reason}")
    leaking = sum(1 for s in report.scenarios if find_leaks(s))
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.variants.items())) or "none"
    print(f"{len(written)} cases written to {args.out} ({kinds}); {len(report.failures)} records skipped; "
          f"{leaking} cases name the diagnosis in their text (redacted from participant views)")
    return 1 if report.failures else 0
