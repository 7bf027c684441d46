"""numba kernels that judge a block's outputs in one pass (no block-sized temporaries)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def max_abs_error_per_sequence(targets, outputs, mask, lengths):
    """Per sequence ``i``: the largest |targets - outputs| over its steps ``t < lengths[i]``
    with ``mask[i, t]`` and every output, 0 without such a step, NaN if one is NaN (see
    :func:`seqbench.blocks.max_abs_error`)."""
    found = np.zeros(targets.shape[0])
    for i in range(targets.shape[0]):
        found[i] = _largest_error(targets[i], outputs[i], mask[i], lengths[i])
    return found


@njit(cache=True)
def _largest_error(targets, outputs, mask, length):
    """One sequence's largest judged absolute error (NaN as soon as one is NaN)."""
    m = 0.0
    for t in range(length):
        if mask[t]:
            for k in range(targets.shape[1]):
                e = abs(targets[t, k] - outputs[t, k])
                if e != e:
                    return e
                if e > m:
                    m = e
    return m
