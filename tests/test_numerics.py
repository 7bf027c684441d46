"""Bit-identity and vectorisation tests for :mod:`seqbench.numerics`.

``seqbench.numerics.exp`` must return exactly the bits of ``math.exp`` as
numba compiles it (a call into the platform libm, glibc ``__exp_fma`` on the
reference machines) for every double, and a vectorised loop must give the
same bits as element-at-a-time calls.  Comparisons run inside numba loops so
that ~25 million inputs take a few seconds.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from numba import njit

from seqbench.numerics import EXP_TABLE, exp, f64_as_i64, sigmoid


# ---------------------------------------------------------------------------
# compiled helpers
# ---------------------------------------------------------------------------


@njit(error_model="numpy")
def _ours_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


@njit(error_model="numpy")
def _ref_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i])


@njit(error_model="numpy")
def _count_mismatch(x):
    """Number of x whose exp bits differ from math.exp, plus the first one."""
    bad = 0
    first = 0.0
    for i in range(x.shape[0]):
        # compare bit patterns (NaN-safe, distinguishes -0.0)
        if f64_as_i64(exp(x[i])) != f64_as_i64(math.exp(x[i])):
            if bad == 0:
                first = x[i]
            bad += 1
    return bad, first


@njit(error_model="numpy", fastmath={"reassoc", "contract"})
def _ours_loop_fastmath(x, out):
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


@njit(error_model="numpy")
def _sigmoid_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = sigmoid(x[i])


@njit(error_model="numpy")
def _sigmoid_ref_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = 1.0 / (1.0 + math.exp(-x[i]))


@njit(error_model="numpy")
def _lane_loop(x, out):
    # the shape a batched kernel uses: trials are the innermost dimension
    for l in range(x.shape[0]):
        out[l] = 1.0 / (1.0 + exp(-x[l]))


@njit(error_model="numpy")
def _one(x):
    # a lone scalar call, as a one-trial kernel makes it
    return exp(x)


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.int64)


def _assert_same_bits(x, ours, ref, what):
    bad = np.flatnonzero(_bits(ours) != _bits(ref))
    if bad.size:
        i = bad[0]
        pytest.fail(
            f"{what}: {bad.size} of {x.size} differ; first x={x[i]!r} "
            f"({float(x[i]).hex()}): ours={ours[i]!r} ({float(ours[i]).hex()}) "
            f"ref={ref[i]!r} ({float(ref[i]).hex()})"
        )


def _compare_compiled(x, what):
    ours = np.empty_like(x)
    ref = np.empty_like(x)
    _ours_loop(x, ours)
    _ref_loop(x, ref)
    _assert_same_bits(x, ours, ref, what)
    return ours


def _edge_cases():
    f = float.fromhex
    tiny = 2.0 ** -54
    base = [
        0.0, -0.0, 1.0, -1.0, 0.5, -0.5, math.log(2.0), -math.log(2.0),
        tiny, -tiny, 512.0, -512.0, 1024.0, -1024.0,
        709.78, 709.782712893384, 709.7827128933840, 709.79, 710.0,
        -745.13, -745.1332191019411, -745.1332191019412, -745.14, -746.0,
        -708.4, -708.39641853226408, -708.3964185322641, -708.5, -720.0,
        -730.0, -740.0, -744.0, -745.0,
        f("0x1.62e42fefa39efp+9"), f("0x1.62e42fefa39f0p+9"),
        f("-0x1.74910d52d3051p+9"), f("-0x1.74910d52d3052p+9"),
        5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308,
        1.7976931348623157e308, -1.7976931348623157e308,
        math.inf, -math.inf, math.nan,
        50.0, -50.0, 36.0, -36.0, 20.0, -20.0,
    ]
    # neighbours (±1..3 ulp) of every threshold
    neigh = []
    for v in [tiny, 512.0, 1024.0, 709.78, -745.13, -708.4, 2.0 ** -53,
              2.0 ** -55, 1e-300]:
        for s in (1.0, -1.0):
            c = s * v
            neigh.append(c)
            lo = hi = c
            for _ in range(3):
                lo = np.nextafter(lo, -np.inf)
                hi = np.nextafter(hi, np.inf)
                neigh += [float(lo), float(hi)]
    out = np.array(base + neigh, dtype=np.float64)
    # NaNs with payloads and signs, signalling NaN
    nans = np.array([0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                     0x7FF4000000000000, 0xFFF0000000000123, 0x7FFFFFFFFFFFFFFF],
                    dtype=np.uint64).view(np.float64)
    return np.concatenate([out, nans])


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


def test_table_is_glibc_exp_data():
    """Spot checks of the 2*128 table against glibc's exp_data.c."""
    t = EXP_TABLE.view(np.uint64)
    assert t.shape == (256,)
    assert t[0] == 0 and t[1] == 0x3FF0000000000000
    assert t[2] == 0x3C9B3B4F1A88BF6E and t[3] == 0x3FEFF63DA9FB3335
    assert t[254] == 0x3C5305C14160CC89 and t[255] == 0x3FEFF3C22B8F71F1
    # tab[2k+1] = asuint64(2^(k/128)) - (k << 45), up to the tail rounding
    k = np.arange(128)
    hi = (t[1::2] + (k.astype(np.uint64) << np.uint64(45))).view(np.float64)
    np.testing.assert_allclose(hi, 2.0 ** (k / 128.0), rtol=1e-15)


def test_edge_cases_bit_identical():
    x = _edge_cases()
    ours = _compare_compiled(x, "edge cases vs numba math.exp")
    # and against Python's own math.exp (same libm)
    for xi, oi in zip(x, ours):
        try:
            pi = math.exp(xi)
        except OverflowError:
            pi = math.inf
        if math.isnan(xi):
            assert math.isnan(oi)
        else:
            assert float(oi).hex() == pi.hex(), (xi, oi, pi)
    # scalar (non-loop) call path too
    for xi, oi in zip(x, ours):
        assert _bits(np.array([_one(xi)]))[0] == _bits(np.array([oi]))[0]


def test_random_wide_range_bit_identical():
    """>= 20 million doubles over the whole non-trivial domain."""
    rng = np.random.default_rng(20240611)
    n = 4_000_000
    parts = [
        rng.uniform(-745.2, 709.8, n),                     # uniform
        rng.uniform(-760.0, 720.0, n // 2),                # past the ends
        np.where(rng.random(n) < 0.5, -1.0, 1.0)
        * np.exp2(rng.uniform(-60.0, 9.5, n)),            # log-uniform |x|
        np.where(rng.random(n // 2) < 0.5, -1.0, 1.0)
        * np.exp2(rng.uniform(-1074.0, 10.5, n // 2)),    # incl. tiny/subnormal
        rng.uniform(-745.2, -708.0, n),                    # subnormal results
        rng.uniform(512.0, 709.8, n // 2),                 # k > 0 specialcase
        rng.uniform(-745.2, -512.0, n // 2),               # k < 0 specialcase
        rng.integers(0, 2 ** 63, n // 2, dtype=np.int64).view(np.float64),  # raw bits
    ]
    x = np.concatenate(parts)
    assert x.size >= 20_000_000
    bad, first = _count_mismatch(x)
    assert bad == 0, f"{bad} mismatches, first at x={first!r}"
    # Python's math.exp on a sample (it is the same libm routine)
    sample = x[:: max(1, x.size // 20000)]
    sample = sample[np.isfinite(sample) & (sample < 709.78)]
    ours = np.empty_like(sample)
    _ours_loop(sample, ours)
    py = np.array([math.exp(v) for v in sample])
    _assert_same_bits(sample, ours, py, "vs Python math.exp")


def test_kernel_range_dense():
    """Dense, evenly spaced samples of [-50, 50] (the kernels' range)."""
    x = np.linspace(-50.0, 50.0, 4_000_001)
    bad, first = _count_mismatch(x)
    assert bad == 0, f"{bad} mismatches, first at x={first!r}"
    # every ulp around 0 and around the ln2/N reduction boundaries
    x = np.concatenate([
        np.arange(-200000, 200001) * 2.0 ** -40,
        (np.arange(-3000, 3001)[:, None] * (math.log(2.0) / 128.0)
         + np.arange(-20, 21)[None, :] * 2.0 ** -50).ravel(),
    ])
    bad, first = _count_mismatch(x)
    assert bad == 0, f"{bad} mismatches, first at x={first!r}"


def test_sigmoid_matches_math_exp_expression():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-50.0, 50.0, 500_000), _edge_cases()])
    a = np.empty_like(x)
    b = np.empty_like(x)
    _sigmoid_loop(x, a)
    _sigmoid_ref_loop(x, b)
    _assert_same_bits(x, a, b, "sigmoid")


def test_caller_fastmath_does_not_change_bits():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-745.2, 709.8, 1_000_000),
                        rng.uniform(-50.0, 50.0, 1_000_000), _edge_cases()])
    a = np.empty_like(x)
    b = np.empty_like(x)
    _ours_loop_fastmath(x, a)
    _ref_loop(x, b)
    _assert_same_bits(x, a, b, "caller with fastmath={'reassoc','contract'}")


def test_vector_body_equals_scalar_remainder():
    """Every lane gets the same bits whether it is in the SIMD body or the
    scalar remainder: lengths 1..37 and every offset into a mixed array."""
    rng = np.random.default_rng(11)
    pool = np.concatenate([
        rng.uniform(-50.0, 50.0, 200), rng.uniform(-745.2, 709.8, 200),
        _edge_cases(),
    ])
    rng.shuffle(pool)
    single = np.array([_one(v) for v in pool])        # one call per element
    ref = np.empty_like(pool)
    _ref_loop(pool, ref)
    _assert_same_bits(pool, single, ref, "scalar calls vs math.exp")
    for n in range(1, 38):
        for start in range(0, pool.size - n, 13):
            x = pool[start:start + n].copy()
            out = np.empty_like(x)
            _ours_loop(x, out)
            _assert_same_bits(x, out, single[start:start + n],
                              f"vector loop n={n} start={start}")
            sig = np.empty_like(x)
            _lane_loop(x, sig)
            expect = 1.0 / (1.0 + np.array([_one(-v) for v in x]))
            _assert_same_bits(x, sig, expect, f"lane sigmoid n={n} start={start}")


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def test_lane_loop_compiles_to_avx2():
    flags = _cpu_flags()
    if not {"avx2", "fma"} <= flags:
        pytest.skip("CPU lacks avx2/fma (from /proc/cpuinfo flags)")
    x = np.zeros(8)
    _lane_loop(x, np.empty_like(x))
    asm = _lane_loop.inspect_asm(_lane_loop.signatures[0])
    # only the native function, not the CPython wrapper
    native = asm.split("_ZN7cpython", 1)[0]
    assert re.search(r"\bv\w+pd\b[^\n]*%ymm", native), "no packed ymm arithmetic"
    assert re.search(r"\bvfmadd\w*pd\b[^\n]*%ymm", native), "no packed FMA"
    assert re.search(r"\bvdivpd\b[^\n]*%ymm", native), "division not vectorised"
    # no libm call and no call to a non-inlined exp in the loop
    assert "exp" not in " ".join(l for l in native.splitlines() if "call" in l)
