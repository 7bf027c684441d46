"""numba helpers of the continual embedded Reber grammar: many strings per call, and the legal
successors of every symbol of the stream.

Imported only when streams are drawn (never at plugin registration), so listing plugins does not
load numba.
"""

from __future__ import annotations

from numba import njit

from .reber_walk import walk_embedded

#: why :func:`walk_strings` returned
DONE, OUT_OF_COINS, OUT_OF_ROOM = 0, 1, 2


@njit(cache=True)
def walk_strings(coins, pos, edge_symbol, edge_next, branches, count, symbols, lengths,
                 scratch):
    """Walk up to ``count`` embedded Reber strings from ``coins[pos:]`` with
    :func:`~seqbench_tasks.reber_walk.walk_embedded` (the same strings, from the same coins, as
    one call per string), their symbols end to end into ``symbols`` and their lengths into
    ``lengths``. Returns (strings walked, symbols written, the next coin's position, why it
    stopped: DONE, OUT_OF_COINS mid-string, or OUT_OF_ROOM in ``symbols``)."""
    k = 0
    w = 0
    while k < count:
        n = walk_embedded(coins, pos, edge_symbol, edge_next, branches, scratch)
        if n == 0:
            return k, w, pos, OUT_OF_COINS
        if w + n > symbols.shape[0]:
            return k, w, pos, OUT_OF_ROOM
        for i in range(n):
            symbols[w + i] = scratch[i]
        lengths[k] = n
        w += n
        pos += scratch[n]
        k += 1
    return k, w, pos, DONE


@njit(cache=True)
def fill_block(index, lengths, next_state, emits, end, first, second, before_last, last,
               inputs, targets, symbols):
    """Write the strings of ``index`` (their symbol indices end to end, ``lengths`` each) into
    the rows of a zeroed block: ``inputs[i, t]`` one-hot of the symbol (its index in
    ``symbols[i, t]``), ``targets[i, t]`` 1 for every legal successor of it in the stream.

    A string is ``B c <Reber string> c E``: its first symbol is followed by the bit mask
    ``first`` (T or P), ``c`` by ``second`` (B), an inner symbol by what the Reber graph allows
    from the state it leads to (``next_state``, ``emits``; after the inner E, state ``end``:
    ``c``), the second ``c`` by ``before_last`` (E) and the final E by ``last`` (B, the next
    string's first symbol)."""
    n_symbols = targets.shape[2]
    w = 0
    for k in range(lengths.shape[0]):
        n = lengths[k]
        c_bit = 1 << index[w + 1]
        state = 0
        for t in range(n):
            symbol = index[w + t]
            if t == 0:
                legal = first
            elif t == 1:
                legal = second
            elif t < n - 2:
                state = next_state[state, symbol]
                legal = c_bit if state == end else emits[state]
            elif t == n - 2:
                legal = before_last
            else:
                legal = last
            symbols[k, t] = symbol
            inputs[k, t, symbol] = 1.0
            for j in range(n_symbols):
                if (legal >> j) & 1:
                    targets[k, t, j] = 1.0
        w += n
