"""What a task and a learner are: the contracts every plugin, built-in or third-party, implements.

A **task** describes a problem of the paper: its input/output shape (:class:`TaskSpec`), how its
sequences are generated, how a learner's outputs on a sequence are judged, the paper's stopping
rule and its final test protocol. For each trial it hands out a :class:`TaskRun`, which owns the
trial's data (seeded by the harness) and its stopping criterion.

A **learner** is a recurrent network plus its learning rule. Its constructor only stores
parameters (scikit-learn's rule), so a learner can be described, hashed and rebuilt from them;
:meth:`Learner.build` sizes it for a task and draws its initial weights; :meth:`Learner.train`
learns online from a block of sequences, in order, and returns the outputs it produced while
doing so; :meth:`Learner.predict` runs the frozen network.

A learner is one of two **kinds**. A *stream* learner (:class:`Learner`) learns on-line from the
blocks of sequences the task hands out. A *set* learner (:class:`SetLearner`) instead receives the
task's fixed training set once and fits on it in its own way (epochs, search, closed form), saying
after each call how much work it did (:class:`Work`) in the harness's one unit, **sequences
presented**: one pass of one training sequence through one network.

Presets bind a learner's parameters to a task's parameters as the paper configured them, with
the paper's published figures for that configuration (:class:`PaperRow`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .blocks import SequenceBlock
from .criteria import Criterion
from .params import Param

TARGET_KINDS = ("every_step", "final_step", "some_steps")


@dataclass(frozen=True)
class TaskSpec:
    """The shape of a task as a learner sees it.

    ``targets`` says where targets occur (``every_step``, ``final_step`` or ``some_steps``);
    targets always lie in ``target_range``, the range of the paper's logistic output units.
    """

    n_inputs: int
    n_outputs: int
    targets: str = "every_step"
    target_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if self.targets not in TARGET_KINDS:
            raise ValueError(f"TaskSpec.targets must be one of {TARGET_KINDS}")


@dataclass(frozen=True)
class TaskStreams:
    """The independent random streams of one trial, as a task sees them.

    ``data`` generates fixed sets and (for on-line tasks) the training sequences; it is shared by
    every learner at the same trial index, so comparisons are paired. ``order`` decides the
    presentation order of exemplars drawn from a fixed training set. ``test`` generates the final
    test set.
    """

    data: np.random.Generator
    order: np.random.Generator
    test: np.random.Generator


class TaskRun:
    """One trial's instance of a task: its data, its judge and its stopping criterion."""

    #: the rule that ends training successfully (the paper's stopping criterion)
    criterion: Criterion
    #: the most sequences the harness asks for in one :meth:`training_block` call (None: the
    #: harness's own block size); a task whose sequences are long and wide sets it to bound the
    #: memory of a block's dense arrays
    max_block_sequences: int | None = None
    #: set by the harness before training to the learner's :attr:`Learner.carries_state`. When
    #: True, ``predict`` runs each block as one stream from the learner's training state, so a
    #: test that means "N successive sequences" must hand them to one ``predict`` call, in
    #: order, instead of relying on per-sequence resets (lag-2a does; a run may make this a
    #: property to adapt its criterion)
    learner_carries_state: bool = False
    #: ``blocks``, or ``continual``: one endless stream run by seqbench.continual (whose
    #: docstring lists what such a run offers); the task's Task class declares it too
    protocol: str = "blocks"

    def training_block(self, n: int) -> SequenceBlock:
        """The next ``n`` training sequences, in presentation order.

        The block is valid until the next call: a task may refill the same buffers each time
        (the wide one-hot blocks of Exp. 2c cost half as much that way). Copy what you keep.
        """
        raise NotImplementedError

    def training_set(self) -> SequenceBlock | None:
        """The task's fixed training set, for set learners; None for a task trained on-line.

        A task whose paper protocol draws exemplars from a fixed set (Reber's 256 strings, 2a's two
        sequences, the latch and parity sets) returns that set here. For an on-line task the
        harness hands a set learner a fixed sample instead: the first ``sample_size`` sequences of
        the trial's training stream (the same sequences a stream learner meets first).
        """
        return None

    def judge(self, block: SequenceBlock, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per sequence: whether the outputs count as correct, and the task's error measure."""
        raise NotImplementedError

    def evaluate(self, predict) -> dict[str, float]:
        """The paper's final test protocol on the frozen learner; returns named metrics.

        ``predict(block) -> outputs``. The metric named ``test_error`` (a fraction of sequences
        misclassified or mispredicted) is shown in the standard table when present.
        """
        return {}


class Task:
    """Base class of tasks. Subclasses set the class attributes and implement the methods.

    The constructor stores the resolved parameters in ``self.params`` and nothing else.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: where the task's protocol is described: for the built-ins the section of
    #: ``docs/protocol.md`` and of the paper, e.g. ``"docs/protocol.md §2; H&S97 Sec. 5.1"``
    paper_section: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Param]] = {}
    #: default training budget in sequences (the paper's cap where it gives one)
    default_budget: ClassVar[int] = 100_000
    #: default number of trials (the paper's count per table row where it gives one)
    default_trials: ClassVar[int] = 10
    #: bump whenever the same parameters would generate other data or judge differently; it is
    #: part of every trial's resume key (the package version is not)
    behaviour_version: ClassVar[int] = 1

    def __init__(self, **params: Any):
        self.params = dict(params)

    def spec(self) -> TaskSpec:
        """The input/output shape of this task under its parameters."""
        raise NotImplementedError

    def dataset_index(self, trial: int) -> int:
        """Which data stream trial ``trial`` uses; trials sharing an index share their data.

        The default gives every trial its own data. Experiment 1 of the paper, for example, runs
        10 weight initialisations on each of 3 training/test-set pairs.
        """
        return trial

    def start(self, streams: TaskStreams) -> TaskRun:
        """Create the task's data for one trial from the trial's random streams."""
        raise NotImplementedError


class Learner:
    """Base class of learners.

    Subclasses declare ``name``, ``params`` and implement :meth:`build`, :meth:`train`,
    :meth:`predict` and :attr:`n_weights`. Heavy imports (numba kernels) belong inside
    :meth:`build` or in a module imported from there, so that listing plugins stays fast.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Param]] = {}
    #: False (the rule): network state is reset at the start of every sequence. True: state
    #: carries over from one sequence to the next and from one :meth:`train` call to the next
    #: (the paper's "no activation resets"); :meth:`predict` then runs its block as one
    #: continuous stream from a copy of the current training state. A learner may make this a
    #: property of its parameters; the harness passes it on to the task
    #: (:attr:`TaskRun.learner_carries_state`).
    carries_state: bool = False
    #: ``stream`` (learns from blocks via :meth:`train`) or ``set`` (:class:`SetLearner`)
    kind: ClassVar[str] = "stream"
    #: bump whenever the same parameters and seed would give other results (another order of
    #: random draws, a fixed bug); it is part of every trial's resume key (the package version
    #: is not)
    behaviour_version: ClassVar[int] = 1
    #: names of :meth:`diagnostics` entries that count the learner's own units of work (weight
    #: draws, epochs); tables show them beside the harness's sequences presented
    work_units: ClassVar[tuple[str, ...]] = ()
    #: how many independent trials of one configuration this learner prefers to train together
    #: in one :meth:`train_batch` call (its kernel's SIMD lanes); 1: one trial at a time
    batch_lanes: ClassVar[int] = 1

    def __init__(self, **params: Any):
        self.params = dict(params)

    @classmethod
    def train_batch(cls, learners: list[Learner], blocks: list[SequenceBlock]
                    ) -> list[np.ndarray]:
        """Train independent trials of one configuration together: ``learners[i]`` learns from
        ``blocks[i]`` exactly as ``learners[i].train(blocks[i])`` would, to the bit, and the
        outputs come back in the same order. The harness calls it with up to
        :attr:`batch_lanes` learners built from the same parameters (other seeds, other data);
        a learner whose kernel advances several trials at once overrides it. The default
        trains them one after another."""
        return [learner.train(block) for learner, block in zip(learners, blocks)]

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        """Size the network for ``spec`` and draw its initial weights from ``rng``."""
        raise NotImplementedError

    def compile(self) -> None:
        """Warm up just-in-time compiled kernels; its time is measured apart from training."""

    def train(self, block: SequenceBlock) -> np.ndarray:
        """Learn online from ``block`` in order; return the outputs produced while learning.

        The returned array has shape ``(len(block), padded length, n_outputs)``; output ``[i, t]``
        is the network's output at step ``t`` of sequence ``i``, before the weight change that
        step's error causes. Network state is reset at the start of every sequence (unless
        :attr:`carries_state`).
        """
        raise NotImplementedError

    def predict(self, block: SequenceBlock) -> np.ndarray:
        """Outputs of the frozen network on ``block`` (same shape as :meth:`train`'s); changes
        nothing (a learner that :attr:`carries_state` starts from a copy of its state)."""
        raise NotImplementedError

    @property
    def n_weights(self) -> int:
        """Number of trainable weights, counted as the paper counts them."""
        raise NotImplementedError

    def is_finite(self) -> bool:
        """False once any weight has become NaN or infinite (the trial is then ``diverged``)."""
        return True

    # -- continual streams (tasks without sequence boundaries, e.g. continual-reber) ----------
    #: whether the learner can run a continual task through :meth:`start_stream`,
    #: :meth:`train_steps` and :meth:`test_steps`; the harness refuses other pairings before
    #: any trial runs
    continual: ClassVar[bool] = False

    def start_stream(self, training: bool) -> None:
        """Begin a new stream: reset the network's activations and states (and, when
        ``training``, whatever per-stream schedule the learner has, such as a learning rate
        reset to its initial value)."""
        raise NotImplementedError

    def train_steps(self, block: SequenceBlock, rule: StepRule, resets: bool) -> tuple[int, bool]:
        """Continue the current stream through ``block``, learning on-line at every step, and
        stop after the first step that ``rule`` calls wrong (that step's weight change is made).

        The block's sequences are consecutive pieces of one stream: with ``resets`` the network
        is reset at the start of each (external resets at known boundaries), without them state
        flows on from sequence to sequence and from the previous call. Returns the steps
        consumed (up to and including the wrong one) and whether a wrong step ended the call.
        """
        raise NotImplementedError

    def test_steps(self, block: SequenceBlock, rule: StepRule, resets: bool) -> tuple[int, bool]:
        """As :meth:`train_steps` with the weights frozen."""
        raise NotImplementedError

    def diagnostics(self) -> dict[str, float]:
        """The learner's own measurements of the trial so far, by name (numbers only).

        Read once when the trial ends and stored with it, e.g. guessing's weight draws, the
        sequence at which sequential construction added a block, RCC's installed units.
        """
        return {}


@dataclass(frozen=True)
class StepRule:
    """When a prediction in a continual stream counts as wrong: at a step with targets, some
    output's error ``|target - y|`` (its square when ``squared``) is not below ``tolerance``."""

    tolerance: float
    squared: bool = False

    def wrong(self, targets: np.ndarray, outputs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Per step (the leading axes of ``outputs``): whether the prediction is wrong."""
        err = np.abs(targets - outputs)
        if self.squared:
            err = err * err
        return (~(err < self.tolerance)).any(axis=-1) & mask  # NaN counts as wrong


@dataclass(frozen=True)
class Work:
    """What one :meth:`SetLearner.fit` call did.

    ``sequences`` counts sequences presented, the harness's unit of work for every learner: one
    pass of one training sequence through one network (a forward pass that stops early counts
    as one; candidates trained together on one pass count once). ``time_steps`` counts the steps
    of those passes. ``check`` asks the harness to judge the frozen network now (the learner has
    a candidate solution); ``stopped`` says the learner has ended on its own (a cap on units or
    draws, or nothing left to try) and will do no more work.
    """

    sequences: int
    time_steps: int
    check: bool = False
    stopped: bool = False


class SetLearner(Learner):
    """Base class of learners that fit on the task's fixed training set.

    Instead of :meth:`Learner.train`, the harness calls :meth:`fit` with the whole training set
    (the same object every call) and an allowance of sequences; the learner works until it has a
    candidate worth judging, has used the allowance, or gives up, and returns the :class:`Work`
    done. State carries from one call to the next, so the next call continues. The harness
    judges the frozen network (:meth:`predict`) with the task's criterion when ``check`` is set,
    and never with a rule over training outputs: such a pairing is refused before a trial runs.
    ``predict``, ``build``, ``n_weights``, ``is_finite``, ``diagnostics`` and the reset rule are
    as for stream learners.
    """

    kind: ClassVar[str] = "set"

    def fit(self, training_set: SequenceBlock, allowance: int) -> Work:
        """Continue fitting on ``training_set``, presenting at most ``allowance`` sequences.

        Return with ``Work(sequences=0, ...)`` only when the allowance is too small for the
        smallest piece of work (the trial then ends on its budget). Return often enough (every
        few seconds of work) that progress can be reported and Ctrl-C honoured.
        """
        raise NotImplementedError

    def train(self, block: SequenceBlock) -> np.ndarray:
        raise TypeError(f"{self.name!r} is a set learner: it fits on a fixed training set "
                        "(SetLearner.fit), not on a stream of blocks")


@dataclass(frozen=True)
class PaperRow:
    """The paper's published figures for one configuration (a row of one of its tables)."""

    table: str
    success_rate: float | None = None  # fraction in [0, 1]; None where the paper gives none
    sequences_to_success: float | None = None  # the paper's mean "success after"
    trials: int | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    """A learner configured as the paper configured it for one task.

    ``task_params`` and ``learner_params`` override the defaults; ``source`` cites where the values
    come from (for the built-ins: sections of ``docs/protocol.md`` or ``docs/learners.md`` and of
    the paper). ``default`` marks the preset used when a
    comparison names no preset. ``experiment`` groups presets into the paper's experiments
    (``exp1``, ``exp2a`` ... ``exp6b``) for ``seqbench reproduce``; ``budget`` and ``trials``
    are the paper's cap and trial count for the row.
    """

    name: str
    learner: str
    task: str
    learner_params: Mapping[str, Any] = field(default_factory=dict)
    task_params: Mapping[str, Any] = field(default_factory=dict)
    budget: int | None = None
    trials: int | None = None
    paper: PaperRow | None = None
    source: str = ""
    description: str = ""
    default: bool = False
    experiment: str = ""
