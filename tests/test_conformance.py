"""Every registered learner and task passes seqbench's conformance kit (seqbench.testing).

The cases come from the plugin registry, so plugins added later are covered without editing this
file. A plugin's own ``test_params`` class attribute gives its small, fast parameters; the table
below gives them for built-ins that do not declare any yet.
"""

from __future__ import annotations

import pytest

from seqbench.plugins import load_registry
from seqbench.testing import learner_checks, task_checks

#: small parameters for built-ins without ``test_params`` of their own
SMALL_TASK_PARAMS = {
    "reber": {"n_train": 16, "n_test": 16, "check_every": 50},
    "adding": {"T": 12},
    "multiplication": {"T": 12},
    "two-sequence": {"T": 12, "check_every": 50},
    "lag-2a": {"p": 4, "test_size": 100, "check_every": 50},
    "lag-2b": {"p": 4, "test_size": 100, "check_every": 50, "screen": 0},
    "lag-2c": {"p": 4, "q": 4, "test_size": 100, "check_every": 50, "screen": 0},
}
SMALL_LEARNER_PARAMS = {
    # the default rate 0.1 learns the kit's toy task, but not within its 2,000 sequences
    "bptt": {"hidden": 4, "learning_rate": 0.5},
    "rtrl": {"hidden": 4, "learning_rate": 0.5},
    # Elman's one-step rule never trains the step that stores the bit; it must be carried by
    # the untrained context weights, which the default range 0.2 makes too weak to read
    "elman": {"hidden": 8, "learning_rate": 1.0, "init_range": 1.0},
}

REGISTRY = load_registry()


def _params(cls, table):
    return None if getattr(cls, "test_params", None) else table.get(cls.name)


LEARNER_CASES = [
    pytest.param(check, id=f"{name}-{check_name}")
    for name, cls in sorted(REGISTRY.learners.items())
    for check_name, check in learner_checks(cls, _params(cls, SMALL_LEARNER_PARAMS))
]
TASK_CASES = [
    pytest.param(check, id=f"{name}-{check_name}")
    for name, cls in sorted(REGISTRY.tasks.items())
    for check_name, check in task_checks(cls, _params(cls, SMALL_TASK_PARAMS))
]


def test_the_registry_offers_learners_and_tasks_to_check():
    assert {"lstm97", "reber"} <= set(REGISTRY.learners) | set(REGISTRY.tasks)


@pytest.mark.parametrize("check", LEARNER_CASES)
def test_learner_conforms(check):
    check()


@pytest.mark.parametrize("check", TASK_CASES)
def test_task_conforms(check):
    check()
