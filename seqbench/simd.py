"""Lane vectors for numba kernels that advance several independent trials side by side.

A *lane vector* is a tuple of ``L`` float64 values, one per trial (lane), typed
``UniTuple(float64, L)``: ``L`` is part of the type, so a kernel compiled for it knows its lane
count at compile time, and a lane vector lives in SIMD registers (``L = 16`` is four AVX2
registers). Kernels keep their state in C-contiguous arrays whose last axis is the lanes and
move it with :func:`load` and :func:`store` at a flat element offset; arithmetic on lane vectors
(:func:`add`, :func:`sub`, :func:`mul`, :func:`select`) is one IEEE operation per lane, exactly
what scalar code does, with no reassociation and no fused multiply-add, so a lane's result does
not depend on how many lanes run beside it.

:func:`address` gives an array's data pointer, which :func:`load` and :func:`store` accept in
place of the array. A jitted helper that takes pointers rather than arrays costs nothing to
call: numba increments and decrements the (atomic) reference count of every array argument of
every call, inlined or not, which in a kernel's inner loops can cost more than the arithmetic.

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


def _float64s(ty) -> bool:
    """Whether ``ty`` is a float64 array or a pointer to float64 (from :func:`address`)."""
    return (isinstance(ty, (types.Array, types.CPointer)) and ty.dtype == types.float64)


def _data_pointer(context, builder, array_type, array, offset, element):
    if isinstance(array_type, types.CPointer):
        data = array
    else:
        data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [offset]), element.as_pointer())


@intrinsic
def address(typingctx, array):
    """The data pointer of the C-contiguous ``array`` (typed ``CPointer`` of its dtype): its
    flat element ``i`` is ``pointer[i]``. Valid while the array lives, so take it where the
    array is in use (the pointer itself holds no reference)."""
    if not (isinstance(array, types.Array) and array.layout == "C"):
        return None
    sig = types.CPointer(array.dtype)(array)

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

    return sig, codegen


@intrinsic
def load(typingctx, array, offset, like):
    """The lane vector of ``len(like)`` float64 values starting at flat element ``offset`` of
    the C-contiguous float64 ``array`` (or of a float64 pointer from :func:`address`)."""
    if not _float64s(array):
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
def gather(typingctx, array, base, index, at, like):
    """The lane vector whose lane ``l`` is element ``(base + index[at + l])·L + l`` of the
    float64 ``array`` (or pointer), ``L = len(like)``: per lane, column ``index[at + l]`` of a
    row of lane vectors, where ``index`` is an int64 array or pointer. The lanes are loaded one
    by one straight into registers (a vector load of lanes just stored one by one would stall
    on the stores)."""
    if not (_float64s(array) and isinstance(index, (types.Array, types.CPointer))
            and index.dtype == types.int64):
        return None
    n = _lanes(like)
    sig = types.UniTuple(types.float64, n)(array, base, index, at, like)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        b = context.cast(builder, args[1], signature.args[1], types.intp)
        at = context.cast(builder, args[3], signature.args[3], types.intp)
        idx = _data_pointer(context, builder, signature.args[2], args[2], at, i64)
        out = ir.Constant(ir.ArrayType(ir.DoubleType(), n), ir.Undefined)
        for lane in range(n):
            column = builder.load(builder.gep(idx, [i64(lane)]), align=8)
            flat = builder.add(builder.mul(builder.add(b, column), i64(n)), i64(lane))
            ptr = _data_pointer(context, builder, signature.args[0], args[0], flat,
                                ir.DoubleType())
            out = builder.insert_value(out, builder.load(ptr, align=8), lane)
        return out

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
    """Write the lane vector ``vector`` to the C-contiguous float64 ``array`` (or float64
    pointer) from flat element ``offset`` on."""
    if not _float64s(array):
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


__all__ = ["add", "address", "gather", "load", "load_mask", "mul", "select", "splat", "store",
           "sub"]
