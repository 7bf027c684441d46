"""Built-in learner plugins of seqbench (import package ``seqbench_learners``).

Each sub-package is one learner: its numba kernel(s), its learner class, a readable reference
implementation used by the tests, and its paper presets. Each is registered through the
``seqbench`` entry-point group, exactly as a third-party plugin is.
"""
