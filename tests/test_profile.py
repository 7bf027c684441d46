"""``seqbench profile``: the exponent fit, the timers, the scaling probe on a learner of known
cost, the JSON report and the one-line errors (fake plugins only; no numba)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from fakes import FakePlugin, FirstBit

from seqbench import plugins as plugins_module
from seqbench.contracts import Learner
from seqbench.errors import ParamError, SeqbenchError, UnknownNameError
from seqbench.hookspecs import hookimpl
from seqbench.params import Param
from seqbench.plugins import load_registry
from seqbench.profile import (
    OUTSIDE_PARTS, Profiler, fit_exponent, parse_sizes, profile_trial, scaling_probe,
    size_parameter, size_params)


def _quadratic_kernel():
    """A numba kernel doing exactly units**2 dependent multiply-adds per time step (strict
    floating point: the compiler may neither reorder nor shorten the sum); compiled once."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit

        @njit(cache=False)
        def steps(v, n_steps):
            acc = 0.0
            for _ in range(n_steps):
                for i in range(v.shape[0]):
                    for j in range(v.shape[0]):
                        acc += v[i] * v[j]
            return acc

        _KERNEL = steps
    return _KERNEL


_KERNEL = None


class Quadratic(Learner):
    """A stream learner of known cost: every trained time step is units**2 multiply-adds on a
    vector that stays in L1 cache, and n_weights == units; so its cost per step grows as
    n_weights**2. Never right (outputs 0), so trials run their budget."""

    name = "quadratic"
    size_param = "units"
    params = {"units": Param(64, "weights, and the length of the vector", "int", low=1)}
    trained_blocks = 0  # every train call of any instance (the error tests want none)

    def build(self, spec, rng):
        self.v = rng.uniform(-1, 1, self.params["units"])
        self.acc = 0.0
        self.n_out = spec.n_outputs

    def compile(self):
        _quadratic_kernel()(self.v, 1)

    @property
    def n_weights(self):
        return self.params["units"]

    def train(self, block):
        Quadratic.trained_blocks += 1
        self.acc += _quadratic_kernel()(self.v, block.n_steps)
        return self.predict(block)

    def predict(self, block):
        return np.zeros((len(block), block.inputs.shape[1], self.n_out))


class ProfilePlugin:
    @hookimpl
    def seqbench_register_learners(self, register):
        register(Quadratic)


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra_plugins=(FakePlugin(), ProfilePlugin()))


@pytest.fixture
def installed(registry):
    """The fake registry as the process-wide one (what the command reads), restored after."""
    old = plugins_module._REGISTRY
    plugins_module.reset_registry(registry)
    registry._warned = True  # the real plugins may fail to load here: not this test's business
    yield registry
    plugins_module.reset_registry(old)


# -- fit_exponent ---------------------------------------------------------------------------
@pytest.mark.parametrize("true_b", [1.0, 2.0])
def test_fit_exponent_exact_power_law(true_b):
    w = np.geomspace(50, 5000, 6)
    b, lo, hi = fit_exponent(w, 7.5 * w ** true_b)
    assert b == pytest.approx(true_b, abs=1e-9)
    assert hi - lo < 1e-6 and lo <= b <= hi


@pytest.mark.parametrize("true_b", [1.0, 2.0])
def test_fit_exponent_noisy_power_law_interval_covers(true_b):
    rng = np.random.default_rng(1)
    w = np.geomspace(50, 5000, 8)
    covered = 0
    for _ in range(200):
        ns = 3.0 * w ** true_b * np.exp(rng.normal(0, 0.1, len(w)))
        b, lo, hi = fit_exponent(w, ns)
        assert abs(b - true_b) < 0.25 and lo < b < hi
        covered += lo <= true_b <= hi
    assert 0.88 <= covered / 200 <= 0.99  # a 95 % interval covers about 95 % of the time


def test_fit_exponent_two_points_and_bad_input():
    b, lo, hi = fit_exponent([10, 100], [5, 500])
    assert b == pytest.approx(2.0) and math.isnan(lo) and math.isnan(hi)
    for w, ns in (([10], [1]), ([10, 10], [1, 2]), ([10, 0], [1, 2]), ([10, 20], [1, -2])):
        with pytest.raises(ValueError):
            fit_exponent(w, ns)


# -- timers ---------------------------------------------------------------------------------
def test_profiler_nested_time_is_exclusive():
    import time

    prof = Profiler()
    with prof.timer("criterion"):
        time.sleep(0.02)
        with prof.timer("predict"):
            time.sleep(0.03)
            with prof.timer("judging"):  # inside a kernel: kernel time
                time.sleep(0.01)
    assert prof.seconds["predict"] >= 0.04 and "judging" not in prof.seconds
    assert 0.02 <= prof.seconds["criterion"] < 0.035


def test_outside_share_in_unit_interval_and_parts_add_up(registry):
    from seqbench.trial import TrialSpec

    spec = TrialSpec("first-bit", "quadratic", {"need": 10**6}, {"units": 32}, seed=0, trial=0,
                     budget=600)
    tp = profile_trial(spec, registry, time_limit=30)
    assert tp.status == "budget_exhausted" and tp.sequences == 600 and tp.time_steps == 1800
    assert set(tp.outside_s) == set(OUTSIDE_PARTS)
    assert 0.0 <= tp.outside_share <= 1.0 and all(v >= 0 for v in tp.outside_s.values())
    assert tp.kernel_total_s + tp.outside_total_s == pytest.approx(tp.wall_s, rel=1e-9)
    assert sum(tp.outside_shares().values()) == pytest.approx(tp.outside_share)
    # FirstBit builds its blocks in Python and the fake criterion judges every one
    assert tp.outside_s["generation"] > 0 and tp.outside_s["judging"] > 0
    assert tp.outside_s["criterion"] > 0 and tp.kernel_s["train"] > 0
    assert tp.ns_per_step == pytest.approx(tp.kernel_s["train"] / 1800 * 1e9)


# -- the scaling probe on a kernel of known cost --------------------------------------------
def test_scaling_probe_finds_quadratic_cost(registry):
    sizes = [64, 128, 256, 512]
    points, reset = scaling_probe(registry, "first-bit", {"need": 10**6}, "quadratic",
                                  {"units": 64}, sizes, repeats=3, sequences=10,
                                  min_measure_s=0.03)
    assert reset == [] and [p.n_weights for p in points] == sizes
    b, lo, hi = fit_exponent([p.n_weights for p in points], [p.ns_per_step for p in points])
    # exactly quadratic work; the window is wide for a shared machine (call overhead pulls the
    # small sizes up), but excludes linear (and cubic) cost
    assert 1.6 <= b <= 2.5, (b, [p.ns_per_step for p in points])


# -- sizes ----------------------------------------------------------------------------------
def test_parse_sizes():
    assert parse_sizes("12, 3,6,24") == [3, 6, 12, 24]
    for bad in ("3,x", "0,4", "-1,2", "3,,6", "2.5,4", "4", "4,4", ""):
        with pytest.raises(ParamError) as info:
            parse_sizes(bad)
        assert "\n" not in str(info.value)


def test_size_parameter_declared_and_builtin(registry):
    assert size_parameter(Quadratic) == ("units", ())
    assert size_parameter(registry.learner("oracle")) == (None, ())


def test_lstm_blocks_reset_per_block_biases():
    real = load_registry()
    if "lstm97" not in real.learners:
        pytest.skip("built-in learners not importable here")
    lstm = real.learner("lstm97")
    assert size_parameter(lstm)[0] == "blocks"
    base = {"blocks": 3, "output_gate_bias": (-1.0, -2.0, -3.0)}
    same, reset = size_params(lstm, base, 3)
    assert reset == [] and tuple(same["output_gate_bias"]) == (-1.0, -2.0, -3.0)
    bigger, reset = size_params(lstm, base, 6)
    assert reset == ["output_gate_bias"] and bigger["blocks"] == 6
    for name in ("rtrl", "bptt", "elman"):
        assert size_parameter(real.learner(name))[0] == "hidden"
    for name in ("rcc", "chunker"):
        assert size_parameter(real.learner(name))[0] is None


# -- the command ----------------------------------------------------------------------------
JSON_KEYS = {"task", "learner", "preset", "task_params", "learner_params", "seed", "trial",
             "n_weights", "ns_per_step", "ns_per_weight_step", "compile_s", "wall_s", "kernel_s",
             "kernel_parts_s", "kernel_share", "outside_s", "outside_share", "outside_parts_s",
             "outside_parts_share", "memory", "scaling", "machine"}


def test_json_output_has_the_documented_keys(installed, tmp_path):
    from seqbench.cli_profile import profile_command

    plot = tmp_path / "scaling.png"
    result = CliRunner().invoke(profile_command, [
        "--task", "first-bit", "--learner", "quadratic", "-t", "need=1000000",
        "-p", "units=16", "--sequences", "300", "--sizes", "8,16,32", "--repeats", "1",
        "--format", "json", "--plot", str(plot), "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert JSON_KEYS <= set(report)
    assert report["n_weights"] == 16 and report["trial"]["sequences"] == 300
    assert report["ns_per_weight_step"] == pytest.approx(report["ns_per_step"] / 16)
    assert set(report["outside_parts_share"]) == set(OUTSIDE_PARTS)
    assert 0 <= report["outside_share"] <= 1
    assert report["outside_share"] + report["kernel_share"] == pytest.approx(1.0)
    assert {"tracemalloc_peak_bytes", "rss_peak_before_bytes", "rss_peak_after_bytes"} \
        <= set(report["memory"])
    sc = report["scaling"]
    assert {"size_param", "points", "exponent", "exponent_lo", "exponent_hi", "plot",
            "reset_params", "repeats"} <= set(sc)
    assert sc["size_param"] == "units" and [p["n_weights"] for p in sc["points"]] == [8, 16, 32]
    assert {"size", "n_weights", "ns_per_step", "ns_per_weight_step", "ns_per_step_repeats",
            "compile_s"} <= set(sc["points"][0])
    assert sc["exponent_lo"] <= sc["exponent"] <= sc["exponent_hi"]
    assert sc["plot"] == str(plot) and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_output(installed):
    from seqbench.cli_profile import profile_command

    result = CliRunner().invoke(profile_command, [
        "--task", "first-bit", "--learner", "quadratic", "-t", "need=1000000",
        "--sequences", "200", "--no-memory", "-q"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "ns/weight-step" in out and "outside the kernels:" in out and "compile:" in out
    assert "plot" not in out  # no --sizes: no probe, no plot


@pytest.mark.parametrize("args, needle", [
    (["--task", "reberr", "--learner", "quadratic"], "unknown task 'reberr'"),
    (["--task", "first-bit", "--learner", "quadratc"], "unknown learner 'quadratc'"),
    (["--task", "first-bit", "--learner", "quadratic", "--preset", "exp9"], "unknown preset"),
    (["--task", "first-bit", "--learner", "quadratic", "--sizes", "3,x"], "positive integers"),
    (["--task", "first-bit", "--learner", "quadratic", "--sizes", "0,4"], "positive integers"),
    (["--task", "first-bit", "--learner", "quadratic", "-p", "units=0"], "units"),
    (["--task", "first-bit", "--learner", "quadratic", "--sizes", "2,4", "--plot",
      "/nonexistent-dir/x.png"], "does not exist"),
    (["--task", "first-bit", "--learner", "oracle", "--sizes", "3,6"],
     "learner 'oracle' has no size parameter"),
])
def test_one_line_errors_before_any_work(installed, monkeypatch, capsys, args, needle):
    from seqbench import cli as cli_module
    from seqbench.cli_profile import profile_command

    monkeypatch.setitem(cli_module.cli.commands, "profile", profile_command)
    monkeypatch.setattr(cli_module, "_add_plugin_commands", lambda: None)
    before = Quadratic.trained_blocks
    with pytest.raises(SystemExit) as info:
        cli_module.main(["profile", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench: error:") and needle in lines[0]
    assert Quadratic.trained_blocks == before  # nothing ran


def test_errors_are_seqbench_errors(installed):
    from seqbench.cli_profile import profile_command

    result = CliRunner().invoke(profile_command, ["--task", "nope", "--learner", "quadratic"])
    assert isinstance(result.exception, UnknownNameError)
    assert isinstance(result.exception, SeqbenchError)
    assert FirstBit.name == "first-bit"
