"""The LSTM97 learner: the 1997 memory-cell architecture trained with its truncated on-line rule."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, StepRule, TaskSpec
from seqbench.errors import ParamError
from seqbench.params import Param, neutral

from .construction import ErrorPlateau, stage_index
from .network import (BIAS_CHOICES, RECURRENCE_CHOICES, SQUASH, Layout, build_layout,
                      initial_peepholes, initial_weights, peephole_mask)

UPDATE_MODES = {"step": 0, "sequence": 1}
STEP, SEQUENCE, ACCUMULATE, FORWARD = 0, 1, 2, -1
_NO_DELTAS = np.zeros((0, 0, 1))
_NO_STOP = StepRule(-1.0)
#: the lane counts of the kernel calls a batch is cut into (largest first)
LANE_COUNTS = (16, 8, 4, 2, 1)


class LSTM97(Learner):
    """Hochreiter & Schmidhuber's 1997 LSTM: memory blocks with input and output gates, no forget
    gate, constant error carrousel of self-weight 1, truncated gradient (docs/learners.md §2).

    Squashing functions are named by range: ``sym2`` is 4σ−2 in [−2,2], ``sym1`` is 2σ−1 in
    [−1,1], ``logistic`` is σ in [0,1]. The paper's text uses g = sym2 and h = sym1; the caption
    of its Table 10 swaps them (docs/learners.md §2.1).
    """

    name = "lstm97"
    aliases = ("lstm",)
    summary = "1997 LSTM (input/output gates, CEC, truncated online RTRL-style rule)"
    params = {
        "blocks": Param(3, "number of memory blocks", "int", low=1, high=10_000),
        "block_size": Param(2, "memory cells per block", "int", low=1, high=10_000),
        "output_gate": Param(True, "whether blocks have output gates", "bool"),
        "connectivity": Param("F", "F: hidden layer fully recurrent, outputs see cells only; "
                              "B: each layer sees all layers below (docs/learners.md §2.2)", "str",
                              choices=("F", "B")),
        "bias": Param("gates", "units with bias weights (Table 10: ga=gates, b1=hidden, "
                      "all=all non-input units)", "str", choices=BIAS_CHOICES),
        "learning_rate": Param(0.5, "learning rate alpha", "float", low=0.0, high=1e6),
        "init_range": Param(0.1, "initial weights uniform in [-r, r]", "float", low=0.0, high=1e3),
        "random_bias_range": Param(None, "interval of random ('r') gate biases; none: init_range",
                                   "float", low=0.0, high=1e3, nullable=True),
        "input_gate_bias": Param((), "initial input-gate bias per block; empty: random", "floats"),
        "output_gate_bias": Param((), "initial output-gate bias per block; empty: random", "floats"),
        "g": Param("sym2", "cell input squashing g", "str", choices=tuple(SQUASH)),
        "h": Param("sym1", "cell output squashing h", "str", choices=tuple(SQUASH)),
        "update": Param("step", "apply weight changes every time step (the paper's on-line "
                        "learning) or summed at each sequence end", "str",
                        choices=tuple(UPDATE_MODES)),
        "construction": Param("fixed", "fixed: all blocks from the start; sequential: start "
                              "without blocks and add one each time the training error stops "
                              "decreasing (docs/learners.md §2.7, Exp. 2a/2b)", "str",
                              choices=("fixed", "sequential")),
        "grow_window": Param(100, "sequential construction: training sequences per window of "
                             "mean error", "int", low=1, high=10_000_000),
        "grow_tolerance": Param(0.01, "sequential construction: a block is added when a window's "
                                "mean error is not below (1 - tolerance) x the best window since "
                                "the last addition", "float", low=0.0, high=1.0),
        "grown_block_outgoing": neutral("drawn", "sequential construction: the weights leaving "
                                        "an added block start as drawn at the start (drawn) or "
                                        "at zero, so the net's outputs do not change when it "
                                        "is added (zero)", "str", choices=("drawn", "zero")),
        # later LSTMs (Gers et al. 2000, Gers & Schmidhuber 2000; docs/learners.md §2.9) and the
        # conventions of the authors' later simulator (the Table 1 audit); neutral: each leaves
        # the 1997 net, its draws and its trials' resume keys as they were
        "forget_gate": neutral(False, "a forget gate per block scales the cells' states each "
                               "step (Gers et al. 2000)", "bool"),
        "forget_gate_bias": neutral((), "initial forget-gate bias per block (Gers 2000: "
                                    "0.5,1,1.5,2); empty: random", "floats"),
        "peepholes": neutral(False, "each cell's state feeds its block's gates (input and "
                             "forget: the previous state; output: the updated one)", "bool"),
        "recurrence": neutral("all", "connectivity F: gates and cells read every hidden unit "
                              "of the previous step (all), or only the cells (cells, Gers 2000)",
                              "str", choices=RECURRENCE_CHOICES),
        "output_shortcuts": neutral(False, "outputs also read the inputs (Gers 2000)", "bool"),
        "state_decay": neutral(1.0, "every state is multiplied by this factor each step before "
                               "the new input is added (Gers 2000's 'state decay' baseline)",
                               "float", low=0.0, high=1.0),
        "learning_rate_decay": neutral(1.0, "the learning rate is multiplied by this factor "
                                       "after every step; it starts again from learning_rate "
                                       "at each training stream of a continual task",
                                       "float", low=0.0, high=1.0),
        "reset_activation": neutral(0.0, "activation of gates and cells after a reset (the "
                                    "authors' later simulator: 0.5); states reset to 0",
                                    "float", low=-1e3, high=1e3),
        "drift_probe": neutral(False, "record how far the initial net's states drift over the "
                               "first training sequence (diagnostics; changes no result)",
                               "bool"),
        "bias_offsets": neutral(False, "given gate biases are added to the bias weight's random "
                                "draw instead of replacing it (the later simulator)", "bool"),
    }

    #: the final network (all blocks)
    full_layout: Layout
    #: the network as it runs now: the final one, or its first blocks during sequential construction
    layout: Layout
    wh: np.ndarray
    wo: np.ndarray
    #: sequential construction: training sequences seen when each block was added
    grown_at: list[int]

    def _layout(self, blocks: int) -> Layout:
        p, spec = self.params, self._spec
        return build_layout(spec.n_inputs, spec.n_outputs, blocks, p["block_size"],
                            p["output_gate"], p["connectivity"], p["bias"],
                            forget_gate=_option(p, "forget_gate"),
                            recurrence=_option(p, "recurrence"),
                            output_shortcuts=_option(p, "output_shortcuts"))

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        p = self.params
        self._spec = spec
        sequential = p["construction"] == "sequential"
        if sequential and (_option(p, "forget_gate") or _option(p, "peepholes")
                           or _option(p, "recurrence") != "all" or _option(p, "output_shortcuts")):
            raise ParamError("construction=sequential grows the 1997 net only; it does not "
                             "combine with forget_gate, peepholes, recurrence=cells or "
                             "output_shortcuts")
        if _option(p, "forget_gate") and _option(p, "state_decay") != 1.0:
            raise ParamError("state_decay is the fixed stand-in for a forget gate; use one of "
                             "forget_gate and state_decay, not both")
        self.full_layout = self._layout(p["blocks"])
        self._full_wh, self._full_wo = initial_weights(
            self.full_layout, rng, p["init_range"], p["random_bias_range"],
            tuple(p["input_gate_bias"]), tuple(p["output_gate_bias"]),
            tuple(_option(p, "forget_gate_bias")), _option(p, "bias_offsets"),
        )
        self.wp = initial_peepholes(self.full_layout, rng, p["init_range"],
                                    _option(p, "peepholes"))
        self.alpha = float(p["learning_rate"])
        self._carry = None  # a continual stream's state between calls
        self.drift = None  # the drift probe's findings, once made
        self.grown_at = []
        self._seen = 0
        self._index = None  # where the running stage's weights sit in the final net's
        self._plateau = None
        if p["construction"] == "sequential":
            self._plateau = ErrorPlateau(p["grow_window"], p["grow_tolerance"])
            self._enter_stage(0)
        else:
            self._enter_stage(self.full_layout.n_blocks)

    def _enter_stage(self, blocks: int) -> None:
        """Run the net with its first ``blocks`` blocks, saving the current stage's weights."""
        if self._index is not None:
            self._full_wh[np.ix_(*self._index[:2])] = self.wh
            self._full_wo[:, self._index[2]] = self.wo
        if blocks == self.full_layout.n_blocks:
            self.layout, self.wh, self.wo = self.full_layout, self._full_wh, self._full_wo
            self._index = None
        else:
            self.layout = self._layout(blocks)
            self._index = stage_index(self.full_layout, self.layout)
            self.wh = self._full_wh[np.ix_(*self._index[:2])]
            self.wo = np.ascontiguousarray(self._full_wo[:, self._index[2]])
        if blocks and self.grown_at and _option(self.params, "grown_block_outgoing") == "zero":
            self._silence_block(blocks - 1)

    def _silence_block(self, j: int) -> None:
        """Zero every weight leaving block ``j`` (its cells and gates as sources of the hidden
        layer, its cells as sources of the outputs), so that the net computes what it computed
        before the block was added."""
        L = self.layout
        units = [L.in_gate[j], *L.cell_unit[L.cell_block == j]]
        if L.out_gate[j] >= 0:
            units.append(L.out_gate[j])
        self.wh[:, units] = 0.0
        self.wo[:, L.n_inputs + np.flatnonzero(L.cell_block == j)] = 0.0

    @property
    def growing(self) -> bool:
        """Whether sequential construction still has blocks to add."""
        return self.layout is not self.full_layout

    @property
    def n_weights(self) -> int:
        """Weights of the final network (during sequential construction too)."""
        return self.full_layout.n_weights + int(self._peep_mask().sum())

    def _peep_mask(self) -> np.ndarray:
        return peephole_mask(self.full_layout, _option(self.params, "peepholes"))

    #: trials of one configuration train together in one kernel call, as SIMD lanes
    #: (:meth:`train_batch`); 16 lanes fill four AVX2 (two AVX-512) registers per operation
    batch_lanes = 16

    def compile(self) -> None:
        from .kernel import run_lanes  # noqa: F401  (import triggers loading the cached kernel)

        tiny = SequenceBlock(
            np.zeros((1, 2, self.layout.n_inputs)), np.zeros((1, 2, self.layout.n_outputs)),
            np.ones((1, 2), bool), np.array([2]),
        )
        one_hot = SequenceBlock(tiny.inputs, tiny.targets, tiny.target_mask, tiny.lengths,
                                input_symbols=np.zeros((1, 2), np.int64))
        saved = (self.wh.copy(), self.wo.copy(), self.wp.copy(), self.alpha)
        for block in (tiny, one_hot):
            for lanes in LANE_COUNTS:
                self._run_lanes([self] * lanes, [block] * lanes, STEP)
            self._run([self], [block], FORWARD)
        self.wh[:], self.wo[:], self.wp[:], self.alpha = saved

    @staticmethod
    def _run(learners: list[LSTM97], blocks: list[SequenceBlock], mode: int,
             alpha: float | None = None) -> list[np.ndarray]:
        """Run ``learners`` (one network layout) on one block each, together, in ``mode``:
        in kernel calls of 16, 8, 4, 2 and 1 lanes (the lane counts compiled once and cached),
        so that no other lane count ever triggers a compilation."""
        found: list[np.ndarray] = []
        start = 0
        for size in LANE_COUNTS:
            while len(learners) - start >= size:
                found += LSTM97._run_lanes(learners[start:start + size],
                                           blocks[start:start + size], mode, alpha)
                start += size
        return found

    @staticmethod
    def _run_lanes(learners: list[LSTM97], blocks: list[SequenceBlock], mode: int,
                   alpha: float | None = None, carry: _Carry | None = None,
                   rule: StepRule = _NO_STOP, stopped_at: np.ndarray | None = None,
                   ) -> list[np.ndarray]:
        """One kernel call. ``carry`` (one lane only) continues a stream from the state the
        last call left, and keeps the state this one leaves; ``rule`` stops a lane at its first
        wrong step (recorded in ``stopped_at``)."""
        first = learners[0]
        L, p = first.layout, first.params
        wh = np.stack([ln.wh for ln in learners], axis=-1)
        wo = np.stack([ln.wo for ln in learners], axis=-1)
        wp = np.stack([ln.wp[:, :L.n_cells] for ln in learners], axis=-1)
        alphas = np.array([ln.alpha if alpha is None else alpha for ln in learners])
        out, dwh, dwo, dwp = run_kernel(L, p, blocks, wh, wo, wp, alphas, mode, carry, rule,
                                        stopped_at)
        for i, ln in enumerate(learners):
            if mode in (STEP, SEQUENCE):
                ln.wh[...] = wh[..., i]
                ln.wo[...] = wo[..., i]
                ln.wp[:, :L.n_cells] = wp[..., i]
                if alpha is None:
                    ln.alpha = float(alphas[i])
            elif mode == ACCUMULATE:
                ln._dwh, ln._dwo, ln._dwp = dwh[..., i], dwo[..., i], dwp[..., i]
        return out

    @classmethod
    def train_batch(cls, learners, blocks):
        """Train independent trials of one configuration together, each on its own block; a
        network still growing (sequential construction) trains on its own. Each result equals
        what :meth:`train` alone would give, to the bit."""
        for ln, block in zip(learners, blocks):
            ln._probe_drift(block)
        outputs: list[np.ndarray | None] = [None] * len(learners)
        together = [i for i, ln in enumerate(learners) if not ln.growing]
        for i, ln in enumerate(learners):
            if ln.growing:
                outputs[i] = ln.train(blocks[i])
        if together:
            mode = UPDATE_MODES[learners[together[0]].params["update"]]
            found = cls._run([learners[i] for i in together], [blocks[i] for i in together],
                             mode)
            for i, out in zip(together, found):
                learners[i]._seen += len(blocks[i])
                outputs[i] = out
        return outputs

    def train(self, block: SequenceBlock) -> np.ndarray:
        self._probe_drift(block)
        mode = UPDATE_MODES[self.params["update"]]
        if not self.growing:
            self._seen += len(block)
            return self._run([self], [block], mode)[0]
        # split the block where construction windows end, so a block is added exactly there
        out = np.zeros((len(block), block.inputs.shape[1], self.layout.n_outputs))
        start = 0
        while start < len(block):
            stop = min(len(block), start + self._plateau.left) if self.growing else len(block)
            part = block.take(slice(start, stop))
            part_out = self._run([self], [part], mode)[0]
            out[start:stop, : part_out.shape[1]] = part_out
            self._seen += stop - start
            if self.growing and self._plateau.feed(_sequence_errors(part, part_out)):
                self.grown_at.append(self._seen)
                self._enter_stage(self.layout.n_blocks + 1)
                self._plateau.reset()
            start = stop
        return out

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return self._run([self], [block], FORWARD)[0]

    # -- continual streams (Gers et al. 2000's continual embedded Reber grammar) ----------------
    continual = True

    def start_stream(self, training: bool) -> None:
        """Reset activations and states; a training stream also starts the learning rate
        afresh (Gers 2000: 0.5 at the start of every training stream, then its decay)."""
        self._carry = None
        if training:
            self.alpha = float(self.params["learning_rate"])

    def train_steps(self, block: SequenceBlock, rule: StepRule, resets: bool) -> tuple[int, bool]:
        return self._stream_steps(block, rule, resets, STEP)

    def test_steps(self, block: SequenceBlock, rule: StepRule, resets: bool) -> tuple[int, bool]:
        return self._stream_steps(block, rule, resets, FORWARD)

    def _stream_steps(self, block, rule, resets, mode) -> tuple[int, bool]:
        if self.growing:
            raise ParamError("construction=sequential does not run continual streams")
        if self.params["update"] != "step":
            raise ParamError("continual streams learn at every step (update=step)")
        if self._carry is None:
            self._carry = _Carry(self.layout, 1, _option(self.params, "peepholes"))
        self._carry.resets = resets
        stopped = np.zeros(1, np.int64)
        self._run_lanes([self], [block], mode, carry=self._carry, rule=rule, stopped_at=stopped)
        if stopped[0] >= 0:
            return int(stopped[0]) + 1, True
        return block.n_steps, False

    def gradient(self, block: SequenceBlock) -> tuple[np.ndarray, np.ndarray]:
        """The truncated rule's weight change per unit learning rate, summed over the block,
        with weights frozen (the negative gradient of ½Σ(target−y)² under the truncation)."""
        self._run([self], [block], ACCUMULATE, alpha=1.0)
        return self._dwh.copy(), self._dwo.copy()

    # -- the gradient protocol of seqbench.testing ----------------------------------------------
    #: the rule follows the truncated gradient (error crosses time steps only through the CECs)
    gradient_truncated = True

    def _masks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.layout.hidden_mask(), self.layout.output_mask(), self._peep_mask()

    def get_weights(self) -> np.ndarray:
        """A copy of the running network's weights, hidden, output, then peephole weights, as
        one flat array."""
        hidden, output, peep = self._masks()
        return np.concatenate([self.wh[hidden], self.wo[output], self.wp[peep]])

    def set_weights(self, weights: np.ndarray) -> None:
        """Set the running network's weights from a flat array in :meth:`get_weights` order."""
        hidden, output, peep = self._masks()
        a, b = int(hidden.sum()), int(hidden.sum() + output.sum())
        self.wh[hidden] = weights[:a]
        self.wo[output] = weights[a:b]
        self.wp[peep] = weights[b:]

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        """dE/dw of E = ½Σ(target−y)² under the truncation, in :meth:`get_weights` order."""
        dwh, dwo = self.gradient(block)
        hidden, output, peep = self._masks()
        return -np.concatenate([dwh[hidden], dwo[output], self._dwp[peep]])

    def __setstate__(self, state: dict) -> None:
        # checkpoints written before peepholes and learning-rate schedules existed
        state.setdefault("alpha", float(state["params"]["learning_rate"]))
        state.setdefault("_carry", None)
        if "wp" not in state and "full_layout" in state:
            state["wp"] = np.zeros((3, state["full_layout"].n_cells))
        self.__dict__.update(state)

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.wh).all() and np.isfinite(self.wo).all()
                    and np.isfinite(self.wp).all())

    def _probe_drift(self, block: SequenceBlock) -> None:
        """With ``drift_probe``, before the first weight change: how far the initial net's
        states drift over the first training sequence (H&S97 Sec. 4's internal state drift)."""
        if not _option(self.params, "drift_probe") or getattr(self, "drift", None) is not None:
            return
        from . import reference

        n = int(block.lengths[0])
        run = reference.run_sequence(
            self.layout, self.wh, self.wo, block.inputs[0, :n], block.targets[0, :n],
            block.target_mask[0, :n], self.params["g"], self.params["h"], mode="forward",
            wp=self.wp[:, :self.layout.n_cells] if _option(self.params, "peepholes") else None,
            state_decay=_option(self.params, "state_decay"),
            reset_activation=_option(self.params, "reset_activation"))
        if not self.layout.n_cells:
            self.drift = {}
            return
        s_end = np.abs(run[5][-1][2])
        slope = reference.SQUASH[self.params["h"]][1]
        ratio = slope(s_end) / slope(np.zeros(1))[0]
        self.drift = {"initial_state_end_max_abs": float(s_end.max()),
                      "initial_state_end_median_abs": float(np.median(s_end)),
                      "initial_h_slope_end_min": float(ratio.min()),
                      "initial_cells_saturated": int((ratio < 0.1).sum())}

    def diagnostics(self) -> dict[str, float]:
        """Sequential construction: ``block_<k>_added_at``, the training sequences seen when
        block k was added (Exp. 2a/2b's cell). With ``drift_probe``: the initial net's state
        drift over the first training sequence (``initial_state_end_max_abs`` and ``_median_abs``:
        |s| of its cells at the sequence end; ``initial_h_slope_end_min``: the smallest
        h'(s_end)/h'(0); ``initial_cells_saturated``: cells where that ratio is below 0.1)."""
        found = {f"block_{k}_added_at": n for k, n in enumerate(self.grown_at, start=1)}
        return {**found, **(getattr(self, "drift", None) or {})}


def _option(params, name: str):
    """A parameter's value, or its declared default when ``params`` (built by hand rather than
    resolved by the harness) leaves it out."""
    return params[name] if name in params else LSTM97.params[name].default


def run_kernel(layout: Layout, params, blocks: list[SequenceBlock], wh, wo, wp, alphas,
               mode: int, carry: _Carry | None = None, rule: StepRule = _NO_STOP,
               stopped_at: np.ndarray | None = None):
    """One call of the kernel on one block per lane, weights ``wh``, ``wo``, ``wp`` and learning
    rates ``alphas`` with the lanes last (changed in place, as ``mode`` says); returns the
    outputs per block and the summed changes ``dwh``, ``dwo``, ``dwp`` (modes sequence and
    accumulate). ``params`` are the learner's parameters (squashings, options)."""
    from seqbench.lanes import pack

    from .kernel import run_lanes

    p = params
    lanes = pack(blocks)
    if carry is not None:  # a stream goes on: reset only where the caller says so
        lanes.first[:] = carry.first_flags(lanes)
    keep = mode in (SEQUENCE, ACCUMULATE)
    dwh = np.zeros_like(wh) if keep else _NO_DELTAS
    dwo = np.zeros_like(wo) if keep else _NO_DELTAS
    dwp = np.zeros_like(wp) if keep else _NO_DELTAS
    state = carry or _Carry(layout, len(blocks), _option(p, "peepholes"))
    stops = np.zeros(len(blocks), np.int64) if stopped_at is None else stopped_at
    out = lanes.outputs()
    run_lanes(
        lanes.x, lanes.sym, lanes.xval, lanes.targets, lanes.tsym, lanes.target_mask, lanes.first,
        lanes.last, wh, wo, wp, layout.h_lo, layout.h_hi, layout.o_lo, layout.o_hi,
        layout.in_gate, layout.out_gate, layout.forget_gate, layout.cell_unit, layout.cell_block,
        SQUASH[p["g"]], SQUASH[p["h"]], bool(_option(p, "peepholes")),
        float(_option(p, "state_decay")), float(_option(p, "reset_activation")),
        alphas, float(_option(p, "learning_rate_decay")), mode,
        state.src, state.state, state.tr_cell, state.tr_gate, state.tr_forget,
        state.tr_pin, state.tr_pf, float(rule.tolerance), bool(rule.squared), stops,
        dwh, dwo, dwp, out, (0.0,) * len(blocks),
    )
    return lanes.unpack(out, blocks), dwh, dwo, dwp


class _Carry:
    """What a stream carries from one kernel call to the next: previous activations, states and
    traces (the kernel's layout of them, lanes last)."""

    def __init__(self, layout: Layout, lanes: int, peepholes: bool):
        n_src, n_cells = layout.n_src, layout.n_cells
        self.src = np.zeros((n_src, lanes))
        self.state = np.zeros((n_cells, lanes))
        self.tr_cell = np.zeros((n_cells, n_src, lanes))
        self.tr_gate = np.zeros((n_cells, n_src, lanes))
        self.tr_forget = np.zeros((n_cells, n_src, lanes) if layout.has_forget_gates
                                  else (0, 0, lanes))
        self.tr_pin = np.zeros((n_cells, n_cells, lanes) if peepholes else (0, 0, lanes))
        self.tr_pf = np.zeros_like(self.tr_pin)
        #: a stream that has not run a step yet starts with a reset
        self.fresh = True
        #: external resets at every sequence start of a block (else state flows on)
        self.resets = True

    def first_flags(self, lanes) -> np.ndarray:
        """The reset marks for the packed steps of the next call."""
        flags = lanes.first.copy() if self.resets else np.zeros_like(lanes.first)
        if self.fresh:
            flags[0] = True
            self.fresh = False
        return flags


def _sequence_errors(block: SequenceBlock, outputs: np.ndarray) -> np.ndarray:
    """Per sequence: summed squared output error over its steps with targets."""
    valid = np.arange(outputs.shape[1])[None, :] < block.lengths[:, None]
    squared = ((block.targets - outputs) ** 2).sum(axis=2)
    return np.where(valid & block.target_mask, squared, 0.0).sum(axis=1)
