"""Shared pieces of the gradient baselines (``bptt``, ``rtrl``, ``elman``): the general
recurrent-network description of docs/learners.md §1.1 with builders for the paper's layouts, a
readable NumPy reference of forward pass, BPTT and RTRL, the learner base class and the numba
forward step. Not a plugin itself: it registers nothing.
"""
