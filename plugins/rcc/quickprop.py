"""Quickprop (Fahlman 1988) exactly as Fahlman's Common Lisp Cascade-Correlation (cascor1,
``QUICKPROP-UPDATE``) applies it, vectorised over a weight array.

Per weight, with the epoch's slope ``s`` (∂E/∂w summed over the epoch, plus ``decay · w``), the
previous slope ``p``, the previous step ``d`` and ``shrink = mu / (1 + mu)``::

    d < 0:  step = (−eps·s  if s > 0 else 0) + (mu·d  if s >= shrink·p else d·s/(p − s))
    d > 0:  step = (−eps·s  if s < 0 else 0) + (mu·d  if s <= shrink·p else d·s/(p − s))
    d = 0:  step = −eps·s
    w += step;  d = step;  p = s;  slope = 0

The first term is the "sign test": a plain gradient step is added only while the slope still
points the way the last step went. The second is either the step capped at ``mu`` times the
last one (the shrink-factor branch) or the jump to the minimum of the parabola through the two
slopes. Callers pass the slope of the quantity they *minimise*: the output weights' error, and
minus the candidates' score.

One guard cascor1 does not have: when ``p == s`` in the quadratic branch (which cascor1 only
reaches there with ``p = s < 0`` after a negative step, or its mirror) the divisor ``p − s`` is
replaced by 1, as the Python port of recurrent cascor (``ianjchiu/Cascor``, ``CascorUtil``) does;
cascor1 would divide by zero. Its 6/1/90 fix for ``p = s = 0`` is the ``>=``/``<=`` of the
shrink test, which sends that case to the capped branch.
"""

from __future__ import annotations

import numpy as np


def shrink_factor(mu: float) -> float:
    """cascor1's ``shrink-factor``: mu / (1 + mu)."""
    return mu / (1.0 + mu)


def quickprop_step(d, s, p, eps: float, mu: float):
    """The step cascor1's rule takes from previous step ``d``, slope ``s`` (decay already
    added) and previous slope ``p`` (arrays or scalars); nothing is modified."""
    d, s, p = np.asarray(d, float), np.asarray(s, float), np.asarray(p, float)
    shrink = shrink_factor(mu)
    neg, pos = d < 0.0, d > 0.0
    # sign test: the gradient term, while the slope still points along the last step
    linear = np.where((neg & (s > 0.0)) | (pos & (s < 0.0)) | ~(neg | pos), -eps * s, 0.0)
    capped = (neg & (s >= shrink * p)) | (pos & (s <= shrink * p))
    quadratic = (neg | pos) & ~capped
    divisor = np.where(p == s, 1.0, p - s)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.where(quadratic, d * s / divisor, 0.0)
    return linear + np.where(capped, mu * d, 0.0) + jump


def quickprop_update(w, deltas, slopes, prevs, eps: float, decay: float, mu: float) -> None:
    """cascor1's ``QUICKPROP-UPDATE`` on whole arrays, in place: add the decay term to the
    slopes, take the step, remember it and the slope, and zero the slopes."""
    s = slopes + decay * w
    step = quickprop_step(deltas, s, prevs, eps, mu)
    w += step
    deltas[...] = step
    prevs[...] = s
    slopes[...] = 0.0
