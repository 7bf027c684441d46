"""Resume keys carry behaviour versions, not package versions; neutral parameters stay out of
them; golden trials pin full results so that a change of results without a version bump fails.

Re-record the golden file after a deliberate change (and a ``behaviour_version`` bump) with
``SEQBENCH_UPDATE_GOLDEN=1 python -m pytest tests/test_versioned_keys.py``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from seqbench.contracts import Learner, TaskSpec
from seqbench.params import Param, neutral, resolve_params
from seqbench.plugins import get_registry
from seqbench.runner import execute, plan
from seqbench.store import Store
from seqbench.trial import run_trial

GOLDEN = Path(__file__).parent / "golden" / "trials.json"


class Echo(Learner):
    """Outputs a constant; stands for a plugin across two of its releases."""

    name = "echo"
    summary = "constant output (tests only)"
    params = {"level": Param(0.5, "the output", "float", low=0.0, high=1.0)}

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        self.n_out = spec.n_outputs

    @property
    def n_weights(self) -> int:
        return 1

    def train(self, block):
        return self.predict(block)

    def predict(self, block):
        return np.full((len(block), block.inputs.shape[1], self.n_out), self.params["level"])


class EchoNext(Echo):
    """The next release: a new parameter whose default keeps the old behaviour."""

    params = {**Echo.params,
              "jitter": neutral(0.0, "noise added to the output", "float", low=0.0, high=1.0)}


class EchoChanged(Echo):
    """A release whose results changed for the same parameters."""

    behaviour_version = 2


@pytest.fixture()
def registry():
    reg = get_registry()
    saved = reg.learners.get("echo")
    try:
        yield reg
    finally:
        if saved is None:
            reg.learners.pop("echo", None)
        else:
            reg.learners["echo"] = saved


def _keys(reg, cls, **params):
    reg.learners["echo"] = cls
    (config,) = plan(reg, "reber", [("echo", None)], trials=2, budget=100,
                     learner_params={k: str(v) for k, v in params.items()})
    return [s.key for s in config.specs()], config


def test_a_neutral_parameter_keeps_old_keys_and_a_changed_value_does_not(registry, tmp_path):
    old_keys, old_config = _keys(registry, Echo)
    with Store(tmp_path / "s.db") as store:
        execute(old_config.specs(), store, registry=registry)
        new_keys, new_config = _keys(registry, EchoNext)
        assert new_keys == old_keys  # jitter=0.0 is the old behaviour
        again = execute(new_config.specs(), store, registry=registry)
        assert (again.reused, again.ran) == (2, 0)  # trials stored before the parameter existed
    moved, _ = _keys(registry, EchoNext, jitter=0.1)
    assert set(moved).isdisjoint(old_keys)


def test_the_behaviour_version_is_in_the_key_and_the_package_version_is_not(registry):
    base, config = _keys(registry, Echo)
    assert config.versions == {"seqbench": "1", "task": "1", "learner": "1"}
    bumped, _ = _keys(registry, EchoChanged)
    assert set(bumped).isdisjoint(base)
    record = registry.plugin_of("learner", "lstm97")
    if record is not None:  # a new package release that changes nothing keeps the keys
        before = plan(registry, "reber", [("lstm97", None)], trials=1, budget=10)[0].specs()[0]
        old_version, record.version = record.version, "99.0"
        try:
            after = plan(registry, "reber", [("lstm97", None)], trials=1, budget=10)[0].specs()[0]
        finally:
            record.version = old_version
        assert before.key == after.key


# --- golden trials ----------------------------------------------------------------------------

GOLDEN_TRIALS = [
    # (task, learner, preset, task params, budget): small, fast, one per learner family
    ("reber", "lstm97", None, {}, 300),
    ("reber", "bptt", None, {}, 200),
    ("reber", "elman", None, {}, 200),
    ("lag-2a", "rtrl", "exp2a-p4-lr1", {}, 300),
    ("lag-2a", "chunker", None, {"p": 4}, 300),
    ("latch", "guessing", "guess-latch-II", {}, 5000),
    ("reber", "rcc", None, {}, 1024),
]
RESULT_FIELDS = ("status", "stop_reason", "sequences", "sequences_to_success", "time_steps",
                 "n_weights", "metrics", "diagnostics", "curve")


def _golden_result(task, learner, preset, task_params, budget):
    reg = get_registry()
    (config,) = plan(reg, task, [(learner, preset)], trials=1, budget=budget,
                     task_params={k: str(v) for k, v in task_params.items()})
    spec = config.specs()[0]
    result = run_trial(spec, reg).as_dict()
    return {"versions": dict(spec.versions),
            **{k: json.loads(json.dumps(result[k])) for k in RESULT_FIELDS}}


def _close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (a is None) == (b is None) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def test_golden_trials_reproduce_or_their_versions_were_bumped():
    got = {f"{t}/{l}/{p}/{tp}/{b}": _golden_result(t, l, p, tp, b)
           for t, l, p, tp, b in GOLDEN_TRIALS}
    if os.environ.get("SEQBENCH_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(GOLDEN.read_text())
    assert pinned.keys() == got.keys(), "the golden trial list changed: re-record the file"
    for name, result in got.items():
        old = pinned[name]
        if old["versions"] != result["versions"]:
            pytest.fail(f"{name}: behaviour versions {old['versions']} -> {result['versions']}: "
                        "re-record the golden file (SEQBENCH_UPDATE_GOLDEN=1)")
        changed = [k for k in RESULT_FIELDS if not _close(old[k], result[k])]
        assert not changed, (
            f"{name}: {changed} changed without a behaviour_version bump; if the change is "
            "intended, bump the plugin's behaviour_version and re-record the golden file")
