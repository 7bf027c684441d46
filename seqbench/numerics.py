"""Shared, SIMD-friendly ``exp`` for every numba kernel in seqbench.

What this is
------------
:func:`exp` is an exact port of the double-precision ``exp`` that glibc 2.36
selects on this class of machine (x86-64 with FMA + AVX2, ifunc variant
``__exp_fma``: ``sysdeps/ieee754/dbl-64/e_exp.c`` + ``exp_data.c``, with
``EXP_TABLE_BITS = 7``, ``EXP_POLY_ORDER = 5``, ``TOINT_INTRINSICS = 0``,
compiled by GCC with ``-mfma -mavx2``).  Numba lowers ``math.exp`` to
``llvm.exp.f64``, which becomes a call into exactly that libm routine, so
:func:`exp` returns the *same bits* as ``math.exp`` inside numba (and as
Python's ``math.exp``) for every double, including subnormal results,
overflow, ``±inf``, ``nan`` and ``-0.0``.

Why it exists
-------------
* One exp for every lane and every lone trial.  A batched kernel that keeps
  independent trials in the innermost array dimension gets the same numbers
  as the one-trial-at-a-time kernel, whether a given lane lands in the vector
  body or in the scalar remainder of a vectorised loop.
* Identical to the platform libm, so results already stored (golden files,
  checkpoints, result stores) do not change when a kernel switches from
  ``math.exp`` to :func:`exp`.
* SIMD-friendly.  A libm call is opaque to LLVM, so a loop calling
  ``math.exp`` is never vectorised (numba uses no SVML here, and SVML or
  fastmath would change the bits anyway).  :func:`exp` is plain arithmetic
  with ``llvm.fma.f64``, integer bit tricks and table loads, written
  *branch-free*: the rare special cases (``|x| < 2**-54``,
  ``512 <= |x| < 1024``, ``|x| >= 1024``, ``inf``/``nan``) are evaluated
  alongside the common path and chosen with selects, so LLVM's loop
  vectoriser turns ``for l in range(n): out[l] = exp(x[l])`` into AVX2
  ``ymm`` code (``vfmadd*pd``; the 256-entry table is read with one scalar
  load per lane because LLVM does not emit ``vgather`` for znver3).  The
  special cases never form subnormal or overflowing intermediates in
  ordinary lanes (their final power-of-two scalings are done on the bit
  patterns), so the cost per element is the same for every input.

How it is compiled
------------------
:func:`exp` and :func:`sigmoid` are ordinary ``@njit`` functions, *not*
``inline="always"``: numba's IR inlining would lower their arithmetic with
the *caller's* flags, and several kernels use
``fastmath={"reassoc", "contract"}``, which may re-associate or contract
the carefully ordered glibc arithmetic.  Compiled on their own they never
carry fast-math flags; a marker intrinsic gives them LLVM's
``alwaysinline`` attribute so that LLVM still inlines them into every
caller and vectorises the caller's loop.  Hence the bits are the same
whether the caller uses ``fastmath`` or not (tested).  The caller's own
``1.0 / (...)`` needs ``error_model="numpy"`` to vectorise (numba's default
"python" error model puts a ZeroDivisionError branch on every float
division); :func:`sigmoid` divides without that check regardless.

Which operations are fused
--------------------------
Read off the disassembly of ``__exp_fma`` in
``/lib/x86_64-linux-gnu/libm.so.6`` (Debian glibc 2.36-9) and confirmed
bit-for-bit against ``math.exp`` by ``tests/test_numerics.py``::

    kd    = fma(x, InvLn2N, Shift)               # z + Shift is contracted too
    ki    = bits(kd);  kd = kd - Shift
    r     = fma(kd, NegLn2loN, fma(kd, NegLn2hiN, x))
    r2    = r * r
    tmp   = fma(r2 * r2, fma(r, C5, C4), fma(r2, fma(r, C3, C2), tail + r))
    y     = fma(scale, tmp, scale)               # common path
    specialcase, k > 0:  y = fma(scale, tmp, scale) * 0x1p1009
    specialcase, k < 0:  t = scale * tmp; y = scale + t   (NOT fused; t is
                         reused in lo = (scale - y) + t)

Caveat: the bit-identity holds for this libm build only.  On a machine whose
glibc picks a different variant (``__exp_sse2`` without FMA, ``__exp_fma4``,
a different glibc version), ``math.exp`` may differ from :func:`exp` in the
last bit for some inputs; :func:`exp` itself is deterministic everywhere.

Only ``float64`` is supported (other real arguments are converted to
``float64`` first, so ``exp`` of a ``float32`` is *not* ``expf``).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = [
    "exp",
    "sigmoid",
    "fma",
    "f64_as_i64",
    "i64_as_f64",
    "EXP_TABLE",
]


# ---------------------------------------------------------------------------
# Tiny LLVM-level helpers (all inline to a single instruction / intrinsic).
# ---------------------------------------------------------------------------


@intrinsic
def fma(typingctx, a, b, c):
    """Fused multiply-add ``a * b + c`` with a single rounding (``llvm.fma.f64``).

    Only defined for three ``float64`` arguments.  Vectorises to
    ``vfmadd*pd`` on FMA hardware; on hardware without FMA, LLVM falls back
    to the (correctly rounded, hence identical) libm ``fma``.
    """
    if not all(isinstance(t, types.Float) and t.bitwidth == 64 for t in (a, b, c)):
        return None
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(args[0], args[1], args[2])

    return sig, codegen


@intrinsic
def _fdiv(typingctx, a, b):
    """Plain IEEE ``a / b`` (LLVM ``fdiv``) without numba's zero-division check.

    Under numba's default ``error_model="python"`` a float ``/`` carries a
    branch that raises ``ZeroDivisionError``; that branch blocks loop
    vectorisation.  The quotient bits are the same as ``/``.
    """
    if not all(isinstance(t, types.Float) and t.bitwidth == 64 for t in (a, b)):
        return None
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fdiv(args[0], args[1])

    return sig, codegen


@intrinsic
def _mark_alwaysinline(typingctx):
    """Give the LLVM function being compiled the ``alwaysinline`` attribute.

    :func:`exp` is deliberately compiled as its own numba function (not
    ``inline="always"``) so that the caller's ``fastmath`` flags never reach
    its arithmetic; this marker makes LLVM inline it into every caller
    anyway, which the loop vectoriser needs.  Emits no code.
    """
    sig = types.none()

    def codegen(context, builder, signature, args):
        fn = builder.function
        if "noinline" not in fn.attributes:
            fn.attributes.add("alwaysinline")
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def f64_as_i64(typingctx, x):
    """Reinterpret the bits of a ``float64`` as an ``int64`` (no conversion)."""
    if not (isinstance(x, types.Float) and x.bitwidth == 64):
        return None
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def i64_as_f64(typingctx, i):
    """Reinterpret the bits of an ``int64`` as a ``float64`` (no conversion)."""
    if not (isinstance(i, types.Integer) and i.bitwidth == 64):
        return None
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


# ---------------------------------------------------------------------------
# glibc __exp_data (EXP_TABLE_BITS = 7, EXP_POLY_ORDER = 5).
# ---------------------------------------------------------------------------

#: glibc ``__exp_data.tab``: 2*128 uint64 bit patterns, ``tab[2k]`` is the
#: tail (low part) of ``2**(k/128)`` and ``tab[2k+1]`` its high part minus
#: ``(k << 52) / 128``.  Stored as the same bits viewed as ``int64`` so that
#: numba keeps all integer arithmetic in signed 64-bit (mixing uint64 with
#: int64 would promote to float64).  Numba freezes this global as a constant.
EXP_TABLE = np.array([
    0x0000000000000000, 0x3ff0000000000000, 0x3c9b3b4f1a88bf6e, 0x3feff63da9fb3335,
    0xbc7160139cd8dc5d, 0x3fefec9a3e778061, 0xbc905e7a108766d1, 0x3fefe315e86e7f85,
    0x3c8cd2523567f613, 0x3fefd9b0d3158574, 0xbc8bce8023f98efa, 0x3fefd06b29ddf6de,
    0x3c60f74e61e6c861, 0x3fefc74518759bc8, 0x3c90a3e45b33d399, 0x3fefbe3ecac6f383,
    0x3c979aa65d837b6d, 0x3fefb5586cf9890f, 0x3c8eb51a92fdeffc, 0x3fefac922b7247f7,
    0x3c3ebe3d702f9cd1, 0x3fefa3ec32d3d1a2, 0xbc6a033489906e0b, 0x3fef9b66affed31b,
    0xbc9556522a2fbd0e, 0x3fef9301d0125b51, 0xbc5080ef8c4eea55, 0x3fef8abdc06c31cc,
    0xbc91c923b9d5f416, 0x3fef829aaea92de0, 0x3c80d3e3e95c55af, 0x3fef7a98c8a58e51,
    0xbc801b15eaa59348, 0x3fef72b83c7d517b, 0xbc8f1ff055de323d, 0x3fef6af9388c8dea,
    0x3c8b898c3f1353bf, 0x3fef635beb6fcb75, 0xbc96d99c7611eb26, 0x3fef5be084045cd4,
    0x3c9aecf73e3a2f60, 0x3fef54873168b9aa, 0xbc8fe782cb86389d, 0x3fef4d5022fcd91d,
    0x3c8a6f4144a6c38d, 0x3fef463b88628cd6, 0x3c807a05b0e4047d, 0x3fef3f49917ddc96,
    0x3c968efde3a8a894, 0x3fef387a6e756238, 0x3c875e18f274487d, 0x3fef31ce4fb2a63f,
    0x3c80472b981fe7f2, 0x3fef2b4565e27cdd, 0xbc96b87b3f71085e, 0x3fef24dfe1f56381,
    0x3c82f7e16d09ab31, 0x3fef1e9df51fdee1, 0xbc3d219b1a6fbffa, 0x3fef187fd0dad990,
    0x3c8b3782720c0ab4, 0x3fef1285a6e4030b, 0x3c6e149289cecb8f, 0x3fef0cafa93e2f56,
    0x3c834d754db0abb6, 0x3fef06fe0a31b715, 0x3c864201e2ac744c, 0x3fef0170fc4cd831,
    0x3c8fdd395dd3f84a, 0x3feefc08b26416ff, 0xbc86a3803b8e5b04, 0x3feef6c55f929ff1,
    0xbc924aedcc4b5068, 0x3feef1a7373aa9cb, 0xbc9907f81b512d8e, 0x3feeecae6d05d866,
    0xbc71d1e83e9436d2, 0x3feee7db34e59ff7, 0xbc991919b3ce1b15, 0x3feee32dc313a8e5,
    0x3c859f48a72a4c6d, 0x3feedea64c123422, 0xbc9312607a28698a, 0x3feeda4504ac801c,
    0xbc58a78f4817895b, 0x3feed60a21f72e2a, 0xbc7c2c9b67499a1b, 0x3feed1f5d950a897,
    0x3c4363ed60c2ac11, 0x3feece086061892d, 0x3c9666093b0664ef, 0x3feeca41ed1d0057,
    0x3c6ecce1daa10379, 0x3feec6a2b5c13cd0, 0x3c93ff8e3f0f1230, 0x3feec32af0d7d3de,
    0x3c7690cebb7aafb0, 0x3feebfdad5362a27, 0x3c931dbdeb54e077, 0x3feebcb299fddd0d,
    0xbc8f94340071a38e, 0x3feeb9b2769d2ca7, 0xbc87deccdc93a349, 0x3feeb6daa2cf6642,
    0xbc78dec6bd0f385f, 0x3feeb42b569d4f82, 0xbc861246ec7b5cf6, 0x3feeb1a4ca5d920f,
    0x3c93350518fdd78e, 0x3feeaf4736b527da, 0x3c7b98b72f8a9b05, 0x3feead12d497c7fd,
    0x3c9063e1e21c5409, 0x3feeab07dd485429, 0x3c34c7855019c6ea, 0x3feea9268a5946b7,
    0x3c9432e62b64c035, 0x3feea76f15ad2148, 0xbc8ce44a6199769f, 0x3feea5e1b976dc09,
    0xbc8c33c53bef4da8, 0x3feea47eb03a5585, 0xbc845378892be9ae, 0x3feea34634ccc320,
    0xbc93cedd78565858, 0x3feea23882552225, 0x3c5710aa807e1964, 0x3feea155d44ca973,
    0xbc93b3efbf5e2228, 0x3feea09e667f3bcd, 0xbc6a12ad8734b982, 0x3feea012750bdabf,
    0xbc6367efb86da9ee, 0x3fee9fb23c651a2f, 0xbc80dc3d54e08851, 0x3fee9f7df9519484,
    0xbc781f647e5a3ecf, 0x3fee9f75e8ec5f74, 0xbc86ee4ac08b7db0, 0x3fee9f9a48a58174,
    0xbc8619321e55e68a, 0x3fee9feb564267c9, 0x3c909ccb5e09d4d3, 0x3feea0694fde5d3f,
    0xbc7b32dcb94da51d, 0x3feea11473eb0187, 0x3c94ecfd5467c06b, 0x3feea1ed0130c132,
    0x3c65ebe1abd66c55, 0x3feea2f336cf4e62, 0xbc88a1c52fb3cf42, 0x3feea427543e1a12,
    0xbc9369b6f13b3734, 0x3feea589994cce13, 0xbc805e843a19ff1e, 0x3feea71a4623c7ad,
    0xbc94d450d872576e, 0x3feea8d99b4492ed, 0x3c90ad675b0e8a00, 0x3feeaac7d98a6699,
    0x3c8db72fc1f0eab4, 0x3feeace5422aa0db, 0xbc65b6609cc5e7ff, 0x3feeaf3216b5448c,
    0x3c7bf68359f35f44, 0x3feeb1ae99157736, 0xbc93091fa71e3d83, 0x3feeb45b0b91ffc6,
    0xbc5da9b88b6c1e29, 0x3feeb737b0cdc5e5, 0xbc6c23f97c90b959, 0x3feeba44cbc8520f,
    0xbc92434322f4f9aa, 0x3feebd829fde4e50, 0xbc85ca6cd7668e4b, 0x3feec0f170ca07ba,
    0x3c71affc2b91ce27, 0x3feec49182a3f090, 0x3c6dd235e10a73bb, 0x3feec86319e32323,
    0xbc87c50422622263, 0x3feecc667b5de565, 0x3c8b1c86e3e231d5, 0x3feed09bec4a2d33,
    0xbc91bbd1d3bcbb15, 0x3feed503b23e255d, 0x3c90cc319cee31d2, 0x3feed99e1330b358,
    0x3c8469846e735ab3, 0x3feede6b5579fdbf, 0xbc82dfcd978e9db4, 0x3feee36bbfd3f37a,
    0x3c8c1a7792cb3387, 0x3feee89f995ad3ad, 0xbc907b8f4ad1d9fa, 0x3feeee07298db666,
    0xbc55c3d956dcaeba, 0x3feef3a2b84f15fb, 0xbc90a40e3da6f640, 0x3feef9728de5593a,
    0xbc68d6f438ad9334, 0x3feeff76f2fb5e47, 0xbc91eee26b588a35, 0x3fef05b030a1064a,
    0x3c74ffd70a5fddcd, 0x3fef0c1e904bc1d2, 0xbc91bdfbfa9298ac, 0x3fef12c25bd71e09,
    0x3c736eae30af0cb3, 0x3fef199bdd85529c, 0x3c8ee3325c9ffd94, 0x3fef20ab5fffd07a,
    0x3c84e08fd10959ac, 0x3fef27f12e57d14b, 0x3c63cdaf384e1a67, 0x3fef2f6d9406e7b5,
    0x3c676b2c6c921968, 0x3fef3720dcef9069, 0xbc808a1883ccb5d2, 0x3fef3f0b555dc3fa,
    0xbc8fad5d3ffffa6f, 0x3fef472d4a07897c, 0xbc900dae3875a949, 0x3fef4f87080d89f2,
    0x3c74a385a63d07a7, 0x3fef5818dcfba487, 0xbc82919e2040220f, 0x3fef60e316c98398,
    0x3c8e5a50d5c192ac, 0x3fef69e603db3285, 0x3c843a59ac016b4b, 0x3fef7321f301b460,
    0xbc82d52107b43e1f, 0x3fef7c97337b9b5f, 0xbc892ab93b470dc9, 0x3fef864614f5a129,
    0x3c74b604603a88d3, 0x3fef902ee78b3ff6, 0x3c83c5ec519d7271, 0x3fef9a51fbc74c83,
    0xbc8ff7128fd391f0, 0x3fefa4afa2a490da, 0xbc8dae98e223747d, 0x3fefaf482d8e67f1,
    0x3c8ec3bc41aa2008, 0x3fefba1bee615a27, 0x3c842b94c3a9eb32, 0x3fefc52b376bba97,
    0x3c8a64a931d185ee, 0x3fefd0765b6e4540, 0xbc8e37bae43be3ed, 0x3fefdbfdad9cbe14,
    0x3c77893b4d91cd9d, 0x3fefe7c1819e90d8, 0x3c5305c14160cc89, 0x3feff3c22b8f71f1,
], dtype=np.uint64).view(np.int64)
EXP_TABLE.setflags(write=False)

# Scalar constants, as bit patterns (exactly glibc's hex-float literals).
_INVLN2N = float.fromhex("0x1.71547652b82fep7")
_SHIFT = float.fromhex("0x1.8p52")
_NEGLN2HIN = float.fromhex("-0x1.62e42fefa0000p-8")
_NEGLN2LON = float.fromhex("-0x1.cf79abc9e3b3ap-47")
_C2 = float.fromhex("0x1.ffffffffffdbdp-2")
_C3 = float.fromhex("0x1.555555555543cp-3")
_C4 = float.fromhex("0x1.55555cf172b91p-5")
_C5 = float.fromhex("0x1.1111167a4d017p-7")
_INF = float("inf")

# top12 thresholds: top12(0x1p-54) = 0x3c9, top12(512) = 0x408,
# top12(1024) = 0x409, top12(inf) = 0x7ff.
_TOP_TINY = 0x3C9
_TOP_512 = 0x408
_TOP_1024 = 0x409
_SBITS_DOWN = -(1009 << 52)  # sbits -= 1009 << 52   (k > 0)
_SBITS_UP = 1022 << 52       # sbits += 1022 << 52   (k < 0)
_SBITS_UP_POS = 1009 << 52   # undo the 2^-1009 of the k > 0 case
_ONE_BITS = 0x3FF0000000000000
_INF_BITS = 0x7FF0000000000000
_QUIET_BIT = 0x0008000000000000


@njit
def exp(x):
    """``e**x`` for a ``float64``, bit-identical to glibc 2.36 ``__exp_fma``.

    Same bits as ``math.exp`` (numba or Python) on this platform for every
    double input.  Branch-free: the common path and the rare special cases
    are all computed and the right one is picked with selects, so a loop
    over an array calling ``exp`` vectorises (AVX2) and each lane's result
    does not depend on whether it was computed in the vector body or in the
    scalar remainder.  Unaffected by the caller's ``fastmath`` setting.
    """
    _mark_alwaysinline()
    x = float(x)
    ix = f64_as_i64(x)
    abstop = (ix >> 52) & 0x7FF

    # exp(x) = 2^(k/N) * exp(r), x = k*ln2/N + r, |r| <= ln2/2N.
    kd = fma(x, _INVLN2N, _SHIFT)      # GCC contracted InvLn2N*x + Shift
    ki = f64_as_i64(kd)
    kd = kd - _SHIFT
    r = fma(kd, _NEGLN2LON, fma(kd, _NEGLN2HIN, x))
    idx = (ki & 127) << 1              # 2 * (ki % N); always in [0, 254]
    top = ki << 45                     # ki << (52 - EXP_TABLE_BITS)
    tail = i64_as_f64(EXP_TABLE[idx])
    sbits = EXP_TABLE[idx + 1] + top   # wraps like the C uint64 add
    r2 = r * r
    tmp = fma(r2 * r2, fma(r, _C5, _C4), fma(r2, fma(r, _C3, _C2), tail + r))

    # specialcase() for 512 <= |x| < 1024, done with selects.
    special = abstop >= _TOP_512
    kneg = (ki & 0x80000000) != 0
    adj = (_SBITS_UP if kneg else _SBITS_DOWN) if special else 0
    scale = i64_as_f64(sbits + adj)
    y = fma(scale, tmp, scale)         # common path and k > 0 specialcase
    # k < 0: y = scale + scale*tmp (not fused); if y < 1 the result is
    # subnormal and glibc rounds it once with the hi/lo trick.
    t = scale * tmp
    yn = scale + t
    hi = 1.0 + yn
    lo = (scale - yn) + t
    lo = ((1.0 - hi) + yn) + lo
    s = hi + lo                        # glibc: y = (hi + lo) - 1.0
    # glibc then returns y * 0x1p1009 (k > 0) or y * 0x1p-1022 (k < 0).
    # Both products are exact (or overflow to inf), so they are done on the
    # bit patterns instead: a floating-point multiply would, for every
    # ordinary k < 0 lane, form a subnormal that costs a ~100-cycle
    # microcode assist, and LLVM hoists such multiplies out of any select.
    #   k > 0: bits(y) + (1009 << 52), or +inf once the exponent overflows.
    yb = f64_as_i64(y)
    pbits = _INF_BITS if (yb >> 52) >= 2047 - 1009 else yb + _SBITS_UP_POS
    #   k < 0, y >= 1: bits(y) - (1022 << 52) (a normal number);
    #   k < 0, y < 1: (hi + lo) lies in [1, 2] and (hi + lo) - 1.0 is a
    #   multiple of 2^-52, so y * 2^-1022 has the bits of (hi + lo) minus
    #   the bits of 1.0 (and is +0.0, never -0.0, when y == 0).
    nbits = (f64_as_i64(s) - _ONE_BITS) if yn < 1.0 else (f64_as_i64(yn) - _SBITS_UP)
    y = i64_as_f64(nbits if kneg else pbits) if special else y

    # |x| >= 1024 and +-inf; tiny |x| < 2^-54 gives 1.0 + x.
    y = (0.0 if x < 0.0 else _INF) if abstop >= _TOP_1024 else y
    y = (1.0 + x) if abstop < _TOP_TINY else y
    # nan: glibc returns 1.0 + x, which on x86 is x with the quiet bit set
    # (sign and payload kept).  Done on the bits: LLVM may rewrite a
    # floating-point 1.0 + x (e.g. 1.0 + (-v) into 1.0 - v), which is free
    # to change a NaN's sign.
    y = i64_as_f64(ix | _QUIET_BIT) if x != x else y
    return y


@njit
def sigmoid(x):
    """Logistic function ``1.0 / (1.0 + exp(-x))`` using :func:`exp`.

    Exactly the expression kernels wrote with ``math.exp``, so the bits are
    unchanged; vectorises like :func:`exp` (the division carries no
    ZeroDivisionError check; ``1.0 + exp(-x)`` is never zero).
    """
    _mark_alwaysinline()
    return _fdiv(1.0, 1.0 + exp(-x))
