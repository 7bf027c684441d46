"""Standard tables: one row per learner configuration, the paper's published row beside it."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from . import stats
from .runner import Config
from .trial import STATUSES

FORMATS = ("table", "json", "csv", "markdown")


def _mean(values: Sequence[float]) -> float | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(statistics.fmean(values)) if values else None


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _paper_test_error(extra) -> float | None:
    """The published final-test error as a fraction of test sequences, where a table gives one."""
    if extra.get("fraction_misclassified") is not None:
        return float(extra["fraction_misclassified"])
    if extra.get("wrong_of_2560") is not None:
        return float(extra["wrong_of_2560"]) / 2560
    return None


def summarise(config: Config, trial_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate the trials of one configuration into one report row (the JSON row shape)."""
    solved = [r for r in trial_rows if r["status"] == "solved"]
    counts = [r["sequences_to_success"] for r in solved]
    n = len(trial_rows)
    paper = None
    if config.paper is not None:
        paper = {
            "table": config.paper.table,
            "success_rate": config.paper.success_rate,
            "sequences_to_success": config.paper.sequences_to_success,
            "trials": config.paper.trials,
            "note": config.paper.note,
            **dict(config.paper.extra),
            "test_error": _paper_test_error(config.paper.extra),
            "comparable": config.paper_comparable,
        }
    judged = [r for r in trial_rows if r["status"] != "error"]  # an error says nothing of speed
    km_times = [r["sequences_to_success"] if r["status"] == "solved" else (r["sequences"] or 0)
                for r in judged]
    km_solved = [r["status"] == "solved" for r in judged]
    interval = stats.wilson_interval(len(solved), n)
    # a timed-out trial is censored, not failed: the rate is a lower bound, and this the upper
    timed_out = sum(r["status"] == "timeout" for r in trial_rows)
    upper = stats.wilson_interval(len(solved) + timed_out, n) if timed_out else None
    metric_names = sorted({k for r in trial_rows for k in (r.get("metrics") or {})})
    diagnostic_names = sorted({k for r in trial_rows for k in (r.get("diagnostics") or {})})
    return {
        "task": config.task,
        "learner": config.learner,
        "preset": config.preset,
        "overrides": dict(config.overrides),
        "n_weights": next((r["n_weights"] for r in trial_rows if r.get("n_weights")), None),
        # a constructive learner (rcc) ends each trial with its own size
        "n_weights_range": [min(sizes), max(sizes)] if (sizes := [
            r["n_weights"] for r in trial_rows if r.get("n_weights")]) else None,
        "trials": n,
        "successes": len(solved),
        "success_rate": len(solved) / n if n else None,
        "success_interval": list(interval) if interval else None,
        "success_if_timed_out_solve": (len(solved) + timed_out) / n if timed_out else None,
        "success_if_timed_out_solve_interval": list(upper) if upper else None,
        "sequences_to_success": {
            "mean": float(statistics.fmean(counts)),
            "median": float(statistics.median(counts)),
            "min": int(min(counts)),
            "max": int(max(counts)),
        } if counts else None,
        # Kaplan-Meier quartiles, unsolved trials censored at the sequences they ran
        "sequences_km": {f"q{int(q * 100)}": stats.km_quantile(km_times, km_solved, q)
                         for q in (0.25, 0.5, 0.75)} if judged else None,
        # trial, solved, sequences to success, and where a timed-out trial stopped (censored)
        "outcomes": [[r["trial"], r["status"] == "solved", r["sequences_to_success"],
                      r["sequences"] if r["status"] == "timeout" else None]
                     for r in sorted(trial_rows, key=lambda r: r["trial"])],
        "seed": config.seed,
        "task_params": dict(config.task_params),
        "statuses": {s: sum(r["status"] == s for r in trial_rows) for s in STATUSES},
        "budget": config.budget,
        "check_every": next((r["check_every"] for r in trial_rows if r.get("check_every")), 0),
        "test_error": _mean([(r.get("metrics") or {}).get("test_error") for r in trial_rows]),
        "metrics": {m: _mean([(r.get("metrics") or {}).get(m) for r in trial_rows])
                    for m in metric_names},
        # a continual task's classes (seqbench.continual.final_metrics): trials good / rest
        "good_rest": [sum((r.get("metrics") or {}).get(c) == 1.0 for r in trial_rows)
                      for c in ("good", "rest")] if "good" in metric_names else None,
        "diagnostics": {m: _mean([_number((r.get("diagnostics") or {}).get(m))
                                  for r in trial_rows]) for m in diagnostic_names},
        # the learner's own units of work, averaged like sequences to success: over solved trials
        "work_to_success": {u: _mean([_number((r.get("diagnostics") or {}).get(u))
                                      for r in solved]) for u in config.work_units},
        "work_units": list(config.work_units),
        "wall_s_per_trial": _mean([r["wall_s"] for r in trial_rows]),
        "ns_per_step": _mean([r["ns_per_step"] for r in trial_rows]),
        "errors": sorted({(r.get("error") or "").splitlines()[0] for r in trial_rows
                          if r["status"] == "error"}),
        "paper": paper,
    }


def _fmt(v: Any, digits: int = 0) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _weights(row: dict[str, Any]) -> str:
    """The weight count, or its range over the trials when they ended with different sizes."""
    low, high = row.get("n_weights_range") or (row["n_weights"], row["n_weights"])
    return _fmt(low) if low == high else f"{_fmt(low)}–{_fmt(high)}"


def _pct_interval(rate: float | None, ci: Sequence[float] | None) -> str:
    """``20% [9-38]``: a rate and its Wilson 95 % interval, in percent."""
    if rate is None or not ci:
        return _pct(rate)
    return f"{_pct(rate)} [{100 * ci[0]:.0f}-{100 * ci[1]:.0f}]"


def _km(row: dict[str, Any], q: str) -> str:
    """A Kaplan-Meier quartile of sequences to success; ``>N`` where too few trials solved."""
    km = row.get("sequences_km")
    if not km:
        return "-"
    return _fmt(int(km[q])) if km[q] is not None else f">{row['budget']:,}"


def paired_tests(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Paired comparisons of every two rows run on the same task, task parameters and seed (so
    trial i of each saw the same data): exact McNemar on success, sign test on which was first."""
    out = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if (a["task"], a.get("task_params"), a.get("seed")) != \
                    (b["task"], b.get("task_params"), b.get("seed")):
                continue
            test = stats.paired_test(*({o[0]: tuple(o[1:]) for o in r.get("outcomes") or []}
                                       for r in (a, b)))
            if test.trials:
                out.append({"a": _label(a), "b": _label(b), **vars(test)})
    return out


def _label(row: dict[str, Any]) -> str:
    return (row["learner"] + (f"@{row['preset']}" if row["preset"] else "")
            + "".join(f" {k}={v}" for k, v in row["overrides"].items()))


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def paired_lines(tests: Sequence[dict[str, Any]]) -> list[str]:
    """One line per paired comparison, for the human table."""
    return [
        f"{t['a']} vs {t['b']} ({t['trials']} paired trials): solved by one only "
        f"{t['only_a']} vs {t['only_b']}, McNemar exact p = {_p(t['mcnemar_p'])}; first to "
        f"success {t['a_first']} vs {t['b_first']} ({t['ties']} ties), sign test p = "
        f"{_p(t['sign_p'])}" + _left_out(t)
        for t in tests]


def _left_out(test: dict[str, Any]) -> str:
    """What a paired line says about pairs a timed-out trial left undecided."""
    undecided, unordered = test.get("undecided", 0), test.get("unordered", 0)
    if not undecided:
        return ""
    return (f" ({undecided} pairs with a timed-out trial left out of McNemar, {unordered} of "
            "them also of the sign test)")


def _own_work(units: dict[str, float | None]) -> str:
    """A set learner's own units of work to success, e.g. ``6.2 draws``."""
    shown = [f"{v:,.1f} {k}" for k, v in units.items() if v is not None]
    return "; ".join(shown) or "-"


def table_rows(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the human table."""
    header = ["learner", "preset", "W", "trials", "solved", "success [95% CI]", "seq mean",
              "KM median", "KM q25–q75", "own work", "test err", "s/trial", "ns/step",
              "paper success", "paper seq", "paper test err"]
    cells = []
    for r in rows:
        s = r["sequences_to_success"] or {}
        p = r["paper"] or {}
        label = r["learner"] + "".join(f" {k}={v}" for k, v in r["overrides"].items())
        cells.append([
            label, r["preset"] or "-", _weights(r), _fmt(r["trials"]),
            _fmt(r["successes"]), _pct_interval(r["success_rate"], r.get("success_interval")),
            _fmt(s.get("mean")),
            _km(r, "q50"), f"{_km(r, 'q25')}–{_km(r, 'q75')}" if r.get("sequences_km") else "-",
            _own_work(r.get("work_to_success") or {}),
            "-" if r["test_error"] is None else f"{r['test_error']:.4f}",
            _fmt(r["wall_s_per_trial"], 1), _fmt(r["ns_per_step"]),
            *_paper_cells(p, r.get("work_units") or ()),
        ])
    at = header.index("test err")
    header[at:at] = ["good/rest", "timed out", "if timed out solve", "diverged", "errors"]
    for r, c in zip(rows, cells):
        good_rest = r.get("good_rest")
        c[at:at] = ["-" if good_rest is None else f"{good_rest[0]}/{good_rest[1]}",
                    _fmt(r["statuses"].get("timeout", 0)),
                    _pct_interval(r.get("success_if_timed_out_solve"),
                                  r.get("success_if_timed_out_solve_interval")),
                    *(_fmt(r["statuses"].get(s, 0)) for s in ("diverged", "error"))]
    # columns that would be empty in every row are left out
    for name, shown in (("own work", any(r.get("work_to_success") for r in rows)),
                        ("good/rest", any(r.get("good_rest") is not None for r in rows)),
                        ("timed out", any(r["statuses"].get("timeout") for r in rows)),
                        ("if timed out solve",
                         any(r["statuses"].get("timeout") for r in rows)),
                        ("diverged", any(r["statuses"].get("diverged") for r in rows)),
                        ("errors", any(r["statuses"].get("error") for r in rows))):
        if not shown:
            at = header.index(name)
            header = header[:at] + header[at + 1:]
            cells = [c[:at] + c[at + 1:] for c in cells]
    return header, cells


def _paper_cells(paper: dict[str, Any], work_units: Sequence[str] = ()) -> list[str]:
    """The paper's success, sequences and test error; marked ``*`` where the row's overrides
    change the paper's configuration (shown for reference, not comparable). Where the paper
    counts the learner's own unit of work instead of sequences (guessing's draws), that figure
    stands in the sequences column with its unit."""
    if not paper:
        return ["-", "-", "-"]
    mark = "" if paper.get("comparable", True) else "*"
    seq = _fmt(paper.get("sequences_to_success"))
    if paper.get("sequences_to_success") is None:
        own = [f"{paper[u]:,g} {u}" for u in work_units if _number(paper.get(u)) is not None]
        seq = "; ".join(own) or seq
    cells = [_pct(paper.get("success_rate")), seq,
             "-" if paper.get("test_error") is None else f"{paper['test_error']:.4f}"]
    return [c + mark if c != "-" else c for c in cells]


def flat_row(r: dict[str, Any]) -> dict[str, Any]:
    """A report row as flat columns of plain numbers and strings (None where missing), for
    CSV and data frames."""
    seq = r["sequences_to_success"] or {}
    km = r.get("sequences_km") or {}
    ci = r.get("success_interval") or [None, None]
    upper = r.get("success_if_timed_out_solve_interval") or [None, None]
    paper = r["paper"] or {}
    return {
        "task": r["task"], "learner": r["learner"], "preset": r["preset"],
        "overrides": json.dumps(r["overrides"], sort_keys=True) if r["overrides"] else None,
        "n_weights": r["n_weights"], "trials": r["trials"], "successes": r["successes"],
        "success_rate": r["success_rate"], "success_low": ci[0], "success_high": ci[1],
        "success_if_timed_out_solve": r.get("success_if_timed_out_solve"),
        "success_if_timed_out_solve_low": upper[0], "success_if_timed_out_solve_high": upper[1],
        "seq_mean": seq.get("mean"), "seq_median": seq.get("median"), "seq_min": seq.get("min"),
        "seq_max": seq.get("max"), "km_q25": km.get("q25"), "km_median": km.get("q50"),
        "km_q75": km.get("q75"), "budget": r["budget"],
        **{f"status_{k}": v for k, v in r["statuses"].items()},
        **{f"work_{k}": v for k, v in (r.get("work_to_success") or {}).items()},
        "test_error": r["test_error"], "wall_s_per_trial": r["wall_s_per_trial"],
        "ns_per_step": r["ns_per_step"], "paper_table": paper.get("table"),
        "paper_success_rate": paper.get("success_rate"),
        "paper_sequences_to_success": paper.get("sequences_to_success"),
        "paper_test_error": paper.get("test_error"),
        "paper_comparable": paper.get("comparable") if paper else None,
    }


def to_csv(records: Sequence[dict[str, Any]]) -> str:
    """Records as CSV: numbers as numbers, empty cells for missing values, LF line ends; the
    columns are the union of the records' keys in first-seen order."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def render(rows: Sequence[dict[str, Any]], fmt: str = "table") -> str:
    """Render report rows as ``table``, ``markdown``, ``csv`` or ``json``."""
    tests = paired_tests(rows)
    if fmt == "json":
        return json.dumps({"rows": list(rows), "paired": tests}, indent=2, sort_keys=False)
    header, cells = table_rows(rows)
    notes = ""
    if any(r["paper"] and not r["paper"].get("comparable", True) for r in rows):
        notes += ("\n* this row's overrides change the paper's configuration: its figures are "
                  "shown for reference, not comparable")
    if tests:
        notes += "\n\npaired tests (same trials, same data):\n" + "\n".join(paired_lines(tests))
    if fmt == "markdown":
        return tabulate(cells, header, tablefmt="github", disable_numparse=True) + notes
    if fmt == "csv":
        return to_csv([flat_row(r) for r in rows])
    if fmt == "table":
        return tabulate(cells, header, tablefmt="simple", disable_numparse=True) + notes
    raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
