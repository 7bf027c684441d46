"""The hooks a seqbench plugin may implement (pluggy project name ``seqbench``).

A plugin is a module (listed under the ``seqbench`` entry-point group of its package) with one or
more functions decorated by :data:`hookimpl`. Each hook receives a ``register`` callback and calls
it once per thing it offers. Registration must be cheap: register classes whose modules import
only numpy; import numba kernels lazily, in :meth:`seqbench.contracts.Learner.build`.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("seqbench")
hookimpl = pluggy.HookimplMarker("seqbench")


@hookspec
def seqbench_register_tasks(register):
    """Call ``register(TaskClass)`` for each :class:`~seqbench.contracts.Task` subclass offered."""


@hookspec
def seqbench_register_learners(register):
    """Call ``register(LearnerClass)`` for each :class:`~seqbench.contracts.Learner` offered."""


@hookspec
def seqbench_register_presets(register):
    """Call ``register(preset)`` for each :class:`~seqbench.contracts.Preset` offered.

    A preset may configure any registered learner on any registered task, so a task plugin can
    ship the paper's settings of the built-in LSTM for its task.
    """


@hookspec
def seqbench_register_commands(cli):
    """Add subcommands to the ``seqbench`` click group ``cli`` (``@cli.command()``)."""
