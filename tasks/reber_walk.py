"""numba walk of the embedded Reber graph: one string's symbols from a stream of fair coins.

Imported only when strings are drawn (never at plugin registration), so listing plugins does not
load numba.
"""

from __future__ import annotations

from numba import njit

B, T, P, E = 0, 1, 2, 6  # indices in SYMBOLS = "BTPSXVE"


@njit(cache=True)
def walk_embedded(coins, pos, edge_symbol, edge_next, branches, out):
    """Write the symbol indices of one embedded Reber string ``B c <Reber string> c E`` to
    ``out[:n]``, reading a coin at each choice (``c``, then every state with two edges) from
    ``coins[pos:]``; return n, with the number of coins used in ``out[n]``, or 0 when the coins
    run out before the string ends."""
    start = pos
    if pos >= coins.shape[0]:
        return 0
    c = T if coins[pos] == 0 else P
    pos += 1
    out[0] = B
    out[1] = c
    n = 2
    state = 0
    while state != -1:
        k = 0
        if branches[state] > 1:
            if pos >= coins.shape[0]:
                return 0
            k = coins[pos]
            pos += 1
        out[n] = edge_symbol[state, k]
        n += 1
        state = edge_next[state, k]
    out[n] = c
    out[n + 1] = E
    n += 2
    out[n] = pos - start
    return n
