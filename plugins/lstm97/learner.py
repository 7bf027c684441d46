"""The LSTM97 learner: the 1997 memory-cell architecture trained with its truncated on-line rule."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, TaskSpec
from seqbench.params import Param

from .construction import ErrorPlateau, stage_index
from .network import BIAS_CHOICES, SQUASH, Layout, build_layout, initial_weights

UPDATE_MODES = {"step": 0, "sequence": 1}
STEP, SEQUENCE, ACCUMULATE, FORWARD = 0, 1, 2, -1
_NO_DELTAS = np.zeros((0, 0, 1))
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
    }

    #: the final network (all blocks)
    full_layout: Layout
    #: the network as it runs now: the final one, or its first blocks during sequential construction
    layout: Layout
    wh: np.ndarray
    wo: np.ndarray
    #: sequential construction: training sequences seen when each block was added
    grown_at: list[int]

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        p = self.params
        self._spec = spec
        self.full_layout = build_layout(
            spec.n_inputs, spec.n_outputs, p["blocks"], p["block_size"], p["output_gate"],
            p["connectivity"], p["bias"],
        )
        self._full_wh, self._full_wo = initial_weights(
            self.full_layout, rng, p["init_range"], p["random_bias_range"],
            tuple(p["input_gate_bias"]), tuple(p["output_gate_bias"]),
        )
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
            p, spec = self.params, self._spec
            self.layout = build_layout(spec.n_inputs, spec.n_outputs, blocks, p["block_size"],
                                       p["output_gate"], p["connectivity"], p["bias"])
            self._index = stage_index(self.full_layout, self.layout)
            self.wh = self._full_wh[np.ix_(*self._index[:2])]
            self.wo = np.ascontiguousarray(self._full_wo[:, self._index[2]])

    @property
    def growing(self) -> bool:
        """Whether sequential construction still has blocks to add."""
        return self.layout is not self.full_layout

    @property
    def n_weights(self) -> int:
        """Weights of the final network (during sequential construction too)."""
        return self.full_layout.n_weights

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
        wh, wo = self.wh.copy(), self.wo.copy()
        for block in (tiny, one_hot):
            for lanes in LANE_COUNTS:
                self._run_lanes([self] * lanes, [block] * lanes, STEP)
            self._run([self], [block], FORWARD)
        self.wh[:], self.wo[:] = wh, wo

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
                   alpha: float | None = None) -> list[np.ndarray]:
        from seqbench.lanes import pack

        from .kernel import run_lanes

        first = learners[0]
        L = first.layout
        lanes = pack(blocks)
        wh = np.stack([ln.wh for ln in learners], axis=-1)
        wo = np.stack([ln.wo for ln in learners], axis=-1)
        keep = mode in (SEQUENCE, ACCUMULATE)
        dwh = np.zeros_like(wh) if keep else _NO_DELTAS
        dwo = np.zeros_like(wo) if keep else _NO_DELTAS
        out = lanes.outputs()
        run_lanes(
            lanes.x, lanes.sym, lanes.xval, lanes.targets, lanes.target_mask, lanes.first,
            lanes.last, wh, wo, L.h_lo, L.h_hi, L.o_lo, L.o_hi,
            L.in_gate, L.out_gate, L.cell_unit, L.cell_block,
            SQUASH[first.params["g"]], SQUASH[first.params["h"]],
            float(first.params["learning_rate"] if alpha is None else alpha), mode,
            dwh, dwo, out, (0.0,) * len(learners),
        )
        for i, ln in enumerate(learners):
            if mode in (STEP, SEQUENCE):
                ln.wh[...] = wh[..., i]
                ln.wo[...] = wo[..., i]
            elif mode == ACCUMULATE:
                ln._dwh, ln._dwo = dwh[..., i], dwo[..., i]
        return lanes.unpack(out, blocks)

    @classmethod
    def train_batch(cls, learners, blocks):
        """Train independent trials of one configuration together, each on its own block; a
        network still growing (sequential construction) trains on its own. Each result equals
        what :meth:`train` alone would give, to the bit."""
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

    def gradient(self, block: SequenceBlock) -> tuple[np.ndarray, np.ndarray]:
        """The truncated rule's weight change per unit learning rate, summed over the block,
        with weights frozen (the negative gradient of ½Σ(target−y)² under the truncation)."""
        self._run([self], [block], ACCUMULATE, alpha=1.0)
        return self._dwh.copy(), self._dwo.copy()

    # -- the gradient protocol of seqbench.testing ----------------------------------------------
    #: the rule follows the truncated gradient (error crosses time steps only through the CECs)
    gradient_truncated = True

    def get_weights(self) -> np.ndarray:
        """A copy of the running network's weights, hidden then output, as one flat array."""
        return np.concatenate([self.wh[self.layout.hidden_mask()],
                               self.wo[self.layout.output_mask()]])

    def set_weights(self, weights: np.ndarray) -> None:
        """Set the running network's weights from a flat array in :meth:`get_weights` order."""
        hidden, output = self.layout.hidden_mask(), self.layout.output_mask()
        n_hidden = int(hidden.sum())
        self.wh[hidden] = weights[:n_hidden]
        self.wo[output] = weights[n_hidden:]

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        """dE/dw of E = ½Σ(target−y)² under the truncation, in :meth:`get_weights` order."""
        dwh, dwo = self.gradient(block)
        return -np.concatenate([dwh[self.layout.hidden_mask()], dwo[self.layout.output_mask()]])

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.wh).all() and np.isfinite(self.wo).all())

    def diagnostics(self) -> dict[str, float]:
        """Sequential construction: ``block_<k>_added_at``, the training sequences seen when
        block k was added (Exp. 2a/2b's cell)."""
        return {f"block_{k}_added_at": n for k, n in enumerate(self.grown_at, start=1)}


def _sequence_errors(block: SequenceBlock, outputs: np.ndarray) -> np.ndarray:
    """Per sequence: summed squared output error over its steps with targets."""
    valid = np.arange(outputs.shape[1])[None, :] < block.lengths[:, None]
    squared = ((block.targets - outputs) ** 2).sum(axis=2)
    return np.where(valid & block.target_mask, squared, 0.0).sum(axis=1)
