"""Every registered learner and task passes seqbench's conformance kit (seqbench.testing).

The cases come from the plugin registry, so plugins added later are covered without editing this
file. A plugin's own ``test_params`` class attribute gives its small, fast parameters; the table
below gives them for built-ins that do not declare any yet.

Covered: the built-ins and the example plugin (examples/seqbench-gru, loaded from the source tree
when it is not installed). Other third-party plugins that happen to be installed here are listed
as skipped: this suite checks seqbench, not whatever else the environment holds.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

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

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "seqbench-gru"
#: distributions whose plugins this suite checks: seqbench itself and its example plugin
CHECKED_DISTRIBUTIONS = ("seqbench", "seqbench-gru")


def _registry_with_the_example():
    """The registry, with the example plugin's modules registered directly from the source tree
    when no installed copy of it was found through entry points."""
    registry = load_registry()
    if "gru" in registry.learners:
        return registry
    sys.path.insert(0, str(EXAMPLE))
    try:  # only while importing: a stale build's metadata there must not add entry points
        modules = tuple(importlib.import_module(f"seqbench_gru.{m}")
                        for m in ("gru", "copy_memory"))
    finally:
        sys.path.remove(str(EXAMPLE))
    return load_registry(extra_plugins=modules)


def third_party_reason(registry, kind: str, name: str) -> str | None:
    """Why ``kind`` ``name`` is not checked here, or None when it is (a built-in or the example)."""
    record = registry.plugin_of(kind, name)
    if record is None or record.source != "entry point":
        return None
    if (record.distribution or "").lower() in CHECKED_DISTRIBUTIONS:
        return None
    return (f"{kind} {name!r} comes from the installed third-party distribution "
            f"{record.distribution!r} (plugin {record.name!r}); this suite checks the built-ins "
            "and the example plugin only")


REGISTRY = _registry_with_the_example()


def missing_requirement(cls) -> str | None:
    """Why a plugin that needs an optional package (its ``requires``) cannot be checked here."""
    import importlib.util

    missing = [m for m in getattr(cls, "requires", ()) if importlib.util.find_spec(m) is None]
    return (f"{cls.name!r} needs {', '.join(missing)}, not installed here (an optional extra, "
            f"e.g. pip install 'seqbench[{missing[0]}]')") if missing else None


def _params(cls, table):
    return None if getattr(cls, "test_params", None) else table.get(cls.name)


def _cases(kind, plugins, checks, table):
    cases = []
    for name, cls in sorted(plugins.items()):
        reason = third_party_reason(REGISTRY, kind, name) or missing_requirement(cls)
        if reason:
            cases.append(pytest.param(None, id=f"{name}-not-checked",
                                      marks=pytest.mark.skip(reason=reason)))
            continue
        cases += [pytest.param(check, id=f"{name}-{check_name}")
                  for check_name, check in checks(cls, _params(cls, table))]
    return cases


LEARNER_CASES = _cases("learner", REGISTRY.learners, learner_checks, SMALL_LEARNER_PARAMS)
TASK_CASES = _cases("task", REGISTRY.tasks, task_checks, SMALL_TASK_PARAMS)


def test_the_registry_offers_learners_and_tasks_to_check():
    assert {"lstm97", "reber", "gru"} <= set(REGISTRY.learners) | set(REGISTRY.tasks)
    assert "copy-memory" in REGISTRY.tasks


@pytest.mark.parametrize("check", LEARNER_CASES)
def test_learner_conforms(check):
    check()


@pytest.mark.parametrize("check", TASK_CASES)
def test_task_conforms(check):
    check()
