"""The torch-lstm learner: a standard PyTorch LSTM trained as users usually write it.

Network: ``torch.nn.LSTM`` (one layer, forget gate, PyTorch's gate order i, f, g, o; both bias
vectors ``b_ih`` and ``b_hh``), then ``nn.Linear`` and a logistic output per target unit:

    i, f, g, o = σ(W_i x + U_i h + b), σ(...), tanh(...), σ(...)   (b = b_ih + b_hh)
    c(t) = f c(t−1) + i g,   h(t) = o tanh(c(t)),   y(t) = σ(W_y h(t) + b_y)

Learning: at every sequence the state is reset to zero (the paper's protocol), the whole sequence
runs forward, the error of the steps with a target (½Σ(target − y)², or binary cross-entropy
with ``loss=bce``) is back-propagated through the whole sequence (full BPTT, autograd), and
``torch.optim.SGD`` takes one step (optional momentum). The outputs a sequence returns are those
of the forward pass, before its own weight change: causal, as the contract asks.

Weights: every trainable parameter (including both LSTM bias vectors) starts uniform in
[−init_range, init_range], drawn from the trial's ``rng`` (LSTM97's convention), so trials are
reproducible and paired like every other learner's. ``n_weights`` counts the trainable
parameters: 4H(m + H) + 8H + K(H + 1) for m inputs, H hidden units, K outputs; 243 on the Reber
grammar (7 inputs, 7 outputs) at the default H = 4, beside LSTM97's 276 at Exp. 1's preset.

CPU only; float64 unless ``dtype=float32``; torch runs with one intra-op thread while training
and predicting (restored afterwards), so it is comparable to seqbench's single-core kernels.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, TaskSpec
from seqbench.params import Param

#: the one line shown when torch is missing
INSTALL_HINT = ("torch-lstm needs PyTorch, which is not installed: pip install 'seqbench[torch]' "
                "(a CPU-only wheel: add --extra-index-url https://download.pytorch.org/whl/cpu)")


def import_torch():
    """torch, or a one-line :class:`SeqbenchError` saying how to install it (its subclass
    ``TorchMissingError``, which the conformance kit also takes as a reason to skip)."""
    try:
        import torch
    except ImportError:
        from ._missing import TorchMissingError

        raise TorchMissingError(INSTALL_HINT) from None
    return torch


def n_lstm_weights(n_inputs: int, hidden: int, n_outputs: int) -> int:
    """Trainable parameters of nn.LSTM(n_inputs, hidden) + nn.Linear(hidden, n_outputs):
    W_ih (4H×m), W_hh (4H×H), b_ih and b_hh (4H each), W_y (K×H), b_y (K)."""
    return 4 * hidden * (n_inputs + hidden) + 8 * hidden + n_outputs * (hidden + 1)


@contextmanager
def single_thread(torch):
    """torch with one intra-op thread inside the block; the previous count afterwards."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


class TorchLSTM(Learner):
    """A standard PyTorch LSTM (nn.LSTM + nn.Linear + logistic outputs), full BPTT per sequence,
    one plain SGD step per sequence."""

    name = "torch-lstm"
    #: optional packages this learner needs (the ``[torch]`` extra)
    requires = ("torch",)
    summary = "PyTorch nn.LSTM (forget gate), full BPTT, one SGD step per sequence (needs torch)"
    params = {
        "hidden": Param(4, "LSTM hidden units H (4 on Reber: 243 weights, near LSTM97's 276)",
                        "int", low=1, high=100_000),
        "learning_rate": Param(0.5, "SGD learning rate", "float", low=0.0, high=1e6),
        "momentum": Param(0.0, "SGD momentum (torch.optim.SGD's)", "float", low=0.0, high=1.0),
        "init_range": Param(0.1, "every weight and bias starts uniform in [-r, r] (LSTM97's "
                            "convention)", "float", low=0.0, high=1e3),
        "loss": Param("squared", "squared: ½Σ(target − y)² as the other learners; bce: binary "
                      "cross-entropy of the logistic outputs", "str",
                      choices=("squared", "bce")),
        "dtype": Param("float64", "floating-point type of weights and arithmetic", "str",
                       choices=("float64", "float32")),
    }

    #: full backpropagation through time: the gradient is exact on sequences of any length
    gradient_truncated = False
    #: small, fast parameters for the conformance kit (seqbench.testing)
    test_params = {"hidden": 4, "learning_rate": 1.0, "init_range": 0.5}

    # --- building --------------------------------------------------------------------------

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        torch = import_torch()
        p = self.params
        self._dtype = getattr(torch, p["dtype"])
        nn = torch.nn
        # made on the meta device, then given uninitialised CPU memory: torch's own initialisation
        # (a draw from its global generator) never runs; every weight comes from rng below
        self.lstm = nn.LSTM(spec.n_inputs, p["hidden"], batch_first=True, dtype=self._dtype,
                            device="meta").to_empty(device="cpu")
        self.readout = nn.Linear(p["hidden"], spec.n_outputs, dtype=self._dtype,
                                 device="meta").to_empty(device="cpu")
        r = float(p["init_range"])
        self.set_weights(rng.uniform(-r, r, self.n_weights))
        self.optimizer = torch.optim.SGD(self._parameters(), lr=float(p["learning_rate"]),
                                         momentum=float(p["momentum"]))

    def _parameters(self) -> list:
        """Trainable parameters in the order of the flat weight vector."""
        return [*self.lstm.parameters(), *self.readout.parameters()]

    @property
    def n_weights(self) -> int:
        return int(sum(w.numel() for w in self._parameters()))

    def is_finite(self) -> bool:
        torch = import_torch()
        return bool(all(torch.isfinite(w).all() for w in self._parameters()))

    def compile(self) -> None:
        """No JIT; one forward and backward pass on a dummy sequence warms up autograd. The
        weights and the optimiser's state are left as they were."""
        torch = import_torch()
        with single_thread(torch):
            x = torch.zeros((1, 2, self.lstm.input_size), dtype=self._dtype)
            out, _ = self.lstm(x)
            self.readout(out).sum().backward()
            for w in self._parameters():
                w.grad = None

    # --- running ---------------------------------------------------------------------------

    def _tensors(self, block: SequenceBlock):
        torch = import_torch()
        return (torch.from_numpy(block.inputs).to(self._dtype),
                torch.from_numpy(block.targets).to(self._dtype),
                torch.from_numpy(block.target_mask).to(self._dtype))

    @staticmethod
    def _loss(kind, z, y, d, mask):
        """Loss ``kind`` of logits ``z`` (outputs ``y`` = σ(z), shape (…, K)) against targets
        ``d``, summed over the steps where ``mask`` is 1."""
        torch = import_torch()
        if kind == "bce":  # from the logits: stable, and its delta is y − d
            weight = mask.unsqueeze(-1).expand_as(z)
            return torch.nn.functional.binary_cross_entropy_with_logits(
                z, d, weight=weight, reduction="sum")
        return 0.5 * (torch.square(y - d) * mask.unsqueeze(-1)).sum()

    def train(self, block: SequenceBlock) -> np.ndarray:
        torch = import_torch()
        x, d, mask = self._tensors(block)
        out = torch.zeros(d.shape[:2] + (self.readout.out_features,), dtype=self._dtype)
        has_target = block.target_mask.any(axis=1)
        kind = self.params["loss"]
        with single_thread(torch):
            for i in range(len(block)):
                n = int(block.lengths[i])
                h, _ = self.lstm(x[i:i + 1, :n])  # zero initial state: reset every sequence
                z = self.readout(h[0])
                y = torch.sigmoid(z)
                out[i, :n] = y.detach()
                if not has_target[i]:
                    continue
                self.optimizer.zero_grad(set_to_none=True)
                self._loss(kind, z, y, d[i, :n], mask[i, :n]).backward()
                self.optimizer.step()
        return out.numpy().astype(np.float64)

    def _forward(self, x):
        """Logits of a padded batch (n, T, m), each sequence from the zero state. The LSTM runs
        forward in time, so padding after a sequence's end never reaches its real steps."""
        h, _ = self.lstm(x)
        return self.readout(h)

    def predict(self, block: SequenceBlock) -> np.ndarray:
        torch = import_torch()
        x, _, _ = self._tensors(block)
        with single_thread(torch), torch.no_grad():
            y = torch.sigmoid(self._forward(x)).numpy().astype(np.float64)
        y[np.arange(y.shape[1])[None, :] >= block.lengths[:, None]] = 0.0
        return y

    # --- the gradient protocol of seqbench.testing --------------------------------------------

    def get_weights(self) -> np.ndarray:
        torch = import_torch()
        with torch.no_grad():
            flat = torch.cat([w.reshape(-1) for w in self._parameters()])
        return flat.numpy().astype(np.float64)  # astype copies

    def set_weights(self, weights: np.ndarray) -> None:
        torch = import_torch()
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.n_weights,):
            raise ValueError(f"expected {self.n_weights} weights, got shape {weights.shape}")
        offset = 0
        with torch.no_grad():
            for w in self._parameters():
                part = weights[offset:offset + w.numel()].reshape(tuple(w.shape))
                w.copy_(torch.from_numpy(part))
                offset += w.numel()

    def gradient(self, block: SequenceBlock, loss: str | None = None) -> np.ndarray:
        """dE/dw summed over the block's sequences, weights frozen; E is ``loss`` (default: the
        learner's own training loss)."""
        torch = import_torch()
        x, d, mask = self._tensors(block)
        valid = torch.from_numpy(
            np.arange(x.shape[1])[None, :] < block.lengths[:, None]).to(self._dtype)
        with single_thread(torch):
            z = self._forward(x)
            e = self._loss(loss or self.params["loss"], z, torch.sigmoid(z), d, mask * valid)
            grads = torch.autograd.grad(e, self._parameters(), allow_unused=True)
        return torch.cat([(torch.zeros_like(w) if g is None else g).reshape(-1)
                          for g, w in zip(grads, self._parameters())]).numpy().astype(np.float64)

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        """dE/dw for the protocol's E = ½Σ(target − y)², whatever loss the learner trains on."""
        return self.gradient(block, "squared")
