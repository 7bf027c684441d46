"""The figures of ``seqbench report``: matplotlib (Agg, no GUI, no pyplot state), one PNG each.

Every function takes the configurations of one task (:class:`ConfigData`: the summary row, its
trials and their learning curves, a label and a colour) and returns PNG bytes. Nothing here
reads a store or runs a trial; nothing is random except a jitter drawn from a fixed seed, so the
same store gives the same images.

How trials that did not reach success are treated, figure by figure:

* Kaplan-Meier: an unsolved trial is *censored* at the sequences it ran (success, if it ever
  came, would come later); a trial that ended in error is left out (it says nothing of speed),
  as in the tables' KM quartiles.
* Learning curves: a trial that stopped at success is *carried forward* at its last recorded
  value up to the longest trial of its configuration (it stays solved; dropping it would leave
  only the failing trials and bend the median upwards); any other trial (budget exhausted,
  stopped, diverged, error) contributes only up to its last recorded point.
* Sequences to success: solved trials as points (a box over them from three on); unsolved
  trials as open triangles at the sequences they ran.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .units import units_for

#: pixels per inch of the PNGs; figure sizes below are in inches
DPI = 100
#: an axis turns logarithmic when its largest positive value is this many times its smallest
LOG_RATIO = 10.0
JITTER_SEED = 0


@dataclass
class ConfigData:
    """One configuration (a row of the task's table) with what its figures need."""

    label: str  #: e.g. ``lstm97@exp1-3x2-lr0.5``
    row: dict[str, Any]  #: the summary row (:func:`seqbench.report.summarise`)
    trials: list[dict[str, Any]]  #: stored trials (:meth:`seqbench.results.Results.trials`)
    #: trial key -> [(sequences, train_error, train_correct), ...]
    curves: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)
    color: str = "C0"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # no "Software" key: the same store gives the same bytes whatever matplotlib version wrote it
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _use_log(values: Sequence[float]) -> bool:
    pos = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return bool(pos) and max(pos) / min(pos) >= LOG_RATIO


def _count(v: float) -> str:
    """A tick label for a count: ``8,440``, ``20k``, ``1.2M``; fractions as they are."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.4g}M"
    if abs(v) >= 1e4 and abs(v / 1e3 - round(v / 1e3)) < 1e-9:
        return f"{round(v / 1e3):,}k"
    if abs(v - round(v)) < 1e-9:
        return f"{round(v):,}"
    return f"{v:.3g}"


def _counts_axis(ax, axis: str, log: bool) -> None:
    """Sequences (or nanoseconds) on an axis, once everything is drawn: whole-number ticks,
    thousands separated; on a log axis of up to two decades also 2 and 5 times a power of 10
    labelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    get_lim, set_lim = (ax.get_xlim, ax.set_xlim) if axis == "x" else (ax.get_ylim, ax.set_ylim)
    if log:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        lo, hi = get_lim()
        decades = math.log10(hi / lo) if lo > 0 and hi > lo else 1.0
        target.set_major_locator(LogLocator(subs=(1, 2, 5) if decades <= 2 else (1,)))
        target.set_minor_formatter(NullFormatter())
    else:
        lo, hi = get_lim()
        if hi - lo < 4:  # one value, e.g. every trial of a set learner solved after 2
            mid = round((lo + hi) / 2)
            set_lim(max(0, mid - 2) if lo >= 0 else mid - 2, mid + 2)
        target.set_major_locator(MaxNLocator(nbins=6, integer=True))
    target.set_major_formatter(FuncFormatter(lambda v, _: _count(v)))


def _message(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=11,
            color="0.3", wrap=True)


def _legend_below(ax, handles=None, ncol: int = 2) -> None:
    kwargs = {"handles": handles} if handles is not None else {}
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=8,
              frameon=False, **kwargs)


def _km_data(trials: Sequence[dict[str, Any]]) -> tuple[list[float], list[bool]]:
    """Times and events as the tables' Kaplan-Meier quartiles use them."""
    judged = [t for t in trials if t["status"] != "error"]
    times = [float(t["sequences_to_success"]) if t["status"] == "solved"
             else float(t["sequences"] or 0) for t in judged]
    return times, [t["status"] == "solved" for t in judged]


def _paper(row: dict[str, Any]) -> dict[str, Any]:
    return row.get("paper") or {}


# -- 1. Kaplan-Meier ---------------------------------------------------------------------------
def km_figure(configs: Sequence[ConfigData], task: str) -> bytes:
    """Fraction of trials solved against sequences presented, one step curve per configuration,
    unsolved trials censored (ticks) where they stopped; the paper's (mean sequences to success,
    success rate) as a star."""
    import numpy as np
    from matplotlib.lines import Line2D

    from .stats import kaplan_meier

    fig = _figure(8.5, 4.8)
    ax = fig.add_subplot()
    xs_all: list[float] = []
    for c in configs:
        times, _ = _km_data(c.trials)
        xs_all += times
        p = _paper(c.row)
        if p.get("sequences_to_success"):
            xs_all.append(float(p["sequences_to_success"]))
    log = _use_log(xs_all)
    positive = [x for x in xs_all if x > 0]
    x0 = (min(positive) / 1.5 if positive else 1.0) if log else 0.0
    x1 = max(xs_all) if xs_all else 1.0
    drawn = False
    marks: set[str] = set()  # the kinds of marks drawn, for the legend
    for c in configs:
        times, solved = _km_data(c.trials)
        s, n = sum(solved), len(solved)
        label = f"{c.label} ({s}/{n} solved)"
        if n:
            at, frac = kaplan_meier(times, solved)
            end = max(times)
            xs = [x0, *at.tolist(), max(end, at[-1] if len(at) else x0)]
            ys = [0.0, *frac.tolist(), frac[-1] if len(frac) else 0.0]
            ax.step(xs, ys, where="post", color=c.color, lw=2, label=label)
            cens = [t for t, ok in zip(times, solved) if not ok and (t > 0 or not log)]
            if cens:
                level = [float(frac[at <= t][-1]) if np.any(at <= t) else 0.0 for t in cens]
                ax.plot(cens, level, ls="none", marker="|", ms=14, mew=2, color=c.color)
                marks.add("censored")
            drawn = True
        p = _paper(c.row)
        rate, seq = p.get("success_rate"), p.get("sequences_to_success")
        hollow = not p.get("comparable", True)
        if rate is not None and seq:
            ax.plot([seq], [rate], ls="none", marker="*", ms=16, mec="black", mew=1,
                    color="white" if hollow else c.color, zorder=5)
            marks.add("star")
        elif rate is not None:
            ax.axhline(rate, color=c.color, ls=":", lw=1.5)
            marks.add("rate")
        elif seq:
            ax.axvline(seq, color=c.color, ls="--", lw=1.5)
            marks.add("seq")
        drawn = drawn or bool(marks)
    ax.set_xlim(x0, x1 * (1.15 if log else 1.04) if x1 > 0 else 1.0)
    _counts_axis(ax, "x", log)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(units_for(task).count + (" (log scale)" if log else ""))
    ax.set_ylabel("fraction of trials solved")
    ax.set_title(f"{task}: Kaplan-Meier fraction solved", fontsize=11)
    ax.grid(True, alpha=0.3)
    if not drawn:
        _message(ax, "no trials to show")
    handles, _ = ax.get_legend_handles_labels()
    proxies = {
        "censored": Line2D([], [], ls="none", marker="|", ms=12, mew=2, color="0.3",
                           label="unsolved trial, censored where it stopped"),
        "star": Line2D([], [], ls="none", marker="*", ms=13, mec="black", color="0.6",
                       label="paper: mean sequences to success, success rate"),
        "rate": Line2D([], [], ls=":", color="0.3", label="paper: success rate (no mean given)"),
        "seq": Line2D([], [], ls="--", color="0.3",
                      label="paper: mean sequences to success (no success rate given)"),
    }
    handles += [proxies[k] for k in proxies if k in marks]
    if handles:
        _legend_below(ax, handles)
    return _png(fig)


# -- 2. learning curves ------------------------------------------------------------------------
def _curve_band(c: ConfigData, column: int, transform=None):
    """Grid of sequences, and the 25/50/75 % of one curve column (through ``transform``, an
    elementwise function of the array of a trial's values, when given) across the trials
    there."""
    import numpy as np

    series = []
    for t in c.trials:
        pts = c.curves.get(t["key"]) or []
        if pts:
            y = np.array([p[column] for p in pts], float)
            series.append((t["status"] == "solved", np.array([p[0] for p in pts], float),
                           y if transform is None else transform(y)))
    if not series:
        return None
    grid = np.unique(np.concatenate([x for _, x, _ in series]))
    if len(grid) > 400:
        grid = np.unique(grid[np.linspace(0, len(grid) - 1, 400).round().astype(int)])
    values = np.full((len(series), len(grid)), np.nan)
    for i, (solved, x, y) in enumerate(series):
        at = np.searchsorted(x, grid, side="right") - 1  # last recorded point at or before
        inside = (at >= 0) & (solved | (grid <= x[-1]))  # solved: carried forward past its end
        values[i, inside] = y[at[inside]]
    counted = np.sum(np.isfinite(values), axis=0)
    keep = counted > 0
    grid, values = grid[keep], values[:, keep]
    with np.errstate(all="ignore"):
        q25, q50, q75 = np.nanpercentile(values, [25, 50, 75], axis=0)
    return grid, q25, q50, q75, len(series)


def _stream_lengths(c: ConfigData):
    """A continual curve's error rates (1 over a training stream's symbols, 0 when it reached
    the training cap) as the symbols predicted right before the stream's first mistake."""
    import numpy as np

    cap = float((c.row.get("task_params") or {}).get("training_cap") or np.nan)

    def length(rate):
        with np.errstate(divide="ignore"):
            return np.where(rate > 0, 1.0 / rate - 1.0, cap)
    return length


def curves_figure(configs: Sequence[ConfigData], task: str) -> bytes:
    """Median and 25-75 % band across trials of the training error and of the fraction of
    training sequences correct, against sequences presented; for a continual task, of the
    training streams' lengths instead (log scale), the one thing both those numbers encode."""
    if units_for(task).length is not None:
        return _stream_curves_figure(configs, task)
    fig = _figure(11, 4.6)
    axes = [fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)]
    bands = {(id(c), col): _curve_band(c, col) for c in configs for col in (1, 2)}
    xs = [float(b[0][0]) for b in bands.values() if b] + \
         [float(b[0][-1]) for b in bands.values() if b]
    log = _use_log(xs)
    units = units_for(task)
    for ax, col, name in ((axes[0], 1, units.error), (axes[1], 2, units.correct)):
        any_curve = False
        for c in configs:
            band = bands[(id(c), col)]
            if band is None:
                continue
            grid, q25, q50, q75, n = band
            label = f"{c.label} ({n} trial{'s' if n != 1 else ''})"
            if len(grid) == 1:
                ax.errorbar(grid, q50, yerr=[q50 - q25, q75 - q50], fmt="o", color=c.color,
                            capsize=4, label=label)
            else:
                ax.fill_between(grid, q25, q75, color=c.color, alpha=0.2, lw=0)
                ax.plot(grid, q50, color=c.color, lw=1.8, label=label)
            any_curve = True
        _counts_axis(ax, "x", log)
        ax.set_xlabel(units.count + (" (log scale)" if log else ""))
        ax.set_ylabel(name)
        if col == 2:
            ax.set_ylim(-0.03, 1.03)
        ax.grid(True, alpha=0.3)
        if not any_curve:
            _message(ax, "no learning curves stored")
        elif col == 1:
            _legend_below(ax, ncol=1)
    fig.suptitle(f"{task}: learning curves (median line, 25–75 % band across trials)",
                 fontsize=11)
    return _png(fig)


def _stream_curves_figure(configs: Sequence[ConfigData], task: str) -> bytes:
    """:func:`curves_figure` for a continual task: one panel, each training stream's length."""
    units = units_for(task)
    fig = _figure(8.5, 4.8)
    ax = fig.add_subplot()
    bands = [(c, _curve_band(c, 1, _stream_lengths(c))) for c in configs]
    xs = [float(b[0][i]) for _, b in bands if b for i in (0, -1)]
    log = _use_log(xs)
    any_curve = False
    for c, band in bands:
        if band is None:
            continue
        grid, q25, q50, q75, n = band
        label = f"{c.label} ({n} trial{'s' if n != 1 else ''})"
        ax.fill_between(grid, q25, q75, color=c.color, alpha=0.2, lw=0)
        ax.plot(grid, q50, color=c.color, lw=1.8, marker="o" if len(grid) == 1 else None,
                label=label)
        any_curve = True
    _counts_axis(ax, "x", log)
    ax.set_xlabel(units.count + (" (log scale)" if log else ""))
    ax.set_ylabel(units.length + " (log scale)", fontsize=9)
    ax.grid(True, alpha=0.3)
    if any_curve:
        ax.set_yscale("log")
        _legend_below(ax, ncol=1)
    else:
        _message(ax, "no learning curves stored")
    ax.set_title(f"{task}: training-stream length (median line, 25–75 % band across trials)",
                 fontsize=11)
    return _png(fig)


# -- 3. sequences to success -------------------------------------------------------------------
def _wrap(label: str, width: int = 22) -> str:
    """A tick label on a few short lines: the preset (``@...``) on its own line."""
    if len(label) <= width:
        return label
    head, at, rest = label.partition("@")
    lines = [head]
    if at:
        lines += textwrap.wrap("@" + rest, width, break_on_hyphens=False) or ["@"]
    return "\n".join(lines)


def success_figure(configs: Sequence[ConfigData], task: str) -> bytes:
    """Sequences to success of each solved trial (points, with a box from three on), unsolved
    trials as open triangles at the sequences they ran (open squares for those stopped by the
    wall-clock limit, which might still have succeeded within the budget), the paper's mean as
    a diamond."""
    import numpy as np
    from matplotlib.lines import Line2D

    rng = np.random.default_rng(JITTER_SEED)
    fig = _figure(max(8.5, 1.6 * len(configs) + 2.5), 4.8)
    ax = fig.add_subplot()
    ys_all: list[float] = []
    for c in configs:
        ys_all += [float(t["sequences_to_success"]) for t in c.trials if t["status"] == "solved"]
        ys_all += [float(t["sequences"]) for t in c.trials
                   if t["status"] != "solved" and t["status"] != "error" and t["sequences"]]
        if _paper(c.row).get("sequences_to_success"):
            ys_all.append(float(_paper(c.row)["sequences_to_success"]))
    log = _use_log(ys_all)
    ticks = []
    for i, c in enumerate(configs):
        solved = [float(t["sequences_to_success"]) for t in c.trials if t["status"] == "solved"]
        unsolved = [float(t["sequences"] or 0) for t in c.trials
                    if t["status"] not in ("solved", "error", "timeout")]
        timed_out = [float(t["sequences"] or 0) for t in c.trials if t["status"] == "timeout"]
        if log:
            unsolved = [u for u in unsolved if u > 0]
            timed_out = [u for u in timed_out if u > 0]
        if len(solved) >= 3:
            box = ax.boxplot([solved], positions=[i], widths=0.45, showfliers=False,
                             patch_artist=True, manage_ticks=False)
            for patch in box["boxes"]:
                patch.set(facecolor=c.color, alpha=0.25, edgecolor=c.color)
            for part in ("whiskers", "caps", "medians"):
                for line in box[part]:
                    line.set(color=c.color)
        if solved:
            ax.plot(i + rng.uniform(-0.12, 0.12, len(solved)), solved, ls="none", marker="o",
                    ms=6, color=c.color, mec="black", mew=0.5, alpha=0.85)
        if unsolved:
            ax.plot(i + rng.uniform(-0.12, 0.12, len(unsolved)), unsolved, ls="none",
                    marker="^", ms=8, mfc="none", mec=c.color, mew=1.5)
        if timed_out:
            ax.plot(i + rng.uniform(-0.12, 0.12, len(timed_out)), timed_out, ls="none",
                    marker="s", ms=7, mfc="none", mec=c.color, mew=1.5)
        p = _paper(c.row)
        if p.get("sequences_to_success"):
            hollow = not p.get("comparable", True)
            ax.plot([i + 0.3], [p["sequences_to_success"]], ls="none", marker="D", ms=9,
                    color="white" if hollow else c.color, mec="black", mew=1.2, zorder=5)
        n = len(c.trials)
        ticks.append(f"{_wrap(c.label)}\n{len(solved)}/{n} solved")
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels(ticks, fontsize=8)
    ax.set_xlim(-0.6, len(configs) - 0.4)
    ax.margins(y=0.1)
    _counts_axis(ax, "y", log)
    units = units_for(task)
    to_success = units.to_success
    ax.set_ylabel(to_success + (" (log scale)" if log else ""))
    ax.set_title(f"{task}: {to_success} per trial", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    if not ys_all:
        _message(ax, "no trial solved or ran; nothing to show")
    elif not any(t["status"] == "solved" for c in configs for t in c.trials):
        ax.text(0.5, 0.97, "no trial solved", ha="center", va="top", transform=ax.transAxes,
                fontsize=9, color="0.3")
    handles = [
        Line2D([], [], ls="none", marker="o", ms=6, color="0.6", mec="black", mew=0.5,
               label="solved trial (box: quartiles, from 3 solved)"),
        Line2D([], [], ls="none", marker="^", ms=8, mfc="none", mec="0.3", mew=1.5,
               label=f"unsolved trial, at the {units.noun} it ran"),
        Line2D([], [], ls="none", marker="D", ms=8, color="0.6", mec="black",
               label="paper: mean over its successful trials"),
    ]
    if any(t["status"] == "timeout" for c in configs for t in c.trials):
        handles.insert(2, Line2D([], [], ls="none", marker="s", ms=7, mfc="none", mec="0.3",
                                 mew=1.5, label="timed out (censored), where it stopped"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.28),
              ncol=3 if len(handles) == 3 else 2, fontsize=8, frameon=False)
    return _png(fig)


# -- 4. cost -----------------------------------------------------------------------------------
def cost_figure(configs: Sequence[ConfigData], task: str) -> bytes:
    """Nanoseconds per trained time step: the mean of each configuration's trials as a bar,
    every trial as a point."""
    fig = _figure(8.5, max(2.2, 0.55 * len(configs) + 1.4))
    ax = fig.add_subplot()
    per_trial = [[float(t["ns_per_step"]) for t in c.trials
                  if t.get("ns_per_step") is not None and math.isfinite(t["ns_per_step"])
                  and t["ns_per_step"] > 0] for c in configs]
    means = [c.row.get("ns_per_step") for c in configs]
    shown = [m for m in means if m]
    values = shown + [v for vs in per_trial for v in vs]
    log = _use_log(values)
    ys = list(range(len(configs)))[::-1]  # first configuration on top
    for y, c, m, vs in zip(ys, configs, means, per_trial):
        if m:
            ax.barh(y, m, color=c.color, alpha=0.75, height=0.6)
            ax.text(max([m, *vs]), y, f"  {m:,.0f} ns", va="center", fontsize=8)
        else:
            ax.text(0.01, y, "  no time steps recorded", va="center", fontsize=8, color="0.4",
                    transform=ax.get_yaxis_transform())
        if vs:
            ax.plot(vs, [y] * len(vs), ls="none", marker="o", ms=4, color="black", alpha=0.6)
    ax.set_yticks(ys)
    ax.set_yticklabels([c.label for c in configs], fontsize=8)
    ax.set_ylim(-0.6, len(configs) - 0.4)
    if shown:
        _counts_axis(ax, "x", log)
        if log:
            ax.set_xlim(min(values) / 2, max(values) * 4)
        else:
            ax.set_xlim(0, max(values) * 1.3)
    else:
        _message(ax, "no timing recorded")
    ax.set_xlabel("ns per trained time step" + (" (log scale)" if log else "")
                  + "; bar: mean over trials, dots: trials")
    ax.set_title(f"{task}: cost per time step (JIT compile excluded)", fontsize=11)
    ax.grid(True, axis="x", alpha=0.3)
    return _png(fig)


FIGURES = (
    ("km", km_figure),
    ("curves", curves_figure),
    ("success", success_figure),
    ("cost", cost_figure),
)
