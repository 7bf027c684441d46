"""Built-in task plugins of seqbench (import package ``seqbench_tasks``).

One module per task family of the 1997 paper, each registered through the ``seqbench``
entry-point group, exactly as a third-party plugin is.
"""
