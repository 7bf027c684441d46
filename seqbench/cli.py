"""The ``seqbench`` command line.

Every error a user can cause is printed as one line (``seqbench: error: ...``) with exit code 2;
listing commands never import numba kernels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .errors import SeqbenchError

FORMATS = ("table", "json", "csv", "markdown")


def _registry():
    from .plugins import emit_plugin_warnings, get_registry

    registry = get_registry()
    if not getattr(registry, "_warned", False):
        emit_plugin_warnings(registry)
        registry._warned = True  # type: ignore[attr-defined]
    return registry


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seqbench")
def cli() -> None:
    """Recurrent learning algorithms head to head on the long-time-lag problems of
    Hochreiter & Schmidhuber (1997).

    Results go to a SQLite store (default ./seqbench.db, or $SEQBENCH_DB, or --db);
    re-running a command reuses every finished trial.
    """


# --------------------------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List installed plugins: version, source, what each registers, load errors."""
    registry = _registry()
    records = [r.as_dict() for r in registry.plugins]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    from tabulate import tabulate

    rows = [[r["name"], r["version"] or "-", r["source"], r["status"],
             ", ".join(r["tasks"] + r["learners"]) or "-", len(r["presets"]),
             _shorten("; ".join(filter(None, [r["error"], *r["warnings"]])))] for r in records]
    click.echo(tabulate(rows, ["plugin", "version", "source", "status", "registers", "presets",
                               "error"], tablefmt="simple"))


def _shorten(text: str, width: int = 120) -> str:
    """``text`` on one line of at most ``width`` characters (``--json`` has it whole)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def _param_rows(params) -> list[dict[str, Any]]:
    from .params import to_jsonable

    return [{"name": k, "default": to_jsonable(p.default), "accepts": p.describe(), "doc": p.doc}
            for k, p in params.items()]


@cli.command("list")
@click.argument("what", type=click.Choice(["tasks", "learners", "presets"]))
@click.option("--task", default=None, help="Only presets for this task.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--params/--no-params", default=True, help="Show parameters (tasks, learners).")
def list_(what: str, task: str | None, as_json: bool, params: bool) -> None:
    """List tasks, learners (with parameters and presets) or presets."""
    registry = _registry()
    if task is not None:
        registry.task(task)
    items: list[dict[str, Any]] = []
    if what == "tasks":
        for name, cls in sorted(registry.tasks.items()):
            items.append({
                "name": name, "summary": cls.summary, "paper_section": cls.paper_section,
                "default_budget": cls.default_budget, "default_trials": cls.default_trials,
                "params": _param_rows(cls.params),
                "presets": sorted(f"{p.learner}@{p.name}" for p in registry.presets.values()
                                  if p.task == name),
            })
    elif what == "learners":
        for name, cls in sorted(registry.learners.items()):
            items.append({
                "name": name, "aliases": list(cls.aliases), "summary": cls.summary,
                "params": _param_rows(cls.params),
                "presets": sorted(p.name for p in registry.presets_for(name, task)),
            })
    else:
        for (learner, name), p in sorted(registry.presets.items()):
            if task and p.task != task:
                continue
            items.append({
                "learner": learner, "name": name, "task": p.task, "experiment": p.experiment,
                "default": p.default, "budget": p.budget, "trials": p.trials,
                "description": p.description, "source": p.source,
                "paper": None if p.paper is None else {
                    "table": p.paper.table, "success_rate": p.paper.success_rate,
                    "sequences_to_success": p.paper.sequences_to_success,
                },
            })
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    _print_listing(what, items, params)


def _print_listing(what: str, items: list[dict[str, Any]], params: bool) -> None:
    from tabulate import tabulate

    if what == "presets":
        rows = [[i["learner"], i["name"] + (" *" if i["default"] else ""), i["task"],
                 i["experiment"], _num(i["budget"]), i["trials"], i["description"]] for i in items]
        click.echo(tabulate(rows, ["learner", "preset (* default)", "task", "experiment",
                                   "budget", "trials", "description"], tablefmt="simple"))
        return
    for i in items:
        alias = f" (alias: {', '.join(i['aliases'])})" if i.get("aliases") else ""
        click.echo(f"{i['name']}{alias}: {i['summary']}")
        if i.get("paper_section"):
            click.echo(f"    protocol: {i['paper_section']}")
        if params:
            for p in i["params"]:
                click.echo(f"    {p['name']} = {json.dumps(p['default'])}  [{p['accepts']}]  "
                           f"{p['doc']}")
        if i["presets"]:
            click.echo(f"    presets: {', '.join(i['presets'])}")


def _num(v) -> str:
    return "-" if v is None else f"{v:,}"


# --------------------------------------------------------------------------------------------
def _print_plan(configs, path, fmt: str = "table", jobs: int = 1) -> None:
    """The run matrix, with how much of it the store already holds and what the rest should
    cost, without running anything (a short calibration trial stands in where nothing is
    stored)."""
    from .runner import estimate_cost
    from .store import Store

    stored: dict[int, list[dict]] = {}
    if Path(path).exists():
        with Store(path, readonly=True) as store:
            for c in configs:
                stored[id(c)] = store.trials(s.key for s in c.specs())
    plans = []
    for c in configs:
        kept = [t for t in stored.get(id(c), []) if t["status"] != "error"]
        done = sum(t["status"] != "timeout" for t in kept)  # a timed-out trial is resumed
        cost = estimate_cost(c, kept, registry=_registry())
        plans.append({
            "task": c.task, "learner": c.learner, "preset": c.preset,
            "overrides": dict(c.overrides), "trials": c.trials, "budget": c.budget,
            "already_stored": done, "to_run": c.trials - done,
            "to_resume": len(kept) - done, **cost,
        })
    total = {
        "trials": sum(p["trials"] for p in plans),
        "already_stored": sum(p["already_stored"] for p in plans),
        "to_run": sum(p["to_run"] for p in plans),
        "to_resume": sum(p["to_resume"] for p in plans),
        "estimated_s": _total(p["estimated_s"] for p in plans),
        "worst_case_s": _total(p["worst_case_s"] for p in plans),
        "jobs": jobs, "store": str(path),
    }
    if fmt == "json":
        click.echo(json.dumps({"rows": plans, "total": total}, indent=2))
        return
    from tabulate import tabulate

    rows = [[p["task"], p["learner"], p["preset"] or "-",
             " ".join(f"{k}={v}" for k, v in p["overrides"].items()) or "-", p["trials"],
             f"{p['budget']:,}", p["already_stored"], _duration(p["estimated_s"]),
             _duration(p["worst_case_s"]), p["basis"]] for p in plans]
    click.echo(tabulate(rows, ["task", "learner", "preset", "overrides", "trials", "budget",
                               "already stored", "est. time", "if none solves", "estimated from"],
                        tablefmt="simple", disable_numparse=True))
    resumed = (f" ({total['to_resume']} of them timed out, resumed from where they stopped)"
               if total["to_resume"] else "")
    about = _duration(_per_job(total["estimated_s"], jobs))
    click.echo(f"{total['trials']} trials planned, {total['already_stored']} already stored, "
               f"{total['to_run']} to run{resumed}: about {about} "
               f"on {jobs} job{'s' if jobs != 1 else ''}, at most "
               f"{_duration(_per_job(total['worst_case_s'], jobs))} if no trial stops early "
               f"(store {path})")


def _per_job(seconds: float | None, jobs: int) -> float | None:
    return None if seconds is None else seconds / jobs


def _total(values) -> float | None:
    """A sum of estimates, unknown (None) when any of them is."""
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _open_store(path, specs):
    """The store to run ``specs`` against: writable, or read-only when it cannot be written but
    already holds every one of them (a finished comparison on a read-only disk still prints)."""
    from .errors import StoreError
    from .store import Store

    try:
        return Store(path)
    except StoreError as exc:
        if not Path(path).is_file() or not ("read-only" in str(exc) or "cannot be opened"
                                             in str(exc)):
            raise
        readonly = Store(path, readonly=True)
        missing = len(specs) - len(readonly.finished(s.key for s in specs))
        if missing:
            readonly.close()
            raise StoreError(f"{exc}; {missing} of the {len(specs)} trials asked for are not "
                             "stored in it yet") from None
        return readonly


def _execute_with_progress(configs, path, jobs: int, executor: str, scheduler: str | None,
                           command: str, quiet: bool, checkpoint_every: float,
                           trial_timeout: float | None, registry, kind: str = "configuration"):
    """Run the trials of ``configs`` not yet stored at ``path``, with the live progress display
    and one line per finished trial; exits with 130 after Ctrl-C (every finished trial kept).
    Returns the :class:`~seqbench.runner.Execution`."""
    from .progress import Display
    from .runner import execute
    from .units import units_for

    if jobs < 1:  # before the store is touched
        raise SeqbenchError(f"--jobs must be at least 1, got {jobs}")
    if not checkpoint_every >= 0:
        raise SeqbenchError(f"--checkpoint-every must be >= 0 seconds, got {checkpoint_every}")
    if trial_timeout is not None and not trial_timeout > 0:
        raise SeqbenchError(f"--trial-timeout must be > 0 seconds, got {trial_timeout}")
    if executor == "dask" and scheduler:  # an unreachable cluster is refused before the store
        from .runner import connect_scheduler  # is touched

        connect_scheduler(scheduler).close()
    specs = [s for c in configs for s in c.specs()]
    with _open_store(path, specs) as store:
        to_run = len(specs) - len(store.finished(s.key for s in specs))
        n_configs = len(configs)
        _echo_err(f"seqbench: {len(specs)} trials in {n_configs} {kind}"
                  f"{'s' if n_configs != 1 else ''}; store {path}")
        with Display(to_run, jobs, quiet, {s.key: s.budget for s in specs}) as display:
            def progress(spec, row, i, total):
                seq, unit = row["sequences_to_success"], units_for(spec.task).noun
                what = f"solved after {seq:,} {unit}" if seq else \
                    f"{row['status']} after {row['sequences']:,} {unit}"
                if row["status"] == "error":
                    what = "error: " + (row.get("error") or "").splitlines()[0]
                display.trial_done(
                    spec.key, row["status"], row["wall_s"],
                    f"[{i}/{total}] {spec.learner}@{spec.preset or '-'} on {spec.task}, "
                    f"trial {spec.trial}: {what} ({row['wall_s']:.1f} s)")

            outcome = execute(specs, store, jobs=jobs, executor=executor, scheduler=scheduler,
                              registry=registry, command=command, on_result=progress,
                              checkpoint_every=checkpoint_every, trial_timeout=trial_timeout,
                              on_note=lambda note: _echo_err(f"seqbench: note: {note}"))
        _echo_err(f"seqbench: {outcome.reused} trials reused from the store, "
                  f"{outcome.ran} run now")
        if outcome.interrupted:
            _echo_err(f"seqbench: interrupted; {outcome.ran} trials finished now and stored in "
                      f"{path}; run the same command again to resume")
            sys.exit(130)
    return outcome


def _run_configs(configs, db: str | None, jobs: int, fmt: str, executor: str,
                 scheduler: str | None, command: str, quiet: bool, dry_run: bool = False,
                 checkpoint_every: float = 180.0, trial_timeout: float | None = None) -> None:
    from .report import render, summarise
    from .store import default_db_path

    registry = _registry()
    path = db or default_db_path()
    if dry_run:
        _print_plan(configs, path, fmt, jobs)
        return
    outcome = _execute_with_progress(configs, path, jobs, executor, scheduler, command, quiet,
                                     checkpoint_every, trial_timeout, registry)
    rows = []
    for c in configs:
        trial_rows = [outcome.results[s.key] for s in c.specs() if s.key in outcome.results]
        rows.append(summarise(c, trial_rows))
    click.echo(render(rows, fmt))
    errored = [r for r in outcome.results.values() if r["status"] == "error"]
    if errored:
        first = (errored[0].get("error") or "").splitlines()[0]
        _echo_err(f"seqbench: {len(errored)} trial{'s' if len(errored) != 1 else ''} ended in "
                  f"error (first: {errored[0]['learner']} trial {errored[0]['trial']}: {first}); "
                  "'seqbench export' shows every message")
        sys.exit(1)


def _common_run_options(f):
    for option in reversed([
        click.option("--trials", type=int, default=None,
                     help="Trials per learner (default: the preset's, i.e. the paper's, count)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Base seed."),
        click.option("--budget", type=int, default=None,
                     help="Training sequences per trial (default: the preset's or task's)."),
        click.option("--jobs", "-j", type=int, default=1, show_default=True,
                     help="Trials run at once on local processes."),
        click.option("--db", default=None, help="SQLite store (default ./seqbench.db)."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                     show_default=True),
        click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
                     show_default=True, help="local processes, or a Dask cluster."),
        click.option("--scheduler", default=None,
                     help="Dask scheduler address (with --executor dask)."),
        click.option("--quiet", "-q", is_flag=True, help="No per-trial progress lines."),
        click.option("--checkpoint-every", type=float, default=180.0, show_default=True,
                     metavar="SECONDS",
                     help="A running trial saves its state this often (in <db>.checkpoints/); "
                          "a re-run resumes it. 0: no checkpoints."),
        click.option("--trial-timeout", type=float, default=None, metavar="SECONDS",
                     help="End a trial after this much wall-clock training time, with status "
                          "'timeout' (not reused: a re-run with a larger limit continues it)."),
        click.option("--dry-run", is_flag=True,
                     help="Show the planned configurations and what is already stored; run "
                          "nothing."),
    ]):
        f = option(f)
    return f


@cli.command()
@click.option("--task", required=True, help="Task name (see 'seqbench list tasks').")
@click.option("--learners", required=True,
              help="Comma-separated learners, each optionally NAME@PRESET.")
@click.option("--preset", default=None,
              help="Preset for every learner without @PRESET ('none': plain defaults).")
@click.option("-p", "learner_params", multiple=True, metavar="KEY=VALUE",
              help="Learner parameter; LEARNER.KEY=VALUE for one learner only.")
@click.option("-t", "task_params", multiple=True, metavar="KEY=VALUE", help="Task parameter.")
@_common_run_options
def compare(task, learners, preset, learner_params, task_params, trials, seed, budget, jobs, db,
            fmt, executor, scheduler, quiet, checkpoint_every, trial_timeout, dry_run) -> None:
    """Run learners head to head on one task and print the standard table."""
    from .params import parse_assignments
    from .runner import parse_learner_list, plan

    notes: list[str] = []
    configs = plan(
        _registry(), task, parse_learner_list(learners), preset=preset, trials=trials,
        seed=seed, budget=budget, task_params=parse_assignments(task_params, "-t"),
        learner_params=parse_assignments(learner_params, "-p"), notes=notes,
    )
    for note in notes:
        _echo_err(f"seqbench: note: {note}")
    _run_configs(configs, db, jobs, fmt, executor, scheduler, " ".join(sys.argv), quiet, dry_run,
                 checkpoint_every, trial_timeout)


@cli.command()
@click.option("--task", required=True, help="Task name.")
@click.option("--learner", required=True, help="Learner name, optionally NAME@PRESET.")
@click.option("--preset", default=None, help="Preset name ('none': plain defaults).")
@click.option("-p", "learner_params", multiple=True, metavar="KEY=VALUE", help="Learner parameter.")
@click.option("-t", "task_params", multiple=True, metavar="KEY=VALUE", help="Task parameter.")
@_common_run_options
def run(task, learner, preset, learner_params, task_params, trials, seed, budget, jobs, db, fmt,
        executor, scheduler, quiet, checkpoint_every, trial_timeout, dry_run) -> None:
    """Run one learner on one task (one trial unless --trials says more)."""
    from .params import parse_assignments
    from .runner import parse_learner_list, plan

    chosen = parse_learner_list(learner)
    if len(chosen) > 1:
        raise SeqbenchError(f"run takes one learner, got {len(chosen)} ({learner}); use "
                            "'seqbench compare --learners ...' for several")
    configs = plan(
        _registry(), task, chosen, preset=preset, trials=trials or 1,
        seed=seed, budget=budget, task_params=parse_assignments(task_params, "-t"),
        learner_params=parse_assignments(learner_params, "-p"),
    )
    _run_configs(configs, db, jobs, fmt, executor, scheduler, " ".join(sys.argv), quiet, dry_run,
                 checkpoint_every, trial_timeout)


@cli.command()
@click.argument("experiment")
@click.option("--learners", default=None, help="Only these learners (comma-separated).")
@click.option("--rows", default=None,
              help="Only these table rows, by row id (the preset name after 'EXPERIMENT-', "
                   "e.g. T100 for exp4-T100, q100-p100 for exp2c-q100-p100) or preset name.")
@_common_run_options
def reproduce(experiment, learners, rows, trials, seed, budget, jobs, db, fmt, executor,
              scheduler, quiet, checkpoint_every, trial_timeout, dry_run) -> None:
    """Run the paper's configurations of EXPERIMENT (exp1 ... exp6b, or all) and print
    measured results beside the published ones.

    Some rows cost hours (Table 7's T=1000, Table 3's q=1000); --rows and --learners pick
    a part of an experiment, --dry-run shows what would run.
    """
    from .errors import UnknownNameError
    from .runner import plan

    registry = _registry()
    experiments = sorted({p.experiment for p in registry.presets.values() if p.experiment})
    if experiment != "all" and experiment not in experiments:
        raise UnknownNameError("experiment", experiment, [*experiments, "all"])
    only = None
    if learners:
        only = {registry.learner_name(n.strip()) for n in learners.split(",") if n.strip()}
    chosen = [p for p in registry.presets.values()
              if p.experiment and (experiment == "all" or p.experiment == experiment)
              and (only is None or p.learner in only)]
    if rows:
        wanted = {r.strip() for r in rows.split(",") if r.strip()}
        available = {_row_id(p) for p in chosen} | {p.name for p in chosen}
        for r in sorted(wanted - available):
            raise UnknownNameError("row", r, sorted({_row_id(p) for p in chosen}),
                                   where=f"of {experiment}")
        chosen = [p for p in chosen if _row_id(p) in wanted or p.name in wanted]
    chosen.sort(key=lambda p: (p.experiment, p.task, p.learner, p.name))
    configs = [
        c for p in chosen
        for c in plan(registry, p.task, [(p.learner, p.name)], trials=trials, seed=seed,
                      budget=budget)
    ]
    _run_configs(configs, db, jobs, fmt, executor, scheduler, " ".join(sys.argv), quiet, dry_run,
                 checkpoint_every, trial_timeout)


def _row_id(preset) -> str:
    """A preset's row within its experiment: ``exp4-T100`` -> ``T100``."""
    prefix = preset.experiment + "-"
    return preset.name[len(prefix):] if preset.name.startswith(prefix) else preset.name


# --------------------------------------------------------------------------------------------
@cli.command()
@click.option("--db", default=None, help="SQLite store (default ./seqbench.db).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)
@click.option("--curves", is_flag=True,
              help="Learning curves as tidy rows (one per recorded point) instead of trials.")
@click.option("--task", default=None, help="Only this task's trials.")
def export(db, fmt, curves, task) -> None:
    """Print every stored trial (or, with --curves, every learning-curve point) as JSON or CSV.

    From Python: seqbench.load(db).trials() / .curves() / .summary().
    """
    from .report import to_csv
    from .results import load
    from .store import default_db_path

    results = load(db or default_db_path())
    rows = results.curves(task=task) if curves else results.trials(task=task)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not curves:
        rows = [{**{k: v for k, v in r.items() if k not in ("spec", "metrics", "diagnostics")},
                 "metrics": json.dumps(r["metrics"]), "diagnostics": json.dumps(r["diagnostics"]),
                 "spec": json.dumps(r["spec"])} for r in rows]
    click.echo(to_csv(rows), nl=False)


@cli.command()
@click.argument("other")
@click.option("--db", default=None, help="Store to merge into (default ./seqbench.db).")
def merge(other, db) -> None:
    """Copy into the store every trial of OTHER (another store) that it lacks."""
    from .store import Store, default_db_path

    with Store(db or default_db_path()) as dst:  # OTHER is read by column names, any schema
        n = dst.merge_from(Path(other))
    _echo_err(f"seqbench: merged {n} trials from {other}")


from .html_report import report as _report  # noqa: E402  (matplotlib only when it runs)

cli.add_command(_report)

from .cli_profile import profile_command as _profile  # noqa: E402
from .cli_sweep import importance as _importance  # noqa: E402
from .cli_sweep import sweep as _sweep  # noqa: E402

for _command in (_profile, _sweep, _importance):
    cli.add_command(_command)


def _add_plugin_commands() -> None:
    """Let plugins add subcommands; a failing plugin is reported, not fatal."""
    try:
        registry = _registry()
    except SeqbenchError:
        return
    pm = getattr(registry, "plugin_manager", None)
    if pm is None:
        return
    for impl in pm.hook.seqbench_register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:
            _echo_err(f"seqbench: plugin {impl.plugin_name!r} failed to add commands: {exc}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqbench`` command."""
    _add_plugin_commands()
    try:
        cli.main(args=argv, prog_name="seqbench", standalone_mode=False)
    except click.exceptions.Abort:
        _echo_err("seqbench: aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SeqbenchError as exc:
        _echo_err(f"seqbench: error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        _echo_err("seqbench: interrupted; finished trials are stored, re-run to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()
