"""The continual embedded Reber grammar (tasks/continual_reber.py) and the harness's continual
protocol (seqbench/continual.py, docs/protocol.md §12), on pure NumPy fake learners."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from seqbench.contracts import Learner, StepRule, TaskStreams
from seqbench.continual import first_wrong, run_stream, truncate
from seqbench.errors import ParamError
from seqbench.params import Param, resolve_params
from seqbench.progress import TrialProgress
from seqbench.plugins import Registry
from seqbench.runner import _batched, execute, plan
from seqbench.store import Store
from seqbench.trial import TrialSpec, checkpoint_path, run_trial, stream
from seqbench_tasks.continual_reber import (
    ContinualReber, _StreamSource, encode_strings, stream_blocks)
from seqbench_tasks.reber import SYMBOLS, _StringSource, _with_legal, is_embedded_reber

TIMINGS = ("wall_s", "compile_s", "train_s", "ns_per_step")


class Oracle(Learner):
    """Outputs exactly the legal next symbols (it reads the targets) except where told to err:
    in training at every ``train_err_every``-th step of a stream; in test stream j at its step
    ``test_err_at[j]`` (-1: none) until ``learned_after`` training streams have begun."""

    name = "oracle"
    summary = "reads the targets; errs where told"
    continual = True
    params = {
        "train_err_every": Param(0, "training: wrong at every k-th step of a stream (0: never)",
                                 "int"),
        "learned_after": Param(0, "test streams are perfect from this many training streams",
                               "int"),
        "test_err_at": Param((5,), "step of each test stream that is wrong until learned "
                             "(-1: none; streams beyond the tuple use its last)", "ints"),
        "nan_after": Param(-1, "weights non-finite once more training streams began", "int"),
        "raise_after": Param(-1, "raise in the training stream after this many", "int"),
    }
    #: (kind, stream number, test stream index, resets, stream symbols of the call) per call
    log: list = []

    def build(self, spec, rng):
        self.trained = 0  # training streams begun
        self.test_index = -1
        self.training = True
        self.pos = 0  # steps of the current stream so far

    @property
    def n_weights(self):
        return 1

    def is_finite(self):
        return not (0 <= self.params["nan_after"] < self.trained)

    def start_stream(self, training):
        self.training, self.pos = training, 0
        if training:
            self.trained += 1
            self.test_index = -1
            if 0 <= self.params["raise_after"] < self.trained:
                raise ValueError("learner exploded on purpose")
        else:
            self.test_index += 1

    def _wrong_steps(self) -> list[int]:
        """1-based positions in the current stream where this learner errs (up to far enough)."""
        p = self.params
        if self.training:
            k = p["train_err_every"]
            return list(range(k, self.pos + 10**7, k)) if k > 0 else []
        if self.trained >= p["learned_after"]:
            return []
        at = p["test_err_at"][min(self.test_index, len(p["test_err_at"]) - 1)]
        return [at] if at > 0 else []

    def _steps(self, block, rule, resets):
        valid = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
        rows, cols = np.nonzero(valid)  # stream order
        outputs = block.targets.copy()
        for p in self._wrong_steps():
            f = p - self.pos - 1
            if 0 <= f < len(rows):
                outputs[rows[f], cols[f]] = 1.0 - outputs[rows[f], cols[f]]
            elif f >= len(rows):
                break
        steps, wrong = first_wrong(block, outputs, rule)
        Oracle.log.append(("train" if self.training else "test", self.trained, self.test_index,
                           resets, block.input_symbols[rows, cols][:steps].copy()))
        self.pos += steps
        return steps, wrong

    def train_steps(self, block, rule, resets):
        assert self.training
        return self._steps(block, rule, resets)

    def test_steps(self, block, rule, resets):
        assert not self.training
        return self._steps(block, rule, resets)


class LaneOracle(Oracle):
    """An oracle that would like to train 4 trials at once."""

    name = "lane-oracle"
    batch_lanes = 4


class Stubborn(Learner):
    """A stream learner without the continual methods."""

    name = "stubborn"
    summary = "no continual support"

    def build(self, spec, rng):
        pass

    @property
    def n_weights(self):
        return 1


class Liar(Oracle):
    """Says it consumed more steps than the block has."""

    name = "liar"

    def train_steps(self, block, rule, resets):
        return block.n_steps + 1, False


@pytest.fixture(scope="module")
def registry():
    reg = Registry()
    reg.tasks[ContinualReber.name] = ContinualReber
    for cls in (Oracle, LaneOracle, Stubborn, Liar):
        reg.learners[cls.name] = cls
    return reg


SMALL = {"training_cap": 400, "test_cap": 300, "test_streams": 3, "chunk_strings": 32,
         "good_length": 200}


def _spec(learner="oracle", budget=20, trial=0, task=None, **lp):
    task_params = resolve_params(ContinualReber.params, {**SMALL, **(task or {})}, "task")
    return TrialSpec("continual-reber", learner, task_params,
                     resolve_params(Oracle.params, lp, "oracle") if learner != "stubborn"
                     else {}, seed=5, trial=trial, budget=budget)


def _run(seed=0, trial=0, **params):
    task = ContinualReber(**resolve_params(ContinualReber.params, params, "task"))
    return task.start(TaskStreams(stream(seed, "data", trial), stream(seed, "order", trial),
                                  stream(seed, "test", trial)))


def _strings(block) -> list[str]:
    return ["".join(SYMBOLS[i] for i in block.input_symbols[r, :block.lengths[r]])
            for r in range(len(block))]


def _outcome(result) -> dict:
    out = result.as_dict()
    for k in TIMINGS:
        out.pop(k)
    return out


# -- the grammar -------------------------------------------------------------------------------


def test_the_stream_is_grammatical_across_string_boundaries():
    run = _run()
    blocks = stream_blocks(np.random.default_rng(1), 32)
    seen = []
    for expected_rows in (8, 16, 32, 32):
        block = next(blocks)
        assert len(block) == expected_rows  # the first blocks are small, then chunk_strings
        strings = _strings(block)
        assert all(is_embedded_reber(s) for s in strings)  # each row starts at B, ends at E
        valid = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
        assert (block.target_mask == valid).all()
        assert (block.inputs.argmax(axis=2)[valid] == block.input_symbols[valid]).all()
        assert (block.inputs.sum(axis=2) == valid).all()
        for row, s in enumerate(strings):
            _, sets = _with_legal(s)
            sets = [*sets[:-1], frozenset("B")]  # the final E is followed by the next B
            want = np.array([[sym in legal for sym in SYMBOLS] for legal in sets], float)
            np.testing.assert_array_equal(block.targets[row, :len(s)], want)
            assert not block.targets[row, len(s):].any()
        seen += strings
    stream_text = "".join(seen)
    assert stream_text.startswith("B") and "EB" in stream_text and stream_text.endswith("E")
    assert run.rule == StepRule(0.49, False) and not run.resets


def test_the_strings_are_tasks_reber_string_source_s():
    ours, theirs = _StreamSource(np.random.default_rng(7)), _StringSource(np.random.default_rng(7))
    parts = [ours.take(n) for n in (1, 700, 5, 1300)]
    index = np.concatenate([p[0] for p in parts])
    lengths = np.concatenate([p[1] for p in parts])
    strings = [theirs.next() for _ in range(2006)]
    assert "".join(SYMBOLS[i] for i in index) == "".join(strings)
    assert lengths.tolist() == [len(s) for s in strings]
    block = encode_strings(strings[:50])
    assert _strings(block) == strings[:50]


def test_streams_are_seeded_and_test_streams_independent_of_training():
    a, b = _run(seed=0), _run(seed=0)
    first = next(a.training_stream(0))
    assert _strings(first) == _strings(next(b.training_stream(0)))
    assert _strings(first) != _strings(next(a.training_stream(1)))
    assert _strings(first) != _strings(next(_run(seed=1).training_stream(0)))
    # consume training streams of one run heavily: its test streams stay the same
    for i in range(6):
        it = a.training_stream(i)
        for _ in range(i + 1):
            next(it)
    a.training_block(40)
    for round_, index in ((0, 0), (3, 2)):
        left, right = a.test_stream(round_, index), b.test_stream(round_, index)
        for _ in range(3):
            assert _strings(next(left)) == _strings(next(right))
    assert _strings(next(a.test_stream(3, 2))) != _strings(next(a.test_stream(4, 2)))
    assert _strings(next(a.test_stream(0, 0))) != _strings(first)


def test_the_test_streams_a_learner_meets_do_not_depend_on_its_training(registry):
    met = []
    for every in (3, 9):
        Oracle.log.clear()
        run_trial(_spec(budget=2, train_err_every=every, learned_after=99, test_err_at=(60,)),
                  registry)
        met.append({(n, j): s for kind, n, j, _, s in Oracle.log if kind == "test"})
        assert sum(len(s) for kind, *_, s in Oracle.log if kind == "train") == 2 * every
    assert met[0].keys() == met[1].keys() == {(1, 0), (2, 0), (2, 1), (2, 2)}
    for key in met[0]:
        np.testing.assert_array_equal(met[0][key], met[1][key])


def test_truncate_cuts_the_stream_at_a_step():
    block = encode_strings(["BTBTXSETE", "BPBPVVEPE", "BTBTSXSETE"])
    cut = truncate(block, 12)
    assert cut.lengths.tolist() == [9, 3] and cut.n_steps == 12
    assert not cut.target_mask[1, 3:].any()
    assert truncate(block, 9).lengths.tolist() == [9]
    assert truncate(block, block.n_steps).n_steps == block.n_steps


# -- the trial loop ----------------------------------------------------------------------------


def test_a_training_stream_ends_at_its_first_wrong_step_and_success_is_exact(registry):
    Oracle.log.clear()
    result = run_trial(_spec(train_err_every=7, learned_after=3), registry)
    assert result.status == "solved" and result.sequences_to_success == 3
    assert result.sequences == 3 and result.time_steps == 3 * 7
    assert result.curve == [(1, 1 / 7, 6 / 7), (2, 1 / 7, 6 / 7), (3, 1 / 7, 6 / 7)]
    assert result.check_every == 1 and "perfect: 3 test streams of 300" in result.stop_reason
    assert result.metrics["perfect"] == 1.0 and result.metrics["mean_test_length"] == 300
    assert result.metrics["test_error"] == 0.0 and result.metrics["training_streams"] == 3
    trained = [sum(len(s) for kind, n, _, _, s in Oracle.log if kind == "train" and n == k)
               for k in (1, 2, 3)]
    assert trained == [7, 7, 7]
    # rounds 1 and 2 stop at their first test stream (wrong at step 5); round 3 runs all three
    tests = [(n, j) for kind, n, j, _, _ in Oracle.log if kind == "test"]
    assert sorted(set(tests)) == [(1, 0), (2, 0), (3, 0), (3, 1), (3, 2)]
    assert {resets for *_, resets, _ in Oracle.log} == {False}


def test_the_caps_end_streams_and_the_budget_counts_training_streams(registry):
    Oracle.log.clear()
    result = run_trial(_spec(budget=4, learned_after=99, test_err_at=(-1, 120)), registry)
    assert result.status == "budget_exhausted" and result.sequences == 4
    assert result.sequences_to_success is None and result.stop_reason == "budget"
    assert result.time_steps == 4 * 400  # never wrong: each training stream ends at the cap
    assert result.curve[-1] == (4, 0.0, 1.0)
    per_stream = {}
    for kind, n, j, _, symbols in Oracle.log:
        per_stream[(kind, n, j)] = per_stream.get((kind, n, j), 0) + len(symbols)
    assert all(per_stream[("train", k, -1)] == 400 for k in (1, 2, 3, 4))
    # test stream 0 reaches its cap, stream 1 errs at its step 120, stream 2 (as 1) too
    assert per_stream[("test", 4, 0)] == 300 and per_stream[("test", 4, 1)] == 120
    m = result.metrics
    assert m["mean_test_length"] == pytest.approx((300 + 119 + 119) / 3)
    assert (m["perfect"], m["good"], m["rest"]) == (0.0, 0.0, 1.0)
    assert m["test_streams_perfect"] == 1 and m["test_error"] == pytest.approx(2 / 540)


def test_good_perfect_and_rest_follow_the_mean_test_length(registry):
    good = run_trial(_spec(budget=2, learned_after=99, test_err_at=(260,)), registry)
    assert good.metrics["mean_test_length"] == 259
    assert (good.metrics["perfect"], good.metrics["good"], good.metrics["rest"]) == (0, 1, 0)
    rest = run_trial(_spec(budget=2, learned_after=99, test_err_at=(150,)), registry)
    assert (rest.metrics["perfect"], rest.metrics["good"], rest.metrics["rest"]) == (0, 0, 1)
    first = run_trial(_spec(budget=2, learned_after=99, test_err_at=(1,)), registry)
    assert first.metrics["mean_test_length"] == 0 and first.metrics["test_error"] == 1.0


def test_resets_and_the_squared_rule_reach_the_learner(registry):
    Oracle.log.clear()
    result = run_trial(_spec(task={"resets": True, "error": "squared", "tolerance": 0.2}),
                       registry)
    assert result.status == "solved" and result.sequences_to_success == 1
    assert {resets for *_, resets, _ in Oracle.log} == {True}
    run = _run(error="squared", tolerance=0.2)
    targets = np.array([[1.0, 0.0]])
    assert run.rule.wrong(targets, np.array([[0.5, 0.0]]), np.array([True]))[0]  # 0.25
    assert not run.rule.wrong(targets, np.array([[0.6, 0.0]]), np.array([True]))[0]  # 0.16
    assert _run(tolerance=0.2).rule.wrong(targets, np.array([[0.6, 0.0]]), np.array([True]))[0]


def test_divergence_errors_and_dishonest_learners_are_recorded(registry):
    diverged = run_trial(_spec(nan_after=2, learned_after=99), registry)
    assert diverged.status == "diverged" and diverged.sequences == 3
    assert diverged.metrics == {}
    failed = run_trial(_spec(raise_after=1, learned_after=99), registry)
    assert failed.status == "error" and "exploded on purpose" in failed.error
    liar = run_trial(_spec("liar"), registry)
    assert liar.status == "error" and "steps consumed" in liar.error


def test_the_wall_clock_limit_still_runs_the_final_test(registry):
    result = run_trial(_spec(learned_after=99), registry, timeout=1e-9)
    assert result.status == "timeout" and result.sequences == 0
    assert result.metrics["training_streams"] == 0 and result.metrics["rest"] == 1.0


def test_a_resumed_trial_equals_an_uninterrupted_one(tmp_path, registry, monkeypatch):
    spec = _spec(budget=6, train_err_every=11, learned_after=5, test_err_at=(-1, 40, 70))
    whole = run_trial(spec, registry)
    assert whole.status == "solved" and whole.sequences_to_success == 5
    update = TrialProgress.update
    calls = [0]

    def interrupting(self, sequences, force=False):
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt
        return update(self, sequences, force)

    with monkeypatch.context() as m:
        m.setattr(TrialProgress, "update", interrupting)
        with pytest.raises(KeyboardInterrupt):
            run_trial(spec, registry, checkpoint_dir=tmp_path, checkpoint_every=1e-9)
    assert checkpoint_path(tmp_path, spec.key).exists()
    notes: list[str] = []
    resumed = run_trial(spec, registry, checkpoint_dir=tmp_path, checkpoint_every=1e-9,
                        notes=notes)
    assert notes == [] and _outcome(resumed) == _outcome(whole)


def test_a_learner_without_continual_support_is_refused_before_any_trial(registry, tmp_path):
    with pytest.raises(ParamError) as why:
        plan(registry, "continual-reber", [("oracle", None), ("stubborn", None)])
    message = str(why.value)
    assert "\n" not in message and "stubborn" in message and "continual" in message
    assert message.endswith("learners that can: lane-oracle, liar, oracle")
    # run directly, the trial ends in an error that says the same
    result = run_trial(_spec("stubborn"), registry)
    assert result.status == "error" and "learners that can: lane-oracle" in result.error


def test_continual_trials_never_run_as_lanes(registry):
    (config,) = plan(registry, "continual-reber", [("lane-oracle", None)], trials=4,
                     task_params={k: str(v) for k, v in SMALL.items()})
    lone, batched = _batched(config.specs(), registry)
    assert len(lone) == 4 and batched == []


def test_the_runner_stores_continual_trials(tmp_path, registry):
    (config,) = plan(registry, "continual-reber", [("oracle", None)], trials=2, budget=10,
                     task_params={k: str(v) for k, v in SMALL.items()},
                     learner_params={"learned_after": "2"})
    assert config.budget == 10 and config.trials == 2
    seen = []
    with Store(tmp_path / "c.db") as store:
        out = execute(config.specs(), store, registry=registry,
                      on_result=lambda spec, row, i, n: seen.append(row["status"]))
    assert out.ran == 2 and seen == ["solved", "solved"]
    with sqlite3.connect(tmp_path / "c.db") as db:
        rows = db.execute("SELECT status, sequences, sequences_to_success FROM trials").fetchall()
    assert sorted(rows) == [("solved", 2, 2), ("solved", 2, 2)]
    assert {r["metrics"]["perfect"] for r in out.results.values()} == {1.0}
    defaults = plan(registry, "continual-reber", [("oracle", None)])[0]
    assert (defaults.budget, defaults.trials) == (30_000, 100)


def test_the_conformance_kit_accepts_the_task():
    from seqbench.testing import check_task

    outcome = check_task(ContinualReber)
    assert set(outcome.values()) == {"passed"}


def test_run_stream_stops_at_the_cap_and_at_a_wrong_step():
    rule = StepRule(0.49)
    blocks = stream_blocks(np.random.default_rng(2), 16)
    outcome, healthy = run_stream(lambda b: (b.n_steps, False), blocks, 100)
    assert healthy and outcome == (100, 100, False)
    calls = []

    def wrong_at_30(block):
        calls.append(block.n_steps)
        out = block.targets.copy()
        valid = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
        rows, cols = np.nonzero(valid)
        done = sum(calls[:-1])
        if done <= 29 < done + len(rows):
            out[rows[29 - done], cols[29 - done]] += 0.5
        return first_wrong(block, out, rule)

    outcome, _ = run_stream(wrong_at_30, stream_blocks(np.random.default_rng(2), 16), 10_000)
    assert outcome == (29, 30, True)


def test_the_report_counts_training_streams_for_a_continual_task(tmp_path, registry,
                                                                 monkeypatch):
    from seqbench import plots
    from seqbench.html_report import build_report
    from seqbench.units import BLOCK_UNITS, CONTINUAL_UNITS, units_for

    assert units_for("continual-reber") is CONTINUAL_UNITS
    assert units_for("reber") is BLOCK_UNITS and units_for("no-such-task") is BLOCK_UNITS
    (config,) = plan(registry, "continual-reber", [("oracle", None)], trials=2, budget=10,
                     task_params={k: str(v) for k, v in SMALL.items()},
                     learner_params={"learned_after": "2"})
    with Store(tmp_path / "c.db") as store:
        execute(config.specs(), store, registry=registry)
    labels = []
    real_png = plots._png

    def keep_labels(fig):
        labels.extend(label for ax in fig.axes for label in (ax.get_xlabel(), ax.get_ylabel()))
        return real_png(fig)

    monkeypatch.setattr(plots, "_png", keep_labels)
    report = build_report(tmp_path / "c.db", tmp_path / "out")
    page = report.index.read_text(encoding="utf-8")
    assert "unit of work is the training stream" in page
    assert CONTINUAL_UNITS.count in labels and CONTINUAL_UNITS.to_success in labels
    assert CONTINUAL_UNITS.length + " (log scale)" in labels
    assert not any("sequences" in label for label in labels)
    # the stored error rates read back as stream lengths: 1/steps -> steps - 1, 0 -> the cap
    config = plots.ConfigData(label="x", row={"task_params": {"training_cap": 500}}, trials=[])
    lengths = plots._stream_lengths(config)(np.array([0.25, 1.0, 0.0]))
    assert lengths.tolist() == [3.0, 0.0, 500.0]


def test_the_per_trial_line_counts_training_streams(tmp_path):
    from helpers import run_cli

    out = run_cli(["compare", "--task", "continual-reber", "--learners",
                   "lstm@gers2000-std-resets", "--trials", "1", "--budget", "2",
                   "-t", "test_cap=500", "-t", "training_cap=500", "--db", str(tmp_path / "u.db")])
    assert out.returncode == 0, out.stderr
    assert "trial 0: budget_exhausted after 2 training streams" in out.stderr
    header, row = out.stdout.splitlines()[0], out.stdout.splitlines()[2]
    at = header.index("good/rest")
    assert row[at:].split()[0] in ("1/0", "0/1") and "timed out" not in header
