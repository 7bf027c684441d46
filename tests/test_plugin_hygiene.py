"""Issue 14: the kit's causality check, parameter defaults validated at load, unknown names in the
plugin switches, short plugin errors in the table, merging a store of an older schema, and the
provenance each run records."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from helpers import plugins_json, run_cli

from seqbench import testing
from seqbench.contracts import Learner, SetLearner, TaskSpec, Work
from seqbench.hookspecs import hookimpl
from seqbench.params import Param
from seqbench.plugins import PluginRecord, Registry, load_registry
from seqbench.store import MIGRATIONS, Store

# --- 1. causality ---------------------------------------------------------------------------


class _Bias(Learner):
    """One bias per output unit, nothing else; subclasses decide when it learns."""

    summary = "a bias per output"
    params = {"rate": Param(0.5, "learning rate", "float", low=0.0, high=1.0)}

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        self.b = rng.uniform(-0.1, 0.1, spec.n_outputs)

    @property
    def n_weights(self) -> int:
        return len(self.b)

    def predict(self, block):
        return np.broadcast_to(self.b, (len(block), block.inputs.shape[1], len(self.b))).copy()


class OnlineBias(_Bias):
    """Emits its bias at a step, then moves it toward that step's target: causal."""

    name = "online-bias"

    def train(self, block):
        out = np.zeros((len(block), block.inputs.shape[1], len(self.b)))
        for i, n in enumerate(block.lengths):
            for t in range(int(n)):
                out[i, t] = self.b
                if block.target_mask[i, t]:
                    self.b = self.b + self.params["rate"] * (block.targets[i, t] - self.b)
        return out


class PeekingBias(_Bias):
    """Fits its bias on a sequence's targets before emitting that sequence's outputs."""

    name = "peeking-bias"

    def train(self, block):
        out = np.zeros((len(block), block.inputs.shape[1], len(self.b)))
        for i, n in enumerate(block.lengths):
            use = block.target_mask[i, :n]
            if use.any():
                self.b = self.b + self.params["rate"] * (block.targets[i, :n][use].mean(0) - self.b)
            out[i, :n] = self.b
        return out


class PeeksAtLaterSequences(_Bias):
    """Causal within a sequence, but learns from the whole block before the first output."""

    name = "block-peeker"

    def train(self, block):
        valid = testing.valid_steps(block) & block.target_mask
        self.b = self.b + 0.1 * (block.targets[valid].mean(0) - self.b)
        return self.predict(block)


def _causal(cls):
    return dict(testing.learner_checks(cls))["check_learner_causal"]


def test_a_causal_on_line_learner_passes_the_causality_check():
    _causal(OnlineBias)()
    _causal(testing.ConstantLearner)()


@pytest.mark.parametrize("cls", [PeekingBias, PeeksAtLaterSequences])
def test_a_learner_that_peeks_at_targets_fails_the_causality_check(cls):
    with pytest.raises(AssertionError, match="check_learner_causal failed") as info:
        _causal(cls)()
    assert "targets of sequence 0 from step 0 on" in str(info.value)
    assert "changed its output at step 0" in str(info.value)


def test_the_causality_check_is_in_the_kit_and_skipped_for_set_learners():
    assert testing.check_learner_causal in testing.LEARNER_CHECKS

    class FitsASet(SetLearner):
        name = "fits-a-set"
        summary = "fits nothing"

        def build(self, spec, rng):
            self.n_out = spec.n_outputs

        n_weights = 1

        def fit(self, training_set, allowance):
            return Work(sequences=0, time_steps=0)

        def predict(self, block):
            return np.zeros((len(block), block.inputs.shape[1], self.n_out))

    with pytest.raises(testing.SkipCheck, match="set learner"):
        _causal(FitsASet)()


# --- 2. parameter defaults validated when plugins load --------------------------------------

BAD_DEFAULTS = """
import numpy as np
from seqbench.contracts import Learner, Task
from seqbench.hookspecs import hookimpl
from seqbench.params import Param

class Sloppy(Learner):
    name = "sloppy"
    summary = "declares a float parameter with an int default"
    params = {"rate": Param(1, "learning rate", "float", low=0.0, high=10.0),
              "hidden": Param(4, "cells", "int", low=1, high=64)}

class OutOfRange(Task):
    name = "out-of-range"
    summary = "a default outside its own range"
    params = {"T": Param(500, "length", "int", low=1, high=100)}

@hookimpl
def seqbench_register_learners(register):
    register(Sloppy)

@hookimpl
def seqbench_register_tasks(register):
    register(OutOfRange)
"""


def test_bad_parameter_defaults_are_flagged_but_the_plugin_loads(plugin_dist):
    env = plugin_dist("sloppy-dist", {"sloppy": BAD_DEFAULTS})
    record = plugins_json(env)["sloppy"]
    assert record["status"] == "loaded" and record["learners"] == ["sloppy"]
    assert record["tasks"] == ["out-of-range"] and record["error"] is None
    warnings = " | ".join(record["warnings"])
    assert "learner 'sloppy': default of parameter 'rate' is 1 (int)" in warnings
    assert "'hidden'" not in warnings
    assert "task 'out-of-range': default of parameter 'T' is invalid" in warnings

    listed = run_cli(["list", "learners", "--json"], env)
    assert listed.returncode == 0 and "sloppy" in {x["name"] for x in json.loads(listed.stdout)}
    lines = [l for l in listed.stderr.splitlines() if "sloppy" in l]
    assert len(lines) == 1 and lines[0].startswith("seqbench: plugin 'sloppy' has problems")

    table = run_cli(["plugins"], env)
    row = next(l for l in table.stdout.splitlines() if l.startswith("sloppy "))
    assert "default of parameter 'rate'" in row and "loaded" in row


class _Direct:
    class Twice(Learner):
        name = "twice"
        summary = "x"
        params = {"on": Param(1, "a bool written as an int", "bool"),
                  "mode": Param("fast", "a choice", "str", choices=("slow",))}

    @hookimpl
    def seqbench_register_learners(self, register):
        register(self.Twice)


def test_bad_defaults_of_a_directly_registered_plugin_are_warnings():
    registry = load_registry(extra_plugins=(_Direct(),))
    record = registry.plugin_of("learner", "twice")
    assert record.status == "loaded" and record.errors == [] and len(record.warnings) == 2
    assert registry.learner("twice") is _Direct.Twice
    from seqbench.plugins import plugin_warnings

    assert len([l for l in plugin_warnings(registry) if "'_Direct'" in l]) == 1


def test_every_builtin_declares_valid_defaults():
    registry = load_registry()
    assert not [w for r in registry.plugins for w in r.warnings]


# --- 3. the plugin switches name unknown plugins; errors stay short in the table -------------


def test_unknown_names_in_the_switches_give_one_line_with_the_valid_ones(monkeypatch):
    monkeypatch.setenv("SEQBENCH_PLUGINS", "reber,lstm97,nosuch,ghost")
    monkeypatch.setenv("SEQBENCH_BLOCK_PLUGINS", "lstm97x")
    from seqbench.plugins import plugin_warnings

    registry = load_registry()
    only, block = registry.warnings
    assert only.startswith("seqbench: $SEQBENCH_PLUGINS names unknown plugins 'ghost', 'nosuch'")
    assert "valid: adding, bptt" in only and "reber" in only and "\n" not in only
    assert "$SEQBENCH_BLOCK_PLUGINS names unknown plugin 'lstm97x'" in block
    assert plugin_warnings(registry)[:2] == [only, block]
    # lstm97's presets for tasks that are not loaded: one short message, not one per preset
    lstm = registry.plugin_of("learner", "lstm97")
    (error,) = lstm.errors
    assert "presets dropped" in error and "lag-2a" in error and len(error) < 200


def test_no_warning_when_the_switches_name_real_plugins(monkeypatch):
    monkeypatch.setenv("SEQBENCH_PLUGINS", "reber,lstm97")
    assert load_registry().warnings == []


def test_long_errors_are_shortened_in_the_table_and_whole_in_json():
    env = {"SEQBENCH_PLUGINS": "reber,lstm97,nosuch"}
    table = run_cli(["plugins"], env)
    assert table.returncode == 0
    assert len([l for l in table.stderr.splitlines() if "nosuch" in l]) == 1
    assert all(len(line) < 250 for line in table.stdout.splitlines())
    row = next(l for l in table.stdout.splitlines() if l.startswith("lstm97 "))
    assert row.rstrip().endswith("\u2026")
    whole = plugins_json(env)["lstm97"]["error"]
    assert whole.endswith(")") and len(whole) > 120


def test_third_party_plugins_are_skipped_by_the_registry_wide_tests():
    from test_conformance import third_party_reason

    registry = Registry()
    for name, source, dist in (("lstm97", "built-in", "seqbench"),
                               ("gru", "entry point", "seqbench-gru"),
                               ("other", "entry point", "someone-elses"),
                               ("direct", "direct", None)):
        registry.plugins.append(PluginRecord(name, name, dist, "1", source, learners=[name]))
        registry.owner[("learner", name)] = name
    assert third_party_reason(registry, "learner", "lstm97") is None
    assert third_party_reason(registry, "learner", "gru") is None
    assert third_party_reason(registry, "learner", "direct") is None
    assert "someone-elses" in third_party_reason(registry, "learner", "other")


# --- 4. the store: merging an older schema by column name; provenance -----------------------


def _store_with_only_the_first_migration(path):
    con = sqlite3.connect(path)
    name, sql = MIGRATIONS[0]
    con.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for statement in filter(str.strip, sql.split(";")):
        con.execute(statement)
    con.execute("INSERT INTO schema_migrations VALUES (?, 0)", (name,))
    con.execute("INSERT INTO runs (started_at, command) VALUES (0, 'old')")
    con.execute("INSERT INTO trials (key, run_id, config_key, task, learner, trial, seed, budget, "
                "spec, status, metrics, finished_at, n_weights) VALUES ('old-k', 1, 'c', 'reber', "
                "'lstm97', 0, 0, 1, '{}', 'solved', '{\"test_error\": 0.0}', 0, 17)")
    con.execute("INSERT INTO curves VALUES ('old-k', '[[1, 0.5, 0.25]]')")
    con.commit()
    con.close()


def test_a_store_of_an_older_schema_merges_by_column_name(tmp_path):
    old = tmp_path / "old.db"
    _store_with_only_the_first_migration(old)
    with Store(tmp_path / "new.db") as new:
        assert new.merge_from(old) == 1
        assert new.merge_from(old) == 0  # already there
        (trial,) = new.trials()
        assert trial["key"] == "old-k" and trial["n_weights"] == 17 and trial["run_id"] is None
        assert trial["diagnostics"] == {} and trial["metrics"] == {"test_error": 0.0}
        assert new.curve("old-k") == [(1, 0.5, 0.25)]
    # the old store was read, not migrated
    con = sqlite3.connect(old)
    assert [r[0] for r in con.execute("SELECT name FROM schema_migrations")] == [MIGRATIONS[0][0]]
    con.close()


def test_merging_an_open_store_matches_columns_by_name(tmp_path):
    old = tmp_path / "old.db"
    _store_with_only_the_first_migration(old)
    with Store(old) as migrated, Store(tmp_path / "new.db") as new:  # migrated: diagnostics last
        migrated.conn.execute("UPDATE trials SET diagnostics = '{\"x\": 1}'")
        migrated.conn.commit()
        assert new.merge_from(migrated) == 1
        assert new.trials()[0]["diagnostics"] == {"x": 1}


def test_merging_something_that_is_not_a_store_is_one_error(tmp_path):
    from seqbench.errors import StoreError

    junk = tmp_path / "junk.db"
    con = sqlite3.connect(junk)
    con.execute("CREATE TABLE other (x)")
    con.commit()
    con.close()
    with Store(tmp_path / "new.db") as new:
        with pytest.raises(StoreError, match="no seqbench trials table"):
            new.merge_from(junk)
        with pytest.raises(StoreError, match="does not exist"):
            new.merge_from(tmp_path / "missing.db")


def test_each_run_records_the_numerical_stack_and_the_cpu(tmp_path):
    with Store(tmp_path / "s.db") as store:
        run = store.start_run("test", {})
        machine = json.loads(store.conn.execute(
            "SELECT machine FROM runs WHERE id = ?", (run,)).fetchone()[0])
    versions = machine["versions"]
    assert set(versions) >= {"python", "numba", "llvmlite", "numpy", "scipy"}
    assert versions["numpy"] == np.__version__ and versions["python"] == machine["python"]
    assert machine["cpu_model"]
    assert machine["cpu_flags"] is None or isinstance(machine["cpu_flags"], list)
    try:
        with open("/proc/cpuinfo") as fh:
            has_flags = any(line.startswith(("flags", "Features")) for line in fh)
    except OSError:
        has_flags = False
    if has_flags:
        assert machine["cpu_flags"] and all(isinstance(f, str) for f in machine["cpu_flags"])
