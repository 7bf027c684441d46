"""``seqbench profile``: where one learner's time and memory go on one task.

The measuring lives in :mod:`seqbench.profile`; this module is the click command only. The
command group adds it with ``cli.add_command(profile_command)``; bad input raises a
:class:`~seqbench.errors.SeqbenchError` before any work, which ``seqbench.cli.main`` prints as
one line (exit code 2).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click


def _registry():
    """The registry, plugin warnings printed once (the main command module's own)."""
    from .cli_sweep import _registry as registry

    return registry()


def _json_default(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@click.command("profile")
@click.option("--task", required=True, help="Task name (see 'seqbench list tasks').")
@click.option("--learner", required=True, help="Learner name, optionally NAME@PRESET.")
@click.option("--preset", default=None,
              help="Preset name ('none': plain defaults; default: the learner's default preset "
                   "for the task).")
@click.option("-p", "learner_params", multiple=True, metavar="KEY=VALUE",
              help="Learner parameter.")
@click.option("-t", "task_params", multiple=True, metavar="KEY=VALUE", help="Task parameter.")
@click.option("--sizes", default=None, metavar="N,N,...",
              help="Network sizes for the scaling probe (values of the learner's size "
                   "parameter, e.g. 3,6,12,24); without it there is no probe.")
@click.option("--sequences", type=int, default=2000, show_default=True,
              help="Training sequences of the profiled trial.")
@click.option("--time-limit", type=float, default=60.0, show_default=True, metavar="SECONDS",
              help="End the profiled trial after this much training time.")
@click.option("--repeats", type=int, default=5, show_default=True,
              help="Timed repeats per size in the scaling probe (the median is used).")
@click.option("--clock", type=click.Choice(["cpu", "wall"]), default="cpu", show_default=True,
              help="What the scaling probe times: process CPU time (robust on a shared "
                   "machine) or the wall clock.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the trial.")
@click.option("--no-memory", is_flag=True,
              help="Skip the tracemalloc pass (a second run of the same trial).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--plot", "plot_path", default=None, metavar="FILE",
              help="Where to save the log-log scaling plot (default with --sizes: "
                   "profile-<learner>-<task>.png in the current directory).")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
def profile_command(task, learner, preset, learner_params, task_params, sizes, sequences,
                    time_limit, repeats, clock, seed, no_memory, fmt, plot_path, quiet) -> None:
    """Measure one learner on one task: ns per time step and per weight-step, compile time,
    the share of wall time outside the learner's kernels (and where it goes), peak memory,
    and with --sizes how the cost per step grows with the number of weights.

    Everything runs one measurement after the other in this process; on a shared machine
    the figures move with the load.
    """
    from .errors import ParamError
    from .params import parse_assignments
    from .profile import ProfileRequest, findings, parse_sizes, prepare, run_profile

    if plot_path is not None and sizes is None:
        raise ParamError("--plot needs --sizes (the plot shows the scaling probe)")
    req = ProfileRequest(
        task=task, learner=learner, preset=preset,
        learner_params=parse_assignments(learner_params, "-p"),
        task_params=parse_assignments(task_params, "-t"),
        sizes=parse_sizes(sizes) if sizes is not None else None, sequences=sequences,
        time_limit=time_limit, seed=seed, repeats=repeats, memory=not no_memory, clock=clock)
    registry = _registry()
    config = prepare(registry, req)  # every one-line error comes before any work
    if req.sizes is not None:
        target = Path(plot_path) if plot_path else Path.cwd() / (
            f"profile-{config.learner}-{config.task}.png")
        if not target.parent.is_dir():
            raise ParamError(f"--plot {plot_path}: folder {str(target.parent)!r} does not exist")

    def say(msg: str) -> None:
        if not quiet:
            click.echo(f"seqbench: {msg}", err=True)

    report = run_profile(registry, req, config, say=say)
    scaling = report["scaling"]
    if scaling is not None:
        from .profile import SizePoint, scaling_figure

        points = [SizePoint(size=p["size"], n_weights=p["n_weights"],
                            ns_per_step=p["ns_per_step"], ns_per_step_all=p["ns_per_step_repeats"],
                            compile_s=p["compile_s"], steps=p["block_steps"],
                            clock=scaling["clock"])
                  for p in scaling["points"]]
        lo = scaling["exponent_lo"]
        png = scaling_figure(
            points, scaling["exponent"], math.nan if lo is None else lo,
            math.nan if scaling["exponent_hi"] is None else scaling["exponent_hi"],
            f"{config.learner}@{config.preset or '-'} on {config.task}: cost per step vs W")
        target.write_bytes(png)
        scaling["plot"] = str(target)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, default=_json_default))
        return
    click.echo(_table(report))
    for line in findings(report):
        click.echo(line)


def _table(report) -> str:
    from tabulate import tabulate

    mem = report["memory"]
    ns, nsw = report["ns_per_step"], report["ns_per_weight_step"]
    row = [report["learner"], report["preset"] or "-", f"{report['n_weights']:,}"
           if report["n_weights"] else "-",
           f"{ns:,.0f}" if ns is not None else "-", f"{nsw:.2f}" if nsw is not None else "-",
           f"{report['compile_s']:.2f}", f"{report['wall_s']:.2f}",
           f"{report['outside_share']:.1%}",
           f"{mem['tracemalloc_peak_bytes'] / 2**20:.1f}" if "tracemalloc_peak_bytes" in mem
           else "-",
           f"{mem.get('rss_peak_after_bytes', mem['rss_peak_after_trial_bytes']) / 2**20:.0f}"]
    text = tabulate([row], ["learner", "preset", "W", "ns/step", "ns/weight-step", "compile s",
                            "wall s", "outside kernels", "alloc peak MiB", "RSS peak MiB"],
                    tablefmt="simple", disable_numparse=True)
    sc = report["scaling"]
    if sc:
        rows = [[p["size"], f"{p['n_weights']:,}", f"{p['cpu_ns_per_step']:,.0f}",
                 f"{p['wall_ns_per_step']:,.0f}", f"{p['ns_per_weight_step']:.2f}",
                 f"{p['compile_s']:.2f}"] for p in sc["points"]]
        text += "\n\n" + tabulate(rows, [sc["size_param"], "W", "CPU ns/step", "wall ns/step",
                                         f"ns/weight-step ({sc['clock']})", "compile s"],
                                  tablefmt="simple", disable_numparse=True)
    return text + "\n"
