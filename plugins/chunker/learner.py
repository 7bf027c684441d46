"""The two-net neural sequence chunker ("CH" of the 1997 LSTM paper's Table 2).

Schmidhuber (1992), "Learning complex, extended sequences using the principle of history
compression", Neural Computation 4(2): an **automatizer** A sees every input and predicts the
next one; a **chunker** C sees only the inputs A failed to predict (and the first input of a
sequence), so its time runs on unexpected events only and a long lag in the input stream can be
a short one in C's. A has one more output, trained to predict C's hidden state: once it
does, A has to carry in its own state what C knows, and C's knowledge "collapses" into A.

The LSTM paper (Hochreiter & Schmidhuber 1997, Sec. 5.2, Task 2a, Table 2) gives the setting:
"both net architectures like RTRL's, but one has an additional output for predicting the hidden
unit of the other one", learning rate 1.0, weights in [−0.2, 0.2], p = 100: 33 % of 18 trials
successful, after 32,400 sequences on average, 10506 weights; the chunker fails on Task 2b
(random middle symbols, nothing compressible).

What this learner does (the readable statement is ``reference.chunker_sequence``; the kernel
is ``kernel.run_block``):

* Both nets are the Table 2 RTRL net in Williams-Zipser timing (``self_loop_wz`` of the RTRL
  presets): one self-recurrent logistic hidden unit reading the step's inputs and its own last
  value, logistic outputs reading the step's inputs and the hidden unit of the previous step, no
  biases. A has the task's outputs plus one extra output predicting C's hidden unit; C has the
  task's outputs.
* All state (both nets' activations and RTRL sensitivities, C's pending prediction) is reset at
  every sequence start, the paper's protocol; C steps on the first input of each sequence.
* Each step t (input x(t), target d(t), in Exp. 2a/2b the next symbol x(t+1)):
  A reads x(t) and predicts d(t) and C's state; the **surprise test** judges A's prediction
  against d(t); on a surprise, C first learns (its outputs of its last step were its
  prediction of its next input, which has just arrived: d(t)) and then steps on that input;
  finally A learns its task outputs against d(t) and its extra output against C's hidden unit.
* Both nets learn on line with their exact RTRL gradients, each on its own clock (A at every
  step, C at its events); sensitivities are carried, not recomputed after weight changes, as in
  on-line RTRL.

Choices where neither paper is explicit (each a parameter where another reading is cheap):

* ``surprise`` (which predictions count as right): ``winner`` (default), the 1992 chunker
  papers' "the legal input vector nearest to the prediction is the one that occurred" — for
  one-hot symbols, the most active output is the next symbol; ``epsilon``: every output within
  ``epsilon`` of its target; ``always``: every step is a surprise (C then is a plain RTRL net on
  the full stream; a test compares the two bit for bit).
* ``state_target`` (which state of C A's extra output predicts): ``next`` (default), the 1992
  order: A's predictions are made before the next input arrives (in Williams-Zipser timing, A's
  outputs at step t, which have read x(t), predict x(t+1)), and its prediction of C's state is
  judged against C's state *after* C has processed that next input when it was an event;
  ``current``: C's state after x(t), the input A has just read.
* ``output`` (what the task judges): ``automatizer`` (default): A's predictions at every step.
  A is the net that runs at every step and predicts every target; C predicts only its next
  *event*, without knowing when it comes (the LSTM paper's chunker has no time input), so
  choosing C's prediction at a step would need to know beforehand that A will fail there, i.e.
  the target. C's knowledge reaches the outputs by being collapsed into A through the extra
  output. ``gated``: C's latest prediction at the steps where A fails the surprise test, A's
  elsewhere; the test reads the target, so this is an oracle reading, not a causal predictor,
  kept to bound the "system output" reading.
* ``readout`` (timing of both nets): ``previous`` (default), Williams-Zipser timing as in the
  Table 2 RTRL presets; ``same``: the outputs read the hidden unit of the same step (the
  paper's three-phase step, ``self_loop`` of the rtrl learner). In Williams-Zipser timing C's
  prediction right after the first symbol reads only that symbol (its hidden unit is still
  the reset 0), so once A predicts the middle of a 2a sequence and C's events are only the
  first and the last symbol, no error reaches C's hidden unit any more.
* A's extra output predicts C's hidden unit only, as the LSTM paper says and its weight count
  confirms (one extra unit); the 1992 automatizer predicted C's whole state, its outputs
  included. C has no time input (none is mentioned for CH, and the 1992 experiment needed none).
* The observation C steps on after a surprise at step t is x(t+1); at a sequence's last step,
  where no next input exists, the final target stands for it when the task's inputs and targets
  share one alphabet (the lag tasks); otherwise C learns but takes no step.
* Tasks that are not one-hot (the conformance kit's) run a dense path; one-hot inputs are read
  from ``block.input_symbols`` or found in the dense inputs.

Weight count: a net of this kind with m inputs, one hidden unit and k outputs has (k + 1)
units each reading the m inputs and one hidden-unit link (the self loop, or the link from h),
i.e. (k + 1)(m + 1) weights. A has k = K + 1 (the task's K outputs and the extra one), C has
k = K. At p = 100 (m = K = 101): A = 103 · 102 = 10404 + 102 = **10506**, exactly the paper's
figure, and C = 102 · 102 = 10404, the RTRL net's. The paper's count is therefore A's alone (the
RTRL net plus the extra output's 101 + 1 weights); C's 10404 weights are not in it.
:attr:`n_weights` counts every trainable weight of both nets, 20910 at p = 100; the diagnostics
report A's alone as ``weights_a``.
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, TaskSpec
from seqbench.params import Param

#: kernel codes (mirrors kernel.py, which imports numba)
FORWARD, TRAIN, ACCUMULATE = -1, 0, 2
SURPRISE = {"winner": 0, "epsilon": 1, "always": 2}
OUTPUT = {"automatizer": 0, "gated": 1}
STATE_TARGET = {"next": 0, "current": 1}

#: diagnostics over the most recent training sequences use this many
RECENT = 1000
#: A's prediction of the lag symbol counts as learned from the first sequence of the first run
#: of this many successive training sequences on which it passed the surprise test
LAG_RUN = 100


class Chunker(Learner):
    """Schmidhuber's two-net neural sequence chunker: automatizer A and chunker C.

    See the module docstring for the algorithm, the reading choices and the weight count.
    """

    name = "chunker"
    aliases = ("ch",)
    summary = ("two-net neural sequence chunker (Schmidhuber 1992): automatizer A, chunker C "
               "stepping on A's surprises, both on-line RTRL")
    params = {
        "learning_rate": Param(1.0, "learning rate of both nets (error ½Σ(y−d)² summed over "
                               "outputs and steps; the paper's CH rate is 1.0)", "float",
                               low=0.0, high=1e6),
        "learning_rate_c": Param(None, "learning rate of C alone (none: learning_rate)",
                                 "float", low=0.0, high=1e6, nullable=True),
        "init_range": Param(0.2, "initial weights uniform in [-r, r]", "float", low=0.0,
                            high=1e3),
        "surprise": Param("winner", "when A's prediction counts as wrong: winner (the most "
                          "active output is not the next symbol; the nearest legal vector), "
                          "epsilon (some output off by epsilon or more), always (every step: C "
                          "alone on the full stream)", "str", choices=tuple(SURPRISE)),
        "epsilon": Param(0.25, "tolerance of surprise=epsilon", "float", low=0.0, high=1.0),
        "output": Param("automatizer", "what the task judges: automatizer (A's predictions) "
                        "or gated (C's latest prediction where A fails the surprise test, an "
                        "oracle reading since the test reads the target)", "str",
                        choices=tuple(OUTPUT)),
        "readout": Param("previous", "what the outputs of both nets read: previous (the hidden "
                         "unit of the previous step, Williams-Zipser timing, as the Table 2 RTRL "
                         "presets) or same (of the same step, the three-phase step of the "
                         "paper's LSTM nets)", "str", choices=("previous", "same")),
        "state_target": Param("next", "the C state A's extra output learns: next (after C has "
                              "processed the input A is predicting; the 1992 order) or current "
                              "(after the input A has just read)", "str",
                              choices=tuple(STATE_TARGET)),
    }
    #: small, fast parameters for the conformance kit
    test_params = {"learning_rate": 2.0}

    # -- building --------------------------------------------------------------------------
    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        m, K = spec.n_inputs, spec.n_outputs
        r = self.params["init_range"]
        # drawn in the Network connection order of self_loop_wz: hidden unit, then outputs
        self.UA = rng.uniform(-r, r, (K + 2, m + 1))  # hidden, K task outputs, C's state
        self.UC = rng.uniform(-r, r, (K + 1, m + 1))  # hidden, K task outputs
        self._final_event = m == K
        self._seen = 0
        self._steps = 0
        self._surprises = 0
        self._events = 0
        self._recent = np.zeros((0, 4))  # per sequence: steps, surprises, events, lag right
        self._lag_run = 0
        self._lag_run_start = 0
        self._lag_learned_at: int | None = None

    # The kernel keeps each net as ``hw`` (the hidden unit's m+1 weights) and ``ow`` (the
    # outputs' weights, transposed: (m+1, outputs)), so that a step's weights are contiguous.
    # ``UA``/``UC`` are the (units, m+1) matrices in the Network connection order.
    @property
    def UA(self) -> np.ndarray:
        """A's weights as a (K+2, m+1) matrix: row 0 the hidden unit (inputs, self), row 1+k
        output k (inputs, hidden unit); the last output predicts C's hidden unit. A copy."""
        return np.vstack([self.hwA[None], self.owA.T])

    @UA.setter
    def UA(self, U) -> None:
        U = np.asarray(U, dtype=np.float64)
        self.hwA = np.ascontiguousarray(U[0])
        self.owA = np.ascontiguousarray(U[1:].T)

    @property
    def UC(self) -> np.ndarray:
        """C's weights as a (K+1, m+1) matrix (as :attr:`UA`). A copy."""
        return np.vstack([self.hwC[None], self.owC.T])

    @UC.setter
    def UC(self, U) -> None:
        U = np.asarray(U, dtype=np.float64)
        self.hwC = np.ascontiguousarray(U[0])
        self.owC = np.ascontiguousarray(U[1:].T)

    @property
    def n_inputs(self) -> int:
        return self.hwA.shape[0] - 1

    @property
    def n_outputs(self) -> int:
        return self.owC.shape[1]

    @property
    def n_weights(self) -> int:
        """Every trainable weight of both nets: (K+2)(m+1) of A plus (K+1)(m+1) of C."""
        return int(self.hwA.size + self.owA.size + self.hwC.size + self.owC.size)

    @property
    def weights_a(self) -> int:
        """A's weights alone: the paper's count (10506 at p = 100)."""
        return int(self.hwA.size + self.owA.size)

    def is_finite(self) -> bool:
        return all(bool(np.isfinite(a).all()) for a in (self.hwA, self.owA, self.hwC, self.owC))

    def compile(self) -> None:
        m, K = self.n_inputs, self.n_outputs
        tiny = SequenceBlock(np.eye(m)[[0, 0]][None] if m else np.zeros((1, 2, 0)),
                             np.eye(K)[[0, 0]][None], np.ones((1, 2), bool), np.array([2]))
        state = self.UA, self.UC
        for mode in (TRAIN, FORWARD, ACCUMULATE):
            self._run(tiny, mode, need_c=True)
        dense = SequenceBlock(np.full((1, 2, m), 0.5), np.zeros((1, 2, K)),
                              np.ones((1, 2), bool), np.array([2]))
        self._run(dense, TRAIN, need_c=True)
        self.UA, self.UC = state

    # -- kernel calls ----------------------------------------------------------------------
    @staticmethod
    def symbols(block: SequenceBlock) -> np.ndarray:
        """(n, T) int64: the active input unit of each step, or −1 where the input is not
        one-hot (the kernel then reads the dense inputs)."""
        if block.input_symbols is not None:
            return block.input_symbols
        x = block.inputs
        if x.shape[2] == 0:
            return np.full(x.shape[:2], -1, np.int64)
        one_hot = (np.count_nonzero(x, axis=2) == 1) & (x.max(axis=2) == 1.0)
        return np.where(one_hot, x.argmax(axis=2), -1).astype(np.int64)

    def _run(self, block: SequenceBlock, mode: int, *, need_c: bool = False, own: bool = True,
             grads=None, logs: bool = False):
        from .kernel import run_block

        p = self.params
        n, T = len(block), block.inputs.shape[1]
        # every real step is written by the kernel; zeroing 8 MB per block of Exp. 2 at p = 100
        # would cost a fifth of the training time on the project machine
        out = np.empty((n, T, self.n_outputs))
        if n and int(block.lengths.min()) < T:
            out[np.arange(T)[None, :] >= block.lengths[:, None]] = 0.0
        seq_surprises = np.zeros(n, np.int64)
        seq_events = np.zeros(n, np.int64)
        seq_lag = np.zeros(n, np.int64)
        event_log = np.zeros((n, T + 1) if logs else (0, 0), np.int8)
        q_log = np.zeros((n, T) if logs else (0, 0))
        if grads is None:  # ACCUMULATE writes into these; other modes never touch them
            grads = self._new_grads() if mode == ACCUMULATE else (
                np.zeros(0), np.zeros((0, 0)), np.zeros(0), np.zeros((0, 0)))
        rate_c = p["learning_rate"] if p["learning_rate_c"] is None else p["learning_rate_c"]
        run_block(mode, self.symbols(block), block.inputs, block.targets, block.target_mask,
                  block.lengths, self.hwA, self.owA, self.hwC, self.owC, *grads, own,
                  float(p["learning_rate"]), float(rate_c), SURPRISE[p["surprise"]],
                  float(p["epsilon"]), OUTPUT[p["output"]], STATE_TARGET[p["state_target"]],
                  need_c, self._final_event, p["readout"] == "same", out, seq_surprises,
                  seq_events, seq_lag, event_log, q_log)
        return out, seq_surprises, seq_events, seq_lag, event_log.astype(bool), q_log

    def train(self, block: SequenceBlock) -> np.ndarray:
        out, surprises, events, lag, _, _ = self._run(block, TRAIN)
        self._record(block, surprises, events, lag)
        return out

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return self._run(block, FORWARD, need_c=self.params["output"] == "gated")[0]

    def trace(self, block: SequenceBlock, train: bool = False) -> dict[str, np.ndarray]:
        """Run the block (frozen, or learning when ``train``) and return what happened:
        ``outputs``; ``events`` (n, T+1) bool, the observations C stepped on (column t < T:
        input x(t); column T: the final target); ``q_targets`` (n, T), the target of A's
        extra output at each step (C's hidden unit); ``surprises`` and ``c_steps`` per
        sequence; ``lag_right`` per sequence (A's last prediction passed the surprise test)."""
        out, surprises, events, lag, event_log, q_log = self._run(
            block, TRAIN if train else FORWARD, need_c=True, logs=True)
        if train:
            self._record(block, surprises, events, lag)
        return {"outputs": out, "events": event_log, "q_targets": q_log,
                "surprises": surprises, "c_steps": events, "lag_right": lag.astype(bool)}

    # -- diagnostics -----------------------------------------------------------------------
    def _record(self, block: SequenceBlock, surprises, events, lag) -> None:
        steps = block.lengths
        self._steps += int(steps.sum())
        self._surprises += int(surprises.sum())
        self._events += int(events.sum())
        rows = np.column_stack([steps, surprises, events, lag]).astype(float)
        self._recent = np.concatenate([self._recent, rows])[-RECENT:]
        for i, right in enumerate(lag.tolist()):
            if right:
                if self._lag_run == 0:
                    self._lag_run_start = self._seen + i + 1
                self._lag_run += 1
                if self._lag_run == LAG_RUN and self._lag_learned_at is None:
                    self._lag_learned_at = self._lag_run_start
            else:
                self._lag_run = 0
        self._seen += len(block)

    def diagnostics(self) -> dict[str, float]:
        """Measurements of the trial's training (training sequences only, never predict):

        * ``surprise_rate``: surprised steps / trained steps, i.e. the fraction of A's
          predictions passed to C as events (the first input of each sequence, always an
          event, is not a prediction and not counted); ``surprise_rate_recent``: the same
          over the last 1,000 training sequences.
        * ``c_steps_per_sequence``: C's steps per training sequence (first input included);
          ``c_steps_per_sequence_recent`` over the last 1,000.
        * ``lag_symbol_learned_at``: the training sequence (1-based count) that starts the
          first run of 100 successive training sequences on which A's prediction at the last
          step (the lag symbol, x or y in Exp. 2) passed the surprise test, computed on line;
          none if no such run. ``lag_right_recent``: the fraction of the last 1,000 training
          sequences on which it passed.
        """
        if not hasattr(self, "_recent"):
            return {}
        recent = self._recent
        n_recent = len(recent)
        steps_recent = recent[:, 0].sum()
        return {
            "surprise_rate": self._surprises / self._steps if self._steps else None,
            "surprise_rate_recent": (recent[:, 1].sum() / steps_recent) if steps_recent
            else None,
            "c_steps_per_sequence": self._events / self._seen if self._seen else None,
            "c_steps_per_sequence_recent": recent[:, 2].mean() if n_recent else None,
            "lag_symbol_learned_at": self._lag_learned_at,
            "lag_right_recent": recent[:, 3].mean() if n_recent else None,
            "weights_a": self.weights_a,
        }

    # -- the gradient protocol of seqbench.testing -----------------------------------------
    def get_weights(self) -> np.ndarray:
        """A's weights then C's, each net in the ``Network`` connection order of
        ``self_loop_wz`` (hidden unit: inputs, self; each output: inputs, hidden)."""
        return np.concatenate([self.UA.ravel(), self.UC.ravel()])

    def set_weights(self, weights: np.ndarray) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.n_weights,):
            raise ValueError(f"expected {self.n_weights} weights, got shape {weights.shape}")
        nA, m = self.weights_a, self.n_inputs
        self.UA = weights[:nA].reshape(-1, m + 1)
        self.UC = weights[nA:].reshape(-1, m + 1)

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        """∂E/∂w (weights frozen) of E = ½Σ(d − y)² over the outputs :meth:`predict` gives:
        A's task outputs (``output`` automatizer: C's weights get 0), or where gated, C's."""
        gA, gC = self._gradients(block, own=False)
        return np.concatenate([gA.ravel(), gC.ravel()])

    def net_gradients(self, block: SequenceBlock) -> tuple[np.ndarray, np.ndarray]:
        """Each net's gradient of its own error, weights frozen: A's over its task outputs and
        its prediction of C's state (targets as the frozen run gives them), C's over its
        predictions at its events. Shapes of ``UA`` and ``UC``."""
        return self._gradients(block, own=True)

    def _new_grads(self):
        return (np.zeros_like(self.hwA), np.zeros_like(self.owA), np.zeros_like(self.hwC),
                np.zeros_like(self.owC))

    def _gradients(self, block: SequenceBlock, own: bool):
        grads = self._new_grads()
        self._run(block, ACCUMULATE, need_c=True, own=own, grads=grads)
        GhA, GoA, GhC, GoC = grads
        return np.vstack([GhA[None], GoA.T]), np.vstack([GhC[None], GoC.T])
