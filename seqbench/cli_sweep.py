"""``seqbench sweep`` and ``seqbench importance``: random hyperparameter search over a
search-space file, and which hyperparameters the stored outcomes depend on (docs/sweeps.md).

The integrator adds them to the main group::

    from .cli_sweep import importance, sweep
    cli.add_command(sweep)
    cli.add_command(importance)

Errors are :class:`~seqbench.errors.SeqbenchError` s, printed as one line by ``seqbench.cli.main``.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click



def _cli():
    """The main command module, imported when a command runs (it imports this module)."""
    import sys

    main = sys.modules.get("__main__")
    if getattr(main, "__spec__", None) is not None and main.__spec__.name == "seqbench.cli":
        return main  # run as ``python -m seqbench.cli``
    from . import cli

    return cli


def _echo_err(msg: str) -> None:
    _cli()._echo_err(msg)


def _open_store(*args, **kwargs):
    return _cli()._open_store(*args, **kwargs)


def _print_plan(*args, **kwargs):
    return _cli()._print_plan(*args, **kwargs)


def _registry():
    return _cli()._registry()
from .errors import SeqbenchError

#: configurations shown in the sweep's table (all of them with --format json)
TOP_ROWS = 20


@click.command()
@click.option("--task", required=True, help="Task name (see 'seqbench list tasks').")
@click.option("--learners", required=True,
              help="Comma-separated learners, each optionally NAME@PRESET (the base preset the "
                   "swept values override).")
@click.option("--space", "space_path", required=True, type=click.Path(dir_okay=False),
              help="Search-space TOML file (docs/sweeps.md).")
@click.option("--n", "n", type=int, required=True,
              help="Configurations per learner (per value of each exhaustive axis).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Sweep seed: configuration i depends only on (seed, i); also the trials' "
                   "base seed.")
@click.option("--budget", type=int, default=None,
              help="Training sequences per trial (default: the task's; the same for every "
                   "learner).")
@click.option("--trials-per-config", type=int, default=1, show_default=True,
              help="Trials per configuration (trials 0..K-1: every configuration sees the same "
                   "data).")
@click.option("--exhaustive", default="variant", show_default=True,
              help="Comma-separated choice dimensions run with every value instead of sampled "
                   "('' for none).")
@click.option("--preset", default=None,
              help="Base preset for every learner without @PRESET ('none': plain defaults; "
                   "default: the learner's default preset for the task).")
@click.option("-p", "learner_params", multiple=True, metavar="KEY=VALUE",
              help="Fixed learner parameter (LEARNER.KEY=VALUE for one learner).")
@click.option("-t", "task_params", multiple=True, metavar="KEY=VALUE", help="Task parameter.")
@click.option("--jobs", "-j", type=int, default=1, show_default=True,
              help="Trials run at once on local processes.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="local processes, or a Dask cluster.")
@click.option("--scheduler", default=None, help="Dask scheduler address (with --executor dask).")
@click.option("--db", default=None, help="SQLite store (default ./seqbench.db).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No per-trial progress lines.")
@click.option("--checkpoint-every", type=float, default=180.0, show_default=True,
              metavar="SECONDS", help="A running trial saves its state this often; 0: never.")
@click.option("--trial-timeout", type=float, default=None, metavar="SECONDS",
              help="End a trial after this much wall-clock training time (status 'timeout').")
@click.option("--dry-run", is_flag=True,
              help="Show the planned configurations and what is already stored; run nothing.")
def sweep(task, learners, space_path, n, seed, budget, trials_per_config, exhaustive, preset,
          learner_params, task_params, jobs, executor, scheduler, db, fmt, quiet,
          checkpoint_every, trial_timeout, dry_run) -> None:
    """Random search: N sampled configurations of each learner on TASK from a search space,
    every trial stored; a re-run with a larger --n reuses the configurations already stored."""
    from .params import parse_assignments
    from .runner import parse_learner_list
    from .store import default_db_path
    from .sweep import load_space, plan_sweep

    space = load_space(space_path)
    notes: list[str] = []
    configs = plan_sweep(
        _registry(), task, parse_learner_list(learners), space, n, seed=seed, budget=budget,
        trials_per_config=trials_per_config,
        exhaustive=tuple(a.strip() for a in exhaustive.split(",") if a.strip()),
        preset=preset, task_params=parse_assignments(task_params, "-t"),
        learner_params=parse_assignments(learner_params, "-p"), notes=notes)
    for note in notes:
        _echo_err(f"seqbench: note: {note}")
    path = db or default_db_path()
    if dry_run:
        _print_plan(configs, path, fmt, jobs)
        return
    outcome = _run(configs, path, jobs, executor, scheduler, quiet, checkpoint_every,
                   trial_timeout)
    _print_sweep(configs, outcome, fmt)
    names = ",".join(dict.fromkeys(c.learner for c in configs))
    _echo_err(f"seqbench: which parameters mattered: seqbench importance --task {task} "
              f"--learner {names.split(',')[0]} --db {path}")
    errored = [r for r in outcome.results.values() if r["status"] == "error"]
    if errored:
        first = (errored[0].get("error") or "").splitlines()[0]
        _echo_err(f"seqbench: {len(errored)} trial{'s' if len(errored) != 1 else ''} ended in "
                  f"error (first: {errored[0]['learner']}@{errored[0]['preset']} trial "
                  f"{errored[0]['trial']}: {first}); 'seqbench export' shows every message")
        sys.exit(1)


def _run(configs, path, jobs, executor, scheduler, quiet, checkpoint_every, trial_timeout):
    """Run every configuration's trials on the store at ``path`` with progress, as
    ``seqbench compare`` does."""
    return _cli()._execute_with_progress(
        configs, path, jobs, executor, scheduler, " ".join(sys.argv), quiet, checkpoint_every,
        trial_timeout, _registry(), kind="sweep configuration")


def _print_sweep(configs, outcome, fmt: str) -> None:
    """Per learner: configurations run and solved, and the best configurations (most trials
    solved, then fewest sequences to success, then lowest test error)."""
    from tabulate import tabulate

    from .report import summarise

    rows = []
    for c in configs:
        trials = [outcome.results[s.key] for s in c.specs() if s.key in outcome.results]
        rows.append(summarise(c, trials))
    if fmt == "json":
        click.echo(json.dumps({"rows": rows}, indent=2))
        return

    def rank(r):
        seq = (r["sequences_to_success"] or {}).get("mean")
        return (-(r["success_rate"] or 0), seq if seq is not None else math.inf,
                r["test_error"] if r["test_error"] is not None else math.inf)

    for learner in dict.fromkeys(r["learner"] for r in rows):
        mine = sorted((r for r in rows if r["learner"] == learner), key=rank)
        solved = sum(r["successes"] for r in mine)
        trials = sum(r["trials"] for r in mine)
        click.echo(f"{learner}: {len(mine)} configurations, {solved} of {trials} trials solved"
                   + (f"; best {min(TOP_ROWS, len(mine))}:" if mine else ""))
        # the swept values: the overrides that differ between configurations
        swept = [k for k in (mine[0]["overrides"] if mine else {})
                 if len({r["overrides"].get(k) for r in mine}) > 1]
        table = [[r["preset"], *(r["overrides"].get(k, "-") for k in swept),
                  f"{r['successes']}/{r['trials']}",
                  "-" if not r["sequences_to_success"]
                  else f"{r['sequences_to_success']['mean']:,.0f}",
                  "-" if r["test_error"] is None else f"{r['test_error']:.4f}"]
                 for r in mine[:TOP_ROWS]]
        click.echo(tabulate(table, ["configuration", *swept, "solved", "seq mean", "test err"],
                            tablefmt="simple", disable_numparse=True))


# --------------------------------------------------------------------------------------------
@click.command()
@click.option("--task", required=True, help="Task name.")
@click.option("--learner", required=True, help="Learner name.")
@click.option("--outcome", default="success", show_default=True,
              help="success (0/1), sequences (log10 sequences to success, unsolved censored at "
                   "the budget), test_error (the task's final test) or metric:NAME (any stored "
                   "final-test metric, e.g. metric:test_mse).")
@click.option("--db", default=None, help="SQLite store (default ./seqbench.db).")
@click.option("--space", "space_path", default=None, type=click.Path(dir_okay=False),
              help="The sweep's search space: its dimensions and scales (default: every "
                   "learner parameter that varies, log scale when it spans 10x).")
@click.option("--all-trials", is_flag=True,
              help="Use every stored trial of the learner on the task, not only sweep "
                   "configurations.")
@click.option("--budget", type=int, default=None,
              help="Only trials with this budget (needed when the store holds several).")
@click.option("--n-trees", type=int, default=64, show_default=True, help="Trees of the forest.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the forest.")
@click.option("--top", type=int, default=5, show_default=True,
              help="Pairwise interactions shown.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="Write a PNG bar chart of the shares here.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def importance(task, learner, outcome, db, space_path, all_trials, budget, n_trees, seed, top,
               plot_path, fmt) -> None:
    """Which hyperparameters a learner's stored outcomes on TASK depend on: fANOVA variance
    shares (main effects and pairwise interactions) over a random forest, a permutation-
    importance cross-check, and Welch's t-tests per variant when a 'variant' parameter varies."""
    from .importance import (fanova, outcome_table, permutation_shares, plot_importance,
                             welch_by_variant)
    from .results import load
    from .store import default_db_path
    from .sweep import is_sweep_label, load_space

    from .importance import check_outcome

    check_outcome(outcome)
    registry = _registry()
    registry.task(task)
    name = registry.learner_name(learner)
    path = db or default_db_path()
    from pathlib import Path

    if not Path(path).is_file():
        raise SeqbenchError(f"store {str(path)!r} does not exist")
    if n_trees < 1:
        raise SeqbenchError(f"--n-trees must be at least 1, got {n_trees}")
    rows = load(path).trials(task=task, learner=name)
    if not all_trials:
        rows = [r for r in rows if is_sweep_label(r["preset"])]
    budgets = sorted({r["budget"] for r in rows})
    if budget is not None:
        rows = [r for r in rows if r["budget"] == budget]
    elif len(budgets) > 1:
        raise SeqbenchError(f"the store holds {name} trials on {task} with budgets "
                            f"{', '.join(f'{b:,}' for b in budgets)}; pick one with --budget")
    if not rows:
        raise SeqbenchError(f"no {'sweep ' if not all_trials else ''}trials of {name} on "
                            f"{task} in {path}" + ("" if all_trials else
                                                   " (--all-trials uses every stored trial)"))
    space = None
    if space_path:
        from .sweep import validate_space

        space = validate_space(load_space(space_path), registry.learners[name], name, registry)
    declared = registry.learners[name].params
    defaults = {k: p.neutral for k, p in declared.items() if p.has_neutral}
    table = outcome_table(rows, outcome, space=space, defaults=defaults)
    if not table.names:
        raise SeqbenchError(f"no learner parameter varies over the {len(table.y)} trials")
    if float(table.y.max() - table.y.min()) == 0:
        raise SeqbenchError(f"outcome {outcome!r} is the same ({table.y[0]:g}) in all "
                            f"{len(table.y)} trials: nothing to attribute")
    result = fanova(table.X, table.y, table.names, n_trees=n_trees, seed=seed,
                    categorical=list(table.categories), bounds=table.bounds)
    perm = permutation_shares(table.X, table.y, table.names, n_trees=n_trees, seed=seed)
    variants = None
    if "variant" in table.names:
        try:
            variants = {
                "all": welch_by_variant(rows, outcome, defaults=defaults),
                "best_10pct": welch_by_variant(rows, outcome, top_fraction=0.1,
                                               defaults=defaults)}
        except SeqbenchError as exc:  # e.g. no 'vanilla' runs: say so, keep the shares
            variants = {"note": str(exc)}
    if plot_path:
        plot_importance(result, plot_path, top=top,
                        title=f"{name} on {task}: {outcome} ({len(table.y)} trials)")
    if fmt == "json":
        click.echo(json.dumps({
            "task": task, "learner": name, "outcome": outcome, "trials": len(table.y),
            "scales": table.scales, "notes": table.notes, "fanova": result.as_dict(top),
            "permutation": perm, "variants": _jsonable(variants)}, indent=2))
        return
    _print_importance(task, name, outcome, table, result, perm, variants, top)
    if plot_path:
        _echo_err(f"seqbench: wrote {plot_path}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _print_importance(task, learner, outcome, table, result, perm, variants, top) -> None:
    from tabulate import tabulate

    what = {"success": "success (0/1)",
            "sequences": "log10 sequences to success (unsolved: log10 budget)",
            "test_error": "final test error"}.get(outcome, outcome)
    click.echo(f"{learner} on {task}: {what}, {len(table.y)} trials, mean {table.y.mean():.4g}; "
               f"fANOVA over {result.n_trees} trees")
    for note in table.notes:
        click.echo(f"  note: {note}")
    rows = [[k, table.scales[k], f"{100 * result.main[k]:.1f}%",
             f"±{100 * result.main_std[k]:.1f}", f"{100 * perm[k]:.1f}%"]
            for k in sorted(result.main, key=lambda k: -result.main[k])]
    click.echo(tabulate(rows, ["parameter", "scale", "main effect", "sd (trees)",
                               "permutation"], tablefmt="simple", disable_numparse=True))
    pairs = result.top_interactions(top)
    if pairs:
        click.echo("")
        click.echo(tabulate([[f"{a} × {b}", f"{100 * s:.1f}%",
                              f"±{100 * result.interactions_std[(a, b)]:.1f}"]
                             for (a, b), s in pairs],
                            ["interaction", "share", "sd (trees)"], tablefmt="simple",
                            disable_numparse=True))
    click.echo(f"main effects {100 * sum(result.main.values()):.1f}%, pairwise interactions "
               f"{100 * sum(result.interactions.values()):.1f}%, higher order "
               f"{100 * max(0.0, 1 - result.explained):.1f}%")
    if variants is None:
        return
    click.echo("")
    if "note" in variants:
        click.echo(f"variants: {variants['note']}")
        return
    for key, title in (("all", "all runs"), ("best_10pct", "best 10% of each variant")):
        click.echo(f"variants against vanilla, Welch's t-test ({title}):")
        click.echo(tabulate([[r["variant"], r["n"], f"{r['mean']:.4g}",
                              f"{r['q25']:.4g} / {r['median']:.4g} / {r['q75']:.4g}",
                              f"{r['diff']:+.4g}",
                              "-" if r["t"] is None else f"{r['t']:.2f}",
                              "-" if r["p"] is None else f"{r['p']:.3g}"]
                             for r in variants[key]],
                            ["variant", "n", "mean", "q25 / median / q75", "diff", "t", "p"],
                            tablefmt="simple", disable_numparse=True))


__all__ = ["importance", "sweep"]
