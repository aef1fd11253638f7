"""Reports over one or more run directories: a self-contained HTML page and a terminal table.

The HTML has no external assets (inline CSS and SVG), so it can be mailed or archived as one
file: summary table with bootstrap CIs, an accuracy-vs-cost scatter with one point per run,
breakdowns by specialty and dataset, pass^k, per-case outcomes linking to the embedded
transcripts, and per-case wins/losses of every run against the first.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentsim.bench.metrics import Comparison, Estimate, GroupStats, RunSummary, by_case, compare, summarize
from agentsim.bench.runner import Manifest, load_run_records, read_manifest
from agentsim.errors import ConfigError
from agentsim.results import EpisodeResult

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


@dataclass
class RunData:
    """One run directory loaded for reporting."""

    label: str
    run_dir: Path
    manifest: Manifest | None
    records: list[EpisodeResult]
    summary: RunSummary


def load_run(run_dir: str | Path, label: str | None = None) -> RunData:
    """Load a run's records and compute its summary."""
    p = Path(run_dir)
    if p.is_dir() and not (p / "episodes.jsonl").exists() and (p / "test.jsonl").exists():
        records = _learning_final_records(p)
    else:
        records = load_run_records(p)
    if not records:
        raise ConfigError(f"{p}: no finished episodes to report")
    manifest = read_manifest(p) if p.is_dir() else None
    name = label or (manifest.name if manifest else "") or p.name
    return RunData(label=name, run_dir=p, manifest=manifest, records=records, summary=summarize(records, name))


def _learning_final_records(p: Path) -> list[EpisodeResult]:
    """A ``bench --learn`` / ``agentsim learn`` folder: the test episodes of its last checkpoint."""
    from agentsim.api import load_results

    records = load_results(p / "test.jsonl")
    last = max((r.metadata.get("learning", {}).get("train_episodes", 0) for r in records), default=0)
    return [r for r in records if r.metadata.get("learning", {}).get("train_episodes", 0) == last]


def _learning_html(r: RunData) -> str:
    """The learning-curve plot and table, when the run folder holds one."""
    png = r.run_dir / "learning_curve.png"
    curve_file = r.run_dir / "curve.json"
    if not (r.run_dir.is_dir() and png.exists() and curve_file.exists()):
        return ""
    import base64

    curve = json.loads(curve_file.read_text(encoding="utf-8")).get("curve", {})
    rows = "".join(f"<tr><td>{pt['train_episodes']}</td><td>{pt['memory_records']}</td>"
                   f"<td>{100 * pt['accuracy']:.1f}% [{100 * pt['lo']:.1f}, {100 * pt['hi']:.1f}]</td>"
                   f"<td>{100 * pt['top3']:.1f}%</td></tr>" for pt in curve.get("points", []))
    img = base64.b64encode(png.read_bytes()).decode()
    return (f"<h3>Learning curve ({_e(curve.get('strategy', ''))}; test accuracy after N training episodes)</h3>"
            f"<img alt='learning curve' style='max-width:640px' src='data:image/png;base64,{img}'>"
            "<table><tr><th>training episodes</th><th>memory records</th><th>accuracy [95% CI]</th>"
            f"<th>top-3</th></tr>{rows}</table>")


def _bias_and_verifier_html(r: RunData) -> str:
    """Accuracy per bias condition and patient-verifier corrections, when the run used them."""
    from agentsim.agents.verifier import verifier_stats
    from agentsim.biases import bias_breakdown

    out = []
    rows = bias_breakdown(r.records)
    if any(b.doctor_bias != "none" or b.patient_bias != "none" for b in rows):
        body = "".join(f"<tr><td class=l>{_e(b.doctor_bias)}</td><td class=l>{_e(b.patient_bias)}</td><td>{b.n}</td>"
                       f"<td>{100 * b.accuracy:.1f}% [{100 * b.lo:.1f}, {100 * b.hi:.1f}]</td>"
                       f"<td>{'' if b.delta is None else f'{100 * b.delta:+.1f}'}</td></tr>" for b in rows)
        out.append("<h3>Accuracy by bias</h3><table><tr><th class=l>doctor bias</th><th class=l>patient bias</th>"
                   f"<th>episodes</th><th>accuracy [95% CI]</th><th>vs no bias</th></tr>{body}</table>")
    v = verifier_stats(r.records)
    if v.replies:
        out.append(f"<h3>Patient verifier</h3><p>{v.replies} patient replies checked, {v.corrected} corrected, "
                   f"{v.unresolved} unresolved, {v.regenerations} regenerations ({v.calls} extra calls).</p>")
    return "".join(out)


def _unique_labels(runs: list[RunData]) -> None:
    seen: dict[str, int] = {}
    for r in runs:
        if r.label in seen:
            seen[r.label] += 1
            r.label = f"{r.label} ({seen[r.label]})"
            r.summary.label = r.label
        else:
            seen[r.label] = 1


# ----- terminal -----

def _money(x: float) -> str:
    return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def terminal_summary(runs: list[RunData]) -> str:
    """A plain-text summary table (and comparisons when several runs are given)."""
    lines = []
    head = (f"{'run':24s} {'cases':>5s} {'eps':>5s} {'accuracy [95% CI]':>22s} {'top-3':>6s} {'pass^k':>12s} "
            f"{'turns':>5s} {'tests':>5s} {'cost/case':>10s} {'tokens/case':>11s} {'errors':>8s}")
    lines.append(head)
    lines.append("-" * len(head))
    for r in runs:
        s = r.summary
        k = s.trials
        pk = f"^{k} {100 * s.pass_hat_k[k].value:.1f}%" if k > 1 else "-"
        errs = ",".join(f"{kind[:5]}={n}" for kind, n in sorted(s.errors.items())) or "0"
        lines.append(f"{r.label[:24]:24s} {s.n_cases:5d} {s.n_episodes:5d} {s.accuracy.fmt(pct=True):>22s} "
                     f"{100 * s.top_k[3].value:5.1f}% {pk:>12s} {s.mean_turns.value:5.1f} "
                     f"{s.tests_per_case.value:5.1f} {_money(s.cost_per_case.value):>10s} "
                     f"{s.tokens_per_case.value:11,.0f} {errs:>8s}")
        if s.agreement is not None:
            a = s.agreement
            kappa = f", kappa {a.kappa:.2f}" if a.kappa is not None else ""
            lines.append(f"{'':24s} judge vs offline scorer: {100 * a.rate:.1f}% agreement on {a.n}{kappa}")
        if s.errors.get("infrastructure"):
            lines.append(f"{'':24s} {s.errors['infrastructure']} infrastructure error(s): rerun with --resume to "
                         "retry them")
    for c in _comparisons(runs):
        if not c.n_shared:
            lines.append(f"{c.other} vs {c.baseline}: no shared cases")
            continue
        lines.append(f"{c.other} vs {c.baseline}: {c.wins} wins, {c.losses} losses, {c.ties} ties on {c.n_shared} "
                     f"shared cases; accuracy difference {100 * c.accuracy_diff.value:+.1f} points "
                     f"[{100 * c.accuracy_diff.lo:+.1f}, {100 * c.accuracy_diff.hi:+.1f}]")
    return "\n".join(lines)


def _comparisons(runs: list[RunData]) -> list[Comparison]:
    if len(runs) < 2:
        return []
    base = runs[0]
    return [compare(base.records, r.records, base.label, r.label) for r in runs[1:]]


# ----- HTML -----

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin-top:20px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.ok{color:#18794e;font-weight:600}.bad{color:#c62828;font-weight:600}.err{color:#b26a00;font-weight:600}
.muted{color:#777}.cell a{text-decoration:none;margin-right:2px}
details{margin:4px 0;border:1px solid #eee;padding:4px 8px;border-radius:4px}
details summary{cursor:pointer;font-size:13px}
.msg{font-size:13px;margin:3px 0;white-space:pre-wrap}.role{font-weight:600;display:inline-block;min-width:92px}
.r-doctor{color:#1f4e96}.r-patient{color:#2e7d32}.r-measurement{color:#6a1b9a}.r-system,.r-tool{color:#777}
.reason{color:#888;font-style:italic}code{font-size:12px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pct(e: Estimate) -> str:
    if e.n == 0:
        return "-"
    return f"{100 * e.value:.1f}% <span class=muted>[{100 * e.lo:.1f}, {100 * e.hi:.1f}]</span>"


def _num(e: Estimate, money: bool = False, digits: int = 1) -> str:
    if e.n == 0:
        return "-"
    f = (lambda x: f"${x:,.{0 if abs(x) >= 100 else 2}f}") if money else (lambda x: f"{x:,.{digits}f}")
    return f"{f(e.value)} <span class=muted>[{f(e.lo)}, {f(e.hi)}]</span>"


def _anchor(run_idx: int, case_id: str, trial: int) -> str:
    return f"ep-{run_idx}-{case_id}-{trial}".replace(" ", "_")


def _summary_table(runs: list[RunData]) -> str:
    rows = []
    for i, r in enumerate(runs):
        s = r.summary
        k = s.trials
        errs = ", ".join(f"{kind} {n}" for kind, n in sorted(s.errors.items())) or "0"
        agree = "-"
        if s.agreement is not None:
            a = s.agreement
            agree = f"{100 * a.rate:.1f}% (n={a.n}" + (f", &kappa;={a.kappa:.2f})" if a.kappa is not None else ")")
        color = PALETTE[i % len(PALETTE)]
        rows.append(
            f"<tr><td class=l><span style='color:{color}'>&#9679;</span> <a href='#run-{i}'>{_e(r.label)}</a></td>"
            f"<td>{s.n_cases}</td><td>{s.n_episodes}</td><td>{s.trials}</td><td>{_pct(s.accuracy)}</td>"
            f"<td>{_pct(s.top_k[3])}</td><td>{_pct(s.top_k[5])}</td>"
            f"<td>{_pct(s.pass_hat_k[k]) if k > 1 else '-'}</td><td>{_num(s.mean_turns)}</td>"
            f"<td>{_num(s.tests_per_case)}</td><td>{_num(s.cost_per_case, money=True)}</td>"
            f"<td>{_num(s.token_cost_per_case, money=True)}</td><td>{_num(s.tokens_per_case, digits=0)}</td>"
            f"<td class=l>{_e(errs)}</td><td>{agree}</td></tr>")
    return ("<table><tr><th class=l>run</th><th>cases</th><th>episodes</th><th>trials</th>"
            "<th>top-1 accuracy [95% CI]</th><th>top-3</th><th>top-5</th><th>pass^k (k = trials)</th>"
            "<th>turns</th><th>tests/case</th><th>clinical cost/case</th><th>token cost/case</th>"
            "<th>tokens/case</th><th class=l>errors</th><th>judge/offline agreement</th></tr>"
            + "".join(rows) + "</table>")


def scatter_svg(runs: list[RunData], width: int = 640, height: int = 380) -> str:
    """Accuracy (y) against clinical cost per case (x): one point per run with 95% CI bars."""
    ml, mr, mt, mb = 60, 20, 20, 48
    xs = [r.summary.cost_per_case for r in runs]
    xmax = max([e.hi for e in xs if e.n] + [1.0]) * 1.1
    w, h = width - ml - mr, height - mt - mb

    def px(x: float) -> float:
        return ml + w * (x / xmax)

    def py(y: float) -> float:
        return mt + h * (1 - y)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"font-family='sans-serif' font-size='11'>",
             f"<rect x='{ml}' y='{mt}' width='{w}' height='{h}' fill='none' stroke='#999'/>"]
    for i in range(6):
        yv = i / 5
        parts.append(f"<line x1='{ml}' x2='{ml + w}' y1='{py(yv):.1f}' y2='{py(yv):.1f}' stroke='#eee'/>"
                     f"<text x='{ml - 6}' y='{py(yv) + 4:.1f}' text-anchor='end'>{int(yv * 100)}%</text>")
        xv = xmax * i / 5
        parts.append(f"<text x='{px(xv):.1f}' y='{mt + h + 16}' text-anchor='middle'>${xv:,.0f}</text>")
    parts.append(f"<text x='{ml + w / 2}' y='{height - 8}' text-anchor='middle'>clinical cost per case (USD, "
                 "visits + tests)</text>")
    parts.append(f"<text transform='translate(14,{mt + h / 2}) rotate(-90)' text-anchor='middle'>top-1 accuracy"
                 "</text>")
    for i, r in enumerate(runs):
        s = r.summary
        c = PALETTE[i % len(PALETTE)]
        x, y = s.cost_per_case, s.accuracy
        if not x.n:
            continue
        parts.append(f"<line x1='{px(x.lo):.1f}' x2='{px(x.hi):.1f}' y1='{py(y.value):.1f}' y2='{py(y.value):.1f}' "
                     f"stroke='{c}' stroke-width='1.5'/>")
        parts.append(f"<line x1='{px(x.value):.1f}' x2='{px(x.value):.1f}' y1='{py(y.lo):.1f}' y2='{py(y.hi):.1f}' "
                     f"stroke='{c}' stroke-width='1.5'/>")
        parts.append(f"<circle cx='{px(x.value):.1f}' cy='{py(y.value):.1f}' r='5' fill='{c}'>"
                     f"<title>{_e(r.label)}: {100 * y.value:.1f}% at ${x.value:,.0f}/case</title></circle>")
        parts.append(f"<text x='{px(x.value) + 8:.1f}' y='{py(y.value) - 8:.1f}' fill='{c}'>{_e(r.label[:30])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _group_table(groups: list[GroupStats], title: str) -> str:
    if not groups:
        return ""
    rows = "".join(f"<tr><td class=l>{_e(g.group)}</td><td>{g.n_cases}</td><td>{g.n_episodes}</td>"
                   f"<td>{_pct(g.accuracy)}</td><td>${g.cost_per_case:,.0f}</td></tr>" for g in groups)
    return (f"<h3>By {title}</h3><table><tr><th class=l>{title}</th><th>cases</th><th>episodes</th>"
            f"<th>accuracy [95% CI]</th><th>cost/case</th></tr>{rows}</table>")


def _run_details(i: int, r: RunData) -> str:
    s = r.summary
    out = [f"<h2 id='run-{i}'>{_e(r.label)}</h2><p class=muted>{_e(r.run_dir)}"]
    if r.manifest:
        m = r.manifest
        out.append(f" &middot; config hash <code>{_e(m.config_hash)}</code> &middot; status {_e(m.status)}"
                   f" &middot; agentsim {_e(m.versions.get('agentsim', '?'))}")
    out.append("</p>")
    ks = sorted(s.pass_hat_k)
    out.append("<h3>Consistency over trials</h3><table><tr><th>k</th>" + "".join(f"<th>{k}</th>" for k in ks)
               + "</tr><tr><th class=l>pass^k (all k correct)</th>"
               + "".join(f"<td>{_pct(s.pass_hat_k[k])}</td>" for k in ks)
               + "</tr><tr><th class=l>pass@k (any of k correct)</th>"
               + "".join(f"<td>{_pct(s.pass_at_k[k])}</td>" for k in ks) + "</tr></table>")
    out.append("<h3>Top-k differential accuracy</h3><table><tr>" + "".join(f"<th>top-{k}</th>" for k in s.top_k)
               + "</tr><tr>" + "".join(f"<td>{_pct(e)}</td>" for e in s.top_k.values()) + "</tr></table>")
    out.append(_group_table(s.by_specialty, "specialty"))
    out.append(_group_table(s.by_dataset, "dataset"))
    out.append(_bias_and_verifier_html(r))
    out.append(_learning_html(r))
    if s.usage_by_role:
        rows = "".join(f"<tr><td class=l>{_e(role)}</td><td>{u['calls']:.1f}</td><td>{u['prompt_tokens']:,.0f}</td>"
                       f"<td>{u['completion_tokens']:,.0f}</td><td>${u['cost_usd']:.4f}</td>"
                       f"<td>{u['cached_calls']:.1f}</td></tr>" for role, u in s.usage_by_role.items())
        out.append("<h3>Model usage per episode (means)</h3><table><tr><th class=l>role</th><th>calls</th>"
                   "<th>prompt tokens</th><th>completion tokens</th><th>token cost</th><th>cached calls</th></tr>"
                   f"{rows}</table>")
    if s.agreement is not None:
        a = s.agreement
        out.append("<h3>Judge vs offline scorer</h3><table><tr><th></th><th>offline correct</th>"
                   f"<th>offline wrong</th></tr><tr><th class=l>judge correct</th><td>{a.both_correct}</td>"
                   f"<td>{a.judge_only}</td></tr><tr><th class=l>judge wrong</th><td>{a.offline_only}</td>"
                   f"<td>{a.both_wrong}</td></tr></table>")
    if r.manifest:
        cfg = json.dumps(r.manifest.config, indent=1)
        extra = {"limiter": r.manifest.limiter.model_dump() if r.manifest.limiter else None,
                 "calls": r.manifest.calls.model_dump() if r.manifest.calls else None,
                 "versions": r.manifest.versions, "history": r.manifest.history[-5:]}
        out.append(f"<details><summary>Run configuration and call statistics</summary><pre>{_e(cfg)}\n"
                   f"{_e(json.dumps(extra, indent=1))}</pre></details>")
    return "".join(out)


def _per_case_table(runs: list[RunData], link: bool) -> str:
    case_ids = sorted({r.case_id for run in runs for r in run.records})
    grouped = [by_case(run.records) for run in runs]
    rows = []
    for cid in case_ids:
        first = next(g[cid][0] for g in grouped if cid in g)
        cells = []
        for i, g in enumerate(grouped):
            eps = g.get(cid, [])
            marks = []
            for ep in eps:
                sym, cls = (("&#10003;", "ok") if ep.correct else
                            ("!", "err") if ep.error is not None else ("&#10007;", "bad"))
                tip = _e(f"trial {ep.trial}: {ep.diagnosis or '(no diagnosis)'}"
                         + (f" [{ep.error.kind}: {ep.error.error_class}]" if ep.error else ""))
                mark = f"<span class={cls} title='{tip}'>{sym}</span>"
                marks.append(f"<a href='#{_anchor(i, cid, ep.trial)}'>{mark}</a>" if link else mark)
            dx = _e(eps[0].diagnosis or "") if eps else ""
            cells.append(f"<td class='l cell'>{''.join(marks) or '-'} <span class=muted>{dx[:40]}</span></td>")
        rows.append(f"<tr><td class=l>{_e(cid)}</td><td class=l>{_e(first.specialty)}</td>"
                    f"<td class=l>{_e(first.correct_diagnosis)}</td>{''.join(cells)}</tr>")
    heads = "".join(f"<th class=l>{_e(r.label)}</th>" for r in runs)
    return (f"<table><tr><th class=l>case</th><th class=l>specialty</th><th class=l>correct diagnosis</th>{heads}"
            f"</tr>{''.join(rows)}</table>")


def _comparison_html(runs: list[RunData]) -> str:
    comps = _comparisons(runs)
    if not comps:
        return ""
    out = ["<h2>Comparison against the first run</h2>"]
    for c in comps:
        if not c.n_shared:
            out.append(f"<h3>{_e(c.other)} vs {_e(c.baseline)}</h3><p>No shared cases.</p>")
            continue
        d = c.accuracy_diff
        out.append(f"<h3>{_e(c.other)} vs {_e(c.baseline)}</h3><p>{c.wins} wins, {c.losses} losses, {c.ties} ties "
                   f"on {c.n_shared} shared cases; accuracy difference {100 * d.value:+.1f} points "
                   f"[{100 * d.lo:+.1f}, {100 * d.hi:+.1f}] (paired case bootstrap).</p>")
        if c.changed:
            rows = "".join(f"<tr><td class=l>{_e(x.case_id)}</td><td>{100 * x.baseline:.0f}%</td>"
                           f"<td>{100 * x.other:.0f}%</td><td class={'ok' if x.other > x.baseline else 'bad'}>"
                           f"{'win' if x.other > x.baseline else 'loss'}</td></tr>" for x in c.changed)
            out.append(f"<table><tr><th class=l>case</th><th>{_e(c.baseline)}</th><th>{_e(c.other)}</th><th></th>"
                       f"</tr>{rows}</table>")
    return "".join(out)


def _message_html(m: Any) -> str:
    text = m.content
    if m.role == "doctor" and m.tool_calls:
        call = m.tool_calls[0]
        text = f"{call.name}({json.dumps(call.arguments, ensure_ascii=False)})"
    reason = f"<div class=reason>{_e(m.reasoning)}</div>" if m.reasoning else ""
    return f"<div class=msg><span class='role r-{_e(m.role)}'>{_e(m.role)}</span> {_e(text)}{reason}</div>"


def _transcripts(i: int, run: RunData) -> str:
    out = [f"<h3>Transcripts: {_e(run.label)}</h3>"]
    for ep in sorted(run.records, key=lambda r: (r.case_id, r.trial)):
        status = "correct" if ep.correct else (f"error ({ep.error.kind})" if ep.error else "incorrect")
        head = (f"{_e(ep.case_id)} &middot; trial {ep.trial} &middot; seed {ep.seed} &middot; {status} &middot; "
                f"dx: {_e(ep.diagnosis or '-')} &middot; answer: {_e(ep.correct_diagnosis)} &middot; {ep.turns} turns, "
                f"{len(ep.tests_ordered)} tests, ${ep.cost.clinical_usd:,.0f}")
        body = "".join(_message_html(m) for m in ep.transcript.messages)
        if ep.verdict is not None:
            body += (f"<div class=msg><span class=role>grade</span> {_e(ep.verdict.method)}: "
                     f"{_e(ep.verdict.reasoning)}</div>")
        if ep.error is not None:
            body += (f"<div class='msg err'><span class=role>error</span> {_e(ep.error.kind)} "
                     f"{_e(ep.error.error_class)}: {_e(ep.error.message)}</div>")
        out.append(f"<details id='{_anchor(i, ep.case_id, ep.trial)}'><summary>{head}</summary>{body}</details>")
    return "".join(out)


def render_html(runs: list[RunData], transcripts: bool = True) -> str:
    """The whole report as one HTML string."""
    _unique_labels(runs)
    title = "agentsim benchmark report" if len(runs) == 1 else f"agentsim benchmark report: {len(runs)} runs"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title><style>{_CSS}</style>"
             f"</head><body><h1>{_e(title)}</h1><p class=muted>Generated {time.strftime('%Y-%m-%d %H:%M:%S')}. "
             "Intervals are 95% percentile bootstrap intervals over cases (trials of a case resampled together; "
             "2000 resamples, fixed seed). Clinical cost = visit fees + priced tests. "
             "Cached model calls count their original tokens.</p>",
             "<h2>Summary</h2>", _summary_table(runs), "<h2>Accuracy vs cost</h2>", scatter_svg(runs),
             _comparison_html(runs)]
    for i, r in enumerate(runs):
        parts.append(_run_details(i, r))
    parts.append("<h2>Per-case outcomes</h2><p class=muted>&#10003; correct, &#10007; wrong, ! episode error; "
                 + ("click a mark for its transcript.</p>" if transcripts else "transcripts omitted.</p>"))
    parts.append(_per_case_table(runs, link=transcripts))
    if transcripts:
        parts.append("<h2>Transcripts</h2>")
        for i, r in enumerate(runs):
            parts.append(_transcripts(i, r))
    # Opening the transcript a per-case mark links to (browsers differ on auto-opening <details>).
    parts.append("<script>function openHash(){var e=location.hash&&document.getElementById(location.hash.slice(1));"
                 "if(e&&e.tagName==='DETAILS'){e.open=true;e.scrollIntoView();}}"
                 "window.addEventListener('hashchange',openHash);openHash();</script></body></html>")
    return "".join(parts)


def write_report(run_dirs: list[str | Path], out: str | Path | None = None, transcripts: bool = True,
                 labels: list[str] | None = None) -> tuple[Path, list[RunData]]:
    """Write the HTML report (default: ``report.html`` in the first run directory)."""
    runs = [load_run(d, (labels or [])[i] if labels and i < len(labels) else None) for i, d in enumerate(run_dirs)]
    first = Path(run_dirs[0])
    path = Path(out) if out else (first if first.is_dir() else first.parent) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(runs, transcripts=transcripts), encoding="utf-8")
    return path, runs
