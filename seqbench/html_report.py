"""``seqbench report``: one self-contained HTML page of a store's results, with figures.

The page is built from :func:`seqbench.load` only (the store is opened read-only and nothing is
rerun), so a merged or read-only store works. Per task: the standard table (success with its
Wilson interval, the paper's mean, Kaplan-Meier quartiles, the paper's columns), the paired
tests, and four figures (:mod:`seqbench.plots`): Kaplan-Meier fraction solved, learning curves,
sequences to success and cost per time step. The paper's figures come from the installed
plugins' presets. Figures are embedded as base64 PNG, so ``index.html`` works offline on its
own; the same PNGs are written beside it.

matplotlib is imported only when a report is built, never when the CLI lists commands.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .errors import SeqbenchError, UnknownNameError

DEFAULT_OUT = "seqbench-report"
INDEX = "index.html"

CAPTIONS = {
    "km": (
        "<b>Kaplan-Meier fraction of trials solved</b> against sequences presented, one step "
        "curve per configuration. A trial that did not reach success (budget exhausted, "
        "stopped, diverged) is <i>censored</i> where it stopped (tick): it leaves the trials "
        "at risk there, without counting as solved or as failed; trials that ended in error "
        "are left out, as in the table's KM quartiles. A star marks the paper's row: its mean "
        "sequences to success (over its successful trials only) at its success rate; a dotted "
        "line is a paper success rate given without a mean. A hollow star is a paper row whose "
        "configuration the stored run changed (shown for reference)."),
    "curves": (
        "<b>Learning curves</b>: across the trials of each configuration, the median (line) "
        "and 25–75 % band of the mean training error (left) and of the fraction of training "
        "sequences correct (right), over the block of sequences (stream learners) or over the "
        "training set after each fit call (set learners) ending at that many sequences. A "
        "trial that <i>stopped at success</i> is carried forward at its last recorded value up "
        "to the longest trial of its configuration; any other trial counts only up to its "
        "last recorded point. Curves are sampled (at most 200 points a trial)."),
    "success": (
        "<b>Sequences to success</b> per trial: solved trials as dots (with a box of their "
        "quartiles from three solved trials on), unsolved trials as open triangles at the "
        "sequences they ran (success, if any, would come later; open squares: stopped by "
        "<code>--trial-timeout</code> before the budget), the paper's mean over its "
        "successful trials as a diamond (hollow: the stored run changed the paper's "
        "configuration). Dots are jittered sideways with a fixed seed."),
    "cost": (
        "<b>Cost</b>: nanoseconds per trained time step (training time only, just-in-time "
        "compilation excluded), the mean over each configuration's trials as a bar and every "
        "trial as a dot. Timings depend on the machine and its load when the trials ran."),
}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; margin-top: 2.5em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; } td:first-child, td:nth-child(2), th:first-child { text-align: left; }
.scroll { overflow-x: auto; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; max-width: 900px; }
.note { font-size: 0.9em; color: #444; } ul.tests { font-size: 0.85em; }
nav a { margin-right: 1em; }
"""


class ReportError(SeqbenchError):
    """The report cannot be built or written."""


@dataclass
class Report:
    """What :func:`build_report` wrote."""

    index: Path
    tasks: list[str]
    figures: list[Path] = field(default_factory=list)
    trials: int = 0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "task"


def _configs(results, task: str):
    """The task's configurations: (summary row, trials) pairs in the store's order."""
    trials = results.trials(task)
    groups: dict[str, list[dict[str, Any]]] = {}
    for t in trials:
        groups.setdefault(t["config_key"], []).append(t)
    rows = results.summary(task)  # grouped by config_key in the same order
    if len(rows) != len(groups) or any(
            r["learner"] != g[0]["learner"] or r["trials"] != len(g)
            for r, g in zip(rows, groups.values())):
        raise ReportError(f"summary rows of task {task!r} do not match its stored trials")
    return list(zip(rows, groups.values()))


def _distinctions(pairs) -> list[str]:
    """For configurations whose ``learner@preset`` label would read the same, the parameters,
    seed or budget that tell them apart (``-t need=3``); empty strings for the others."""
    from .report import _label

    base = [_label(row) for row, _ in pairs]
    out = [""] * len(base)
    for name in set(base):
        same = [i for i, b in enumerate(base) if b == name]
        if len(same) < 2:
            continue
        specs = [pairs[i][1][0]["spec"] for i in same]
        parts: list[list[str]] = [[] for _ in same]
        for section, prefix in (("learner_params", ""), ("task_params", "-t ")):
            keys = sorted({k for s in specs for k in s.get(section, {})})
            for k in keys:
                values = [repr(s.get(section, {}).get(k)) for s in specs]
                if len(set(values)) > 1:
                    for j, s in enumerate(specs):
                        parts[j].append(f"{prefix}{k}={s.get(section, {}).get(k)}")
        for key in ("seed", "budget"):
            if len({s.get(key) for s in specs}) > 1:
                for j, s in enumerate(specs):
                    parts[j].append(f"{key}={s.get(key)}")
        # a merged store may hold the same configuration run by other plugin versions
        for plugin in sorted({k for s in specs for k in s.get("versions") or {}}):
            if len({(s.get("versions") or {}).get(plugin) for s in specs}) > 1:
                for j, s in enumerate(specs):
                    parts[j].append(f"{plugin} {(s.get('versions') or {}).get(plugin, '?')}")
        for j, i in enumerate(same):
            out[i] = " ".join(parts[j])
    return out


def _table_html(rows: Sequence[dict[str, Any]], distinctions: Sequence[str]) -> str:
    """The standard table (:func:`seqbench.report.table_rows`) as HTML."""
    from .report import table_rows

    header, cells = table_rows(rows)
    for c, extra in zip(cells, distinctions):
        c[0] = " ".join(filter(None, [c[0], extra]))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in c) + "</tr>"
                   for c in cells)
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def _notes_html(rows: Sequence[dict[str, Any]], labels: Sequence[str]) -> str:
    from .report import paired_lines, paired_tests

    parts = []
    papers = [(label, r["paper"]) for label, r in zip(labels, rows) if r["paper"]]
    if papers:
        items = "".join(
            f"<li><b>{html.escape(label)}</b>: {html.escape(str(p.get('table') or ''))}"
            + (f", {p['trials']} trials" if p.get("trials") else "")
            + (f" — {html.escape(p['note'])}" if p.get("note") else "")
            + ("" if p.get("comparable", True) else
               " <i>(this run changes the paper's configuration: its figures are shown for "
               "reference, marked *)</i>")
            + "</li>" for label, p in papers)
        parts.append(f'<p class="note">The paper\'s rows (from the installed plugins\' '
                     f'presets):</p><ul class="tests">{items}</ul>')
    tests = paired_tests(rows)
    if tests:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in paired_lines(tests))
        parts.append('<p class="note">Paired tests (trial <i>i</i> of each row saw the same '
                     "data): exact McNemar on success, sign test on which reached success "
                     f'first.</p><ul class="tests">{items}</ul>')
    errors = sorted({e for r in rows for e in r.get("errors") or []})
    if errors:
        items = "".join(f"<li>{html.escape(e)}</li>" for e in errors)
        parts.append(f'<p class="note">Trials that ended in error:</p><ul class="tests">'
                     f"{items}</ul>")
    return "".join(parts)


def _task_title(task: str) -> str:
    try:
        from .plugins import get_registry

        cls = get_registry().tasks.get(task)
    except Exception:
        cls = None
    if cls is None:
        return html.escape(task) + " <small>(task plugin not installed)</small>"
    summary = getattr(cls, "summary", "") or ""
    return html.escape(task) + (f" <small>— {html.escape(summary)}</small>" if summary else "")


def _continual_note(task: str) -> str:
    """For a continual task, how to read the captions (written for the block protocol)."""
    from .units import CONTINUAL_UNITS, units_for

    if units_for(task) is not CONTINUAL_UNITS:
        return ""
    return (" A continual task: its unit of work is the training stream, so read "
            "<i>training streams</i> wherever a caption says sequences. Its learning-curve "
            "figure has one panel: how many symbols each training stream predicted right "
            "before its first mistake (the training cap for a stream that reached it), on a "
            "log scale; streams wrong at their first symbol fall below the axis.")


def build_report(db: str | os.PathLike, out: str | os.PathLike = DEFAULT_OUT,
                 task: str | None = None) -> Report:
    """Write ``out/index.html`` (figures embedded) and the figures' PNGs beside it, from the
    store at ``db``; only ``task`` if given. Reads the store only; never runs a trial."""
    from . import __version__
    from .plots import FIGURES, ConfigData
    from .report import _label
    from .results import load

    results = load(db)
    all_trials = results.trials()
    tasks = sorted({t["task"] for t in all_trials})
    if not tasks:
        raise ReportError(f"store {str(db)!r} holds no trials; run 'seqbench compare' first")
    if task is not None:
        if task not in tasks:
            raise UnknownNameError("task", task, tasks, where=f"in store {str(db)!r}")
        tasks = [task]

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ReportError(f"report directory {str(out)!r} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create report directory {str(out)!r}: "
                          f"{exc.strerror or exc}") from None

    report = Report(index=out / INDEX, tasks=tasks)
    sections, nav = [], []
    for name in tasks:
        pairs = _configs(results, name)
        pairs.sort(key=lambda p: (p[0]["learner"], p[0]["preset"] or ""))
        distinctions = _distinctions(pairs)
        labels = [" ".join(filter(None, [_label(row), extra]))
                  for (row, _), extra in zip(pairs, distinctions)]
        curves: dict[str, list] = {}
        for point in results.curves(name):
            curves.setdefault(point["key"], []).append(
                (point["sequences"], point["train_error"], point["train_correct"]))
        configs = [ConfigData(label=label, row=row, trials=trials,
                              curves={t["key"]: curves.get(t["key"], []) for t in trials},
                              color=f"C{i % 10}")
                   for i, (label, (row, trials)) in enumerate(zip(labels, pairs))]
        rows = [row for row, _ in pairs]
        n_trials = sum(len(c.trials) for c in configs)
        report.trials += n_trials
        slug = _slug(name)
        figures_html = []
        for kind, draw in FIGURES:
            png = draw(configs, name)
            path = out / f"{slug}-{kind}.png"
            try:
                path.write_bytes(png)
            except OSError as exc:
                raise ReportError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
            report.figures.append(path)
            data = base64.b64encode(png).decode("ascii")
            figures_html.append(
                f'<figure id="{slug}-{kind}"><img src="data:image/png;base64,{data}" '
                f'alt="{html.escape(name)}: {kind} figure"><figcaption>{CAPTIONS[kind]} '
                f'(<a href="{html.escape(path.name)}">{html.escape(path.name)}</a>)'
                "</figcaption></figure>")
        nav.append(f'<a href="#task-{slug}">{html.escape(name)}</a>')
        sections.append(
            f'<section id="task-{slug}"><h2>{_task_title(name)}</h2>'
            f'<p class="note">{n_trials} stored trial{"s" if n_trials != 1 else ""} in '
            f'{len(configs)} configuration{"s" if len(configs) != 1 else ""}.'
            f"{_continual_note(name)}</p>"
            f"{_table_html(rows, distinctions)}{_notes_html(rows, labels)}"
            + "".join(figures_html) + "</section>")

    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>seqbench report: {html.escape(', '.join(tasks))}</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>seqbench report</h1>"
        f'<p class="note">Store <code>{html.escape(str(db))}</code>: {report.trials} trials of '
        f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} shown, read from the store as "
        f"stored (nothing rerun); paper figures from the installed plugins; seqbench "
        f"{html.escape(__version__)}. Success rates carry their Wilson 95 % interval; "
        "<i>seq mean</i> is the paper's measure (mean over solved trials); the KM columns are "
        "Kaplan-Meier quartiles of sequences to success with unsolved trials censored where "
        "they stopped (<code>&gt;N</code>: too few trials solved to reach that quartile).</p>"
        f"<nav>{''.join(nav)}</nav>" + "".join(sections) + "</body></html>\n")
    try:
        report.index.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {str(report.index)!r}: {exc.strerror or exc}") from None
    return report


@click.command("report")
@click.option("--db", default=None, help="SQLite store (default ./seqbench.db or $SEQBENCH_DB).")
@click.option("--task", default=None, help="Only this task (default: every task in the store).")
@click.option("--out", default=DEFAULT_OUT, show_default=True,
              help="Directory for index.html and the figures' PNGs (created if missing).")
def report(db, task, out) -> None:
    """Write a self-contained HTML page of the store's results: per task the table with its
    statistics and figures (Kaplan-Meier fraction solved, learning curves, sequences to
    success, cost per step) beside the paper's figures. Reads the store only; runs nothing."""
    from .store import default_db_path

    built = build_report(db or default_db_path(), out, task)
    click.echo(f"seqbench: report of {len(built.tasks)} task{'s' if len(built.tasks) != 1 else ''}"
               f" ({built.trials} trials, {len(built.figures)} figures) written to "
               f"{built.index}", err=True)
    click.echo(str(built.index))
