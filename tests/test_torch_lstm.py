"""The optional torch-lstm learner (plugins/torch_lstm): the conformance kit, its gradient
against central finite differences, its SGD step, its weight count, learning, and the one-line
error when PyTorch is missing. Skipped as a whole where torch is not installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch-lstm needs PyTorch: pip install 'seqbench[torch]'")

from seqbench_learners.torch_lstm.learner import (  # noqa: E402
    INSTALL_HINT,
    TorchLSTM,
    n_lstm_weights,
)

from seqbench.blocks import SequenceBlock, final_step_outputs  # noqa: E402
from seqbench.contracts import TaskSpec  # noqa: E402
from seqbench.errors import SeqbenchError  # noqa: E402
from seqbench.params import resolve_params  # noqa: E402
from seqbench.testing import (  # noqa: E402
    RecallFirstBit,
    check_learner,
    recall_first_bit_block,
    squared_error,
    task_streams,
)


def _learner(spec: TaskSpec, seed: int = 0, **params) -> TorchLSTM:
    learner = TorchLSTM(**resolve_params(TorchLSTM.params, params, TorchLSTM.name))
    learner.build(spec, np.random.default_rng(seed))
    return learner


def _one_sequence(seed: int, m=3, K=2, T=7) -> SequenceBlock:
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=(1, T)) < 0.7
    mask[0, -1] = True
    return SequenceBlock(rng.normal(size=(1, T, m)), rng.uniform(size=(1, T, K)), mask,
                         np.array([T]))


def _bce(block: SequenceBlock, y: np.ndarray) -> float:
    d = block.targets
    e = -(d * np.log(y) + (1 - d) * np.log(1 - y))
    return float((e * block.target_mask[:, :, None]).sum())


def _finite_differences(loss, w, eps=1e-6):
    g = np.empty_like(w)
    for i in range(w.size):
        up, down = w.copy(), w.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (loss(up) - loss(down)) / (2 * eps)
    return g


def test_conformance_kit():
    outcome = check_learner(TorchLSTM)
    assert outcome["check_learner_gradient"] == "passed"


@pytest.mark.parametrize("loss", ["squared", "bce"])
def test_gradient_of_one_sequence_equals_central_finite_differences(loss):
    """Full BPTT: autograd's gradient of one 7-step sequence equals central differences of the
    loss of the frozen net, on every weight (float64)."""
    block = _one_sequence(3)
    learner = _learner(TaskSpec(3, 2), hidden=3, init_range=0.5, loss=loss)
    w = learner.get_weights()
    measure = _bce if loss == "bce" else squared_error

    def loss_at(v):
        learner.set_weights(v)
        return measure(block, learner.predict(block))

    numeric = _finite_differences(loss_at, w)
    learner.set_weights(w)
    analytic = learner.gradient(block)
    assert np.abs(numeric).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", ["squared", "bce"])
def test_training_takes_one_sgd_step_per_sequence(loss):
    """train on one sequence = forward outputs of the old weights, then w - lr * dE/dw."""
    block = _one_sequence(4)
    learner = _learner(TaskSpec(3, 2), hidden=3, init_range=0.5, loss=loss, learning_rate=0.7)
    w, before, grad = learner.get_weights(), learner.predict(block), learner.gradient(block)
    out = learner.train(block)
    np.testing.assert_allclose(out, before, rtol=0, atol=1e-13)
    np.testing.assert_allclose(learner.get_weights(), w - 0.7 * grad, rtol=0, atol=1e-13)


def test_momentum_is_torch_sgd_momentum():
    """Two sequences with momentum mu: v1 = g1, v2 = mu v1 + g2, w2 = w1 - lr v2."""
    a, b = _one_sequence(5), _one_sequence(6)
    learner = _learner(TaskSpec(3, 2), hidden=2, init_range=0.5, momentum=0.9,
                       learning_rate=0.3)
    w0, g1 = learner.get_weights(), learner.gradient(a)
    learner.train(a)
    g2 = learner.gradient(b)
    learner.train(b)
    np.testing.assert_allclose(learner.get_weights(), w0 - 0.3 * g1 - 0.3 * (0.9 * g1 + g2),
                               rtol=0, atol=1e-13)


@pytest.mark.parametrize("m,H,K", [(7, 4, 7), (3, 1, 1), (2, 5, 3)])
def test_weight_count(m, H, K):
    """W_ih 4H×m, W_hh 4H×H, b_ih and b_hh 4H, readout K×H + K: on Reber (7-4-7) 243."""
    learner = _learner(TaskSpec(m, K), hidden=H)
    assert learner.n_weights == n_lstm_weights(m, H, K) == learner.get_weights().size
    assert learner.n_weights == 4 * H * (m + H) + 8 * H + K * (H + 1)
    assert learner.n_weights == sum(p.numel() for p in learner.lstm.parameters()) + \
        sum(p.numel() for p in learner.readout.parameters())
    if (m, H, K) == (7, 4, 7):
        assert learner.n_weights == 243


def test_weights_are_uniform_in_init_range_and_from_the_rng():
    spec = TaskSpec(7, 7)
    a, b, c = _learner(spec, 1, init_range=0.2), _learner(spec, 1, init_range=0.2), \
        _learner(spec, 2, init_range=0.2)
    w = a.get_weights()
    assert np.abs(w).max() <= 0.2 and np.abs(w).max() > 0.15
    assert np.array_equal(w, b.get_weights()) and not np.array_equal(w, c.get_weights())


def test_float32_runs_in_float32_and_returns_float64():
    learner = _learner(TaskSpec(3, 2), dtype="float32")
    assert all(p.dtype == torch.float32 for p in learner.lstm.parameters())
    block = _one_sequence(7)
    assert learner.train(block).dtype == np.float64
    assert learner.predict(block).dtype == np.float64
    assert learner.get_weights().dtype == np.float64


def test_training_restores_the_thread_count():
    before = torch.get_num_threads()
    learner = _learner(TaskSpec(3, 2))
    learner.train(_one_sequence(8))
    assert torch.get_num_threads() == before


def test_learns_recall_first_bit_with_cross_entropy():
    """A tiny task: the kit's recall-a-bit toy, with the bce loss in float32 (the kit's own
    learning check covers the default squared error in float64)."""
    toy = RecallFirstBit(**resolve_params(RecallFirstBit.params, {}, RecallFirstBit.name))
    run = toy.start(task_streams(0))
    learner = _learner(toy.spec(), 0, hidden=4, learning_rate=0.5, init_range=0.5, loss="bce",
                       dtype="float32")
    held_out = recall_first_bit_block(np.random.default_rng(9), 300, 2)
    bits = final_step_outputs(held_out, held_out.targets)[:, 0]

    def mse():
        return float(np.mean((final_step_outputs(held_out, learner.predict(held_out))[:, 0]
                              - bits) ** 2))

    before = mse()
    for _ in range(3):
        learner.train(run.training_block(100))
    after = mse()
    assert after < 0.05 and after < before, (before, after)


# --- without torch ---------------------------------------------------------------------------


@pytest.fixture
def no_torch(monkeypatch):
    """``import torch`` fails as it does where PyTorch is not installed."""
    monkeypatch.setitem(sys.modules, "torch", None)


def test_building_without_torch_is_a_one_line_error(no_torch):
    learner = TorchLSTM(**resolve_params(TorchLSTM.params, {}, TorchLSTM.name))
    with pytest.raises(SeqbenchError) as info:
        learner.build(TaskSpec(7, 7), np.random.default_rng(0))
    message = str(info.value)
    assert message == INSTALL_HINT and "\n" not in message
    assert "pip install 'seqbench[torch]'" in message
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in message


def test_command_line_without_torch(no_torch, tmp_path, capsys):
    """`seqbench plugins` lists torch-lstm without torch; running it is one line, exit 2."""
    from seqbench.cli import main

    try:
        main(["plugins"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    listed = [line for line in capsys.readouterr().out.splitlines() if "torch-lstm" in line]
    assert listed and "loaded" in listed[0]
    with pytest.raises(SystemExit) as info:
        main(["run", "--task", "reber", "--learner", "torch-lstm", "--budget", "10", "-q",
              "--db", str(tmp_path / "t.db")])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2
    assert len(err.splitlines()) == 1 and err.startswith("seqbench: error:")
    assert "pip install 'seqbench[torch]'" in err
