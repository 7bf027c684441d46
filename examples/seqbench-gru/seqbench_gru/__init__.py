"""seqbench-gru: an example third-party seqbench plugin (a GRU learner and the copy-memory task).

The plugin modules seqbench loads are :mod:`seqbench_gru.gru` and :mod:`seqbench_gru.copy_memory`
(entry points in ``pyproject.toml``); importing them costs only NumPy.
"""

__version__ = "0.1.0"
