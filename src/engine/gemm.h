/* Engine-internal: register-tiled matrix products for prefill (many tokens at once).
 *
 * Decode multiplies a weight matrix by one activation row, and the vec_dot kernels do that
 * well. Prefill multiplies it by n_tokens rows; calling a dot product per (row, token) then
 * reloads every weight block once per token and pays a horizontal reduction per result.
 * The kernels here instead hold a tile of results in registers and run the block loop
 * once per tile: each weight block is loaded once per 16 tokens, each activation block
 * once per few rows.
 *
 * To make that possible the quantized activations are first repacked ("packed panel"):
 * tokens in groups of SEALM_GEMM_TOKENS (one 512-bit register of int32 or float lanes; the
 * AVX2 kernels take a group as two 256-bit halves of 8 tokens),
 * and within a group, for every block of 32 elements, the 4-byte group k (elements
 * 4k..4k+3, k = 0..7) of all 16 tokens side by side. One integer dot-product instruction
 * then gives, for one weight row and group k, the 16 tokens' sums over that group: the
 * exact integer sums of the pinned "lane-8" order (quant_ref.h), one token per lane. The
 * float accumulation then runs per (row, token) exactly as in the scalar reference, so
 * every result has vec_dot_ref's bits.
 *
 * The K-quants (256-element blocks with 16- or 32-element sub-block scales) follow the same
 * pattern: each 4-element group's integer sum is multiplied by its sub-block scale and
 * added up in integers per lane, as the reference does, before the one FMA per block.
 *
 * Panel layout, per group of 16 tokens, per block i (tokens past n_tokens are zero):
 *   Q8_0 activations (for Q8_0 and Q4_0 weights), 576 bytes:
 *     uint8 q[8][16][4]  quant + 128 (the quant with its sign bit flipped): the unsigned
 *                        operand of vpdpbusd; the kernels take 128·(weight sums) off again
 *     float d[16]        the block scale, converted from fp16
 *   Q8_1 activations (for Q4_1 weights), 640 bytes:
 *     int8  q[8][16][4]  the quants as they are
 *     float d[16], s[16] scale and d·sum(q), converted from fp16
 *   Q8_K activations (for Q4_K and Q6_K weights), per 256-element block, 4416 bytes:
 *     uint8 q[64][16][4] quant + 128; 4-byte group g holds elements 4g..4g+3
 *     float d[16]        the block scale
 *     int16 s[4][16][2]  for l = 0..3, the sums of the quants of 32-element chunks 2l and
 *                        2l+1 (from bsums), side by side: what Q4_K's mins multiply
 * A group of tokens is the blocks of the row in order: nb · (bytes per block) bytes.
 *   F32 activations (for F32 weights): no repacking, the n_tokens rows of cols floats one
 *     after another (the float kernels tile tokens from plain rows; the engine passes its
 *     activation rows in place). Rows whose length is a multiple of 16 use the lane-16
 *     order, others the untiled one (quant_float.c), as model.c picks for the F32 vec_dot. */
#ifndef SEALM_ENGINE_GEMM_H
#define SEALM_ENGINE_GEMM_H

#include "engine/quant.h"

#define SEALM_GEMM_TOKENS 16
/* The longest row (in elements) the quantized kernels take: they prepare a row panel's
 * weights in a fixed buffer on the stack (gemm_avx512.c, gemm_avx2.c). Longer rows have no packed form
 * (sealm_gemm_panel_bytes gives 0), so the engine uses the dot-product path for them. */
#define SEALM_GEMM_MAX_COLS 32768

/* Bytes of the panel of n_tokens activation rows of cols elements (a multiple of 32, or
 * any count for F32) in activation type act, or 0 when act has no packed form (only F32,
 * Q8_0, Q8_1 and Q8_K have; the last three up to SEALM_GEMM_MAX_COLS elements). */
size_t sealm_gemm_panel_bytes(sealm_tensor_type act, int32_t n_tokens, int64_t cols);

/* Quantizes tokens [t0, t1) of x (n rows of cols floats, stride x_stride floats) to act
 * with act's from_float_fast (so each block has exactly the bits the unpacked path would
 * use) and writes them into the panel, zero-filling the unused lanes of the last group.
 * t0 must be a multiple of SEALM_GEMM_TOKENS; t1 is n_tokens or a multiple of it, so that
 * threads can pack disjoint token groups of one panel concurrently. */
void sealm_gemm_pack(sealm_tensor_type act, const float *x, int64_t x_stride, int64_t cols, int32_t n_tokens,
                     int32_t t0, int32_t t1, void *panel);

/* The kernels (sealm_gemm_fn, quant.h): y[t·y_stride + r] = dot(W[r,:], x[t,:]) + bias[r]
 * for rows r in [r0, r1) and every token t < n_tokens, with x given as a packed panel of
 * W's vec_dot_type. w is row-major blocks (w_row_bytes per row); y is written, never read.
 * cols is at most SEALM_GEMM_MAX_COLS for the quantized types (a panel exists only then).
 * Each result has the bits of the type's vec_dot_ref plus the bias (bias NULL: + 0.0f, as
 * the unpacked path adds). Thread-safe for disjoint row ranges. */

#if defined(__x86_64__) || defined(_M_X64)
/* Installs the AVX-512 kernels (F32; VNNI: Q8_0, Q4_0, Q4_1, Q4_K, Q6_K) into table[t].gemm; cpu.c calls it
 * after checking the CPU (F, BW, VL, VNNI). */
void sealm_gemm_install_avx512(sealm_type_traits table[SEALM_TYPE_COUNT]);
/* Installs the AVX2 kernels (Q4_0, Q8_0, Q4_1, Q4_K, Q6_K; gemm_avx2.c) into table[t].gemm; cpu.c
 * calls it at the AVX2 level and above, before the AVX-512 ones (which replace them). */
void sealm_gemm_install_avx2(sealm_type_traits table[SEALM_TYPE_COUNT]);
/* The same kernels built for AVX-VNNI (gemm_avxvnni.c: vpdpbusd for the byte products of
 * Q4_0, Q8_0, Q4_1, vpdpwssd for the K-quants' scaled sums; the same bits); cpu.c calls it
 * at the avx-vnni level only, after the AVX2 install. */
void sealm_gemm_install_avxvnni(sealm_type_traits table[SEALM_TYPE_COUNT]);
#endif

#endif
