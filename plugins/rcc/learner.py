"""The ``rcc`` learner: Recurrent Cascade-Correlation (Fahlman 1991) as a set learner.

Sources, and which behaviour follows which:

* Fahlman's Common Lisp Cascade-Correlation, ``cascor1`` (CMU AI Repository,
  ``areas/neural/systems/cascor/lisp``): the training cycle (``TRAIN``: output phase, candidate
  phase, install), ``TRAIN-OUTPUTS`` and ``TRAIN-INPUTS`` with their patience and change
  thresholds, the output error ``(O − T)(f'(O) + sigmoid-prime-offset)``, error bits, Quickprop
  (``QUICKPROP-UPDATE``, see :mod:`.quickprop`), ε scaled by the number of cases (and, for
  candidates, by the number of units feeding them), the stale-sign trick (a first
  "correlations epoch", then each epoch uses the signs of the previous one's covariances),
  installation with output weights −covariance · weight-multiplier taken from the *previous*
  epoch's covariances (its 6/1/90 fix), all default parameter values, and that the candidates
  correlate with the residuals of the last output epoch (computed before that epoch's weight
  update).
* Fahlman, "The Recurrent Cascade-Correlation Architecture" (NIPS 3, 1991), the CMU Cascade
  Neural Network Simulator (Matt White, 1995, ``cascor_compute_slopes``) and the Python port of
  recurrent cascor (``ianjchiu/Cascor``): each hidden unit has one self-recurrent weight, trained
  with the candidate's other weights and frozen with them; the candidate derivative recursion;
  the activation cache rebuilt in time order with resets at sequence breaks; and (the port)
  that the problem's test runs after every output phase.

Where the sources differ or are silent, this learner's choices (each tested or a parameter):

* Covariance: S = Σ_o |Σ_p (V_p − V̄)(E_po − Ē_o)| / SSE with the per-output mean error Ē_o, as
  the Python port and SNNS compute it (``error_mean="output"``). cascor1 subtracts one mean
  error over all outputs (``error_mean="overall"``); it also sums the candidate values only in
  its first correlations epoch and reuses that sum afterwards, whereas here the sum is fresh
  every epoch, so the score is the exact covariance of the epoch.
* The recurrent derivatives of the self-weight are reset to 0 at every sequence break, like the
  others (exact; checked against finite differences). CNNS and the Python port leave that one
  derivative untouched at a break.
* Quickprop's divisor p − s is replaced by 1 when it is 0 (the Python port); cascor1 divides.
* cascor1's ``TRAIN`` ends right after installing its last unit; here the outputs are retrained
  once more after the last installation (``max_units``) and the learner then stops.
* Residuals at steps without a target are 0; such steps still count as cases.

Protocol as a set learner: one *epoch* is one pass over every case of the fixed training set in
time order, with network (and candidate) state reset at every sequence start: each epoch
presents every training sequence once, whether it trains the outputs or the whole candidate pool
(the pool shares one pass), the correlations epoch and an output epoch that finds no error bits
included (cascor1 leaves the latter out of its ``*epoch*`` count, but the pass was made). The
harness's budget counts those sequences. ``fit`` works epoch by epoch, returns when the
allowance cannot take another epoch, and asks for a check after every output phase (or after
every output epoch, ``check_at="epoch"``); an output epoch with no error bits (every output
within ``score_threshold`` of its target on every case) is cascor's victory and ends training,
as does reaching ``max_units``. The state between epochs (phase, epoch counters, patience,
Quickprop and pool state) lives in the learner, so however the harness cuts its calls the
epochs, and the net, are the same.

Outputs: symmetric sigmoids in [−0.5, 0.5] trained on targets mapped to ±0.5 (cascor's coding);
:meth:`predict` maps them back into the task's ``target_range`` (for [0, 1]: add 0.5), so the
Reber task's "legal successors are the most active outputs" judges the same order.
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import SetLearner, TaskSpec, Work
from seqbench.params import Param

from .quickprop import quickprop_update

OUTPUT, CANDIDATE, DONE = "output", "candidate", "done"


def patience_rule(first: bool, last: float, quit: int, value: float, epoch: int,
                  patience: int, threshold: float) -> tuple[bool, float, int, bool]:
    """cascor1's stagnation test after an epoch (``TRAIN-OUTPUTS``, ``TRAIN-INPUTS``).

    ``value`` is the epoch's measure (the output phase's true error, the candidate phase's best
    score) and ``epoch`` its count: 1, 2, ... in the output phase (cascor1's ``*epoch*`` since
    the phase began), 0, 1, ... in the candidate phase (its loop index ``i``). With patience 0
    nothing happens; after the first epoch the value is remembered; a change by more than
    ``threshold`` times the remembered value is remembered and moves the quitting epoch to
    ``epoch + patience``; otherwise the phase stagnates once ``epoch >= quit``. The caller
    starts ``quit`` at ``patience`` (output phase) or at the epoch limit (candidate phase).
    Returns the new (first, last, quit) and whether the phase stagnated.
    """
    if patience == 0:
        return first, last, quit, False
    if first:
        return False, value, quit, False
    if abs(value - last) > last * threshold:
        return first, value, epoch + patience, False
    return first, last, quit, epoch >= quit


class RCC(SetLearner):
    """Recurrent Cascade-Correlation: a cascade of frozen, self-recurrent symmetric-sigmoid units
    grown one at a time; output weights and candidate pools trained by Quickprop in epochs over
    the fixed training set."""

    name = "rcc"
    summary = ("Recurrent Cascade-Correlation (Fahlman 1991): grown cascade of self-recurrent "
               "units, Quickprop epochs over the training set")
    work_units = ("epochs",)
    params = {
        "max_units": Param(22, "cap on installed hidden units; the learner stops after the "
                           "output phase that follows the last installation (cascor1's "
                           "*max-units* 30 counts bias and inputs: 22 hidden units for 7 "
                           "inputs)", "int", low=0, high=1000),
        "candidates": Param(8, "candidate units trained together in the pool (cascor1 "
                            "*ncandidates*)", "int", low=1, high=1000),
        "outlimit": Param(100, "most epochs of one output phase (cascor1 TRAIN's outlimit)",
                          "int", low=1, high=1_000_000),
        "inlimit": Param(100, "most training epochs of one candidate phase, after its "
                         "correlations epoch (cascor1 TRAIN's inlimit)", "int", low=1,
                         high=1_000_000),
        "output_epsilon": Param(0.35, "Quickprop epsilon of the output weights, divided by "
                                "the number of cases", "float", low=0.0, high=1e6),
        "output_mu": Param(2.0, "Quickprop mu (largest step growth) of the output weights",
                           "float", low=0.0, high=1e3),
        "output_decay": Param(0.0001, "weight decay added to the output slopes (decay · w)",
                              "float", low=0.0, high=1e3),
        "output_patience": Param(8, "output epochs without a significant change of the error "
                                 "before the phase stops (0: never)", "int", low=0,
                                 high=1_000_000),
        "output_change_threshold": Param(0.01, "a significant change of the output error, as a "
                                         "fraction of its last value", "float", low=0.0,
                                         high=1e3),
        "input_epsilon": Param(1.0, "Quickprop epsilon of the candidates, divided by cases "
                               "times units feeding them", "float", low=0.0, high=1e6),
        "input_mu": Param(2.0, "Quickprop mu of the candidate weights", "float", low=0.0,
                          high=1e3),
        "input_decay": Param(0.0, "weight decay added to the candidate slopes", "float",
                             low=0.0, high=1e3),
        "input_patience": Param(8, "candidate epochs without a significant change of the best "
                                "score before the phase stops (0: never)", "int", low=0,
                                high=1_000_000),
        "input_change_threshold": Param(0.03, "a significant change of the best candidate "
                                        "score, as a fraction of its last value", "float",
                                        low=0.0, high=1e3),
        "weight_range": Param(1.0, "initial output and candidate weights uniform in [-r, r]",
                              "float", low=0.0, high=1e3),
        "weight_multiplier": Param(1.0, "a new unit's output weights start at minus its "
                                   "covariance with each output times this", "float", low=0.0,
                                   high=1e6),
        "sigmoid_prime_offset": Param(0.1, "added to the output units' derivative (never to "
                                      "hidden units or candidates)", "float", low=0.0,
                                      high=10.0),
        "score_threshold": Param(0.4, "an output off by at least this (symmetric units, targets "
                                 "±0.5) is an error bit; no error bits ends training", "float",
                                 low=0.0, high=10.0),
        "raw_error": Param(False, "candidates correlate with the raw difference O − T instead "
                           "of (O − T)(f'(O) + offset)", "bool"),
        "output_type": Param("sigmoid", "output units: symmetric sigmoid or linear", "str",
                             choices=("sigmoid", "linear")),
        "error_mean": Param("output", "mean error subtracted in the covariance: per output "
                            "(exact covariance) or one over all outputs (cascor1)", "str",
                            choices=("output", "overall")),
        "check_at": Param("phase", "when to have the net judged: after every output phase "
                          "(as recurrent cascor's test hook) or after every output epoch",
                          "str", choices=("phase", "epoch")),
        "sample_size": Param(100, "sequences of the fixed sample fitted on, for tasks without "
                             "a fixed training set", "int", low=1, high=10_000_000),
    }
    #: small, fast parameters for the conformance kit
    test_params = {"max_units": 3, "candidates": 4, "outlimit": 30, "inlimit": 30}

    # -- building ---------------------------------------------------------------------------
    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        p = self.params
        m, K, cap = int(spec.n_inputs), int(spec.n_outputs), int(p["max_units"])
        self._m, self._K, self._cap = m, K, cap
        low, high = spec.target_range
        self._low, self._span = float(low), float(high - low)
        self._rng = rng
        width = 1 + m + cap
        r = float(p["weight_range"])
        # cascor1 INIT-NET: random bias and input weights into every output, then the pool
        self._ow = np.zeros((K, width))
        self._ow[:, :1 + m] = rng.uniform(-r, r, (K, 1 + m))
        self._od = np.zeros((K, width))
        self._os = np.zeros((K, width))
        self._op = np.zeros((K, width))
        self._hw = np.zeros((cap, width))  # frozen hidden units: incoming weights, in order
        self._hs = np.zeros(cap)  # and their self-recurrent weights
        self._H = 0
        self._new_pool()
        self._phase = OUTPUT
        self._start_output_phase()
        self._cand_i = -1
        self._in_first, self._in_last, self._in_quit = True, 0.0, 0
        self.output_epochs = 0
        self.candidate_epochs = 0
        self.victory = False
        self._data = None

    @property
    def _n(self) -> int:
        """Columns of the values vector in use: bias, inputs, installed hidden units."""
        return 1 + self._m + self._H

    def _new_pool(self) -> None:
        """cascor1 INIT-CANDIDATES: fresh random weights (and self-weight, last column) for
        every candidate; their Quickprop state and covariances zeroed."""
        Kc, n, r = int(self.params["candidates"]), self._n, float(self.params["weight_range"])
        self._cw = self._rng.uniform(-r, r, (Kc, n + 1))
        self._cd = np.zeros((Kc, n + 1))
        self._cs = np.zeros((Kc, n + 1))
        self._cp = np.zeros((Kc, n + 1))
        self._cor = np.zeros((Kc, self._K))
        self._prev_cor = np.zeros((Kc, self._K))
        self._sum_v = np.zeros(Kc)
        self._dv = np.zeros((Kc, n + 1))
        self._vprev = np.zeros(Kc)
        self._best, self._best_score = 0, 0.0

    def _start_output_phase(self) -> None:
        self._out_i = 0
        self._out_first, self._out_last, self._out_quit = True, 0.0, int(
            self.params["output_patience"])

    @property
    def n_weights(self) -> int:
        """Trainable weights of the current net: each installed unit's bias, inputs, earlier
        units and self-loop, and every output's bias, inputs and hidden units."""
        m, H = self._m, self._H
        return sum(m + h + 2 for h in range(H)) + self._K * (1 + m + H)

    @property
    def units(self) -> int:
        """Installed hidden units."""
        return self._H

    def is_finite(self) -> bool:
        return bool(np.isfinite(self._ow).all() and np.isfinite(self._hw).all()
                    and np.isfinite(self._hs).all())

    def diagnostics(self) -> dict[str, float]:
        return {"units": self._H, "epochs": self.output_epochs + self.candidate_epochs,
                "output_epochs": self.output_epochs, "candidate_epochs": self.candidate_epochs,
                "weights": self.n_weights}

    # -- data -------------------------------------------------------------------------------
    def _use_data(self, block: SequenceBlock) -> None:
        """Flatten the training set into cases (cascor's caches) when it is first seen.

        The harness always passes the same set. Given another one, the learner does what
        cascor1's CHANGED-TRAINING-SET does: it keeps its units and rebuilds the caches; a
        candidate phase under way (its residuals belong to the old set) gives way to a fresh
        output phase, the pool keeping its weights but not its Quickprop state.
        """
        if self._data is not None:
            old = self._data["block"]
            if block is old or (np.array_equal(block.lengths, old.lengths)
                                and np.array_equal(block.inputs, old.inputs)
                                and np.array_equal(block.targets, old.targets)
                                and np.array_equal(block.target_mask, old.target_mask)):
                return
            if self._phase == CANDIDATE:
                for a in (self._cd, self._cs, self._cp, self._cor, self._prev_cor):
                    a[...] = 0.0
                self._phase = OUTPUT
                self._start_output_phase()
        steps = block.inputs.shape[1]
        valid = np.arange(steps)[None, :] < block.lengths[:, None]
        C, m = int(valid.sum()), self._m
        values = np.zeros((C, 1 + m + self._cap))
        values[:, 0] = 1.0
        values[:, 1:1 + m] = block.inputs[valid]
        breaks = np.zeros(C, np.bool_)
        breaks[np.concatenate(([0], np.cumsum(block.lengths)[:-1]))] = True
        targets = (block.targets[valid] - self._low) / self._span - 0.5
        self._data = {
            "block": block, "values": values, "breaks": breaks,
            "targets": np.ascontiguousarray(targets),
            "mask": np.ascontiguousarray(block.target_mask[valid]),
            "errors": np.zeros((C, self._K)), "sum_err": np.zeros(self._K),
            "sse": 0.0, "n_seq": len(block), "n_cases": C,
        }
        from .kernel import unit_column

        for h in range(self._H):  # units installed on an earlier set
            n = 1 + m + h
            unit_column(values, n, breaks, self._hw[h], self._hs[h], n)

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, training_set: SequenceBlock, allowance: int) -> Work:
        if self._phase == DONE:
            return Work(0, 0, stopped=True)
        self._use_data(training_set)
        per_epoch, cases = self._data["n_seq"], self._data["n_cases"]
        done = 0
        while done + per_epoch <= allowance:
            check = self._epoch()
            done += per_epoch
            if check or self._phase == DONE:
                return Work(done, done // per_epoch * cases, check=check,
                            stopped=self._phase == DONE)
        return Work(done, done // per_epoch * cases)

    def _epoch(self) -> bool:
        """Run one epoch of the current phase and the transitions it triggers; return whether
        the net is worth judging now."""
        if self._phase == OUTPUT:
            return self._output_epoch()
        self._candidate_epoch()
        return False

    def _output_epoch(self) -> bool:
        from .kernel import output_epoch

        p, d = self.params, self._data
        n = self._n
        bits, true_err, sse = output_epoch(
            d["values"], n, d["targets"], d["mask"], self._ow, self._os, d["errors"],
            d["sum_err"], float(p["sigmoid_prime_offset"]), float(p["score_threshold"]),
            p["output_type"] == "linear", bool(p["raw_error"]))
        d["sse"] = sse
        self.output_epochs += 1
        if bits == 0:  # cascor1: victory; no weight change, training ends
            self._os[:, :n] = 0.0
            self.victory = True
            self._phase = DONE
            return True
        quickprop_update(self._ow[:, :n], self._od[:, :n], self._os[:, :n], self._op[:, :n],
                         float(p["output_epsilon"]) / d["n_cases"], float(p["output_decay"]),
                         float(p["output_mu"]))
        # cascor1 TRAIN-OUTPUTS: stagnation and timeout
        self._out_i += 1
        k = self._out_i
        self._out_first, self._out_last, self._out_quit, ended = patience_rule(
            self._out_first, self._out_last, self._out_quit, true_err, k,
            int(p["output_patience"]), float(p["output_change_threshold"]))
        if not (ended or k >= int(p["outlimit"])):
            return p["check_at"] == "epoch"
        if self._H >= self._cap:
            self._phase = DONE
        else:
            self._start_candidate_phase()
        return True

    def _start_candidate_phase(self) -> None:
        """cascor1 TRAIN-INPUTS set-up: the mean residual error of the last output epoch."""
        d = self._data
        if self.params["error_mean"] == "output":
            self._err_mean = d["sum_err"] / d["n_cases"]
        else:
            self._err_mean = np.full(self._K, d["sum_err"].sum() / (d["n_cases"] * self._K))
        sse = d["sse"]
        # SSE > 0 whenever an error bit is left (|dif| >= threshold) unless the prime offset is
        # 0 and the outputs saturate; then the pool has nothing to correlate with
        self._inv_sse = 1.0 / sse if sse > 0.0 else 0.0
        self._cand_i = -1  # the correlations epoch comes first
        self._in_first, self._in_last = True, 0.0
        self._in_quit = int(self.params["inlimit"])
        self._phase = CANDIDATE

    def _candidate_epoch(self) -> None:
        from .kernel import candidate_epoch

        p, d = self.params, self._data
        n = self._n
        train = self._cand_i >= 0
        candidate_epoch(d["values"], n, d["breaks"], d["errors"], self._err_mean,
                        self._inv_sse, self._cw, self._prev_cor, train, self._cor, self._sum_v,
                        self._cs, self._dv, self._vprev)
        self.candidate_epochs += 1
        if train:
            quickprop_update(self._cw, self._cd, self._cs, self._cp,
                             float(p["input_epsilon"]) / (d["n_cases"] * n),
                             float(p["input_decay"]), float(p["input_mu"]))
        self._adjust_correlations()
        if not train:
            self._cand_i = 0
            return
        # cascor1 TRAIN-INPUTS: stagnation (quit starts at inlimit) and timeout
        self._in_first, self._in_last, self._in_quit, ended = patience_rule(
            self._in_first, self._in_last, self._in_quit, self._best_score, self._cand_i,
            int(p["input_patience"]), float(p["input_change_threshold"]))
        self._cand_i += 1
        if ended or self._cand_i >= int(p["inlimit"]):
            self._install()

    def _adjust_correlations(self) -> None:
        """cascor1 ADJUST-CORRELATIONS: covariances of the pass just made, over SSE, into
        ``prev_cor``; the best candidate by Σ_o |covariance|."""
        self._prev_cor[...] = ((self._cor - self._sum_v[:, None] * self._err_mean[None, :])
                               * self._inv_sse)
        self._cor[...] = 0.0
        scores = np.abs(self._prev_cor).sum(axis=1)
        self._best = int(np.argmax(scores))
        self._best_score = float(scores[self._best])

    def _install(self) -> None:
        """cascor1 INSTALL-NEW-UNIT: freeze the best candidate (self-weight included) as the next
        hidden unit, start its output weights at −covariance · multiplier, add its column to the
        cache in time order, and draw a fresh pool."""
        from .kernel import unit_column

        u, h, n, d = self._best, self._H, self._n, self._data
        self._hw[h, :n] = self._cw[u, :n]
        self._hs[h] = self._cw[u, n]
        self._ow[:, n] = -self._prev_cor[u] * float(self.params["weight_multiplier"])
        unit_column(d["values"], n, d["breaks"], self._hw[h], self._hs[h], n)
        self._H += 1
        self._new_pool()
        self._phase = OUTPUT
        self._start_output_phase()

    # -- running ----------------------------------------------------------------------------
    def predict(self, block: SequenceBlock) -> np.ndarray:
        from .kernel import forward

        out = np.zeros((len(block), block.inputs.shape[1], self._K))
        H, n = self._H, self._n
        forward(block.inputs, block.lengths, self._hw, self._hs, H,
                np.ascontiguousarray(self._ow[:, :n]), self.params["output_type"] == "linear",
                self._low, self._span, out)
        return out

    def compile(self) -> None:
        """Warm the kernels up on a throw-away problem; the learner is untouched."""
        from .kernel import candidate_epoch, forward, output_epoch, unit_column

        m, K = self._m, self._K
        values = np.ones((2, m + 2))
        breaks = np.array([True, False])
        unit_column(values, m + 1, breaks, np.zeros(m + 2), 0.0, m + 1)
        errors, ow = np.zeros((2, K)), np.zeros((K, m + 2))
        output_epoch(values, m + 2, np.zeros((2, K)), np.ones(2, np.bool_), ow,
                     np.zeros((K, m + 2)), errors, np.zeros(K), 0.1, 0.4, False, False)
        cw = np.zeros((1, m + 3))
        candidate_epoch(values, m + 2, breaks, errors, np.zeros(K), 1.0, cw, np.zeros((1, K)),
                        True, np.zeros((1, K)), np.zeros(1), np.zeros((1, m + 3)),
                        np.zeros((1, m + 3)), np.zeros(1))
        forward(np.zeros((1, 2, m)), np.array([2]), np.zeros((1, m + 2)), np.zeros(1), 1, ow,
                False, 0.0, 1.0, np.zeros((1, 2, K)))
