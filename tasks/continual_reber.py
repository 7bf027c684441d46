"""The continual embedded Reber grammar (Gers, Schmidhuber & Cummins 2000, Sec. 4, Table 2).

docs/protocol.md §12. Embedded Reber strings (the grammar of tasks/reber.py, every choice a fair
coin) are concatenated into one endless stream with no reset where a string ends; the learner
predicts at every symbol the set of legal next symbols, and a stream ends at its first wrong
prediction. It is a continual task (seqbench.continual): the harness's unit of work is a
training stream, and a trial is solved when, after some training stream, every one of the
frozen learner's test streams runs to the test cap without a mistake.

Coding: 7 one-hot inputs (``B T P S X V E``, the input symbol) and 7 outputs whose target is
1 for every legal successor of the input symbol and 0 for the others; the successor of a
string's final ``E`` is ``B``, the next string's first symbol. A string of n symbols gives n
prediction steps and is one row of a block; a block's rows follow each other in the stream.

Choices the sources leave open, and what this task does (each a parameter):

``error`` and ``tolerance``
    a prediction is wrong when some output's error is 0.49 or more; the secondary sources
    disagree whether the error is ``absolute`` (default, |target − y|: each output on its
    target's side of 0.5, as the 1997 success rules read) or ``squared``.
``training_cap``
    a training stream also ends after this many symbols: 100,000 (default) or 1,000,000.
``resets``
    False (default): no reset anywhere, the task itself. True: the learner is reset at every
    string start, the external resets of the paper's baseline row.
``test_cap``, ``test_streams``, ``good_length``
    perfect = every one of the 10 test streams of a round reaches 1,000,000 symbols; good = a
    mean test-stream length above 1,000.

Randomness: training stream i draws its strings from its own generator, seeded from the trial's
data stream and i, and test stream j of the round after r training streams from one seeded from
the trial's test stream, r and j. So a stream never depends on how long the streams before it
were, every learner meets the same streams at the same trial, and the test streams are fresh in
every round and independent of training.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.continual import CONTINUAL, ContinualPerfect
from seqbench.contracts import StepRule, Task, TaskRun, TaskSpec, TaskStreams
from seqbench.hookspecs import hookimpl
from seqbench.params import Param

from .reber import (
    _BRANCHES, _COINS, _EDGE_NEXT, _EDGE_SYMBOL, INDEX, REBER_EDGES, SYMBOLS, _StringSource)

#: strings in a stream's first block; each next block doubles, up to ``chunk_strings``, so a
#: stream that ends early costs little to generate
FIRST_CHUNK = 8
#: room for the longest string a walk may give (the longest of a million strings has about
#: 55 symbols, the mean is 12)
_SCRATCH = 4096

K = len(SYMBOLS)
_BIT = {s: 1 << INDEX[s] for s in SYMBOLS}
#: the Reber graph as tables: the state each symbol leads to (_END past the final E) and each
#: state's legal next symbols as a bit mask over SYMBOLS
_END = len(REBER_EDGES)
_NEXT = np.full((_END + 1, K), _END, np.int64)
_EMITS = np.zeros(_END + 1, np.int64)
for _state, _edges in REBER_EDGES.items():
    for _symbol, _after in _edges:
        _NEXT[_state, INDEX[_symbol]] = _END if _after is None else _after
        _EMITS[_state] |= _BIT[_symbol]
#: symbol index by ASCII code
_CODE = np.zeros(128, np.int64)
for _i, _s in enumerate(SYMBOLS):
    _CODE[ord(_s)] = _i


class _StreamSource(_StringSource):
    """tasks/reber.py's string source, walking many strings per numba call: the same strings,
    from the same coins, as its ``next()`` gives one by one."""

    def __init__(self, rng: np.random.Generator):
        super().__init__(rng)
        self.scratch = np.zeros(_SCRATCH, np.int64)

    def take(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``count`` strings: their symbol indices end to end, and their lengths."""
        from .continual_walk import OUT_OF_COINS, walk_strings

        symbols, lengths = [], []
        while count > 0:
            room = np.empty(24 * count + _SCRATCH, np.int64)
            sizes = np.empty(count, np.int64)
            k, w, self.pos, why = walk_strings(self.coins, self.pos, _EDGE_SYMBOL, _EDGE_NEXT,
                                               _BRANCHES, count, room, sizes, self.scratch)
            symbols.append(room[:w])
            lengths.append(sizes[:k])
            count -= k
            if why == OUT_OF_COINS:  # append more coins (the same stream), as next() does
                more = self.rng.integers(2, size=_COINS)
                self.coins = np.concatenate([self.coins[self.pos:], more])
                self.pos = 0
        return np.concatenate(symbols), np.concatenate(lengths)


def encode(index: np.ndarray, lengths: np.ndarray, buffers: dict | None = None
           ) -> SequenceBlock:
    """Consecutive strings of the stream as a block, one string per row (``index``: their
    symbol indices end to end): input = the symbol (``input_symbols`` gives its index), target
    = every legal next symbol. With ``buffers`` (a dict the caller keeps) the block's arrays
    reuse the memory of the previous block's, which they overwrite."""
    from .continual_walk import fill_block

    n, steps = len(lengths), int(lengths.max())
    inputs, targets = _zeros(buffers, "inputs", (n, steps, K)), _zeros(buffers, "targets",
                                                                        (n, steps, K))
    symbols = _zeros(buffers, "symbols", (n, steps), np.int64)
    symbols.fill(-1)
    fill_block(index, lengths, _NEXT, _EMITS, _END, _BIT["T"] | _BIT["P"], _BIT["B"],
               _BIT["E"], _BIT["B"], inputs, targets, symbols)
    mask = np.arange(steps)[None, :] < lengths[:, None]
    return SequenceBlock(inputs, targets, mask, lengths, input_symbols=symbols)


def _zeros(buffers: dict | None, name: str, shape: tuple, dtype=np.float64) -> np.ndarray:
    """A zeroed C-contiguous array of ``shape``: new, or the front of ``buffers[name]`` (grown
    when too small). Filling fresh pages costs more than generating the symbols, so a stream
    reuses its blocks' memory."""
    if buffers is None:
        return np.zeros(shape, dtype)
    size = math.prod(shape)
    buf = buffers.get(name)
    if buf is None or buf.size < size:
        buf = buffers[name] = np.empty(max(size, 2 * (0 if buf is None else buf.size)), dtype)
    out = buf[:size].reshape(shape)
    out.fill(0)
    return out


def encode_strings(strings: list[str]) -> SequenceBlock:
    """:func:`encode` for strings given as text."""
    lengths = np.fromiter((len(s) for s in strings), np.int64, len(strings))
    return encode(_CODE[np.frombuffer("".join(strings).encode(), np.uint8)], lengths)


def stream_blocks(rng: np.random.Generator, chunk: int) -> Iterator[SequenceBlock]:
    """An endless stream of embedded Reber strings from ``rng``, in blocks of ``FIRST_CHUNK``
    strings, doubling up to ``chunk``. The strings do not depend on the block sizes. A block is
    valid until the next one is drawn (they share memory): copy what you keep."""
    source = _StreamSource(rng)
    size = min(FIRST_CHUNK, chunk)
    buffers: dict = {}
    while True:
        yield encode(*source.take(size), buffers)
        size = min(2 * size, chunk)


def _seed_words(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(w) for w in rng.integers(0, 2**32, size=4, dtype=np.uint64))


class ContinualReberRun(TaskRun):
    """One trial's streams, the rule that judges a prediction, and the caps."""

    protocol = CONTINUAL

    def __init__(self, params: dict, streams: TaskStreams):
        self.rule = StepRule(float(params["tolerance"]), params["error"] == "squared")
        self.resets = bool(params["resets"])
        self.training_cap = int(params["training_cap"])
        self.test_cap = int(params["test_cap"])
        self.test_streams = int(params["test_streams"])
        self.good_length = int(params["good_length"])
        self.chunk = int(params["chunk_strings"])
        self._train_seed = _seed_words(streams.data)
        self._test_seed = _seed_words(streams.test)
        self._view: _StreamSource | None = None  # training stream 0, for training_block
        self.criterion = ContinualPerfect(self.test_streams, self.test_cap)

    def _rng(self, seed: tuple[int, ...], *index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([*seed, *index]))

    def training_stream(self, index: int) -> Iterator[SequenceBlock]:
        """Training stream ``index`` (0, 1, ...), block by block, endless."""
        return stream_blocks(self._rng(self._train_seed, index), self.chunk)

    def test_stream(self, round_: int, index: int) -> Iterator[SequenceBlock]:
        """Test stream ``index`` of the round after ``round_`` training streams."""
        return stream_blocks(self._rng(self._test_seed, round_, index), self.chunk)

    # -- the block view, for tools that know only blocks (the conformance kit) ---------------
    def training_block(self, n: int) -> SequenceBlock:
        """The next ``n`` strings of training stream 0, one per row."""
        if self._view is None:
            self._view = _StreamSource(self._rng(self._train_seed, 0))
        return encode(*self._view.take(n))

    def judge(self, block: SequenceBlock, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per string: no prediction wrong by the rule; the mean summed squared error."""
        valid = np.arange(outputs.shape[1])[None, :] < block.lengths[:, None]
        wrong = self.rule.wrong(block.targets, outputs, block.target_mask & valid)
        squared = (((block.targets - outputs) ** 2).sum(axis=2) * valid).sum(axis=1)
        return ~wrong.any(axis=1), squared / block.lengths


class ContinualReber(Task):
    """Continual embedded Reber grammar (Gers, Schmidhuber & Cummins 2000; docs/protocol.md
    §12)."""

    name = "continual-reber"
    summary = ("continual embedded Reber grammar: one endless stream, no resets, predict every "
               "legal next symbol (Gers et al. 2000)")
    paper_section = "docs/protocol.md §12; Gers, Schmidhuber & Cummins 2000, Sec. 4, Table 2"
    protocol = CONTINUAL
    #: training streams per trial (the paper's cap)
    default_budget = 30_000
    default_trials = 100
    params = {
        "resets": Param(False, "reset the learner at every string start (external resets at "
                        "the known boundaries); False: one stream, no resets", "bool"),
        "tolerance": Param(0.49, "a prediction is wrong when some output's error reaches this",
                           "float", low=0.0, high=1.0),
        "error": Param("absolute", "the error compared with tolerance: absolute |target - y| "
                       "or squared (target - y)^2", "str", choices=("absolute", "squared")),
        "training_cap": Param(100_000, "symbols after which a training stream without a "
                              "mistake ends", "int", low=1, high=10**9),
        "test_cap": Param(1_000_000, "symbols a test stream must predict without a mistake "
                          "(perfect: every test stream reaches it)", "int", low=1, high=10**9),
        "test_streams": Param(10, "frozen test streams after every training stream", "int",
                              low=1, high=10_000),
        "good_length": Param(1000, "a mean test-stream length above this (not perfect) is "
                             "'good'", "int", low=0, high=10**9),
        "chunk_strings": Param(512, "strings per block handed to the learner (bounds memory)",
                               "int", low=1, high=100_000),
    }
    #: small, fast values for seqbench.testing's conformance checks
    test_params = {"training_cap": 2000, "test_cap": 2000, "chunk_strings": 64}

    def spec(self) -> TaskSpec:
        return TaskSpec(n_inputs=K, n_outputs=K, targets="every_step")

    def start(self, streams: TaskStreams) -> ContinualReberRun:
        return ContinualReberRun(self.params, streams)


@hookimpl
def seqbench_register_tasks(register):
    register(ContinualReber)
