"""numba kernels that judge a block's outputs in one pass (no block-sized temporaries)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def max_abs_error_per_sequence(targets, outputs, mask, lengths):
    """Per sequence ``i``: the largest |targets - outputs| over its steps ``t < lengths[i]``
    with ``mask[i, t]`` and every output, 0 without such a step, NaN if one is NaN (see
    :func:`seqbench.blocks.max_abs_error`)."""
    n, _, n_out = targets.shape
    found = np.zeros(n)
    for i in range(n):
        m = 0.0
        for t in range(lengths[i]):
            if not mask[i, t]:
                continue
            for k in range(n_out):
                e = abs(targets[i, t, k] - outputs[i, t, k])
                if e > m or e != e:
                    m = e
                if m != m:
                    break
            if m != m:
                break
        found[i] = m
    return found
