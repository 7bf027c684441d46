"""Where a learner's time and memory go: ``seqbench profile``.

Three measurements, run one after the other in this process (never in parallel):

1. **A short profiled trial** (:func:`profile_trial`): the harness's own trial loop
   (:func:`seqbench.trial.run_trial`, unchanged) on a registry whose task and learner classes are
   wrapped by timers (:func:`wrapped_registry`). The learner's ``train``/``predict``/``fit`` are
   the *kernels*; ``compile`` (numba JIT) is measured apart; everything else is *outside* the
   kernels and split into generation (``task.start``, ``run.training_block``,
   ``run.training_set``), judging (``run.judge``), criterion (``observe``/``check``/
   ``check_frozen``), the final test (``run.evaluate``, without the ``predict`` calls it makes),
   snapshots (the harness's copy of the learner before a block) and other (building, finiteness
   checks, bookkeeping: the rest of the wall time). Timers nest: a ``predict`` inside a
   criterion's check counts as kernel time, not criterion time.
2. **Memory** (:func:`memory_pass`): the same trial again under :mod:`tracemalloc` (which slows
   Python code, so it never runs during the timed trial), and the process's peak resident set
   (``resource.getrusage(...).ru_maxrss``) before and after.
3. **A scaling probe** (:func:`scaling_probe`): for each network size, the median time per
   trained time step of training one fixed block (after a warm-up), and the exponent ``b`` of
   ``cost per step ∝ n_weights ** b`` fitted on log-log axes (:func:`fit_exponent`).

Everything here is a pure function of its arguments (no click); ``seqbench/cli_profile.py``
is the command.
"""

from __future__ import annotations

import copy
import math
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ParamError

#: the kernel methods of a learner (their time is "inside the kernels")
KERNELS = ("train", "predict", "fit")
#: the parts of the time outside the kernels, in report order
OUTSIDE_PARTS = ("generation", "judging", "criterion", "final_test", "snapshot", "other")
#: the size parameter of the built-in learners that do not declare ``size_param`` themselves,
#: with the per-unit parameters that must be reset to their default when the size changes (a
#: tuple of one value per block no longer fits another block count). ``None``: no size.
BUILTIN_SIZE_PARAMS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "lstm97": ("blocks", ("input_gate_bias", "output_gate_bias")),
    "bptt": ("hidden", ()),
    "rtrl": ("hidden", ()),
    "elman": ("hidden", ()),
    "guessing": ("hidden", ()),
    # rcc grows its own net (max_units is a cap, not a size); the chunker's two nets have one
    # hidden unit each, fixed by the task's alphabet
    "rcc": (None, ()),
    "chunker": (None, ()),
}
DEFAULT_SEQUENCES = 2000
DEFAULT_TIME_LIMIT = 60.0
DEFAULT_REPEATS = 5
#: the clocks the scaling probe can time with (see :func:`scaling_probe`)
CLOCKS = ("cpu", "wall")
#: a probe measurement trains the fixed block once, or as many times in a row as make it last
#: about this many seconds
MIN_MEASURE_S = 0.2
PROBE_SEQUENCES = 100


# -- timers ---------------------------------------------------------------------------------
class Profiler:
    """Exclusive time per category, with nesting: a timer's time minus its children's.

    Inside a kernel or ``compile`` nothing is timed separately (a learner whose ``train`` calls
    its own ``predict`` spends kernel time either way).
    """

    OPAQUE = (*KERNELS, "compile")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}  #: exclusive wall seconds
        self.cpu_seconds: dict[str, float] = {}  #: exclusive process-CPU seconds
        self.calls: dict[str, int] = {}
        self._stack: list[list[float]] = []  # [children wall, children CPU] per open timer
        self._opaque = 0

    @contextmanager
    def timer(self, name: str):
        if self._opaque:
            yield
            return
        opaque = name in self.OPAQUE
        self._opaque += opaque
        self._stack.append([0.0, 0.0])
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
            children, children_cpu = self._stack.pop()
            self._opaque -= opaque
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - children
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + cpu - children_cpu
            self.calls[name] = self.calls.get(name, 0) + 1
            if self._stack:
                self._stack[-1][0] += elapsed
                self._stack[-1][1] += cpu

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            with self.timer(name):
                return fn(*args, **kwargs)

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed


def _timed_learner_class(cls: type, prof: Profiler) -> type:
    """A subclass of learner class ``cls`` whose kernels, ``compile`` and deep copies are timed
    by ``prof`` (the profiler is a class attribute, so the harness's snapshots share it)."""
    body: dict[str, Any] = {"_profiler": prof, "__module__": cls.__module__,
                            "__qualname__": cls.__qualname__}

    def method(name: str) -> Callable:
        def timed(self, *args, **kwargs):
            with prof.timer(name):
                return getattr(super(sub, self), name)(*args, **kwargs)
        timed.__name__ = name
        return timed

    for name in (*KERNELS, "compile"):
        if hasattr(cls, name):
            body[name] = method(name)

    def __deepcopy__(self, memo):  # the harness's snapshot before a block (trial._snapshot)
        with prof.timer("snapshot"):
            base = getattr(super(sub, self), "__deepcopy__", None)
            if base is not None:
                return base(memo)
            return copy._reconstruct(self, memo, *self.__reduce_ex__(4))  # type: ignore[attr-defined]

    body["__deepcopy__"] = __deepcopy__
    sub = type(cls.__name__, (cls,), body)
    return sub


def _timed_task_class(cls: type, prof: Profiler) -> type:
    """A subclass of task class ``cls`` whose runs time generation, judging, criterion and the
    final test (bound methods of each run instance replaced by timed ones)."""

    def start(self, streams):
        with prof.timer("generation"):
            run = super(sub, self).start(streams)
        for attr, part in (("training_block", "generation"), ("training_set", "generation"),
                           ("judge", "judging"), ("evaluate", "final_test")):
            setattr(run, attr, prof.wrap(part, getattr(run, attr)))
        crit = run.criterion
        for attr in ("observe", "check", "check_frozen"):
            if hasattr(crit, attr):
                setattr(crit, attr, prof.wrap("criterion", getattr(crit, attr)))
        return run

    sub = type(cls.__name__, (cls,), {"start": start, "__module__": cls.__module__,
                                      "__qualname__": cls.__qualname__})
    return sub


class _WrappedRegistry:
    """The two look-ups :func:`seqbench.trial.run_trial` makes, answering timed classes."""

    def __init__(self, registry, prof: Profiler) -> None:
        self._registry, self._prof = registry, prof
        self._tasks: dict[str, type] = {}
        self._learners: dict[str, type] = {}

    def task(self, name: str) -> type:
        if name not in self._tasks:
            self._tasks[name] = _timed_task_class(self._registry.task(name), self._prof)
        return self._tasks[name]

    def learner(self, name: str) -> type:
        if name not in self._learners:
            self._learners[name] = _timed_learner_class(self._registry.learner(name),
                                                        self._prof)
        return self._learners[name]


def wrapped_registry(registry, prof: Profiler) -> _WrappedRegistry:
    """A registry for :func:`~seqbench.trial.run_trial` whose task and learner are timed."""
    return _WrappedRegistry(registry, prof)


# -- the profiled trial ---------------------------------------------------------------------
@dataclass
class TrialProfile:
    status: str
    sequences: int
    time_steps: int
    n_weights: int | None
    wall_s: float  #: the trial's wall time without compilation
    compile_s: float
    kernel_s: dict[str, float]  #: exclusive seconds per kernel method
    outside_s: dict[str, float]  #: exclusive seconds per outside part (OUTSIDE_PARTS)
    ns_per_step: float | None  #: train (or fit) wall seconds per trained time step
    error: str | None = None
    cpu_ns_per_step: float | None = None  #: the same in process-CPU time

    @property
    def kernel_total_s(self) -> float:
        return sum(self.kernel_s.values())

    @property
    def outside_total_s(self) -> float:
        return sum(self.outside_s.values())

    @property
    def outside_share(self) -> float:
        return self.outside_total_s / self.wall_s if self.wall_s > 0 else 0.0

    def outside_shares(self) -> dict[str, float]:
        return {k: (v / self.wall_s if self.wall_s > 0 else 0.0)
                for k, v in self.outside_s.items()}

    @property
    def ns_per_weight_step(self) -> float | None:
        if self.ns_per_step is None or not self.n_weights:
            return None
        return self.ns_per_step / self.n_weights


def profile_trial(spec, registry, *, time_limit: float | None = DEFAULT_TIME_LIMIT
                  ) -> TrialProfile:
    """Run trial ``spec`` once through the unchanged harness with timed task and learner.

    ``time_limit`` (seconds of training) ends the trial early, as ``--trial-timeout`` does.
    """
    from .trial import run_trial

    prof = Profiler()
    t0 = time.perf_counter()
    result = run_trial(spec, wrapped_registry(registry, prof), timeout=time_limit)
    total = time.perf_counter() - t0
    compile_s = prof.seconds.get("compile", 0.0)
    wall = max(total - compile_s, 0.0)
    kernel = {k: prof.seconds.get(k, 0.0) for k in KERNELS}
    outside = {k: prof.seconds.get(k, 0.0) for k in OUTSIDE_PARTS if k != "other"}
    outside["other"] = max(wall - sum(kernel.values()) - sum(outside.values()), 0.0)
    trained = kernel["fit"] + kernel["train"]
    trained_cpu = prof.cpu_seconds.get("fit", 0.0) + prof.cpu_seconds.get("train", 0.0)
    ns = trained / result.time_steps * 1e9 if result.time_steps else None
    cpu_ns = trained_cpu / result.time_steps * 1e9 if result.time_steps else None
    return TrialProfile(
        status=result.status, sequences=int(result.sequences),
        time_steps=int(result.time_steps), n_weights=result.n_weights, wall_s=wall,
        compile_s=compile_s, kernel_s=kernel, outside_s=outside, ns_per_step=ns,
        error=(result.error or "").splitlines()[0] if result.error else None,
        cpu_ns_per_step=cpu_ns)


def peak_rss_bytes() -> int:
    """The process's peak resident set size so far (``ru_maxrss``; KiB on Linux, bytes on
    macOS), in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def memory_pass(spec, registry, *, time_limit: float | None = DEFAULT_TIME_LIMIT
                ) -> dict[str, int]:
    """Run the trial ``spec`` again under tracemalloc: the peak of Python and NumPy
    allocations during it (bytes), and the process's peak RSS before and after."""
    from .trial import run_trial

    before = peak_rss_bytes()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        run_trial(spec, registry, timeout=time_limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return {"tracemalloc_peak_bytes": int(max(peak - base, 0)), "rss_peak_before_bytes": before,
            "rss_peak_after_bytes": peak_rss_bytes()}


# -- sizes ----------------------------------------------------------------------------------
def size_parameter(learner_cls) -> tuple[str | None, tuple[str, ...]]:
    """``(name, tied)``: the parameter that sets the learner's network size (None: it has
    none) and the per-unit parameters reset to their default when the size changes.

    The learner's own class attributes ``size_param`` (and ``size_tied_params``) come first;
    :data:`BUILTIN_SIZE_PARAMS` covers the built-ins that declare none.
    """
    declared = getattr(learner_cls, "size_param", None)
    if declared is not None:
        return str(declared), tuple(getattr(learner_cls, "size_tied_params", ()) or ())
    name, tied = BUILTIN_SIZE_PARAMS.get(getattr(learner_cls, "name", ""), (None, ()))
    if name is not None and name not in getattr(learner_cls, "params", {}):
        return None, ()
    return name, tied


def parse_sizes(text: str) -> list[int]:
    """``"3,6,12,24"`` -> ``[3, 6, 12, 24]``; a one-line :class:`ParamError` otherwise."""
    items = [t.strip() for t in str(text).split(",")]
    sizes = []
    for item in items:
        try:
            value = int(item)
        except ValueError:
            value = 0
        if value < 1 or str(value) != item.lstrip("+"):
            raise ParamError(f"--sizes takes positive integers separated by commas, got "
                             f"{item!r} in {text!r}")
        sizes.append(value)
    if len(set(sizes)) < 2:
        raise ParamError(f"--sizes needs at least two different sizes to fit an exponent, got "
                         f"{text!r}")
    return sorted(set(sizes))


def size_params(learner_cls, base: Mapping[str, Any], size: int) -> tuple[dict[str, Any],
                                                                         list[str]]:
    """The learner's resolved parameters at ``size``: ``base`` with the size parameter set and
    every tied parameter that no longer fits reset to its default. Returns the parameters and
    the names reset."""
    from .params import resolve_params

    name, tied = size_parameter(learner_cls)
    if name is None:
        raise ParamError(f"learner {learner_cls.name!r} has no size parameter")
    given = {k: v for k, v in base.items()}
    given[name] = size
    reset = []
    for t in tied:
        value = given.get(t)
        if t in learner_cls.params and value not in (None, (), []) and \
                value != learner_cls.params[t].default:
            try:
                fits = len(value) == size
            except TypeError:
                fits = True
            if not fits:
                given[t] = learner_cls.params[t].default
                reset.append(t)
    return resolve_params(learner_cls.params, given, owner=f"learner {learner_cls.name!r}"), reset


# -- the scaling probe ----------------------------------------------------------------------
@dataclass
class SizePoint:
    size: int
    n_weights: int
    ns_per_step: float  #: median over the repeats, on the probe's clock (``clock``)
    ns_per_step_all: list[float]  #: every repeat, on the probe's clock
    compile_s: float
    steps: int  #: time steps of the fixed block
    clock: str = "cpu"
    wall_ns_per_step: float | None = None  #: median wall-clock ns per step
    cpu_ns_per_step: float | None = None  #: median process-CPU ns per step

    @property
    def ns_per_weight_step(self) -> float:
        return self.ns_per_step / self.n_weights


def _copy_block(block):
    from .blocks import SequenceBlock

    return SequenceBlock.concatenate([block])


def _train_once(net, block) -> tuple[float, float, int]:
    """Wall seconds, process CPU seconds and time steps of one training call of ``net`` on
    ``block``."""
    c0, t0 = time.process_time(), time.perf_counter()
    if getattr(net, "kind", "stream") == "set":
        steps = int(net.fit(block, len(block)).time_steps)
    else:
        net.train(block)
        steps = block.n_steps
    return time.perf_counter() - t0, time.process_time() - c0, steps


def warm_up(learner, block, min_measure_s: float = MIN_MEASURE_S) -> tuple[Any, int]:
    """A copy of ``learner`` (built and compiled) after one training call on ``block``, and
    how many calls ``k`` make one measurement last about ``min_measure_s``."""
    warm = copy.deepcopy(learner)
    elapsed, _, _ = _train_once(warm, block)
    return warm, max(1, min(1000, math.ceil(min_measure_s / max(elapsed, 1e-9))))


def measure_once(warm, block, k: int) -> tuple[float, float]:
    """Wall and process-CPU ns per trained time step of ``k`` training calls on ``block`` by
    a fresh copy of the warmed learner ``warm`` (every measurement does the same work)."""
    net = copy.deepcopy(warm)
    wall, cpu, steps = 0.0, 0.0, 0
    for _ in range(k):
        w, c, n = _train_once(net, block)
        wall += w
        cpu += c
        steps += n
    return wall / max(steps, 1) * 1e9, cpu / max(steps, 1) * 1e9


def measure_size(learner, block, *, repeats: int = DEFAULT_REPEATS,
                 min_measure_s: float = MIN_MEASURE_S) -> list[float]:
    """Wall-clock ns per trained time step of ``learner`` (built and compiled) on the fixed
    ``block``: one warm-up, then ``repeats`` measurements (:func:`measure_once`)."""
    warm, k = warm_up(learner, block, min_measure_s)
    return [measure_once(warm, block, k)[0] for _ in range(repeats)]


def scaling_probe(registry, task: str, task_params: Mapping[str, Any], learner: str,
                  learner_params: Mapping[str, Any], sizes: Sequence[int], *, seed: int = 0,
                  repeats: int = DEFAULT_REPEATS, sequences: int = PROBE_SEQUENCES,
                  min_measure_s: float = MIN_MEASURE_S, clock: str = "cpu",
                  on_size: Callable[[SizePoint], None] | None = None
                  ) -> tuple[list[SizePoint], list[str]]:
    """ns per step and n_weights at each of ``sizes``; one fixed block of ``sequences``
    training sequences of the task (trial 0's data) for every size (a set learner fits on
    the task's fixed training set when it has one).

    Every size is built, compiled and warmed up first; then the repeats go round the sizes
    (size 1, 2, ..., size 1, 2, ...), so a change of the machine's load hits every size
    alike instead of bending the fit. ``clock`` ``cpu`` (the default) times the process's CPU
    time, which a busy machine's time slicing does not inflate; ``wall`` the wall clock.
    Returns the points (median of the repeats) and the tied parameters that had to be reset."""
    if clock not in CLOCKS:
        raise ParamError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    from .trial import TrialSpec, stream, task_streams_for

    task_cls = registry.task(task)
    learner_cls = registry.learner(learner)
    task_obj = task_cls(**task_params)
    spec = TrialSpec(task=task_cls.name, learner=learner_cls.name, task_params=task_params,
                     learner_params={}, seed=seed, trial=0, budget=1)
    run = task_obj.start(task_streams_for(spec, task_obj))
    cap = getattr(run, "max_block_sequences", None) or sequences
    block = _copy_block(run.training_block(min(sequences, cap)))
    if getattr(learner_cls, "kind", "stream") == "set":
        fixed = run.training_set()
        block = fixed if fixed is not None else block
    prepared, reset_all = [], []
    for size in sizes:
        params, reset = size_params(learner_cls, learner_params, size)
        reset_all += [r for r in reset if r not in reset_all]
        net = learner_cls(**params)
        net.build(task_obj.spec(), stream(seed, "init", 0))
        t0 = time.perf_counter()
        net.compile()
        compile_s = time.perf_counter() - t0
        warm, k = warm_up(net, block, min_measure_s)
        prepared.append((int(size), int(net.n_weights), compile_s, warm, k))
    runs: list[list[tuple[float, float]]] = [[] for _ in prepared]
    for _ in range(repeats):
        for i, (_, _, _, warm, k) in enumerate(prepared):
            runs[i].append(measure_once(warm, block, k))
    points = []
    for (size, n_weights, compile_s, _, _), r in zip(prepared, runs):
        wall = [w for w, _ in r]
        cpu = [c for _, c in r]
        chosen = cpu if clock == "cpu" else wall
        point = SizePoint(size=size, n_weights=n_weights,
                          ns_per_step=float(statistics.median(chosen)), ns_per_step_all=chosen,
                          compile_s=compile_s, steps=int(block.n_steps), clock=clock,
                          wall_ns_per_step=float(statistics.median(wall)),
                          cpu_ns_per_step=float(statistics.median(cpu)))
        points.append(point)
        if on_size:
            on_size(point)
    return points, reset_all


def fit_exponent(n_weights: Sequence[float], ns_per_step: Sequence[float],
                 level: float = 0.95) -> tuple[float, float, float]:
    """Least-squares slope ``b`` of ``log(ns_per_step)`` on ``log(n_weights)`` and its
    ``level`` confidence interval from the regression's standard error (Student t with n−2
    degrees of freedom): ``(b, lo, hi)``. With two points the line is exact and the interval
    is ``(nan, nan)``."""
    w = np.asarray(n_weights, dtype=float)
    ns = np.asarray(ns_per_step, dtype=float)
    if w.shape != ns.shape or w.ndim != 1 or len(w) < 2:
        raise ValueError("fit_exponent needs at least two (n_weights, ns_per_step) pairs")
    if not (np.isfinite(w).all() and np.isfinite(ns).all() and (w > 0).all()
            and (ns > 0).all()):
        raise ValueError("fit_exponent needs positive, finite values")
    x, y = np.log(w), np.log(ns)
    sxx = float(((x - x.mean()) ** 2).sum())
    if sxx == 0.0:
        raise ValueError("fit_exponent needs at least two different weight counts")
    b = float(((x - x.mean()) * (y - y.mean())).sum() / sxx)
    n = len(x)
    if n < 3:
        return b, math.nan, math.nan
    from scipy.special import stdtrit  # Student t quantile (lighter than scipy.stats)

    a = y.mean() - b * x.mean()
    resid = y - (a + b * x)
    se = math.sqrt(float((resid ** 2).sum()) / (n - 2) / sxx)
    q = float(stdtrit(n - 2, 0.5 + level / 2))
    return b, b - q * se, b + q * se


def exponent_intercept(n_weights: Sequence[float], ns_per_step: Sequence[float], b: float
                       ) -> float:
    """The intercept ``a`` of ``log(ns) = a + b log(W)`` for slope ``b`` (least squares)."""
    x = np.log(np.asarray(n_weights, dtype=float))
    y = np.log(np.asarray(ns_per_step, dtype=float))
    return float(y.mean() - b * x.mean())


def scaling_figure(points: Sequence[SizePoint], b: float, lo: float, hi: float, title: str
                   ) -> bytes:
    """Log-log PNG: measured points, the fitted line and dashed reference slopes 1 and 2
    (through the geometric centre of the points)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    w = np.array([p.n_weights for p in points], dtype=float)
    ns = np.array([p.ns_per_step for p in points], dtype=float)
    grid = np.geomspace(w.min() / 1.3, w.max() * 1.3, 50)
    a = exponent_intercept(w, ns, b)
    cx, cy = float(np.exp(np.log(w).mean())), float(np.exp(np.log(ns).mean()))
    for slope, style in ((1, (0, (5, 3))), (2, (0, (2, 2)))):
        ax.plot(grid, cy * (grid / cx) ** slope, color="0.55", linestyle=style, linewidth=1,
                label=f"slope {slope} (reference)")
    interval = "" if math.isnan(lo) else f" [{lo:.2f}, {hi:.2f}]"
    ax.plot(grid, np.exp(a) * grid ** b, color="C0", linewidth=1.5,
            label=f"fit: b = {b:.2f}{interval}")
    all_w = [p.n_weights for p in points for _ in p.ns_per_step_all]
    all_ns = [v for p in points for v in p.ns_per_step_all]
    ax.scatter(all_w, all_ns, s=10, color="C0", alpha=0.35, label="repeats")
    ax.scatter(w, ns, s=36, color="C3", zorder=3, label="median per size")
    for p in points:
        ax.annotate(str(p.size), (p.n_weights, p.ns_per_step), textcoords="offset points",
                    xytext=(5, -11), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weights W")
    ax.set_ylabel(f"ns per trained time step ({points[0].clock} time)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


# -- everything together --------------------------------------------------------------------
@dataclass
class ProfileRequest:
    task: str
    learner: str
    preset: str | None = None
    learner_params: Mapping[str, str] = field(default_factory=dict)
    task_params: Mapping[str, str] = field(default_factory=dict)
    sizes: Sequence[int] | None = None
    sequences: int = DEFAULT_SEQUENCES
    time_limit: float | None = DEFAULT_TIME_LIMIT
    seed: int = 0
    repeats: int = DEFAULT_REPEATS
    memory: bool = True
    clock: str = "cpu"
    min_measure_s: float = MIN_MEASURE_S


def prepare(registry, req: ProfileRequest):
    """Validate the request and resolve its configuration, before any work: one-line
    :class:`~seqbench.errors.SeqbenchError` s for unknown names, bad parameters, a learner
    without a size parameter when sizes are asked for. Returns the configuration
    (:class:`seqbench.runner.Config`)."""
    from .runner import parse_learner_list, plan

    if req.sequences < 1:
        raise ParamError(f"--sequences must be at least 1, got {req.sequences}")
    if req.time_limit is not None and not req.time_limit > 0:
        raise ParamError(f"--time-limit must be > 0 seconds, got {req.time_limit}")
    if req.repeats < 1:
        raise ParamError(f"--repeats must be at least 1, got {req.repeats}")
    if req.clock not in CLOCKS:
        raise ParamError(f"--clock must be one of {', '.join(CLOCKS)}, got {req.clock!r}")
    chosen = parse_learner_list(req.learner)
    if len(chosen) > 1:
        raise ParamError(f"profile takes one learner, got {len(chosen)} ({req.learner})")
    config, = plan(registry, req.task, chosen, preset=req.preset, trials=1, seed=req.seed,
                   budget=req.sequences, task_params=dict(req.task_params),
                   learner_params=dict(req.learner_params))
    if req.sizes is not None:
        cls = registry.learner(config.learner)
        name, _ = size_parameter(cls)
        if name is None:
            raise ParamError(f"learner {config.learner!r} has no size parameter, so --sizes "
                             "cannot scale it (a learner declares one as the class attribute "
                             "size_param)")
        for size in req.sizes:  # every size must be a valid value of the parameter
            size_params(cls, config.learner_params, size)
    return config


def run_profile(registry, req: ProfileRequest, config=None,
                say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure everything ``req`` asks for (sequentially) and return the JSON-ready report
    (without the plot, which the caller writes from ``report['scaling']``)."""
    say = say or (lambda _msg: None)
    config = config or prepare(registry, req)
    spec = config.specs()[0]
    rss_start = peak_rss_bytes()
    say(f"profiling {config.learner}@{config.preset or '-'} on {config.task}: a trial of up to "
        f"{req.sequences:,} sequences")
    tp = profile_trial(spec, registry, time_limit=req.time_limit)
    rss_after_trial = peak_rss_bytes()
    memory: dict[str, Any] = {"rss_peak_start_bytes": rss_start,
                              "rss_peak_after_trial_bytes": rss_after_trial}
    if req.memory:
        say("memory: the same trial again under tracemalloc")
        memory.update(memory_pass(spec, registry, time_limit=req.time_limit))
    shares = tp.outside_shares()
    report: dict[str, Any] = {
        "task": config.task, "learner": config.learner, "preset": config.preset,
        "task_params": _jsonable(config.task_params),
        "learner_params": _jsonable(config.learner_params), "seed": config.seed,
        "trial": {
            "status": tp.status, "error": tp.error, "sequences": tp.sequences,
            "sequences_asked": req.sequences, "time_limit_s": req.time_limit,
            "time_steps": tp.time_steps,
        },
        "n_weights": tp.n_weights,
        "ns_per_step": tp.ns_per_step,
        "ns_per_weight_step": tp.ns_per_weight_step,
        "cpu_ns_per_step": tp.cpu_ns_per_step,
        "compile_s": tp.compile_s,
        "wall_s": tp.wall_s,
        "kernel_s": tp.kernel_total_s,
        "kernel_parts_s": tp.kernel_s,
        "kernel_share": (tp.kernel_total_s / tp.wall_s if tp.wall_s > 0 else 0.0),
        "outside_s": tp.outside_total_s,
        "outside_share": tp.outside_share,
        "outside_parts_s": tp.outside_s,
        "outside_parts_share": shares,
        "memory": memory,
        "scaling": None,
        "machine": {"cpu_count": os.cpu_count(), "load_average": _loadavg()},
    }
    if req.sizes is not None:
        cls = registry.learner(config.learner)
        name, _ = size_parameter(cls)
        say(f"scaling probe over {name} = {', '.join(map(str, req.sizes))}")
        points, reset = scaling_probe(
            registry, config.task, config.task_params, config.learner, config.learner_params,
            req.sizes, seed=config.seed, repeats=req.repeats, clock=req.clock,
            min_measure_s=req.min_measure_s,
            on_size=lambda p: say(f"  {name}={p.size}: W={p.n_weights:,}, "
                                  f"{p.ns_per_step:,.0f} ns/step"))
        memory["rss_peak_after_scaling_bytes"] = peak_rss_bytes()
        b, lo, hi = fit_exponent([p.n_weights for p in points], [p.ns_per_step for p in points])
        report["scaling"] = {
            "size_param": name, "reset_params": reset, "repeats": req.repeats,
            "clock": req.clock,
            "points": [{"size": p.size, "n_weights": p.n_weights, "ns_per_step": p.ns_per_step,
                        "wall_ns_per_step": p.wall_ns_per_step,
                        "cpu_ns_per_step": p.cpu_ns_per_step,
                        "ns_per_weight_step": p.ns_per_weight_step,
                        "ns_per_step_repeats": p.ns_per_step_all, "compile_s": p.compile_s,
                        "block_steps": p.steps} for p in points],
            "exponent": b, "exponent_lo": _nan_none(lo), "exponent_hi": _nan_none(hi),
            "plot": None,
        }
    return report


def findings(report: Mapping[str, Any]) -> list[str]:
    """One line per finding, for the table format."""
    out = []
    tr = report["trial"]
    ns = report["ns_per_step"]
    if ns is not None:
        cpu = report.get("cpu_ns_per_step")
        cpu_text = f" ({cpu:,.0f} ns of process CPU time)" if cpu is not None else ""
        out.append(f"cost: {ns:,.0f} ns per trained time step{cpu_text}, "
                   f"{report['ns_per_weight_step']:.2f} ns per weight-step "
                   f"(W = {report['n_weights']:,}), over {tr['time_steps']:,} steps of "
                   f"{tr['sequences']:,} sequences ({tr['status']})")
    out.append(f"compile: {report['compile_s']:.2f} s of just-in-time compilation "
               "(learner.compile(), not part of the wall time below)")
    parts = ", ".join(f"{k.replace('_', ' ')} {v:.1%}"
                      for k, v in report["outside_parts_share"].items())
    out.append(f"outside the kernels: {report['outside_share']:.1%} of {report['wall_s']:.2f} s "
               f"wall time ({parts}); kernels {report['kernel_share']:.1%}")
    mem = report["memory"]
    if "tracemalloc_peak_bytes" in mem:
        out.append(f"memory: peak of Python/NumPy allocations during the trial "
                   f"{_mib(mem['tracemalloc_peak_bytes'])} (tracemalloc); process peak resident "
                   f"set {_mib(mem['rss_peak_start_bytes'])} before, "
                   f"{_mib(mem['rss_peak_after_bytes'])} after (ru_maxrss, a high-water mark "
                   "that includes the interpreter, numba and LLVM)")
    sc = report.get("scaling")
    if sc:
        lo, hi = sc["exponent_lo"], sc["exponent_hi"]
        interval = f" [95% {lo:.2f} to {hi:.2f}]" if lo is not None else " (no interval from 2 sizes)"
        out.append(f"scaling: cost per step ({sc['clock']} time) ∝ W^{sc['exponent']:.2f}"
                   f"{interval} over "
                   f"{sc['size_param']} = {', '.join(str(p['size']) for p in sc['points'])}"
                   + (f" ({', '.join(sc['reset_params'])} reset to default)"
                      if sc["reset_params"] else ""))
        if sc.get("plot"):
            out.append(f"plot: written to {sc['plot']}")
    if tr["error"]:
        out.append(f"the trial ended in error: {tr['error']}")
    return out


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _nan_none(v: float) -> float | None:
    return None if math.isnan(v) else v


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    from .params import to_jsonable

    return {k: to_jsonable(v) for k, v in params.items()}
