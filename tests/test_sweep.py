"""Search spaces, deterministic extensible sampling, sweep planning, and the sweep/importance
commands end to end (tiny: elman on a 32-string Reber, 50 sequences per trial)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from seqbench.errors import SeqbenchError, UnknownNameError
from seqbench.params import Param
from seqbench.sweep import (Dimension, SpaceError, load_space, parse_space, plan_sweep,
                            sample_configurations, validate_space)

SPACE = """
[learning_rate]
dist = "loguniform"
low = 1e-3
high = 1.0

[momentum]
dist = "one-minus-loguniform"
low = 0.01
high = 1.0

[hidden]
dist = "intloguniform"
low = 2
high = 16

[bias]
dist = "choice"
values = [true, false]
"""


class FakeLearner:
    name = "fake"
    params = {
        "learning_rate": Param(0.1, "lr", "float", low=0, high=10),
        "momentum": Param(0.0, "mu", "float", low=0, high=1),
        "hidden": Param(4, "units", "int", low=1, high=100),
        "bias": Param(False, "bias", "bool"),
        "variant": Param("vanilla", "variant", "str", choices=("vanilla", "NIG", "NFG")),
    }


def _space(text: str, tmp_path: Path):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return load_space(path)


def _one_line(exc: BaseException, *needles: str) -> None:
    msg = str(exc)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, msg


# -- parsing and validation --------------------------------------------------------------------
def test_space_parses_every_distribution_and_per_learner_sections(tmp_path):
    space = _space(SPACE + '\n[fake.learning_rate]\ndist = "uniform"\nlow = 0.1\nhigh = 0.5\n',
                   tmp_path)
    assert space.common["learning_rate"].dist == "loguniform"
    assert space.common["momentum"].value_range() == pytest.approx((0.0, 0.99))
    assert space.common["bias"].values == (True, False)
    mine = space.for_learner("fake")
    assert mine["learning_rate"].dist == "uniform"  # the learner's section wins
    assert space.for_learner("other")["learning_rate"].dist == "loguniform"
    assert set(validate_space(space, FakeLearner)) == {"learning_rate", "momentum", "hidden",
                                                       "bias"}


@pytest.mark.parametrize("text,needles", [
    ('[lr]\ndist = "loguniform"\nlow = 0.001\nhigh = 1.0\n',
     ["unknown dimension 'lr'", "learning_rate", "momentum"]),
    ('[momentum]\ndist = "uniform"\nlow = 0.0\nhigh = 2.0\n', ["'momentum'", "[0, 2]"]),
    ('[variant]\ndist = "choice"\nvalues = ["vanilla", "XYZ"]\n',
     ["'variant'", "'XYZ'", "NIG"]),
    ('[hidden]\ndist = "loguniform"\nlow = 1.0\nhigh = 8.0\n', ["'hidden'", "integer"]),
    ('[bias]\ndist = "uniform"\nlow = 0.0\nhigh = 1.0\n', ["'bias'", "choice"]),
])
def test_validation_errors_are_one_line_and_name_the_dimension(tmp_path, text, needles):
    with pytest.raises(SeqbenchError) as info:
        validate_space(_space(text, tmp_path), FakeLearner)
    _one_line(info.value, *needles)


@pytest.mark.parametrize("table,needles", [
    ({"dist": "gaussian", "low": 0, "high": 1}, ["'x'", "unknown dist 'gaussian'", "loguniform"]),
    ({"dist": "loguniform", "low": 0.0, "high": 1.0}, ["'x'", "low > 0"]),
    ({"dist": "uniform", "low": 2.0, "high": 1.0}, ["'x'", "below high"]),
    ({"dist": "one-minus-loguniform", "low": 0.1, "high": 2.0}, ["'x'", "high <= 1"]),
    ({"dist": "choice", "values": []}, ["'x'", "non-empty"]),
    ({"dist": "uniform", "low": 0, "high": 1, "step": 2}, ["'x'", "unexpected key step"]),
    ({"dist": "intloguniform", "low": 1.5, "high": 4}, ["'x'", "integer bounds"]),
])
def test_malformed_dimensions(table, needles):
    with pytest.raises(SpaceError) as info:
        parse_space({"x": table})
    _one_line(info.value, *needles)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(SpaceError) as info:
        _space("[x\n", tmp_path)
    _one_line(info.value, "not valid TOML")
    with pytest.raises(SpaceError):
        load_space(tmp_path / "nope.toml")


# -- samplers ----------------------------------------------------------------------------------
def test_samplers_stay_in_range_and_have_the_right_shape():
    rng = np.random.default_rng(0)
    lu = Dimension("a", "loguniform", 1e-3, 1.0)
    draws = np.array([lu.rvs(rng) for _ in range(2000)])
    assert draws.min() >= 1e-3 and draws.max() <= 1.0
    # log-uniform: each decade about a third of the draws
    counts = np.histogram(np.log10(draws), bins=[-3, -2, -1, 0])[0] / len(draws)
    assert np.all(np.abs(counts - 1 / 3) < 0.05), counts
    il = Dimension("b", "intloguniform", 2, 16)
    ints = [il.rvs(rng) for _ in range(2000)]
    assert all(isinstance(v, int) and 2 <= v <= 16 for v in ints)
    assert {2, 16} <= set(ints)
    assert np.mean(np.array(ints) < 6) > 0.45  # log-uniform: 2..5 is half the log-range
    om = Dimension("c", "one-minus-loguniform", 0.01, 1.0)
    mom = np.array([om.rvs(rng) for _ in range(2000)])
    assert mom.min() >= 0.0 and mom.max() <= 0.99
    gap = np.log10(1 - mom)
    assert abs(np.mean(gap < -1) - 0.5) < 0.05  # momentum > 0.9 half the time
    ch = Dimension("d", "choice", values=("x", "y"))
    assert {ch.rvs(rng) for _ in range(50)} == {"x", "y"}
    ui = Dimension("e", "intuniform", 1, 3)
    assert {ui.rvs(rng) for _ in range(100)} == {1, 2, 3}


def test_dimensions_work_with_parameter_sampler(tmp_path):
    from sklearn.model_selection import ParameterSampler

    from seqbench.sweep import param_distributions

    dists = param_distributions(_space(SPACE, tmp_path))
    points = list(ParameterSampler(dists, n_iter=20, random_state=0))
    assert all(1e-3 <= p["learning_rate"] <= 1 and 0 <= p["momentum"] <= 0.99
               and 2 <= p["hidden"] <= 16 for p in points)


# -- determinism, extensibility, exhaustive axes ------------------------------------------------
def test_sampling_is_deterministic_and_extensible(tmp_path):
    space = _space(SPACE, tmp_path)
    five = sample_configurations(space, 5, seed=3)
    assert five == sample_configurations(space, 5, seed=3)
    eight = sample_configurations(space, 8, seed=3)
    assert eight[:5] == five
    assert sample_configurations(space, 5, seed=4) != five
    assert len({json.dumps(c.values, sort_keys=True) for c in eight}) == 8
    # removing a dimension leaves the others' draws as they were
    fewer = parse_space({k: v for k, v in {"learning_rate": {"dist": "loguniform", "low": 1e-3,
                                                             "high": 1.0}}.items()})
    assert [c.values["learning_rate"] for c in sample_configurations(fewer, 5, 3)] == \
        [c.values["learning_rate"] for c in five]


def test_exhaustive_axis_gets_n_configurations_per_value(tmp_path):
    space = _space(SPACE + '\n[variant]\ndist = "choice"\nvalues = ["vanilla", "NIG", "NFG"]\n',
                   tmp_path)
    configs = sample_configurations(space, 4, seed=0)  # default: exhaustive=("variant",)
    assert len(configs) == 12
    by_value = {}
    for c in configs:
        by_value.setdefault(c.values["variant"], []).append(c)
    assert {k: len(v) for k, v in by_value.items()} == {"vanilla": 4, "NIG": 4, "NFG": 4}
    # paired: configuration i shares its other values across variants
    strip = [{k: v for k, v in c.values.items() if k != "variant"} for c in by_value["NIG"]]
    assert strip == [{k: v for k, v in c.values.items() if k != "variant"}
                     for c in by_value["vanilla"]]
    assert configs[0].label == "sweep#0/variant=vanilla"
    bigger = sample_configurations(space, 6, seed=0)
    assert [c for c in bigger if c.index < 4] == configs
    both = sample_configurations(space, 2, seed=0, exhaustive=("variant", "bias"))
    assert len(both) == 2 * 3 * 2
    assert len(sample_configurations(space, 2, seed=0, exhaustive=())) == 2


# -- planning on the real registry --------------------------------------------------------------
TASK_P = {"n_train": "32", "n_test": "32", "check_every": "50"}


def test_plan_sweep_builds_labelled_configs_with_stable_keys(tmp_path):
    from seqbench.plugins import get_registry

    registry = get_registry()
    # rtrl has no momentum: it is swept for elman only
    space = _space(SPACE.replace("[momentum]", "[elman.momentum]"), tmp_path)
    configs = plan_sweep(registry, "reber", ["elman", "rtrl"], space, 3, seed=1, budget=50,
                         exhaustive=("bias",), task_params=TASK_P, trials_per_config=2)
    assert len(configs) == 2 * 3 * 2
    assert all(c.budget == 50 and c.trials == 2 for c in configs)
    assert configs[0].preset == "sweep#0/bias=true" and configs[0].paper is None
    elman = [c for c in configs if c.learner == "elman"]
    rtrl = [c for c in configs if c.learner == "rtrl"]
    assert [c.learner_params["learning_rate"] for c in elman] == \
        [c.learner_params["learning_rate"] for c in rtrl]  # same draws for both learners
    assert "momentum" in elman[0].overrides and "momentum" not in rtrl[0].overrides
    more = plan_sweep(registry, "reber", ["elman"], space, 5, seed=1, budget=50,
                      exhaustive=("bias",), task_params=TASK_P, trials_per_config=2)
    keys = {s.key for c in more for s in c.specs()}
    assert {s.key for c in elman for s in c.specs()} <= keys
    with pytest.raises(UnknownNameError) as info:
        plan_sweep(registry, "reber", ["elman"], parse_space(
            {"learnig_rate": {"dist": "uniform", "low": 0.1, "high": 0.2}}), 2)
    _one_line(info.value, "'learnig_rate'", "learning_rate")
    with pytest.raises(SeqbenchError) as info:
        plan_sweep(registry, "reber", ["elman"], parse_space(
            {"elmn": {"hidden": {"dist": "intuniform", "low": 1, "high": 3}}}), 2)
    _one_line(info.value, "'elmn'", "elman")


def test_example_space_file_parses_and_fits_lstm_vanilla_when_installed():
    from seqbench.plugins import get_registry

    path = Path(__file__).resolve().parents[1] / "docs" / "examples" / "space-lstm-vanilla.toml"
    space = load_space(path)
    assert set(space.common) == {"learning_rate", "momentum", "blocks", "init_scale", "variant"}
    assert len(sample_configurations(space, 2, seed=0)) == 2 * 9
    registry = get_registry()
    if "lstm-vanilla" not in registry.learners:
        pytest.skip("learner lstm-vanilla is not installed")
    validate_space(space, registry.learners["lstm-vanilla"], "lstm-vanilla", registry)


# -- the commands end to end -------------------------------------------------------------------
def _group():
    from seqbench.cli_sweep import importance, sweep

    @click.group()
    def group():
        pass

    group.add_command(sweep)
    group.add_command(importance)
    return group


def test_sweep_stores_extends_and_feeds_importance(tmp_path):
    (tmp_path / "space.toml").write_text(SPACE)
    db = str(tmp_path / "s.db")
    runner = CliRunner()
    base = ["sweep", "--task", "reber", "--learners", "elman", "--space",
            str(tmp_path / "space.toml"), "--budget", "50", "--exhaustive", "bias", "--db", db,
            "-q", "--checkpoint-every", "0",
            *[a for k, v in TASK_P.items() for a in ("-t", f"{k}={v}")]]
    first = runner.invoke(_group(), [*base, "--n", "3"])
    assert first.exit_code == 0, (first.output, first.exception)
    assert "0 trials reused from the store, 6 run now" in first.output
    assert "elman: 6 configurations" in first.output
    second = runner.invoke(_group(), [*base, "--n", "5"])
    assert second.exit_code == 0, (second.output, second.exception)
    assert "6 trials reused from the store, 4 run now" in second.output
    import seqbench

    stored = seqbench.load(db).trials(task="reber", learner="elman")
    assert len(stored) == 10 and all(t["preset"].startswith("sweep#") for t in stored)
    out = runner.invoke(_group(), ["importance", "--task", "reber", "--learner", "elman",
                                   "--db", db, "--outcome", "metric:test_mse", "--format",
                                   "json", "--n-trees", "16", "--plot",
                                   str(tmp_path / "imp.png")])
    assert out.exit_code == 0, (out.output, out.exception)
    data = json.loads(out.output[out.output.index("{"):])
    assert data["trials"] == 10
    assert {m["name"] for m in data["fanova"]["main"]} == {"learning_rate", "momentum", "hidden",
                                                           "bias"}
    assert abs(sum(data["permutation"].values()) - 1) < 1e-9
    assert (tmp_path / "imp.png").read_bytes()[:4] == b"\x89PNG"
    table = runner.invoke(_group(), ["importance", "--task", "reber", "--learner", "elman",
                                     "--db", db, "--outcome", "metric:test_mse", "--n-trees", "8",
                                     "--space", str(tmp_path / "space.toml")])
    assert table.exit_code == 0 and "main effect" in table.output and "permutation" in table.output
    flat = runner.invoke(_group(), ["importance", "--task", "reber", "--learner", "elman",
                                    "--db", db, "--outcome", "success"])
    assert isinstance(flat.exception, SeqbenchError) and "nothing to attribute" in str(
        flat.exception)
