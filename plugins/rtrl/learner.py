"""The RTRL learner: exact sensitivities carried forward, on-line or off-line updates."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.params import Param

from ..recurrent.learner import ACCUMULATE, NETWORK_PARAMS, TRAIN, RecurrentLearner


class RTRL(RecurrentLearner):
    """Real-time recurrent learning (Williams & Zipser 1989; docs/learners.md §4).

    Only units on delay-1 paths carry sensitivities (docs/learners.md §4.5), so the Exp. 2a net
    costs O(W) per step while the fully recurrent net costs O(n²W). ``update`` ``step`` changes
    the weights after every step (on-line RTRL), ``sequence`` sums the step gradients and applies
    them at the sequence end (off-line RTRL, the same gradient as epochwise BPTT).

    ``reset`` ``sequence`` (the default, docs/learners.md §1.4) starts every sequence from zero
    activations and zero sensitivities. ``reset`` ``never`` is the paper's "on-line RTRL (no
    activation resets, online weight changes)" (docs/learners.md §4.3): activations and
    sensitivities are set to zero once, when the network is built, and then carry over from each
    sequence into the next and from each ``train`` call into the next, as if the whole training
    stream were one long sequence. The sensitivities are, as always in on-line RTRL, not
    recomputed after a weight change. With ``never``:

    * :meth:`predict` runs its block as one continuous stream, starting from a copy of the
      current training state (the activations and sensitivities left by the last ``train``
      call), and leaves the training state untouched; so does the gradient protocol
      (:meth:`gradient`, :meth:`loss_gradient`, :meth:`step_gradients`), which starts from the
      carried sensitivities too, i.e. it is the gradient the rule would follow next, and equals
      the gradient of :meth:`predict`'s error only while the carried sensitivities are zero
      (a freshly built learner).
    * ``update`` ``sequence`` still changes the weights at each sequence end; the state carries
      across that change as it carries across every on-line change.
    * ``teacher_forcing``: a forced output's target is what the next step reads, also when the
      next step is the first of the next sequence (or of the next ``train`` call).
    * :attr:`carries_state` is True, which tells tasks (through the harness) that sequence
      boundaries do not reset the network.
    """

    #: 2: strict IEEE arithmetic (no reordered sums or fused multiply-adds), so a trial's
    #: result no longer depends on whether its kernel was compiled now or loaded from cache
    behaviour_version = 2

    name = "rtrl"
    summary = "real-time recurrent learning (exact sensitivities, on-line or off-line)"
    params = {
        **NETWORK_PARAMS,
        "update": Param("step", "step: change weights after every step (on-line RTRL); "
                        "sequence: sum and apply at each sequence end (off-line)", "str",
                        choices=("step", "sequence")),
        "teacher_forcing": Param(False, "output units with a target feed the target, not their "
                                 "activation, into the next step", "bool"),
        "reset": Param("sequence", "sequence: activations and sensitivities start from zero at "
                       "every sequence (the paper's protocol); never: they carry over from "
                       "sequence to sequence and block to block (the paper's 'on-line RTRL, no "
                       "activation resets'); predict then runs a block as one stream from a copy "
                       "of the training state", "str", choices=("sequence", "never")),
    }

    #: small, fast parameters for the conformance kit (seqbench.testing)
    test_params = {"hidden": 4, "learning_rate": 0.5}

    @property
    def gradient_truncated(self) -> bool:
        """With teacher forcing the gradient is that of the forced graph, not of the free run."""
        return bool(self.params["teacher_forcing"])

    @property
    def carries_state(self) -> bool:
        """Whether activations and sensitivities carry over sequence boundaries (``reset``
        ``never``)."""
        return self.params["reset"] == "never"

    def _prepare(self) -> None:
        net = self.network
        self._carried = net.recurrent_units()
        self._slot = np.full(net.n_units, -1, np.int64)
        self._slot[self._carried] = np.arange(len(self._carried))
        self._arrays = (*net.segments, *net.unit_links, net.src_unit, net.delay,
                        net.outputs, self._slot, self._carried)
        self._no_steps = np.zeros((0, len(self.w)))
        self.reset_state()

    def reset_state(self) -> None:
        """Zero the carried training state: the activations a(t−1) the next step reads and the
        carried units' sensitivities (used only with ``reset`` ``never``)."""
        self._a_state = np.zeros(self.network.n_units)
        self._p_state = np.zeros((len(self._carried), len(self.w)))

    def compile(self) -> None:
        state = self._a_state.copy(), self._p_state.copy()
        super().compile()
        self._a_state, self._p_state = state  # the warm-up must not advance the stream

    def _run(self, block: SequenceBlock, mode: int, alpha: float,
             step_grads: np.ndarray | None = None) -> np.ndarray:
        from .kernel import run_block

        a_state, p_state = self._a_state, self._p_state
        if mode != TRAIN:  # predict and the gradient protocol start from a copy of the state
            a_state, p_state = a_state.copy(), p_state.copy()
        out = self._outputs(block)
        run_block(block.inputs, block.targets, block.target_mask, block.lengths, self.w,
                  *self._arrays, alpha, mode, self.params["update"] == "step",
                  bool(self.params["teacher_forcing"]), self._grad,
                  self._no_steps if step_grads is None else step_grads, out,
                  self.carries_state, a_state, p_state)
        return out

    def step_gradients(self, block: SequenceBlock) -> np.ndarray:
        """∂E(t)/∂w for every step t of the block's first sequence, weights frozen; (T, W)
        (with ``reset`` ``never``: continuing from the carried state)."""
        steps = np.zeros((block.inputs.shape[1], len(self.w)))
        self._grad[:] = 0.0
        self._run(block.take(np.array([0])), ACCUMULATE, 1.0, steps)
        self._grad[:] = 0.0
        return steps
