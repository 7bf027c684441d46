"""Conformance checks for seqbench plugins, as scikit-learn's ``check_estimator`` for estimators.

A plugin author runs the whole kit on a learner or a task::

    from seqbench.testing import check_learner, check_task

    check_learner(MyLearner)                     # on the kit's toy task
    check_learner(MyLearner, task=MyTask)        # on sequences of a real task too
    check_task(MyTask, params={"length": 8})     # small parameters keep it fast

Each call runs a list of named checks and raises an :class:`AssertionError` that names the first
check that failed; it returns a dict of check name -> ``"passed"`` or ``"skipped: why"``. The
same checks, one by one, for ``pytest.mark.parametrize``: :func:`learner_checks` and
:func:`task_checks` return ``(name, check)`` pairs whose ``check()`` takes no argument.

Parameters: the kit starts from the plugin's declared defaults, overlaid with the class attribute
``test_params`` when the plugin declares one (a mapping of small, fast parameter values, e.g.
``test_params = {"hidden": 4}`` or ``{"T": 12}``), overlaid with what the caller passes.

Learners that expose their gradient implement the optional **gradient protocol** (duck-typed,
see :class:`GradientProtocol`); the kit then checks it against central finite differences of
½Σ(target − y)². A learner whose rule follows a *truncated* gradient (the 1997 LSTM, Elman's
one-step rule, truncated BPTT) sets ``gradient_truncated = True``; its gradient is then checked
only on one-step sequences, where no error crosses a time step and truncation drops nothing.
The truncated rule on longer sequences is the author's to test against a clamped reference.

Everything here is seeded: a check that passes once passes every time.
"""

from __future__ import annotations

from collections.abc import Iterator

from .learners import (
    LEARNER_CHECKS,
    LearnerCase,
    check_learner,
    check_learner_block_split,
    check_learner_build,
    check_learner_causal,
    check_learner_constructor,
    check_learner_copy,
    check_learner_declaration,
    check_learner_determinism,
    check_learner_gradient,
    check_learner_learns,
    check_learner_output_shapes,
    check_learner_predict_is_pure,
    check_learner_resets_state,
    check_learner_sizes_to_spec,
    check_learner_trial,
    learner_case,
    learner_checks,
)
from .support import (
    GRADIENT_METHODS,
    LEARN_BLOCK,
    LEARN_BUDGET,
    NAME_PATTERN,
    SEED,
    Check,
    ConstantLearner,
    GradientProtocol,
    RecallFirstBit,
    RecallFirstBitRun,
    SkipCheck,
    random_block,
    recall_first_bit_block,
    squared_error,
    task_streams,
    valid_steps,
)
from .tasks import (
    TASK_CHECKS,
    TaskCase,
    check_task,
    check_task_blocks,
    check_task_constructor,
    check_task_declaration,
    check_task_determinism,
    check_task_evaluate,
    check_task_judge,
    check_task_rejects_constants,
    check_task_spec,
    check_task_trial,
    task_case,
    task_checks,
)


def iter_checks(registry=None) -> Iterator[tuple[str, str, Check]]:
    """``("learner:NAME" or "task:NAME", check name, check)`` for every registered learner and
    task, each with its defaults overlaid by its ``test_params``."""
    from ..plugins import get_registry

    registry = registry or get_registry()
    for name, cls in sorted(registry.learners.items()):
        for check_name, check in learner_checks(cls):
            yield f"learner:{name}", check_name, check
    for name, cls in sorted(registry.tasks.items()):
        for check_name, check in task_checks(cls):
            yield f"task:{name}", check_name, check


__all__ = [
    "ConstantLearner", "GradientProtocol", "LEARNER_CHECKS", "LearnerCase", "RecallFirstBit",
    "SkipCheck", "TASK_CHECKS", "TaskCase", "check_learner", "check_task", "iter_checks",
    "learner_case", "learner_checks", "random_block", "squared_error", "task_case",
    "task_checks", "task_streams",
    *[c.__name__ for c in LEARNER_CHECKS], *[c.__name__ for c in TASK_CHECKS],
]


__all__ = [
    "Check",
    "ConstantLearner",
    "GRADIENT_METHODS",
    "GradientProtocol",
    "LEARNER_CHECKS",
    "LEARN_BLOCK",
    "LEARN_BUDGET",
    "LearnerCase",
    "NAME_PATTERN",
    "RecallFirstBit",
    "RecallFirstBitRun",
    "SEED",
    "SkipCheck",
    "TASK_CHECKS",
    "TaskCase",
    "check_learner",
    "check_learner_block_split",
    "check_learner_build",
    "check_learner_causal",
    "check_learner_constructor",
    "check_learner_copy",
    "check_learner_declaration",
    "check_learner_determinism",
    "check_learner_gradient",
    "check_learner_learns",
    "check_learner_output_shapes",
    "check_learner_predict_is_pure",
    "check_learner_resets_state",
    "check_learner_sizes_to_spec",
    "check_learner_trial",
    "check_task",
    "check_task_blocks",
    "check_task_constructor",
    "check_task_declaration",
    "check_task_determinism",
    "check_task_evaluate",
    "check_task_judge",
    "check_task_rejects_constants",
    "check_task_spec",
    "check_task_trial",
    "iter_checks",
    "learner_case",
    "learner_checks",
    "random_block",
    "recall_first_bit_block",
    "squared_error",
    "task_case",
    "task_checks",
    "task_streams",
    "valid_steps",
]
