"""Lane vectors for numba kernels that advance several independent trials side by side.

A *lane vector* is a tuple of ``L`` float64 values, one per trial (lane), typed
``UniTuple(float64, L)``: ``L`` is part of the type, so a kernel compiled for it knows its lane
count at compile time, and a lane vector lives in SIMD registers (``L = 16`` is four AVX2
registers). Kernels keep their state in C-contiguous arrays whose last axis is the lanes and
move it with :func:`load` and :func:`store` at a flat element offset; arithmetic on lane vectors
(:func:`add`, :func:`sub`, :func:`mul`, :func:`select`) is one IEEE operation per lane, exactly
what scalar code does, with no reassociation and no fused multiply-add, so a lane's result does
not depend on how many lanes run beside it.

Why not plain loops over the lanes: a loop ``for l in range(L): t[l] += e[l] * s[l]`` over a
few lanes costs more in setup (trip-count and aliasing checks, a scalar remainder) than in work,
and a kernel step runs hundreds of them; with a compile-time ``L`` LLVM unrolls it instead, but
then cannot prove that ``t`` does not overlap ``e`` or ``s`` and leaves it scalar. An explicit
vector load, operation and store has neither problem.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


def _lanes(ty) -> int:
    if isinstance(ty, types.UniTuple) and isinstance(ty.dtype, types.Float) \
            and ty.dtype.bitwidth == 64:
        return ty.count
    raise TypeError(f"expected a lane vector (UniTuple of float64), got {ty}")


def _to_vector(builder, value, n):
    vec = ir.Constant(ir.VectorType(ir.DoubleType(), n), ir.Undefined)
    for i in range(n):
        vec = builder.insert_element(vec, builder.extract_value(value, i), ir.IntType(32)(i))
    return vec


def _from_vector(builder, vec, n):
    out = ir.Constant(ir.ArrayType(ir.DoubleType(), n), ir.Undefined)
    for i in range(n):
        out = builder.insert_value(out, builder.extract_element(vec, ir.IntType(32)(i)), i)
    return out


def _data_pointer(context, builder, array_type, array, offset, element):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [offset]), element.as_pointer())


@intrinsic
def load(typingctx, array, offset, like):
    """The lane vector of ``len(like)`` float64 values starting at flat element ``offset`` of
    the C-contiguous float64 ``array``."""
    if not (isinstance(array, types.Array) and array.dtype == types.float64):
        return None
    n = _lanes(like)
    sig = types.UniTuple(types.float64, n)(array, offset, like)

    def codegen(context, builder, signature, args):
        off = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = _data_pointer(context, builder, signature.args[0], args[0], off,
                            ir.VectorType(ir.DoubleType(), n))
        return _from_vector(builder, builder.load(ptr, align=8), n)

    return sig, codegen


@intrinsic
def load_mask(typingctx, array, offset, like):
    """The lanes of the C-contiguous boolean ``array`` from flat element ``offset``, as a
    mask for :func:`select` (typed like ``like``'s lanes, one boolean each)."""
    if not (isinstance(array, types.Array) and array.dtype == types.boolean):
        return None
    n = _lanes(like)
    sig = types.UniTuple(types.boolean, n)(array, offset, like)

    def codegen(context, builder, signature, args):
        off = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = _data_pointer(context, builder, signature.args[0], args[0], off,
                            ir.VectorType(ir.IntType(8), n))
        bytes_ = builder.load(ptr, align=1)
        bits = builder.icmp_unsigned("!=", bytes_, ir.Constant(bytes_.type, None))
        out = ir.Constant(ir.ArrayType(ir.IntType(1), n), ir.Undefined)
        for i in range(n):
            out = builder.insert_value(out, builder.extract_element(bits, ir.IntType(32)(i)), i)
        return out

    return sig, codegen


@intrinsic
def store(typingctx, array, offset, vector):
    """Write the lane vector ``vector`` to the C-contiguous float64 ``array`` from flat element
    ``offset`` on."""
    if not (isinstance(array, types.Array) and array.dtype == types.float64):
        return None
    n = _lanes(vector)
    sig = types.none(array, offset, vector)

    def codegen(context, builder, signature, args):
        off = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = _data_pointer(context, builder, signature.args[0], args[0], off,
                            ir.VectorType(ir.DoubleType(), n))
        builder.store(_to_vector(builder, args[2], n), ptr, align=8)
        return context.get_dummy_value()

    return sig, codegen


def _binary(op):
    def typer(typingctx, a, b):
        n = _lanes(a)
        if _lanes(b) != n:
            return None
        sig = a(a, b)

        def codegen(context, builder, signature, args):
            va, vb = (_to_vector(builder, v, n) for v in args)
            return _from_vector(builder, getattr(builder, op)(va, vb), n)

        return sig, codegen

    return typer


add = intrinsic(_binary("fadd"))
add.__doc__ = "Lane-wise ``a + b`` (one IEEE addition per lane)."
sub = intrinsic(_binary("fsub"))
sub.__doc__ = "Lane-wise ``a - b``."
mul = intrinsic(_binary("fmul"))
mul.__doc__ = "Lane-wise ``a * b``."


@intrinsic
def splat(typingctx, x, like):
    """The lane vector with ``x`` in every lane (as many lanes as ``like``)."""
    n = _lanes(like)
    sig = types.UniTuple(types.float64, n)(types.float64, like)

    def codegen(context, builder, signature, args):
        out = ir.Constant(ir.ArrayType(ir.DoubleType(), n), ir.Undefined)
        for i in range(n):
            out = builder.insert_value(out, args[0], i)
        return out

    return sig, codegen


@intrinsic
def select(typingctx, mask, a, b):
    """Per lane, ``a`` where ``mask`` (from :func:`load_mask`) is true, else ``b``."""
    n = _lanes(a)
    if not (isinstance(mask, types.UniTuple) and mask.dtype == types.boolean
            and mask.count == n and _lanes(b) == n):
        return None
    sig = a(mask, a, b)

    def codegen(context, builder, signature, args):
        bits = ir.Constant(ir.VectorType(ir.IntType(1), n), ir.Undefined)
        for i in range(n):
            bits = builder.insert_element(bits, builder.extract_value(args[0], i),
                                          ir.IntType(32)(i))
        va, vb = (_to_vector(builder, v, n) for v in args[1:])
        return _from_vector(builder, builder.select(bits, va, vb), n)

    return sig, codegen


__all__ = ["add", "load", "load_mask", "mul", "select", "splat", "store", "sub"]
