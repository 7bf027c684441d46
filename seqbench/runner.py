"""Planning a comparison into trial specs, and running them with every finished trial stored.

A comparison is a list of :class:`Config` rows (one task, one learner configuration each) and
each row is ``trials`` :class:`~seqbench.trial.TrialSpec` s. Parameters resolve in this order:
the plugin's defaults, then the preset's values, then what the user set on the command line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .continual import continual_learners, is_continual, refuse_non_continual
from .contracts import PaperRow, Preset
from .errors import ParamError, SeqbenchError, UnknownNameError
from .params import resolve_params, to_jsonable
from .plugins import Registry
from .progress import PROGRESS_DIR_ENV
from .store import Store
from .trial import TrialResult, TrialSpec, checkpoint_path, run_trial

#: environment given to worker processes so trials never oversubscribe the cores
WORKER_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


#: the largest integer the store can hold (SQLite's signed 64 bits)
MAX_INT = 2**63 - 1
#: seconds to wait for a Dask scheduler given by --scheduler before giving up
DASK_CONNECT_TIMEOUT = 10


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
    #: False when command-line overrides change what the preset sets: the paper's figures then
    #: describe another configuration
    paper_comparable: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    #: parameters at their neutral value, left out of the resume keys (``task.x``, ``learner.y``)
    neutral: frozenset[str] = frozenset()
    #: the learner's own units of work (:attr:`~seqbench.contracts.Learner.work_units`)
    work_units: tuple[str, ...] = ()

    def specs(self) -> list[TrialSpec]:
        return [
            TrialSpec(
                task=self.task, learner=self.learner, task_params=self.task_params,
                learner_params=self.learner_params, seed=self.seed, trial=i, budget=self.budget,
                preset=self.preset, versions=self.versions, neutral=self.neutral,
            )
            for i in range(self.trials)
        ]


def split_learner_params(
    given: Mapping[str, str], learners: Sequence[str], registry: Registry,
    notes: list[str] | None = None,
) -> dict[str, dict[str, str]]:
    """Route ``-p`` assignments to learners.

    ``name.key=value`` goes to learner ``name`` (or alias); a bare ``key=value`` goes to every
    learner in the comparison that declares ``key`` and is an error if none does; the learners
    that lack it are named in ``notes``.
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
        lacking = [ln for ln in learners if ln not in takers]
        if lacking and notes is not None:
            notes.append(f"-p {key}={value} applies to {', '.join(takers)} only; "
                         f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no "
                         f"parameter {key!r}")
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
    notes: list[str] | None = None,
) -> list[Config]:
    """Resolve a comparison request into validated configurations (one per distinct learner
    entry; duplicates are merged).

    ``preset`` applies to every learner without its own ``@preset``; ``"none"`` means plain
    defaults; when neither is given the learner's default preset for the task is used, if any.
    Every configuration's task and learner are built once here, so a request that cannot run
    fails before any trial with a one-line :class:`~seqbench.errors.SeqbenchError`. Things
    worth saying that are not errors (merged duplicates, ``-p`` keys some learners lack) are
    appended to ``notes``.
    """
    task_cls = registry.task(task)
    if trials is not None and trials < 1:
        raise ParamError(f"--trials must be at least 1, got {trials}")
    if budget is not None and budget < 1:
        raise ParamError(f"--budget must be at least 1 sequence, got {budget}")
    if seed < 0 or seed > MAX_INT:
        raise ParamError(f"--seed must be in [0, {MAX_INT}], got {seed}")
    for name, value in (("--budget", budget), ("--trials", trials)):
        if value is not None and value > MAX_INT:
            raise ParamError(f"{name} must be at most {MAX_INT}, got {value}")
    names = [registry.learner_name(n) for n, _ in learners]
    unique = list(dict.fromkeys(zip(names, (p for _, p in learners))))
    if len(unique) < len(names) and notes is not None:
        given = list(zip(names, (p for _, p in learners)))
        notes.append("duplicate learners merged: " + ", ".join(
            f"{n}@{p}" if p else n for n, p in unique if given.count((n, p)) > 1)
            + " (each runs once)")
    routed = split_learner_params(learner_params or {}, list(dict.fromkeys(names)), registry,
                                  notes)
    configs = []
    for name, own_preset in unique:
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
        label = f"{name}@{p.name}" if p else name
        _build_once(task_cls, t_params, registry.learners[name], l_params, label, seed,
                    (continual_learners(registry) or []) if is_continual(task_cls) else None)
        overrides = {**(task_params or {}), **routed[name]}
        changed = p is not None and _changes_preset(p, task_cls, t_params,
                                                    registry.learners[name], l_params)
        configs.append(Config(
            task=task, task_params=t_params, learner=name, learner_params=l_params,
            preset=p.name if p else None,
            budget=budget or (p.budget if p and p.budget else task_cls.default_budget),
            trials=trials or (p.trials if p and p.trials else task_cls.default_trials),
            seed=seed, paper=p.paper if p else None, paper_comparable=not changed,
            work_units=tuple(getattr(registry.learners[name], "work_units", ()) or ()),
            overrides=overrides,
            versions=behaviour_versions(task_cls, registry.learners[name]),
            neutral=neutral_names(task_cls.params, t_params, "task")
            | neutral_names(registry.learners[name].params, l_params, "learner"),
        ))
    return configs


def _build_once(task_cls, task_params: Mapping[str, Any], learner_cls, learner_params:
                Mapping[str, Any], label: str, seed: int,
                continual: Sequence[str] | None = None) -> None:
    """Build the configuration's task and learner once, as a trial would, so that a request
    that cannot run fails now, in one line naming the configuration, with nothing stored.
    ``continual``: for a continual task, the learners that can run it."""
    from .trial import TrialSpec, refuse_history_criterion, stream, task_streams_for

    where = f"{label} on {task_cls.name}"
    try:
        if continual is not None:
            refuse_non_continual(task_cls.name, learner_cls, continual)
        task = task_cls(**task_params)
        spec = task.spec()
        learner = learner_cls(**learner_params)
        learner.build(spec, stream(seed, "init", 0))
        learner.n_weights  # noqa: B018  (a layout that cannot be counted cannot run)
        if getattr(learner_cls, "kind", "stream") == "set":
            trial = TrialSpec(task=task_cls.name, learner=learner_cls.name,
                              task_params=task_params, learner_params={}, seed=seed, trial=0,
                              budget=1)
            refuse_history_criterion(task.start(task_streams_for(trial, task)).criterion,
                                     task_cls.name, learner_cls.name)
    except SeqbenchError as exc:
        raise ParamError(f"{where}: {exc}") from None
    except Exception as exc:  # a plugin's own validation: still one line, before any trial
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ParamError(f"{where} cannot be built: {type(exc).__name__}: {first}") from None


def _changes_preset(preset: Preset, task_cls, task_params: Mapping[str, Any], learner_cls,
                    learner_params: Mapping[str, Any]) -> bool:
    """Whether the command line's overrides change the configuration the preset describes
    (the paper's figures are then not comparable). Both sides are completed with the declared
    defaults: a stored trial leaves out parameters at their neutral values."""
    def canonical(cls, params: Mapping[str, Any]) -> dict[str, Any]:  # stored params are JSON
        return {k: to_jsonable(v) for k, v in resolve_params(cls.params, params,
                                                              cls.name).items()}

    return (canonical(task_cls, preset.task_params) != canonical(task_cls, task_params)
            or canonical(learner_cls, preset.learner_params)
            != canonical(learner_cls, learner_params))


def behaviour_versions(task_cls, learner_cls) -> dict[str, str]:
    """The behaviour versions that enter a trial's resume key (see :class:`TrialSpec`)."""
    from .trial import HARNESS_BEHAVIOUR

    return {"seqbench": HARNESS_BEHAVIOUR,
            "task": str(getattr(task_cls, "behaviour_version", 1)),
            "learner": str(getattr(learner_cls, "behaviour_version", 1))}


def neutral_names(declared, values: Mapping[str, Any], prefix: str) -> frozenset[str]:
    """``prefix.name`` for every parameter at its neutral value (kept out of resume keys)."""
    from .params import neutral_names as at_neutral

    return frozenset(f"{prefix}.{k}" for k in at_neutral(declared, values))


#: sequences of the short trial that calibrates a cost estimate when nothing is stored
CALIBRATION_SEQUENCES = 1000


def estimate_cost(config: Config, stored: Sequence[Mapping[str, Any]],
                  registry: Registry | None = None) -> dict[str, Any]:
    """Estimated wall seconds of the trials of ``config`` not yet finished in ``stored`` (its
    stored trials): ``estimated_s`` (stored trials' mean wall time, else the budget at the
    calibrated speed) and ``worst_case_s`` (every trial runs its whole budget), with the
    ``basis``. A stored trial that timed out is resumed by a run: it costs the rest of its
    budget at its own speed so far, in both figures.

    The speed comes from the stored trials' seconds per sequence, or else from a short trial of
    :data:`CALIBRATION_SEQUENCES` run now (compile time excluded). Its training time gives the
    cost per sequence, and the rest of its wall time what a trial costs once whatever its
    length (building the data, the final test): a task whose final test outweighs a short run's
    training (Exp. 2b judges 10,000 test sequences) would otherwise look a hundred times dearer.
    """
    from .store import REUSABLE

    finished = [r for r in stored if r.get("status") in REUSABLE]
    resumed = [r for r in stored if r.get("status") == "timeout"]
    to_run = config.trials - len(finished) - len(resumed)  # new trials
    if to_run <= 0 and not resumed:
        return {"estimated_s": 0.0, "worst_case_s": 0.0, "basis": "all stored"}
    with_work = [r for r in (*finished, *resumed) if r.get("sequences")]
    if with_work:
        per_sequence = sum(r["wall_s"] for r in with_work) / sum(r["sequences"] for r in with_work)
        done = [r for r in finished if r.get("sequences")]
        mean_wall = (sum(r["wall_s"] for r in done) / len(done) if done
                     else per_sequence * config.budget)
        # at its own speed so far: a trial that timed out is often dearer than the rest
        rest = sum((r["wall_s"] / r["sequences"] if r.get("sequences") else per_sequence)
                   * max(0, config.budget - (r.get("sequences") or 0)) for r in resumed)
        return {"estimated_s": mean_wall * to_run + rest,
                "worst_case_s": per_sequence * config.budget * to_run + rest,
                "basis": f"{len(with_work)} stored trials" + (
                    f" ({len(resumed)} timed out, resumed)" if resumed else "")}
    spec = config.specs()[0]

    def calibrate(budget: int) -> TrialResult:
        short = TrialSpec(task=spec.task, learner=spec.learner, task_params=spec.task_params,
                          learner_params=spec.learner_params, seed=spec.seed, trial=0,
                          budget=min(config.budget, budget), versions=spec.versions,
                          neutral=spec.neutral)
        return run_trial(short, registry)

    failed = {"estimated_s": None, "worst_case_s": None, "basis": "calibration failed"}
    long = calibrate(CALIBRATION_SEQUENCES)  # first: it also warms what a first trial loads
    if long.status == "error" or not long.sequences:
        return failed
    # a calibration trial that solved or stopped on its own is one whole trial: a better guess
    if long.status in ("solved", "stopped"):
        worst = long.wall_s / long.sequences * config.budget * to_run
        return {"estimated_s": long.wall_s * to_run, "worst_case_s": max(worst, 0.0),
                "basis": f"a {long.sequences}-sequence calibration run ({long.status})"}
    per_sequence, once = _cost_split(long)
    worst = (once + per_sequence * config.budget) * to_run
    return {"estimated_s": worst, "worst_case_s": worst,
            "basis": f"a {long.sequences:,}-sequence calibration run"}


def _cost_split(result: TrialResult) -> tuple[float, float]:
    """Seconds per training sequence and seconds a trial costs once whatever its length (its
    data, its final test), from one calibration trial: its training time against the rest of
    its wall time. (Two trials of different lengths would give the same split from the
    difference of their wall times, but on a busy machine that difference is mostly noise
    when the final test outweighs the training, as in Exp. 2b.)"""
    train = min(max(result.train_s, 0.0), result.wall_s)
    if train <= 0.0:  # nothing timed apart: all of it scales with the sequences
        return result.wall_s / result.sequences, 0.0
    return train / result.sequences, result.wall_s - train


@dataclass
class Execution:
    """What running a list of specs did: results by key, and how many were reused or run."""

    results: dict[str, dict[str, Any]]
    reused: int
    ran: int
    interrupted: bool = False


def _provenance(specs: Sequence[TrialSpec], registry: Registry | None) -> dict[str, Any]:
    """The package versions of the plugins behind ``specs`` and the behaviour versions in their
    keys, recorded with the run (the keys carry only the behaviour versions)."""
    from .plugins import get_registry

    registry = registry or get_registry()
    packages: dict[str, str] = {}
    for s in specs:
        packages.setdefault(f"task:{s.task}", registry.version_of("task", s.task))
        packages.setdefault(f"learner:{s.learner}", registry.version_of("learner", s.learner))
    return {"packages": packages,
            "behaviour": sorted({json.dumps(dict(s.versions), sort_keys=True) for s in specs})}


def checkpoint_dir_for(store_path: str | os.PathLike) -> Path:
    """Where trials run on the store at ``store_path`` keep their checkpoints:
    ``<store>.checkpoints`` beside it."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".checkpoints")


_WATCHDOG: list = []


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """Make this worker process exit when the process that started it dies (a coordinator
    killed with kill -9 cannot tell its loky workers to stop; they would run on, orphaned)."""
    import threading

    if _WATCHDOG:
        return
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:  # re-parented: the coordinator is gone
                os._exit(1)

    _WATCHDOG.append(threading.Thread(target=watch, name="seqbench-parent-watch", daemon=True))
    _WATCHDOG[0].start()


def _worker_setup(progress_dir: str | None = None) -> None:
    """Prepare a worker process: exit with the coordinator, one BLAS and one numba thread (so
    that ``--jobs`` trials share the cores instead of oversubscribing them), progress files."""
    _exit_with_parent()
    env = dict(WORKER_THREAD_ENV)
    if "numba" in sys.modules:
        # numba read NUMBA_NUM_THREADS when it was imported and checks it again at every
        # compilation: another value now makes any kernel not yet in the cache fail to compile
        # in this worker (every trial of a --jobs run on a cold cache); set_num_threads caps it
        env.pop("NUMBA_NUM_THREADS")
    os.environ.update(env)
    if progress_dir:  # the parent's progress display reads what the trial writes there
        os.environ[PROGRESS_DIR_ENV] = progress_dir
    try:
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError):  # no numba, or its threading layer refuses: nothing to cap
        pass


def _run_in_worker(spec: TrialSpec, progress_dir: str | None = None,
                   limits: Mapping[str, Any] | None = None) -> TrialResult:
    """Run one trial in a worker process with one BLAS and one numba thread, so that ``--jobs``
    trials share the cores instead of oversubscribing them. The environment variables only
    reach libraries loaded later; threadpoolctl and numba cap the ones already loaded."""
    from threadpoolctl import threadpool_limits

    _worker_setup(progress_dir)
    with threadpool_limits(limits=1):
        return run_trial(spec, **(limits or {}))


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
    checkpoint_every: float = 0.0,
    trial_timeout: float | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Execution:
    """Run every spec not already finished in ``store``; store each result the moment it exists.

    ``jobs == 1`` runs trials in this process (with ``registry`` if given); more jobs use loky
    worker processes, or a Dask cluster when ``executor == "dask"`` (``scheduler`` is the
    address of an existing one; without it a local cluster of ``jobs`` workers is started).
    Ctrl-C stops the work; every trial finished until then stays stored.

    ``checkpoint_every`` > 0: running trials save their state every that many seconds in
    ``<store>.checkpoints/`` (:func:`checkpoint_dir_for`) and a re-run resumes them from there;
    a stored trial's checkpoint is deleted (but a ``timeout`` trial's, which a re-run with a
    larger ``trial_timeout`` continues). With ``--executor dask`` checkpoints are written only
    on a local cluster (no ``scheduler``): a remote cluster's workers need not share this
    machine's files. ``trial_timeout`` (seconds of a trial's training wall time) ends a trial
    with status ``timeout``, on every executor. ``on_note`` hears, once each, what trials
    report (e.g. a learner whose state cannot be saved runs without checkpoints).
    """
    if jobs < 1:
        raise ParamError(f"--jobs must be at least 1, got {jobs}")
    if checkpoint_every is None or checkpoint_every < 0:
        raise ParamError(f"--checkpoint-every must be >= 0 seconds, got {checkpoint_every}")
    if trial_timeout is not None and not trial_timeout > 0:
        raise ParamError(f"--trial-timeout must be > 0 seconds, got {trial_timeout}")
    by_key = {s.key: s for s in specs}
    done = store.finished(by_key)
    results: dict[str, dict[str, Any]] = {k: _row(by_key[k], dict(r)) for k, r in done.items()}
    todo = [s for k, s in by_key.items() if k not in done]
    run_id = store.start_run(command, _provenance(todo, registry)) if todo else None
    total = len(todo)
    ran = 0
    remote = executor == "dask" and bool(scheduler)  # its workers may not share our files
    ckpt_dir = checkpoint_dir_for(store.path) if checkpoint_every > 0 and not remote else None
    limits = {"checkpoint_dir": None if ckpt_dir is None else str(ckpt_dir),
              "checkpoint_every": checkpoint_every, "timeout": trial_timeout}
    noted: set[str] = set()
    if ckpt_dir is not None and ckpt_dir.is_dir():
        resuming = sum(checkpoint_path(ckpt_dir, s.key).exists() for s in todo)
        if resuming:
            (on_note or _warn)(f"{resuming} trial{'s' if resuming != 1 else ''} resume from "
                               f"{'their checkpoints' if resuming != 1 else 'its checkpoint'} "
                               f"in {ckpt_dir}")

    def record(spec: TrialSpec, result: TrialResult) -> None:
        nonlocal ran
        store.save(spec, result, run_id)
        if ckpt_dir is not None and result.status != "timeout":  # finished: drop its state
            path = checkpoint_path(ckpt_dir, spec.key)
            for stale in (path, *ckpt_dir.glob(f"{path.name}.*.tmp")):  # a killed write's too
                stale.unlink(missing_ok=True)
        for note in getattr(result, "notes", None) or []:
            if note not in noted:
                noted.add(note)
                (on_note or _warn)(note)
        ran += 1
        results[spec.key] = _row(spec, result.as_dict())
        if on_result:
            on_result(spec, results[spec.key], ran, total)

    for lanes, group in _batched(todo, registry)[1]:
        spec = group[0]
        (on_note or _warn)(
            f"{spec.learner}@{spec.preset or '-'}: {len(group)} trials run as SIMD lanes, up to "
            f"{lanes} at a time (results as if each ran alone)")
    try:
        for spec, result in _results(todo, jobs, executor, scheduler, registry, limits):
            record(spec, result)
    except KeyboardInterrupt:
        return Execution(results, reused=len(done), ran=ran, interrupted=True)
    finally:
        if ckpt_dir is not None:
            try:
                ckpt_dir.rmdir()  # only when empty: nothing left to resume
            except OSError:
                pass
    return Execution(results, reused=len(done), ran=ran)


def _warn(note: str) -> None:
    import sys

    print(f"seqbench: note: {note}", file=sys.stderr)


def _batched(todo: Sequence[TrialSpec], registry: Registry | None
             ) -> tuple[list[TrialSpec], list[tuple[int, list[TrialSpec]]]]:
    """Split ``todo`` into trials run one at a time and groups of one configuration whose
    learner trains several trials at once: ``(lone, [(lanes, specs), ...])``. Trials of a
    continual task always run alone."""
    from .batch import lanes_for
    from .plugins import get_registry

    registry = registry or get_registry()
    lone: list[TrialSpec] = []
    groups: dict[str, list[TrialSpec]] = {}
    for spec in todo:
        cls = registry.learner(spec.learner)
        if lanes_for(cls, 2) > 1 and not is_continual(registry.tasks.get(spec.task)):
            groups.setdefault(spec.config_key, []).append(spec)
        else:
            lone.append(spec)
    batched = []
    for specs in groups.values():
        lanes = lanes_for(registry.learner(specs[0].learner), len(specs))
        if lanes > 1:
            batched.append((lanes, specs))
        else:
            lone.extend(specs)
    return lone, batched


def _results(todo: Sequence[TrialSpec], jobs: int, executor: str, scheduler: str | None,
             registry: Registry | None, limits: Mapping[str, Any] | None = None,
             ) -> Iterable[tuple[TrialSpec, TrialResult]]:
    if not todo:
        return
    limits = {k: v for k, v in (limits or {}).items() if v}  # none set: run_trial(spec, reg)
    if executor not in ("local", "dask"):
        raise ParamError(f"unknown executor {executor!r}; valid: local, dask")
    lone, batched = _batched(todo, registry)
    if executor == "local" and jobs == 1:
        for spec in lone:
            yield spec, run_trial(spec, registry, **limits)
        from .batch import run_batch

        for lanes, specs in batched:
            for _, spec, result in run_batch([(s, None) for s in specs], registry, lanes=lanes,
                                             **limits):
                yield spec, result
        return
    if executor == "dask":
        if scheduler:  # a remote cluster's workers need not see this machine's files
            limits.pop("checkpoint_dir", None)
        yield from _dask_results(lone, batched, jobs, scheduler, limits)
        return
    yield from _pool_results(_LokyPool(min(jobs, len(todo))), lone, batched, limits,
                             os.environ.get(PROGRESS_DIR_ENV))


class _LokyPool:
    """Local worker processes (loky's reusable executor), killed on Ctrl-C."""

    def __init__(self, workers: int):
        from joblib.externals.loky import get_reusable_executor

        self.workers = workers
        self._executor = get_reusable_executor(max_workers=workers)

    def submit(self, fn, *args):
        return self._executor.submit(fn, *args)

    @staticmethod
    def wait_first(futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        return wait(futures, return_when=FIRST_COMPLETED).done

    def abort(self, futures) -> None:
        for f in futures:
            f.cancel()
        self._executor.shutdown(wait=False, kill_workers=True)


def _pool_results(pool, lone: Sequence[TrialSpec], batched, limits: Mapping[str, Any],
                  progress_dir: str | None) -> Iterable[tuple[TrialSpec, TrialResult]]:
    """Run lone trials one per call and batched groups as short :func:`~seqbench.batch.run_slice`
    calls, never more calls at once than the pool has workers. A slice returns as soon as one
    of its trials has finished (or after :data:`~seqbench.batch.SLICE_SECONDS`), so every
    finished trial is yielded, and stored, when the call that finished it returns; its
    running trials' states go to the next call, with waiting trials filling the freed lanes."""
    from collections import deque

    by_key = {s.key: s for s in lone}
    lone_left = deque(lone)
    groups = [(lanes, deque((s, None) for s in specs)) for lanes, specs in batched]
    for _, items in groups:
        by_key.update((s.key, s) for s, _ in items)
    inflight: dict[Any, Any] = {}

    def fill() -> None:
        while len(inflight) < pool.workers:
            free = pool.workers - len(inflight)
            group = next(((lanes, items) for lanes, items in groups if items), None)
            if group is not None:
                lanes, items = group
                # spread a group over the free workers rather than filling one call's lanes
                take = [items.popleft() for _ in range(min(lanes, -(-len(items) // free)))]
                future = pool.submit(_slice_in_worker, take, dict(limits), lanes,
                                     _slice_seconds(), progress_dir)
                inflight[future] = items
            elif lone_left:
                spec = lone_left.popleft()
                inflight[pool.submit(_keyed_run, spec, progress_dir, dict(limits))] = None
            else:
                return

    try:
        fill()
        while inflight:
            for future in pool.wait_first(list(inflight)):
                items = inflight.pop(future)
                if items is None:
                    key, result = future.result()
                    yield by_key[key], result
                    continue
                finished, unfinished = future.result()
                items.extendleft(reversed(unfinished))
                for key, result in finished:
                    yield by_key[key], result
            fill()
    except BaseException:  # Ctrl-C, or the consumer stopped: stop the workers
        pool.abort(list(inflight))
        raise


def _slice_in_worker(items, limits, lanes, slice_s, progress_dir):
    """:func:`~seqbench.batch.run_slice` in a worker process, set up as every worker is (one
    BLAS and one numba thread, progress files)."""
    from threadpoolctl import threadpool_limits

    from .batch import run_slice

    _worker_setup(progress_dir)
    with threadpool_limits(limits=1):
        return run_slice(items, limits, lanes, slice_s)


def _slice_seconds() -> float:
    from .batch import SLICE_SECONDS

    return float(os.environ.get("SEQBENCH_SLICE_SECONDS", SLICE_SECONDS))


def _keyed_run(spec: TrialSpec, progress_dir: str | None = None,
               limits: Mapping[str, Any] | None = None) -> tuple[str, TrialResult]:
    return spec.key, _run_in_worker(spec, progress_dir, limits)


def connect_scheduler(scheduler: str):
    """A Dask client of the scheduler at ``scheduler``, or a one-line error after
    :data:`DASK_CONNECT_TIMEOUT` seconds (unreachable, or not an address)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise SeqbenchError(
            "--executor dask needs dask.distributed: pip install 'seqbench[dask]'") from None
    try:
        return Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise SeqbenchError(f"cannot reach the Dask scheduler {scheduler!r} within "
                            f"{DASK_CONNECT_TIMEOUT} s: {first}") from None


class _DaskPool:
    """A Dask client as a pool of ``workers`` calls at once."""

    def __init__(self, client, workers: int):
        self.client, self.workers = client, workers

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    @staticmethod
    def wait_first(futures):
        from distributed import wait

        return wait(futures, return_when="FIRST_COMPLETED").done

    def abort(self, futures) -> None:
        self.client.cancel(futures)


def _dask_results(lone, batched, jobs, scheduler, limits=None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SeqbenchError(
            "--executor dask needs dask.distributed: pip install 'seqbench[dask]'"
        ) from None
    cluster = None
    if scheduler:
        client = connect_scheduler(scheduler)
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True)
        client = Client(cluster)
    import uuid

    from distributed import Event

    # trials stop cooperatively, between blocks, when this event is set: a shared cluster's
    # workers are never killed, and a running task cannot be interrupted any other way
    cancel = Event(f"seqbench-cancel-{uuid.uuid4().hex}", client=client)
    workers = max(1, len(client.scheduler_info().get("workers", {})) or jobs)
    try:
        yield from _pool_results(_DaskPool(client, workers), lone, batched,
                                 {**(limits or {}), "cancel_event": cancel.name}, None)
    except BaseException:  # Ctrl-C, or the consumer stopped: release the cluster's workers
        try:
            cancel.set()
        except Exception:
            pass
        raise
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
