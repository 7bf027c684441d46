"""Which hyperparameters matter: functional ANOVA over a random forest (Hutter, Hoos &
Leyton-Brown 2014, as used by Greff et al. 2017), a permutation-importance cross-check, and
Welch's t-tests between variants.

**fANOVA, exact over the forest.** :func:`fanova` fits a scikit-learn ``RandomForestRegressor``
to ``(X, y)`` and, tree by tree, decomposes the variance of the tree's prediction function over
the whole domain (the box spanned by the given bounds, by default the data's range; each
dimension weighted uniformly on the scale it was sampled on) into the variance of its main
effects ``f_i(x_i)`` and pairwise effects ``f_ij(x_i, x_j)``. A tree is piecewise constant on
axis-aligned leaves, so these marginals are exact: the marginal over dimensions ``S`` is constant
on the grid formed by the split points of the dimensions in ``S``, and equals the sum over
leaves of (leaf value x the fraction of the leaf's extent along every dimension not in ``S``).
No sampling and no grid approximation is involved: the only error is the forest's own fit (and
its variation over trees, reported as ``std`` of the shares over trees). Shares are the
per-tree fractions ``V_i / V`` (``V_ij / V`` for the pure pairwise part, i.e. the variance of
``f_ij`` minus those of ``f_i`` and ``f_j``) averaged over trees with non-zero variance, as in
Hutter et al.'s implementation.

**Categorical features** are encoded **ordinally** (codes 0..m-1) and each category is given an
equal-width interval (domain ``[-0.5, m - 0.5]``), so marginals average the categories with
equal weight, as they were sampled. (One-hot columns would put weight on impossible
combinations, two categories at once or none, and split one parameter's share over several
columns.)

**Scales.** A dimension drawn log-uniformly is analysed on ``log10`` of its value (one minus
log-uniform on ``log10(1 - value)``), so the uniform measure fANOVA integrates over is the one
it was sampled from. Without a search space, a positive numeric column spanning at least a
factor of 10 is taken as log-scaled.

**Censoring** (:func:`outcome_table`, outcome ``sequences``): the response is
``log10(sequences to success)``; a trial that did not solve (budget exhausted, stopped, diverged)
is set to ``log10(budget)`` of its trial (it would have needed at least that many). Those values
are lower bounds, so differences among failing configurations are invisible and the effect of
parameters that make trials fail is compressed to the gap between the solved trials' counts and
the budget; the table says how many of its rows are censored. Trials that ended in ``error`` or
``timeout`` (a wall-clock limit, not a learning outcome) are left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import SeqbenchError

OUTCOMES = ("success", "sequences", "test_error")
#: outcomes where smaller is better (the best runs of :func:`welch_by_variant` are the lowest)
LOWER_IS_BETTER = {"success": False, "sequences": True, "test_error": True}
#: statuses left out of every outcome (say nothing about learning)
EXCLUDED_STATUSES = ("error", "timeout")


# ---------------------------------------------------------------------------------------------
# fANOVA
@dataclass
class FanovaResult:
    """Variance shares: ``main[name]``, ``interactions[(a, b)]`` (pure pairwise part), their
    standard deviations over trees, and what the forest saw."""

    names: list[str]
    main: dict[str, float]
    main_std: dict[str, float]
    interactions: dict[tuple[str, str], float]
    interactions_std: dict[tuple[str, str], float]
    n_trees: int
    n_samples: int
    categorical: list[str] = field(default_factory=list)

    def top_interactions(self, k: int = 5) -> list[tuple[tuple[str, str], float]]:
        return sorted(self.interactions.items(), key=lambda kv: -kv[1])[:k]

    @property
    def explained(self) -> float:
        """Share of variance in main effects and pairwise interactions together (the rest is in
        interactions of three or more parameters)."""
        return sum(self.main.values()) + sum(self.interactions.values())

    def as_dict(self, top: int | None = None) -> dict[str, Any]:
        pairs = self.top_interactions(top or len(self.interactions))
        return {
            "method": "exact fANOVA over the trees of a random forest (Hutter et al. 2014)",
            "n_trees": self.n_trees, "n_samples": self.n_samples,
            "categorical": list(self.categorical),
            "main": [{"name": k, "share": self.main[k], "std": self.main_std[k]}
                     for k in sorted(self.main, key=lambda k: -self.main[k])],
            "interactions": [{"names": list(p), "share": s,
                              "std": self.interactions_std[p]} for p, s in pairs],
            "explained": self.explained,
        }


def _leaves(tree, lower: np.ndarray, upper: np.ndarray):
    """The leaves of a fitted sklearn tree as boxes: (lo, hi, value) arrays, clipped to the
    domain ``[lower, upper]``."""
    t = tree.tree_
    los, his, vals = [], [], []
    stack = [(0, lower.copy(), upper.copy())]
    while stack:
        node, lo, hi = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            los.append(lo)
            his.append(hi)
            vals.append(float(t.value[node].ravel()[0]))
            continue
        f, thr = t.feature[node], t.threshold[node]
        thr = min(max(thr, lo[f]), hi[f])
        lo_l, hi_l = lo.copy(), hi.copy()
        hi_l[f] = thr
        lo_r, hi_r = lo.copy(), hi.copy()
        lo_r[f] = thr
        stack.append((left, lo_l, hi_l))
        stack.append((right, lo_r, hi_r))
    return np.array(los), np.array(his), np.array(vals)


def tree_decomposition(tree, lower: np.ndarray, upper: np.ndarray
                       ) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact fANOVA of one tree over the box ``[lower, upper]``: total variance ``V``, main
    effect variances ``V_i`` (d,) and pure pairwise variances ``V_ij`` (d, d; upper triangle).

    With leaf values ``v``, leaf extents ``w[:, j]`` (fractions of the domain) and
    ``r = v * prod_{j not in S} w[:, j]``, the marginal over ``S`` is
    ``a_S(x_S) = sum_leaves [x_S in leaf] r``, so ``integral a_S^2 = r^T (prod_{k in S} O_k) r``
    where ``O_k[l, m]`` is the length (fraction) of the overlap of leaves ``l`` and ``m`` along
    dimension ``k``. With ``v`` centred on the mean ``f0`` the marginals integrate to 0, so
    ``Var(a_S) = r^T O r`` exactly.
    """
    d = len(lower)
    lo, hi, v = _leaves(tree, lower, upper)
    span = upper - lower
    w = (hi - lo) / span  # (leaves, d) fractions of the domain
    vol = np.prod(w, axis=1)
    f0 = float(np.sum(vol * v))
    total = float(np.sum(vol * (v - f0) ** 2))
    main = np.zeros(d)
    pairs = np.zeros((d, d))
    if total <= 0 or len(v) == 1:
        return total, main, pairs
    used = [k for k in range(d) if np.any(w[:, k] < 1 - 1e-12)]  # dims the tree splits on
    vc = v - f0  # centred: the marginals then integrate to 0 (no cancellation against f0^2)
    overlap = {}
    for k in used:
        o = (np.minimum(hi[:, k][:, None], hi[:, k][None, :])
             - np.maximum(lo[:, k][:, None], lo[:, k][None, :]))
        overlap[k] = np.clip(o, 0, None) / span[k]
        rest = vc * np.prod(np.delete(w, k, axis=1), axis=1)
        main[k] = max(float(rest @ overlap[k] @ rest), 0.0)
    for a_i, k in enumerate(used):
        for l in used[a_i + 1:]:
            rest = vc * np.prod(np.delete(w, [k, l], axis=1), axis=1)
            var = float(rest @ (overlap[k] * overlap[l]) @ rest)
            pairs[k, l] = max(var - main[k] - main[l], 0.0)
    return total, main, pairs


def fanova(X, y, names: Sequence[str], n_trees: int = 64, seed: int = 0,
           categorical: Iterable[str] = (), bounds: Mapping[str, tuple[float, float]] | None
           = None, **forest_kw: Any) -> FanovaResult:
    """Main-effect and pairwise-interaction variance shares of ``y`` over the columns of ``X``.

    ``X`` is numeric (n, d): categorical columns (named in ``categorical``) hold ordinal codes
    0..m-1 and get the domain ``[-0.5, m - 0.5]``; other columns the range of ``bounds[name]``
    or else of the data. ``forest_kw`` goes to ``RandomForestRegressor`` (default: bootstrap,
    ``min_samples_leaf=1``, all features at every split). Exact over the fitted forest (see
    the module docstring).
    """
    from sklearn.ensemble import RandomForestRegressor

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    names = list(names)
    if X.ndim != 2 or X.shape[1] != len(names) or len(y) != len(X):
        raise ValueError(f"X must be (n, {len(names)}) and y (n,), got {X.shape} and {y.shape}")
    if len(y) < 2:
        raise SeqbenchError(f"fANOVA needs at least 2 trials, got {len(y)}")
    categorical = [c for c in categorical if c in names]
    lower, upper = np.empty(len(names)), np.empty(len(names))
    for k, name in enumerate(names):
        if name in categorical:
            lower[k], upper[k] = -0.5, max(float(X[:, k].max()), 0.0) + 0.5
        elif bounds and name in bounds:
            lower[k], upper[k] = bounds[name]
        else:
            lower[k], upper[k] = float(X[:, k].min()), float(X[:, k].max())
        if not upper[k] > lower[k]:  # a constant column: a degenerate width that splits nothing
            upper[k] = lower[k] + 1.0
    forest = RandomForestRegressor(n_estimators=n_trees, random_state=seed,
                                   **{"min_samples_leaf": 1, **forest_kw}).fit(X, y)
    mains, pairs = [], []
    for est in forest.estimators_:
        total, main, pair = tree_decomposition(est, lower, upper)
        if total > 0:
            mains.append(main / total)
            pairs.append(pair / total)
    d = len(names)
    if not mains:  # the outcome does not vary (every tree is a constant)
        mains, pairs = [np.zeros(d)], [np.zeros((d, d))]
    m, p = np.array(mains), np.array(pairs)
    return FanovaResult(
        names=names,
        main={nm: float(m[:, k].mean()) for k, nm in enumerate(names)},
        main_std={nm: float(m[:, k].std()) for k, nm in enumerate(names)},
        interactions={(names[a], names[b]): float(p[:, a, b].mean())
                      for a in range(d) for b in range(a + 1, d)},
        interactions_std={(names[a], names[b]): float(p[:, a, b].std())
                          for a in range(d) for b in range(a + 1, d)},
        n_trees=n_trees, n_samples=len(y), categorical=categorical,
    )


def permutation_shares(X, y, names: Sequence[str], n_trees: int = 64, seed: int = 0,
                       n_repeats: int = 10, **forest_kw: Any) -> dict[str, float]:
    """A cross-check of :func:`fanova`: ``sklearn.inspection.permutation_importance`` of the
    same kind of forest (the drop in R² when one column is shuffled, on the training data,
    ``n_repeats`` shuffles), clipped at 0 and normalised to sum to 1. It measures each
    parameter's effect *including* its interactions, so it ranks, it does not decompose."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    forest = RandomForestRegressor(n_estimators=n_trees, random_state=seed,
                                   **forest_kw).fit(X, y)
    if np.ptp(y) == 0:
        return {n: 0.0 for n in names}
    imp = permutation_importance(forest, X, y, n_repeats=n_repeats, random_state=seed)
    raw = np.clip(imp.importances_mean, 0, None)
    total = raw.sum()
    return {n: float(raw[k] / total) if total > 0 else 0.0 for k, n in enumerate(names)}


# ---------------------------------------------------------------------------------------------
# stored trials -> X, y
@dataclass
class OutcomeTable:
    """The design matrix of stored trials: ``X`` (analysis scale), ``y``, the column names, the
    categorical columns with their values (code i is ``categories[name][i]``), each column's
    scale, the raw parameter values per row, and notes on what was left out or censored."""

    X: np.ndarray
    y: np.ndarray
    names: list[str]
    outcome: str
    categories: dict[str, list[Any]]
    scales: dict[str, str]
    params: list[dict[str, Any]]
    bounds: dict[str, tuple[float, float]]
    notes: list[str]
    censored: int = 0


def _params_of(row: Mapping[str, Any]) -> dict[str, Any]:
    if row.get("learner_params") is not None:
        params = row["learner_params"]
    else:
        params = (row.get("spec") or {}).get("learner_params") or {}
    return json.loads(params) if isinstance(params, str) else dict(params)


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, (list, tuple)) else v


def _outcome_value(row: Mapping[str, Any], outcome: str) -> float | None:
    if outcome == "success":
        return 1.0 if row["status"] == "solved" else 0.0
    if outcome == "sequences":
        if row["status"] == "solved" and row.get("sequences_to_success"):
            return math.log10(max(int(row["sequences_to_success"]), 1))
        budget = row.get("budget") or (row.get("spec") or {}).get("budget") or row.get("sequences")
        return math.log10(max(int(budget), 1)) if budget else None
    metrics = row.get("metrics") or {}
    if isinstance(metrics, str):
        metrics = json.loads(metrics)
    value = metrics.get(outcome.partition("metric:")[2] or "test_error")
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def check_outcome(outcome: str) -> str:
    """``outcome`` if it is one of :data:`OUTCOMES` or ``metric:NAME`` (any final-test metric
    the task stores, e.g. ``metric:test_mse``; smaller taken as better), else a one-line
    error."""
    if outcome in OUTCOMES or (outcome.startswith("metric:") and outcome[7:].strip()):
        return outcome
    raise SeqbenchError(f"unknown outcome {outcome!r}; valid: {', '.join(OUTCOMES)}, "
                        "metric:NAME")


def outcome_table(rows: Sequence[Mapping[str, Any]], outcome: str = "success",
                  names: Sequence[str] | None = None, space=None,
                  defaults: Mapping[str, Any] | None = None) -> OutcomeTable:
    """``X`` and ``y`` from stored trial rows (``seqbench.load(db).trials(...)``, or rows with
    ``learner_params``) for ``outcome``: ``success`` (1 solved, 0 not), ``sequences`` (log10 of
    sequences to success, unsolved trials censored at log10 of their budget; see the module
    docstring), ``test_error`` (the task's final test; trials without one are left out) or
    ``metric:NAME`` (any stored final-test metric, e.g. ``metric:test_mse``).

    The columns are ``names``, else the dimensions of ``space`` (a
    :class:`~seqbench.sweep.SearchSpace` or a mapping of dimensions), else every learner
    parameter that takes more than one value over the rows. A parameter missing from a stored
    spec (one at its neutral value is left out of the key) takes ``defaults[name]``.
    """
    check_outcome(outcome)
    notes: list[str] = []
    kept = [r for r in rows if r["status"] not in EXCLUDED_STATUSES]
    dropped = len(rows) - len(kept)
    if dropped:
        notes.append(f"{dropped} trial{'s' if dropped != 1 else ''} ending in error or timeout "
                     "left out")
    values = []
    for r in kept:
        value = _outcome_value(r, outcome)
        if value is not None:
            values.append((r, value))
    if len(values) < len(kept):
        metric = outcome.partition("metric:")[2] or "test_error"
        notes.append(f"{len(kept) - len(values)} trials without a {metric} left out")
    dims = None
    if space is not None:
        dims = dict(space.common) if hasattr(space, "common") else dict(space)
    params = []
    for r, _ in values:
        p = _params_of(r)
        for k, v in (defaults or {}).items():
            p.setdefault(k, v)
        params.append(p)
    if names is None:
        if dims is not None:
            names = sorted(dims)
        else:
            keys = sorted({k for p in params for k in p})
            names = [k for k in keys if len({json.dumps(p.get(k), sort_keys=True)
                                              for p in params}) > 1]
    names = list(names)
    complete = [i for i, p in enumerate(params) if all(k in p for k in names)]
    if len(complete) < len(params):
        notes.append(f"{len(params) - len(complete)} trials lacking a swept parameter left out")
    params = [params[i] for i in complete]
    values = [values[i] for i in complete]
    if not values:
        raise SeqbenchError(f"no trials with outcome {outcome!r} to analyse")
    scales, categories, bounds = {}, {}, {}
    columns = []
    for name in names:
        col = [_hashable(p[name]) for p in params]
        dim = dims.get(name) if dims else None
        if dim is not None:
            scale = dim.scale()
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in col):
            positive = all(v > 0 for v in col)
            scale = "log" if positive and max(col) >= 10 * min(col) else "linear"
        else:
            scale = "categorical"
        scales[name] = scale
        if scale == "categorical":
            order = list(dim.values) if dim is not None else []
            for v in col:
                if v not in order:
                    order.append(v)
            if dim is None:
                order = sorted(order, key=lambda v: (str(type(v)), str(v)))
            categories[name] = order
            columns.append([float(order.index(v)) for v in col])
            continue
        transform = {"log": lambda v: math.log10(v),
                     "log1m": lambda v: math.log10(max(1 - v, 1e-300)),
                     "linear": float}[scale]
        columns.append([transform(float(v)) for v in col])
        if dim is not None:
            a, b = dim.value_range()
            ends = sorted([transform(a), transform(b)])
            bounds[name] = (min(ends[0], min(columns[-1])), max(ends[1], max(columns[-1])))
    y = np.array([v for _, v in values], dtype=float)
    censored = 0
    if outcome == "sequences":
        censored = sum(r["status"] != "solved" for r, _ in values)
        if censored:
            notes.append(f"{censored} of {len(values)} trials did not solve: their log10 "
                         "sequences are set to log10 of their budget (a lower bound)")
    X = np.array(columns, dtype=float).T if columns else np.zeros((len(values), 0))
    return OutcomeTable(X=X, y=y, names=names, outcome=outcome, categories=categories,
                        scales=scales, params=params, bounds=bounds, notes=notes,
                        censored=censored)


# ---------------------------------------------------------------------------------------------
# variants
def welch_by_variant(rows: Sequence[Mapping[str, Any]], outcome: str = "test_error",
                     top_fraction: float | None = None, variant: str = "variant",
                     baseline: str = "vanilla",
                     defaults: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per value of the ``variant`` parameter: ``n``, the outcome's ``mean`` and quartiles
    (``q25``, ``median``, ``q75``: its distribution over the sweep), the difference to
    ``baseline`` and Welch's t-test against it (``scipy.stats.ttest_ind(equal_var=False)``).

    ``top_fraction`` (Greff et al. use 0.1) keeps only each variant's best runs, the lowest
    values for ``sequences`` and ``test_error`` and the highest for ``success``; at least 2 runs
    per group are kept so that a test is possible. ``rows`` are stored trial rows as for
    :func:`outcome_table`. ``t``/``p`` are None where a group has fewer than 2 runs or neither
    group varies.
    """
    table = outcome_table(rows, outcome, names=[variant], defaults=defaults)
    groups: dict[Any, list[float]] = {}
    for p, y in zip(table.params, table.y):
        groups.setdefault(_hashable(p[variant]), []).append(float(y))
    return welch_groups(groups, baseline, top_fraction, LOWER_IS_BETTER.get(outcome, True))


def welch_groups(groups: Mapping[Any, Sequence[float]], baseline: Any = "vanilla",
                 top_fraction: float | None = None, lower_is_better: bool = True
                 ) -> list[dict[str, Any]]:
    """The computation behind :func:`welch_by_variant`, on ``{group: values}``."""
    from scipy.stats import ttest_ind

    if top_fraction is not None and not 0 < top_fraction <= 1:
        raise SeqbenchError(f"top_fraction must be in (0, 1], got {top_fraction}")

    def best(values: Sequence[float]) -> np.ndarray:
        v = np.sort(np.asarray(values, dtype=float))
        if not lower_is_better:
            v = v[::-1]
        if top_fraction is None:
            return v
        return v[:max(2, math.ceil(top_fraction * len(v)))]

    if baseline not in groups:
        raise SeqbenchError(f"no runs of the baseline variant {baseline!r}; variants: "
                            + ", ".join(str(g) for g in groups))
    base = best(groups[baseline])
    out = []
    for name in [baseline, *sorted((g for g in groups if g != baseline), key=str)]:
        v = best(groups[name])
        t = p = None
        if name != baseline and len(v) >= 2 and len(base) >= 2 and (np.ptp(v) > 0
                                                                    or np.ptp(base) > 0):
            res = ttest_ind(v, base, equal_var=False)
            t, p = float(res.statistic), float(res.pvalue)
        q25, median, q75 = (float(q) for q in np.percentile(v, [25, 50, 75]))
        out.append({"variant": name, "n": int(len(v)), "n_all": len(groups[name]),
                    "mean": float(v.mean()), "q25": q25, "median": median, "q75": q75,
                    "diff": float(v.mean() - base.mean()), "t": t, "p": p})
    return out


# ---------------------------------------------------------------------------------------------
def plot_importance(result: FanovaResult, path=None, top: int = 5, title: str | None = None
                    ) -> bytes:
    """A bar chart of the main-effect shares and the ``top`` largest pairwise interactions
    (error bars: standard deviation over trees), as PNG bytes (also written to ``path``)."""
    import io

    from matplotlib.figure import Figure

    mains = sorted(result.main.items(), key=lambda kv: -kv[1])
    pairs = result.top_interactions(top)
    labels = [k for k, _ in mains] + [f"{a} × {b}" for (a, b), _ in pairs]
    shares = [v for _, v in mains] + [v for _, v in pairs]
    errs = [result.main_std[k] for k, _ in mains] + [result.interactions_std[p] for p, _ in pairs]
    colours = ["#1f77b4"] * len(mains) + ["#ff7f0e"] * len(pairs)
    fig = Figure(figsize=(7, 0.4 * len(labels) + 1.4), dpi=100)
    ax = fig.add_subplot()
    ypos = np.arange(len(labels))[::-1]
    ax.barh(ypos, shares, xerr=errs, color=colours, capsize=3)
    ax.set_yticks(ypos, labels)
    ax.set_xlim(0, max(1.0, max(shares, default=0) * 1.05))
    ax.set_xlabel("share of variance (fANOVA)")
    ax.set_title(title or f"fANOVA, {result.n_samples} trials, {result.n_trees} trees"
                 f" (main: blue, pairwise: orange; {100 * result.explained:.0f}% explained)",
                 fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    if path is not None:
        with open(path, "wb") as fh:
            fh.write(data)
    return data


__all__ = [
    "FanovaResult", "OUTCOMES", "OutcomeTable", "fanova", "outcome_table", "permutation_shares",
    "plot_importance", "tree_decomposition", "welch_by_variant", "welch_groups",
]
