"""Random hyperparameter sweeps: a search-space file, deterministic extensible sampling, and the
planned configurations (after Greff et al. 2017, "LSTM: A Search Space Odyssey").

A **search space** is a TOML file with one table per swept learner parameter::

    [learning_rate]
    dist = "loguniform"         # uniform | loguniform | intuniform | intloguniform
    low = 1e-3                  #   | one-minus-loguniform | choice
    high = 1.0

    [momentum]                  # momentum = 1 - loguniform(0.01, 1): values in [0, 0.99]
    dist = "one-minus-loguniform"
    low = 0.01
    high = 1.0

    [variant]
    dist = "choice"
    values = ["vanilla", "NIG", "NFG"]

    [lstm-vanilla.learning_rate]   # for one learner only (overrides the bare table)
    dist = "loguniform"
    low = 1e-2
    high = 1.0

Each dimension becomes an object with ``rvs(random_state=...)`` (:meth:`Dimension.distribution`:
a frozen scipy.stats distribution where one exists, a small class otherwise), usable by
scikit-learn's ``ParameterSampler`` (:func:`param_distributions`).

**Determinism and extensibility.** Configuration ``i`` of a sweep with seed ``s`` draws dimension
``d`` from its own generator, ``SeedSequence([s, i, crc32(d)])``. So configuration ``i`` depends
only on ``(s, i)`` (and, for an exhaustive axis, its value): raising ``n`` appends
configurations and leaves the first ones (and their stored trials) as they were, and adding or
removing a dimension leaves the other dimensions' draws unchanged. Float draws are rounded to
:data:`DIGITS` significant digits (and clipped into the bounds) so that the stored parameters
and the tables stay readable.

**Exhaustive axes.** A ``choice`` dimension named in ``exhaustive`` (default ``("variant",)``) is
not sampled: every sampled configuration is run with every one of its values, so each value gets
the same ``n`` configurations, and configuration ``i`` of one value shares all other
hyperparameters with configuration ``i`` of every other value (a paired design).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParamError, SeqbenchError, UnknownNameError

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]

#: significant digits kept of every float draw
DIGITS = 4
#: the label prefix of the configurations a sweep plans (their stored ``preset`` column)
LABEL_PREFIX = "sweep#"

#: accepted spellings of each distribution (compared without '-', '_' and case)
_DISTS = {
    "uniform": "uniform",
    "loguniform": "loguniform", "reciprocal": "loguniform",
    "intuniform": "intuniform", "randint": "intuniform",
    "intloguniform": "intloguniform", "integerloguniform": "intloguniform",
    "oneminusloguniform": "one-minus-loguniform",
    "choice": "choice", "categorical": "choice",
}
DISTRIBUTIONS = ("uniform", "loguniform", "intuniform", "intloguniform", "one-minus-loguniform",
                 "choice")


class SpaceError(ParamError):
    """A search-space file or dimension that is malformed or does not fit the learner."""


# ---------------------------------------------------------------------------------------------
# distributions that scipy.stats lacks
class IntLogUniform:
    """Integers in ``[low, high]`` drawn log-uniformly: ``floor(loguniform(low, high + 1))``, so
    ``P(k) = log((k + 1) / k) / log((high + 1) / low)``."""

    def __init__(self, low: int, high: int):
        self.low, self.high = int(low), int(high)

    def rvs(self, size=None, random_state=None):
        rng = _rng(random_state)
        u = rng.uniform(math.log(self.low), math.log(self.high + 1), size=size)
        out = np.minimum(np.floor(np.exp(u)).astype(np.int64), self.high)
        return int(out) if size is None else out


class OneMinusLogUniform:
    """``1 - loguniform(low, high)``: values in ``[1 - high, 1 - low]``, dense near ``1 - low``
    (a momentum of 0.9 is as likely as 0.99)."""

    def __init__(self, low: float, high: float):
        from scipy.stats import loguniform

        self.low, self.high = float(low), float(high)
        self._gap = loguniform(self.low, self.high)

    def rvs(self, size=None, random_state=None):
        gap = self._gap.rvs(size=size, random_state=_rng(random_state))
        return 1.0 - gap if size is not None else float(1.0 - gap)


class Choice:
    """One of ``values``, uniformly."""

    def __init__(self, values: Sequence[Any]):
        self.values = list(values)

    def rvs(self, size=None, random_state=None):
        rng = _rng(random_state)
        if size is None:
            return self.values[int(rng.integers(len(self.values)))]
        return [self.values[int(i)] for i in rng.integers(len(self.values), size=size)]


def _rng(random_state) -> np.random.Generator | np.random.RandomState:
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state if isinstance(random_state, np.random.Generator) \
            else np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng(random_state)


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dimension:
    """One swept parameter: its distribution and bounds (``values`` for a choice)."""

    name: str
    dist: str
    low: float | None = None
    high: float | None = None
    values: tuple[Any, ...] = ()

    @property
    def categorical(self) -> bool:
        return self.dist == "choice"

    @property
    def integer(self) -> bool:
        return self.dist in ("intuniform", "intloguniform")

    def value_range(self) -> tuple[float, float] | None:
        """The smallest and largest value a draw can take (None for a choice)."""
        if self.categorical:
            return None
        if self.dist == "one-minus-loguniform":
            return 1.0 - float(self.high), 1.0 - float(self.low)
        return float(self.low), float(self.high)

    def scale(self) -> str:
        """The scale on which draws are uniform: ``linear``, ``log`` (of the value), ``log1m``
        (log of one minus the value) or ``categorical``; importance analysis works on it."""
        return {"loguniform": "log", "intloguniform": "log", "one-minus-loguniform": "log1m",
                "choice": "categorical"}.get(self.dist, "linear")

    @functools.cached_property
    def _distribution(self):
        return self.distribution()

    def distribution(self):
        """An object with ``rvs(size=None, random_state=None)``: frozen scipy.stats
        distributions for uniform, log-uniform and integer-uniform, small classes otherwise."""
        from scipy import stats

        if self.dist == "uniform":
            return stats.uniform(self.low, self.high - self.low)
        if self.dist == "loguniform":
            return stats.loguniform(self.low, self.high)
        if self.dist == "intuniform":
            return stats.randint(int(self.low), int(self.high) + 1)
        if self.dist == "intloguniform":
            return IntLogUniform(int(self.low), int(self.high))
        if self.dist == "one-minus-loguniform":
            return OneMinusLogUniform(self.low, self.high)
        return Choice(self.values)

    def rvs(self, random_state=None) -> Any:
        """One draw, as a plain Python value (rounded to :data:`DIGITS` significant digits and
        clipped into the bounds for floats)."""
        value = self._distribution.rvs(random_state=_rng(random_state))
        return self.clean(value)

    def clean(self, value: Any) -> Any:
        if self.categorical:
            return value
        if self.integer:
            return int(value)
        value = float(f"{float(value):.{DIGITS}g}")
        lo, hi = self.value_range()
        return min(max(value, lo), hi)

    def describe(self) -> str:
        if self.categorical:
            return "choice of " + ", ".join(str(v) for v in self.values)
        return f"{self.dist}({self.low:g}, {self.high:g})"


@dataclass
class SearchSpace:
    """Dimensions for every learner (``common``) and per learner (``per_learner``, keyed by the
    name as written in the file; an alias is resolved when the space is used)."""

    common: dict[str, Dimension] = field(default_factory=dict)
    per_learner: dict[str, dict[str, Dimension]] = field(default_factory=dict)
    source: str = "search space"

    def for_learner(self, learner: str, registry=None) -> dict[str, Dimension]:
        """The dimensions swept for ``learner`` (canonical name): the common ones overlaid with
        its own section."""
        own: dict[str, Dimension] = {}
        for written, dims in self.per_learner.items():
            name = written
            if registry is not None:
                try:
                    name = registry.learner_name(written)
                except UnknownNameError:
                    pass
            if name == learner:
                own.update(dims)
        merged = {**self.common, **own}
        return {k: merged[k] for k in sorted(merged)}

    def names(self) -> list[str]:
        return sorted({*self.common, *(k for d in self.per_learner.values() for k in d)})


# ---------------------------------------------------------------------------------------------
def load_space(path: str | Path) -> SearchSpace:
    """Read a search-space TOML file; a malformed one is a one-line :class:`SpaceError`."""
    path = Path(path)
    if _toml is None:  # pragma: no cover
        raise SeqbenchError("reading a search space needs tomllib (Python 3.11+) or tomli: "
                            "pip install tomli")
    try:
        data = _toml.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpaceError(f"search space {str(path)!r} does not exist") from None
    except OSError as exc:
        raise SpaceError(f"search space {str(path)!r} cannot be read: {exc}") from None
    except _toml.TOMLDecodeError as exc:
        raise SpaceError(f"search space {str(path)!r} is not valid TOML: {exc}") from None
    return parse_space(data, source=f"search space {path.name}")


def parse_space(data: Mapping[str, Any], source: str = "search space") -> SearchSpace:
    """A :class:`SearchSpace` from the parsed TOML mapping (see the module docstring)."""
    space = SearchSpace(source=source)
    if not data:
        raise SpaceError(f"{source} has no dimensions")
    for key, value in data.items():
        if not isinstance(value, Mapping):
            raise SpaceError(f"{source}: {key!r} must be a table ([{key}] with dist = ...), "
                             f"got {value!r}")
        if "dist" in value:
            space.common[key] = parse_dimension(key, value, source)
            continue
        # a learner's own section: every entry a dimension table
        if not value or not all(isinstance(v, Mapping) for v in value.values()):
            raise SpaceError(f"{source}: [{key}] has no 'dist' (a dimension needs dist = one "
                             f"of {', '.join(DISTRIBUTIONS)}; a learner section holds "
                             f"[{key}.PARAM] tables)")
        space.per_learner[key] = {
            name: parse_dimension(name, dim, source, where=f"{key}.{name}")
            for name, dim in value.items()
        }
    return space


def parse_dimension(name: str, table: Mapping[str, Any], source: str = "search space",
                    where: str | None = None) -> Dimension:
    """One dimension from its TOML table; any problem is a one-line error naming it."""
    where = f"{source}: dimension {(where or name)!r}"
    if not isinstance(table, Mapping) or "dist" not in table:
        raise SpaceError(f"{where} needs dist = one of {', '.join(DISTRIBUTIONS)}")
    raw = str(table["dist"])
    dist = _DISTS.get(raw.replace("-", "").replace("_", "").lower())
    if dist is None:
        raise SpaceError(f"{where}: unknown dist {raw!r}; valid: {', '.join(DISTRIBUTIONS)}")
    allowed = {"dist", "values"} if dist == "choice" else {"dist", "low", "high"}
    extra = sorted(set(table) - allowed)
    if extra:
        raise SpaceError(f"{where}: unexpected key{'s' if len(extra) > 1 else ''} "
                         f"{', '.join(extra)} for dist {dist!r}; valid: "
                         f"{', '.join(sorted(allowed))}")
    if dist == "choice":
        values = table.get("values")
        if not isinstance(values, list) or not values:
            raise SpaceError(f"{where}: choice needs values = [a non-empty list]")
        seen = []
        for v in values:
            if v in seen:
                raise SpaceError(f"{where}: value {v!r} is listed twice")
            seen.append(v)
        return Dimension(name, dist, values=tuple(_freeze(v) for v in values))
    for k in ("low", "high"):
        v = table.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SpaceError(f"{where}: {dist} needs a finite number {k} = ..., got {v!r}")
    low, high = table["low"], table["high"]
    if not low < high:
        raise SpaceError(f"{where}: low ({low:g}) must be below high ({high:g})")
    if dist in ("intuniform", "intloguniform"):
        if low != int(low) or high != int(high):
            raise SpaceError(f"{where}: {dist} needs integer bounds, got {low:g}, {high:g}")
        low, high = int(low), int(high)
    if dist in ("loguniform", "intloguniform", "one-minus-loguniform") and low <= 0:
        raise SpaceError(f"{where}: {dist} needs low > 0, got {low:g}")
    if dist == "one-minus-loguniform" and high > 1:
        raise SpaceError(f"{where}: one-minus-loguniform draws 1 - loguniform(low, high) and "
                         f"needs high <= 1, got {high:g}")
    return Dimension(name, dist, low=low, high=high)


def _freeze(v: Any) -> Any:
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


# ---------------------------------------------------------------------------------------------
def validate_space(space: SearchSpace, learner_cls, learner: str | None = None,
                   registry=None) -> dict[str, Dimension]:
    """Check the dimensions swept for one learner against its declared ``params``; returns
    them. Unknown names, bounds outside the parameter's range, a kind the parameter cannot take
    and choice values it does not allow are one-line :class:`SpaceError` s naming the
    dimension (and the valid names or values)."""
    learner = learner or learner_cls.name
    declared = learner_cls.params
    dims = space.for_learner(learner, registry)
    if registry is not None:  # a section for a learner that does not exist is a typo
        for written in space.per_learner:
            try:
                registry.learner_name(written)
            except UnknownNameError:
                raise UnknownNameError("learner", written, [*registry.learners,
                                                            *registry.aliases],
                                       where=f"in {space.source} (section [{written}.*])"
                                       ) from None
    for name, dim in dims.items():
        if name not in declared:
            raise UnknownNameError("dimension", name, declared,
                                   where=f"in {space.source}: learner {learner!r} has no such "
                                         "parameter")
        p = declared[name]
        where = f"{space.source}: dimension {name!r} of learner {learner!r}"
        if dim.categorical:
            for v in dim.values:
                try:
                    p.coerce(name, list(v) if isinstance(v, tuple) else v, f"learner {learner!r}")
                except ParamError:
                    valid = (f"valid: {', '.join(p.choices)}" if p.choices
                             else f"expected {p.describe()}")
                    raise SpaceError(f"{where}: value {v!r} is not allowed; {valid}") from None
            continue
        if p.kind not in ("int", "float"):
            raise SpaceError(f"{where}: the parameter is {p.describe()}; only dist = \"choice\" "
                             "can sweep it")
        if p.kind == "int" and not dim.integer:
            raise SpaceError(f"{where}: the parameter is an integer; use dist = \"intuniform\", "
                             "\"intloguniform\" or \"choice\"")
        lo, hi = dim.value_range()
        if (p.low is not None and lo < p.low) or (p.high is not None and hi > p.high):
            raise SpaceError(f"{where}: draws span [{lo:g}, {hi:g}], outside the parameter's "
                             f"range ({p.describe()})")
    return dims


def param_distributions(space: SearchSpace, learner: str | None = None, registry=None
                        ) -> dict[str, Any]:
    """``{name: distribution}`` for scikit-learn's ``ParameterSampler`` (each has ``rvs``).
    :func:`sample_configurations`, not ``ParameterSampler``, is what sweeps use: it keeps
    configuration ``i`` fixed as ``n`` grows."""
    dims = space.for_learner(learner, registry) if learner else {**space.common}
    return {k: d.distribution() for k, d in dims.items()}


def _stream(seed: int, index: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed), int(index), zlib.crc32(name.encode())]))


def sample_one(dims: Mapping[str, Dimension], seed: int, index: int) -> dict[str, Any]:
    """Configuration ``index`` of the sweep with ``seed``: a function of ``(seed, index)`` and
    each dimension's name and distribution only."""
    return {name: dim.rvs(random_state=_stream(seed, index, name))
            for name, dim in sorted(dims.items())}


@dataclass(frozen=True)
class Configuration:
    """One sampled point: its index, the exhaustive-axis values it was crossed with, and every
    swept value."""

    index: int
    values: dict[str, Any]
    fixed: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """``sweep#17``, or ``sweep#17/variant=NIG`` on an exhaustive axis."""
        return LABEL_PREFIX + str(self.index) + "".join(f"/{k}={_show(v)}" for k, v in self.fixed)


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, tuple):
        return ",".join(_show(x) for x in v)
    return str(v)


def sample_configurations(space: SearchSpace | Mapping[str, Dimension], n: int, seed: int = 0,
                          exhaustive: Iterable[str] = ("variant",), learner: str | None = None,
                          registry=None) -> list[Configuration]:
    """``n`` configurations per value of each exhaustive axis (``n`` in all without one).

    Deterministic and extensible: configuration ``i`` depends only on ``(seed, i)`` and, on an
    exhaustive axis, its value, so the first ``k`` of a larger ``n`` are the same ``k``.
    ``space`` is a :class:`SearchSpace` (``learner`` picks a learner's section) or a mapping of
    dimensions. A name in ``exhaustive`` that is not a choice dimension of the space is ignored.
    """
    if n < 1:
        raise ParamError(f"--n must be at least 1, got {n}")
    if seed < 0:
        raise ParamError(f"--seed must be >= 0, got {seed}")
    dims = (space.for_learner(learner, registry) if learner else dict(space.common)) \
        if isinstance(space, SearchSpace) else dict(space)
    axes = [a for a in dict.fromkeys(exhaustive or ()) if a in dims and dims[a].categorical]
    sampled = {k: d for k, d in dims.items() if k not in axes}
    grid: list[tuple[tuple[str, Any], ...]] = [()]
    for a in axes:
        grid = [g + ((a, v),) for g in grid for v in dims[a].values]
    out = []
    for fixed in grid:
        for i in range(n):
            values = sample_one(sampled, seed, i)
            values.update(dict(fixed))
            out.append(Configuration(i, {k: values[k] for k in sorted(values)}, fixed))
    return out


# ---------------------------------------------------------------------------------------------
def plan_sweep(registry, task: str, learners: Sequence[str | tuple[str, str | None]],
               space: SearchSpace, n: int, seed: int = 0, budget: int | None = None,
               trials_per_config: int = 1, exhaustive: Iterable[str] = ("variant",),
               preset: str | None = None, task_params: Mapping[str, str] | None = None,
               learner_params: Mapping[str, str] | None = None,
               notes: list[str] | None = None) -> list:
    """The :class:`~seqbench.runner.Config` rows of a sweep: for every learner, its sampled
    configurations, each planned through :func:`seqbench.runner.plan` (so values are validated,
    the configuration is built once, and resume keys carry the behaviour versions) with the
    swept values as learner parameters on top of the base preset (``preset``; default: the
    learner's default preset for the task, ``"none"``: plain defaults) and ``learner_params``.

    Every learner gets the same ``n`` configurations per exhaustive value, ``trials_per_config``
    trials each (trials ``0..K-1`` with ``seed``: every configuration sees the same data), and
    the same budget (``budget``, else the task's default budget, not a preset's). Each row's
    ``preset`` is its label (``sweep#17``) and its ``overrides`` the swept values. The whole
    space is validated against every learner before anything is planned.
    """
    from .runner import MAX_INT, plan, split_learner_params

    if trials_per_config < 1:
        raise ParamError(f"--trials-per-config must be at least 1, got {trials_per_config}")
    if n < 1:
        raise ParamError(f"--n must be at least 1, got {n}")
    if budget is not None and not 1 <= budget <= MAX_INT:
        raise ParamError(f"--budget must be in [1, {MAX_INT}], got {budget}")
    task_cls = registry.task(task)
    entries = [(e, None) if isinstance(e, str) else tuple(e) for e in learners]
    if not entries:
        raise ParamError("--learners needs at least one learner name")
    resolved = list(dict.fromkeys((registry.learner_name(nm), p) for nm, p in entries))
    if len(resolved) < len(entries) and notes is not None:
        notes.append("duplicate learners merged (each is swept once)")
    per_learner = {}
    for name, _ in resolved:  # everything is checked before any configuration is built
        per_learner[name] = validate_space(space, registry.learners[name], name, registry)
    unknown_axes = [a for a in dict.fromkeys(exhaustive or ())
                    if not any(a in d and d[a].categorical for d in per_learner.values())]
    if unknown_axes and notes is not None and tuple(unknown_axes) != ("variant",):
        notes.append(f"--exhaustive {', '.join(unknown_axes)}: no choice dimension of that name "
                     "in the space; sampled as usual")
    budget = budget or task_cls.default_budget
    routed = split_learner_params(learner_params or {}, [nm for nm, _ in resolved], registry,
                                  notes)
    configs = []
    for name, own_preset in resolved:
        fixed_params = routed[name]
        both = sorted(set(fixed_params) & set(per_learner[name]))
        if both and notes is not None:
            notes.append(f"-p {', '.join(both)} for {name}: swept by the space, the -p value "
                         "is ignored")
        for point in sample_configurations(per_learner[name], n, seed, exhaustive):
            given = {**fixed_params, **{k: _param_value(v) for k, v in point.values.items()}}
            try:
                (config,) = plan(registry, task, [(name, own_preset)], preset=preset,
                                 trials=trials_per_config, seed=seed, budget=budget,
                                 task_params=task_params, learner_params=given)
            except SeqbenchError as exc:
                raise type(exc)(f"{point.label} of {name}: {exc}") from None
            config.preset = point.label
            config.paper = None
            config.paper_comparable = False
            config.overrides = {**(task_params or {}), **fixed_params,
                                **{k: _show(v) for k, v in point.values.items()}}
            configs.append(config)
    return configs


def _param_value(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def is_sweep_label(preset: str | None) -> bool:
    """Whether a stored trial's ``preset`` column is a sweep configuration's label."""
    return bool(preset) and preset.startswith(LABEL_PREFIX)


__all__ = [
    "Choice", "DISTRIBUTIONS", "Dimension", "IntLogUniform", "OneMinusLogUniform", "SearchSpace",
    "SpaceError", "load_space", "param_distributions", "parse_space", "plan_sweep",
    "sample_configurations", "sample_one", "validate_space",
]
