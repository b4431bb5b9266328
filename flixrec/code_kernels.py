"""The head scan's compiled loop: int8 codes times a 16-bit query, summed exactly in 32-bit integers.

The head codes are stored in blocks of BLOCK rows, column pair after column pair (`(blocks, pairs, BLOCK,
2)` int8), so one 32-byte load holds two columns of 16 rows. On x86 the CPU's 16-bit multiply-add
(`vpmaddwd`: two products summed per 32-bit lane; LLVM fuses it with the running sum into `vpdpwssd` where
the CPU has VNNI) takes a pair of columns for 16 rows per instruction, where a float32 loop needs a
sign-extension, a conversion and a multiply-add per 8 codes: at 300k rows the scan is ~3x faster and close
to the time it takes to read the codes (docs/performance.md, "Int8 codes"). LLVM does not find that
instruction by itself, so the block is written here in LLVM IR (a numba intrinsic). Elsewhere (another
CPU, or a numba target set by NUMBA_CPU_NAME) a plain loop computes the same integer sums.

The sums are exact, so every kernel gives the same scores, bit for bit.
"""

from __future__ import annotations

import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

BLOCK = 16
"""Rows per block: one 512-bit vector of 32-bit sums."""
QUERY_RANGE = 32_767
"""The query's largest magnitude maps to this (int16); exact enough that the 16-bit rounding is ~1e-5 of a score."""


def vector_bits() -> int:
    """512 or 256 when the host CPU has the 16-bit multiply-add at that width (AVX-512BW, AVX2), else 0."""
    from llvmlite import binding
    from numba.core import config

    if config.CPU_NAME or platform.machine().lower() not in ("x86_64", "amd64"):
        return 0  # a named numba target may lack the host's features; other CPUs take the plain loop
    features = binding.get_host_cpu_features()
    return 512 if features.get("avx512bw") else 256 if features.get("avx2") else 0


def pack_query(query: np.ndarray, pairs: int) -> tuple[np.ndarray, np.float32]:
    """(int16 query padded to 2 * pairs, the factor turning integer sums back into the query's units)."""
    padded = np.zeros(2 * pairs, dtype=np.float64)
    padded[: len(query)] = query
    top = float(np.abs(padded).max(initial=0.0))
    if top == 0.0 or not np.isfinite(top):
        return np.zeros(2 * pairs, dtype=np.int16), np.float32(0.0)
    limit = min(QUERY_RANGE, (2**31 - 1) // (127 * 2 * pairs))  # no sum can overflow 32 bits
    return np.rint(padded * (limit / top)).astype(np.int16), np.float32(top / limit)


def _block_codegen(bits: int):
    """LLVM IR for one block: its 16 rows' sums over every column pair, scaled into `out` as float32."""

    def codegen(context, builder, signature, args):
        blocks, block, query, scale, out = args
        blocks_array = context.make_array(signature.args[0])(context, builder, blocks)
        query_array = context.make_array(signature.args[2])(context, builder, query)
        out_array = context.make_array(signature.args[4])(context, builder, out)
        i16, i32, i64, f32 = ir.IntType(16), ir.IntType(32), ir.IntType(64), ir.FloatType()
        codes_type, sums_type = ir.VectorType(ir.IntType(8), 2 * BLOCK), ir.VectorType(i32, BLOCK)
        pairs = builder.extract_value(blocks_array.shape, 1)
        row = builder.mul(block, ir.Constant(i64, BLOCK))
        first = builder.gep(blocks_array.data, [builder.mul(row, builder.mul(pairs, ir.Constant(i64, 2)))])
        query_words = builder.bitcast(query_array.data, i32.as_pointer())
        half = bits // 16  # 16-bit lanes per multiply-add
        madd_type = ir.VectorType(i16, half)
        madd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VectorType(i32, half // 2), [madd_type, madd_type]),
            "llvm.x86.avx512.pmaddw.d.512" if bits == 512 else "llvm.x86.avx2.pmadd.wd")
        sums = cgutils.alloca_once_value(builder, ir.Constant(sums_type, None))
        with cgutils.for_range(builder, pairs) as loop:
            at = builder.gep(first, [builder.mul(loop.index, ir.Constant(i64, 2 * BLOCK))])
            codes = builder.sext(builder.load(builder.bitcast(at, codes_type.as_pointer()), align=1),
                                 ir.VectorType(i16, 2 * BLOCK))
            word = builder.load(builder.gep(query_words, [loop.index]))  # the pair's two int16, as one int32
            spread = builder.insert_element(ir.Constant(ir.VectorType(i32, half // 2), None), word, ir.Constant(i32, 0))
            spread = builder.shuffle_vector(spread, spread, ir.Constant(ir.VectorType(i32, half // 2), [0] * (half // 2)))
            weights = builder.bitcast(spread, madd_type)
            parts = []
            for start in range(0, 2 * BLOCK, half):
                lanes = ir.Constant(ir.VectorType(i32, half), list(range(start, start + half)))
                parts.append(builder.call(madd, [builder.shuffle_vector(codes, codes, lanes), weights]))
            total = parts[0] if len(parts) == 1 else builder.shuffle_vector(
                parts[0], parts[1], ir.Constant(ir.VectorType(i32, BLOCK), list(range(BLOCK))))
            builder.store(builder.add(builder.load(sums), total), sums)
        factor = builder.insert_element(ir.Constant(ir.VectorType(f32, BLOCK), None), scale, ir.Constant(i32, 0))
        factor = builder.shuffle_vector(factor, factor, ir.Constant(ir.VectorType(i32, BLOCK), [0] * BLOCK))
        scores = builder.fmul(builder.sitofp(builder.load(sums), ir.VectorType(f32, BLOCK)), factor)
        target = builder.gep(out_array.data, [row])
        builder.store(scores, builder.bitcast(target, ir.VectorType(f32, BLOCK).as_pointer()), align=4)
        return context.get_dummy_value()

    return codegen


@intrinsic
def _block_512(typingctx, blocks, block, query, scale, out):
    return types.void(blocks, types.int64, query, types.float32, out), _block_codegen(512)


@intrinsic
def _block_256(typingctx, blocks, block, query, scale, out):
    return types.void(blocks, types.int64, query, types.float32, out), _block_codegen(256)


@njit(cache=True, nogil=True)  # nogil: the engine splits one scan across threads
def scan_512(blocks, query, scale, out, first, last):
    for block in range(first, last):
        _block_512(blocks, block, query, scale, out)


@njit(cache=True, nogil=True)
def scan_256(blocks, query, scale, out, first, last):
    for block in range(first, last):
        _block_256(blocks, block, query, scale, out)


@njit(cache=True, nogil=True)
def scan_plain(blocks, query, scale, out, first, last):
    pairs, size = blocks.shape[1], blocks.shape[2]
    sums = np.zeros(size, dtype=np.int32)
    for block in range(first, last):
        sums[:] = 0
        for pair in range(pairs):
            left, right = np.int32(query[2 * pair]), np.int32(query[2 * pair + 1])
            for i in range(size):
                sums[i] += np.int32(blocks[block, pair, i, 0]) * left + np.int32(blocks[block, pair, i, 1]) * right
        for i in range(size):
            out[block * size + i] = np.float32(sums[i]) * scale


SCANS = {512: scan_512, 256: scan_256, 0: scan_plain}
scan_blocks = SCANS[vector_bits()]
"""`scan_blocks(blocks, query, scale, out, first, last)`: the scores of blocks [first, last) into out."""
