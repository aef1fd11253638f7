"""Draw deterministic synthetic 12-lead ECG illustrations for hand-written cases.

Each pattern is built from Gaussian P/Q/R/S/T components with per-lead amplitudes, ST and PR
segment offsets, and atrial/ventricular timing lists (so dissociated or irregular rhythms are
possible). The output is a 3x4 lead layout plus a lead II rhythm strip on ECG paper
(25 mm/s, 10 mm/mV). These are teaching sketches, not recordings: every image is stamped
"SYNTHETIC" and case files mark them ``"synthetic": true``.

Usage::

    python scenarios/tools/make_synthetic_ecg.py [--out scenarios/images/ecg]

The same command always produces the same pixels (fixed seeds, no timestamps in the PNG).
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

FS = 500  # samples per second
DURATION = 10.0  # seconds per full recording
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
LAYOUT = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
OUT_DIR = Path(__file__).resolve().parent.parent / "images" / "ecg"
MAX_BYTES = 150_000


@dataclass(frozen=True)
class LeadShape:
    """Component amplitudes in mV for one lead; offsets are added over the ST / PR segments."""

    p: float
    q: float
    r: float
    s: float
    t: float
    st: float = 0.0
    pr: float = 0.0


# A plausible normal adult axis and R-wave progression.
NORMAL: dict[str, LeadShape] = {
    "I": LeadShape(0.10, -0.04, 0.70, -0.10, 0.20),
    "II": LeadShape(0.15, -0.05, 1.10, -0.20, 0.30),
    "III": LeadShape(0.06, -0.03, 0.50, -0.15, 0.12),
    "aVR": LeadShape(-0.12, 0.0, 0.12, -0.85, -0.25),
    "aVL": LeadShape(0.03, -0.03, 0.40, -0.20, 0.08),
    "aVF": LeadShape(0.10, -0.04, 0.80, -0.15, 0.20),
    "V1": LeadShape(0.08, 0.0, 0.20, -1.00, 0.05),
    "V2": LeadShape(0.08, 0.0, 0.40, -1.30, 0.40),
    "V3": LeadShape(0.08, 0.0, 0.80, -0.80, 0.45),
    "V4": LeadShape(0.08, -0.03, 1.30, -0.50, 0.40),
    "V5": LeadShape(0.08, -0.05, 1.30, -0.25, 0.30),
    "V6": LeadShape(0.08, -0.05, 1.00, -0.10, 0.25),
}


@dataclass(frozen=True)
class Pattern:
    """Everything needed to synthesise one 12-lead recording."""

    leads: dict[str, LeadShape]
    qrs_times: list[float]
    p_times: list[float]
    qrs_width: float = 1.0  # multiplier on QRS component widths
    t_width: float = 0.05  # seconds (Gaussian sigma of the T wave)
    fib_amp: float = 0.0  # mV of fibrillatory baseline (0 = none)
    notes: list[str] = field(default_factory=list)


def _regular(rate: float, start: float = 0.35) -> list[float]:
    step = 60.0 / rate
    return list(np.arange(start, DURATION - 0.1, step))


def _gauss(t: np.ndarray, mu: float, sigma: float, amp: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((t - mu) / sigma) ** 2)


def _window(t: np.ndarray, start: float, end: float, ramp: float) -> np.ndarray:
    """1 inside [start, end], smooth cosine ramps of length ``ramp`` either side, 0 outside."""
    w = np.zeros_like(t)
    inside = (t >= start) & (t <= end)
    w[inside] = 1.0
    up = (t > start - ramp) & (t < start)
    w[up] = 0.5 - 0.5 * np.cos(np.pi * (t[up] - (start - ramp)) / ramp)
    down = (t > end) & (t < end + ramp)
    w[down] = 0.5 + 0.5 * np.cos(np.pi * (t[down] - end) / ramp)
    return w


def synthesize(pattern: Pattern, lead: str, seed: int) -> np.ndarray:
    """Voltage (mV) of one lead over the whole recording."""
    t = np.arange(0, DURATION, 1 / FS)
    shape = pattern.leads[lead]
    v = np.zeros_like(t)
    k = pattern.qrs_width
    for tp in pattern.p_times:
        v += _gauss(t, tp, 0.022, shape.p)
        if shape.pr:
            v += shape.pr * _window(t, tp + 0.05, tp + 0.11, 0.02)
    for tq in pattern.qrs_times:
        v += _gauss(t, tq - 0.025 * k, 0.008 * k, shape.q)
        v += _gauss(t, tq, 0.010 * k, shape.r)
        v += _gauss(t, tq + 0.025 * k, 0.010 * k, shape.s)
        v += _gauss(t, tq + 0.26 + 0.04 * (k - 1), pattern.t_width, shape.t)
        if shape.st:
            v += shape.st * _window(t, tq + 0.045 * k, tq + 0.24, 0.07)
    rng = np.random.default_rng(seed)
    if pattern.fib_amp:
        # Coarse-to-fine irregular baseline: a few incommensurate sinusoids with drifting phase.
        for f in (4.3, 5.9, 7.1):
            phase = rng.uniform(0, 2 * np.pi)
            v += pattern.fib_amp * 0.5 * np.sin(2 * np.pi * f * t + phase + 0.8 * np.sin(0.7 * t))
    v += rng.normal(0, 0.008, size=t.shape)  # a little recording noise so it does not look drawn
    return v


def _modify(base: dict[str, LeadShape], **changes: dict[str, float]) -> dict[str, LeadShape]:
    out = dict(base)
    for lead, fields in changes.items():
        out[lead] = replace(out[lead], **fields)
    return out


def inferior_st_elevation() -> Pattern:
    leads = _modify(
        NORMAL,
        II={"st": 0.35, "t": 0.55},
        III={"st": 0.40, "t": 0.50, "q": -0.25, "r": 0.40},
        aVF={"st": 0.35, "t": 0.50, "q": -0.20},
        I={"st": -0.10, "t": 0.05},
        aVL={"st": -0.25, "t": -0.15},
        V1={"st": -0.05},
        V2={"st": -0.10},
    )
    rr = _regular(86)
    return Pattern(leads=leads, qrs_times=rr, p_times=[x - 0.16 for x in rr])


def irregular_no_p() -> Pattern:
    rng = np.random.default_rng(2)
    times, t = [], 0.3
    while t < DURATION - 0.1:
        times.append(t)
        t += float(rng.uniform(0.36, 0.78))  # irregularly irregular, mean ventricular rate ~110
    leads = {k: replace(s, p=0.0) for k, s in NORMAL.items()}
    return Pattern(leads=leads, qrs_times=times, p_times=[], fib_amp=0.07)


def av_dissociation() -> Pattern:
    p_times = _regular(78, start=0.15)
    qrs_times = _regular(36, start=0.9)
    leads = {k: replace(s, p=s.p * 1.6, t=s.t * 1.2) for k, s in NORMAL.items()}
    return Pattern(leads=leads, qrs_times=qrs_times, p_times=p_times, qrs_width=1.7)


def diffuse_st_pr() -> Pattern:
    up = {"st": 0.17, "pr": -0.07}
    leads = _modify(
        NORMAL,
        I=up,
        II={"st": 0.20, "pr": -0.08},
        aVF={"st": 0.15, "pr": -0.07},
        III={"st": 0.05, "pr": -0.03},
        aVL={"st": 0.05},
        V2={"st": 0.15, "pr": -0.06},
        V3={"st": 0.20, "pr": -0.07},
        V4={"st": 0.20, "pr": -0.07},
        V5={"st": 0.18, "pr": -0.07},
        V6={"st": 0.15, "pr": -0.06},
        aVR={"st": -0.15, "pr": 0.08},
        V1={"st": -0.03},
    )
    rr = _regular(104)
    return Pattern(leads=leads, qrs_times=rr, p_times=[x - 0.15 for x in rr])


def peaked_t() -> Pattern:
    leads = {k: replace(s, p=s.p * 0.35, t=(s.t * 2.6 if s.t > 0 else s.t)) for k, s in NORMAL.items()}
    leads = _modify(leads, V2={"t": 1.25}, V3={"t": 1.35}, V4={"t": 1.15})
    rr = _regular(58)
    return Pattern(leads=leads, qrs_times=rr, p_times=[x - 0.22 for x in rr], qrs_width=1.45, t_width=0.032)


def s1q3t3_tachycardia() -> Pattern:
    leads = _modify(
        NORMAL,
        I={"s": -0.40},
        III={"q": -0.22, "t": -0.22},
        aVF={"t": -0.05},
        V1={"t": -0.22},
        V2={"t": -0.25},
        V3={"t": -0.18},
    )
    rr = _regular(116)
    return Pattern(leads=leads, qrs_times=rr, p_times=[x - 0.14 for x in rr])


#: Output file name -> pattern builder. Names are neutral on purpose (they reach the doctor).
PATTERNS: dict[str, Callable[[], Pattern]] = {
    "ecg-001.png": inferior_st_elevation,
    "ecg-002.png": irregular_no_p,
    "ecg-003.png": av_dissociation,
    "ecg-004.png": diffuse_st_pr,
    "ecg-005.png": peaked_t,
    "ecg-006.png": s1q3t3_tachycardia,
}


def render(pattern: Pattern, title: str, seed: int) -> bytes:
    """PNG bytes of the 12-lead layout plus rhythm strip."""
    signals = {lead: synthesize(pattern, lead, seed + i) for i, lead in enumerate(LEADS)}
    row_h = 3.0  # mV of paper per row
    rows = len(LAYOUT) + 1
    fig = plt.figure(figsize=(10.0, 1.0 + 1.18 * rows), dpi=100)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.9))
    ax.set_xlim(0, DURATION)
    ax.set_ylim(-row_h * rows, 0)
    ax.axis("off")
    _draw_grid_rows(ax, rows, row_h)
    seg = DURATION / 4
    n = int(seg * FS)
    for r, row in enumerate(LAYOUT):
        base = -row_h * (r + 0.5)
        for c, lead in enumerate(row):
            x0 = c * seg
            t = np.arange(n) / FS + x0
            ax.plot(t, signals[lead][int(x0 * FS) : int(x0 * FS) + n] + base, color="black", lw=0.8)
            ax.text(x0 + 0.05, base + 0.9, lead, fontsize=8, fontweight="bold")
            if c:
                ax.plot([x0, x0], [base - 0.3, base + 0.3], color="black", lw=0.8)
    base = -row_h * (rows - 0.5)
    ax.plot(np.arange(len(signals["II"])) / FS, signals["II"] + base, color="black", lw=0.8)
    ax.text(0.05, base + 0.9, "II (rhythm)", fontsize=8, fontweight="bold")
    fig.text(0.01, 0.955, f"SYNTHETIC 12-lead ECG illustration  |  25 mm/s  10 mm/mV  |  {title}", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    # A 64-colour palette keeps the file small without visible loss on a line drawing.
    im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
    out = io.BytesIO()
    im.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _draw_grid_rows(ax: plt.Axes, rows: int, row_h: float) -> None:
    ax.add_patch(plt.Rectangle((0, -row_h * rows), DURATION, row_h * rows, color="#fff5f5", zorder=-1))
    for x in np.arange(0, DURATION + 1e-9, 0.04):
        major = abs(round(x / 0.2) * 0.2 - x) < 1e-6
        ax.plot(
            [x, x], [-row_h * rows, 0], color="#f08080" if major else "#fbd5d5", lw=0.5 if major else 0.25, zorder=0
        )
    for y in np.arange(-row_h * rows, 1e-9, 0.1):
        major = abs(round(y / 0.5) * 0.5 - y) < 1e-6
        ax.plot([0, DURATION], [y, y], color="#f08080" if major else "#fbd5d5", lw=0.5 if major else 0.25, zorder=0)


def main(argv: list[str] | None = None) -> int:
    """Write every pattern as a PNG; refuses to leave a file over the size budget."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="destination folder")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, (name, build) in enumerate(PATTERNS.items()):
        data = render(build(), Path(name).stem, seed=100 * (i + 1))
        if len(data) > MAX_BYTES:
            raise SystemExit(f"{name}: {len(data)} bytes exceeds the {MAX_BYTES} byte budget")
        (args.out / name).write_bytes(data)
        print(f"{name}: {len(data) // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
