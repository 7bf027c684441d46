"""Plugin module ``gru``: registers the GRU learner and its presets (imports only NumPy)."""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import GRU

    register(GRU)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
