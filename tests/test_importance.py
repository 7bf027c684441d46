"""fANOVA recovers planted variance decompositions; outcome tables; Welch's test per variant."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.errors import SeqbenchError
from seqbench.importance import (fanova, outcome_table, permutation_shares, plot_importance,
                                 tree_decomposition, welch_by_variant)

NAMES = ["x1", "x2", "x3"]


def test_additive_function_shares_are_recovered():
    # f = 3 x1 + x2 + 0 x3 on U(0,1)^3: variances 9/12, 1/12, 0 -> shares 0.9, 0.1, 0
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (400, 3))
    y = 3 * X[:, 0] + X[:, 1]
    r = fanova(X, y, NAMES, n_trees=16, seed=0)
    assert r.main["x1"] == pytest.approx(0.9, abs=0.04)
    assert r.main["x2"] == pytest.approx(0.1, abs=0.04)
    assert r.main["x3"] == pytest.approx(0.0, abs=0.01)
    assert max(r.interactions.values()) < 0.03
    assert r.explained == pytest.approx(1.0, abs=0.03)
    perm = permutation_shares(X, y, NAMES, n_trees=16, seed=0, n_repeats=3)
    assert perm["x1"] > perm["x2"] > perm["x3"]


def test_pure_interaction_is_attributed_to_the_pair():
    # f = x1 x2 on centred U(-1,1): no main effects, all variance in the (x1, x2) interaction
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (800, 3))
    y = X[:, 0] * X[:, 1]
    r = fanova(X, y, NAMES, n_trees=16, seed=0)
    assert r.interactions[("x1", "x2")] == pytest.approx(1.0, abs=0.1)  # measured 0.97
    assert r.main["x1"] < 0.05 and r.main["x2"] < 0.05 and r.main["x3"] < 0.02
    assert r.top_interactions(1)[0][0] == ("x1", "x2")


def test_exact_decomposition_of_a_known_tree():
    # a tree that is exactly f = [x1 > 0.5] + 2 [x2 > 0.5] (one stump per variable) on [0,1]^2:
    # variances 1/4 and 1, no interaction
    from sklearn.tree import DecisionTreeRegressor

    grid = np.array([[a, b] for a in (0.25, 0.75) for b in (0.25, 0.75)])
    y = (grid[:, 0] > 0.5) + 2.0 * (grid[:, 1] > 0.5)
    tree = DecisionTreeRegressor().fit(grid, y)
    total, main, pairs = tree_decomposition(tree, np.zeros(2), np.ones(2))
    assert total == pytest.approx(1.25)
    assert main == pytest.approx([0.25, 1.0])
    assert pairs[0, 1] == pytest.approx(0.0, abs=1e-12)


def test_categorical_feature_and_plot(tmp_path):
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.integers(0, 3, 300), rng.uniform(0, 1, 300)]).astype(float)
    y = np.array([0.0, 1.0, 5.0])[X[:, 0].astype(int)]  # only the category matters
    r = fanova(X, y, ["variant", "x"], n_trees=8, seed=0, categorical=["variant"])
    assert r.main["variant"] > 0.95
    png = plot_importance(r, tmp_path / "f.png")
    assert png[:4] == b"\x89PNG" and (tmp_path / "f.png").exists()


def _row(status, variant, lr, seq=None, budget=1000, test_error=None):
    return {"status": status, "sequences_to_success": seq, "sequences": seq or budget,
            "budget": budget, "metrics": {} if test_error is None else {"test_error": test_error},
            "spec": {"learner_params": {"variant": variant, "learning_rate": lr, "blocks": 4},
                     "budget": budget}}


def test_outcome_table_encodes_outcomes_and_censoring():
    rows = [_row("solved", "vanilla", 0.01, seq=100, test_error=0.0),
            _row("budget_exhausted", "NIG", 0.1, test_error=0.5),
            _row("solved", "NIG", 1.0, seq=10, test_error=0.1),
            _row("error", "vanilla", 0.5)]
    success = outcome_table(rows, "success")
    assert success.names == ["learning_rate", "variant"]  # blocks does not vary
    assert list(success.y) == [1, 0, 1] and any("error" in n for n in success.notes)
    assert success.scales == {"learning_rate": "log", "variant": "categorical"}
    assert success.X[:, 0] == pytest.approx([-2, -1, 0])
    seq = outcome_table(rows, "sequences")
    assert list(seq.y) == pytest.approx([2, 3, 1]) and seq.censored == 1
    assert any("lower bound" in n for n in seq.notes)
    assert list(outcome_table(rows, "test_error").y) == [0.0, 0.5, 0.1]
    with pytest.raises(SeqbenchError):
        outcome_table(rows, "speed")


def test_welch_by_variant_on_planted_groups():
    rng = np.random.default_rng(3)
    rows = []
    for variant, mean in (("vanilla", 0.2), ("NFG", 0.5), ("NP", 0.2)):
        for e in rng.normal(mean, 0.05, 60):
            rows.append(_row("budget_exhausted", variant, 0.1, test_error=float(e)))
    out = {r["variant"]: r for r in welch_by_variant(rows, "test_error")}
    assert out["vanilla"]["t"] is None and out["vanilla"]["n"] == 60
    assert out["NFG"]["diff"] == pytest.approx(0.3, abs=0.03) and out["NFG"]["p"] < 1e-10
    assert out["NP"]["p"] > 0.001
    assert out["NFG"]["q25"] < out["NFG"]["median"] < out["NFG"]["q75"]
    assert out["NFG"]["median"] == pytest.approx(np.median([
        r["metrics"]["test_error"] for r in rows
        if r["spec"]["learner_params"]["variant"] == "NFG"]))
    from scipy.stats import ttest_ind

    groups = {}
    for r in rows:
        groups.setdefault(r["spec"]["learner_params"]["variant"], []).append(
            r["metrics"]["test_error"])
    ref = ttest_ind(groups["NFG"], groups["vanilla"], equal_var=False)
    assert out["NFG"]["t"] == pytest.approx(ref.statistic)
    top = {r["variant"]: r for r in welch_by_variant(rows, "test_error", top_fraction=0.1)}
    assert top["NFG"]["n"] == 6 and top["NFG"]["mean"] < out["NFG"]["mean"]  # lowest errors
    with pytest.raises(SeqbenchError):
        welch_by_variant([r for r in rows if r["spec"]["learner_params"]["variant"] != "vanilla"],
                         "test_error")
