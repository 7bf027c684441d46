"""The embedded Reber task: grammar, sets, encoding and the success test."""

import hashlib
import pickle
from functools import partial

import numpy as np
import pytest

from seqbench.contracts import TaskStreams
from seqbench.errors import ParamError
from seqbench.plugins import get_registry
from seqbench.runner import plan
from seqbench_tasks.reber import (
    INDEX, SYMBOLS, EmbeddedReber, draw_sets, embedded_reber_string, encode, is_embedded_reber,
    predictions_correct, threshold_steps,
)


def _task(**over):
    params = {k: p.default for k, p in EmbeddedReber.params.items()}
    params.update(over)
    return EmbeddedReber(**params)


def _streams(seed):
    rngs = [np.random.default_rng(seed + i) for i in range(3)]
    return TaskStreams(*rngs)


def test_strings_are_grammatical_and_legal_sets_contain_the_next_symbol():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        s, legal = embedded_reber_string(rng)
        assert is_embedded_reber(s), s
        assert len(s) >= 9
        assert all(s[t + 1] in legal[t] for t in range(len(s) - 1))
        assert legal[-1] is None
        assert legal[-3] == frozenset(s[1])  # after the inner E only the remembered symbol


def test_grammar_checker_rejects_non_sentences():
    for bad in ["BTBTXSETE"[:-1], "BTBTXSETP", "BPBTXSETE", "BTBTXXETE", "BTBTXSSETE"]:
        assert not is_embedded_reber(bad)
    assert is_embedded_reber("BTBTXSETE") and is_embedded_reber("BPBPVVEPE")


def test_branches_are_fair_coins():
    """Every choice point of the grammar takes each edge with probability ~0.5 (4 sigma)."""
    rng = np.random.default_rng(1)
    counts: dict[str, list[int]] = {}
    for _ in range(4000):
        s, legal = embedded_reber_string(rng)
        for t in range(len(s) - 1):
            if legal[t] is not None and len(legal[t]) == 2:
                a, b = sorted(legal[t])
                counts.setdefault(a + b, [0, 0])[s[t + 1] == b] += 1
    assert set(counts) >= {"PT", "SX", "TV", "PV"}
    for pair, (n_a, n_b) in counts.items():
        n = n_a + n_b
        assert abs(n_a / n - 0.5) < 4 * 0.5 / np.sqrt(n), (pair, n_a, n_b)


@pytest.mark.parametrize("distinct", [False, True])
def test_test_strings_never_occur_in_the_training_set(distinct):
    train, test = draw_sets(np.random.default_rng(2), 256, 256, distinct)
    assert len(train) == len(test) == 256
    train_strings = {s for s, _ in train}
    assert not train_strings & {s for s, _ in test}
    if distinct:
        assert len(train_strings) == 256 and len({s for s, _ in test}) == 256
    else:
        assert len(train_strings) < 256  # sampling repeats the commonest short strings


def test_encoding_inputs_targets_and_legal_masks():
    strings = [embedded_reber_string(np.random.default_rng(i)) for i in range(5)]
    for coding in ("next", "legal"):
        block = encode(strings, coding)
        for i, (s, legal) in enumerate(strings):
            assert block.lengths[i] == len(s) - 1
            for t in range(len(s) - 1):
                assert block.inputs[i, t].argmax() == INDEX[s[t]]
                assert {SYMBOLS[k] for k in np.flatnonzero(block.extras["legal"][i, t])} == legal[t]
                if coding == "next":
                    assert block.targets[i, t].sum() == 1 and block.targets[i, t, INDEX[s[t + 1]]]
                else:
                    np.testing.assert_array_equal(block.targets[i, t], block.extras["legal"][i, t])


def test_success_test_wants_exactly_the_legal_symbols_most_active():
    strings = [embedded_reber_string(np.random.default_rng(i)) for i in range(4)]
    block = encode(strings, "next")
    perfect = block.extras["legal"] * 0.9 + 0.05
    ok, _ = predictions_correct(block, perfect)
    assert ok.all()
    spoiled = perfect.copy()
    i, t = 2, int(block.lengths[2]) - 2  # the long-lag prediction of string 2
    spoiled[i, t] = 0.5
    spoiled[i, t, INDEX["T" if strings[i][0][1] == "P" else "P"]] = 0.95
    ok, step_ok = predictions_correct(block, spoiled)
    assert list(ok) == [True, True, False, True]
    assert not step_ok[i, t] and step_ok[i, :t].all()
    # padding after a sequence's end is never judged
    garbage = perfect.copy()
    garbage[0, block.lengths[0]:] = np.nan
    assert predictions_correct(block, garbage)[0].all()


def test_same_seed_same_sets_and_trials_share_datasets():
    task = _task()
    a, b, c = (task.start(_streams(s)) for s in (10, 10, 11))
    np.testing.assert_array_equal(a.train_set.inputs, b.train_set.inputs)
    assert a.train_set.inputs.shape != c.train_set.inputs.shape or not np.array_equal(
        a.train_set.inputs, c.train_set.inputs)
    assert [task.dataset_index(i) for i in (0, 9, 10, 29)] == [0, 0, 1, 2]


def test_training_blocks_draw_from_the_training_set():
    run = _task(n_train=8, n_test=8).start(_streams(3))
    block = run.training_block(50)
    rows = {r.tobytes() for r in run.train_set.inputs.reshape(8, -1)}
    width = run.train_set.inputs.shape[1]
    padded = np.zeros((50, width, 7))
    padded[:, : block.inputs.shape[1]] = block.inputs
    assert all(r.tobytes() in rows for r in padded.reshape(50, -1))


def _draw_sets_one_string_at_a_time(rng, n_train, n_test, distinct):
    """The sets as drawn string by string with the readable generator (one coin per call)."""
    train, seen = [], set()
    while len(train) < n_train:
        s, legal = embedded_reber_string(rng)
        if distinct and s in seen:
            continue
        seen.add(s)
        train.append((s, legal))
    test, test_seen = [], set()
    while len(test) < n_test:
        s, legal = embedded_reber_string(rng)
        if s in seen or (distinct and s in test_seen):
            continue
        test_seen.add(s)
        test.append((s, legal))
    return train, test


@pytest.mark.parametrize("distinct", [False, True])
def test_bulk_coins_give_the_strings_of_one_coin_at_a_time(distinct):
    """draw_sets walks the graph in numba on coins drawn in bulk; it must give exactly the
    strings and legal sets of the string-by-string generator, from the same seeds."""
    for seed in range(12):
        expected = _draw_sets_one_string_at_a_time(np.random.default_rng(seed), 256, 256,
                                                   distinct)
        assert draw_sets(np.random.default_rng(seed), 256, 256, distinct) == expected, seed


# --- the later simulator's conventions: order=epochs, success=threshold ---------------------


def test_random_order_draws_the_blocks_it_drew_before_the_option_existed():
    """order=random (default) gives, block for block, what the task gave before ``order`` and
    ``success`` existed (digests recorded at that commit, seed 7)."""
    run = _task().start(_streams(7))
    digests = [hashlib.sha256(np.ascontiguousarray(run.training_block(n).input_symbols)
                              .tobytes()).hexdigest()[:12] for n in (100, 37, 250)]
    assert digests == ["554be74246c8", "9d3ff50cd3ca", "42174e5bbc6c"]


def _rows(block) -> list[bytes]:
    """Each sequence's input symbols, padding cut off (blocks are as wide as their longest)."""
    return [block.input_symbols[i, :n].tobytes() for i, n in enumerate(block.lengths)]


def test_epochs_order_walks_the_training_set_in_order_across_blocks_and_wraps():
    run = _task(order="epochs").start(_streams(3))
    strings = _rows(run.train_set)
    assert _rows(run.training_block(200)) == strings[:200]
    # a block of 100 starting at string 200 takes 200..255 then 0..43
    assert _rows(run.training_block(100)) == strings[200:] + strings[:44]
    again = pickle.loads(pickle.dumps(run))  # a checkpoint keeps the position
    assert _rows(again.training_block(600)) == (strings[44:] + strings * 2)[:600]
    assert _rows(run.training_block(3)) == strings[44:47]
    order_state = run.order.bit_generator.state
    run.training_block(10)
    assert run.order.bit_generator.state == order_state  # the order stream is not drawn from


def _winner_but_not_threshold(block):
    """The legal next symbols the most active (0.4), but 0.6 away from their target of 1."""
    return block.extras["legal"] * 0.3 + 0.1


def test_threshold_rule_differs_from_the_winner_rule_both_ways():
    strings = [embedded_reber_string(np.random.default_rng(i)) for i in range(3)]
    rule = partial(threshold_steps, threshold=0.49)
    legal = encode(strings, "legal")
    outputs = _winner_but_not_threshold(legal)
    assert predictions_correct(legal, outputs)[0].all()
    ok, step_ok = predictions_correct(legal, outputs, rule)
    assert not ok.any() and not step_ok[0, : legal.lengths[0]].any()
    # one-hot next-symbol targets: both rules accept the symbol that came at 0.85, the other
    # legal one at 0.35, the rest at 0.05; at the first fork (after B) of string 0 an illegal
    # symbol at 0.4 beats the other legal one, yet every output is within 0.49 of its target
    nxt = encode(strings, "next")
    outputs = nxt.targets * 0.5 + nxt.extras["legal"] * 0.3 + 0.05
    assert predictions_correct(nxt, outputs)[0].all()
    assert predictions_correct(nxt, outputs, rule)[0].all()
    other = INDEX["P" if strings[0][0][1] == "T" else "T"]
    outputs[0, 0, INDEX["S"]] = 0.4
    winner_ok, winner_steps_ok = predictions_correct(nxt, outputs)
    assert list(winner_ok) == [False, True, True] and not winner_steps_ok[0, 0]
    threshold_ok, _ = predictions_correct(nxt, outputs, rule)
    assert threshold_ok.all()
    # the bound is exclusive, and padding is never judged
    outputs[0, 0, other] = 0.49
    assert list(predictions_correct(nxt, outputs, rule)[0]) == [False, True, True]
    outputs[0, nxt.lengths[0]:] = np.nan
    assert predictions_correct(nxt, outputs, rule)[1][0, nxt.lengths[0]:].all()


@pytest.mark.parametrize("success, correct", [("winner", True), ("threshold", False)])
def test_the_success_rule_judges_the_curve_the_success_test_and_the_final_test(success,
                                                                               correct):
    run = _task(n_train=16, n_test=16, target_coding="legal", success=success).start(_streams(5))
    block = run.training_block(20)
    ok, error = run.judge(block, _winner_but_not_threshold(block))
    assert (ok == correct).all() and error.shape == (20,)
    assert run.criterion.test(_winner_but_not_threshold) is correct
    metrics = run.evaluate(_winner_but_not_threshold)
    for name in ("train", "test"):
        assert metrics[f"{name}_strings_correct"] == float(correct)
        assert metrics[f"{name}_symbol_error"] == float(not correct)
    assert metrics["test_error"] == float(not correct)
    # outputs near the targets pass under either rule
    assert run.criterion.test(lambda b: b.targets * 0.9 + 0.05) is True


def _reber_keys(learner="elman", **task_params):
    (config,) = plan(get_registry(), "reber", [(learner, None)], trials=2, budget=1000,
                     task_params={k: str(v) for k, v in task_params.items()})
    return [spec.key for spec in config.specs()]


def test_the_new_parameters_at_their_defaults_keep_the_resume_keys():
    """A default reber trial keeps the key it had before order, success and threshold existed
    (the keys below were computed at that commit), spelled-out defaults included; another
    value is another trial."""
    before = ["cdff2babd938415e811dc03ba3e23660d1773100c9f727e488de0c051d3f268e",
              "d24df08e958a0804ac201057d49315805e500e0381dfb580b7c8138c09c389fd"]
    assert _reber_keys() == before
    assert _reber_keys(order="random", success="winner", threshold=0.49) == before
    for changed in ({"order": "epochs"}, {"success": "threshold", "target_coding": "legal"},
                    {"threshold": 0.3}):
        assert set(_reber_keys(**changed)).isdisjoint(before), changed


def test_a_threshold_rule_that_can_never_hold_is_refused_before_any_trial():
    with pytest.raises(ParamError) as why:
        _reber_keys(success="threshold")
    message = str(why.value)
    assert "\n" not in message and "target_coding=legal" in message
    assert "target_coding=next" in message
    assert len(_reber_keys(success="threshold", target_coding="legal")) == 2
