"""Random weight guessing (RG): draw every weight at random until the net solves the training set.

Hochreiter & Schmidhuber, "LSTM can solve hard long time lag problems" (NIPS 9, 1996), and
Schmidhuber, Hochreiter & Bengio, "Evaluating benchmark problems by random guessing" (2001):

    REPEAT draw every weight (biases included) independently, uniform in [-100, 100]
    UNTIL the net classifies every training sequence correctly

with activations reset to 0 at every sequence start. The number of draws is the method's cost;
it is geometric with mean 1/P(a draw solves the set). A draw is rejected at the first training
sequence it gets wrong (early rejection: it changes which sequences are run, never which draw
is accepted), and a draw counts once however early it was rejected.

The search judges a sequence by every output at every step with a target: within ``tolerance``
(0.1, the papers' "absolute error at sequence end below 0.1") of its target, or with ``accept``
= ``sign`` on the same side of the middle of the task's target range (the latch task's rule
for variant I). When a draw passes, the harness judges it with the task's own criterion; if
that fails (a task whose rule differs from the search's), the search goes on with the next draw.

Architectures (``architecture``), each a dense weight matrix over the units with a fixed 0/1
mask of the weights that are drawn (``n_weights`` counts them):

``a1``
    fully recurrent: ``hidden`` units plus one unit per task output, every unit with a bias and
    every input of the same step. Hidden units read every unit's previous activation; output
    units read every output unit's previous activation (themselves included) and the hidden
    units of the same step (``timing`` below). With one hidden unit, one input and one output:
    2 units x (2 + 1 + 1) = 8 weights. The 2001 text gives A1's hidden units a bias (and says
    of A2 that all units are biased); ``output_bias`` False drops the output unit's (7).
``a2``
    ``hidden`` hidden units (the papers use 10), each reading the inputs, the output unit(s)
    and (``self_connections``) itself, and a bias; each output unit reads every hidden unit,
    every output unit (itself included), the inputs and a bias. With 10 hidden units, one input
    and one output: 10 x 4 + 13 = 53 weights (43 without self-connections). The 2001 text says
    "the output unit sees all other units"; we keep A1's output row (its self-connection too).
``latch1``
    the 2001 latch net of variant I: one tanh unit y(t) = tanh(w y(t-1) + u(t)) with u(0) =
    h+ if the first input is > 0 else h-, and u(t) = x(t) afterwards; free: w, h+, h- (3).
``latch2``
    the latch net of variant II: y(t) = tanh(w y(t-1) + v x(t) + b); free: w, v, b (3).

``timing`` (a1, a2): ``three-phase`` (default) is the LSTM paper's step, used framework-wide:
hidden units are computed from the previous step's activations and this step's input, then the
output units, which read the hidden units of this step. ``wz`` is Williams & Zipser's timing,
every unit reading every unit at t-1 (same weight count). In ``wz`` timing no A1 or A2 net can
answer parity at the last step: its final output is f(a(state at T-1) + v x(T)), which moves
the same way with the last input whatever came before, while parity must move opposite ways
after an odd and an even prefix. The papers' parity figures (A1: 2,906 draws) therefore imply
that outputs read the hidden units of the same step.

Units are logistic (``activation``, the NIPS-96 set-up) or tanh; the latch nets are tanh. The
squashing is exact-constant beyond |net| = 40 (logistic) or 20 (tanh) and never overflows.

The draws come from the ``rng`` given to :meth:`Guessing.build`, in chunks of
:data:`DRAW_CHUNK` draws: chunk c is ``rng.uniform(-r, r, (DRAW_CHUNK, n_weights))``, draw i is
row ``i % DRAW_CHUNK`` of chunk ``i // DRAW_CHUNK``, its entries the masked weights in row-major
order of the weight matrix (then h+, h- for latch1). The first chunk is drawn by ``build`` and
draw 0 is the network before any search; a run is the same however the harness cuts its calls.
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import SetLearner, TaskSpec, Work
from seqbench.errors import ParamError
from seqbench.params import Param

ARCHITECTURES = ("a1", "a2", "latch1", "latch2")
#: draws per chunk drawn from the generator at once (part of the draw stream's definition)
DRAW_CHUNK = 1024
#: a fit call returns after about this many time steps (a second or a few), whatever its
#: allowance, so that the harness can report progress; where calls end changes no result
STEPS_PER_CALL = 10_000_000


def network(architecture: str, n_inputs: int, n_outputs: int, hidden: int,
            self_connections: bool = True, timing: str = "three-phase",
            output_bias: bool = True) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(mask, fixed, latch1)`` of an architecture: the 0/1 mask of drawn weights and the
    fixed values elsewhere, both (U, 2U + m + 1) with columns [units at t-1 | units at t |
    inputs | bias] (see :mod:`.kernel`), hidden units first and output units last; ``latch1``
    says the first input is replaced by h+ / h-."""
    m, K = n_inputs, n_outputs
    if architecture in ("latch1", "latch2"):
        if m != 1 or K != 1:
            raise ParamError(f"architecture {architecture!r} is one unit with one input; the "
                             f"task has {m} inputs and {K} outputs")
        mask = np.array([[True, False, True, True]])  # self (t-1), -, input, bias
        fixed = np.zeros((1, 4))
        if architecture == "latch1":
            mask[0, 2:] = False  # input weight fixed at 1, no bias
            fixed[0, 2] = 1.0
        return mask, fixed, architecture == "latch1"
    if architecture not in ("a1", "a2"):
        raise ParamError(f"unknown architecture {architecture!r}; valid: "
                         f"{', '.join(ARCHITECTURES)}")
    if architecture == "a2" and hidden < 1:
        raise ParamError("architecture 'a2' needs at least one hidden unit")
    U = hidden + K
    hid, out = np.arange(hidden), np.arange(hidden, U)
    previous, same, rest = 0, U, slice(2 * U, 2 * U + m + 1)  # rest: inputs and bias
    mask = np.zeros((U, 2 * U + m + 1), dtype=bool)
    mask[:, rest] = True
    # hidden units read the previous step: a1 every unit, a2 the outputs and (maybe) itself
    if architecture == "a1":
        mask[:hidden, previous:previous + U] = True
    else:
        mask[np.ix_(hid, previous + out)] = True
        mask[hid, previous + hid] = self_connections
    # output units read the hidden units (same step in the three-phase step, previous step in
    # Williams-Zipser timing) and every output unit, themselves included, of the previous step
    mask[np.ix_(out, previous + out)] = True
    if timing == "wz":
        mask[np.ix_(out, previous + hid)] = True
    else:
        mask[np.ix_(out, same + hid)] = True
    mask[out, 2 * U + m] = output_bias
    return mask, np.zeros(mask.shape), False


class Guessing(SetLearner):
    """Random weight guessing on the task's fixed training set, with early rejection."""

    name = "guessing"
    aliases = ("rg",)
    summary = "random weight guessing: draw all weights uniformly until the training set is solved"
    work_units = ("draws",)
    params = {
        "architecture": Param("a1", "a1: fully recurrent; a2: sparse (hidden units see inputs, "
                              "outputs, themselves); latch1/latch2: the 2001 latch nets "
                              "(one tanh unit)", "str", choices=ARCHITECTURES),
        "hidden": Param(1, "hidden units of a1/a2 (the papers' A2 has 10)", "int", low=0,
                        high=1000),
        "self_connections": Param(True, "a2: hidden units see themselves", "bool"),
        "output_bias": Param(True, "a1/a2: output units have a bias weight (the 2001 text "
                             "gives A1's hidden units a bias, and says of A2 that all units are "
                             "biased)", "bool"),
        "timing": Param("three-phase", "a1/a2: three-phase = output units read the hidden "
                        "units of the same step (the LSTM paper's step); wz = every unit reads "
                        "every unit of the previous step (Williams & Zipser)", "str",
                        choices=("three-phase", "wz")),
        "activation": Param("logistic", "a1/a2 units (the latch nets are tanh)", "str",
                            choices=("logistic", "tanh")),
        "weight_range": Param(100.0, "every weight uniform in [-r, r]", "float", low=0.0,
                              high=1e6),
        "accept": Param("abs", "search test of every output with a target: abs = within "
                        "tolerance; sign = on the target's side of the middle of the target "
                        "range (latch variant I)", "str", choices=("abs", "sign")),
        "tolerance": Param(0.1, "abs test: |output - target| < tolerance", "float", low=0.0,
                           high=10.0),
        "early_rejection": Param(True, "reject a draw at its first wrong training sequence "
                                 "(False runs every sequence; same draws, more work)", "bool"),
        "max_draws": Param(0, "stop after this many draws (0: no cap)", "int", low=0,
                           high=10**12),
        "sample_size": Param(100, "sequences of the fixed sample drawn from an on-line task "
                             "(tasks with their own training set ignore it)", "int", low=1,
                             high=1_000_000),
    }
    #: small, fast parameters for the conformance kit
    test_params = {"architecture": "a1", "hidden": 1}

    # --- building --------------------------------------------------------------------------

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        from . import kernel  # noqa: F401  (numba is loaded here, never at registration)

        p = self.params
        mask, fixed, latch1 = network(p["architecture"], spec.n_inputs, spec.n_outputs,
                                      p["hidden"], p["self_connections"], p["timing"],
                                      p["output_bias"])
        rows, cols = np.nonzero(mask)  # row-major order
        self._rows = rows.astype(np.int64)
        self._cols = cols.astype(np.int64)
        self._W = fixed
        reads = mask | (fixed != 0.0)  # the columns each unit reads, ascending
        self._row_ptr = np.concatenate([[0], np.cumsum(reads.sum(axis=1))]).astype(np.int64)
        self._row_col = np.nonzero(reads)[1].astype(np.int64)
        self._latch1 = bool(latch1)
        self._n_out = int(spec.n_outputs)
        latch = p["architecture"] in ("latch1", "latch2")
        self._activation = 1 if latch or p["activation"] == "tanh" else 0
        self._middle = float(sum(spec.target_range) / 2)
        self._n_params = int(len(rows) + (2 if latch1 else 0))
        self._rng = rng
        self._thetas = self._draw_chunk()
        self._pos = 0  # the draw (row of _thetas) the search is at
        self._seq = 0  # the next training sequence of that draw (0: not started)
        self._failed = False  # that draw has failed a sequence (no early rejection)
        self._passed = False  # that draw passed; the next fit moves on
        self._stopped = False
        self._theta = self._thetas[0].copy()  # the current network
        self._draws = 0
        self._sequences = 0
        self._candidates = 0

    def _draw_chunk(self) -> np.ndarray:
        r = self.params["weight_range"]
        return self._rng.uniform(-r, r, size=(DRAW_CHUNK, self._n_params))

    def compile(self) -> None:
        from .kernel import forward, search

        W = self._W.copy()
        x = np.zeros((1, 2, self._W.shape[1] - 2 * self._W.shape[0] - 1))
        lengths = np.array([2], dtype=np.int64)
        out = np.zeros((1, 2, self._n_out))
        forward(W, self._row_ptr, self._row_col, self._theta.copy(), self._rows, self._cols,
                self._n_out, self._activation, self._latch1, x, lengths, out)
        search(self._thetas[:1].copy(), 0, 0, False, 1, -1, True, W, self._row_ptr,
               self._row_col, self._rows, self._cols, self._n_out, self._activation,
               self._latch1, x, out.copy(), np.ones((1, 2), dtype=bool), lengths, 0, 0.1, 0.0)

    # --- the search ------------------------------------------------------------------------

    def fit(self, training_set: SequenceBlock, allowance: int) -> Work:
        from .kernel import ALLOWANCE, CAP, PASSED, search

        p = self.params
        if self._passed:  # the harness judged the last candidate and wants more
            self._pos += 1
            self._seq, self._failed, self._passed = 0, False, False
        if self._stopped:
            return Work(0, 0, stopped=True)
        data = training_set
        accept = 0 if p["accept"] == "abs" else 1
        mean_length = max(1, data.n_steps // max(1, len(data)))
        allowance = min(int(allowance), max(len(data), STEPS_PER_CALL // mean_length))
        sequences = steps = 0
        while True:
            if self._pos >= len(self._thetas):
                self._thetas = self._draw_chunk()
                self._pos = 0
            draws_left = p["max_draws"] - self._draws if p["max_draws"] else -1
            status, pos, seq, failed, n, run, started, last = search(
                self._thetas, self._pos, self._seq, self._failed, int(allowance - sequences),
                int(draws_left), bool(p["early_rejection"]), self._W, self._row_ptr,
                self._row_col, self._rows, self._cols,
                self._n_out, self._activation, self._latch1, data.inputs, data.targets,
                data.target_mask, data.lengths, accept, float(p["tolerance"]), self._middle)
            self._pos, self._seq, self._failed = int(pos), int(seq), bool(failed)
            sequences += int(n)
            steps += int(run)
            self._draws += int(started)
            self._sequences += int(n)
            if last >= 0:
                self._theta = self._thetas[last].copy()
            if status == PASSED:
                self._passed = True
                self._candidates += 1
                return Work(sequences, steps, check=True)
            if status == ALLOWANCE:
                return Work(sequences, steps)
            if status == CAP:
                self._stopped = True
                return Work(sequences, steps, stopped=True)
            # EXHAUSTED: draw the next chunk and go on

    # --- the network -----------------------------------------------------------------------

    def predict(self, block: SequenceBlock) -> np.ndarray:
        from .kernel import forward

        outputs = np.zeros((len(block), block.inputs.shape[1], self._n_out))
        forward(self._W.copy(), self._row_ptr, self._row_col, self._theta, self._rows,
                self._cols, self._n_out, self._activation, self._latch1, block.inputs,
                block.lengths, outputs)
        return outputs

    @property
    def n_weights(self) -> int:
        return self._n_params

    def is_finite(self) -> bool:
        return bool(np.isfinite(self._theta).all())

    def weights(self) -> tuple[np.ndarray, tuple[float, float] | None]:
        """The current network as (W, latch): the full weight matrix (columns [units | inputs |
        bias]) and, for latch1, (h+, h-); for :mod:`.reference` and the tests."""
        W = self._W.copy()
        n_w = len(self._rows)
        W[self._rows, self._cols] = self._theta[:n_w]
        latch = (float(self._theta[n_w]), float(self._theta[n_w + 1])) if self._latch1 else None
        return W, latch

    def diagnostics(self) -> dict[str, float]:
        """``draws``: weight draws started (each counts once, however early it was rejected);
        ``sequences_evaluated``: training sequences run; ``candidates``: draws that passed the
        search's test and were offered to the task's criterion."""
        if not hasattr(self, "_draws"):
            return {}
        return {"draws": self._draws, "sequences_evaluated": self._sequences,
                "candidates": self._candidates}
