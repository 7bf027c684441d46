"""Built-in learner plugin ``elman``: the Elman net with Elman's training procedure, and the
paper's presets for it.

Registration imports only NumPy; the numba kernel is loaded when the learner first runs.
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import Elman

    register(Elman)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
