"""Planning a comparison into trial specs, and running them with every finished trial stored.

A comparison is a list of :class:`Config` rows (one task, one learner configuration each) and
each row is ``trials`` :class:`~seqbench.trial.TrialSpec` s. Parameters resolve in this order:
the plugin's defaults, then the preset's values, then what the user set on the command line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .contracts import PaperRow, Preset
from .errors import ParamError, SeqbenchError, UnknownNameError
from .params import resolve_params
from .plugins import Registry
from .store import Store
from .trial import TrialResult, TrialSpec, run_trial

#: environment given to worker processes so trials never oversubscribe the cores
WORKER_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass
class Config:
    """One row of a comparison: a learner configuration on a task, run for ``trials`` trials."""

    task: str
    task_params: dict[str, Any]
    learner: str
    learner_params: dict[str, Any]
    preset: str | None
    budget: int
    trials: int
    seed: int
    paper: PaperRow | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    #: the learner's own units of work (:attr:`~seqbench.contracts.Learner.work_units`)
    work_units: tuple[str, ...] = ()

    def specs(self) -> list[TrialSpec]:
        return [
            TrialSpec(
                task=self.task, learner=self.learner, task_params=self.task_params,
                learner_params=self.learner_params, seed=self.seed, trial=i, budget=self.budget,
                preset=self.preset, versions=self.versions,
            )
            for i in range(self.trials)
        ]


def split_learner_params(
    given: Mapping[str, str], learners: Sequence[str], registry: Registry
) -> dict[str, dict[str, str]]:
    """Route ``-p`` assignments to learners.

    ``name.key=value`` goes to learner ``name`` (or alias); a bare ``key=value`` goes to every
    learner in the comparison that declares ``key`` and is an error if none does.
    """
    out: dict[str, dict[str, str]] = {ln: {} for ln in learners}
    for key, value in given.items():
        scope, dot, bare = key.rpartition(".")
        if dot:
            target = registry.learner_name(scope)
            if target not in out:
                raise ParamError(f"-p {key}: learner {scope!r} is not in this comparison")
            out[target][bare] = value
            continue
        takers = [ln for ln in learners if key in registry.learners[ln].params]
        if not takers:
            valid = sorted({k for ln in learners for k in registry.learners[ln].params})
            raise UnknownNameError("parameter", key, valid, where="for the learners compared")
        for ln in takers:
            out[ln][key] = value
    return out


def parse_learner_list(text: str) -> list[tuple[str, str | None]]:
    """``"lstm@exp1-4x1-lr0.1,rtrl"`` -> ``[("lstm", "exp1-4x1-lr0.1"), ("rtrl", None)]``."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ParamError("--learners needs at least one learner name")
    out = []
    for item in items:
        name, at, preset = item.partition("@")
        out.append((name.strip(), preset.strip() if at else None))
    return out


def plan(
    registry: Registry,
    task: str,
    learners: Sequence[tuple[str, str | None]],
    *,
    preset: str | None = None,
    trials: int | None = None,
    seed: int = 0,
    budget: int | None = None,
    task_params: Mapping[str, str] | None = None,
    learner_params: Mapping[str, str] | None = None,
) -> list[Config]:
    """Resolve a comparison request into validated configurations (one per learner entry).

    ``preset`` applies to every learner without its own ``@preset``; ``"none"`` means plain
    defaults; when neither is given the learner's default preset for the task is used, if any.
    """
    from . import __version__

    task_cls = registry.task(task)
    if trials is not None and trials < 1:
        raise ParamError(f"--trials must be at least 1, got {trials}")
    if budget is not None and budget < 1:
        raise ParamError(f"--budget must be at least 1 sequence, got {budget}")
    if seed < 0:
        raise ParamError(f"--seed must be non-negative, got {seed}")
    names = [registry.learner_name(n) for n, _ in learners]
    routed = split_learner_params(learner_params or {}, list(dict.fromkeys(names)), registry)
    configs = []
    for (_, own_preset), name in zip(learners, names):
        chosen = own_preset or preset
        p: Preset | None
        if chosen is None:
            p = registry.default_preset(name, task)
        elif chosen.lower() == "none":
            p = None
        else:
            p = registry.preset(name, chosen, task)
        t_params = resolve_params(
            task_cls.params, {**(p.task_params if p else {}), **(task_params or {})},
            owner=f"task {task!r}",
        )
        l_params = resolve_params(
            registry.learners[name].params, {**(p.learner_params if p else {}), **routed[name]},
            owner=f"learner {name!r}",
        )
        if getattr(registry.learners[name], "kind", "stream") == "set":
            _check_set_learner_pairing(task_cls, t_params, name, seed)
        configs.append(Config(
            task=task, task_params=t_params, learner=name, learner_params=l_params,
            preset=p.name if p else None,
            budget=budget or (p.budget if p and p.budget else task_cls.default_budget),
            trials=trials or (p.trials if p and p.trials else task_cls.default_trials),
            seed=seed, paper=p.paper if p else None,
            work_units=tuple(getattr(registry.learners[name], "work_units", ()) or ()),
            overrides={**(task_params or {}), **routed[name]},
            versions={
                "seqbench": __version__,
                "task": registry.version_of("task", task),
                "learner": registry.version_of("learner", name),
            },
        ))
    return configs


def _check_set_learner_pairing(task_cls, task_params: Mapping[str, Any], learner: str,
                               seed: int) -> None:
    """Refuse, before any trial runs, a set learner on a task it cannot be judged on."""
    from .trial import TrialSpec, refuse_history_criterion, task_streams_for

    task = task_cls(**task_params)
    spec = TrialSpec(task=task_cls.name, learner=learner, task_params=task_params,
                     learner_params={}, seed=seed, trial=0, budget=1)
    refuse_history_criterion(task.start(task_streams_for(spec, task)).criterion, task_cls.name,
                             learner)


@dataclass
class Execution:
    """What running a list of specs did: results by key, and how many were reused or run."""

    results: dict[str, dict[str, Any]]
    reused: int
    ran: int
    interrupted: bool = False


def _run_in_worker(spec: TrialSpec) -> TrialResult:
    os.environ.update(WORKER_THREAD_ENV)
    return run_trial(spec)


def execute(
    specs: Sequence[TrialSpec],
    store: Store,
    *,
    jobs: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    registry: Registry | None = None,
    command: str = "",
    on_result: Callable[[TrialSpec, dict[str, Any], int, int], None] | None = None,
) -> Execution:
    """Run every spec not already finished in ``store``; store each result the moment it exists.

    ``jobs == 1`` runs trials in this process (with ``registry`` if given); more jobs use loky
    worker processes, or a Dask cluster when ``executor == "dask"`` (``scheduler`` is the
    address of an existing one; without it a local cluster of ``jobs`` workers is started).
    Ctrl-C stops the work; every trial finished until then stays stored.
    """
    if jobs < 1:
        raise ParamError(f"--jobs must be at least 1, got {jobs}")
    by_key = {s.key: s for s in specs}
    done = store.finished(by_key)
    results: dict[str, dict[str, Any]] = {k: _row(by_key[k], dict(r)) for k, r in done.items()}
    todo = [s for k, s in by_key.items() if k not in done]
    run_id = store.start_run(command, dict(todo[0].versions)) if todo else None
    total = len(todo)
    ran = 0

    def record(spec: TrialSpec, result: TrialResult) -> None:
        nonlocal ran
        store.save(spec, result, run_id)
        ran += 1
        results[spec.key] = _row(spec, result.as_dict())
        if on_result:
            on_result(spec, results[spec.key], ran, total)

    try:
        for spec, result in _results(todo, jobs, executor, scheduler, registry):
            record(spec, result)
    except KeyboardInterrupt:
        return Execution(results, reused=len(done), ran=ran, interrupted=True)
    return Execution(results, reused=len(done), ran=ran)


def _results(todo: Sequence[TrialSpec], jobs: int, executor: str, scheduler: str | None,
             registry: Registry | None) -> Iterable[tuple[TrialSpec, TrialResult]]:
    if not todo:
        return
    if executor == "dask":
        yield from _dask_results(todo, jobs, scheduler)
    elif executor != "local":
        raise ParamError(f"unknown executor {executor!r}; valid: local, dask")
    elif jobs == 1 or len(todo) == 1:
        for spec in todo:
            yield spec, run_trial(spec, registry)
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=min(jobs, len(todo)), backend="loky",
                            return_as="generator_unordered")
        calls = (delayed(_keyed_run)(spec) for spec in todo)
        by_key = {s.key: s for s in todo}
        for key, result in parallel(calls):
            yield by_key[key], result


def _keyed_run(spec: TrialSpec) -> tuple[str, TrialResult]:
    return spec.key, _run_in_worker(spec)


def _dask_results(todo, jobs, scheduler):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SeqbenchError(
            "--executor dask needs dask.distributed: pip install 'seqbench[dask]'"
        ) from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True)
        client = Client(cluster)
    try:
        futures = client.map(_keyed_run, list(todo), pure=False)
        by_key = {s.key: s for s in todo}
        for future in as_completed(futures):
            key, result = future.result()
            yield by_key[key], result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _row(spec: TrialSpec, data: dict[str, Any]) -> dict[str, Any]:
    """A stored or fresh result as a flat dict that reports aggregate over."""
    row = {k: data.get(k) for k in (
        "status", "stop_reason", "sequences", "sequences_to_success", "time_steps", "wall_s",
        "compile_s", "train_s", "ns_per_step", "n_weights", "check_every", "error",
    )}
    metrics = data.get("metrics") or {}
    if isinstance(metrics, str):
        metrics = json.loads(metrics)
    diagnostics = data.get("diagnostics") or {}
    if isinstance(diagnostics, str):
        diagnostics = json.loads(diagnostics)
    row.update(key=spec.key, config_key=spec.config_key, task=spec.task, learner=spec.learner,
               preset=spec.preset, trial=spec.trial, metrics=metrics, diagnostics=diagnostics)
    return row
